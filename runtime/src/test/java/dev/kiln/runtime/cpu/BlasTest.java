package dev.kiln.runtime.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** OpenBLAS (when it loads) and the pure-Java fallback against a double-precision triple loop. */
class BlasTest {
  /** m, n, k; the last two are large enough to be split over the threads, by rows and by columns, in uneven panels. */
  private static final int[][] SHAPES = {{1, 1, 1}, {3, 5, 7}, {17, 33, 9}, {64, 10, 130}, {150, 37, 400}, {33, 203, 350}};

  @Test
  void everyTransposeCombinationMatchesReference() {
    SplittableRandom rng = new SplittableRandom(3);
    for (int[] s : SHAPES) {
      int m = s[0], n = s[1], k = s[2];
      for (int ta = 0; ta < 2; ta++) {
        for (int tb = 0; tb < 2; tb++) {
          boolean transA = ta == 1, transB = tb == 1;
          int lda = (transA ? m : k) + 2, ldb = (transB ? k : n) + 1, ldc = n + 3;
          float[] a = random(rng, (transA ? k : m) * lda);
          float[] b = random(rng, (transB ? n : k) * ldb);
          float[] c0 = random(rng, m * ldc);
          for (float beta : new float[] {0f, 0.5f}) {
            double[] ref = reference(transA, transB, m, n, k, 1.5f, a, lda, b, ldb, beta, c0, ldc);
            float[] viaBlas = c0.clone();
            Blas.sgemm(transA, transB, m, n, k, 1.5f, a, 0, lda, b, 0, ldb, beta, viaBlas, 0, ldc);
            float[] viaJava = c0.clone();
            Blas.javaSgemm(transA, transB, m, n, k, 1.5f, a, 0, lda, b, 0, ldb, beta, viaJava, 0, ldc);
            String what = m + "x" + n + "x" + k + " transA=" + transA + " transB=" + transB + " beta=" + beta;
            for (int i = 0; i < m * ldc; i++) {
              double tol = 1e-5 * (1 + Math.abs(ref[i])) * Math.sqrt(k);
              assertEquals(ref[i], viaBlas[i], tol, what + " (" + Blas.describe() + ") at " + i);
              assertEquals(ref[i], viaJava[i], tol, what + " (pure Java) at " + i);
            }
          }
        }
      }
    }
  }

  /**
   * A linear layer's product with its bias folded in ({@link Blas#linear}, {@code beta = 1} on the bias rows) gives the
   * bits of the product then {@link CpuKernels#addBiasRows}, for k up to the fold's limit and beyond (the separate
   * pass there), at offsets, split over the threads by rows and by columns; without a bias, the product alone.
   */
  @Test
  void aLinearsFoldedBiasGivesTheBitsOfTheSeparatePass() {
    SplittableRandom rng = new SplittableRandom(9);
    for (int[] s : new int[][] {{1, 1, 1}, {7, 5, 3}, {1024, 192, 64}, {1024, 64, 256}, {300, 37, 255}, {33, 203, 200},
        {2048, 16, 32}, {200, 100, 512}}) {
      int m = s[0], n = s[1], k = s[2];
      float[] x = random(rng, 3 + m * k), bias = random(rng, 2 + n);
      for (int i = 0; i < bias.length; i++) {
        bias[i] *= 10;
      }
      dev.kiln.runtime.Tensor w = dev.kiln.runtime.Tensor.of(random(rng, n * k), n, k);
      float[] want = new float[1 + m * n], got = new float[1 + m * n];
      Blas.sgemm(false, true, m, n, k, 1f, x, 3, k, w, k, 0f, want, 1, n);
      float[] product = want.clone();
      CpuKernels.addBiasRows(want, 1, want, 1, bias, 2, m, n);
      Blas.linear(m, n, k, x, 3, w, bias, 2, got, 1);
      for (int i = 0; i < want.length; i++) {
        assertEquals(Float.floatToIntBits(want[i]), Float.floatToIntBits(got[i]), m + "x" + n + "x" + k + " at " + i);
      }
      float[] none = new float[1 + m * n];
      Blas.linear(m, n, k, x, 3, w, null, 0, none, 1);
      for (int i = 0; i < none.length; i++) {
        assertEquals(Float.floatToIntBits(product[i]), Float.floatToIntBits(none[i]), m + "x" + n + "x" + k + " no bias, at " + i);
      }
    }
  }

