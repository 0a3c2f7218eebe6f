package speed;

import dev.kiln.dsl.GroupNorm;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import java.util.function.Supplier;

/**
 * GroupNorm(32, 64) over [32, 64, 32, 32] (docs/benchmarks.md, "GroupNorm"): eager (the layer) and compiled (GnBlock,
 * compiled by the processor when this file is, as KilnGnBlock), a forward under noGrad and a training step (forward,
 * backward of a fixed output gradient into the input, weight and bias, the gradients dropped before the next); thread
 * CPU time of the calling thread at -Dkiln.threads=1, the median of 30 after 20. group_norm_peer.py times PyTorch's the
 * same way; run.sh runs both.
 */
public class GroupNormStep {
  private static final ThreadMXBean MX = ManagementFactory.getThreadMXBean();

  public static void main(String[] args) {
    Kiln.manualSeed(0);
    Tensor x = Tensor.randn(32, 64, 32, 32);
    Tensor g = Tensor.randn(32, 64, 32, 32);
    for (boolean compiled : new boolean[] {false, true}) {
      Kiln.manualSeed(1);
      Module net = compiled ? new KilnGnBlock() : new GnBlock();
      String name = compiled ? "compiled" : "eager";
      median("group_norm forward " + name, () -> {
        try (var off = Kiln.noGrad()) {
          net.forward(x);
        }
      });
      Tensor xg = x.clone().requiresGrad(true);
      median("group_norm training " + name, () -> {
        xg.setGrad(null);
        net.parameters().forEach(p -> p.setGrad(null));
        net.forward(xg).backward(g);
      });
    }
  }

  private static void median(String name, Runnable r) {
    for (int i = 0; i < 20; i++) {
      r.run();
    }
    double[] ms = new double[30];
    for (int i = 0; i < ms.length; i++) {
      long t0 = MX.getCurrentThreadCpuTime();
      r.run();
      ms[i] = (MX.getCurrentThreadCpuTime() - t0) / 1e6;
    }
    Arrays.sort(ms);
    System.out.printf("%-34s %8.3f ms (min %.3f)%n", name, ms[ms.length / 2], ms[0]);
  }
}

/** The benchmark's model: one GroupNorm(32, 64) over [N, 64, 32, 32]. */
@Model(input = {64, 32, 32})
class GnBlock extends Module {
  final GroupNorm gn = new GroupNorm(32, 64);

  @Override
  public Tensor forward(Tensor x) {
    return gn.apply(x);
  }
}
