package dev.kiln.runtime.cpu;

/**
 * Element-wise math on the CPU: exp, log, sin, cos, sqrt, abs, negation and a power with a constant
 * exponent, each way; with sums and spreads along a dimension, the transpose and the row copies
 * of slicing and concatenation. Values are computed in double and rounded once (exp, log and pow through
 * {@link Math}, whose exp and log are JIT intrinsics); the larger ones run over both cores.
 * Gradients follow PyTorch's formulas, including at the edges: {@code abs}'s is 0 at 0, {@code
 * sqrt}'s infinite at 0, {@code pow}'s 0 for the exponent 0.
 */
public final class MathKernels {
  /** Work weight of a transcendental element for {@link Parallel#forRange}. */
  private static final long TRANSCENDENTAL = 16;

  private MathKernels() {}

  /** {@code out = exp(x)}. */
  public static void expForward(float[] out, int outOff, float[] x, int xOff, int n) {
    Parallel.forRange(n, TRANSCENDENTAL * n, (part, from, to) -> {
      for (int i = from; i < to; i++) {
        out[outOff + i] = (float) Math.exp(x[xOff + i]);
      }
    });
  }

  /** {@code dx = g * y}: exp's gradient, from its output {@code y}. */
  public static void expBackward(float[] dx, int dxOff, float[] g, int gOff, float[] y, int yOff, int n) {
    for (int i = 0; i < n; i++) {
      dx[dxOff + i] = g[gOff + i] * y[yOff + i];
    }
  }

  /** {@code out = sin(x)}, in double, rounded once. */
  public static void sinForward(float[] out, int outOff, float[] x, int xOff, int n) {
    Parallel.forRange(n, TRANSCENDENTAL * n, (part, from, to) -> {
      for (int i = from; i < to; i++) {
        out[outOff + i] = (float) Math.sin(x[xOff + i]);
      }
    });
  }

  /** {@code dx = g cos(x)}: sin's gradient, from the input. */
  public static void sinBackward(float[] dx, int dxOff, float[] g, int gOff, float[] x, int xOff, int n) {
    Parallel.forRange(n, TRANSCENDENTAL * n, (part, from, to) -> {
      for (int i = from; i < to; i++) {
        dx[dxOff + i] = (float) (g[gOff + i] * Math.cos(x[xOff + i]));
      }
    });
  }

  /** {@code out = cos(x)}, in double, rounded once. */
  public static void cosForward(float[] out, int outOff, float[] x, int xOff, int n) {
    Parallel.forRange(n, TRANSCENDENTAL * n, (part, from, to) -> {
      for (int i = from; i < to; i++) {
        out[outOff + i] = (float) Math.cos(x[xOff + i]);
      }
    });
  }

  /** {@code dx = -g sin(x)}: cos's gradient, from the input. */
  public static void cosBackward(float[] dx, int dxOff, float[] g, int gOff, float[] x, int xOff, int n) {
    Parallel.forRange(n, TRANSCENDENTAL * n, (part, from, to) -> {
      for (int i = from; i < to; i++) {
        dx[dxOff + i] = (float) (-g[gOff + i] * Math.sin(x[xOff + i]));
      }
    });
  }

  /** {@code out = log(x)} (NaN below 0, -inf at 0). */
  public static void logForward(float[] out, int outOff, float[] x, int xOff, int n) {
    Parallel.forRange(n, TRANSCENDENTAL * n, (part, from, to) -> {
      for (int i = from; i < to; i++) {
        out[outOff + i] = (float) Math.log(x[xOff + i]);
      }
    });
  }

  /** {@code dx = g / x}: log's gradient, from the input. */
  public static void logBackward(float[] dx, int dxOff, float[] g, int gOff, float[] x, int xOff, int n) {
    for (int i = 0; i < n; i++) {
      dx[dxOff + i] = g[gOff + i] / x[xOff + i];
    }
  }

  /** {@code out = sqrt(x)}, correctly rounded (NaN below 0). */
  public static void sqrtForward(float[] out, int outOff, float[] x, int xOff, int n) {
    for (int i = 0; i < n; i++) {
      out[outOff + i] = (float) Math.sqrt(x[xOff + i]);
    }
  }

  /** {@code dx = g / (2 y)}: sqrt's gradient from its output {@code y} (infinite at 0). */
  public static void sqrtBackward(float[] dx, int dxOff, float[] g, int gOff, float[] y, int yOff, int n) {
    for (int i = 0; i < n; i++) {
      dx[dxOff + i] = g[gOff + i] / (2f * y[yOff + i]);
    }
  }

