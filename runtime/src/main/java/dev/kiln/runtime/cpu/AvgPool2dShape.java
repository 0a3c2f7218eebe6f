package dev.kiln.runtime.cpu;

import java.util.Arrays;

/**
 * The windows of one 2-d average pooling over {@code [planes, height, width]} (planes = batch x
 * channels), along each axis a start, an end (both inside the input) and the factor the divisor
 * takes from that axis, so that output {@code (oh, ow)} averages rows {@code [rowStart[oh],
 * rowEnd[oh])} and columns {@code [colStart[ow], colEnd[ow])} and divides by {@code rowCount[oh] *
 * colCount[ow]}. Built by {@link #fixed} (PyTorch's {@code avg_pool2d}) or {@link #adaptive}
 * ({@code adaptive_avg_pool2d}, which divides by the two factors one after the other, rounding as
 * PyTorch's kernel does). Plain arithmetic, safe at compile time; the CUDA kernels compute the same
 * windows from {@link #window()} (or the sizes, when adaptive).
 */
public final class AvgPool2dShape {
  private final int height;
  private final int width;
  /** {@code kernelH, kernelW, strideH, strideW, padH, padW} of a fixed pooling; zeros for an adaptive one. */
  private final int[] window;
  private final boolean countIncludePad;
  private final boolean adaptive;
  private final Axis rows;
  private final Axis cols;

  private AvgPool2dShape(int height, int width, int[] window, boolean countIncludePad, boolean adaptive, Axis rows, Axis cols) {
    this.height = height;
    this.width = width;
    this.window = window;
    this.countIncludePad = countIncludePad;
    this.adaptive = adaptive;
    this.rows = rows;
    this.cols = cols;
  }

  public int height() {
    return height;
  }

  public int width() {
    return width;
  }

  /** Whether this is an adaptive pooling (its windows come from the sizes alone). */
  public boolean adaptive() {
    return adaptive;
  }

  /** Whether padding counts in the divisor (fixed windows). */
  public boolean countIncludePad() {
    return countIncludePad;
  }

  /** {@code kernelH, kernelW, strideH, strideW, padH, padW} of fixed windows (zeros when adaptive), a copy. */
  public int[] window() {
    return window.clone();
  }

  /** The windows along the height. */
  public Axis rows() {
    return rows;
  }

  /** The windows along the width. */
  public Axis cols() {
    return cols;
  }
  /** Windows along one axis: {@code start[o]} to {@code end[o]} (exclusive), divisor factor {@code count[o]}. */
  public record Axis(int[] start, int[] end, int[] count) {
    public int size() {
      return start.length;
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Axis a && Arrays.equals(start, a.start) && Arrays.equals(end, a.end) && Arrays.equals(count, a.count);
    }

    @Override
    public int hashCode() {
      return Arrays.hashCode(start) * 31 + Arrays.hashCode(end);
    }

    @Override
    public String toString() {
      return "Axis" + Arrays.toString(start) + Arrays.toString(end) + Arrays.toString(count);
    }
  }

  /** Output height. */
  public int outHeight() {
    return rows.size();
  }

  /** Output width. */
  public int outWidth() {
    return cols.size();
  }

  /**
   * PyTorch's {@code avg_pool2d} windows: a {@code kernel x kernel} window every {@code stride},
   * {@code padding} zeros around (at most half the kernel), the output size as max pooling's
   * ({@link Pool2dShape#outSize}, ceil mode included). The divisor is the window's size counting
   * the padding inside it ({@code countIncludePad}, PyTorch's default) or the input elements alone;
   * a ceil-mode window running past the padding counts only up to it, as PyTorch's.
   *
   * @throws IllegalArgumentException for a window {@link Pool2dShape} refuses, naming the values
   */
  public static AvgPool2dShape fixed(int height, int width, int kernelH, int kernelW, int strideH, int strideW,
      int padH, int padW, boolean ceilMode, boolean countIncludePad) {
    new Pool2dShape(1, 1, height, width, kernelH, kernelW, strideH, strideW, padH, padW, ceilMode); // validates
    return new AvgPool2dShape(height, width, new int[] {kernelH, kernelW, strideH, strideW, padH, padW}, countIncludePad, false,
        fixedAxis(height, kernelH, strideH, padH, ceilMode, countIncludePad),
        fixedAxis(width, kernelW, strideW, padW, ceilMode, countIncludePad));
  }

