package dev.kiln.runtime.cpu;

import java.util.Arrays;

/**
 * The CPU element-wise and reduction kernels, over raw row-major arrays. One copy of each kernel:
 * eager ops ({@code dev.kiln.runtime.Ops}) and generated code both call these. Backward kernels
 * take gradients out first, then the incoming gradient, then saved forward values (llm.c order),
 * and overwrite ("=") their outputs unless their name says {@code accumulate}.
 */
public final class CpuKernels {
  private CpuKernels() {}

  /** {@code out[r, j] = x[r, j] + bias[j]} for {@code rows x cols}; {@code out} may be {@code x}. */
  public static void addBiasRows(float[] out, int outOff, float[] x, int xOff, float[] bias, int biasOff, int rows, int cols) {
    boolean inPlace = out == x && outOff == xOff; // a compiled Linear's epilogue on its product
    Parallel.forRange(rows, 2L * rows * cols, (part, from, to) -> {
      for (int r = from; r < to; r++) {
        int o = outOff + r * cols;
        if (inPlace) { // two indices, not three (not vectorised either: a row through a scratch measured slower in char-gpt)
          for (int j = 0; j < cols; j++) {
            out[o + j] += bias[biasOff + j];
          }
        } else {
          int xi = xOff + r * cols;
          for (int j = 0; j < cols; j++) {
            out[o + j] = x[xi + j] + bias[biasOff + j];
          }
        }
      }
    });
  }

  /** {@code out[r, j] = max(0, x[r, j] + bias[j])}: the bias-add and ReLU epilogue of a linear layer in one pass. */
  public static void addBiasRelu(float[] out, int outOff, float[] x, int xOff, float[] bias, int biasOff, int rows, int cols) {
    for (int r = 0; r < rows; r++) {
      int o = outOff + r * cols;
      int xi = xOff + r * cols;
      for (int j = 0; j < cols; j++) {
        out[o + j] = Math.max(x[xi + j] + bias[biasOff + j], 0f);
      }
    }
  }

  /**
   * {@code dbias[j] (+)= sum_r dout[r, j]}; nothing when {@code dbias} is null. When accumulating, the sum over the
   * rows is made from zero and then added to {@code dbias} ({@code dbias[j] + (0 + d[0, j] + d[1, j] + ...)}), the
   * order of eager mode, whose linear backward sums a fresh bias gradient that the engine then adds into the
   * parameter's: a layer applied several times in one forward (a shared block) gets eager's bits.
   */
  public static void biasGradient(float[] dbias, int dbOff, float[] dout, int dOff, int rows, int cols, boolean accumulate) {
    if (dbias == null) {
      return;
    }
    // columns shared among the cores: each sum still runs over the rows in order, so the split changes no bits;
    // each row copied to a scratch first, so the adding loop has one index, which C2 in JDK 17 vectorises
    Parallel.forRange(cols, 2L * rows * cols, (part, from, to) -> {
      int len = to - from;
      float[] sum = new float[len], row = new float[len];
      for (int r = 0; r < rows; r++) {
        System.arraycopy(dout, dOff + r * cols + from, row, 0, len);
        for (int j = 0; j < len; j++) {
          sum[j] += row[j];
        }
      }
      addOrCopy(dbias, dbOff + from, sum, len, accumulate);
    });
  }

  /** {@code dst[dstOff + j] = dst[dstOff + j] + sum[j]} when {@code accumulate}, else {@code = sum[j]}. */
  private static void addOrCopy(float[] dst, int dstOff, float[] sum, int len, boolean accumulate) {
    if (!accumulate) {
      System.arraycopy(sum, 0, dst, dstOff, len);
      return;
    }
    for (int j = 0; j < len; j++) {
      dst[dstOff + j] += sum[j];
    }
  }

  /**
   * ReLU backward folded into the bias gradient: {@code d = d * (y > 0)} in place, and
   * {@code dbias[j] (+)= sum_r d[r, j]} in the same pass ({@code y} is the ReLU's output), the sum made from zero
   * and then added as {@link #biasGradient}'s. A null {@code dbias} only masks.
   */
  public static void reluBackwardBiasGradient(
      float[] dbias, int dbOff, float[] d, int dOff, float[] y, int yOff, int rows, int cols, boolean accumulate) {
    if (dbias == null) {
      reluBackward(d, dOff, d, dOff, y, yOff, rows * cols);
      return;
    }
    float[] sum = new float[cols];
    for (int r = 0; r < rows; r++) {
      int di = dOff + r * cols;
      int yi = yOff + r * cols;
      for (int j = 0; j < cols; j++) {
        float v = passIfPositive(d[di + j], y[yi + j]);
        d[di + j] = v;
        sum[j] += v;
      }
    }
    addOrCopy(dbias, dbOff, sum, cols, accumulate);
  }

