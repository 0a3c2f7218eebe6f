package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;

import dev.kiln.runtime.cpu.Blas;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * The eager engine's reuse of gradient arrays (docs/design-notes.md, "Nineteenth session: eager steps"): a gradient a
 * backward made for the engine alone is adopted as a leaf's first gradient, summed into, or overwritten by the next
 * backward (ReLU's, a scale's); anything a caller or another input can see is left alone. And a leaf weight's gradient
 * added into its {@code grad()} by OpenBLAS has the bits of the product added by the engine.
 */
class EagerGradientReuseTest {
  private static Tensor leaf(int seed, int... shape) {
    Kiln.manualSeed(seed);
    return Tensor.randn(shape).requiresGrad(true);
  }

  @Test
  void theCallersOutputGradientIsNotOverwritten() {
    Tensor x = leaf(1, 4, 5);
    Tensor gOut = Tensor.randn(4, 5);
    float[] before = gOut.toFloatArray();
    Ops.scale(Ops.relu(x), 3f).backward(gOut); // scale's backward and ReLU's would write in place if they owned it
    assertArrayEquals(before, gOut.toFloatArray());
    float[] xv = x.toFloatArray(), expected = new float[xv.length];
    for (int i = 0; i < xv.length; i++) {
      expected[i] = xv[i] > 0 ? 3f * before[i] : 3f * before[i] * 0f; // ReLU's mask multiplies: a signed zero
    }
    assertArrayEquals(expected, x.grad().toFloatArray());
  }

  @Test
  void aGradientPassedToTwoInputsIsCopiedForEach() {
    Tensor a = leaf(2, 3, 4), b = leaf(3, 3, 4);
    Ops.relu(Ops.add(Ops.scale(a, 2f), b)).sum().backward(); // add hands ReLU's gradient to both inputs
    assertNotSame(a.grad().readBuffer(), b.grad().readBuffer());
    float[] bGrad = b.grad().toFloatArray();
    a.grad().buffer()[0] += 100f; // writing one leaf's gradient leaves the other's alone
    assertArrayEquals(bGrad, b.grad().toFloatArray());
  }

  @Test
  void anAdoptedGradientIsTheLeafsOwnAndAccumulates() {
    Tensor x = leaf(4, 6, 7);
    Ops.relu(x).sum().backward();
    assertFalse(x.grad().isEngineOwned());
    float[] once = x.grad().toFloatArray();
    Ops.relu(x).sum().backward();
    float[] twice = x.grad().toFloatArray();
    for (int i = 0; i < once.length; i++) {
      assertEquals(once[i] * 2f, twice[i]);
    }
  }

  @Test
  void aPassedOnGradientAndAnOwnedOneAreSummedIntoTheOwnedOne() {
    Tensor x = leaf(5, 5, 6);
    Tensor h = Ops.scale(x, 1.5f);
    Tensor gOut = Tensor.randn(5, 6);
    float[] before = gOut.toFloatArray();
    Ops.add(h, Ops.relu(h)).backward(gOut); // h's gradient: gOut itself (through add) plus ReLU's own array
    assertArrayEquals(before, gOut.toFloatArray());
    float[] hv = h.toFloatArray(), expected = new float[hv.length];
    for (int i = 0; i < hv.length; i++) {
      expected[i] = 1.5f * (before[i] + (hv[i] > 0 ? before[i] : 0f));
    }
    assertArrayEquals(expected, x.grad().toFloatArray());
  }

  @Test
  void aGradientUsedTwiceByOneOpIsNotOwned() {
    Tensor x = leaf(6, 4, 4);
    Tensor h = Ops.relu(x);
    Ops.relu(Ops.add(h, h)).sum().backward(); // add returns one tensor for both of its inputs
    float[] xv = x.toFloatArray();
    for (int i = 0; i < xv.length; i++) {
      assertEquals(xv[i] > 0 ? 2f : 0f, x.grad().toFloatArray()[i]);
    }
  }

  /** A linear layer's weight gradient, by the engine (anomaly detection on: the gradients are returned) and not. */
  private static void sameWeightGradients(int rows, boolean twice, boolean priorGradient) {
    Supplier<float[]> run = () -> {
      Kiln.manualSeed(7);
      Tensor x = Tensor.randn(rows, 40);
      Tensor w = Tensor.randn(30, 40).requiresGrad(true);
      Tensor b = Tensor.randn(30).requiresGrad(true);
      if (priorGradient) {
        w.setGrad(Tensor.randn(30, 40));
      }
      Tensor y = Ops.linear(x, w, b);
      if (twice) { // the weight used by two layers: its second gradient is added to the first
        y = Ops.add(y, Ops.linear(Ops.relu(x), w, null));
      }
      Ops.relu(y).sum().backward();
      return w.grad().toFloatArray();
    };
    float[] direct = run.get();
    Kiln.setDetectAnomaly(true);
    float[] returned;
    try {
      returned = run.get();
    } finally {
      Kiln.setDetectAnomaly(false);
    }
    assertArrayEquals(returned, direct, "rows " + rows + (twice ? ", twice" : "") + (priorGradient ? ", prior gradient" : ""));
  }

  @Test
  void aWeightGradientAddedWhereItLivesHasTheEnginesBits() {
    for (int rows : new int[] {1, 64, 300, 1100}) {
      sameWeightGradients(rows, false, false);
      sameWeightGradients(rows, true, false);
      sameWeightGradients(rows, false, true);
      sameWeightGradients(rows, true, true);
    }
  }

