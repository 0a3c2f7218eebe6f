import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;
/**
 * One-thread timings of FashionResNet's layers one by one (docs/benchmarks.md, eighteenth session): thread CPU time, the
 * lowest of 5 rounds of 10 calls after 30, forward under {@code noGrad} and "train" as forward, {@code sum().backward()}
 * into the input and weights. {@code resnet_layers_peer.py} is PyTorch's side. Run with {@code -Dkiln.threads=1}:
 * {@code java -Dkiln.threads=1 -cp JAR scripts/speed/ResNetLayers.java [PREFIX]}.
 */
public class ResNetLayers {
  static final ThreadMXBean MX = ManagementFactory.getThreadMXBean();
  public static void main(String[] args) {
    String only = args.length > 0 ? args[0] : "";
    Kiln.manualSeed(0);
    Tensor a = Tensor.randn(64, 1, 28, 28).requiresGrad(true);
    Tensor ws = Tensor.randn(32, 1, 3, 3).requiresGrad(true);
    Tensor b = Tensor.randn(64, 32, 28, 28).requiresGrad(true);
    Tensor c = Tensor.randn(64, 32, 14, 14).requiresGrad(true);
    Tensor c2 = Tensor.randn(64, 32, 14, 14).requiresGrad(true);
    Tensor w3 = Tensor.randn(64, 32, 3, 3).requiresGrad(true);
    Tensor w1 = Tensor.randn(64, 32, 1, 1).requiresGrad(true);
    Tensor d = Tensor.randn(64, 64, 7, 7).requiresGrad(true);
    Tensor w4 = Tensor.randn(64, 64, 3, 3).requiresGrad(true);
    Tensor g32 = Tensor.ones(32).requiresGrad(true), b32 = Tensor.zeros(32).requiresGrad(true);
    Tensor rm32 = Tensor.zeros(32), rv32 = Tensor.ones(32);
    Tensor g64 = Tensor.ones(64).requiresGrad(true), b64 = Tensor.zeros(64).requiresGrad(true);
    Tensor rm64 = Tensor.zeros(64), rv64 = Tensor.ones(64);
    Map<String, Supplier<Tensor>> cases = new LinkedHashMap<>();
    cases.put("stem conv 1->32 28x28", () -> Ops.conv2d(a, ws, null, 1, 1, 1, 1));
    cases.put("bn32 28x28", () -> Ops.batchNorm(b, rm32, rv32, g32, b32, true, 0.1, 1e-5));
    cases.put("relu 32x28x28", () -> Ops.relu(b));
    cases.put("maxpool 32x28x28", () -> Ops.maxPool2d(b, 2, 2, 2, 2, 0, 0, false));
    cases.put("conv 32->32 14x14", () -> Ops.conv2d(c, w3.narrow(0, 0, 32).detach().requiresGrad(true), null, 1, 1, 1, 1));
    cases.put("bn32 14x14", () -> Ops.batchNorm(c, rm32, rv32, g32, b32, true, 0.1, 1e-5));
    cases.put("relu 32x14x14", () -> Ops.relu(c));
    cases.put("add 32x14x14", () -> Ops.add(c, c2));
    cases.put("conv 32->64 s2 14x14", () -> Ops.conv2d(c, w3, null, 2, 2, 1, 1));
    cases.put("conv 32->64 1x1 s2", () -> Ops.conv2d(c, w1, null, 2, 2, 0, 0));
    cases.put("conv 64->64 7x7", () -> Ops.conv2d(d, w4, null, 1, 1, 1, 1));
    cases.put("bn64 7x7", () -> Ops.batchNorm(d, rm64, rv64, g64, b64, true, 0.1, 1e-5));
    cases.put("maxpool 64x7x7", () -> Ops.maxPool2d(d, 2, 2, 2, 2, 0, 0, false));
    for (var e : cases.entrySet()) {
      if (!e.getKey().startsWith(only)) continue;
      Supplier<Tensor> f = e.getValue();
      double fw = lowest(() -> { try (var g = Kiln.noGrad()) { f.get(); } });
      double tr = lowest(() -> { f.get().sum().backward(); });
      System.out.printf("%-26s fwd %7.3f  train %7.3f ms%n", e.getKey(), fw, tr);
    }
  }
  static double lowest(Runnable r) {
    for (int i = 0; i < 30; i++) r.run();
    double best = 1e9;
    for (int k = 0; k < 5; k++) {
      long t0 = MX.getCurrentThreadCpuTime();
      for (int i = 0; i < 10; i++) r.run();
      best = Math.min(best, (MX.getCurrentThreadCpuTime() - t0) / 1e6 / 10);
    }
    return best;
  }
}