  /** {@code dst[i] += src[i]} for {@code n} values; nothing when {@code dst} is null. */
  public static void accumulate(float[] dst, int dstOff, float[] src, int srcOff, int n) {
    if (dst == null) {
      return;
    }
    if (dstOff == srcOff) { // one index: C2 in JDK 17 vectorises this loop, not the one with two offsets (0.1 against 0.46 ns a value)
      for (int i = dstOff; i < dstOff + n; i++) {
        dst[i] += src[i];
      }
      return;
    }
    for (int i = 0; i < n; i++) {
      dst[dstOff + i] += src[srcOff + i];
    }
  }

  /**
   * {@code out = a + b} (then {@code max(0, .)} when {@code relu}) over {@code n} values: a compiled
   * model's residual connection, with the ReLU after it in the same pass.
   */
  public static void addForward(float[] out, int outOff, float[] a, int aOff, float[] b, int bOff, int n, boolean relu) {
    Parallel.forRange(n, 2L * n, (part, from, to) -> {
      if (outOff == aOff && aOff == bOff) { // one index, vectorised (see accumulate)
        if (relu) {
          for (int i = outOff + from; i < outOff + to; i++) {
            out[i] = Math.max(a[i] + b[i], 0f);
          }
        } else {
          for (int i = outOff + from; i < outOff + to; i++) {
            out[i] = a[i] + b[i];
          }
        }
      } else if (relu) {
        for (int i = from; i < to; i++) {
          out[outOff + i] = Math.max(a[aOff + i] + b[bOff + i], 0f);
        }
      } else {
        for (int i = from; i < to; i++) {
          out[outOff + i] = a[aOff + i] + b[bOff + i];
        }
      }
    });
  }

  /**
   * The gradient {@link #addForward} sends to each of its inputs: {@code dst (+)= d}, or with its
   * ReLU {@code dst (+)= d * (y > 0)} where {@code y} is the add's output (null: no ReLU). Nothing
   * when {@code dst} is null.
   */
  public static void addBackward(float[] dst, int dstOff, float[] d, int dOff, float[] y, int yOff, int n, boolean accumulate) {
    if (dst == null) {
      return;
    }
    Parallel.forRange(n, 2L * n, (part, from, to) -> {
      if (y == null && accumulate) {
        accumulate(dst, dstOff + from, d, dOff + from, to - from);
      } else if (y == null) {
        System.arraycopy(d, dOff + from, dst, dstOff + from, to - from);
      } else if (accumulate) {
        for (int i = from; i < to; i++) {
          dst[dstOff + i] += passIfPositive(d[dOff + i], y[yOff + i]);
        }
      } else {
        for (int i = from; i < to; i++) {
          dst[dstOff + i] = passIfPositive(d[dOff + i], y[yOff + i]);
        }
      }
    });
  }

  /** {@code out = a * b} over {@code n} values: a compiled model's gate. */
  public static void mulForward(float[] out, int outOff, float[] a, int aOff, float[] b, int bOff, int n) {
    Parallel.forRange(n, 2L * n, (part, from, to) -> {
      if (outOff == aOff && aOff == bOff) { // one index, vectorised (see accumulate)
        for (int i = outOff + from; i < outOff + to; i++) {
          out[i] = a[i] * b[i];
        }
        return;
      }
      for (int i = from; i < to; i++) {
        out[outOff + i] = a[aOff + i] * b[bOff + i];
      }
    });
  }

  /**
   * The gradient {@link #mulForward} sends to one input: {@code dst (+)= d * other}, {@code other}
   * the other input; nothing when {@code dst} is null.
   */
  public static void mulBackward(float[] dst, int dstOff, float[] d, int dOff, float[] other, int oOff, int n, boolean accumulate) {
    if (dst == null) {
      return;
    }
    Parallel.forRange(n, 3L * n, (part, from, to) -> {
      if (dstOff == dOff && dOff == oOff) { // one index, vectorised (see accumulate)
        if (accumulate) {
          for (int i = dstOff + from; i < dstOff + to; i++) {
            dst[i] += d[i] * other[i];
          }
        } else {
          for (int i = dstOff + from; i < dstOff + to; i++) {
            dst[i] = d[i] * other[i];
          }
        }
      } else if (accumulate) {
        for (int i = from; i < to; i++) {
          dst[dstOff + i] += d[dOff + i] * other[oOff + i];
        }
      } else {
        for (int i = from; i < to; i++) {
          dst[dstOff + i] = d[dOff + i] * other[oOff + i];
        }
      }
    });
  }

