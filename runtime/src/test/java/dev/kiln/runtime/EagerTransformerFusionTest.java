package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.kiln.runtime.cpu.ActivationKernels;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The eager transformer's fusions (docs/design-notes.md, "Eager transformer steps, twenty-first session"): the scores'
 * scale softmaxed from the product ({@code Deferred.Scale}), GELU's slope kept for its backward, a linear layer's
 * product under no grad computed into the residual add's or GELU's output ({@code Deferred.Linear}) and deferred
 * values read once into scratch, and the gradients the linear and matmul backwards give to {@code ArrayPool}. Each is
 * checked bit for bit against the same ops with every value read (made) as soon as it is returned, which runs the
 * unfused kernels, with every array taken from the pool filled with NaN first.
 */
class EagerTransformerFusionTest {
  /** The samples' FashionTransformer's sizes: [N, S, D] activations of 114688 values, which ArrayPool keeps. */
  private static final int N = 64, S = 28, D = 64, H = 4, DH = D / H;

  @BeforeEach
  void poisonPool() {
    ArrayPool.clear();
    ArrayPool.poison = true;
  }

  @AfterEach
  void unpoisonPool() {
    ArrayPool.poison = false;
    ArrayPool.clear();
  }

  /** A pre-norm transformer block's parameters: attention (no key bias) and a GELU MLP of width 2D. */
  private record Block(Tensor lnW, Tensor lnB, Tensor wq, Tensor bq, Tensor wk, Tensor wv, Tensor bv, Tensor wo, Tensor bo,
      Tensor ln2W, Tensor ln2B, Tensor wu, Tensor bu, Tensor wd, Tensor bd) {
    static Block random(int seed, boolean grad) {
      Kiln.manualSeed(seed);
      return new Block(p(grad, D), p(grad, D), p(grad, D, D), p(grad, D), p(grad, D, D), p(grad, D, D), p(grad, D),
          p(grad, D, D), p(grad, D), p(grad, D), p(grad, D), p(grad, 2 * D, D), p(grad, 2 * D), p(grad, D, 2 * D), p(grad, D));
    }

    private static Tensor p(boolean grad, int... shape) {
      return Tensor.randn(shape).mul(0.5f).detach().requiresGrad(grad);
    }

    Tensor[] all() {
      return new Tensor[] {lnW, lnB, wq, bq, wk, wv, bv, wo, bo, ln2W, ln2B, wu, bu, wd, bd};
    }
  }

  /**
   * The samples' FashionTransformer block over {@code x [N, S, D]}, written with Kiln's ops as a user writes it;
   * {@code seen} is applied to every value an op returns (identity: the fusions; reading the values: the unfused ops).
   */
  private static Tensor block(Tensor x, Block p, UnaryOperator<Tensor> seen) {
    Tensor h = seen.apply(Ops.layerNorm(x, new int[] {D}, p.lnW(), p.lnB(), 1e-5)).reshape(-1, D);
    Tensor q = seen.apply(Ops.linear(h, p.wq(), p.bq())).reshape(N, S, H, DH).transpose(1, 2);
    Tensor k = seen.apply(Ops.linear(h, p.wk(), null)).reshape(N, S, H, DH).transpose(1, 2);
    Tensor v = seen.apply(Ops.linear(h, p.wv(), p.bv())).reshape(N, S, H, DH).transpose(1, 2);
    Tensor scores = seen.apply(seen.apply(q.matmul(k.transpose(-2, -1))).div(Math.sqrt(DH)));
    Tensor att = seen.apply(scores.softmax(-1));
    Tensor joined = seen.apply(att.matmul(v)).transpose(1, 2).reshape(-1, D);
    x = seen.apply(x.add(seen.apply(Ops.linear(joined, p.wo(), p.bo())).reshape(N, S, D)));
    Tensor n2 = seen.apply(Ops.layerNorm(x, new int[] {D}, p.ln2W(), p.ln2B(), 1e-5)).reshape(-1, D);
    Tensor up = seen.apply(Ops.gelu(seen.apply(Ops.linear(n2, p.wu(), p.bu()))));
    return seen.apply(x.add(seen.apply(Ops.linear(up, p.wd(), p.bd())).reshape(N, S, D)));
  }

  private static final UnaryOperator<Tensor> FUSED = t -> t;
  private static final UnaryOperator<Tensor> READ_AT_ONCE = t -> {
    t.readBuffer(); // makes deferred values now: the next op runs its unfused kernel
    return t;
  };

  /** The block's input: an op's output (sealed), as a transformer block's input is. */
  private static Tensor input(int seed) {
    Kiln.manualSeed(seed);
    return Tensor.randn(N, S, D).add(Tensor.zeros(N, S, D));
  }

