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
}