  /**
   * {@code out = a + b} (then {@code max(0, .)} when {@code relu}) where {@code a} and {@code out}
   * are {@code [outer, size, inner]} and {@code b} is {@code [outer, inner]}, repeated along the
   * middle: a compiled model's add of a broadcast value ({@code [C, 1, 1]} over {@code [C, H, W]}:
   * inner 1; {@code [1, H, W]} over it: outer the batch, size C).
   */
  public static void addRepeatedForward(float[] out, int outOff, float[] a, int aOff, float[] b, int bOff,
      int outer, int size, int inner, boolean relu) {
    if (inner == 1) { // one value over a run of size (a channel's plane): a loop the JIT vectorises
      Parallel.forRange(outer, 2L * outer * size, (part, from, to) -> {
        for (int o = from; o < to; o++) {
          float bv = b[bOff + o];
          int start = o * size;
          for (int r = start; r < start + size; r++) {
            float v = a[aOff + r] + bv;
            out[outOff + r] = relu ? Math.max(v, 0f) : v;
          }
        }
      });
      return;
    }
    // rows of inner values, split over the cores by row (outer is 1 for a position table over the batch)
    Parallel.forRange(outer * size, 2L * outer * size * inner, (part, from, to) -> {
      for (int q = from; q < to; q++) {
        int at = q * inner, bAt = bOff + q / size * inner;
        for (int i = 0; i < inner; i++) {
          float v = a[aOff + at + i] + b[bAt + i];
          out[outOff + at + i] = relu ? Math.max(v, 0f) : v;
        }
      }
    });
  }

  /** {@code out = a * b}, shaped as {@link #addRepeatedForward}'s: a compiled model's channel scale. */
  public static void mulRepeatedForward(float[] out, int outOff, float[] a, int aOff, float[] b, int bOff,
      int outer, int size, int inner) {
    mulRepeatedBackward(out, outOff, a, aOff, b, bOff, outer, size, inner, false);
  }

  /**
   * The gradient {@link #mulRepeatedForward} sends to its big input: {@code dst (+)= d * b}, b
   * repeated along the middle of {@code [outer, size, inner]}; nothing when {@code dst} is null.
   */
  public static void mulRepeatedBackward(float[] dst, int dstOff, float[] d, int dOff, float[] b, int bOff,
      int outer, int size, int inner, boolean accumulate) {
    if (dst == null) {
      return;
    }
    if (inner == 1) { // one factor over a run of size
      Parallel.forRange(outer, 3L * outer * size, (part, from, to) -> {
        for (int o = from; o < to; o++) {
          float bv = b[bOff + o];
          int start = o * size;
          for (int r = start; r < start + size; r++) {
            float v = d[dOff + r] * bv;
            dst[dstOff + r] = accumulate ? dst[dstOff + r] + v : v;
          }
        }
      });
      return;
    }
    Parallel.forRange(outer * size, 3L * outer * size * inner, (part, from, to) -> { // by row, as addRepeatedForward
      for (int q = from; q < to; q++) {
        int at = q * inner, bAt = bOff + q / size * inner;
        for (int i = 0; i < inner; i++) {
          float v = d[dOff + at + i] * b[bAt + i];
          dst[dstOff + at + i] = accumulate ? dst[dstOff + at + i] + v : v;
        }
      }
    });
  }

  /**
   * The gradient an add or a mul of a repeated {@code b} ({@link #addRepeatedForward}) sends to
   * b: {@code dst[o, i] (+)= sum over r of d[o, r, i]}, each term masked by the fused ReLU's output
   * {@code y > 0} (y null: no ReLU) and multiplied by the other input (a mul's; null for an add).
   * Summed in double, as eager broadcasting's gradient is. Nothing when {@code dst} is null.
   */
  public static void sumRepeatedBackward(float[] dst, int dstOff, float[] d, int dOff, float[] y, int yOff,
      float[] other, int oOff, int outer, int size, int inner, boolean accumulate) {
    if (dst == null) {
      return;
    }
    if (inner == 1) {
      Parallel.forRange(outer, 3L * outer * size, (part, from, to) -> {
        for (int o = from; o < to; o++) { // a run's sum: four double partials, then one (the same sum, up to the order of doubles)
          int start = o * size;
          double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
          int r = start;
          for (; r + 3 < start + size; r += 4) {
            s0 += term(d, dOff, y, yOff, other, oOff, r);
            s1 += term(d, dOff, y, yOff, other, oOff, r + 1);
            s2 += term(d, dOff, y, yOff, other, oOff, r + 2);
            s3 += term(d, dOff, y, yOff, other, oOff, r + 3);
          }
          for (; r < start + size; r++) {
            s0 += term(d, dOff, y, yOff, other, oOff, r);
          }
          float sum = (float) (s0 + s1 + s2 + s3);
          dst[dstOff + o] = accumulate ? dst[dstOff + o] + sum : sum;
        }
      });
      return;
    }
    // the outer * inner sums split over the cores by column (outer is 1 for a position table over the
    // batch): each part sums its columns of each of its rows' runs, every column in the order of r
    Parallel.forRange(outer * inner, 3L * outer * size * inner, (part, from, to) -> {
      double[] sums = new double[inner];
      for (int q = from; q < to; ) {
        int o = q / inner, i0 = q % inner, i1 = Math.min(inner, i0 + (to - q));
        Arrays.fill(sums, i0, i1, 0);
        for (int r = 0; r < size; r++) {
          int at = (o * size + r) * inner;
          for (int i = i0; i < i1; i++) {
            float g = y == null ? d[dOff + at + i] : passIfPositive(d[dOff + at + i], y[yOff + at + i]);
            sums[i] += other == null ? g : g * other[oOff + at + i]; // the float product, as eager's
          }
        }
        for (int i = i0; i < i1; i++) {
          int at = dstOff + o * inner + i;
          dst[at] = accumulate ? dst[at] + (float) sums[i] : (float) sums[i];
        }
        q += i1 - i0;
      }
    });
  }