  private static Axis fixedAxis(int in, int kernel, int stride, int pad, boolean ceilMode, boolean countIncludePad) {
    int out = Pool2dShape.outSize(in, kernel, stride, pad, ceilMode);
    int[] start = new int[out], end = new int[out], count = new int[out];
    for (int o = 0; o < out; o++) {
      int s = o * stride - pad;
      int e = Math.min(s + kernel, in + pad);
      int padded = e - s;
      start[o] = Math.max(s, 0);
      end[o] = Math.min(e, in);
      count[o] = countIncludePad ? padded : end[o] - start[o];
    }
    return new Axis(start, end, count);
  }

  /**
   * PyTorch's {@code adaptive_avg_pool2d} to {@code outH x outW}: output {@code o} of {@code out}
   * averages {@code [floor(o * in / out), ceil((o + 1) * in / out))}, so windows may overlap and
   * differ in size; {@code out} may exceed {@code in} (windows then repeat inputs).
   *
   * @throws IllegalArgumentException when an input size is not positive or an output size negative
   *     (an output size of 0 gives an empty output, as in PyTorch)
   */
  public static AvgPool2dShape adaptive(int height, int width, int outH, int outW) {
    if (height <= 0 || width <= 0 || outH < 0 || outW < 0) {
      throw new IllegalArgumentException("input size " + height + "x" + width + " must be positive and output size " + outH
          + "x" + outW + " not negative");
    }
    return new AvgPool2dShape(height, width, new int[6], false, true, adaptiveAxis(height, outH), adaptiveAxis(width, outW));
  }

  private static Axis adaptiveAxis(int in, int out) {
    int[] start = new int[out], end = new int[out], count = new int[out];
    for (int o = 0; o < out; o++) {
      start[o] = (int) ((long) o * in / out);
      end[o] = (int) (((long) (o + 1) * in + out - 1) / out);
      count[o] = end[o] - start[o];
    }
    return new Axis(start, end, count);
  }

  private float divide(float v, int oh, int ow) {
    return adaptive ? v / rows.count[oh] / cols.count[ow] : v / (rows.count[oh] * cols.count[ow]);
  }

  /**
   * {@code out[p, oh, ow]} = the average of its window of {@code x[p]}, for {@code planes} planes;
   * each window summed in double (a global pooling of a large map stays as exact as PyTorch's
   * {@code mean}), then rounded to float and divided.
   */
  public void forward(float[] out, int outOff, float[] x, int xOff, int planes) {
    int outH = outHeight(), outW = outWidth(), in = height * width, outPlane = outH * outW;
    Parallel.forRange(planes, (long) planes * in, (part, from, to) -> {
      for (int p = from; p < to; p++) {
        int xp = xOff + p * in;
        int op = outOff + p * outPlane;
        for (int oh = 0; oh < outH; oh++) {
          for (int ow = 0; ow < outW; ow++) {
            double sum = 0;
            for (int h = rows.start[oh]; h < rows.end[oh]; h++) {
              int r = xp + h * width;
              for (int w = cols.start[ow]; w < cols.end[ow]; w++) {
                sum += x[r + w];
              }
            }
            out[op + oh * outW + ow] = divide((float) sum, oh, ow);
          }
        }
      }
    });
  }

  /** {@code dx} (overwritten) from the output gradient {@code d}: each window's share, {@code d / divisor}, added over its elements. */
  public void backward(float[] dx, int dxOff, float[] d, int dOff, int planes) {
    int outH = outHeight(), outW = outWidth(), in = height * width, outPlane = outH * outW;
    Parallel.forRange(planes, (long) planes * in, (part, from, to) -> {
      for (int p = from; p < to; p++) {
        int xp = dxOff + p * in;
        int op = dOff + p * outPlane;
        Arrays.fill(dx, xp, xp + in, 0f);
        for (int oh = 0; oh < outH; oh++) {
          for (int ow = 0; ow < outW; ow++) {
            float share = divide(d[op + oh * outW + ow], oh, ow);
            for (int h = rows.start[oh]; h < rows.end[oh]; h++) {
              int r = xp + h * width;
              for (int w = cols.start[ow]; w < cols.end[ow]; w++) {
                dx[r + w] += share;
              }
            }
          }
        }
      }
    });
  }
}
