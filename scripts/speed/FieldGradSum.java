import dev.kiln.runtime.cpu.CpuKernels;
import java.util.Random;

/**
 * A tensor field's gradient summed over the batch (docs/benchmarks.md, 2026-12-07): a {@code [64, 32, 64]} incoming
 * gradient into a {@code [32, 64]} parameter's, an add's (no other input) and a mul's (times the value), by the double
 * kernel the generated code called before ({@code sumRepeatedBackward}, outer 1) and by the float one eager mode and the
 * generated code share now ({@code sumRowsBackward}). Best of 2000 calls each, in the third of three rounds. Run with
 * {@code -Dkiln.threads=1} and {@code runtime/target/classes} on the class path:
 * {@code javac -cp runtime/target/classes -d /tmp scripts/speed/FieldGradSum.java &&
 * java -Dkiln.threads=1 -cp runtime/target/classes:/tmp FieldGradSum}.
 */
public class FieldGradSum {
  public static void main(String[] args) {
    int n = 64, t = 32, d = 64, cols = t * d;
    Random random = new Random(1);
    float[] g = new float[n * cols], x = new float[n * cols], dst = new float[cols];
    for (int i = 0; i < g.length; i++) {
      g[i] = (float) random.nextGaussian();
      x[i] = (float) random.nextGaussian();
    }
    for (boolean mul : new boolean[] {false, true}) {
      float[] other = mul ? x : null;
      for (int round = 0; round < 3; round++) {
        long before = Long.MAX_VALUE, after = Long.MAX_VALUE;
        for (int it = 0; it < 2000; it++) {
          long s = System.nanoTime();
          CpuKernels.sumRepeatedBackward(dst, 0, g, 0, null, 0, other, 0, 1, n, cols, true);
          long m = System.nanoTime();
          CpuKernels.sumRowsBackward(dst, 0, g, 0, null, 0, other, 0, n, cols, 1f, true);
          long e = System.nanoTime();
          before = Math.min(before, m - s);
          after = Math.min(after, e - m);
        }
        if (round == 2) {
          System.out.printf("%s: sumRepeatedBackward (double) %.1f us, sumRowsBackward (float) %.1f us%n", mul ? "mul" : "add",
              before / 1e3, after / 1e3);
        }
      }
    }
  }
}
