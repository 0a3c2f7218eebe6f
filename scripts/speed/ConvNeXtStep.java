import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.GELU;
import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.optim.SGD;

/**
 * A ConvNeXt block, eager, one thread (docs/benchmarks.md, "Twenty-fourth session"): depthwise 7x7 (padding 3) ->
 * permute to channels last -> LayerNorm(dim, eps 1e-6) -> Linear(dim, 4 dim) -> GELU -> Linear(4 dim, dim) -> permute
 * back -> + input, as in the ConvNeXt paper's code (without layer scale or drop path). Its training step (the output
 * times a fixed tensor, mean, backward, SGD; the input's gradient too, as for a block inside a network) and no-grad
 * inference on [16, 64, 16, 16] and [16, 128, 8, 8], then the
 * block's ops alone on the first shape: the depthwise 7x7's forward, its forward and both gradients, layer norm over
 * 4096 rows of 64 and GELU over [16, 16, 16, 256], forward and training. Thread CPU time at one thread ({@code
 * -Dkiln.threads=1}), the median of 9 rounds of 10 steps after 30, and the lowest, as {@code DepthwiseStep}.
 * {@code convnext_block_peer.py} is PyTorch's side; {@code scripts/speed/convnext-block} runs both.
 */
public class ConvNeXtStep {
  /** The block, as ConvNeXt's {@code Block} (no layer scale, no drop path). */
  static class Block extends Module {
    final Conv2d dwconv;
    final LayerNorm norm;
    final Linear pwconv1;
    final GELU act = new GELU();
    final Linear pwconv2;

    Block(int dim) {
      dwconv = new Conv2d(dim, dim, 7).padding(3).groups(dim);
      norm = new LayerNorm(new int[] {dim}, 1e-6, true);
      pwconv1 = new Linear(dim, 4 * dim);
      pwconv2 = new Linear(4 * dim, dim);
    }

    @Override
    public Tensor forward(Tensor x) {
      Tensor h = dwconv.apply(x).permute(0, 2, 3, 1); // [N, H, W, C]
      h = pwconv2.apply(act.apply(pwconv1.apply(norm.apply(h))));
      return x.add(h.permute(0, 3, 1, 2));
    }
  }

  public static void main(String[] args) {
    Kiln.manualSeed(0);
    for (int[] shape : new int[][] {{16, 64, 16, 16}, {16, 128, 8, 8}}) {
      Block block = new Block(shape[1]);
      SGD opt = new SGD(block.parameters(), 0.01).momentum(0.9);
      Tensor x = Tensor.randn(shape).requiresGrad(true), g = Tensor.randn(shape); // a block inside a net: dx too
      String name = "block " + shape[1] + "x" + shape[2];
      block.train();
      report(name + " train", () -> {
        opt.zeroGrad();
        x.setGrad(null);
        block.forward(x).mul(g).mean().backward();
        opt.step();
      });
      block.eval();
      report(name + " infer", () -> noGrad(() -> block.forward(x)));
    }
    // the block's ops alone, on the first shape
    Tensor x = Tensor.randn(16, 64, 16, 16).requiresGrad(true), w = Tensor.randn(64, 1, 7, 7).requiresGrad(true);
    Tensor b = Tensor.randn(64).requiresGrad(true);
    report("dw7x7 fwd", () -> noGrad(() -> Ops.conv2d(x, w, b, 1, 1, 3, 3, 1, 1, 64)));
    report("dw7x7 f+b", () -> {
      x.setGrad(null);
      w.setGrad(null);
      b.setGrad(null);
      Ops.sum(Ops.conv2d(x, w, b, 1, 1, 3, 3, 1, 1, 64)).backward();
    });
    Tensor rows = Tensor.randn(16, 16, 16, 64).requiresGrad(true), lw = Tensor.randn(64).requiresGrad(true);
    Tensor lb = Tensor.randn(64).requiresGrad(true), lg = Tensor.randn(16, 16, 16, 64);
    report("layernorm fwd", () -> noGrad(() -> Ops.layerNorm(rows, new int[] {64}, lw, lb, 1e-6)));
    report("layernorm f+b", () -> {
      rows.setGrad(null);
      lw.setGrad(null);
      lb.setGrad(null);
      Ops.layerNorm(rows, new int[] {64}, lw, lb, 1e-6).mul(lg).sum().backward();
    });
    Tensor up = Tensor.randn(16, 16, 16, 256).requiresGrad(true), ug = Tensor.randn(16, 16, 16, 256);
    report("gelu fwd", () -> noGrad(() -> Ops.gelu(up)));
    report("gelu f+b", () -> {
      up.setGrad(null);
      Ops.gelu(up).mul(ug).sum().backward();
    });
  }

  static void noGrad(Runnable r) {
    try (var g = Kiln.noGrad()) {
      r.run();
    }
  }

  static void report(String name, Runnable step) {
    for (int i = 0; i < 30; i++) {
      step.run();
    }
    double[] rounds = new double[9];
    for (int r = 0; r < rounds.length; r++) {
      long t = now();
      for (int i = 0; i < 10; i++) {
        step.run();
      }
      rounds[r] = (now() - t) / 10e6;
    }
    java.util.Arrays.sort(rounds);
    System.out.printf("%-20s median %7.3f  lowest %7.3f ms%n", name, rounds[rounds.length / 2], rounds[0]);
  }

  /** Thread CPU time at one thread (steadier on a loaded machine), else wall time. */
  static long now() {
    return ONE_THREAD ? MX.getCurrentThreadCpuTime() : System.nanoTime();
  }

  static final java.lang.management.ThreadMXBean MX = java.lang.management.ManagementFactory.getThreadMXBean();
  static final boolean ONE_THREAD = "1".equals(System.getProperty("kiln.threads"));
}
