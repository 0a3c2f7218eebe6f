import dev.kiln.dsl.AdaptiveAvgPool2d;
import dev.kiln.dsl.BatchNorm2d;
import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.Flatten;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.ReLU;
import dev.kiln.dsl.Sequential;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.optim.SGD;

/**
 * An eager MobileNet-style net's training step and inference on [16, 32, 32, 32] images (docs/benchmarks.md,
 * "Depthwise and grouped convolutions"): two depthwise-separable blocks (depthwise 3x3 + BN + ReLU, pointwise 1x1 + BN +
 * ReLU; the second depthwise with stride 2), a 7x7 depthwise (ConvNeXt's) + ReLU, AdaptiveAvgPool2d(1) Flatten
 * Linear(128, 10), cross-entropy, SGD with momentum; then the depthwise 3x3 layer alone (forward, and forward + both
 * gradients), the net's other convolutions alone (pwconv), and (dwspeed, "Twenty-third session") the 5x5 and 7x7 stride-1
 * depthwise forwards, an evaluation batch norm + ReLU made and copied out, and a 1x1 stride-2 convolution. Thread CPU time at one thread ({@code -Dkiln.threads=1}), else wall time; the median of 9 rounds of 10
 * steps after 30, and the lowest. {@code depthwise_step_peer.py} is PyTorch's side.
 * {@code java -Dkiln.threads=1 -cp CLASSPATH scripts/speed/DepthwiseStep.java}.
 */
