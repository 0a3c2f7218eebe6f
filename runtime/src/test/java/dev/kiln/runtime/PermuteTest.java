package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** permute and transpose(d0, d1): values against index arithmetic, gradients, errors. */
class PermuteTest {
  @Test
  void valuesFollowTheReorderedIndices() {
    Kiln.manualSeed(1);
    int[] shape = {2, 3, 4, 5};
    Tensor x = Tensor.randn(shape);
    float[] v = x.toFloatArray();
    int[][] orders = {{0, 2, 3, 1}, {3, 2, 1, 0}, {1, 0, 2, 3}, {0, 1, 2, 3}, {2, 0, 3, 1}};
    for (int[] order : orders) {
      Tensor p = x.permute(order);
      int[] ps = p.shape();
      for (int i = 0; i < 4; i++) {
        assertEquals(shape[order[i]], ps[i]);
      }
      float[] got = p.toFloatArray();
      int[] idx = new int[4];
      for (int flat = 0; flat < got.length; flat++) {
        int[] src = new int[4];
        for (int i = 0; i < 4; i++) {
          src[order[i]] = idx[i];
        }
        int at = ((src[0] * 3 + src[1]) * 4 + src[2]) * 5 + src[3];
        assertEquals(v[at], got[flat], "permute " + java.util.Arrays.toString(order) + " at " + flat);
        for (int d = 3; d >= 0 && ++idx[d] == ps[d]; d--) {
          idx[d] = 0;
        }
      }
    }
    // PyTorch: torch.arange(6.).reshape(2, 3).transpose(0, 1) -> [[0, 3], [1, 4], [2, 5]]
    Tensor m = Tensor.of(new float[] {0, 1, 2, 3, 4, 5}, 2, 3);
    assertArrayEquals(new float[] {0, 3, 1, 4, 2, 5}, m.transpose(0, -1).toFloatArray());
    assertArrayEquals(m.t().toFloatArray(), m.transpose(1, 0).toFloatArray());
    assertArrayEquals(new int[] {2, 3, 0}, Tensor.zeros(3, 0, 2).permute(2, 0, 1).shape());
    assertEquals(7f, Tensor.scalar(7f).permute().item());
  }

  /** The kernel compiled models call: at offsets, and adding into what is there (a gradient a later step wrote). */
  @Test
  void theKernelWritesOrAddsAtOffsets() {
    Kiln.manualSeed(4);
    int[] shape = {2, 3, 4, 5};
    int[] order = {0, 2, 1, 3};
    float[] x = Tensor.randn(shape).toFloatArray();
    float[] expected = Tensor.wrap(x, shape).permute(order).toFloatArray();
    float[] in = new float[x.length + 3];
    System.arraycopy(x, 0, in, 3, x.length);
    float[] out = new float[x.length + 2];
    java.util.Arrays.fill(out, 1f);
    dev.kiln.runtime.cpu.CpuKernels.permute(out, 2, in, 3, shape, order, true);
    for (int i = 0; i < x.length; i++) {
      assertEquals(expected[i] + 1f, out[i + 2], 1e-6f, "at " + i);
    }
    assertEquals(1f, out[0]);
    dev.kiln.runtime.cpu.CpuKernels.permute(out, 2, in, 3, shape, order, false);
    assertArrayEquals(expected, java.util.Arrays.copyOfRange(out, 2, out.length));
  }

  @Test
  void theGradientIsPermutedBack() {
    Kiln.manualSeed(2);
    GradCheck.check("permute", in -> in[0].permute(2, 0, 1), 1e-2, 1e-3, 1e-3, Tensor.randn(2, 3, 4).requiresGrad(true));
    GradCheck.check("transpose", in -> in[0].transpose(1, 3), 1e-2, 1e-3, 1e-3, Tensor.randn(2, 3, 2, 4).requiresGrad(true));
    Tensor x = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3).requiresGrad(true);
    x.permute(1, 0).mul(Tensor.of(new float[] {1, 10, 100, 1000, 10000, 100000}, 3, 2)).sum().backward();
    assertArrayEquals(new float[] {1, 100, 10000, 10, 1000, 100000}, x.grad().toFloatArray());
  }

  @Test
  void dimensionsThatAreNotAPermutationAreRefused() {
    Tensor x = Tensor.zeros(2, 3, 4);
    assertEquals("permute of shape [2, 3, 4] by [0, 1]: it names 2 dimensions, the tensor has 3",
        assertThrows(IllegalArgumentException.class, () -> x.permute(0, 1)).getMessage());
    assertEquals("permute of shape [2, 3, 4] by [0, 1, -3]: dimension -3 appears twice",
        assertThrows(IllegalArgumentException.class, () -> x.permute(0, 1, -3)).getMessage());
    assertEquals("permute of shape [2, 3, 4] by [0, 1, 3]: dimension 3 is out of range (expected -3..2)",
        assertThrows(IllegalArgumentException.class, () -> x.permute(0, 1, 3)).getMessage());
    Tensor labels = Tensor.labels(1, 2, 3, 4).reshape(2, 2).transpose(0, 1); // labels stay labels, as PyTorch's ints
    assertEquals(DType.INT32, labels.dtype());
    assertArrayEquals(new int[] {1, 3, 2, 4}, labels.toIntArray());
    assertEquals(3f, Tensor.scalar(3f).transpose(0, -1).item(), "PyTorch takes a scalar's dimensions 0 and -1");
    String m = assertThrows(IllegalArgumentException.class, () -> x.transpose(0, 5)).getMessage();
    assertTrue(m.startsWith("transpose of shape [2, 3, 4]: dimension 5 is out of range"), m);
  }
}
