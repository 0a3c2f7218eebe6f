import dev.kiln.runtime.cpu.Conv2dShape;
import dev.kiln.runtime.cpu.ConvKernels;
import java.util.Random;

/**
 * The convolution kernels alone, per shape of FashionResNet and the seed CNN (docs/benchmarks.md, twentieth
 * session): {@code ConvKernels.conv2dForward}, the backward into the input only ("data"), into the weight (and bias)
 * only ("filter"), and both in one call as the training step makes it ("both"); thread CPU time at one thread ({@code -Dkiln.threads=1}), else wall time; the lowest of 7 rounds of
 * 5 calls after 20, batch 64. {@code conv_layers_peer.py} is PyTorch's side (conv2d and aten.convolution_backward).
 * {@code java [-Dkiln.threads=1] -cp JAR scripts/speed/ConvLayers.java [PREFIX]}.
 */
public class ConvLayers {
  record Case(String name, Conv2dShape s, boolean bias, boolean dataGradient) {}

  static Case c(String name, int inC, int hw, int outC, int k, int stride, int pad, boolean bias, boolean dx) {
    return new Case(name, new Conv2dShape(64, inC, hw, hw, outC, k, k, stride, stride, pad, pad), bias, dx);
  }

  public static void main(String[] args) {
    String only = args.length > 0 ? args[0] : "";
    Case[] cases = {
      c("resnet stem 1->32 28x28", 1, 28, 32, 3, 1, 1, false, false),
      c("resnet conv1/2 32->32 14x14", 32, 14, 32, 3, 1, 1, false, true),
      c("resnet conv3 32->64 s2 14x14", 32, 14, 64, 3, 2, 1, false, true),
      c("resnet shortcut 32->64 1x1 s2", 32, 14, 64, 1, 2, 0, false, true),
      c("resnet conv4 64->64 7x7", 64, 7, 64, 3, 1, 1, false, true),
      c("cnn conv1 1->32 28x28", 1, 28, 32, 3, 1, 1, true, false),
      c("cnn conv2 32->64 14x14", 32, 14, 64, 3, 1, 1, true, true),
      c("cnn conv3 64->128 7x7", 64, 7, 128, 3, 1, 1, true, true),
    };
    Random r = new Random(0);
    for (Case k : cases) {
      if (!k.name.startsWith(only)) {
        continue;
      }
      Conv2dShape s = k.s;
      float[] x = rand(r, s.batch() * s.inputSampleSize());
      float[] w = rand(r, s.outChannels() * s.patchSize());
      float[] b = k.bias ? rand(r, s.outChannels()) : null;
      float[] y = new float[s.batch() * s.outChannels() * s.outPlaneSize()];
      float[] dy = rand(r, y.length);
      float[] dx = new float[x.length];
      float[] dw = new float[w.length];
      float[] db = k.bias ? new float[s.outChannels()] : null;
      double fwd = lowest(() -> ConvKernels.conv2dForward(y, 0, x, 0, w, 0, b, 0, s));
      double data = k.dataGradient ? lowest(() -> ConvKernels.conv2dBackward(dx, 0, null, 0, null, 0, false, dy, 0, x, 0, w, 0, s)) : 0;
      double filter = lowest(() -> ConvKernels.conv2dBackward(null, 0, dw, 0, db, 0, true, dy, 0, x, 0, w, 0, s));
      double both = k.dataGradient ? lowest(() -> ConvKernels.conv2dBackward(dx, 0, dw, 0, db, 0, true, dy, 0, x, 0, w, 0, s)) : filter;
      System.out.printf("%-32s fwd %7.3f  data %7.3f  filter %7.3f  both %7.3f ms%n", k.name, fwd, data, filter, both);
    }
  }

  static float[] rand(Random r, int n) {
    float[] a = new float[n];
    for (int i = 0; i < n; i++) {
      a[i] = (float) r.nextGaussian();
    }
    return a;
  }

  /** Thread CPU time at one thread ({@code -Dkiln.threads=1}, steadier on a loaded machine), else wall time. */
  static long now() {
    return ONE_THREAD ? MX.getCurrentThreadCpuTime() : System.nanoTime();
  }

  static final java.lang.management.ThreadMXBean MX = java.lang.management.ManagementFactory.getThreadMXBean();
  static final boolean ONE_THREAD = "1".equals(System.getProperty("kiln.threads"));

  static double lowest(Runnable f) {
    for (int i = 0; i < 20; i++) {
      f.run();
    }
    double best = Double.MAX_VALUE;
    for (int round = 0; round < 7; round++) {
      long t = now();
      for (int i = 0; i < 5; i++) {
        f.run();
      }
      best = Math.min(best, (now() - t) / 5e6);
    }
    return best;
  }
}