  /** {@code out = |x|}. */
  public static void absForward(float[] out, int outOff, float[] x, int xOff, int n) {
    for (int i = 0; i < n; i++) {
      out[outOff + i] = Math.abs(x[xOff + i]);
    }
  }

  /** {@code dx = g * sign(x)}, with sign(±0) = +0 as PyTorch's {@code (0 < x) - (x < 0)} (NaN for NaN). */
  public static void absBackward(float[] dx, int dxOff, float[] g, int gOff, float[] x, int xOff, int n) {
    for (int i = 0; i < n; i++) {
      float v = x[xOff + i];
      float sign = v > 0f ? 1f : v < 0f ? -1f : v == v ? 0f : v;
      dx[dxOff + i] = g[gOff + i] * sign;
    }
  }

  /** {@code out = -x}: negation, which is also its own gradient's rule ({@code dx = -g}). */
  public static void negate(float[] out, int outOff, float[] x, int xOff, int n) {
    for (int i = 0; i < n; i++) {
      out[outOff + i] = -x[xOff + i];
    }
  }

  /** {@code out = x^e} ({@link Math#pow}'s special cases: x^0 = 1, NaN for a negative x and a fractional e). */
  public static void powForward(float[] out, int outOff, float[] x, int xOff, int n, float e) {
    Parallel.forRange(n, TRANSCENDENTAL * n, (part, from, to) -> {
      for (int i = from; i < to; i++) {
        out[outOff + i] = (float) Math.pow(x[xOff + i], e);
      }
    });
  }

  /** {@code dx = g * e * x^(e - 1)}, and 0 for {@code e = 0} (PyTorch's rule, even at x = 0). */
  public static void powBackward(float[] dx, int dxOff, float[] g, int gOff, float[] x, int xOff, int n, float e) {
    if (e == 0f) {
      java.util.Arrays.fill(dx, dxOff, dxOff + n, 0f);
      return;
    }
    Parallel.forRange(n, TRANSCENDENTAL * n, (part, from, to) -> {
      for (int i = from; i < to; i++) {
        dx[dxOff + i] = (float) (g[gOff + i] * (e * Math.pow(x[xOff + i], e - 1.0)));
      }
    });
  }

  /** {@code out = min(max(x, lo), hi)}, a NaN kept (Math.max would keep it too, but not one written as a comparison). */
  public static void clampForward(float[] out, int outOff, float[] x, int xOff, int n, float lo, float hi) {
    Parallel.forRange(n, n, (part, from, to) -> {
      for (int i = from; i < to; i++) {
        float v = x[xOff + i];
        float up = v < lo ? lo : v;
        out[outOff + i] = v != v ? v : up > hi ? hi : up;
      }
    });
  }

  /** {@code dx = lo <= x <= hi ? g : 0}: the gradient where x was inside the bounds, 0 outside and at NaN. */
  public static void clampBackward(float[] dx, int dxOff, float[] g, int gOff, float[] x, int xOff, int n, float lo, float hi) {
    Parallel.forRange(n, n, (part, from, to) -> {
      for (int i = from; i < to; i++) {
        float v = x[xOff + i];
        dx[dxOff + i] = v >= lo && v <= hi ? g[gOff + i] : 0f;
      }
    });
  }

  /** Values per block of {@link #sumAll}: the unit of its split, fixed so that the result does not depend on the threads. */
  private static final int SUM_BLOCK = 1 << 15;

  /**
   * The sum of {@code x[off .. off + len)} in double: blocks of {@link #SUM_BLOCK} values, each
   * added over eight interleaved accumulators (one chain of dependent additions took a cycle
   * latency per value: 1.3 ms for 1.6M values, the whole of an eager {@code sum()}), blocks over
   * both cores, their sums added in block order. The same result for any thread count.
   */
  public static double sumAll(float[] x, int off, int len) {
    int blocks = (len + SUM_BLOCK - 1) / SUM_BLOCK;
    if (blocks <= 1) {
      return sum8(x, off, len);
    }
    double[] partial = new double[blocks];
    Parallel.forRange(blocks, len, (part, from, to) -> {
      for (int b = from; b < to; b++) {
        int start = b * SUM_BLOCK;
        partial[b] = sum8(x, off + start, Math.min(SUM_BLOCK, len - start));
      }
    });
    double s = 0;
    for (double p : partial) {
      s += p;
    }
    return s;
  }

