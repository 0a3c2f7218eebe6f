package dev.kiln.runtime.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link ConvKernels}' unfolding (im2col) and its adjoint (col2im) against their definitions, bit for bit: im2col
 * is a copy, and col2im must add each input element's terms in kernel-offset order from zero, the order every path
 * (row loops, same-width blocks, tap gathers) keeps, so that convolution gradients do not depend on the path.
 */
class Im2colTest {
  private final Random random = new Random(11);

  private static final Conv2dShape[] SHAPES = { // batch, inC, H, W, outC, kH, kW, sH, sW, pH, pW
      new Conv2dShape(3, 4, 14, 14, 2, 3, 3, 2, 2, 1, 1), // ResNet's downsampling convolution
      new Conv2dShape(3, 4, 14, 14, 2, 1, 1, 2, 2, 0, 0), // its 1x1 shortcut: taps read the input in place
      new Conv2dShape(2, 3, 11, 13, 2, 3, 5, 2, 3, 1, 2), // strides, kernels and padding differing per axis
      new Conv2dShape(2, 2, 9, 9, 3, 2, 2, 2, 2, 0, 0), // a window leaves the last row and column unread
      new Conv2dShape(2, 3, 17, 15, 2, 7, 7, 2, 2, 3, 3), // a ResNet-style stem
      new Conv2dShape(2, 2, 8, 8, 3, 3, 3, 3, 1, 4, 0), // padding wider than the kernel reaches
      new Conv2dShape(3, 2, 6, 6, 2, 1, 1, 2, 2, 1, 1), // a 1x1 window reading only padding on the border
      new Conv2dShape(2, 3, 10, 10, 2, 3, 3, 1, 1, 1, 1), // stride 1, same width: the block copies
      new Conv2dShape(2, 1, 12, 12, 2, 5, 5, 1, 1, 0, 0), // stride 1, valid: the row loops
  };

  @Test
  void tapsOnlyForStridedShapes() {
    assertNotNull(ConvKernels.taps(SHAPES[0]));
    assertNull(ConvKernels.taps(SHAPES[7]), "stride 1 keeps the block and row copies");
    assertNull(ConvKernels.taps(new Conv2dShape(1, 1, 4000, 4000, 1, 3, 3, 2, 2, 1, 1)), "a table over MAX_TAPS");
  }

  @Test
  void unfoldsAsDefined() {
    for (Conv2dShape s : SHAPES) {
      float[] x = values(s.batch() * s.inputSampleSize());
      for (int[] chunk : new int[][] {{0, s.batch()}, {1, s.batch() - 1}}) {
        int n0 = chunk[0], cn = chunk[1];
        float[] cols = values(s.patchSize() * cn * s.outPlaneSize()); // garbage that must be overwritten
        ConvKernels.im2col(cols, x, 0, n0, cn, s, ConvKernels.taps(s), new ConvKernels.Scratch());
        assertArrayEquals(unfolded(x, n0, cn, s), cols, s.toString());
      }
    }
  }

  @Test
  void foldsBackAsDefined() {
    for (Conv2dShape s : SHAPES) {
      for (int[] chunk : new int[][] {{0, s.batch()}, {1, s.batch() - 1}}) {
        int n0 = chunk[0], cn = chunk[1];
        float[] cols = values(s.patchSize() * cn * s.outPlaneSize());
        float[] expected = folded(cols, n0, cn, s);
        float[] dx = values(s.batch() * s.inputSampleSize()); // the chunk's samples must be overwritten
        for (int i = 0; i < n0 * s.inputSampleSize(); i++) {
          expected[i] = dx[i]; // and the others left alone
        }
        ConvKernels.col2im(dx, 0, cols.clone(), n0, cn, s, ConvKernels.taps(s), new ConvKernels.Scratch());
        assertArrayEquals(expected, dx, s.toString());
      }
    }
  }

  private float[] values(int n) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) random.nextGaussian();
    }
    return v;
  }

  /** {@code cols[(c, a, b), (i, oh, ow)] = x[n0 + i, c, oh sH - pH + a, ow sW - pW + b]}, 0 outside. */
  private static float[] unfolded(float[] x, int n0, int cn, Conv2dShape s) {
    int p = s.outPlaneSize(), ld = cn * p;
    float[] cols = new float[s.patchSize() * ld];
    for (int c = 0, row = 0; c < s.inChannels(); c++) {
      for (int a = 0; a < s.kernelH(); a++) {
        for (int b = 0; b < s.kernelW(); b++, row++) {
          for (int i = 0; i < cn; i++) {
            for (int oh = 0; oh < s.outHeight(); oh++) {
              for (int ow = 0; ow < s.outWidth(); ow++) {
                int ih = oh * s.strideH() - s.padH() + a, iw = ow * s.strideW() - s.padW() + b;
                boolean inside = ih >= 0 && ih < s.height() && iw >= 0 && iw < s.width();
                cols[row * ld + i * p + oh * s.outWidth() + ow] =
                    inside ? x[(((n0 + i) * s.inChannels() + c) * s.height() + ih) * s.width() + iw] : 0f;
              }
            }
          }
        }
      }
    }
    return cols;
  }

  /** The adjoint of {@link #unfolded} over samples {@code 0 .. n0+cn-1} (zero below n0), terms added by kernel offset from 0. */
  private static float[] folded(float[] cols, int n0, int cn, Conv2dShape s) {
    int p = s.outPlaneSize(), ld = cn * p;
    float[] dx = new float[s.batch() * s.inputSampleSize()];
    for (int i = 0; i < cn; i++) {
      for (int c = 0, row = 0; c < s.inChannels(); c++) {
        for (int a = 0; a < s.kernelH(); a++) {
          for (int b = 0; b < s.kernelW(); b++, row++) {
            for (int oh = 0; oh < s.outHeight(); oh++) {
              for (int ow = 0; ow < s.outWidth(); ow++) {
                int ih = oh * s.strideH() - s.padH() + a, iw = ow * s.strideW() - s.padW() + b;
                if (ih >= 0 && ih < s.height() && iw >= 0 && iw < s.width()) {
                  dx[(((n0 + i) * s.inChannels() + c) * s.height() + ih) * s.width() + iw] +=
                      cols[row * ld + i * p + oh * s.outWidth() + ow];
                }
              }
            }
          }
        }
      }
    }
    return dx;
  }
}
