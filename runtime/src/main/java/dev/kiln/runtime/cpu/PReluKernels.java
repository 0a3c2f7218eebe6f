package dev.kiln.runtime.cpu;

/**
 * The parametric ReLU on the CPU, one pass each way: {@code x > 0 ? x : w[c] * x} over {@code x} seen as {@code [outer,
 * channels, inner]} ({@code [N, C, H * W]} for one slope per channel of {@code [N, C, H, W]}; {@code channels} 1 for one
 * slope), each value's slope its channel's, read where it lives (no channels-last copy). Backward the input's gradient
 * {@code x > 0 ? g : w[c] * g} (the slope's at 0, as PyTorch's) and the slopes' {@code sum(x > 0 ? 0 : g * x)} over every
 * position but the channel: each {@code (outer, channel)} plane's products summed in double ({@link #slopeSum}), then the
 * planes of a channel in order of {@code outer}, rounded to float once, so the result does not depend on the threads. No
 * branch on the sign anywhere (random signs mispredict one: 17 ms against 1.7 over [64, 64, 32, 32], one thread). Eager mode's
 * {@code F.prelu} and the processor's compiled PReLU call these, so the two agree to the bit; {@code cuda.PReluKernels}
 * holds the same formulas for the GPU.
 */
public final class PReluKernels {
  private PReluKernels() {}

  /** {@code out = x > 0 ? x : w[c] * x}, x {@code [outer, channels, inner]}. */
  public static void forward(float[] out, int outOff, float[] x, int xOff, float[] w, int wOff, int outer, int channels, int inner) {
    long work = (long) outer * channels * inner;
    Parallel.forRange(outer * channels, work, (part, from, to) -> {
      for (int p = from; p < to; p++) {
        float s = w[wOff + p % channels];
        int at = p * inner;
        if (outOff == xOff) { // one index for both arrays, which the JIT vectorises
          for (int i = outOff + at; i < outOff + at + inner; i++) {
            out[i] = x[i] * factor(x[i], s);
          }
        } else {
          for (int i = 0; i < inner; i++) {
            float v = x[xOff + at + i];
            out[outOff + at + i] = v * factor(v, s);
          }
        }
      }
    });
  }

  /**
   * 1 for {@code v > 0}, else the slope {@code s} (NaN for NaN), without a branch (random signs mispredict one): so
   * {@code v * factor(v, s)} is {@code v > 0 ? v : s * v} to the bit, signed zeros included.
   */
  private static float factor(float v, float s) {
    float f = CpuKernels.positive(v);
    return f + (1f - f) * s;
  }

  /**
   * The input's gradient {@code dx = x > 0 ? g : w[c] * g} (skipped where {@code dx} is null) and the slopes' {@code dw[c]
   * = sum(x > 0 ? 0 : g * x)} (skipped where {@code dw} is null; added to what {@code dw} holds when {@code accumulate}).
   * {@code dx} may be {@code g} at the same offset: each plane's slope sum reads g before its dx is written.
   */
  public static void backward(float[] dx, int dxOff, float[] dw, int dwOff, boolean accumulate, float[] g, int gOff, float[] x, int xOff,
      float[] w, int wOff, int outer, int channels, int inner) {
    int planes = outer * channels;
    double[] sums = dw == null ? null : new double[planes];
    long work = (long) planes * inner;
    Parallel.forRange(planes, work, (part, from, to) -> {
      for (int p = from; p < to; p++) {
        float s = w[wOff + p % channels];
        int at = p * inner;
        if (sums != null) { // before dx, which may be written over g
          sums[p] = slopeSum(g, gOff + at, x, xOff + at, inner);
        }
        if (dx != null) {
          if (dxOff == gOff && gOff == xOff) { // one index for the three arrays, which the JIT vectorises
            for (int i = dxOff + at; i < dxOff + at + inner; i++) {
              dx[i] = g[i] * factor(x[i], s);
            }
          } else {
            for (int i = 0; i < inner; i++) {
              dx[dxOff + at + i] = g[gOff + at + i] * factor(x[xOff + at + i], s);
            }
          }
        }
      }
    });
    if (dw == null) {
      return;
    }
    for (int c = 0; c < channels; c++) {
      double sum = 0;
      for (int o = 0; o < outer; o++) {
        sum += sums[o * channels + c];
      }
      dw[dwOff + c] = accumulate ? dw[dwOff + c] + (float) sum : (float) sum;
    }
  }

  /**
   * {@code sum(x > 0 ? 0 : g * x)} over {@code n} values in double: each product {@code g * min(x, 0)}, exact in double,
   * without a branch (random signs mispredict one; an infinite {@code g} at a positive x then gives NaN, where a select
   * would skip it: the run has diverged either way, as {@code CpuKernels.passIfPositive} says); four running sums, of the
   * values at {@code i % 4}, added as {@code (s0 + s1) + (s2 + s3)} at the end: an order fixed by the sizes alone.
   */
  private static double slopeSum(float[] g, int gOff, float[] x, int xOff, int n) {
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int i = 0;
    for (; i + 4 <= n; i += 4) {
      s0 += (double) g[gOff + i] * Math.min(x[xOff + i], 0f);
      s1 += (double) g[gOff + i + 1] * Math.min(x[xOff + i + 1], 0f);
      s2 += (double) g[gOff + i + 2] * Math.min(x[xOff + i + 2], 0f);
      s3 += (double) g[gOff + i + 3] * Math.min(x[xOff + i + 3], 0f);
    }
    for (; i < n; i++) {
      s0 += (double) g[gOff + i] * Math.min(x[xOff + i], 0f);
    }
    return (s0 + s1) + (s2 + s3);
  }
}
