package dev.kiln.runtime.cpu;

/**
 * The activations of one input value and at most one hyper-parameter, each way, on the CPU: hardswish, hardsigmoid,
 * Mish, SELU, CELU (alpha), softsign, log-sigmoid and tanhshrink, picked by a code ({@link #HARDSWISH} ...). PyTorch
 * 1.13's formulas and branches (which side of a bound a value equal to it takes) computed in double and rounded once;
 * {@code cuda.ActivationCodeKernels} holds the same formulas for the GPU, under the same codes. Backwards read
 * the input.
 */
public final class ActivationCodeKernels {
  private ActivationCodeKernels() {}

  /** {@code x min(max(x + 3, 0), 6) / 6}. */
  public static final int HARDSWISH = 0;
  /** {@code min(max(x + 3, 0), 6) / 6}. */
  public static final int HARDSIGMOID = 1;
  /** {@code x tanh(log(1 + exp(x)))}. */
  public static final int MISH = 2;
  /** {@code scale (x > 0 ? x : alpha (exp(x) - 1))} with PyTorch's fixed alpha and scale. */
  public static final int SELU = 3;
  /** {@code x > 0 ? x : alpha (exp(x / alpha) - 1)}, the parameter alpha. */
  public static final int CELU = 4;
  /** {@code x / (1 + |x|)}. */
  public static final int SOFTSIGN = 5;
  /** {@code log(sigmoid(x)) = min(x, 0) - log(1 + exp(-|x|))}. */
  public static final int LOGSIGMOID = 6;
  /** {@code x - tanh(x)}. */
  public static final int TANHSHRINK = 7;

  /** Work weight of one element for {@link Parallel#forRange} (a switch, maybe a transcendental). */
  private static final long WORK = 8;

  /** SELU's constants, PyTorch's. */
  public static final double SELU_ALPHA = 1.6732632423543772848170429916717;
  public static final double SELU_SCALE = 1.0507009873554804934193349852946;

  /** {@code out = f(x)} for the activation {@code op}, {@code a} its parameter (CELU's alpha; ignored by the others). */
  public static void forward(int op, float[] out, int outOff, float[] x, int xOff, int n, float a) {
    Parallel.forRange(n, WORK * n, (part, from, to) -> {
      for (int i = from; i < to; i++) {
        out[outOff + i] = (float) value(op, x[xOff + i], a);
      }
    });
  }

  /** {@code dx = g f'(x)}: the gradient of {@link #forward}, from the input. */
  public static void backward(int op, float[] dx, int dxOff, float[] g, int gOff, float[] x, int xOff, int n, float a) {
    Parallel.forRange(n, WORK * n, (part, from, to) -> {
      for (int i = from; i < to; i++) {
        dx[dxOff + i] = (float) (g[gOff + i] * slope(op, x[xOff + i], a));
      }
    });
  }

  /** The activation's value at {@code v}. */
  public static double value(int op, double v, double a) {
    switch (op) {
      case HARDSWISH:
        return v * Math.min(Math.max(v + 3, 0), 6) / 6;
      case HARDSIGMOID:
        return Math.min(Math.max(v + 3, 0), 6) / 6;
      case MISH:
        return v * Math.tanh(Math.log1p(Math.exp(v)));
      case SELU:
        return SELU_SCALE * (v > 0 ? v : SELU_ALPHA * Math.expm1(v));
      case CELU:
        return v > 0 ? v : a * Math.expm1(v / a);
      case SOFTSIGN:
        return v / (1 + Math.abs(v));
      case LOGSIGMOID:
        return Math.min(v, 0) - Math.log1p(Math.exp(-Math.abs(v)));
      case TANHSHRINK:
        return v - Math.tanh(v);
      default:
        throw new IllegalArgumentException("no pointwise activation " + op);
    }
  }

  /** The activation's derivative at {@code v}, PyTorch's at its kinks. */
  public static double slope(int op, double v, double a) {
    switch (op) {
      case HARDSWISH:
        return v < -3 ? 0 : v <= 3 ? v / 3 + 0.5 : 1;
      case HARDSIGMOID:
        return v > -3 && v < 3 ? 1.0 / 6 : 0;
      case MISH: {
        double sigmoid = 1 / (1 + Math.exp(-v)), t = Math.tanh(Math.log1p(Math.exp(v)));
        return t + v * sigmoid * (1 - t * t);
      }
      case SELU:
        return v > 0 ? SELU_SCALE : SELU_SCALE * SELU_ALPHA * Math.exp(v);
      case CELU:
        return v > 0 ? 1 : Math.exp(v / a);
      case SOFTSIGN: {
        double d = 1 + Math.abs(v);
        return 1 / (d * d);
      }
      case LOGSIGMOID:
        return 1 / (1 + Math.exp(v));
      case TANHSHRINK: {
        double t = Math.tanh(v);
        return t * t;
      }
      default:
        throw new IllegalArgumentException("no pointwise activation " + op);
    }
  }
}