  /**
   * The sum of {@code x[off .. off + len)} in double over eight interleaved accumulators: value
   * {@code k} of the first {@code 8 * (len / 8)} goes to accumulator {@code k % 8}, the rest to the
   * first one in order, and the eight are combined as {@code ((s0 + s1) + (s2 + s3)) + ((s4 + s5) +
   * (s6 + s7))}. The order depends on {@code len} alone; eight independent chains of additions
   * instead of one dependent chain (a double addition's latency, some 1 ns a value, was the whole
   * cost of a reduction). CUDA's {@code kiln_sum_along} adds a row of one-value columns in this order.
   */
  static double sum8(float[] x, int off, int len) {
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
    int i = 0;
    for (; i + 7 < len; i += 8) {
      int j = off + i;
      s0 += x[j];
      s1 += x[j + 1];
      s2 += x[j + 2];
      s3 += x[j + 3];
      s4 += x[j + 4];
      s5 += x[j + 5];
      s6 += x[j + 6];
      s7 += x[j + 7];
    }
    for (; i < len; i++) {
      s0 += x[off + i];
    }
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
  }

  /**
   * {@code out[o, i] = factor * sum_k x[o, k, i]} over {@code x} seen as {@code [outer, size,
   * inner]} (a sum or, with {@code factor = 1 / size}, a mean along the middle dimension), added in
   * double and rounded once, in an order fixed by the sizes alone: a row of {@code inner == 1}
   * (every reduction over trailing dimensions: global average pooling, {@code mean(-1)}) over
   * {@link #sum8}'s eight interleaved accumulators; with {@code inner > 1}, each column in index
   * order (the columns are independent chains of additions already). Whole outputs over the cores
   * (rows, or with fewer rows than cores, blocks of columns): never one sum split over threads, so
   * the bits do not depend on the thread count. CUDA's {@code kiln_sum_along} adds in the same order.
   */
  public static void sumAlong(float[] out, int outOff, float[] x, int xOff, int outer, int size, int inner, float factor) {
    if (inner == 1) {
      Parallel.forRange(outer, (long) outer * size, (part, from, to) -> {
        for (int o = from; o < to; o++) {
          out[outOff + o] = (float) (sum8(x, xOff + o * size, size) * factor);
        }
      });
      return;
    }
    if (outer < Parallel.threads()) { // few rows (a sum over the first dimension): blocks of columns over the cores
      int blocks = (inner + COLUMN_BLOCK - 1) / COLUMN_BLOCK;
      for (int o = 0; o < outer; o++) {
        int base = xOff + o * size * inner, outBase = outOff + o * inner;
        Parallel.forRange(blocks, (long) size * inner, (part, from, to) -> {
          int c0 = from * COLUMN_BLOCK, c1 = Math.min(inner, to * COLUMN_BLOCK);
          double[] acc = new double[c1 - c0];
          for (int k = 0; k < size; k++) {
            int row = base + k * inner + c0;
            for (int i = 0; i < acc.length; i++) {
              acc[i] += x[row + i];
            }
          }
          for (int i = 0; i < acc.length; i++) {
            out[outBase + c0 + i] = (float) (acc[i] * factor);
          }
        });
      }
      return;
    }
    // Narrow rows (inner < 32) are few chains of dependent additions, each waiting on the last: several
    // rows at once, each column still in index order (the same bits), give the core more chains at a time.
    int group = Math.max(1, Math.min(8, 32 / Math.max(1, inner)));
    Parallel.forRange(outer, (long) outer * size * inner, (part, from, to) -> {
      double[] acc = new double[group * inner];
      for (int o0 = from; o0 < to; o0 += group) {
        int rows = Math.min(group, to - o0);
        java.util.Arrays.fill(acc, 0);
        for (int k = 0; k < size; k++) {
          for (int r = 0; r < rows; r++) {
            int row = xOff + ((o0 + r) * size + k) * inner, a = r * inner;
            for (int i = 0; i < inner; i++) {
              acc[a + i] += x[row + i];
            }
          }
        }
        for (int i = 0; i < rows * inner; i++) {
          out[outOff + o0 * inner + i] = (float) (acc[i] * factor);
        }
      }
    });
  }

  /** Columns per part of {@link #sumAlong}'s split when there are fewer rows than cores. */
  private static final int COLUMN_BLOCK = 256;

