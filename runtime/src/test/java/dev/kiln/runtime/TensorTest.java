package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
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

  /** randn_like and rand_like: the draws randn and rand give of the tensor's shape, no gradient. */
  @Test
  void randnLikeDrawsTheShapeOfItsTensor() {
    Tensor std = Tensor.ones(3, 4).requiresGrad(true);
    Kiln.manualSeed(7);
    Tensor eps = Tensor.randnLike(std), u = Tensor.randLike(std);
    Kiln.manualSeed(7);
    assertArrayEquals(Tensor.randn(3, 4).toFloatArray(), eps.toFloatArray());
    assertArrayEquals(Tensor.rand(3, 4).toFloatArray(), u.toFloatArray());
    assertArrayEquals(new int[] {3, 4}, eps.shape());
    assertFalse(eps.requiresGrad());
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
    assertArrayEquals(new int[] {-100, 2}, Tensor.labels(-100, 2).toIntArray(), "a target to ignore, as PyTorch's -100");
    assertThrows(IllegalArgumentException.class, () -> Tensor.labels(1 << 25));
    assertThrows(IllegalArgumentException.class, () -> Tensor.labels(-(1 << 25)));
    assertThrows(IllegalStateException.class, () -> y.requiresGrad(true));
  }

  /**
   * As PyTorch 1.13 prints (TensorFormatTest checks the values' layout case by case): here the
   * suffixes, and a suffix that would pass column 80 going on a line of its own.
   */
  @Test
  void toStringLooksLikePyTorch() {
    assertEquals("tensor([1.0000, 2.5000])", Tensor.of(new float[] {1, 2.5f}).toString());
    assertEquals("tensor([1.], requires_grad=true)", Tensor.of(new float[] {1}).requiresGrad(true).toString());
    float[] ramp = new float[18];
    for (int i = 0; i < ramp.length; i++) {
      ramp[i] = i * 0.5f + 0.25f;
    }
    assertEquals("""
        tensor([0.2500, 0.7500, 1.2500, 1.7500, 2.2500, 2.7500, 3.2500, 3.7500, 4.2500,
                4.7500, 5.2500, 5.7500, 6.2500, 6.7500, 7.2500, 7.7500, 8.2500, 8.7500],
               requires_grad=true)""", Tensor.of(ramp).requiresGrad(true).toString());
    assertEquals("tensor([], shape=[2, 0])", Tensor.zeros(2, 0).toString()); // PyTorch: size=(2, 0)
    assertEquals("tensor([])", Tensor.zeros(0).toString());
    assertEquals("tensor([3, 0, 9], dtype=int32)", Tensor.labels(3, 0, 9).toString());
    String sum = Tensor.of(new float[] {1.25f}).requiresGrad(true).mul(2f).sum().toString();
    assertTrue(sum.matches("tensor\\(2\\.5000, grad_fn=\\w+\\)"), sum);
    // Summarized (over 1000 values): the shape, which the values no longer show, is added.
    float[] big = new float[30 * 40];
    for (int i = 0; i < big.length; i++) {
      big[i] = i;
    }
    String text = Tensor.of(big, 30, 40).toString();
    assertTrue(text.startsWith("tensor([[0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 3.7000e+01, 3.8000e+01,\n"), text);
    assertTrue(text.endsWith("         1.1990e+03]], shape=[30, 40])"), text);
  }

  /** As PyTorch: a second backward through the same operations is refused, changing nothing, unless the first retained the graph. */
  @Test
  void aSecondBackwardThroughTheSameGraphIsRefusedUnlessRetained() {
    Tensor x = Tensor.ones(2).requiresGrad(true);
    Tensor y = x.mul(x).sum();
    y.backward();
    var e = assertThrows(IllegalStateException.class, y::backward);
    assertTrue(e.getMessage().startsWith("backward(): trying to go through the graph a second time: "), e.getMessage());
    assertTrue(e.getMessage().contains("backward(true)"), e.getMessage());
    assertArrayEquals(new float[] {2, 2}, x.grad().toFloatArray());

    // Through a shared intermediate: the new operations are not run either.
    Tensor h = x.exp();
    h.sum().backward();
    float[] afterFirst = x.grad().toFloatArray();
    assertThrows(IllegalStateException.class, () -> h.mul(2f).sum().backward());
    assertArrayEquals(afterFirst, x.grad().toFloatArray());

    // Retained: each call adds its gradients once more; the last call may release the graph.
    x.setGrad(null);
    Tensor z = x.mul(3f).sum();
    z.backward(true);
    z.backward();
    assertArrayEquals(new float[] {6, 6}, x.grad().toFloatArray());
    assertThrows(IllegalStateException.class, z::backward);
    // A fresh forward pass builds a fresh graph.
    x.mul(3f).sum().backward();
    assertArrayEquals(new float[] {9, 9}, x.grad().toFloatArray());

    // Operations that save nothing for their backward (add, reshape, transpose, sums) may be gone
    // through again by another loss's backward, as in PyTorch: h = x + 1 is shared, then h * h.
    x.setGrad(null);
    Tensor h1 = x.add(1f).reshape(2, 1);
    h1.sum().backward();
    h1.mul(h1).sum().backward();
    assertArrayEquals(new float[] {5, 5}, x.grad().toFloatArray()); // 1 + 2 * (x + 1), PyTorch's [5, 5]
    Tensor w = Tensor.ones(2, 3).requiresGrad(true);
    Tensor wt = w.t(); // a transpose computed once and used by two losses (tied weights)
    wt.sum().backward();
    wt.mul(2f).sum().backward();
    assertArrayEquals(new float[] {3, 3, 3, 3, 3, 3}, w.grad().toFloatArray());
  }

  /**
   * As PyTorch's version counters: a tensor an operation saved for its backward, written in place
   * between the forward and the backward (an optimizer step on a weight, say), makes the backward
   * refuse rather than compute with the new values; reading it changes nothing.
   */
  @Test
  void aSavedTensorWrittenBeforeTheBackwardIsRefused() {
    Tensor w = Tensor.of(new float[] {1, 2}).requiresGrad(true);
    Tensor x = Tensor.of(new float[] {3, 4});
    Tensor loss = w.mul(x).sum();
    w.toFloatArray();
    w.readBuffer();
    w.get(1);
    x.buffer()[0] = 5; // x is saved by the product: its gradient for w is x
    var e = assertThrows(IllegalStateException.class, loss::backward);
    assertTrue(e.getMessage().startsWith("backward(): input 1 of mul ([2]) was modified after the forward pass"), e.getMessage());
    assertNull(w.grad());

    // The usual loop: forward, backward, then the step writes the weights; the next forward is new.
    Tensor y = w.mul(x).sum();
    y.backward();
    w.buffer()[0] -= 0.1f;
    w.setGrad(null);
    w.mul(x).sum().backward();
    assertArrayEquals(new float[] {5, 4}, w.grad().toFloatArray());
  }

  /**
   * Outputs saved for the backward are checked too (torch: "... which is output 0 of ExpBackward0,
   * is at version 1"), through a view as well; operations that read nothing saved (neg, so sub)
   * may be gone through twice and their inputs written, as in PyTorch.
   */
  @Test
  void savedOutputsAreCheckedAndNothingElseIs() {
    Tensor x = Tensor.of(new float[] {0, 2}).requiresGrad(true);
    Tensor y = x.exp();
    Tensor loss = y.sum();
    y.buffer()[0] = 100;
    var e = assertThrows(IllegalStateException.class, loss::backward);
    assertTrue(e.getMessage().startsWith("backward(): the output of exp ([2]) was modified after the forward pass"), e.getMessage());
    Tensor r = Ops.relu(x);
    Tensor viaView = r.reshape(2, 1).sum();
    r.reshape(1, 2).zero();
    assertThrows(IllegalStateException.class, viaView::backward);
    assertNull(x.grad());

    Tensor a = Tensor.of(new float[] {1, 2}).requiresGrad(true);
    Tensor b = Tensor.of(new float[] {3, 4}).requiresGrad(true);
    Tensor d = a.sub(b);
    d.sum().backward();
    d.mul(0.5f).sum().backward(); // torch: two losses sharing a - b
    assertArrayEquals(new float[] {1.5f, 1.5f}, a.grad().toFloatArray());
    assertArrayEquals(new float[] {-1.5f, -1.5f}, b.grad().toFloatArray());
    Tensor scaled = b.mul(2f).sum();
    b.buffer()[0] = 7; // x * 2. saves the scalar, not x
    b.setGrad(null);
    scaled.backward();
    assertArrayEquals(new float[] {2, 2}, b.grad().toFloatArray());

    // zero() of a weight whose current values are native (where SGD's native update leaves them) is a write too
    Tensor weight = Tensor.of(new float[] {1, 2, 3, 4}, 2, 2).requiresGrad(true);
    weight.writeNative();
    Tensor input = Tensor.ones(2, 2).requiresGrad(true);
    Tensor out = Ops.linear(input, weight, null).sum();
    weight.zero();
    assertThrows(IllegalStateException.class, out::backward);
  }

  /** The graph is fixed at the forward: an input that did not require grad then gets no gradient, as in PyTorch. */
  @Test
  void requiresGradTurnedOnAfterTheForwardGetsNoGradient() {
    Tensor w = Tensor.of(new float[] {1, 2}).requiresGrad(true);
    Tensor x = Tensor.of(new float[] {3, 4});
    Tensor loss = x.mul(w).sum();
    x.requiresGrad(true);
    loss.backward();
    assertNull(x.grad());
    assertArrayEquals(new float[] {3, 4}, w.grad().toFloatArray());
  }

  @Test
  void int32DataMustHoldWholeNumbers() {
    assertArrayEquals(new int[] {3, -2}, Tensor.wrap(new float[] {3, -2}, DType.INT32, 2).toIntArray());
    var e = assertThrows(IllegalArgumentException.class, () -> Tensor.wrap(new float[] {1, 0.5f}, DType.INT32, 2));
    assertEquals("Tensor.wrap: int32 data must hold whole numbers of at most 2^24 in magnitude, got 0.5 at index 1",
        e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> Tensor.wrap(new float[] {Float.NaN}, DType.INT32, 1));
  }

  @Test
  void deviceIsCpuAndCudaSaysWhy() {
    assertTrue(Device.best().isCpu());
    var e = assertThrows(IllegalStateException.class, Device::cuda);
    assertTrue(e.getMessage().contains("CUDA"));
  }

  /**
   * A gradient dropped (zeroGrad(true)) or replaced gives its native memory back at once, which a
   * collection a calm heap puts off did before (a compiled model allocating a new native gradient
   * per step piled up gigabytes); the dropped gradient keeps its values.
   */
  @Test
  void droppedGradientFreesItsNativeCopyAndKeepsItsValues() {
    org.junit.jupiter.api.Assumptions.assumeTrue(dev.kiln.runtime.cpu.Blas.isNative());
    Tensor w = Tensor.zeros(256, 256).requiresGrad(true);
    Tensor g = w.ensureGrad();
    g.writeNative().put(5, 7f); // written natively, as the compiled backward writes it
    long before = org.bytedeco.javacpp.Pointer.totalBytes();
    w.setGrad(null);
    long freed = before - org.bytedeco.javacpp.Pointer.totalBytes();
    assertTrue(freed >= 256 * 256 * 4L, "freed " + freed + " bytes");
    assertEquals(7f, g.toFloatArray()[5]);
    assertNull(w.grad());
    assertEquals(0f, w.ensureGrad().toFloatArray()[5], "a new gradient starts at zero");
    w.setGrad(g); // a gradient set back is used again
    assertEquals(7f, w.grad().readNative().get(5));
  }
}