  @Test
  void inferenceGivesTheUnfusedBitsEveryTime() {
    Block p = Block.random(1, false);
    float[] expected;
    try (var g = Kiln.noGrad()) {
      expected = block(input(2), p, READ_AT_ONCE).toFloatArray();
      for (int round = 0; round < 3; round++) { // arrays from the pool (NaN-filled) after the first
        assertArrayEquals(expected, block(input(2), p, FUSED).toFloatArray(), "round " + round);
      }
    }
    // and with grad on, where nothing but the scale and the permutes is deferred
    assertArrayEquals(expected, block(input(2), Block.random(1, true), FUSED).toFloatArray());
  }

  @Test
  void valuesReadAfterTheirFusedReaderAreTheUnfusedOnes() {
    Block p = Block.random(1, false);
    List<Tensor> atOnce = new ArrayList<>(), later = new ArrayList<>();
    try (var g = Kiln.noGrad()) {
      block(input(2), p, t -> {
        atOnce.add(READ_AT_ONCE.apply(t));
        return t;
      });
      block(input(2), p, t -> { // kept unread until the block is done: computed once into a reader's scratch first
        later.add(t);
        return t;
      });
      assertEquals(atOnce.size(), later.size());
      for (int i = later.size() - 1; i >= 0; i--) { // the last first: each read again from recipes read once before
        assertArrayEquals(atOnce.get(i).toFloatArray(), later.get(i).toFloatArray(), "value " + i);
      }
    }
  }

  @Test
  void trainingGivesTheUnfusedGradients() {
    float[][] expected = gradients(READ_AT_ONCE);
    for (int round = 0; round < 3; round++) { // the read gradients the backwards gave up come back as later arrays
      float[][] got = gradients(FUSED);
      for (int i = 0; i < expected.length; i++) {
        assertArrayEquals(expected[i], got[i], "round " + round + ", gradient " + i);
      }
    }
  }

  /** The output's and every gradient's values (the input's last) after one backward of a fixed output gradient. */
  private static float[][] gradients(UnaryOperator<Tensor> seen) {
    Block p = Block.random(1, true);
    Tensor x = input(2).detach().requiresGrad(true);
    Tensor y = block(x, p, seen);
    Kiln.manualSeed(3);
    y.backward(Tensor.randn(N, S, D));
    List<float[]> out = new ArrayList<>();
    out.add(y.toFloatArray());
    for (Tensor t : p.all()) {
      out.add(t.grad().toFloatArray());
    }
    out.add(x.grad().toFloatArray());
    return out.toArray(new float[0][]);
  }

  @Test
  void scaleOfAProductIsDeferredAndKeepsTheProductsValuesOfThen() {
    Kiln.manualSeed(5);
    Tensor a = Tensor.randn(2, 5, 3), b = Tensor.randn(2, 3, 5);
    Tensor product = a.matmul(b);
    Tensor scaled = product.div(Math.sqrt(12)); // not a power of two: the product by 1 / sqrt(12) in float
    assertNotNull(scaled.pendingValues());
    float[] expectedScaled = product.toFloatArray();
    float factor = 1f / (float) Math.sqrt(12);
    for (int i = 0; i < expectedScaled.length; i++) {
      expectedScaled[i] = factor * expectedScaled[i];
    }
    Tensor att = scaled.softmax(-1);
    assertNotNull(scaled.pendingValues(), "the softmax read the scaled rows in scratch");
    assertArrayEquals(Tensor.wrap(expectedScaled, 2, 5, 5).softmax(-1).toFloatArray(), att.toFloatArray());
    product.copyFrom(Tensor.zeros(2, 5, 5)); // a write to the product makes the scale's values first
    assertArrayEquals(expectedScaled, scaled.toFloatArray());
    assertEquals(0f, product.toFloatArray()[0]);
  }

  @Test
  void scaledRowsLongerThanABlockAreSoftmaxedAfterTheScale() {
    Kiln.manualSeed(6);
    int size = ActivationKernels.scaledRowsMax() + 3;
    Tensor a = Tensor.randn(2, 1, 4), b = Tensor.randn(2, 4, size);
    float[] expected = Tensor.wrap(a.matmul(b).div(3f).toFloatArray(), 2, 1, size).softmax(-1).toFloatArray();
    assertArrayEquals(expected, a.matmul(b).div(3f).softmax(-1).toFloatArray());
  }

  @Test
  void geluBackwardFromTheKeptSlopeIsTheKernelsGradientAndSurvivesARetainedGraph() {
    Kiln.manualSeed(7);
    int n = ArrayPool.SMALLEST + 5; // the slope's array from the pool, and back to it after the last backward
    Tensor x = Tensor.randn(n).mul(4f).detach().requiresGrad(true);
    Tensor g = Tensor.randn(n);
    float[] expected = new float[n];
    ActivationKernels.geluBackward(expected, 0, g.toFloatArray(), 0, x.toFloatArray(), 0, n);
    Tensor y = Ops.gelu(x);
    float[] forward = new float[n];
    ActivationKernels.geluForward(forward, 0, x.toFloatArray(), 0, n);
    assertArrayEquals(forward, y.toFloatArray());
    y.backward(g, true);
    assertArrayEquals(expected, x.grad().toFloatArray());
    x.setGrad(null);
    Ops.gelu(Tensor.randn(n).requiresGrad(true)); // takes arrays of this length from the pool (NaN-filled)
    y.backward(g); // the slope is still the node's after a retained backward
    assertArrayEquals(expected, x.grad().toFloatArray());
  }

