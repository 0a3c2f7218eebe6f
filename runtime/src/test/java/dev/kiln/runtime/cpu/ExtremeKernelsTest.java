package dev.kiln.runtime.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.kiln.runtime.Tensor;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * A compiled {@code x.amax(dim)} ({@code amin}): {@link IndexKernels#extremeAlong} and {@link IndexKernels#extremeBackward}
 * against eager {@code Tensor.amax}'s values and gradient bit for bit, over lines with ties (the gradient shared evenly
 * among them, a negative share leaving signed zeros elsewhere), a NaN (which ties NaN) and infinities, along each dimension.
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
}