  /** {@code dx[o, k, i] = factor * g[o, i]}: the gradient of {@link #sumAlong}, the incoming gradient spread along the dimension. */
  public static void spreadAlong(float[] dx, int dxOff, float[] g, int gOff, int outer, int size, int inner, float factor) {
    for (int o = 0; o < outer; o++) {
      for (int k = 0; k < size; k++) {
        int row = dxOff + (o * size + k) * inner;
        for (int i = 0; i < inner; i++) {
          dx[row + i] = g[gOff + o * inner + i] * factor;
        }
      }
    }
  }

  /**
   * {@link #spreadAlong}, written or added to {@code dx} ({@code accumulate}: a compiled model's value
   * that other steps read too), outer rows over the cores; nothing when {@code dx} is null.
   */
  public static void spreadAlong(float[] dx, int dxOff, float[] g, int gOff, int outer, int size, int inner, float factor,
      boolean accumulate) {
    if (dx == null) {
      return;
    }
    Parallel.forRange(outer, 2L * outer * size * inner, (part, from, to) -> {
      for (int o = from; o < to; o++) {
        for (int k = 0; k < size; k++) {
          int row = dxOff + (o * size + k) * inner;
          for (int i = 0; i < inner; i++) {
            float v = g[gOff + o * inner + i] * factor;
            dx[row + i] = accumulate ? dx[row + i] + v : v;
          }
        }
      }
    });
  }

  /**
   * {@code factor} times the sum of {@code x} over several dimensions at once, {@code x} seen as the
   * alternating runs {@code [kept, reduced, kept, ..., kept]} of {@code Shapes.reductionRuns} and
   * {@code out} as its kept runs: {@link #sumAlong} for three runs ({@code [N, C, H*W]}, global
   * average pooling), else one pass over {@code x} in memory order per row of the first run, each
   * output added in double and rounded once; rows of the first run over both cores (with the first
   * run reduced, entries of the second kept run). An innermost reduced run (a row of {@code W})
   * is added by {@link #sum8} and its sum added to its output, whose partial sums come in memory
   * order: an order fixed by {@code runs} alone, whatever the thread count. Runs {@code [A, B, C, D]} whose
   * kept {@code C x D} block is small ({@link #isBlockOfLanes}, a mean over {@code (1, 3)}) are {@link
   * #sumOverBlocks}'s instead.
   */
  public static void sumOver(float[] out, int outOff, float[] x, int xOff, int[] runs, float factor) {
    if (runs.length <= 3) {
      sumAlong(out, outOff, x, xOff, runs[0], runs.length == 1 ? 1 : runs[1], runs.length == 1 ? 1 : runs[2], factor);
      return;
    }
    if (isBlockOfLanes(runs)) {
      sumOverBlocks(out, outOff, x, xOff, runs[0], runs[1], runs[2], runs[3], factor);
      return;
    }
    Runs r = new Runs(runs);
    if (runs[0] == 1) { // the first dimension reduced (a channel's sum over the batch): its next kept run over the cores
      Parallel.forRange(runs[2], (long) r.inRow, (part, from, to) -> {
        double[] acc = new double[r.outRow];
        for (int k = 0; k < runs[1]; k++) {
          r.add(acc, 0, x, xOff + k * r.in[1], 2, from, to);
        }
        for (int i = from * r.out[2]; i < to * r.out[2]; i++) {
          out[outOff + i] = (float) (acc[i] * factor);
        }
      });
      return;
    }
    Parallel.forRange(runs[0], (long) runs[0] * r.inRow, (part, from, to) -> {
      double[] acc = new double[r.outRow];
      for (int o = from; o < to; o++) {
        java.util.Arrays.fill(acc, 0);
        r.add(acc, 0, x, xOff + o * r.inRow, 1, 0, runs[1]);
        for (int i = 0; i < r.outRow; i++) {
          out[outOff + o * r.outRow + i] = (float) (acc[i] * factor);
        }
      }
    });
  }