  /**
   * A compiled linear layer's backward ({@link Blas#linearBackward}, the gradient staged once) gives the bits of its two
   * {@link Blas#sgemm} calls: the weight's gradient added to what it holds (over more than one OpenBLAS block of rows,
   * the product made alone and then added, as eager mode's engine adds it), the input's written (beta 0) or added
   * (beta 1), either left out when null.
   */
  @Test
  void aLinearsBackwardGivesTheBitsOfItsTwoProducts() {
    SplittableRandom rng = new SplittableRandom(13);
    for (int[] s : new int[][] {{1, 1, 1}, {7, 5, 3}, {1024, 192, 64}, {300, 37, 255}, {33, 203, 200}}) {
      int rows = s[0], outF = s[1], in = s[2];
      float[] g = random(rng, 2 + rows * outF), x = random(rng, 1 + rows * in), gw0 = random(rng, outF * in);
      dev.kiln.runtime.Tensor w = dev.kiln.runtime.Tensor.of(random(rng, outF * in), outF, in);
      float[] dx0 = random(rng, 3 + rows * in);
      for (float beta : new float[] {0f, 1f}) {
        dev.kiln.runtime.Tensor gwWant = dev.kiln.runtime.Tensor.of(gw0.clone(), outF, in);
        dev.kiln.runtime.Tensor gwGot = dev.kiln.runtime.Tensor.of(gw0.clone(), outF, in);
        float[] dxWant = dx0.clone(), dxGot = dx0.clone();
        if (Blas.oneBlock(rows)) {
          Blas.sgemm(true, false, outF, in, rows, 1f, g, 2, outF, x, 1, in, 1f, gwWant, in);
        } else { // over one block into a gradient already written: the product alone, then added (eager's order)
          float[] fresh = new float[outF * in];
          Blas.sgemm(true, false, outF, in, rows, 1f, g, 2, outF, x, 1, in, 0f, fresh, 0, in);
          CpuKernels.accumulate(gwWant.buffer(), 0, fresh, 0, fresh.length);
        }
        Blas.sgemm(false, false, rows, in, outF, 1f, g, 2, outF, w, in, beta, dxWant, 3, in);
        Blas.linearBackward(rows, outF, in, g, 2, x, 1, gwGot, w, beta, dxGot, 3);
        String what = rows + "x" + outF + "x" + in + " beta " + beta;
        float[] a = gwWant.toFloatArray(), b = gwGot.toFloatArray();
        assertTrue(!java.util.Arrays.equals(a, gw0), what + ": the weight gradient was added to");
        for (int i = 0; i < a.length; i++) {
          assertEquals(Float.floatToIntBits(a[i]), Float.floatToIntBits(b[i]), what + ": weight gradient at " + i);
        }
        for (int i = 0; i < dxWant.length; i++) {
          assertEquals(Float.floatToIntBits(dxWant[i]), Float.floatToIntBits(dxGot[i]), what + ": input gradient at " + i);
        }
      }
      float[] untouched = dx0.clone();
      Blas.linearBackward(rows, outF, in, g, 2, x, 1, null, w, 0f, null, 0);
      dev.kiln.runtime.Tensor gwOnly = dev.kiln.runtime.Tensor.of(gw0.clone(), outF, in);
      Blas.linearBackward(rows, outF, in, g, 2, x, 1, gwOnly, w, 0f, null, 0);
      assertEquals(dx0[0], untouched[0]);
    }
  }

  /**
   * A batched product is each matrix's product, whatever the flags, alpha and beta: matrices at an
   * offset with gaps between them (strides above their sizes) and counts from 1 to enough to share.
   */
  @Test
  void batchedProductsAreEachMatrixsProduct() {
    SplittableRandom rng = new SplittableRandom(5);
    for (int[] s : new int[][] {{6, 6, 4}, {17, 5, 9}, {64, 10, 130}}) {
      int m = s[0], n = s[1], k = s[2];
      for (int count : new int[] {1, 3, 40}) {
        for (int flags = 0; flags < 4; flags++) {
          boolean transA = (flags & 1) != 0, transB = (flags & 2) != 0;
          int strideA = m * k + 2, strideB = k * n + 1, strideC = m * n + 3;
          float[] a = random(rng, 5 + count * strideA), b = random(rng, 7 + count * strideB), c0 = random(rng, 3 + count * strideC);
          for (float beta : new float[] {0f, 1f}) {
            float[] got = c0.clone();
            Blas.sgemmBatched(count, transA, transB, m, n, k, 0.5f, a, 5, strideA, b, 7, strideB, beta, got, 3, strideC);
            float[] want = c0.clone();
            for (int i = 0; i < count; i++) {
              Blas.sgemm(transA, transB, m, n, k, 0.5f, a, 5 + i * strideA, transA ? m : k, b, 7 + i * strideB, transB ? k : n,
                  beta, want, 3 + i * strideC, n);
            }
            String what = count + " x " + m + "x" + n + "x" + k + " transA=" + transA + " transB=" + transB + " beta=" + beta;
            for (int i = 0; i < want.length; i++) {
              assertEquals(want[i], got[i], 1e-5f * (1 + Math.abs(want[i])) * (float) Math.sqrt(k), what + " at " + i);
            }
          }
        }
      }
    }
    var e = assertThrows(IndexOutOfBoundsException.class,
        () -> Blas.sgemmBatched(3, false, false, 2, 2, 2, 1f, new float[11], 0, 4, new float[12], 0, 4, 0f, new float[12], 0, 4));
    assertTrue(e.getMessage().contains("A (3 matrices of 4 floats, 4 apart) spans 12 floats from offset 0, but its array holds 11"),
        e.getMessage());
  }