  @Test
  void aDeferredProductReadLaterHasTheWeightsOfItsForward() {
    Kiln.manualSeed(8);
    Tensor w = Tensor.randn(4, 6), bias = Tensor.randn(4);
    Tensor h = Tensor.randn(5, 6).add(Tensor.zeros(5, 6)), r = Tensor.randn(5, 4);
    float[] expected = Ops.linear(Tensor.wrap(h.toFloatArray(), 5, 6), w, bias).toFloatArray();
    try (var g = Kiln.noGrad()) {
      Tensor y = Ops.linear(h, w, bias);
      assertNotNull(y.pendingValues());
      Tensor sum = r.add(y);
      float[] expectedSum = r.add(Tensor.wrap(expected, 5, 4)).toFloatArray();
      assertArrayEquals(expectedSum, sum.toFloatArray());
      assertArrayEquals(expectedSum, y.add(r).toFloatArray(), "the second read makes the product: a + b is b + a");
      Tensor z = Ops.linear(h, w, bias);
      Tensor activated = Ops.gelu(z);
      w.copyFrom(Tensor.zeros(4, 6)); // an optimizer's write: the unread product is made first
      assertArrayEquals(expected, z.toFloatArray());
      assertArrayEquals(Ops.gelu(Tensor.wrap(expected, 5, 4)).toFloatArray(), activated.toFloatArray());
      Tensor twice = Ops.linear(h, Tensor.randn(4, 6), null);
      Tensor doubled = twice.add(twice); // x + x of one deferred product
      float[] once = twice.toFloatArray();
      float[] d = doubled.toFloatArray();
      for (int i = 0; i < once.length; i++) {
        assertEquals(once[i] + once[i], d[i]);
      }
    }
  }

  @Test
  void aProductMuchSmallerThanItsInputIsMadeAtOnce() {
    Kiln.manualSeed(10);
    Tensor x = Tensor.randn(4, 1792).add(Tensor.zeros(4, 1792)), head = Tensor.randn(10, 1792), down = Tensor.randn(600, 1792);
    try (var g = Kiln.noGrad()) {
      assertNull(Ops.linear(x, head, null).pendingValues(), "evaluation outputs collected unread would keep their inputs");
      assertNotNull(Ops.linear(x, down, null).pendingValues(), "a third of the input's values, or more: deferred");
    }
  }

  @Test
  void aLongChainOfLayersUnderNoGradComputesThroughFewRecipes() {
    Kiln.manualSeed(9);
    int layers = 400;
    Tensor[] w = new Tensor[layers];
    for (int i = 0; i < layers; i++) {
      w[i] = Tensor.randn(6, 6).mul(0.4f);
    }
    Tensor x0 = Tensor.randn(3, 6).add(Tensor.zeros(3, 6));
    Tensor expected = x0;
    for (int i = 0; i < layers; i++) {
      expected = Tensor.wrap(Ops.linear(expected, w[i], null).toFloatArray(), 3, 6);
    }
    try (var g = Kiln.noGrad()) {
      Tensor x = x0;
      for (int i = 0; i < layers; i++) {
        x = Ops.linear(x, w[i], null);
        assertNotNull(x, "layer " + i);
      }
      assertArrayEquals(expected.toFloatArray(), x.toFloatArray());
      Tensor layer = x0;
      int deferred = 0;
      while (true) {
        Tensor next = Ops.linear(layer, w[deferred], null);
        if (next.pendingValues() == null) {
          assertNull(layer.pendingValues(), "the layer before was read (made) by this one");
          break;
        }
        layer = next;
        deferred++;
      }
      assertEquals(Storage.MOST_DEFERRED_DEPTH - 1, deferred, "layers deferred in a row");
    }
  }

  @Test
  void severalThreadsServingInferenceOnOneBlockGetTheSameBits() throws Exception {
    Block p = Block.random(1, false);
    Tensor x = input(2);
    float[] expected;
    try (var g = Kiln.noGrad()) {
      expected = block(x, p, READ_AT_ONCE).toFloatArray();
    }
    int threads = 4;
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        done.add(pool.submit(() -> {
          try (var g = Kiln.noGrad()) {
            for (int i = 0; i < 30; i++) {
              assertArrayEquals(expected, block(x, p, FUSED).toFloatArray());
            }
          }
          return null;
        }));
      }
      for (Future<?> f : done) {
        f.get();
      }
    } finally {
      pool.shutdown();
    }
  }
}
