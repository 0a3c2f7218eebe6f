package dev.kiln.processor;

import com.google.testing.compile.Compilation;
import com.google.testing.compile.JavaFileObjects;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A timing, not a test (tagged "timing", which the build leaves out): nanoGPT's attention with the fused {@code c_attn}
 * and its split against three Linears, compiled, forward and backward at batch 32 ({@code [32, 64, 128]}, 4 heads),
 * and the pieces' copies alone. docs/design-notes.md ("Split and chunk") has the figures and the command.
 */
@Tag("timing")
class SplitTiming {
  static String model(String name, boolean fused) {
    String proj = fused ? "  final Linear cAttn = new Linear(D, 3 * D);\n"
        : "  final Linear query = new Linear(D, D);\n  final Linear key = new Linear(D, D);\n  final Linear value = new Linear(D, D);\n";
    String qkv = fused
        ? "    Tensor[] qkv = cAttn.apply(x).split(D, 2);\n    Tensor q = qkv[0].view(-1, S, H, DH).transpose(1, 2);\n"
          + "    Tensor k = qkv[1].view(-1, S, H, DH).transpose(1, 2);\n    Tensor v = qkv[2].view(-1, S, H, DH).transpose(1, 2);\n"
        : "    Tensor q = query.apply(x).view(-1, S, H, DH).transpose(1, 2);\n    Tensor k = key.apply(x).view(-1, S, H, DH).transpose(1, 2);\n"
          + "    Tensor v = value.apply(x).view(-1, S, H, DH).transpose(1, 2);\n";
    return "package test;\nimport dev.kiln.dsl.*;\nimport dev.kiln.dsl.Module;\nimport dev.kiln.runtime.Tensor;\n"
        + "@Model(input = {64, 128})\npublic class " + name + " extends Module {\n"
        + "  static final int S = 64, D = 128, H = 4, DH = 32;\n" + proj
        + "  final Linear proj = new Linear(D, D);\n"
        + "  @Override public Tensor forward(Tensor x) {\n" + qkv
        + "    Tensor att = q.matmul(k.transpose(-2, -1)).div(Math.sqrt(DH)).softmax(-1);\n"
        + "    return x.add(proj.apply(att.matmul(v).transpose(1, 2).reshape(-1, S, D)));\n  }\n}\n";
  }

  @Test
  void time() {
    Compilation c = ProcessorTest.compile(JavaFileObjects.forSourceString("test.Fused", model("Fused", true)),
        JavaFileObjects.forSourceString("test.Three", model("Three", false)));
    ClassLoader loader = new ParityTest.CompiledClasses(c);
    Module fused = ParityTest.factory(loader, "test.KilnFused").get();
    Module three = ParityTest.factory(loader, "test.KilnThree").get();
    Tensor x = Tensor.randn(32, 64, 128);
    Tensor g = Tensor.randn(32, 64, 128);
    double[] best = {Double.MAX_VALUE, Double.MAX_VALUE};
    for (int round = 0; round < 8; round++) {
      int i = 0;
      for (Module m : new Module[] {fused, three}) {
        long t0 = System.nanoTime();
        for (int it = 0; it < 20; it++) {
          m.zeroGrad();
          m.forward(x).backward(g);
        }
        best[i] = Math.min(best[i], (System.nanoTime() - t0) / 20e6);
        i++;
      }
    }
    float[] src = Tensor.randn(32 * 64 * 384).toFloatArray(), dsrc = new float[src.length];
    float[][] pieces = {new float[src.length / 3], new float[src.length / 3], new float[src.length / 3]};
    double bestSlices = Double.MAX_VALUE, bestFill = Double.MAX_VALUE;
    for (int round = 0; round < 8; round++) {
      long t0 = System.nanoTime();
      for (int it = 0; it < 100; it++) {
        for (int p = 0; p < 3; p++) {
          dev.kiln.runtime.cpu.SliceKernels.narrowForward(pieces[p], 0, src, 0, 32 * 64, 384, 128 * p, 128);
        }
        for (int p = 0; p < 3; p++) {
          dev.kiln.runtime.cpu.SliceKernels.pieceBackward(dsrc, 0, pieces[p], 0, 32 * 64, 384, 128 * p, 128);
        }
      }
      bestSlices = Math.min(bestSlices, (System.nanoTime() - t0) / 100e6);
      t0 = System.nanoTime();
      for (int it = 0; it < 100; it++) {
        java.util.Arrays.fill(dsrc, 0f);
      }
      bestFill = Math.min(bestFill, (System.nanoTime() - t0) / 100e6);
    }
    System.out.printf("TIMING the three pieces' copies forward and backward %.3f ms; a zero fill of the source's gradient %.3f ms%n",
        bestSlices, bestFill);
    System.out.printf("TIMING fused+split %.2f ms, three Linears %.2f ms (best of 8 rounds of 20, fwd+bwd, batch 32)%n", best[0], best[1]);
  }
}
