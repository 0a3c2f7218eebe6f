package dev.kiln.runtime.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link NormKernels#layerNormForward} and {@link NormKernels#layerNormBackward} on rows long
 * enough for their eight-way sums and split among the cores, at offsets, against the same
 * formulas in double: values far from 0 (mean 1000, deviations of 1) keep their digits, as in
 * PyTorch's float kernel or better.
 */
class LayerNormKernelTest {
  private static final int ROWS = 70, INNER = 301;

  @Test
  void forwardAndGradientsAgreeWithDouble() {
    Random r = new Random(11);
    float[] x = new float[3 + ROWS * INNER], g = new float[2 + ROWS * INNER], w = new float[1 + INNER], b = new float[4 + INNER];
    for (int i = 0; i < ROWS * INNER; i++) {
      x[3 + i] = (float) (1000 + r.nextGaussian());
      g[2 + i] = (float) r.nextGaussian();
    }
    for (int i = 0; i < INNER; i++) {
      w[1 + i] = (float) (1 + 0.1 * r.nextGaussian());
      b[4 + i] = (float) r.nextGaussian();
    }
    float[] y = new float[5 + ROWS * INNER];
    double[] mean = new double[ROWS], rstd = new double[ROWS];
    NormKernels.layerNormForward(y, 5, x, 3, w, 1, b, 4, mean, rstd, ROWS, INNER, 1e-5);
    float[] dx = new float[ROWS * INNER], dw = new float[INNER], db = new float[INNER];
    NormKernels.layerNormBackward(dx, 0, dw, 0, db, 0, false, g, 2, x, 3, w, 1, mean, rstd, ROWS, INNER);

    double[] wantDw = new double[INNER], wantDb = new double[INNER];
    double worstY = 0, worstDx = 0;
    for (int row = 0; row < ROWS; row++) {
      double m = 0, v = 0;
      for (int i = 0; i < INNER; i++) {
        m += x[3 + row * INNER + i];
      }
      m /= INNER;
      for (int i = 0; i < INNER; i++) {
        double d = x[3 + row * INNER + i] - m;
        v += d * d;
      }
      double rs = 1 / Math.sqrt(v / INNER + 1e-5);
      assertEquals(m, mean[row], 1e-12 * m);
      assertEquals(rs, rstd[row], 3e-7 * rs); // the variance sums squares as floats
      double sumH = 0, sumHx = 0;
      double[] xhat = new double[INNER], h = new double[INNER];
      for (int i = 0; i < INNER; i++) {
        int at = row * INNER + i;
        xhat[i] = (x[3 + at] - m) * rs;
        h[i] = (double) g[2 + at] * w[1 + i];
        sumH += h[i];
        sumHx += h[i] * xhat[i];
        wantDw[i] += g[2 + at] * xhat[i];
        wantDb[i] += g[2 + at];
        worstY = Math.max(worstY, Math.abs(y[5 + at] - (xhat[i] * w[1 + i] + b[4 + i])));
      }
      for (int i = 0; i < INNER; i++) {
        double want = rs * (h[i] - sumH / INNER - xhat[i] * sumHx / INNER);
        worstDx = Math.max(worstDx, Math.abs(dx[row * INNER + i] - want) / rs);
      }
    }
    // x in float near 1000 carries 3e-5 of its own; the outputs lose no more than a few float roundings on top
    assertTrue(worstY < 1e-6, "y: " + worstY);
    assertTrue(worstDx < 1e-6, "dx / rstd: " + worstDx);
    for (int i = 0; i < INNER; i++) {
      assertEquals(wantDw[i], dw[i], 1e-5 * (1 + Math.abs(wantDw[i])), "dw " + i);
      assertEquals(wantDb[i], db[i], 1e-5 * (1 + Math.abs(wantDb[i])), "db " + i);
    }

    float[] dwAgain = dw.clone(), dbAgain = db.clone(); // the compiled backward adds to the gradients
    NormKernels.layerNormBackward(null, 0, dwAgain, 0, dbAgain, 0, true, g, 2, x, 3, w, 1, mean, rstd, ROWS, INNER);
    for (int i = 0; i < INNER; i++) {
      assertEquals(2 * dw[i], dwAgain[i], 1e-6 * (1 + Math.abs(dw[i])));
      assertEquals(2 * db[i], dbAgain[i], 1e-6 * (1 + Math.abs(db[i])));
    }
  }

  /**
   * The three gradients asked for together (one pass over the rows where there are at least as many blocks of 64 rows
   * as threads: run the suite with -Dkiln.threads=3 too) give the bits of each asked for alone (dx alone: the rows'
   * pass; dw and db alone: the columns' pass), dx written over g too; row counts about a block, batch 1, odd widths.
   */
  @Test
  void gradientsTogetherGiveTheBitsOfEachAlone() {
    Random r = new Random(3);
    for (int rows : new int[] {1, 63, 64, 65, 130, 200, 517}) {
      for (int inner : new int[] {1, 7, 64, 301}) {
        for (boolean affine : new boolean[] {true, false}) {
          String name = rows + " x " + inner + (affine ? "" : ", no affine");
          float[] x = new float[rows * inner], g = new float[rows * inner];
          for (int i = 0; i < x.length; i++) {
            x[i] = (float) (3 + r.nextGaussian());
            g[i] = (float) r.nextGaussian();
          }
          float[] w = new float[inner], b = new float[inner];
          for (int i = 0; i < inner; i++) {
            w[i] = (float) (1 + 0.1 * r.nextGaussian());
            b[i] = (float) r.nextGaussian();
          }
          float[] wOrNull = affine ? w : null, bOrNull = affine ? b : null;
          double[] mean = new double[rows], rstd = new double[rows];
          NormKernels.layerNormForward(new float[x.length], 0, x, 0, wOrNull, 0, bOrNull, 0, mean, rstd, rows, inner, 1e-5);
          float[] dx = new float[x.length], dw = new float[inner], db = new float[inner];
          NormKernels.layerNormBackward(dx, 0, dw, 0, db, 0, false, g, 0, x, 0, wOrNull, 0, mean, rstd, rows, inner);
          float[] dxAlone = new float[x.length], dwAlone = new float[inner], dbAlone = new float[inner];
          NormKernels.layerNormBackward(dxAlone, 0, null, 0, null, 0, false, g, 0, x, 0, wOrNull, 0, mean, rstd, rows, inner);
          NormKernels.layerNormBackward(null, 0, dwAlone, 0, dbAlone, 0, false, g, 0, x, 0, wOrNull, 0, mean, rstd, rows, inner);
          org.junit.jupiter.api.Assertions.assertArrayEquals(dxAlone, dx, name + ": dx");
          org.junit.jupiter.api.Assertions.assertArrayEquals(dwAlone, dw, name + ": dw");
          org.junit.jupiter.api.Assertions.assertArrayEquals(dbAlone, db, name + ": db");
          float[] over = g.clone(), dwOver = dw.clone(), dbOver = db.clone();
          NormKernels.layerNormBackward(over, 0, dwOver, 0, dbOver, 0, true, over, 0, x, 0, wOrNull, 0, mean, rstd, rows, inner);
          org.junit.jupiter.api.Assertions.assertArrayEquals(dx, over, name + ": dx written over g");
          for (int i = 0; i < inner; i++) {
            assertEquals(2 * dw[i], dwOver[i], 1e-6 * (1 + Math.abs(dw[i])), name + ": dw added to");
            assertEquals(2 * db[i], dbOver[i], 1e-6 * (1 + Math.abs(db[i])), name + ": db added to");
          }
        }
      }
    }
  }
}
