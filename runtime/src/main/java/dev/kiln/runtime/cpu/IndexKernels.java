package dev.kiln.runtime.cpu;

/**
 * Index maps and line kernels on the CPU: constant padding and flipping as one map from output to
 * source coordinates ({@link #indexMap}), and the running sum, log-sum-exp and p-norm along one
 * dimension of a tensor seen as {@code [outer, size, inner]}, each way. Sums are taken in double
 * and rounded once, in an order fixed by the shape (PyTorch's CPU cumsum accumulates in double
 * too). The twins on CUDA are {@code cuda.IndexKernels}, with the same formulas.
 */
public final class IndexKernels {
  private IndexKernels() {}

  /**
   * {@code out} of {@code outShape} (row-major, from {@code outOff}) read from {@code x} of
   * {@code srcShape}: along each dimension {@code d} the output coordinate {@code c} reads the source
   * coordinate {@code (flip[d] ? -c : c) + offset[d]}, and an output whose source falls outside
   * the source along any dimension is {@code fill}. Constant padding is the offset {@code -before},
   * a flip the offset {@code size - 1} with {@code flip} set; the map's inverse (the backward)
   * is {@link #inverseOffsets}' with the same flips.
   */
  public static void indexMap(float[] out, int outOff, float[] x, int xOff, int[] outShape, int[] srcShape, boolean[] flip,
      long[] offset, float fill) {
    int rank = outShape.length;
    int n = 1;
    for (int s : outShape) {
      n *= s;
    }
    if (n == 0) {
      return;
    }
    if (rank == 0) {
      out[outOff] = x[xOff];
      return;
    }
    long[] srcStride = new long[rank];
    for (int d = rank - 1, s = 1; d >= 0; d--) {
      srcStride[d] = s;
      s *= srcShape[d];
    }
    int last = rank - 1, width = outShape[last], srcWidth = srcShape[last];
    int[] pos = new int[rank]; // the coordinates of the row's first output, the last one 0
    for (int row = 0, at = outOff; row < n / width; row++, at += width) {
      long base = 0;
      boolean inside = true;
      for (int d = 0; d < last && inside; d++) {
        long s = (flip[d] ? -(long) pos[d] : pos[d]) + offset[d];
        inside = s >= 0 && s < srcShape[d];
        base += s * srcStride[d];
      }
      for (int c = 0; c < width; c++) {
        long s = (flip[last] ? -(long) c : c) + offset[last];
        out[at + c] = inside && s >= 0 && s < srcWidth ? x[xOff + (int) (base + s)] : fill;
      }
      for (int d = last - 1; d >= 0 && ++pos[d] == outShape[d]; d--) { // the next row
        pos[d] = 0;
      }
    }
  }

  /**
   * {@code x} of {@code shape} (row-major) rotated by {@code shift} places along each dimension (each in {@code [0, size)}),
   * {@code Tensor.roll}'s copy: {@code out[c] = x[c - shift]} (modulo each size). With {@code backward} the gradient rotated
   * back, {@code out[c - shift] = 0f + x[c]}, as eager's gather backward adds each into zeros (a -0 becomes 0). {@code out} is
   * written.
   */
  public static void roll(float[] out, int outOff, float[] x, int xOff, int[] shape, int[] shift, boolean backward) {
    int rank = shape.length, n = 1;
    for (int s : shape) {
      n *= s;
    }
    int[] stride = new int[rank], pos = new int[rank];
    for (int d = rank - 1, s = 1; d >= 0; d--) {
      stride[d] = s;
      s *= shape[d];
    }
    for (int i = 0; i < n; i++) {
      int from = 0;
      for (int d = 0; d < rank; d++) {
        from += Math.floorMod(pos[d] - shift[d], shape[d]) * stride[d];
      }
      if (backward) {
        out[outOff + from] = 0f + x[xOff + i];
      } else {
        out[outOff + i] = x[xOff + from];
      }
      for (int d = rank - 1; d >= 0 && ++pos[d] == shape[d]; d--) {
        pos[d] = 0;
      }
    }
  }

  /**
   * The offsets of {@link #indexMap}'s inverse: where {@code s = sign c + offset} maps an output
   * coordinate to a source one ({@code sign} -1 for a flip), {@code c = sign s - sign offset}.
   */
  public static long[] inverseOffsets(boolean[] flip, long[] offset) {
    long[] inverse = new long[offset.length];
    for (int d = 0; d < offset.length; d++) {
      inverse[d] = flip[d] ? offset[d] : -offset[d];
    }
    return inverse;
  }