  /**
   * An operand at stride 0 is one matrix in every product (a compiled {@code w.matmul(x)}'s weight): the same bits as
   * each product by that matrix; C at stride 0, every product writing one matrix, is refused.
   */
  @Test
  void anOperandAtStrideZeroIsRepeated() {
    SplittableRandom rng = new SplittableRandom(7);
    int m = 10, n = 8, k = 6, count = 5;
    float[] w = random(rng, 2 + m * k), x = random(rng, count * k * n);
    float[] got = new float[count * m * n], want = new float[count * m * n];
    Blas.sgemmBatched(count, false, false, m, n, k, 1f, w, 2, 0, x, 0, k * n, 0f, got, 0, m * n);
    for (int i = 0; i < count; i++) {
      Blas.sgemm(false, false, m, n, k, 1f, w, 2, k, x, i * k * n, n, 0f, want, i * m * n, n);
    }
    org.junit.jupiter.api.Assertions.assertArrayEquals(want, got, "A at stride 0");
    float[] v = random(rng, 1 + n * m); // B at stride 0: each x[i] [k, n] times one v [m, n] read transposed
    float[] y = new float[count * k * m], yWant = new float[count * k * m];
    Blas.sgemmBatched(count, false, true, k, m, n, 1f, x, 0, k * n, v, 1, 0, 0f, y, 0, k * m);
    for (int i = 0; i < count; i++) {
      Blas.sgemm(false, true, k, m, n, 1f, x, i * k * n, n, v, 1, n, 0f, yWant, i * k * m, m);
    }
    org.junit.jupiter.api.Assertions.assertArrayEquals(yWant, y, "B at stride 0");
    var e = assertThrows(IndexOutOfBoundsException.class,
        () -> Blas.sgemmBatched(3, false, false, 2, 2, 2, 1f, new float[12], 0, 4, new float[12], 0, 4, 0f, new float[4], 0, 0));
    assertTrue(e.getMessage().contains("C (3 matrices of 4 floats, 0 apart)"), e.getMessage());
  }

  private static float[] random(SplittableRandom rng, int n) {
    float[] a = new float[n];
    for (int i = 0; i < n; i++) {
      a[i] = (float) (rng.nextDouble() * 2 - 1);
    }
    return a;
  }

  private static double[] reference(boolean ta, boolean tb, int m, int n, int k, float alpha,
      float[] a, int lda, float[] b, int ldb, float beta, float[] c, int ldc) {
    double[] out = new double[c.length];
    for (int i = 0; i < c.length; i++) {
      out[i] = c[i];
    }
    for (int i = 0; i < m; i++) {
      for (int j = 0; j < n; j++) {
        double s = 0;
        for (int p = 0; p < k; p++) {
          s += (double) (ta ? a[p * lda + i] : a[i * lda + p]) * (tb ? b[j * ldb + p] : b[p * ldb + j]);
        }
        out[i * ldc + j] = alpha * s + beta * c[i * ldc + j];
      }
    }
    return out;
  }

  /** The native copies check nothing themselves: an operand too short for its sizes throws before any copy. */
  @Test
  void operandsTooShortForTheirSizesThrowInsteadOfWritingPastTheArray() {
    float[] a = new float[256 * 8];
    float[] b = new float[8 * 256];
    IndexOutOfBoundsException e = assertThrows(IndexOutOfBoundsException.class,
        () -> Blas.sgemm(false, false, 256, 256, 8, 1f, a, 0, 8, b, 0, 256, 0f, new float[4], 0, 256));
    assertTrue(e.getMessage().contains("C (256 x 256, leading dimension 256) spans 65536 floats from offset 0, but its array holds 4"),
        e.getMessage());
    assertThrows(IndexOutOfBoundsException.class,
        () -> Blas.sgemm(false, false, 256, 256, 8, 1f, a, 1, 8, b, 0, 256, 0f, new float[256 * 256], 0, 256));
    assertThrows(IndexOutOfBoundsException.class,
        () -> Blas.sgemm(false, true, 256, 256, 8, 1f, a, 0, 8, b, 0, 9, 0f, new float[256 * 256], 0, 256)); // B^T rows 9 apart
  }
}