  /**
   * The gradient of an operand whose shape is a suffix of the other's ({@code [S, D]} or {@code [D]} over {@code [N, S,
   * D]}, a bias row over a matrix): {@code dst[j] (+)= sign * sum over r of d[r, j]} over {@code rows x cols}, each term
   * masked by a fused ReLU's output {@code y > 0} (y null: none) and times {@code other} (a mul's other operand; null
   * for an add or a sub). Each column summed in float from 0 in the order of r, as eager mode's broadcast add, sub and
   * mul sum it (and PyTorch's); the finished sum is added to {@code dst} when {@code accumulate} (as a gradient is added
   * to a parameter's), never summed onto it. One kernel for eager mode and compiled models' tensor fields, so both give
   * the same bits. {@code sign} is 1 or -1 (a sub's right operand: the sum negated, the same float as the sum of the
   * negated terms). Nothing when {@code dst} is null.
   */
  public static void sumRowsBackward(float[] dst, int dstOff, float[] d, int dOff, float[] y, int yOff, float[] other,
      int oOff, int rows, int cols, float sign, boolean accumulate) {
    if (dst == null) {
      return;
    }
    // columns shared among the cores (each sum still runs over the rows in order: the split changes no bits); each row
    // through a scratch, so the adding loop has one index, which C2 in JDK 17 vectorises (as biasGradient)
    Parallel.forRange(cols, 2L * rows * cols, (part, from, to) -> {
      int len = to - from;
      float[] sum = new float[len], row = new float[len], by = y != null || other != null ? new float[len] : null;
      for (int r = 0; r < rows; r++) {
        int at = r * cols + from;
        System.arraycopy(d, dOff + at, row, 0, len);
        if (y != null) {
          System.arraycopy(y, yOff + at, by, 0, len);
          for (int j = 0; j < len; j++) {
            row[j] = passIfPositive(row[j], by[j]);
          }
        }
        if (other != null) {
          System.arraycopy(other, oOff + at, by, 0, len);
          for (int j = 0; j < len; j++) {
            row[j] *= by[j]; // the float product, as eager's
          }
        }
        for (int j = 0; j < len; j++) {
          sum[j] += row[j];
        }
      }
      for (int j = 0; j < len; j++) {
        float v = sign * sum[j];
        dst[dstOff + from + j] = accumulate ? dst[dstOff + from + j] + v : v;
      }
    });
  }

  /** One term of {@link #sumRepeatedBackward}: {@code d}, masked by {@code y > 0}, times {@code other}, where given. */
  private static float term(float[] d, int dOff, float[] y, int yOff, float[] other, int oOff, int r) {
    float g = y == null ? d[dOff + r] : passIfPositive(d[dOff + r], y[yOff + r]);
    return other == null ? g : g * other[oOff + r];
  }

  /**
   * {@code out = test(mask) ? value : x} over {@code blocks} blocks of {@code maskSize} values, the
   * mask repeated over every block: a compiled model's {@code x.maskedFill(mask.eq(0), -inf)}, a
   * causal mask {@code [S, S]} over the scores {@code [N, H, S, S]}. The mask is read as stored (a
   * buffer), each of its values tested once per call.
   */
  public static void maskedFillForward(float[] out, int outOff, float[] x, int xOff, int blocks, float[] mask, int maskOff,
      int maskSize, MaskTest test, float against, float value) {
    boolean[] fill = selected(mask, maskOff, maskSize, test, against);
    Parallel.forRange(blocks, 2L * blocks * maskSize, (part, from, to) -> {
      for (int b = from; b < to; b++) {
        int at = b * maskSize;
        for (int i = 0; i < maskSize; i++) {
          out[outOff + at + i] = fill[i] ? value : x[xOff + at + i];
        }
      }
    });
  }

  /**
   * The gradient {@link #maskedFillForward} sends back: {@code dst (+)= test(mask) ? 0 : d} (a
   * filled position's value does not depend on x); nothing when {@code dst} is null.
   */
  public static void maskedFillBackward(float[] dst, int dstOff, float[] d, int dOff, int blocks, float[] mask, int maskOff,
      int maskSize, MaskTest test, float against, boolean accumulate) {
    if (dst == null) {
      return;
    }
    boolean[] fill = selected(mask, maskOff, maskSize, test, against);
    Parallel.forRange(blocks, 2L * blocks * maskSize, (part, from, to) -> {
      for (int b = from; b < to; b++) {
        int at = b * maskSize;
        for (int i = 0; i < maskSize; i++) {
          float g = fill[i] ? 0f : d[dOff + at + i];
          dst[dstOff + at + i] = accumulate ? dst[dstOff + at + i] + g : g;
        }
      }
    });
  }

