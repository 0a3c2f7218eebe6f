package dev.kiln.processor;

import dev.kiln.runtime.cpu.Blas;
import dev.kiln.runtime.cpu.CpuKernels;
import dev.kiln.runtime.cpu.MathKernels;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A timing, not a test (tagged "timing", which the build leaves out): the two forms of a compiled {@code w.matmul(x)}
 * ({@code [M, K] @ [N, K, T]}) each way, on the kernels the generated code calls. Batched: one GEMM per sample with
 * the weight at stride 0 (eager's bmm, what the processor generates); permuted: x copied to {@code [K, N * T]}, one
 * GEMM, the product copied back to {@code [N, M, T]} (and the gradient the same way). docs/design-notes.md ("Weights
 * by hand") has the figures and the command.
 */
@Tag("timing")
class FieldLeftTiming {
  @Test
  void time() {
    System.out.printf("%-22s %12s %12s %12s %12s%n", "w [M,K] @ x [N,K,T]", "batched fwd", "permuted fwd", "batched bwd",
        "permuted bwd");
    for (int[] s : new int[][] {{64, 16, 64, 64}, {64, 64, 128, 128}, {32, 196, 256, 128}}) {
      int n = s[0], k = s[1], t = s[2], m = s[3];
      Random r = new Random(1);
      float[] w = values(r, m * k), x = values(r, n * k * t), g = values(r, n * m * t);
      float[] out = new float[n * m * t], xp = new float[n * k * t], op = new float[n * m * t];
      float[] dx = new float[n * k * t], dw = new float[m * k], products = new float[n * m * k], sum = new float[m * k];
      Runnable batchedForward = () -> Blas.sgemmBatched(n, false, false, m, t, k, 1f, w, 0, 0, x, 0, k * t, 0f, out, 0, m * t);
      Runnable permutedForward = () -> {
        CpuKernels.permute(xp, 0, x, 0, new int[] {n, k, t}, new int[] {1, 0, 2}, false); // [K, N, T]
        Blas.sgemm(false, false, m, n * t, k, 1f, w, 0, k, xp, 0, n * t, 0f, op, 0, n * t);  // [M, N * T]
        CpuKernels.permute(out, 0, op, 0, new int[] {m, n, t}, new int[] {1, 0, 2}, false); // [N, M, T]
      };
      Runnable batchedBackward = () -> {
        Blas.sgemmBatched(n, true, false, k, t, m, 1f, w, 0, 0, g, 0, m * t, 0f, dx, 0, k * t);
        Blas.sgemmBatched(n, false, true, m, k, t, 1f, g, 0, m * t, x, 0, k * t, 0f, products, 0, m * k);
        MathKernels.sumAlong(sum, 0, products, 0, 1, n, m * k, 1f);
        CpuKernels.accumulate(dw, 0, sum, 0, m * k);
      };
      Runnable permutedBackward = () -> {
        CpuKernels.permute(op, 0, g, 0, new int[] {n, m, t}, new int[] {1, 0, 2}, false); // g as [M, N * T]
        CpuKernels.permute(xp, 0, x, 0, new int[] {n, k, t}, new int[] {1, 0, 2}, false); // x as [K, N * T]
        Blas.sgemm(false, true, m, k, n * t, 1f, op, 0, n * t, xp, 0, n * t, 1f, dw, 0, k); // dw += g' x'^T
        Blas.sgemm(true, false, k, n * t, m, 1f, w, 0, k, op, 0, n * t, 0f, xp, 0, n * t);  // dx' = w^T g'
        CpuKernels.permute(dx, 0, xp, 0, new int[] {k, n, t}, new int[] {1, 0, 2}, false);
      };
      System.out.printf("%-22s %9.3f ms %9.3f ms %9.3f ms %9.3f ms%n", "[" + m + "," + k + "] @ [" + n + "," + k + "," + t + "]",
          millis(batchedForward), millis(permutedForward), millis(batchedBackward), millis(permutedBackward));
    }
  }

  private static float[] values(Random r, int n) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) r.nextGaussian();
    }
    return v;
  }

  /** The median of 15 timed runs after 10 warm-up runs, in milliseconds. */
  private static double millis(Runnable body) {
    for (int i = 0; i < 10; i++) {
      body.run();
    }
    double[] times = new double[15];
    for (int i = 0; i < times.length; i++) {
      long t0 = System.nanoTime();
      body.run();
      times[i] = (System.nanoTime() - t0) / 1e6;
    }
    java.util.Arrays.sort(times);
    return times[times.length / 2];
  }
}
