package dev.kiln.runtime.cpu;

/**
 * Element-wise functions of one or two tensors given as a table rather than a loop each: rounding
 * (floor, ceil, round half to even, trunc), sign, reciprocal, rsqrt, log1p, expm1, square; maximum,
 * minimum, atan2 and the logical and/or/xor of masks. Each entry holds its forward and its
 * gradient as Java functions, run by the two generic loops here, and the same formulas as CUDA C
 * expressions, from which {@code cuda.PointwiseKernels} builds its kernels' switch: the table is the
 * one list of these functions for both backends. Values are computed in float where that is exact
 * (rounding, square, reciprocal), else in double and rounded once, on both devices alike.
 * Gradients are PyTorch 1.13's formulas: 0 for the rounding functions and sign, maximum's and
 * minimum's split in halves on ties (and whole to both where a NaN is involved).
 */
public final class PointwiseKernels {
  private PointwiseKernels() {}

  /** {@code y = f(x)}. */
  @FunctionalInterface
  public interface Forward {
    float apply(float x);
  }

  /** The input's gradient from the incoming one {@code g}, the input {@code x} and the output {@code y}. */
  @FunctionalInterface
  public interface Backward {
    float apply(float g, float x, float y);
  }

  /**
   * The one-input functions, PyTorch's names. {@code cudaForward} is a CUDA C expression of {@code v}
   * (the input), {@code cudaBackward} one of {@code g}, {@code v} and {@code y}; a null backward is a
   * gradient of 0 everywhere (PyTorch's for the step functions).
   */
  public enum Unary {
    FLOOR("floor", v -> (float) Math.floor(v), null, "floorf(v)", null),
    CEIL("ceil", v -> (float) Math.ceil(v), null, "ceilf(v)", null),
    /** Half to even, as PyTorch's {@code round}: 0.5 to 0, 1.5 and 2.5 to 2. */
    ROUND("round", v -> (float) Math.rint(v), null, "rintf(v)", null),
    TRUNC("trunc", v -> (float) (v < 0 ? Math.ceil(v) : Math.floor(v)), null, "truncf(v)", null),
    /** 1, -1 or 0 (for 0, -0 and NaN, as PyTorch's CPU sign). */
    SIGN("sign", v -> v > 0 ? 1f : v < 0 ? -1f : 0f, null, "(v > 0.0f ? 1.0f : v < 0.0f ? -1.0f : 0.0f)", null),
    RECIPROCAL("reciprocal", v -> 1f / v, (g, x, y) -> -g * (y * y), "1.0f / v", "__fmul_rn(-g, __fmul_rn(y, y))"),
    RSQRT("rsqrt", v -> (float) (1.0 / Math.sqrt(v)), (g, x, y) -> (float) (-0.5 * g * y * y * y),
        "(float) (1.0 / sqrt((double) v))", "(float) (-0.5 * (double) g * (double) y * (double) y * (double) y)"),
    LOG1P("log1p", v -> (float) Math.log1p(v), (g, x, y) -> (float) (g / (1.0 + x)),
        "(float) log1p((double) v)", "(float) ((double) g / (1.0 + (double) v))"),
    EXPM1("expm1", v -> (float) Math.expm1(v), (g, x, y) -> (float) (g * (y + 1.0)),
        "(float) expm1((double) v)", "(float) ((double) g * ((double) y + 1.0))"),
    SQUARE("square", v -> v * v, (g, x, y) -> (float) (2.0 * x * g), "__fmul_rn(v, v)", "(float) (2.0 * (double) v * (double) g)");

    public final String opName;
    public final Forward forward;
    public final Backward backward;
    public final String cudaForward;
    public final String cudaBackward;

    Unary(String opName, Forward forward, Backward backward, String cudaForward, String cudaBackward) {
      this.opName = opName;
      this.forward = forward;
      this.backward = backward;
      this.cudaForward = cudaForward;
      this.cudaBackward = cudaBackward;
    }
  }

  /** {@code out = f(a, b)}. */
  @FunctionalInterface
  public interface Forward2 {
    float apply(float a, float b);
  }

  /** One operand's gradient from the incoming one {@code g} and both operands. */
  @FunctionalInterface
  public interface Backward2 {
    float apply(float g, float a, float b);
  }