  /**
   * {@link #maskedFillForward} with a mask of each group's own, a model's input (a padding mask): x is
   * {@code [groups, size, inner]}, the mask {@code [groups, inner]} repeated along the middle, as PyTorch
   * broadcasts it. A mask {@code [N, 1, 1, S]} over scores {@code [N, H, S, S]} is groups N, size H*S,
   * inner S; a mask of x's shape is size 1.
   */
  public static void maskedFillRepeatedForward(float[] out, int outOff, float[] x, int xOff, float[] mask, int maskOff,
      int groups, int size, int inner, MaskTest test, float against, float value) {
    Parallel.forRange(groups, 2L * groups * size * inner, (part, from, to) -> {
      for (int o = from; o < to; o++) {
        boolean[] fill = selected(mask, maskOff + o * inner, inner, test, against);
        int base = o * size * inner;
        for (int r = 0; r < size; r++) {
          int at = base + r * inner;
          for (int i = 0; i < inner; i++) {
            out[outOff + at + i] = fill[i] ? value : x[xOff + at + i];
          }
        }
      }
    });
  }

  /**
   * The gradient {@link #maskedFillRepeatedForward} sends back to x: {@code dst (+)= test(mask) ? 0 : d}; the mask
   * gets none. Nothing when {@code dst} is null.
   */
  public static void maskedFillRepeatedBackward(float[] dst, int dstOff, float[] d, int dOff, float[] mask, int maskOff,
      int groups, int size, int inner, MaskTest test, float against, boolean accumulate) {
    if (dst == null) {
      return;
    }
    Parallel.forRange(groups, 2L * groups * size * inner, (part, from, to) -> {
      for (int o = from; o < to; o++) {
        boolean[] fill = selected(mask, maskOff + o * inner, inner, test, against);
        int base = o * size * inner;
        for (int r = 0; r < size; r++) {
          int at = base + r * inner;
          for (int i = 0; i < inner; i++) {
            float g = fill[i] ? 0f : d[dOff + at + i];
            dst[dstOff + at + i] = accumulate ? dst[dstOff + at + i] + g : g;
          }
        }
      }
    });
  }

  private static boolean[] selected(float[] mask, int maskOff, int maskSize, MaskTest test, float against) {
    boolean[] fill = new boolean[maskSize];
    for (int i = 0; i < maskSize; i++) {
      fill[i] = test.selects(mask[maskOff + i], against);
    }
    return fill;
  }

  /**
   * One input of a concatenation: {@code blocks} blocks of {@code srcBlock} values of {@code src},
   * block {@code b} copied to {@code out} at {@code b * outBlock + at} (a sample's part of the
   * concatenated dimension and everything after it is one block).
   */
  public static void catForward(float[] out, int outOff, int outBlock, float[] src, int srcOff, int srcBlock, int at, int blocks) {
    for (int b = 0; b < blocks; b++) {
      System.arraycopy(src, srcOff + b * srcBlock, out, outOff + b * outBlock + at, srcBlock);
    }
  }

  /**
   * The gradient {@link #catForward} sends back to that input: its blocks of {@code d} written
   * into (or added to, {@code accumulate}) {@code dst}; nothing when {@code dst} is null.
   */
  public static void catBackward(float[] dst, int dstOff, int srcBlock, float[] d, int dOff, int outBlock, int at, int blocks,
      boolean accumulate) {
    if (dst == null) {
      return;
    }
    for (int b = 0; b < blocks; b++) {
      int from = dOff + b * outBlock + at;
      int to = dstOff + b * srcBlock;
      if (accumulate) {
        for (int i = 0; i < srcBlock; i++) {
          dst[to + i] += d[from + i];
        }
      } else {
        System.arraycopy(d, from, dst, to, srcBlock);
      }
    }
  }

  /**
   * {@code out (+)= factor * x} over {@code n} values: a compiled model's constant scale
   * ({@code x.mul(0.125)}, {@code x.div(8)}) forward, and backward the gradient it sends back,
   * written (or added, {@code accumulate}); nothing when {@code out} is null. One float product per
   * value, as the eager op computes it.
   */
  public static void scale(float[] out, int outOff, float[] x, int xOff, int n, float factor, boolean accumulate) {
    if (out == null) {
      return;
    }
    Parallel.forRange(n, 2L * n, (part, from, to) -> {
      if (outOff == xOff) { // one index, vectorised (see accumulate)
        if (accumulate) {
          for (int i = outOff + from; i < outOff + to; i++) {
            out[i] += factor * x[i];
          }
        } else {
          for (int i = outOff + from; i < outOff + to; i++) {
            out[i] = factor * x[i];
          }
        }
      } else if (accumulate) {
        for (int i = from; i < to; i++) {
          out[outOff + i] += factor * x[xOff + i];
        }
      } else {
        for (int i = from; i < to; i++) {
          out[outOff + i] = factor * x[xOff + i];
        }
      }
    });
  }

