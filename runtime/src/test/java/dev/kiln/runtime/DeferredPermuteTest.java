package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;

/**
 * Eager permutes made when first needed, and batched matmuls that read them in place (docs/design-notes.md, "Eager
 * transformer steps"): the values are the source's at the time of the permute whatever is written afterwards, and a
 * matmul over attention's heads gives the bits, forward and gradients, of the permutes copied first.
 */
class DeferredPermuteTest {
  private static Tensor leaf(int seed, int... shape) {
    Kiln.manualSeed(seed);
    return Tensor.randn(shape).requiresGrad(true);
  }

  /** {@code x.permute(order)} computed by index from {@code values} of {@code shape}. */
  private static float[] permutedByIndex(float[] values, int[] shape, int[] order) {
    int rank = shape.length;
    int[] outShape = new int[rank], stride = new int[rank], at = new int[rank];
    for (int i = 0; i < rank; i++) {
      outShape[i] = shape[order[i]];
    }
    for (int d = rank - 1, s = 1; d >= 0; s *= shape[d], d--) {
      stride[d] = s;
    }
    float[] out = new float[values.length];
    for (int o = 0; o < out.length; o++) {
      int src = 0;
      for (int i = 0; i < rank; i++) {
        src += at[i] * stride[order[i]];
      }
      out[o] = values[src];
      for (int i = rank - 1; i >= 0 && ++at[i] == outShape[i]; i--) {
        at[i] = 0;
      }
    }
    return out;
  }