  /**
   * The two-input functions of same-shape operands (the caller broadcasts). CUDA expressions are of
   * {@code a}, {@code b} and (backward) {@code g}; null backwards mark a result without gradient
   * (the logical ops: 0/1 masks, a nonzero value, NaN included, is true).
   */
  public enum Binary {
    MAXIMUM("maximum", (a, b) -> a != a || b != b ? Float.NaN : Math.max(a, b),
        (g, a, b) -> a < b ? 0f : a == b ? g * 0.5f : g, (g, a, b) -> a > b ? 0f : a == b ? g * 0.5f : g,
        "(a != a || b != b) ? a + b : fmaxf(a, b)",
        "a < b ? 0.0f : a == b ? g * 0.5f : g", "a > b ? 0.0f : a == b ? g * 0.5f : g"),
    MINIMUM("minimum", (a, b) -> a != a || b != b ? Float.NaN : Math.min(a, b),
        (g, a, b) -> a > b ? 0f : a == b ? g * 0.5f : g, (g, a, b) -> a < b ? 0f : a == b ? g * 0.5f : g,
        "(a != a || b != b) ? a + b : fminf(a, b)",
        "a > b ? 0.0f : a == b ? g * 0.5f : g", "a < b ? 0.0f : a == b ? g * 0.5f : g"),
    ATAN2("atan2", (a, b) -> (float) Math.atan2(a, b),
        (g, a, b) -> (float) (g * (double) b / ((double) a * a + (double) b * b)),
        (g, a, b) -> (float) (-g * (double) a / ((double) a * a + (double) b * b)),
        "(float) atan2((double) a, (double) b)",
        "(float) ((double) g * (double) b / __dadd_rn(__dmul_rn((double) a, (double) a), __dmul_rn((double) b, (double) b)))",
        "(float) (-(double) g * (double) a / __dadd_rn(__dmul_rn((double) a, (double) a), __dmul_rn((double) b, (double) b)))"),
    LOGICAL_AND("logical_and", (a, b) -> a != 0 && b != 0 ? 1f : 0f, null, null, "(a != 0.0f && b != 0.0f) ? 1.0f : 0.0f", null, null),
    LOGICAL_OR("logical_or", (a, b) -> a != 0 || b != 0 ? 1f : 0f, null, null, "(a != 0.0f || b != 0.0f) ? 1.0f : 0.0f", null, null),
    LOGICAL_XOR("logical_xor", (a, b) -> (a != 0) != (b != 0) ? 1f : 0f, null, null, "((a != 0.0f) != (b != 0.0f)) ? 1.0f : 0.0f", null,
        null);

    public final String opName;
    public final Forward2 forward;
    public final Backward2 backwardA;
    public final Backward2 backwardB;
    public final String cudaForward;
    public final String cudaBackwardA;
    public final String cudaBackwardB;

    Binary(String opName, Forward2 forward, Backward2 backwardA, Backward2 backwardB, String cudaForward, String cudaBackwardA,
        String cudaBackwardB) {
      this.opName = opName;
      this.forward = forward;
      this.backwardA = backwardA;
      this.backwardB = backwardB;
      this.cudaForward = cudaForward;
      this.cudaBackwardA = cudaBackwardA;
      this.cudaBackwardB = cudaBackwardB;
    }

    /** Whether the result has a gradient (not a logical op's mask). */
    public boolean differentiable() {
      return backwardA != null;
    }
  }

  /** Work weight of one element for {@link Parallel#forRange} (a call through the table, maybe a transcendental). */
  private static final long WORK = 8;

  /** {@code out = f(x)} for {@code n} values. */
  public static void forward(Unary f, float[] out, int outOff, float[] x, int xOff, int n) {
    Forward fn = f.forward;
    Parallel.forRange(n, WORK * n, (part, from, to) -> {
      for (int i = from; i < to; i++) {
        out[outOff + i] = fn.apply(x[xOff + i]);
      }
    });
  }

  /** {@code dx = f'(x) g}, by the table's formula (0 where it has none). */
  public static void backward(Unary f, float[] dx, int dxOff, float[] g, int gOff, float[] x, int xOff, float[] y, int yOff, int n) {
    Backward fn = f.backward;
    if (fn == null) {
      java.util.Arrays.fill(dx, dxOff, dxOff + n, 0f);
      return;
    }
    Parallel.forRange(n, WORK * n, (part, from, to) -> {
      for (int i = from; i < to; i++) {
        dx[dxOff + i] = fn.apply(g[gOff + i], x[xOff + i], y[yOff + i]);
      }
    });
  }

  /** {@code out = f(a, b)} for {@code n} values of same-shape operands. */
  public static void forward(Binary f, float[] out, int outOff, float[] a, int aOff, float[] b, int bOff, int n) {
    Forward2 fn = f.forward;
    Parallel.forRange(n, WORK * n, (part, from, to) -> {
      for (int i = from; i < to; i++) {
        out[outOff + i] = fn.apply(a[aOff + i], b[bOff + i]);
      }
    });
  }

  /**
   * One operand's gradient of a differentiable {@link Binary} (b's when {@code second}, else a's) by the table's formula,
   * written into {@code d} or added to what it holds ({@code accumulate}); nothing for a null {@code d}. The compiled
   * forward's backward, eager mode's values bit for bit.
   */
  public static void backward(Binary f, boolean second, float[] d, int dOff, float[] g, int gOff, float[] a, int aOff, float[] b,
      int bOff, int n, boolean accumulate) {
    if (d == null) {
      return;
    }
    Backward2 fn = second ? f.backwardB : f.backwardA;
    Parallel.forRange(n, WORK * n, (part, from, to) -> {
      for (int i = from; i < to; i++) {
        float v = fn.apply(g[gOff + i], a[aOff + i], b[bOff + i]);
        d[dOff + i] = accumulate ? d[dOff + i] + v : v;
      }
    });
  }

  /** Both operands' gradients of a differentiable {@link Binary}; a null {@code da} or {@code db} is not written. */
  public static void backward(Binary f, float[] da, float[] db, float[] g, int gOff, float[] a, int aOff, float[] b, int bOff, int n) {
    Backward2 fa = f.backwardA, fb = f.backwardB;
    Parallel.forRange(n, WORK * n, (part, from, to) -> {
      for (int i = from; i < to; i++) {
        float gv = g[gOff + i], av = a[aOff + i], bv = b[bOff + i];
        if (da != null) {
          da[i] = fa.apply(gv, av, bv);
        }
        if (db != null) {
          db[i] = fb.apply(gv, av, bv);
        }
      }
    });
  }
}