  /**
   * The running sums of {@code x} along its middle dimension, in double, each rounded once:
   * {@code out[o, j, i] = x[o, 0, i] + ... + x[o, j, i]}, or from the end ({@code reverse}: {@code
   * x[o, j, i] + ... + x[o, size - 1, i]}, the forward's gradient).
   */
  public static void cumsum(float[] out, int outOff, float[] x, int xOff, int outer, int size, int inner, boolean reverse) {
    double[] acc = new double[inner];
    for (int o = 0; o < outer; o++) {
      java.util.Arrays.fill(acc, 0);
      int slab = o * size * inner;
      for (int step = 0; step < size; step++) {
        int at = slab + (reverse ? size - 1 - step : step) * inner;
        for (int i = 0; i < inner; i++) {
          acc[i] += x[xOff + at + i];
          out[outOff + at + i] = (float) acc[i];
        }
      }
    }
  }

  /**
   * {@code out[o, i] = log(sum_j exp(x[o, j, i] - m)) + m} with {@code m} the line's maximum (0 in
   * its place when infinite, as PyTorch's), the sum in double: no overflow for large values, and
   * {@code -inf} for a line of {@code -inf}; NaN for a line holding one.
   */
  public static void logsumexpForward(float[] out, int outOff, float[] x, int xOff, int outer, int size, int inner) {
    for (int o = 0; o < outer; o++) {
      for (int i = 0; i < inner; i++) {
        int base = xOff + o * size * inner + i;
        float m = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < size; j++) {
          float v = x[base + j * inner];
          m = v > m || v != v ? v : m;
          if (v != v) {
            break;
          }
        }
        double shift = Float.isInfinite(m) ? 0 : m;
        double sum = 0;
        for (int j = 0; j < size; j++) {
          sum += Math.exp(x[base + j * inner] - shift);
        }
        out[outOff + o * inner + i] = (float) (Math.log(sum) + shift);
      }
    }
  }

  /** {@code dx[o, j, i] = g[o, i] exp(x[o, j, i] - y[o, i])}: log-sum-exp's gradient (the softmax times g), in double. */
  public static void logsumexpBackward(float[] dx, int dxOff, float[] g, int gOff, float[] x, int xOff, float[] y, int yOff,
      int outer, int size, int inner) {
    for (int o = 0; o < outer; o++) {
      for (int j = 0; j < size; j++) {
        for (int i = 0; i < inner; i++) {
          int at = (o * size + j) * inner + i, line = o * inner + i;
          dx[dxOff + at] = (float) (g[gOff + line] * Math.exp((double) x[xOff + at] - y[yOff + line]));
        }
      }
    }
  }

  /** {@code out[o, i] = prod_j x[o, j, i]}, in double in index order, rounded once (1 for an empty line). */
  public static void prodForward(float[] out, int outOff, float[] x, int xOff, int outer, int size, int inner) {
    for (int o = 0; o < outer; o++) {
      for (int i = 0; i < inner; i++) {
        int base = xOff + o * size * inner + i;
        double p = 1;
        for (int j = 0; j < size; j++) {
          p *= x[base + j * inner];
        }
        out[outOff + o * inner + i] = (float) p;
      }
    }
  }

  /**
   * The product's gradient: {@code dx[o, j, i] = g[o, i]} times the product of the line's other
   * values, in double: {@code g p / x} with {@code p} the line's product where it holds no zero; at a
   * line's only zero the product of its nonzero values, 0 elsewhere on that line and everywhere on a
   * line of two zeros or more (PyTorch's rule, which does not divide by 0).
   */
  public static void prodBackward(float[] dx, int dxOff, float[] g, int gOff, float[] x, int xOff, int outer, int size, int inner) {
    for (int o = 0; o < outer; o++) {
      for (int i = 0; i < inner; i++) {
        int base = o * size * inner + i;
        double p = 1;
        int zeros = 0;
        for (int j = 0; j < size; j++) {
          double v = x[xOff + base + j * inner];
          if (v == 0) {
            zeros++;
          } else {
            p *= v;
          }
        }
        double gv = g[gOff + o * inner + i];
        for (int j = 0; j < size; j++) {
          int at = base + j * inner;
          double v = x[xOff + at];
          dx[dxOff + at] = (float) (zeros == 0 ? gv * p / v : zeros == 1 && v == 0 ? gv * p : 0);
        }
      }
    }
  }

  /** {@code out[o, i] = (sum_j |x[o, j, i]|^p)^(1/p)}, in double (p = 1 and 2 without a power). */
  public static void normForward(float[] out, int outOff, float[] x, int xOff, int outer, int size, int inner, double p) {
    for (int o = 0; o < outer; o++) {
      for (int i = 0; i < inner; i++) {
        int base = xOff + o * size * inner + i;
        double sum = 0;
        for (int j = 0; j < size; j++) {
          double v = Math.abs(x[base + j * inner]);
          sum += p == 2 ? v * v : p == 1 ? v : Math.pow(v, p);
        }
        out[outOff + o * inner + i] = (float) (p == 2 ? Math.sqrt(sum) : p == 1 ? sum : Math.pow(sum, 1 / p));
      }
    }
  }

  /**
   * The p-norm's gradient, PyTorch's: {@code dx = g sign(x) (|x| / y)^(p - 1)} ({@code g x / y} for
   * p = 2, {@code g sign(x)} for p = 1), 0 where the norm {@code y} is 0 and where x is 0.
   */
  public static void normBackward(float[] dx, int dxOff, float[] g, int gOff, float[] x, int xOff, float[] y, int yOff,
      int outer, int size, int inner, double p) {
    for (int o = 0; o < outer; o++) {
      for (int j = 0; j < size; j++) {
        for (int i = 0; i < inner; i++) {
          int at = (o * size + j) * inner + i, line = o * inner + i;
          double v = x[xOff + at], norm = y[yOff + line];
          dx[dxOff + at] = (float) normGradient(g[gOff + line], v, norm, p);
        }
      }
    }
  }

  private static double normGradient(double g, double v, double norm, double p) {
    if (v == 0 || norm == 0) {
      return 0;
    }
    if (p == 2) {
      return g * v / norm;
    }
    if (p == 1) {
      return g * Math.signum(v);
    }
    return g * Math.signum(v) * Math.pow(Math.abs(v) / norm, p - 1);
  }

  /**
   * The index of each line's maximum, as a float ({@code out[o, i] = argmax_j x[o, j, i]}), over {@code x} seen as {@code
   * [outer, size, inner]}: {@code Tensor.argmax}'s rule (the first on ties, a NaN above any number), for a compiled
   * forward whose ids an Embedding looks up ({@code emb.apply(logits.argmax(-1))}).
   */
  public static void argmaxAlong(float[] out, int outOff, float[] x, int xOff, int outer, int size, int inner) {
    extremumAlong(out, outOff, x, xOff, outer, size, inner, true, false);
  }

  /**
   * The index of each line's minimum, as {@link #argmaxAlong}: {@code Tensor.argmin}'s rule (the first on ties, a NaN
   * before any number), for a compiled forward whose ids an Embedding looks up (a VQ-VAE's nearest code, {@code
   * codebook.apply(dist.argmin(-1))}).
   */
  public static void argminAlong(float[] out, int outOff, float[] x, int xOff, int outer, int size, int inner) {
    extremumAlong(out, outOff, x, xOff, outer, size, inner, false, false);
  }

  /**
   * Each line's maximum ({@code max}) or minimum, {@code Tensor.amax(dim)}'s values (a NaN when the line has one), for a
   * compiled forward: the value at {@link #argmaxAlong}'s index, as eager's {@code extremaAlong} picks it.
   */
  public static void extremeAlong(float[] out, int outOff, float[] x, int xOff, int outer, int size, int inner, boolean max) {
    extremumAlong(out, outOff, x, xOff, outer, size, inner, max, true);
  }

  /**
   * {@code Tensor.amax}'s (amin's) backward along one dimension, eager's tape ops in one pass: each line's gradient {@code g}
   * divided by how many of its values equal the extreme {@code y} (NaN ties NaN), times 1 at those values and 0 elsewhere
   * ({@code dx = at * (g / sum(at))}, so a share of 0 keeps its sign as eager's product does). {@code dx} is written.
   */
  public static void extremeBackward(float[] dx, int dxOff, float[] g, int gOff, float[] x, int xOff, float[] y, int yOff, int outer,
      int size, int inner) {
    for (int o = 0; o < outer; o++) {
      for (int i = 0; i < inner; i++) {
        int base = o * size * inner + i;
        float v = y[yOff + o * inner + i];
        float ties = 0f;
        for (int j = 0; j < size; j++) {
          float u = x[xOff + base + j * inner];
          ties += u == v || u != u && v != v ? 1f : 0f;
        }
        float share = g[gOff + o * inner + i] / ties;
        for (int j = 0; j < size; j++) {
          float u = x[xOff + base + j * inner];
          dx[dxOff + base + j * inner] = (u == v || u != u && v != v ? 1f : 0f) * share;
        }
      }
    }
  }

  /**
   * The maximum ({@code max}) or minimum over several dimensions at once of {@code x} of {@code shape} (row-major), those
   * {@code reduced}: {@code Tensor.amax(dims)}'s values, each output the first extreme in row-major order (a NaN when its
   * values hold one), as eager's reductions one dimension after another from the last pick it. {@code out} holds the
   * outputs in row-major order of the dimensions kept.
   */
  public static void extremeOver(float[] out, int outOff, float[] x, int xOff, int[] shape, boolean[] reduced, boolean max) {
    int[] to = outputPlaces(shape, reduced);
    int outputs = outputCount(shape, reduced);
    boolean[] seen = new boolean[outputs];
    for (int i = 0; i < to.length; i++) {
      int o = to[i];
      float v = x[xOff + i];
      if (!seen[o]) {
        seen[o] = true;
        out[outOff + o] = v;
        continue;
      }
      float best = out[outOff + o];
      if ((max ? v > best : v < best) || (Float.isNaN(v) && !Float.isNaN(best))) {
        out[outOff + o] = v;
      }
    }
  }

  /**
   * {@link #extremeOver}'s backward, eager's tape ops ({@code dx = at * (g / sum(at))} over the dimensions together): each
   * output's gradient divided by how many of its values equal the extreme {@code y} (NaN ties NaN), times 1 at those values
   * and 0 elsewhere. {@code dx} is written.
   */
  public static void extremeOverBackward(float[] dx, int dxOff, float[] g, int gOff, float[] x, int xOff, float[] y, int yOff,
      int[] shape, boolean[] reduced) {
    int[] to = outputPlaces(shape, reduced);
    float[] ties = new float[outputCount(shape, reduced)];
    for (int i = 0; i < to.length; i++) {
      float u = x[xOff + i], v = y[yOff + to[i]];
      ties[to[i]] += u == v || u != u && v != v ? 1f : 0f;
    }
    for (int i = 0; i < to.length; i++) {
      float u = x[xOff + i], v = y[yOff + to[i]];
      dx[dxOff + i] = (u == v || u != u && v != v ? 1f : 0f) * (g[gOff + to[i]] / ties[to[i]]);
    }
  }

  /** How many outputs a reduction of {@code shape} over the dimensions {@code reduced} makes. */
  private static int outputCount(int[] shape, boolean[] reduced) {
    int count = 1;
    for (int d = 0; d < shape.length; d++) {
      count *= reduced[d] ? 1 : shape[d];
    }
    return count;
  }

  /** For each value of {@code shape} (row-major), the output a reduction over the dimensions {@code reduced} puts it in. */
  private static int[] outputPlaces(int[] shape, boolean[] reduced) {
    int n = 1;
    for (int s : shape) {
      n *= s;
    }
    int[] stride = new int[shape.length];
    for (int d = shape.length - 1, s = 1; d >= 0; d--) {
      stride[d] = reduced[d] ? 0 : s;
      s *= reduced[d] ? 1 : shape[d];
    }
    int[] to = new int[n];
    int[] pos = new int[shape.length];
    for (int i = 0; i < n; i++) {
      int o = 0;
      for (int d = 0; d < shape.length; d++) {
        o += pos[d] * stride[d];
      }
      to[i] = o;
      for (int d = shape.length - 1; d >= 0 && ++pos[d] == shape[d]; d--) {
        pos[d] = 0;
      }
    }
    return to;
  }

  private static void extremumAlong(float[] out, int outOff, float[] x, int xOff, int outer, int size, int inner, boolean max,
      boolean values) {
    for (int o = 0; o < outer; o++) {
      for (int i = 0; i < inner; i++) {
        int base = xOff + o * size * inner + i;
        int best = 0;
        float bestValue = x[base];
        for (int j = 1; j < size; j++) {
          float v = x[base + j * inner];
          if ((max ? v > bestValue : v < bestValue) || (Float.isNaN(v) && !Float.isNaN(bestValue))) {
            best = j;
            bestValue = v;
          }
        }
        out[outOff + o * inner + i] = values ? bestValue : best;
      }
    }
  }
}