  /**
   * {@code x} of {@code shape} (row-major, the batch included) with its dimensions reordered into
   * {@code out}, as PyTorch's {@code x.permute(order)} makes them contiguous: dimension {@code i} of
   * {@code out} is dimension {@code order[i]} of {@code x}; written, or added ({@code accumulate});
   * nothing when {@code out} is null. A transpose is the order with two dimensions swapped, and the
   * gradient of a permutation is the gradient permuted by the inverse order (a transpose's is itself),
   * over the output's shape. Rows of the output whose last dimension is contiguous in {@code x} are
   * copied whole ({@code [N, S, H, Dh] -> [N, H, S, Dh]} moves runs of Dh values).
   */
  public static void permute(float[] out, int outOff, float[] x, int xOff, int[] shape, int[] order, boolean accumulate) {
    if (out == null) {
      return;
    }
    int rank = shape.length;
    int[] outShape = new int[rank];
    int[] stride = new int[rank]; // x's stride along each dimension of out
    long total = 1;
    for (int i = 0; i < rank; i++) {
      outShape[i] = shape[order[i]];
      int s = 1;
      for (int d = order[i] + 1; d < rank; d++) {
        s *= shape[d];
      }
      stride[i] = s;
      total *= shape[i];
    }
    int last = rank == 0 ? 1 : outShape[rank - 1];
    int lastStride = rank == 0 ? 1 : stride[rank - 1];
    if (total == 0) {
      return;
    }
    int rows = (int) (total / last);
    Parallel.forRange(rows, 2L * total, (part, from, to) -> {
      // the row's index along each leading dimension of out, counted on from the part's first row (one division
      // per dimension per part, not per row: rows of 16 values moved at 2-3x the speed)
      int[] at = new int[Math.max(0, rank - 1)];
      int src = xOff;
      int rest = from;
      for (int d = rank - 2; d >= 0; d--) {
        at[d] = rest % outShape[d];
        src += at[d] * stride[d];
        rest /= outShape[d];
      }
      for (int row = from; row < to; row++) {
        int dst = outOff + row * last;
        if (accumulate) {
          for (int j = 0; j < last; j++) {
            out[dst + j] += x[src + j * lastStride];
          }
        } else if (lastStride == 1) {
          System.arraycopy(x, src, out, dst, last);
        } else {
          for (int j = 0; j < last; j++) {
            out[dst + j] = x[src + j * lastStride];
          }
        }
        for (int d = rank - 2; d >= 0; d--) { // on to the next row's index
          src += stride[d];
          if (++at[d] < outShape[d]) {
            break;
          }
          src -= stride[d] * outShape[d];
          at[d] = 0;
        }
      }
    });
  }

  /** {@code out = max(0, x)}; {@code out} may be {@code x}. ({@code Math.max} vectorises; a ternary branches.) */
  public static void reluForward(float[] out, int outOff, float[] x, int xOff, int n) {
    Parallel.forRange(n, n, (part, from, to) -> {
      if (outOff == xOff) { // one index for both arrays: see reluBackward
        for (int i = outOff + from; i < outOff + to; i++) {
          out[i] = Math.max(x[i], 0f);
        }
        return;
      }
      for (int i = from; i < to; i++) {
        out[outOff + i] = Math.max(x[xOff + i], 0f);
      }
    });
  }

  /** {@code dx = dout * (y > 0)} where {@code y} is the ReLU's output; {@code dx} may be {@code dout}. */
  public static void reluBackward(float[] dx, int dxOff, float[] dout, int dOff, float[] y, int yOff, int n) {
    Parallel.forRange(n, n, (part, from, to) -> {
      if (dxOff == dOff && dOff == yOff) {
        // The usual case (fresh tensors start at 0). Indexed by one variable the JIT vectorises
        // the loop; with three runtime offsets it ran as scalar code (1.5 against 0.3 ns a value).
        for (int i = dxOff + from; i < dxOff + to; i++) {
          dx[i] = passIfPositive(dout[i], y[i]);
        }
        return;
      }
      for (int i = from; i < to; i++) {
        dx[dxOff + i] = passIfPositive(dout[dOff + i], y[yOff + i]);
      }
    });
  }

  /**
   * {@code y > 0 ? g : 0} for a ReLU's output {@code y}, in plain float
   * arithmetic so that the loops using it vectorise: {@code y * 2^149} is at least 1 for every
   * positive float (the smallest is {@code 2^-149}) and 0 for 0, and clamping it to [0, 1] gives
   * an exact 0/1 factor. A comparison compiles to a branch (mispredicted on half the elements of
   * a ReLU: 7.3 ms over 1.6M values) and a test on the raw bits to scalar code; this form
   * measured 4x faster than the bits. Unlike a select, an infinite {@code g} masked by 0 gives
   * NaN, and a NaN {@code y} passes NaN on: the run has diverged either way.
   */
  static float passIfPositive(float g, float y) {
    return g * positive(y);
  }