  /**
   * The variance over several dimensions at once, {@code x} seen as {@link #sumOver}'s runs: two
   * passes in double per output, the mean ({@link #sumOver}'s walk and order, divided by the count)
   * and then the sum of squared differences from it ({@link #sumSquares8} over an innermost reduced
   * run), divided by {@code divisor} ({@code n - 1}, or {@code n} for the biased variance) and
   * rounded once; {@code mean} receives each output's mean rounded to float, for {@link
   * #varianceBackward}. Rows of the first run over the cores (with the first run reduced, entries of
   * the second kept run), so the bits do not depend on the thread count. One value per output,
   * unbiased, gives {@code 0 / 0 = NaN}, as PyTorch.
   */
  public static void varianceOver(float[] out, int outOff, float[] mean, float[] x, int xOff, int[] runs, double divisor) {
    Runs r = new Runs(runs.length == 1 ? new int[] {runs[0], 1, 1} : runs);
    int[] rs = r.runs;
    double count = 1;
    for (int j = 1; j < rs.length; j += 2) {
      count *= rs[j];
    }
    double n = count;
    if (rs.length >= 5 && rs[0] == 1) { // the first dimension reduced (a channel's variance over the batch)
      Parallel.forRange(rs[2], 2L * r.inRow, (part, from, to) -> {
        double[] acc = new double[r.outRow];
        for (int k = 0; k < rs[1]; k++) {
          r.add(acc, 0, x, xOff + k * r.in[1], 2, from, to);
        }
        int lo = from * r.out[2], hi = to * r.out[2];
        for (int i = lo; i < hi; i++) {
          acc[i] /= n;
        }
        double[] m = acc.clone();
        java.util.Arrays.fill(acc, lo, hi, 0);
        for (int k = 0; k < rs[1]; k++) {
          r.addSquares(acc, m, 0, x, xOff + k * r.in[1], 2, from, to);
        }
        for (int i = lo; i < hi; i++) {
          out[outOff + i] = (float) (acc[i] / divisor);
          mean[i] = (float) m[i];
        }
      });
      return;
    }
    Parallel.forRange(rs[0], 2L * rs[0] * r.inRow, (part, from, to) -> {
      double[] acc = new double[r.outRow], m = new double[r.outRow];
      for (int o = from; o < to; o++) {
        java.util.Arrays.fill(acc, 0);
        int row = xOff + o * r.inRow;
        r.add(acc, 0, x, row, 1, 0, rs[1]);
        for (int i = 0; i < r.outRow; i++) {
          m[i] = acc[i] / n;
        }
        java.util.Arrays.fill(acc, 0);
        r.addSquares(acc, m, 0, x, row, 1, 0, rs[1]);
        for (int i = 0; i < r.outRow; i++) {
          out[outOff + o * r.outRow + i] = (float) (acc[i] / divisor);
          mean[o * r.outRow + i] = (float) m[i];
        }
      }
    });
  }

  /**
   * {@code dx = (scale * g) * (x - mean)}, {@code g} and {@code mean} repeated over the reduced runs
   * ({@link #varianceOver}'s): the variance's gradient, {@code scale = 2 / divisor}, PyTorch's
   * {@code var_backward}; written or added to {@code dx} ({@code accumulate}), nothing when it is null.
   */
  public static void varianceBackward(float[] dx, int dxOff, float[] g, int gOff, float[] x, int xOff, float[] mean,
      int[] runs, float scale, boolean accumulate) {
    if (dx == null) {
      return;
    }
    Runs r = new Runs(runs.length == 1 ? new int[] {runs[0], 1, 1} : runs);
    int[] rs = r.runs;
    if (rs.length >= 5 && rs[0] == 1) {
      Parallel.forRange(rs[2], 3L * r.inRow, (part, from, to) -> {
        for (int k = 0; k < rs[1]; k++) {
          int at = k * r.in[1];
          r.centred(dx, dxOff + at, g, gOff, x, xOff + at, mean, 0, 2, from, to, scale, accumulate);
        }
      });
      return;
    }
    Parallel.forRange(rs[0], 3L * rs[0] * r.inRow, (part, from, to) -> {
      for (int o = from; o < to; o++) {
        int at = o * r.inRow;
        r.centred(dx, dxOff + at, g, gOff, x, xOff + at, mean, o * r.outRow, 1, 0, rs[1], scale, accumulate);
      }
    });
  }

  /** The sum of {@code (x[i] - m)^2} over {@code x[off .. off + len)} in double, in {@link #sum8}'s order. */
  static double sumSquares8(float[] x, int off, int len, double m) {
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
    int i = 0;
    for (; i + 7 < len; i += 8) {
      int j = off + i;
      double d0 = x[j] - m, d1 = x[j + 1] - m, d2 = x[j + 2] - m, d3 = x[j + 3] - m;
      double d4 = x[j + 4] - m, d5 = x[j + 5] - m, d6 = x[j + 6] - m, d7 = x[j + 7] - m;
      s0 += d0 * d0;
      s1 += d1 * d1;
      s2 += d2 * d2;
      s3 += d3 * d3;
      s4 += d4 * d4;
      s5 += d5 * d5;
      s6 += d6 * d6;
      s7 += d7 * d7;
    }
    for (; i < len; i++) {
      double d = x[off + i] - m;
      s0 += d * d;
    }
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
  }

