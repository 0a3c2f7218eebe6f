package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The PyTorch spellings a port reaches for: {@code clone()}, {@code masked_fill}, {@code tril}/{@code
 * triu}, method forms of the activations, double scalars. Values and gradients as PyTorch 1.13's
 * (small enough to check by hand).
 */
class TensorConveniencesTest {
  @Test
  void cloneCopiesAndPassesTheGradient() {
    Tensor x = Tensor.of(new float[] {1, -2, 3}).requiresGrad(true);
    Tensor c = x.clone();
    assertNotSame(x.readBuffer(), c.readBuffer());
    assertArrayEquals(x.toFloatArray(), c.toFloatArray());
    c.mul(Tensor.of(new float[] {2, 3, 4})).sum().backward();
    assertArrayEquals(new float[] {2, 3, 4}, x.grad().toFloatArray());
    x.detach().buffer()[0] = 9; // the copy keeps its values
    assertEquals(1f, c.get(0));
    Tensor labels = Tensor.labels(3, 1, 2).clone();
    assertEquals(DType.INT32, labels.dtype());
    assertArrayEquals(new int[] {3, 1, 2}, labels.toIntArray());
  }

  /** A causal attention mask, as PyTorch writes it: scores.masked_fill(ones(s, s).triu(1) == 1, -inf). */
  @Test
  void causalMaskWithTriuAndMaskedFill() {
    Tensor scores = Tensor.of(new float[] {1, 2, 3, 4, 5, 6, 7, 8, 9}, 3, 3).requiresGrad(true);
    Tensor mask = Tensor.ones(3, 3).triu(1);
    assertArrayEquals(new float[] {0, 1, 1, 0, 0, 1, 0, 0, 0}, mask.toFloatArray());
    Tensor masked = scores.maskedFill(mask, Float.NEGATIVE_INFINITY);
    float inf = Float.NEGATIVE_INFINITY;
    assertArrayEquals(new float[] {1, inf, inf, 4, 5, inf, 7, 8, 9}, masked.toFloatArray());
    Tensor p = masked.softmax(-1);
    assertArrayEquals(new float[] {1, 0, 0}, new float[] {p.get(0, 0), p.get(0, 1), p.get(0, 2)});
    p.sum().backward(); // each row of a softmax sums to 1: its gradient is 0, and the masked places get none
    for (float g : scores.grad().toFloatArray()) {
      assertEquals(0f, g, 1e-6f);
    }
  }

  @Test
  void trilAndTriuKeepTheirDiagonalsOverBatches() {
    Tensor x = Tensor.of(new float[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, 2, 2, 3);
    assertArrayEquals(new float[] {1, 0, 0, 4, 5, 0, 7, 0, 0, 10, 11, 0}, x.tril(0).toFloatArray());
    assertArrayEquals(x.tril(0).toFloatArray(), x.tril().toFloatArray());
    assertArrayEquals(x.triu(0).toFloatArray(), x.triu().toFloatArray());
    assertArrayEquals(new float[] {1, 2, 0, 4, 5, 6, 7, 8, 0, 10, 11, 12}, x.tril(1).toFloatArray());
    assertArrayEquals(new float[] {0, 0, 0, 4, 0, 0, 0, 0, 0, 10, 0, 0}, x.tril(-1).toFloatArray());
    assertArrayEquals(new float[] {0, 2, 3, 0, 0, 6, 0, 8, 9, 0, 0, 12}, x.triu(1).toFloatArray());
    assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, x.triu(-5).toFloatArray());
    Tensor nan = Tensor.of(new float[] {Float.NaN, Float.NaN, Float.NaN, Float.NaN}, 2, 2);
    assertArrayEquals(new float[] {Float.NaN, 0, Float.NaN, Float.NaN}, nan.tril(0).toFloatArray(), "zeros, not NaN * 0");
    var e = assertThrows(IllegalArgumentException.class, () -> Tensor.ones(3).tril(0));
    assertEquals("tril: the tensor needs at least two dimensions, got shape [3]", e.getMessage());
  }

