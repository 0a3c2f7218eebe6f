package dev.kiln.runtime.cpu;

/**
 * The parametric ReLU on the CPU, one pass each way: {@code x > 0 ? x : w[c] * x} over {@code x} seen as {@code [outer,
 * channels, inner]} ({@code [N, C, H * W]} for one slope per channel of {@code [N, C, H, W]}; {@code channels} 1 for one
 * slope), each value's slope its channel's, read where it lives (no channels-last copy). Backward the input's gradient
 * {@code x > 0 ? g : w[c] * g} (the slope's at 0, as PyTorch's) and the slopes' {@code sum(x > 0 ? 0 : g * x)} over every
 * position but the channel: each {@code (outer, channel)} plane's products summed in double in order, then the planes of
 * a channel in order of {@code outer}, rounded to float once, so the result does not depend on the threads. Eager mode's
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
        for (int i = 0; i < inner; i++) {
          float v = x[xOff + at + i];
          out[outOff + at + i] = v > 0 ? v : s * v;
        }
      }
    });
  }

  /**
   * The input's gradient {@code dx = x > 0 ? g : w[c] * g} (skipped where {@code dx} is null) and the slopes' {@code dw[c]
   * = sum(x > 0 ? 0 : g * x)} (skipped where {@code dw} is null; added to what {@code dw} holds when {@code accumulate}).
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
        double sum = 0;
        for (int i = 0; i < inner; i++) {
          float v = x[xOff + at + i], d = g[gOff + at + i];
          if (dx != null) {
            dx[dxOff + at + i] = v > 0 ? d : s * d;
          }
          if (!(v > 0)) {
            sum += (double) d * v;
          }
        }
        if (sums != null) {
          sums[p] = sum;
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
}