  /** Doubles of {@link #sumOverBlocks}'s lanes at most: 256 KiB, a core's L2 cache. */
  private static final int BLOCK_LANES = 1 << 15;

  /**
   * Whether {@code runs} are {@code [A, B, C, D, 1]} (kept, reduced, kept, reduced: a sum over {@code (1, 3)} of
   * {@code [N, C, H, W]}), with {@code A > 1} and {@code C * D} at most {@link #BLOCK_LANES}: {@link
   * #sumOverBlocks} and {@link #spreadOverBlocks} take them.
   */
  private static boolean isBlockOfLanes(int[] runs) {
    return runs.length == 5 && runs[4] == 1 && runs[0] > 1 && (long) runs[2] * runs[3] <= BLOCK_LANES;
  }

  /**
   * {@code out[a, c] = factor * sum x[a, b, c, d]} over {@code b} and {@code d}, {@code x} seen as {@code [A, B,
   * C, D]}: per row {@code a}, the {@code C x D} block of each {@code b} added in order into as many lanes in
   * double (one index for both arrays: a pass at the memory's speed, where {@link #sum8} a row of {@code D}
   * cost a call and a tree each short row), then each output's {@code D} lanes combined in {@link #sum8}'s
   * order and rounded once. Rows over the cores; an order fixed by the sizes alone.
   */
  private static void sumOverBlocks(float[] out, int outOff, float[] x, int xOff, int a, int b, int c, int d, float factor) {
    int block = c * d;
    Parallel.forRange(a, (long) a * b * block, (part, from, to) -> {
      double[] lanes = new double[block];
      for (int o = from; o < to; o++) {
        java.util.Arrays.fill(lanes, 0);
        for (int k = 0, at = xOff + o * b * block; k < b; k++, at += block) {
          addLanes(lanes, x, at, block);
        }
        for (int i = 0; i < c; i++) {
          out[outOff + o * c + i] = (float) (foldLanes(lanes, i * d, d) * factor);
        }
      }
    });
  }

  /** {@code lanes[i] += x[at + i]} for {@code n} values. */
  private static void addLanes(double[] lanes, float[] x, int at, int n) {
    for (int i = 0; i < n; i++) {
      lanes[i] += x[at + i];
    }
  }

