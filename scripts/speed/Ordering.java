import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;

/**
 * One-thread timings of the CPU's ordering ops (docs/benchmarks.md, cpu.SortKernels): {@code bench --model layers}'
 * sort and topk cases, eager under {@code noGrad}, each the best of 150 calls after 50 of warm-up (wall time).
 * Run with {@code java -Dkiln.threads=1 -cp samples/target/kiln-samples.jar scripts/speed/Ordering.java}; PyTorch's
 * side is {@code OPENBLAS_NUM_THREADS=1 /usr/bin/python3 samples/peer/pytorch_layer_peer.py --threads 1 --only sort,topk}.
 */
public class Ordering {
  public static void main(String[] args) {
    Kiln.manualSeed(0);
    Tensor x = Tensor.randn(4, 50000), y = Tensor.randn(64, 1000);
    try (var ignored = Kiln.noGrad()) {
      for (String c : new String[] {"topk(5, -1), [4, 50000]", "sort(-1), [4, 50000]", "sort(-1), [64, 1000]"}) {
        double best = Double.MAX_VALUE;
        for (int r = 0; r < 200; r++) {
          long t = System.nanoTime();
          Tensor v = c.startsWith("topk") ? x.topk(5, -1, true).values() : Ops.sort(c.contains("50000") ? x : y, -1, false).values();
          double ms = (System.nanoTime() - t) / 1e6;
          if (r >= 50 && v.numel() > 0) {
            best = Math.min(best, ms);
          }
        }
        System.out.printf("%-24s %.3f ms%n", c, best);
      }
    }
  }
}
