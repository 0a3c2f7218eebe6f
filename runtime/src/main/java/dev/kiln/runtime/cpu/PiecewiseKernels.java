package dev.kiln.runtime.cpu;

/**
 * Activations and losses defined piece by piece, on the CPU, each way: softplus with its linear
 * threshold, ELU, hardtanh's gradient (its forward is {@code clamp}'s), and the smooth L1 and
 * Huber losses. PyTorch 1.13's formulas, branches and edges (which side of a bound a value equal
 * to it takes, what NaN does) computed in double and rounded once; {@code cuda.PiecewiseKernels}
 * holds the same formulas for the GPU.
 */
public final class PiecewiseKernels {
  private PiecewiseKernels() {}

  /** {@code out = x beta > threshold ? x : log(1 + exp(x beta)) / beta}, {@code x beta} rounded to float first, as PyTorch's. */
  public static void softplusForward(float[] out, int outOff, float[] x, int xOff, int n, float beta, float threshold) {
    for (int i = 0; i < n; i++) {
      float v = x[xOff + i], z = v * beta;
      out[outOff + i] = z > threshold ? v : (float) (Math.log1p(Math.exp(z)) / beta);
    }
  }

  /** {@code dx = x beta > threshold ? g : g e / (e + 1)} with {@code e = exp(x beta)}: softplus's gradient, from the input. */
  public static void softplusBackward(float[] dx, int dxOff, float[] g, int gOff, float[] x, int xOff, int n, float beta,
      float threshold) {
    for (int i = 0; i < n; i++) {
      float z = x[xOff + i] * beta;
      double e = Math.exp(z);
      dx[dxOff + i] = z > threshold ? g[gOff + i] : (float) (g[gOff + i] * (e / (e + 1)));
    }
  }

  /** {@code out = x > 0 ? x : alpha (exp(x) - 1)} (NaN stays NaN), by {@code expm1}. */
  public static void eluForward(float[] out, int outOff, float[] x, int xOff, int n, float alpha) {
    for (int i = 0; i < n; i++) {
      float v = x[xOff + i];
      out[outOff + i] = v <= 0 ? (float) (alpha * Math.expm1(v)) : v;
    }
  }

  /** {@code dx = x > 0 ? g : g alpha exp(x)}: ELU's gradient, from the input (PyTorch's, for any alpha). */
  public static void eluBackward(float[] dx, int dxOff, float[] g, int gOff, float[] x, int xOff, int n, float alpha) {
    for (int i = 0; i < n; i++) {
      float v = x[xOff + i];
      dx[dxOff + i] = v <= 0 ? (float) (g[gOff + i] * (double) alpha * Math.exp(v)) : g[gOff + i];
    }
  }

  /**
   * {@code dx = min < x < max ? g : 0}: hardtanh's gradient, 0 at the bounds themselves (where
   * clamp's passes) and passed on at NaN, as PyTorch's {@code hardtanh_backward}.
   */
  public static void hardtanhBackward(float[] dx, int dxOff, float[] g, int gOff, float[] x, int xOff, int n, float min, float max) {
    for (int i = 0; i < n; i++) {
      float v = x[xOff + i];
      dx[dxOff + i] = v <= min || v >= max ? 0f : g[gOff + i];
    }
  }

  /**
   * Per-element smooth L1 ({@code huber} false) or Huber loss of {@code d = x - t}, {@code z = |d|}:
   * smooth L1 {@code z < beta ? z^2 / (2 beta) : z - beta / 2} (plain {@code z} for beta 0),
   * Huber {@code z < delta ? z^2 / 2 : delta (z - delta / 2)}; {@code param} is beta or delta.
   */
  public static void smoothL1Forward(float[] out, int outOff, float[] x, int xOff, float[] t, int tOff, int n, float param,
      boolean huber) {
    for (int i = 0; i < n; i++) {
      double z = Math.abs(x[xOff + i] - t[tOff + i]); // the difference rounded to float, as PyTorch's
      double b = param;
      out[outOff + i] = (float) (huber
          ? (z < b ? 0.5 * z * z : b * (z - 0.5 * b))
          : (b == 0 ? z : z < b ? 0.5 * z * z / b : z - 0.5 * b));
    }
  }

  /**
   * The input's gradient of {@link #smoothL1Forward} (the target's is its negative), PyTorch's:
   * smooth L1 {@code d <= -beta ? -g : d >= beta ? g : g d / beta} ({@code g sign(d)} for beta 0,
   * 0 at d = 0), Huber {@code d <= -delta ? -g delta : d >= delta ? g delta : g d}.
   */
  public static void smoothL1Backward(float[] dx, int dxOff, float[] g, int gOff, float[] x, int xOff, float[] t, int tOff, int n,
      float param, boolean huber) {
    for (int i = 0; i < n; i++) {
      double d = x[xOff + i] - t[tOff + i];
      double b = param, gv = g[gOff + i];
      double slope = huber
          ? (d <= -b ? -b : d >= b ? b : d)
          : (b == 0 ? Math.signum(d) : d <= -b ? -1 : d >= b ? 1 : d / b);
      dx[dxOff + i] = (float) (gv * slope);
    }
  }
}
