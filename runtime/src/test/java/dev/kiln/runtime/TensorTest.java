package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class TensorTest {
  @Test
  void factoriesShapesAndStrides() {
    Tensor t = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
    assertArrayEquals(new int[] {2, 3}, t.shape());
    assertArrayEquals(new int[] {3, 1}, t.stride());
    assertEquals(6f, t.get(1, 2));
    assertEquals(2, t.dim());
    assertEquals(3, t.size(-1));
    assertArrayEquals(new float[6], Tensor.zeros(2, 3).toFloatArray());
    assertArrayEquals(new float[] {1, 1}, Tensor.ones(2).toFloatArray());
    assertEquals(4.5f, Tensor.scalar(4.5f).item());
    assertThrows(IllegalArgumentException.class, () -> Tensor.of(new float[5], 2, 3));
    assertThrows(IllegalStateException.class, () -> t.item());
    assertThrows(IndexOutOfBoundsException.class, () -> t.get(2, 0));
  }

  @Test
  void ofCopiesItsInput() {
    float[] d = {1, 2};
    Tensor t = Tensor.of(d, 2);
    d[0] = 9;
    assertEquals(1f, t.get(0));
  }

  @Test
  void argmaxAlongEachDimension() {
    Tensor t = Tensor.of(new float[] {1, 9, 3, 7, 2, 8}, 2, 3);
    assertArrayEquals(new int[] {1, 2}, t.argmax(1).toIntArray());
    assertArrayEquals(new int[] {1, 0, 1}, t.argmax(0).toIntArray());
    assertEquals(DType.INT32, t.argmax(-1).dtype());
  }

  @Test
  void reshapeInfersAndSharesData() {
    Tensor t = Tensor.zeros(2, 3, 4);
    Tensor v = t.reshape(6, -1);
    assertArrayEquals(new int[] {6, 4}, v.shape());
    v.buffer()[5] = 1f;
    assertEquals(1f, t.get(0, 1, 1));
    assertArrayEquals(new int[] {2, 12}, t.flatten(1, -1).shape());
    var e = assertThrows(IllegalArgumentException.class, () -> t.reshape(5, -1));
    assertTrue(e.getMessage().contains("[2, 3, 4]"), e.getMessage());
  }

  @Test
  void seedMakesRandomReproducible() {
    Kiln.manualSeed(7);
    float[] a = Tensor.randn(10).toFloatArray();
    Kiln.manualSeed(7);
    float[] b = Tensor.randn(10).toFloatArray();
    Kiln.manualSeed(8);
    float[] c = Tensor.randn(10).toFloatArray();
    assertArrayEquals(a, b);
    assertNotEquals(a[0], c[0]);
  }

  @Test
  void randnHasUnitMoments() {
    Kiln.manualSeed(1);
    float[] d = Tensor.randn(100_000).toFloatArray();
    double mean = 0, sq = 0;
    for (float v : d) {
      mean += v;
      sq += v * v;
    }
    mean /= d.length;
    assertEquals(0, mean, 0.02);
    assertEquals(1, sq / d.length - mean * mean, 0.02);
  }

  @Test
  void labelsAreIndices() {
    Tensor y = Tensor.labels(3, 0, 9);
    assertEquals(DType.INT32, y.dtype());
    assertArrayEquals(new int[] {3, 0, 9}, y.toIntArray());
    assertThrows(IllegalArgumentException.class, () -> Tensor.labels(-1));
    assertThrows(IllegalStateException.class, () -> y.requiresGrad(true));
  }

  @Test
  void toStringLooksLikePyTorch() {
    assertEquals("tensor([1.0000, 2.5000])", Tensor.of(new float[] {1, 2.5f}).toString());
    assertEquals("tensor([1.0000], requires_grad=true)", Tensor.of(new float[] {1}).requiresGrad(true).toString());
  }

  @Test
  void deviceIsCpuAndCudaSaysWhy() {
    assertTrue(Device.best().isCpu());
    var e = assertThrows(IllegalStateException.class, Device::cuda);
    assertTrue(e.getMessage().contains("CUDA"));
  }
}