  /** {@code z > 0 ? 1 : 0} (NaN for NaN) in float arithmetic, as {@link #passIfPositive} explains. */
  static float positive(float z) {
    return Math.min(Math.max(z * 0x1p100f * 0x1p49f, 0f), 1f);
  }

  /**
   * Cross-entropy of logits against class indices: each row's softmax, maximum and {@code log(sum(exp(x - max)))} by
   * {@link ActivationKernels#softmaxWithLogSum} (the vectorised float exp, 1 ulp, of the differences from the row's
   * maximum), then the loss {@code log(sum) + (max - logits[target])} in double. Writes the softmax probabilities into {@code
   * probs} (kept for backward) and each row's loss into {@code losses}. Within 1e-6 relative of the exact loss (PyTorch
   * 1.13's float kernel: about the same; CrossEntropyKernelTest).
   *
   * @throws IllegalArgumentException naming the row when a target is not a class index in range
   */
  public static void crossEntropyForward(
      float[] losses, float[] probs, float[] logits, int lOff, float[] targets, int tOff, int rows, int classes) {
    requireClassIndices(targets, tOff, rows, classes);
    double[] logSum = new double[rows];
    float[] max = new float[rows];
    ActivationKernels.softmaxWithLogSum(probs, 0, logits, lOff, rows, classes, logSum, max);
    for (int r = 0; r < rows; r++) { // the difference exact in double: a small loss keeps its relative accuracy
      losses[r] = (float) (logSum[r] + ((double) max[r] - logits[lOff + r * classes + (int) targets[tOff + r]]));
    }
  }

  /**
   * Checks cross-entropy targets: each a whole number in {@code 0..classes-1} (class indices are
   * stored as floats). Run before any kernel reads {@code logits[r, target[r]]}, on either device.
   *
   * @throws IllegalArgumentException naming the first row whose target is not a class index in range
   */
  public static void requireClassIndices(float[] targets, int tOff, int rows, int classes) {
    for (int r = 0; r < rows; r++) {
      float t = targets[tOff + r];
      int target = (int) t;
      if (target != t || target < 0 || target >= classes) {
        throw new IllegalArgumentException(
            "cross_entropy: target " + (target == t ? Integer.toString(target) : Float.toString(t)) + " in row " + r
                + " is not a class index in 0.." + (classes - 1));
      }
    }
  }

  /**
   * Gradient of cross-entropy with respect to the logits: {@code (softmax - onehot(target)) * scale[r]},
   * where {@code scale[r]} is the incoming gradient of row r's loss (already divided by N for a mean).
   */
  public static void crossEntropyBackward(
      float[] dlogits, float[] rowScale, boolean scaleIsUniform, float[] probs, float[] targets, int tOff, int rows, int classes) {
    Parallel.forRange(rows, 2L * rows * classes, (part, from, to) -> {
      for (int r = from; r < to; r++) {
        float s = scaleIsUniform ? rowScale[0] : rowScale[r];
        int base = r * classes;
        int target = (int) targets[tOff + r];
        for (int j = 0; j < classes; j++) {
          dlogits[base + j] = probs[base + j] * s;
        }
        dlogits[base + target] -= s;
      }
    });
  }
  /**
   * {@code out[i] = weight[ids[i]]}: the rows of {@code weight [num, dim]} that {@code count} ids pick
   * (label values, stored as floats), one after the other, as {@code nn.Embedding}'s forward; a padding
   * row is picked as it is (zero unless written). {@code idsShape} names the ids in the error.
   *
   * @throws IllegalArgumentException naming the first id out of range, with the eager op's message
   */
  public static void embeddingForward(float[] out, int outOff, float[] ids, int idsOff, int count, float[] weight, int wOff,
      int num, int dim, int[] idsShape) {
    for (int i = 0; i < count; i++) {
      int id = Math.round(ids[idsOff + i]);
      if (id < 0 || id >= num) {
        throw new IllegalArgumentException(idOutOfRange("embedding", id, i, idsShape, num));
      }
      System.arraycopy(weight, wOff + id * dim, out, outOff + i * dim, dim);
    }
  }

