package dev.kiln.runtime.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link NormKernels#groupNormForward} and {@link NormKernels#groupNormBackward} on odd sizes (one value a channel,
 * rows shorter and longer than a segment of 128, instance norm's one channel a group, batch 1): against the same
 * formulas in double, values far from 0 included; arrays at offsets of their own (the rows through scratch) give the
 * bits of arrays that all start at 0 (the rows read and written at one index), and so does the input's gradient
 * written over the output's.
 */
class GroupNormKernelTest {
  /** n, c, groups, l. */
  private static final int[][] SHAPES = {
      {1, 6, 3, 1}, {2, 4, 2, 129}, {3, 5, 5, 1000}, {1, 2, 1, 3}, {4, 8, 2, 7}, {2, 3, 1, 4100}, {5, 6, 6, 128}};

  @Test
  void forwardAndGradientsAgreeWithDouble() {
    Random r = new Random(5);
    for (int[] s : SHAPES) {
      for (double centre : new double[] {0, 1000}) {
        for (boolean affine : new boolean[] {true, false}) {
          check(r, s[0], s[1], s[2], s[3], centre, affine);
        }
      }
    }
  }

  private static void check(Random r, int n, int c, int groups, int l, double centre, boolean affine) {
    String name = Arrays.toString(new int[] {n, c, groups, l}) + " around " + centre + (affine ? "" : ", no affine");
    int size = n * c * l, per = c / groups, inner = per * l, rows = n * groups;
    float[] x = new float[size], g = new float[size], w = affine ? new float[c] : null, b = affine ? new float[c] : null;
    for (int i = 0; i < size; i++) {
      x[i] = (float) (centre + r.nextGaussian());
      g[i] = (float) r.nextGaussian();
    }
    for (int i = 0; affine && i < c; i++) {
      w[i] = (float) (1 + 0.2 * r.nextGaussian());
      b[i] = (float) r.nextGaussian();
    }
    float[] y = new float[size], dx = new float[size];
    float[] dw = affine ? new float[c] : null, db = affine ? new float[c] : null;
    double[] mean = new double[rows], rstd = new double[rows];
    NormKernels.groupNormForward(y, 0, x, 0, w, 0, b, 0, mean, rstd, n, c, groups, l, 1e-5);
    NormKernels.groupNormBackward(dx, 0, dw, 0, db, 0, false, g, 0, x, 0, w, 0, mean, rstd, n, c, groups, l);

    double[] wantDw = new double[c], wantDb = new double[c];
    double worstY = 0, worstDx = 0;
    for (int row = 0; row < rows; row++) {
      double m = 0, v = 0;
      for (int t = 0; t < inner; t++) {
        m += x[row * inner + t];
      }
      m /= inner;
      for (int t = 0; t < inner; t++) {
        double d = x[row * inner + t] - m;
        v += d * d;
      }
      double rs = 1 / Math.sqrt(v / inner + 1e-5);
      assertEquals(m, mean[row], 1e-6, name + ": mean"); // the deviations (of spread 1) summed in float
      assertEquals(rs, rstd[row], 3e-6 * rs, name + ": rstd");
      double sumH = 0, sumHx = 0;
      double[] xhat = new double[inner], h = new double[inner];
      for (int t = 0; t < inner; t++) {
        int at = row * inner + t, ch = (row % groups) * per + t / l;
        double wc = affine ? w[ch] : 1, bc = affine ? b[ch] : 0;
        xhat[t] = (x[at] - m) * rs;
        h[t] = g[at] * wc;
        sumH += h[t];
        sumHx += h[t] * xhat[t];
        wantDw[ch] += g[at] * xhat[t];
        wantDb[ch] += g[at];
        double wantY = xhat[t] * wc + bc;
        worstY = Math.max(worstY, Math.abs(y[at] - wantY) / (1 + Math.abs(wantY)));
      }
      for (int t = 0; t < inner; t++) {
        double want = rs * (h[t] - sumH / inner - xhat[t] * sumHx / inner);
        worstDx = Math.max(worstDx, Math.abs(dx[row * inner + t] - want) / (rs * (1 + Math.abs(want) / rs)));
      }
    }
    // x in float near 1000 carries 3e-5 of its own; the outputs lose no more than a few float roundings on top
    assertTrue(worstY < 1e-6, name + ": y (relative to 1 + |y|) " + worstY);
    assertTrue(worstDx < 1e-6, name + ": dx / rstd (relative to 1 + |dx / rstd|) " + worstDx);
    for (int ch = 0; affine && ch < c; ch++) {
      assertEquals(wantDw[ch], dw[ch], 1e-5 * (1 + Math.abs(wantDw[ch])), name + ": dw " + ch);
      assertEquals(wantDb[ch], db[ch], 1e-5 * (1 + Math.abs(wantDb[ch])), name + ": db " + ch);
    }

    // every array at an offset of its own: the rows go through scratch, to the same bits
    float[] xAt = shifted(x, 3), gAt = shifted(g, 2), wAt = affine ? shifted(w, 1) : null, bAt = affine ? shifted(b, 4) : null;
    float[] yAt = new float[5 + size], dxAt = new float[7 + size];
    float[] dwAt = affine ? new float[2 + c] : null, dbAt = affine ? new float[6 + c] : null;
    double[] mean2 = new double[rows], rstd2 = new double[rows];
    NormKernels.groupNormForward(yAt, 5, xAt, 3, wAt, 1, bAt, 4, mean2, rstd2, n, c, groups, l, 1e-5);
    NormKernels.groupNormBackward(dxAt, 7, dwAt, 2, dbAt, 6, false, gAt, 2, xAt, 3, wAt, 1, mean2, rstd2, n, c, groups, l);
    assertArrayEquals(y, Arrays.copyOfRange(yAt, 5, 5 + size), name + ": y at offsets");
    assertArrayEquals(dx, Arrays.copyOfRange(dxAt, 7, 7 + size), name + ": dx at offsets");
    if (affine) {
      assertArrayEquals(dw, Arrays.copyOfRange(dwAt, 2, 2 + c), name + ": dw at an offset");
      assertArrayEquals(db, Arrays.copyOfRange(dbAt, 6, 6 + c), name + ": db at an offset");
    }

    // dx over g (eager's backward writes the input's gradient over the output's), and the compiled backward's sums
    float[] over = g.clone();
    float[] dwAgain = affine ? dw.clone() : null, dbAgain = affine ? db.clone() : null;
    NormKernels.groupNormBackward(over, 0, dwAgain, 0, dbAgain, 0, true, over, 0, x, 0, w, 0, mean, rstd, n, c, groups, l);
    assertArrayEquals(dx, over, name + ": dx written over g");
    for (int ch = 0; affine && ch < c; ch++) {
      assertEquals(2 * dw[ch], dwAgain[ch], 1e-6 * (1 + Math.abs(dw[ch])), name + ": dw added to");
      assertEquals(2 * db[ch], dbAgain[ch], 1e-6 * (1 + Math.abs(db[ch])), name + ": db added to");
    }

    // the output over the input, at one index
    float[] inPlace = x.clone();
    NormKernels.groupNormForward(inPlace, 0, inPlace, 0, w, 0, b, 0, mean2, rstd2, n, c, groups, l, 1e-5);
    assertArrayEquals(y, inPlace, name + ": y written over x");
  }

  private static float[] shifted(float[] a, int by) {
    float[] out = new float[by + a.length + 3];
    Arrays.fill(out, Float.NaN); // read outside the range would show
    System.arraycopy(a, 0, out, by, a.length);
    return out;
  }
}