  /**
   * {@link #sum8}'s sum of {@code lanes[off .. off + len)}, folding them in place: value {@code k} of the first {@code
   * 8 * (len / 8)} added into lane {@code k % 8} (its first value, never {@code -0} here, stands for {@code 0 +} it),
   * the rest into lane 0, the eight combined by the same tree (lanes {@code len / 8} never reached count as 0).
   */
  private static double foldLanes(double[] lanes, int off, int len) {
    int whole = len / 8 * 8;
    for (int k = 8; k < whole; k++) {
      lanes[off + (k & 7)] += lanes[off + k];
    }
    for (int k = Math.max(whole, 1); k < len; k++) {
      lanes[off] += lanes[off + k];
    }
    boolean eight = whole > 0;
    double l0 = len > 0 ? lanes[off] : 0, l1 = eight ? lanes[off + 1] : 0, l2 = eight ? lanes[off + 2] : 0;
    double l3 = eight ? lanes[off + 3] : 0, l4 = eight ? lanes[off + 4] : 0, l5 = eight ? lanes[off + 5] : 0;
    double l6 = eight ? lanes[off + 6] : 0, l7 = eight ? lanes[off + 7] : 0;
    return ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7));
  }

  /**
   * The gradient of {@link #sumOverBlocks}: per row {@code a}, the {@code C x D} block of {@code factor * g[a, c]}
   * built once, then copied (or added) to each {@code b}'s place, rows over the cores.
   */
  private static void spreadOverBlocks(float[] dx, int dxOff, float[] g, int gOff, int a, int b, int c, int d, float factor,
      boolean accumulate) {
    int block = c * d;
    Parallel.forRange(a, 2L * a * b * block, (part, from, to) -> {
      float[] row = new float[block];
      for (int o = from; o < to; o++) {
        for (int i = 0; i < c; i++) {
          java.util.Arrays.fill(row, i * d, (i + 1) * d, g[gOff + o * c + i] * factor);
        }
        for (int k = 0, at = dxOff + o * b * block; k < b; k++, at += block) {
          if (accumulate) {
            CpuKernels.accumulate(dx, at, row, 0, block);
          } else {
            System.arraycopy(row, 0, dx, at, block);
          }
        }
      }
    });
  }

  /**
   * {@code dx = factor * g} repeated over the reduced runs: the gradient of {@link #sumOver}, written
   * or added to {@code dx} ({@code accumulate}); nothing when {@code dx} is null.
   */
  public static void spreadOver(float[] dx, int dxOff, float[] g, int gOff, int[] runs, float factor, boolean accumulate) {
    if (runs.length <= 3) {
      spreadAlong(dx, dxOff, g, gOff, runs[0], runs.length == 1 ? 1 : runs[1], runs.length == 1 ? 1 : runs[2], factor,
          accumulate);
      return;
    }
    if (dx == null) {
      return;
    }
    if (isBlockOfLanes(runs)) {
      spreadOverBlocks(dx, dxOff, g, gOff, runs[0], runs[1], runs[2], runs[3], factor, accumulate);
      return;
    }
    Runs r = new Runs(runs);
    if (runs[0] == 1) {
      Parallel.forRange(runs[2], 2L * r.inRow, (part, from, to) -> {
        for (int k = 0; k < runs[1]; k++) {
          r.spread(dx, dxOff + k * r.in[1], g, gOff, 2, from, to, factor, accumulate);
        }
      });
      return;
    }
    Parallel.forRange(runs[0], 2L * runs[0] * r.inRow, (part, from, to) -> {
      for (int o = from; o < to; o++) {
        r.spread(dx, dxOff + o * r.inRow, g, gOff + o * r.outRow, 1, 0, runs[1], factor, accumulate);
      }
    });
  }

  /**
   * The strides of {@link #sumOver}'s runs: {@code in[j]} and {@code out[j]} the values one step of
   * run {@code j} moves in the input and in the output (0 for a reduced run); {@code last} the
   * innermost run walked, the reduced one before a trailing kept run of 1.
   */
  private static final class Runs {
    final int[] runs, in, out;
    final int last, inRow, outRow;

    Runs(int[] runs) {
      this.runs = runs;
      in = new int[runs.length];
      out = new int[runs.length];
      int inStride = 1, outStride = 1;
      for (int j = runs.length - 1; j >= 0; j--) {
        in[j] = inStride;
        inStride *= runs[j];
        boolean kept = (j & 1) == 0;
        out[j] = kept ? outStride : 0;
        outStride *= kept ? runs[j] : 1;
      }
      last = runs[runs.length - 1] == 1 ? runs.length - 2 : runs.length - 1;
      inRow = in[0];
      outRow = out[0];
    }

    /**
     * Adds the values of run {@code j} on, from {@code x[xi]}, to their outputs from {@code acc[a]}: entries
     * {@code from} to {@code to} of run {@code j} (the innermost walked whole), all of the runs after it.
     */
    void add(double[] acc, int a, float[] x, int xi, int j, int from, int to) {
      int size = runs[j];
      if (j == last) {
        if (out[j] == 0) {
          acc[a] += sum8(x, xi, size);
        } else {
          for (int i = 0; i < size; i++) {
            acc[a + i] += x[xi + i];
          }
        }
        return;
      }
      if (j + 1 == last && out[last] == 0) { // kept rows of a short reduced run (W of a mean over (1, 3)): no call a row
        int len = runs[last], step = in[j], o = out[j];
        for (int i = from; i < to; i++) {
          acc[a + i * o] += sum8(x, xi + i * step, len);
        }
        return;
      }
      for (int i = from; i < to; i++) {
        add(acc, a + i * out[j], x, xi + i * in[j], j + 1, 0, runs[j + 1]);
      }
    }

    /** As {@link #add}, adding {@code (x - m[output])^2} in double: the variance's second pass. */
    void addSquares(double[] acc, double[] m, int a, float[] x, int xi, int j, int from, int to) {
      int size = runs[j];
      if (j == last) {
        if (out[j] == 0) {
          acc[a] += sumSquares8(x, xi, size, m[a]);
        } else {
          for (int i = 0; i < size; i++) {
            double d = x[xi + i] - m[a + i];
            acc[a + i] += d * d;
          }
        }
        return;
      }
      for (int i = from; i < to; i++) {
        addSquares(acc, m, a + i * out[j], x, xi + i * in[j], j + 1, 0, runs[j + 1]);
      }
    }

    /**
     * Writes (or adds) {@code (scale * g[o]) * (x - mean[o])} from {@code dx[di]} and {@code x[xi]}, {@code o}
     * the output from {@code a} on, over entries {@code from} to {@code to} of run {@code j} on.
     */
    void centred(float[] dx, int di, float[] g, int gOff, float[] x, int xi, float[] mean, int a, int j, int from, int to,
        float scale, boolean accumulate) {
      int size = runs[j];
      if (j == last) {
        if (out[j] == 0) {
          float c = scale * g[gOff + a], m = mean[a];
          for (int i = 0; i < size; i++) {
            float v = c * (x[xi + i] - m);
            dx[di + i] = accumulate ? dx[di + i] + v : v;
          }
        } else {
          for (int i = 0; i < size; i++) {
            float v = (scale * g[gOff + a + i]) * (x[xi + i] - mean[a + i]);
            dx[di + i] = accumulate ? dx[di + i] + v : v;
          }
        }
        return;
      }
      for (int i = from; i < to; i++) {
        centred(dx, di + i * in[j], g, gOff, x, xi + i * in[j], mean, a + i * out[j], j + 1, 0, runs[j + 1], scale, accumulate);
      }
    }

    /** Writes (or adds) {@code factor * g} from {@code g[gi]} over entries {@code from} to {@code to} of run {@code j} on, from {@code dx[di]}. */
    void spread(float[] dx, int di, float[] g, int gi, int j, int from, int to, float factor, boolean accumulate) {
      int size = runs[j];
      if (j == last) {
        for (int i = 0; i < size; i++) {
          float v = g[gi + i * out[j]] * factor;
          dx[di + i] = accumulate ? dx[di + i] + v : v;
        }
        return;
      }
      if (j + 1 == last && out[last] == 0) { // kept rows of a short reduced run: each a value repeated, no call a row
        int len = runs[last];
        for (int i = from; i < to; i++) {
          float v = g[gi + i * out[j]] * factor;
          int at = di + i * in[j];
          if (accumulate) {
            for (int k = 0; k < len; k++) {
              dx[at + k] += v;
            }
          } else {
            java.util.Arrays.fill(dx, at, at + len, v);
          }
        }
        return;
      }
      for (int i = from; i < to; i++) {
        spread(dx, di + i * in[j], g, gi + i * out[j], j + 1, 0, runs[j + 1], factor, accumulate);
      }
    }
  }

  /**
   * Copies {@code rows} rows of {@code width} values: row {@code r} from {@code x[xOff + r * xPitch]}
   * to {@code out[outOff + r * outPitch]} (a strided block copy, as {@code cudaMemcpy2D}). Narrowing,
   * selecting and concatenating along a dimension are such copies, a row being the part of one
   * {@code [outer, size, inner]} slab that is taken or written.
   */
  public static void copyRows(float[] out, int outOff, int outPitch, float[] x, int xOff, int xPitch, int width, int rows) {
    if (width == 0) {
      return;
    }
    for (int r = 0; r < rows; r++) {
      System.arraycopy(x, xOff + r * xPitch, out, outOff + r * outPitch, width);
    }
  }

  /**
   * {@code dx = g / (2 y)} where {@code y} is not 0, and 0 where it is: the gradient of a standard
   * deviation from its output {@code y} (PyTorch's, which masks the zeros that a constant input
   * gives instead of returning {@code 0 * inf = NaN}); NaN for a NaN {@code y}.
   */
  public static void stdBackward(float[] dx, int dxOff, float[] g, int gOff, float[] y, int yOff, int n) {
    for (int i = 0; i < n; i++) {
      float v = y[yOff + i];
      dx[dxOff + i] = v == 0f ? 0f : g[gOff + i] / (2f * v);
    }
  }

  /** {@code out[c, r] = x[r, c]} for {@code x} of {@code rows x cols}, in 32x32 tiles so both sides stay in cache. */
  public static void transpose(float[] out, int outOff, float[] x, int xOff, int rows, int cols) {
    final int tile = 32;
    for (int r0 = 0; r0 < rows; r0 += tile) {
      for (int c0 = 0; c0 < cols; c0 += tile) {
        for (int r = r0, rEnd = Math.min(r0 + tile, rows); r < rEnd; r++) {
          for (int c = c0, cEnd = Math.min(c0 + tile, cols); c < cEnd; c++) {
            out[outOff + c * rows + r] = x[xOff + r * cols + c];
          }
        }
      }
    }
  }
}