  @Test
  void aZeroedWeightGradientStaysNativeForTheOptimizer() {
    Tensor x = Tensor.randn(300, 20);
    Tensor w = leaf(8, 10, 20);
    Ops.linear(x, w, null).sum().backward();
    w.grad().zero();
    Ops.linear(x, w, null).sum().backward();
    assertEquals(Blas.isNative(), w.grad().isNativeCurrent());
  }

  @Test
  void batchNormWritesAnOwnedGradientInPlaceWithTheSameBits() {
    Supplier<Tensor> x = () -> leaf(9, 4, 3, 5, 5);
    Tensor w = Tensor.ones(3), b = Tensor.zeros(3);
    Tensor owned = x.get(); // BN's incoming gradient made by scale's backward: the engine's, overwritten by BN
    Ops.scale(Ops.batchNorm(owned, Tensor.zeros(3), Tensor.ones(3), w, b, true, 0.1, 1e-5), 0.75f).sum().backward();
    Tensor given = x.get(); // the same gradient passed by the caller: left alone, BN writes a new array
    Tensor gOut = Tensor.full(0.75f, 4, 3, 5, 5);
    Ops.batchNorm(given, Tensor.zeros(3), Tensor.ones(3), w, b, true, 0.1, 1e-5).backward(gOut);
    assertArrayEquals(Tensor.full(0.75f, 4, 3, 5, 5).toFloatArray(), gOut.toFloatArray());
    assertArrayEquals(given.grad().toFloatArray(), owned.grad().toFloatArray());
  }

  @Test
  void geluAndSiluWriteAnOwnedGradientInPlaceWithTheSameBits() {
    for (java.util.function.UnaryOperator<Tensor> op : java.util.List.<java.util.function.UnaryOperator<Tensor>>of(Ops::gelu, Ops::silu)) {
      Tensor owned = leaf(10, 6, 50);
      Ops.scale(op.apply(owned), 0.75f).sum().backward();
      Tensor given = leaf(10, 6, 50);
      Tensor gOut = Tensor.full(0.75f, 6, 50);
      op.apply(given).backward(gOut);
      assertArrayEquals(Tensor.full(0.75f, 6, 50).toFloatArray(), gOut.toFloatArray());
      assertArrayEquals(given.grad().toFloatArray(), owned.grad().toFloatArray());
    }
  }

  /**
   * {@code op}'s input gradient (and those of {@code params}, which the op must also read) when its incoming gradient
   * is the engine's own (made by mul's backward, overwritten in place) and when the caller passes the same values
   * (left alone): the same bits.
   */
  private static void sameGradientOwnedOrGiven(java.util.function.UnaryOperator<Tensor> op, int[] shape, Tensor... params) {
    Kiln.manualSeed(12);
    Tensor c = Tensor.randn(shape);
    Tensor owned = leaf(11, shape);
    Ops.mul(op.apply(owned), c).sum().backward(); // op's incoming gradient: 1 * c, an array of mul's backward
    float[][] ownedParams = new float[params.length][];
    for (int i = 0; i < params.length; i++) {
      ownedParams[i] = params[i].grad().toFloatArray();
      params[i].setGrad(null);
    }
    Tensor given = leaf(11, shape);
    Tensor gOut = Tensor.wrap(c.toFloatArray(), shape);
    op.apply(given).backward(gOut);
    assertArrayEquals(c.toFloatArray(), gOut.toFloatArray());
    assertArrayEquals(given.grad().toFloatArray(), owned.grad().toFloatArray());
    for (int i = 0; i < params.length; i++) {
      assertArrayEquals(params[i].grad().toFloatArray(), ownedParams[i], "parameter " + i);
    }
  }

  @Test
  void softmaxWritesAnOwnedGradientInPlaceWithTheSameBits() {
    sameGradientOwnedOrGiven(x -> Ops.softmax(x, -1), new int[] {3, 4, 28, 28}); // rows that share a block
    sameGradientOwnedOrGiven(x -> Ops.softmax(x, -1), new int[] {2, 3000}); // a row longer than a block
    sameGradientOwnedOrGiven(x -> Ops.softmax(x, 1), new int[] {3, 7, 5}); // along a middle dimension
  }

  @Test
  void layerNormWritesAnOwnedGradientInPlaceWithTheSameBits() {
    Tensor w = leaf(13, 64), b = leaf(14, 64);
    sameGradientOwnedOrGiven(x -> Ops.layerNorm(x, new int[] {64}, w, b, 1e-5), new int[] {5, 28, 64}, w, b);
    sameGradientOwnedOrGiven(x -> Ops.layerNorm(x, new int[] {7, 3}, null, null, 1e-5), new int[] {4, 7, 3});
  }

  @Test
  void aReshapeKeepsTheEnginesGradientForTheNextBackwardToWriteOver() {
    // a Linear's reshape of its input ([N, S, D] to [N * S, D]) between it and the layer norm or GELU before it
    Tensor w = leaf(15, 8), b = leaf(16, 8);
    sameGradientOwnedOrGiven(x -> Ops.reshape(Ops.reshape(Ops.layerNorm(x, new int[] {8}, w, b, 1e-5), -1, 8), 3, 5, 8),
        new int[] {3, 5, 8}, w, b);
    sameGradientOwnedOrGiven(x -> Ops.reshape(Ops.reshape(Ops.gelu(x), 6, 25), 3, 50), new int[] {3, 50});
  }
}