  /**
   * Bags of {@code weight [num, dim]}'s rows reduced into {@code out [bags, dim]} ({@code reduce} 0 sum, 1 mean, 2
   * max), as PyTorch's {@code F.embedding_bag}: bag {@code b} holds the ids from {@code starts[b]} to {@code
   * starts[b + 1]}, or, {@code starts} null, the {@code length} ids from {@code b * length} (the rows of {@code [B,
   * length]} ids). Ids equal to {@code paddingIdx} are left out of their bag and its count; an empty bag gives zeros.
   * {@code scale} (null, or one per id) scales each row of a sum; {@code argmax} (max only: {@code bags * dim}) gets
   * the id position each maximum came from, -1 for an empty bag. The kernel {@code Ops.embeddingBag} runs on the CPU,
   * and a compiled model's bag of its input ids.
   *
   * @param idsShape the ids' shape, for the message of an id out of range
   * @throws IllegalArgumentException naming an id out of range, as {@code embedding_bag}'s
   */
  public static void embeddingBagForward(float[] out, int outOff, float[] ids, int idsOff, int[] starts, int bags, int length,
      float[] weight, int wOff, int num, int dim, int reduce, int paddingIdx, float[] scale, int[] argmax, int[] idsShape) {
    for (int b = 0; b < bags; b++) {
      int o = outOff + b * dim, count = 0;
      Arrays.fill(out, o, o + dim, 0f);
      if (argmax != null) {
        Arrays.fill(argmax, b * dim, (b + 1) * dim, -1);
      }
      int from = starts == null ? b * length : starts[b], to = starts == null ? (b + 1) * length : starts[b + 1];
      for (int e = from; e < to; e++) {
        int id = Math.round(ids[idsOff + e]);
        if (id < 0 || id >= num) {
          throw new IllegalArgumentException(idOutOfRange("embedding_bag", id, e, idsShape, num));
        }
        if (id == paddingIdx) {
          continue;
        }
        int row = wOff + id * dim;
        if (reduce == 2) {
          for (int j = 0; j < dim; j++) {
            if (count == 0 || weight[row + j] > out[o + j]) {
              out[o + j] = weight[row + j];
              argmax[b * dim + j] = e;
            }
          }
        } else {
          float sc = scale == null ? 1f : scale[e];
          for (int j = 0; j < dim; j++) {
            out[o + j] += sc * weight[row + j];
          }
        }
        count++;
      }
      if (reduce == 1 && count > 0) {
        for (int j = 0; j < dim; j++) {
          out[o + j] /= count;
        }
      }
    }
  }

  /**
   * The weight's gradient of {@link #embeddingBagForward}, added into {@code dweight}: each bag's gradient into the
   * rows of its ids (divided by the bag's count for a mean, scaled by {@code scale} for a weighted sum), or for a
   * max into the row each maximum came from ({@code argmax}); none into the padding row.
   */
  public static void embeddingBagBackward(float[] dweight, int dwOff, float[] g, int gOff, float[] ids, int idsOff, int[] starts,
      int bags, int length, int dim, int reduce, int paddingIdx, float[] scale, int[] argmax) {
    for (int b = 0; b < bags; b++) {
      int o = gOff + b * dim;
      if (reduce == 2) {
        for (int j = 0; j < dim; j++) {
          int e = argmax[b * dim + j];
          if (e >= 0) {
            dweight[dwOff + Math.round(ids[idsOff + e]) * dim + j] += g[o + j];
          }
        }
        continue;
      }
      int from = starts == null ? b * length : starts[b], to = starts == null ? (b + 1) * length : starts[b + 1];
      int count = 0;
      for (int e = from; e < to; e++) {
        count += Math.round(ids[idsOff + e]) == paddingIdx ? 0 : 1;
      }
      for (int e = from; e < to; e++) {
        int id = Math.round(ids[idsOff + e]);
        if (id == paddingIdx) {
          continue;
        }
        int row = dwOff + id * dim;
        float sc = reduce == 1 ? 1f / count : scale == null ? 1f : scale[e];
        for (int j = 0; j < dim; j++) {
          dweight[row + j] += sc * g[o + j];
        }
      }
    }
  }

  /** The message for an embedding's id out of range ({@code op} "embedding" or "embedding_bag"). */
  public static String idOutOfRange(String op, int id, int at, int[] idsShape, int num) {
    return op + ": index " + id + " at flat position " + at + " of " + shapeString(idsShape) + " is out of range for " + num
        + " embeddings (0.." + (num - 1) + ")";
  }

  /**
   * {@code dweight[ids[i]] += d[i]}: each position's gradient added into its id's row (the embedding's
   * backward; the ids need none), except the row {@code paddingIdx} (-1 for none), which gets none.
   */
  public static void embeddingBackward(float[] dweight, int dwOff, float[] d, int dOff, float[] ids, int idsOff, int count, int dim,
      int paddingIdx) {
    for (int i = 0; i < count; i++) {
      int id = Math.round(ids[idsOff + i]);
      if (id == paddingIdx) {
        continue;
      }
      int row = dwOff + id * dim, at = dOff + i * dim;
      for (int j = 0; j < dim; j++) {
        dweight[row + j] += d[at + j];
      }
    }
  }

  /** {@code [2, 4]}, as {@code Shapes.toString} writes a shape. */
  private static String shapeString(int[] shape) {
    StringBuilder b = new StringBuilder("[");
    for (int i = 0; i < shape.length; i++) {
      b.append(i > 0 ? ", " : "").append(shape[i]);
    }
    return b.append(']').toString();
  }
}