public class DepthwiseStep {
  public static void main(String[] args) {
    Kiln.manualSeed(0);
    Sequential net = Sequential.of(
        new Conv2d(32, 32, 3).padding(1).groups(32).bias(false), new BatchNorm2d(32), new ReLU(),
        new Conv2d(32, 64, 1).bias(false), new BatchNorm2d(64), new ReLU(),
        new Conv2d(64, 64, 3).stride(2).padding(1).groups(64).bias(false), new BatchNorm2d(64), new ReLU(),
        new Conv2d(64, 128, 1).bias(false), new BatchNorm2d(128), new ReLU(),
        new Conv2d(128, 128, 7).padding(3).groups(128), new ReLU(),
        new AdaptiveAvgPool2d(1), new Flatten(), new Linear(128, 10));
    SGD opt = new SGD(net.parameters(), 0.01).momentum(0.9);
    Tensor x = Tensor.randn(16, 32, 32, 32);
    int[] labels = new int[16];
    for (int i = 0; i < labels.length; i++) {
      labels[i] = i % 10;
    }
    Tensor y = Tensor.labels(labels);
    report("train step", () -> {
      opt.zeroGrad();
      Ops.crossEntropy(net.forward(x), y, true).backward();
      opt.step();
    });
    net.eval();
    report("inference", () -> {
      try (var g = Kiln.noGrad()) {
        net.forward(x);
      }
    });
    Tensor xs = Tensor.randn(16, 64, 32, 32).requiresGrad(true);
    Tensor w = Tensor.randn(64, 1, 3, 3).requiresGrad(true);
    report("dw3x3 fwd", () -> {
      try (var g = Kiln.noGrad()) {
        Ops.conv2d(xs, w, null, 1, 1, 1, 1, 1, 1, 64);
      }
    });
    report("dw3x3 f+b", () -> {
      xs.setGrad(null);
      w.setGrad(null);
      Ops.sum(Ops.conv2d(xs, w, null, 1, 1, 1, 1, 1, 1, 64)).backward();
    });
    // the net's other layers alone (pwconv): the pointwise 1x1s, the stride-2 depthwise, the 7x7 depthwise
    Tensor x1 = Tensor.randn(16, 32, 32, 32).requiresGrad(true), w1 = Tensor.randn(64, 32, 1, 1).requiresGrad(true);
    Tensor x2 = Tensor.randn(16, 64, 16, 16).requiresGrad(true), w2 = Tensor.randn(128, 64, 1, 1).requiresGrad(true);
    Tensor w7 = Tensor.randn(128, 1, 7, 7), x7 = Tensor.randn(16, 128, 8, 8);
    report("pw 32-64 fwd", () -> noGrad(() -> Ops.conv2d(x1, w1, null, 1, 1, 0, 0, 1, 1, 1)));
    report("pw 32-64 f+b", () -> {
      x1.setGrad(null);
      w1.setGrad(null);
      Ops.sum(Ops.conv2d(x1, w1, null, 1, 1, 0, 0, 1, 1, 1)).backward();
    });
    report("pw 64-128 fwd", () -> noGrad(() -> Ops.conv2d(x2, w2, null, 1, 1, 0, 0, 1, 1, 1)));
    report("pw 64-128 f+b", () -> {
      x2.setGrad(null);
      w2.setGrad(null);
      Ops.sum(Ops.conv2d(x2, w2, null, 1, 1, 0, 0, 1, 1, 1)).backward();
    });
    report("dw3x3 s2 fwd", () -> noGrad(() -> Ops.conv2d(xs, w, null, 2, 2, 1, 1, 1, 1, 64)));
    report("dw7x7 fwd", () -> noGrad(() -> Ops.conv2d(x7, w7, null, 1, 1, 3, 3, 1, 1, 128)));
    // twenty-third session (dwspeed): more stride-1 depthwise shapes, the eval batch norm + ReLU alone, 1x1 stride 2
    Tensor x5 = Tensor.randn(16, 64, 16, 16).requiresGrad(true), w5 = Tensor.randn(64, 1, 5, 5).requiresGrad(true);
    Tensor x7b = Tensor.randn(16, 32, 32, 32), w7b = Tensor.randn(32, 1, 7, 7);
    report("dw5x5 fwd", () -> noGrad(() -> Ops.conv2d(x5, w5, null, 1, 1, 2, 2, 1, 1, 64)));
    report("dw5x5 f+b", () -> {
      x5.setGrad(null);
      w5.setGrad(null);
      Ops.sum(Ops.conv2d(x5, w5, null, 1, 1, 2, 2, 1, 1, 64)).backward();
    });
    report("dw7x7 32x32", () -> noGrad(() -> Ops.conv2d(x7b, w7b, null, 1, 1, 3, 3, 1, 1, 32)));
    BatchNorm2d bn = new BatchNorm2d(64);
    bn.eval();
    Tensor conv;
    try (var g = Kiln.noGrad()) {
      conv = Ops.conv2d(xs, w, null, 1, 1, 1, 1, 1, 1, 64); // a convolution's own output, as in the net
    }
    // made (deferred until read) and copied out, as the peer's numpy().copy()
    report("bn+relu eval", () -> noGrad(() -> Ops.relu(bn.forward(conv)).toFloatArray()));
    Tensor x3 = Tensor.randn(16, 64, 32, 32).requiresGrad(true), w3 = Tensor.randn(128, 64, 1, 1).requiresGrad(true);
    report("1x1 s2 fwd", () -> noGrad(() -> Ops.conv2d(x3, w3, null, 2, 2, 0, 0, 1, 1, 1)));
    report("1x1 s2 f+b", () -> {
      x3.setGrad(null);
      w3.setGrad(null);
      Ops.sum(Ops.conv2d(x3, w3, null, 2, 2, 0, 0, 1, 1, 1)).backward();
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
    System.out.printf("%-12s median %7.3f  lowest %7.3f ms%n", name, rounds[rounds.length / 2], rounds[0]);
  }

  /** Thread CPU time at one thread (steadier on a loaded machine), else wall time. */
  static long now() {
    return ONE_THREAD ? MX.getCurrentThreadCpuTime() : System.nanoTime();
  }

  static final java.lang.management.ThreadMXBean MX = java.lang.management.ManagementFactory.getThreadMXBean();
  static final boolean ONE_THREAD = "1".equals(System.getProperty("kiln.threads"));
}
