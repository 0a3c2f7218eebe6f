package dev.kiln.runtime.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.kiln.runtime.Tensor;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * A compiled {@code x.amax(dim)} ({@code amin}): {@link IndexKernels#extremeAlong} and {@link IndexKernels#extremeBackward}
 * against eager {@code Tensor.amax}'s values and gradient bit for bit, over lines with ties (the gradient shared evenly
 * among them, a negative share leaving signed zeros elsewhere), a NaN (which ties NaN) and infinities, along each dimension;
 * over several dimensions at once ({@link IndexKernels#extremeOver}, ties of both signs of zero: the first kept, as eager's
 * reductions one dimension after another keep it); a compiled {@code x.roll}'s copy and its gradient ({@link
 * IndexKernels#roll}, a -0 gradient become 0 as eager's).
 */
class ExtremeKernelsTest {
  private static final float NAN = Float.NaN;
  private static final float INF = Float.POSITIVE_INFINITY;

  @Test
  void tiesNaNsAndInfinitiesAlongEachDimensionAreEagerBitForBit() {
    float[] x = {1, 3, 3, -2, 0, 0, 0, 0, NAN, 2, NAN, 5, -INF, -INF, 4, 1, 7, 7, 7, -1, 2, 2, -3, 0};
    int[] shape = {2, 3, 4};
    float[] g = new float[24];
    for (int i = 0; i < g.length; i++) {
      g[i] = (i % 3 - 1) * 0.7f; // negative, zero and positive shares
    }
    for (boolean max : new boolean[] {true, false}) {
      for (int dim = 0; dim < 3; dim++) {
        int outer = 1, inner = 1;
        for (int d = 0; d < dim; d++) {
          outer *= shape[d];
        }
        for (int d = dim + 1; d < 3; d++) {
          inner *= shape[d];
        }
        int size = shape[dim];
        Tensor leaf = Tensor.wrap(x.clone(), shape).requiresGrad(true);
        Tensor y = max ? leaf.amax(dim) : leaf.amin(dim);
        float[] grad = Arrays.copyOf(g, outer * inner);
        y.mul(Tensor.wrap(grad, y.shape())).sum().backward();

        float[] out = new float[outer * inner];
        IndexKernels.extremeAlong(out, 0, x, 0, outer, size, inner, max);
        assertArrayEquals(y.toFloatArray(), out, (max ? "amax(" : "amin(") + dim + ")");
        float[] dx = new float[24];
        IndexKernels.extremeBackward(dx, 0, grad, 0, x, 0, out, 0, outer, size, inner);
        float[] eager = leaf.grad().toFloatArray();
        for (int i = 0; i < 24; i++) { // signed zeros and NaNs too
          if (Float.floatToIntBits(eager[i]) != Float.floatToIntBits(dx[i])) {
            throw new AssertionError((max ? "amax(" : "amin(") + dim + ") gradient at " + i + ": eager " + eager[i] + ", kernel "
                + dx[i]);
          }
        }
      }
    }
  }

  @Test
  void severalDimensionsAtOnceAreEagerBitForBit() {
    float[] x = {1, 3, 3, -2, 0, -0f, 0, -0f, NAN, 2, NAN, 5, -INF, -INF, 4, 1, 7, 7, 7, -1, 2, 2, -3, -0f};
    int[] shape = {2, 3, 4};
    int[][] dimSets = {{0, 1}, {1, 2}, {0, 2}, {2, 0}, {0, 1, 2}};
    for (boolean max : new boolean[] {true, false}) {
      for (int[] dims : dimSets) {
        for (float[] source : new float[][] {x, zerosOfBothSigns()}) {
          Tensor leaf = Tensor.wrap(source.clone(), shape).requiresGrad(true);
          Tensor y = max ? leaf.amax(dims) : leaf.amin(dims);
          float[] grad = new float[y.numel()];
          for (int i = 0; i < grad.length; i++) {
            grad[i] = (i % 3 - 1) * 0.7f;
          }
          y.mul(Tensor.wrap(grad.clone(), y.shape())).sum().backward();
          boolean[] reduced = new boolean[3];
          for (int d : dims) {
            reduced[d] = true;
          }
          String what = (max ? "amax" : "amin") + Arrays.toString(dims);
          float[] out = new float[y.numel()];
          IndexKernels.extremeOver(out, 0, source, 0, shape, reduced, max);
          assertBits(what, y.toFloatArray(), out);
          float[] dx = new float[24];
          IndexKernels.extremeOverBackward(dx, 0, grad, 0, source, 0, out, 0, shape, reduced);
          assertBits(what + " gradient", leaf.grad().toFloatArray(), dx);
        }
      }
    }
  }

  @Test
  void rollAndItsGradientAreEagerBitForBit() {
    float[] x = new float[24];
    for (int i = 0; i < x.length; i++) {
      x[i] = i % 5 == 0 ? -0f : i - 7.5f;
    }
    int[] shape = {2, 3, 4};
    Tensor leaf = Tensor.wrap(x.clone(), shape).requiresGrad(true);
    Tensor y = leaf.roll(new int[] {-1, 5, 2}, new int[] {1, 2, 1});
    y.mul(Tensor.wrap(x.clone(), shape)).sum().backward(); // the gradient x itself, its -0s among it
    int[] shift = {0, 1, 1}; // -1 + 2 along dimension 1 (size 3), 5 along dimension 2 (size 4)
    float[] out = new float[24], dx = new float[24];
    IndexKernels.roll(out, 0, x, 0, shape, shift, false);
    assertBits("roll", y.toFloatArray(), out);
    IndexKernels.roll(dx, 0, x, 0, shape, shift, true);
    assertBits("roll gradient", leaf.grad().toFloatArray(), dx);
  }

  /** Values whose extremes tie between 0 and -0 along every dimension. */
  private static float[] zerosOfBothSigns() {
    float[] z = new float[24];
    for (int i = 0; i < z.length; i++) {
      z[i] = i % 3 == 1 ? -0f : i % 7 == 0 ? -1f : 0f;
    }
    return z;
  }

  private static void assertBits(String what, float[] eager, float[] kernel) {
    for (int i = 0; i < eager.length; i++) { // signed zeros and NaNs too
      if (Float.floatToIntBits(eager[i]) != Float.floatToIntBits(kernel[i])) {
        throw new AssertionError(what + " at " + i + ": eager " + eager[i] + ", kernel " + kernel[i]);
      }
    }
  }
}
