package dev.kiln.runtime.cpu;

import java.util.Arrays;

/**
 * A compiled model's {@code x.narrow(dim, start, length)} and {@code x.select(dim, index)} (PyTorch's
 * {@code out[:, -1, :]}, a sequence model's last step), as the eager ops compute them: the values seen
 * as {@code rows} slabs of {@code pitch} values (a slab: one entry of every dimension before {@code dim},
 * the batch included, and everything from {@code dim} on), of which {@code width} values from {@code
 * skip} are taken ({@code length * inner}, from {@code start * inner}).
 */
public final class SliceKernels {
  private SliceKernels() {}

  /** {@code out [rows, width]} from {@code x [rows, pitch]}: each slab's values {@code skip .. skip + width}. */
  public static void narrowForward(float[] out, int outOff, float[] x, int xOff, int rows, int pitch, int skip, int width) {
    MathKernels.copyRows(out, outOff, width, x, xOff + skip, pitch, width, rows);
  }

  /**
   * The gradient {@link #narrowForward} sends back: {@code d [rows, width]} into each slab's taken
   * values of {@code dx [rows, pitch]}, zero elsewhere; or, with {@code accumulate}, added to what
   * {@code dx} holds (another reader's gradient). Nothing when {@code dx} is null.
   */
  public static void narrowBackward(float[] dx, int dxOff, float[] d, int dOff, int rows, int pitch, int skip, int width,
      boolean accumulate) {
    if (dx == null) {
      return;
    }
    if (!accumulate) {
      Arrays.fill(dx, dxOff, dxOff + rows * pitch, 0f);
      MathKernels.copyRows(dx, dxOff + skip, pitch, d, dOff, width, width, rows);
      return;
    }
    for (int r = 0; r < rows; r++) {
      int to = dxOff + r * pitch + skip, from = dOff + r * width;
      for (int i = 0; i < width; i++) {
        dx[to + i] += d[from + i];
      }
    }
  }

  /**
   * The gradient a slice of runs at nested strides sends back ({@code grid.narrow(2, 0, 6).narrow(1, 0, 2)} of {@code [6, 3,
   * 8]}: 6 groups 24 apart of 2 runs of 6 values 8 apart, from {@code offset}): {@code d}'s values, in order, into those runs
   * of {@code dx}, zero before and between them; or, with {@code accumulate}, added to what {@code dx} holds. The levels'
   * {@code counts} and {@code pitches} outermost first. As {@link #narrowBackward} of each narrow in turn places them.
   * Nothing when {@code dx} is null.
   */
  public static void runsBackward(float[] dx, float[] d, int offset, int[] counts, int[] pitches, int width, boolean accumulate) {
    if (dx == null) {
      return;
    }
    int runs = 1, last = offset;
    for (int l = 0; l < counts.length; l++) {
      runs *= counts[l];
      last += (counts[l] - 1) * pitches[l];
    }
    if (!accumulate) {
      Arrays.fill(dx, 0, last + width, 0f);
    }
    int[] digit = new int[counts.length];
    for (int k = 0; k < runs; k++) {
      int to = offset;
      for (int l = 0; l < counts.length; l++) {
        to += digit[l] * pitches[l];
      }
      int from = k * width;
      if (accumulate) {
        for (int i = 0; i < width; i++) {
          dx[to + i] += d[from + i];
        }
      } else {
        System.arraycopy(d, from, dx, to, width);
      }
      for (int l = counts.length - 1; l >= 0 && ++digit[l] == counts[l]; l--) {
        digit[l] = 0;
      }
    }
  }

  /**
   * The gradient of a piece of a split ({@code x.split(size, dim)}, {@code x.chunk(n, dim)}) whose other pieces
   * wrote the rest of {@code dx} (the first of them zeros around its own): {@code d [rows, width]} copied into
   * each slab's taken values of {@code dx [rows, pitch]}, the rest left as it is; as eager mode places the
   * pieces' gradients. Nothing when {@code dx} is null.
   */
  public static void pieceBackward(float[] dx, int dxOff, float[] d, int dOff, int rows, int pitch, int skip, int width) {
    if (dx != null) {
      MathKernels.copyRows(dx, dxOff + skip, pitch, d, dOff, width, width, rows);
    }
  }
}
