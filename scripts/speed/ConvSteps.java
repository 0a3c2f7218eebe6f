import dev.kiln.dsl.CrossEntropyLoss;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.optim.SGD;
import dev.kiln.samples.FashionCnn;
import dev.kiln.samples.FashionResNet;
import dev.kiln.samples.KilnFashionCnn;
import dev.kiln.samples.KilnFashionResNet;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.function.Supplier;
/**
 * Eager against compiled train steps and inference of the samples' FashionCnn and FashionResNet at batch 64, one
 * thread's CPU time (so other processes on a shared machine move it less than wall time): the lowest of 5 rounds of
 * 5 steps after 15, and the megabytes an eager step allocates (docs/benchmarks.md, twentieth session); {@code
 * -Dwall=true} for wall time. Without {@code -Dkiln.threads=1} it is the main thread's share of two. Run with one thread:
 * {@code java -Dkiln.threads=1 -cp samples/target/kiln-samples.jar scripts/speed/ConvSteps.java [cnn|resnet]}.
 */
public class ConvSteps {
  static final ThreadMXBean MX = ManagementFactory.getThreadMXBean();
  /** Wall time instead of the thread's CPU time ({@code -Dwall=true}): with two threads, the pool's work counts. */
  static final boolean WALL = Boolean.getBoolean("wall");
  public static void main(String[] args) {
    String only = args.length > 0 ? args[0] : "";
    if (!"resnet".equals(only)) {
      report("cnn", FashionCnn::new, KilnFashionCnn::new);
    }
    if (!"cnn".equals(only)) {
      report("resnet", FashionResNet::new, KilnFashionResNet::new);
    }
  }
  static void report(String name, Supplier<Module> eager, Supplier<Module> compiled) {
    double et = lowest(train(eager)), etMb = allocated;
    double ct = lowest(train(compiled));
    double ei = lowest(infer(eager)), eiMb = allocated;
    double ci = lowest(infer(compiled));
    System.out.printf("%-7s train eager %7.2f compiled %7.2f ms (%.2f)   inference eager %7.2f compiled %7.2f ms (%.2f)"
        + "   eager allocates %.1f / %.1f MB a step%n", name, et, ct, et / ct, ei, ci, ei / ci, etMb, eiMb);
  }
  static Runnable train(Supplier<Module> model) {
    Kiln.manualSeed(0);
    Module net = model.get();
    var opt = new SGD(net.parameters(), 0.01).momentum(0.9);
    var criterion = new CrossEntropyLoss();
    Tensor x = Tensor.randn(64, 1, 28, 28);
    int[] labels = new int[64];
    for (int i = 0; i < 64; i++) labels[i] = Kiln.generator().nextInt(10);
    Tensor y = Tensor.labels(labels);
    net.train();
    return () -> {
      opt.zeroGrad();
      criterion.apply(net.forward(x), y).backward();
      opt.step();
    };
  }
  static Runnable infer(Supplier<Module> model) {
    Kiln.manualSeed(0);
    Module net = model.get();
    Tensor x = Tensor.randn(64, 1, 28, 28);
    net.eval();
    return () -> {
      try (var g = Kiln.noGrad()) {
        net.forward(x);
      }
    };
  }
  /** Megabytes the thread allocated per call in the last round of {@link #lowest}. */
  static double allocated;

  static double lowest(Runnable r) {
    for (int i = 0; i < 15; i++) r.run();
    var alloc = (com.sun.management.ThreadMXBean) MX;
    long a0 = alloc.getCurrentThreadAllocatedBytes();
    r.run();
    allocated = (alloc.getCurrentThreadAllocatedBytes() - a0) / 1e6;
    double best = 1e9;
    for (int k = 0; k < 5; k++) {
      long t0 = WALL ? System.nanoTime() : MX.getCurrentThreadCpuTime();
      for (int i = 0; i < 5; i++) r.run();
      best = Math.min(best, ((WALL ? System.nanoTime() : MX.getCurrentThreadCpuTime()) - t0) / 1e6 / 5);
    }
    return best;
  }
}