  /**
   * One tensor permuted from several threads at once (a model's buffer under concurrent inference, which the guide
   * allows): each permute lists itself as a reader of the shared source, and a later write to the source still makes
   * the values of every unread one first.
   */
  @Test
  void oneSourcePermutedFromSeveralThreadsAtOnce() throws Exception {
    Kiln.manualSeed(4);
    Tensor shared = Tensor.randn(4, 6);
    float[] before = shared.toFloatArray();
    float[] expected = permutedByIndex(before, new int[] {4, 6}, new int[] {1, 0});
    int threads = 4, each = 20_000;
    Tensor[][] kept = new Tensor[threads][];
    java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(threads);
    try {
      java.util.List<java.util.concurrent.Future<?>> done = new java.util.ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int me = t;
        done.add(pool.submit(() -> {
          kept[me] = new Tensor[64];
          for (int i = 0; i < each; i++) {
            Tensor p = shared.transpose(0, 1);
            if (i % 500 == 0) {
              assertArrayEquals(expected, p.toFloatArray());
            }
            kept[me][i % kept[me].length] = p; // some stay unread until the write below
          }
        }));
      }
      for (var f : done) {
        f.get();
      }
    } finally {
      pool.shutdown();
    }
    shared.buffer()[0] = 42f;
    for (Tensor[] row : kept) {
      for (Tensor p : row) {
        assertArrayEquals(expected, p.toFloatArray());
      }
    }
  }

  @Test
  void aPermuteKeepsTheSourcesValuesOfItsTimeWhateverIsWrittenLater() {
    Kiln.manualSeed(1);
    Tensor x = Tensor.randn(2, 3, 4);
    float[] before = x.toFloatArray();
    Tensor y = x.permute(2, 0, 1);
    Tensor z = y.transpose(0, 1); // a permute of a permute: one permute of x
    x.buffer()[0] = 42f;
    assertArrayEquals(permutedByIndex(before, new int[] {2, 3, 4}, new int[] {2, 0, 1}), y.toFloatArray());
    assertArrayEquals(permutedByIndex(before, new int[] {2, 3, 4}, new int[] {0, 2, 1}), z.toFloatArray());

    Tensor w = Tensor.randn(3, 5);
    float[] wBefore = w.toFloatArray();
    Tensor wt = w.transpose(0, 1);
    w.addInPlace(Tensor.ones(3, 5));
    w.zero();
    assertArrayEquals(permutedByIndex(wBefore, new int[] {3, 5}, new int[] {1, 0}), wt.toFloatArray());
  }

  @Test
  void aWriteToThePermuteDoesNotReachTheSource() {
    Kiln.manualSeed(2);
    Tensor x = Tensor.randn(4, 6);
    float[] before = x.toFloatArray();
    Tensor y = x.transpose(0, 1);
    y.buffer()[0] = 7f;
    assertArrayEquals(before, x.toFloatArray());
    assertEquals(7f, y.toFloatArray()[0]);
  }

  /**
   * {@code f} over operands permuted from {@code sources}' values, forward and gradients: the sources as leaves (whose
   * permutes are copied at once) against the same values one scale by 1 away (whose permutes are deferred and read
   * in place by the matmul), bit for bit.
   */
  private static void sameBitsCopiedOrInPlace(BiFunction<Tensor, Tensor, Tensor> f, int[] shapeA, int[] shapeB) {
    Tensor a1 = leaf(3, shapeA), b1 = leaf(4, shapeB);
    Tensor copied = f.apply(a1, b1);
    Tensor a2 = leaf(3, shapeA), b2 = leaf(4, shapeB);
    Tensor inPlace = f.apply(Ops.scale(a2, 1f), Ops.scale(b2, 1f));
    assertArrayEquals(copied.shape(), inPlace.shape());
    assertArrayEquals(copied.toFloatArray(), inPlace.toFloatArray(), "forward");
    Kiln.manualSeed(5);
    Tensor c = Tensor.randn(copied.shape());
    Ops.mul(copied, c).sum().backward();
    Ops.mul(inPlace, c).sum().backward();
    assertArrayEquals(a1.grad().toFloatArray(), a2.grad().toFloatArray(), "left gradient");
    assertArrayEquals(b1.grad().toFloatArray(), b2.grad().toFloatArray(), "right gradient");
    try (var g = Kiln.noGrad()) {
      assertArrayEquals(copied.toFloatArray(), f.apply(Ops.scale(a2, 1f), Ops.scale(b2, 1f)).toFloatArray(), "no grad");
    }
  }

  @Test
  void matmulOverAttentionsHeadsGivesTheBitsOfTheCopies() {
    int[] proj = {3, 7, 4, 5}; // [N, S, H, D]
    // scores: q @ k^T, both heads read in place, k transposed by the GEMM's flag
    sameBitsCopiedOrInPlace((q, k) -> q.transpose(1, 2).matmul(k.transpose(1, 2).transpose(-2, -1)), proj, proj);
    // att @ v: a contiguous left operand, the heads of v in place
    sameBitsCopiedOrInPlace((att, v) -> att.matmul(v.transpose(1, 2)), new int[] {3, 4, 7, 7}, proj);
    // a transposed left operand, bmm
    sameBitsCopiedOrInPlace((x, y) -> x.transpose(1, 2).bmm(y), new int[] {2, 6, 3}, new int[] {2, 6, 5});
    // one source for both operands: the gradients of its two uses summed
    sameBitsCopiedOrInPlace((x, y) -> x.transpose(1, 2).matmul(x.transpose(1, 2).transpose(-2, -1)).add(y), proj,
        new int[] {3, 4, 7, 7});
    // neither of the last two dimensions contiguous in the source: the permute made, then multiplied
    sameBitsCopiedOrInPlace((x, y) -> x.permute(0, 3, 1, 2).matmul(y), new int[] {2, 3, 4, 5}, new int[] {2, 5, 4, 6});
  }

  @Test
  void aDeferredPermuteDetachedAndMadeALeafTakesItsOwnGradient() {
    Tensor source = Ops.scale(leaf(6, 2, 3, 4), 1f);
    Tensor q = source.transpose(1, 2).detach().requiresGrad(true);
    Tensor k = leaf(7, 2, 3, 4);
    q.matmul(k).sum().backward();
    assertNotNull(q.grad());
    assertNull(source.grad());
    Tensor copied = Tensor.wrap(q.toFloatArray(), 2, 4, 3).requiresGrad(true);
    Tensor k2 = leaf(7, 2, 3, 4);
    copied.matmul(k2).sum().backward();
    assertArrayEquals(copied.grad().toFloatArray(), q.grad().toFloatArray());
    assertArrayEquals(k2.grad().toFloatArray(), k.grad().toFloatArray());
  }

  @Test
  void theHeadsAreReadInPlaceAndTheirGradientGoesToTheProjection() {
    Tensor q = Ops.scale(leaf(8, 2, 5, 3, 4), 1f), k = Ops.scale(leaf(9, 2, 5, 3, 4), 1f);
    Tensor scores = q.transpose(1, 2).matmul(k.transpose(1, 2).transpose(-2, -1));
    assertArrayEquals(new int[] {2, 3, 5, 5}, scores.shape());
    assertEquals(q, scores.gradFn().inputs[0]); // the projections themselves: no permute made, none to run backward
    assertEquals(k, scores.gradFn().inputs[1]);
  }

  @Test
  void aSelectOfAPermuteTakesTheEntryFromTheSourceWithTheSameBits() {
    // an LSTM's batch-first output's last step, out[:, -1], and an entry whose rest is still a permute
    sameBitsCopiedOrInPlace((x, y) -> x.transpose(0, 1).select(1, -1).add(y), new int[] {5, 3, 4}, new int[] {3, 4});
    sameBitsCopiedOrInPlace((x, y) -> x.permute(2, 0, 1).select(1, 1).mul(y), new int[] {3, 4, 5}, new int[] {5, 4});
    Tensor source = Ops.scale(leaf(10, 4, 3, 2), 1f);
    Tensor picked = source.transpose(0, 1).select(1, 2);
    assertEquals(source, picked.gradFn().inputs[0]); // taken from the source: the permute never made
    try (var g = Kiln.noGrad()) {
      Tensor t = source.transpose(0, 1);
      assertArrayEquals(Tensor.wrap(t.toFloatArray(), 3, 4, 2).select(1, 2).toFloatArray(), source.transpose(0, 1).select(1, 2).toFloatArray());
    }
    Tensor detached = source.transpose(0, 1).detach();
    Tensor taken = detached.select(1, 0);
    assertNull(taken.gradFn()); // a detached permute's entry is off the tape, as the permute is
  }
}