  @Test
  void maskedFillRefusesAMaskThatWidensTheTensor() {
    var e = assertThrows(IllegalArgumentException.class, () -> Tensor.ones(3).maskedFill(Tensor.ones(2, 3), 0f));
    assertTrue(e.getMessage().startsWith("masked_fill: the mask [2, 3] must broadcast to the tensor's shape [3]"), e.getMessage());
  }

  /** "Learning PyTorch with Examples": a hand-written gradient step on tensors that require grad, under noGrad. */
  @Test
  void inPlaceUpdatesUnderNoGrad() {
    Tensor w = Tensor.of(new float[] {1, 2, 3}).requiresGrad(true);
    w.mul(w).sum().backward(); // grad 2w
    try (var g = Kiln.noGrad()) {
      w.subInPlace(w.grad().mul(0.1f));
      w.grad().zero();
    }
    assertArrayEquals(new float[] {0.8f, 1.6f, 2.4f}, w.toFloatArray(), 1e-6f);
    assertTrue(w.requiresGrad() && w.isLeaf(), "still a leaf that requires grad");
    var e = assertThrows(IllegalStateException.class, () -> w.addInPlace(Tensor.ones(3)));
    assertTrue(e.getMessage().startsWith("addInPlace: this tensor requires grad, so it may be written in place only under Kiln.noGrad()"),
        e.getMessage());

    Tensor m = Tensor.zeros(2, 3);
    m.addInPlace(Tensor.of(new float[] {1, 2, 3}), 2f).mulInPlace(0.5f); // a row broadcast over m, PyTorch's add_(b, alpha=2)
    assertArrayEquals(new float[] {1, 2, 3, 1, 2, 3}, m.toFloatArray());
    m.copyFrom(Tensor.of(new float[] {7, 8}, 2, 1));
    assertArrayEquals(new float[] {7, 7, 7, 8, 8, 8}, m.toFloatArray());
    m.fill(-1f);
    assertArrayEquals(new float[] {-1, -1, -1, -1, -1, -1}, m.toFloatArray());
    var wide = assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(3).addInPlace(Tensor.ones(2, 3)));
    assertTrue(wide.getMessage().startsWith("addInPlace: the result has shape [2, 3], not this tensor's [3]"), wide.getMessage());
  }

  /** A value saved by a forward and then written in place refuses the backward that would read it, as PyTorch's version check. */
  @Test
  void aSavedValueWrittenInPlaceRefusesTheBackward() {
    Tensor w = Tensor.of(new float[] {1, 2}).requiresGrad(true);
    Tensor x = Tensor.of(new float[] {3, 4});
    Tensor loss = w.mul(x).sum(); // mul saves x
    x.fill(0f);
    var e = assertThrows(IllegalStateException.class, loss::backward);
    assertTrue(e.getMessage().contains("modified"), e.getMessage());
  }

  /** Values written from PyTorch 1.13 (torch.linspace, torch.arange); these agree bit for bit (others may by an ulp). */
  @Test
  void arangeAndLinspaceAsPyTorchs() {
    assertArrayEquals(new float[] {-3.141590118408203f, -2.094393253326416f, -1.047196626663208f, -1.1920928955078125e-07f,
        1.047196626663208f, 2.094393253326416f, 3.141590118408203f}, Tensor.linspace(-3.14159, 3.14159, 7).toFloatArray());
    assertArrayEquals(new float[] {0, 0.25f, 0.5f, 0.75f, 1}, Tensor.linspace(0, 1, 5).toFloatArray());
    assertArrayEquals(new float[] {2}, Tensor.linspace(2, 2, 1).toFloatArray());
    assertArrayEquals(new float[] {0}, Tensor.linspace(0, 10, 1).toFloatArray(), "one value: start, as PyTorch's");
    assertEquals(0, Tensor.linspace(0, 1, 0).numel());
    assertArrayEquals(new float[] {0.0f, 0.10000000149011612f, 0.20000000298023224f, 0.30000001192092896f, 0.4000000059604645f, 0.5f,
        0.6000000238418579f, 0.699999988079071f, 0.800000011920929f, 0.8999999761581421f}, Tensor.arange(0, 1, 0.1).toFloatArray());
    assertArrayEquals(new float[] {0, 1, 2, 3, 4}, Tensor.arange(5).toFloatArray());
    assertArrayEquals(new float[] {1, 0.5f, 0, -0.5f}, Tensor.arange(1, -1, -0.5).toFloatArray());
    assertArrayEquals(new float[] {0, 0.30000001192092896f, 0.6000000238418579f, 0.8999999761581421f},
        Tensor.arange(0, 1, 0.3).toFloatArray());
    var e = assertThrows(IllegalArgumentException.class, () -> Tensor.arange(0, 1, -0.5));
    assertEquals("arange: a step of -0.5 never goes from 0.0 to 1.0", e.getMessage());
  }

  /** sin and cos with their gradients, in double and rounded once. */
  @Test
  void sinAndCos() {
    Tensor x = Tensor.of(new float[] {0, 1, -2.5f, 100}).requiresGrad(true);
    Tensor y = x.sin().add(x.cos().mul(2f));
    y.sum().backward();
    float[] xs = x.toFloatArray();
    for (int i = 0; i < xs.length; i++) {
      assertEquals((float) Math.sin(xs[i]) + 2 * (float) Math.cos(xs[i]), y.get(i), 1e-6f);
      assertEquals((float) Math.cos(xs[i]) - 2 * (float) Math.sin(xs[i]), x.grad().get(i), 1e-6f);
    }
  }

  private static Tensor sinOf(int... shape) {
    float[] v = new float[Shapes.numel(shape)];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) Math.sin((float) i * 0.37f);
    }
    return Tensor.of(v, shape).requiresGrad(true);
  }

  /** gather and index_select against PyTorch 1.13's values and gradients (rounded to 6 places). */
  @Test
  void gatherAndIndexSelectAsPyTorchs() {
    Tensor x = sinOf(2, 3, 4);
    Tensor g = x.gather(1, Tensor.labels(2, 0, 1, 2, 1, 1, 0, 2).reshape(2, 1, 4));
    assertArrayEquals(new float[] {0.180596f, 0.361615f, 0.796565f, -0.800667f, -0.355253f, 0.006815f, -0.892648f, 0.792427f},
        g.toFloatArray(), 1e-6f);
    g.mul(Tensor.arange(1, 9, 1).reshape(2, 1, 4)).sum().backward();
    assertArrayEquals(new float[] {0, 2, 0, 0, 0, 0, 3, 0, 1, 0, 0, 4, 0, 0, 7, 0, 5, 6, 0, 0, 0, 0, 0, 8}, x.grad().toFloatArray());

    Tensor y = sinOf(2, 3, 4);
    Tensor s = y.indexSelect(2, Tensor.labels(3, 0, 3));
    assertArrayEquals(new float[] {0.895699f, 0, 0.895699f, 0.524044f, 0.995881f, 0.524044f, -0.800667f, 0.180596f, -0.800667f,
        -0.66924f, -0.963131f, -0.66924f, 0.679305f, -0.355253f, 0.679305f, 0.792427f, 0.898708f, 0.792427f}, s.toFloatArray(), 1e-6f);
    s.mul(Tensor.arange(1, 19, 1).reshape(2, 3, 3)).sum().backward();
    assertArrayEquals(new float[] {2, 0, 0, 4, 5, 0, 0, 10, 8, 0, 0, 16, 11, 0, 0, 22, 14, 0, 0, 28, 17, 0, 0, 34}, y.grad().toFloatArray());

    var e = assertThrows(IllegalArgumentException.class, () -> sinOf(2, 3).indexSelect(1, Tensor.labels(3)));
    assertTrue(e.getMessage().startsWith("index_select: index 3 at 0 is out of range for dimension 1 of size 3"), e.getMessage());
    var r = assertThrows(IllegalArgumentException.class, () -> sinOf(2, 3).gather(0, Tensor.labels(0, 1)));
    assertTrue(r.getMessage().startsWith("gather: the index must be labels of the input's rank 2"), r.getMessage());
  }

  /** pad_sequence's values (from PyTorch 1.13), the gradient reaching each sequence, and labels padded as labels. */
  @Test
  void padSequenceAsPyTorchs() {
    Tensor a = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 3, 2).requiresGrad(true);
    Tensor b = Tensor.of(new float[] {7, 8}, 1, 2).requiresGrad(true);
    Tensor timeFirst = Tensor.padSequence(List.of(a, b), false, 0f);
    assertArrayEquals(new int[] {3, 2, 2}, timeFirst.shape());
    assertArrayEquals(new float[] {1, 2, 7, 8, 3, 4, 0, 0, 5, 6, 0, 0}, timeFirst.toFloatArray());
    Tensor batchFirst = Tensor.padSequence(List.of(a, b), true, -1f);
    assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6, 7, 8, -1, -1, -1, -1}, batchFirst.toFloatArray());
    batchFirst.mul(Tensor.arange(1, 13, 1).reshape(2, 3, 2)).sum().backward();
    assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, a.grad().toFloatArray());
    assertArrayEquals(new float[] {7, 8}, b.grad().toFloatArray());
    Tensor targets = Tensor.padSequence(List.of(Tensor.labels(1, 2, 3), Tensor.labels(4)), true, -100);
    assertEquals(DType.INT32, targets.dtype());
    assertArrayEquals(new int[] {1, 2, 3, 4, -100, -100}, targets.toIntArray());
    assertArrayEquals(new int[] {2, 3}, targets.shape());
    var e = assertThrows(IllegalArgumentException.class, () -> Tensor.padSequence(List.of(a, Tensor.zeros(2, 3)), false, 0f));
    assertTrue(e.getMessage().startsWith("pad_sequence: sequence 1 [2, 3] does not match sequence 0 [3, 2] after its length"),
        e.getMessage());
    assertArrayEquals(new int[] {1, 2, 3, -100}, Tensor.padSequence(List.of(Tensor.labels(1, 2), Tensor.labels(3)), true, -100.7f)
        .toIntArray(), "toward zero, as PyTorch converts the value");
    var kinds = assertThrows(IllegalArgumentException.class, () -> Tensor.padSequence(List.of(a, Tensor.labels(1)), true, 0f));
    assertTrue(kinds.getMessage().startsWith("pad_sequence: sequence 1 is INT32, sequence 0 FLOAT32"), kinds.getMessage());
    assertThrows(IllegalArgumentException.class, () -> Tensor.padSequence(List.of(Tensor.labels(1)), true, Float.NaN));
  }

  @Test
  void doubleScalarsAndMethodFormsAsPyTorchWritesThem() {
    Tensor x = Tensor.of(new float[] {0.5f, -1f});
    assertArrayEquals(new float[] {0.25f, -0.5f}, x.mul(0.5).toFloatArray());
    assertArrayEquals(new float[] {1f, -0.5f}, x.add(0.5).toFloatArray());
    assertArrayEquals(new float[] {0f, -1.5f}, x.sub(0.5).toFloatArray());
    assertArrayEquals(new float[] {0.25f, -0.5f}, x.div(2.0).toFloatArray());
    assertArrayEquals(new float[] {0.25f, 1f}, x.pow(2.0).toFloatArray());
    assertArrayEquals(new float[] {1f, -2f}, x.mul(2).toFloatArray(), "an int literal still takes mul(float)");
    assertArrayEquals(Ops.sigmoid(x).toFloatArray(), x.sigmoid().toFloatArray());
    assertArrayEquals(Ops.tanh(x).toFloatArray(), x.tanh().toFloatArray());
    Tensor m = Tensor.of(new float[] {1, 2, 3, 4}, 2, 2);
    assertArrayEquals(Ops.softmax(m, 1).toFloatArray(), m.softmax(1).toFloatArray());
    assertArrayEquals(Ops.logSoftmax(m, 0).toFloatArray(), m.logSoftmax(0).toFloatArray());
  }
}
