package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Eager mode's CPU fusions of a convolution, batch norm, ReLU and 2x2 max pool ({@link Deferred}, the ReLU's mask
 * in the max pool's backward) and its reuse of arrays ({@link ArrayPool}): the values and gradients of the ops one
 * by one, bit for bit. The unfused reference multiplies by 1 between the ops (exact, and the product is neither a
 * sealed convolution output nor a ReLU's), which keeps each op to itself.
 */
class EagerFusionTest {
  /** Batch 4 of 16 maps of 32x32, in and out of the convolution: 65536 values, as many as {@link ArrayPool} keeps. */
  private static final int[] INPUT = {4, 16, 32, 32};

  private Tensor x, w, b, gamma, beta, runningMean, runningVar, probe;
  /** The convolution's stride: 1 (Winograd's kernels), 2 (im2col and col2im). */
  private int stride = 1;

  @BeforeEach
  void setUp() {
    ArrayPool.clear();
    Kiln.manualSeed(7);
    x = Tensor.randn(INPUT).requiresGrad(true);
    w = Tensor.randn(16, 16, 3, 3).mul(0.1f).detach().requiresGrad(true);
    b = Tensor.randn(16).detach().requiresGrad(true);
    gamma = Tensor.randn(16).detach().requiresGrad(true);
    beta = Tensor.randn(16).detach().requiresGrad(true);
    runningMean = Tensor.zeros(16);
    runningVar = Tensor.ones(16);
    probe = Tensor.randn(4, 16, 16 / stride, 16 / stride);
  }

  @AfterEach
  void tearDown() {
    ArrayPool.poison = false;
    ArrayPool.clear();
  }

  /** conv -> batch norm -> ReLU -> 2x2 max pool, each op's input multiplied by 1 first when {@code oneByOne}. */
  private Tensor block(boolean training, boolean oneByOne) {
    Tensor c = Ops.conv2d(x, w, b, stride, stride, 1, 1);
    Tensor n = Ops.batchNorm(oneByOne ? c.mul(1f) : c, runningMean, runningVar, gamma, beta, training, 0.1, 1e-5);
    Tensor r = Ops.relu(n);
    return Ops.maxPool2d(oneByOne ? r.mul(1f) : r, 2, 2, 2, 2, 0, 0, false);
  }

  /** The pooled output, the loss's gradients of x and every parameter, and the running statistics, after one backward. */
  private List<float[]> step(boolean oneByOne) {
    for (Tensor p : List.of(x, w, b, gamma, beta)) {
      p.setGrad(null);
    }
    Tensor pooled = block(true, oneByOne);
    Ops.sum(Ops.mul(pooled, probe)).backward();
    List<float[]> out = new ArrayList<>(List.of(pooled.toFloatArray(), runningMean.toFloatArray(), runningVar.toFloatArray()));
    for (Tensor p : List.of(x, w, b, gamma, beta)) {
      out.add(p.grad().toFloatArray());
    }
    return out;
  }

  private static void assertSame(List<float[]> expected, List<float[]> actual) {
    assertEquals(expected.size(), actual.size());
    for (int i = 0; i < expected.size(); i++) {
      assertArrayEquals(expected.get(i), actual.get(i), "entry " + i);
    }
  }

  @Test
  void fusedTrainingStepIsTheOpsOneByOneBitForBit() {
    List<float[]> fused = step(false);
    setUp();
    assertSame(step(true), fused);
  }

  @Test
  void theBatchNormAndReluMapsAreNotComputedUntilRead() {
    Tensor c = Ops.conv2d(x, w, b, stride, stride, 1, 1);
    Tensor n = Ops.batchNorm(c, runningMean, runningVar, gamma, beta, true, 0.1, 1e-5);
    Tensor r = Ops.relu(n);
    Ops.maxPool2d(r, 2, 2, 2, 2, 0, 0, false);
    assertNotNull(n.pendingValues());
    assertNotNull(r.pendingValues());
    float[] read = r.toFloatArray();
    assertNull(r.pendingValues());
    assertArrayEquals(Ops.relu(n.mul(1f)).toFloatArray(), read);
  }

  @Test
  void inferenceWithRunningStatisticsIsTheOpsOneByOne() {
    runningMean = Tensor.randn(16);
    runningVar = Tensor.rand(16).add(Tensor.full(0.5f, 16));
    try (var g = Kiln.noGrad()) {
      assertArrayEquals(block(false, true).toFloatArray(), block(false, false).toFloatArray());
    }
  }

  @Test
  void deferredValuesAreThoseOfTheForwardAfterItsInputsAreWritten() {
    Tensor c, n, r, expectedN, expectedR;
    try (var g = Kiln.noGrad()) {
      c = Ops.conv2d(x, w, b, stride, stride, 1, 1);
      expectedN = Ops.batchNorm(c.mul(1f), runningMean.clone(), runningVar.clone(), gamma, beta, true, 0.1, 1e-5);
      expectedR = Ops.relu(expectedN);
      n = Ops.batchNorm(c, runningMean, runningVar, gamma, beta, true, 0.1, 1e-5);
      r = Ops.relu(n);
    }
    gamma.detach().zero(); // an optimizer step, say: the recipe keeps the forward's copy
    c.zero(); // the convolution's output written in place: both maps are computed first
    assertNull(n.pendingValues());
    assertNull(r.pendingValues());
    assertArrayEquals(expectedN.toFloatArray(), n.toFloatArray());
    assertArrayEquals(expectedR.toFloatArray(), r.toFloatArray());
  }

  @Test
  void aReluReadBeyondTheMaxPoolGetsItsFullGradient() {
    List<float[]> grads = new ArrayList<>();
    for (boolean oneByOne : new boolean[] {true, false}) {
      setUp();
      Tensor r = Ops.relu(Ops.conv2d(x, w, b, stride, stride, 1, 1));
      Tensor pooled = Ops.maxPool2d(oneByOne ? r.mul(1f) : r, 2, 2, 2, 2, 0, 0, false);
      Ops.add(Ops.sum(Ops.mul(pooled, probe)), Ops.sum(Ops.mul(r, r))).backward();
      grads.add(x.grad().toFloatArray());
      grads.add(w.grad().toFloatArray());
    }
    assertArrayEquals(grads.get(0), grads.get(2));
    assertArrayEquals(grads.get(1), grads.get(3));
  }

  @Test
  void arraysFromThePoolAreWrittenWhole() {
    for (int s : new int[] {1, 2}) {
      stride = s;
      setUp();
      List<List<float[]>> fresh = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        ArrayPool.clear(); // every array made anew, zeroed
        fresh.add(step(false));
      }
      setUp();
      ArrayPool.poison = true; // every array taken from the pool full of NaN
      for (int i = 0; i < 3; i++) {
        for (int k = 0; k < ArrayPool.MOST_OF_A_LENGTH; k++) { // so that every array of x's size comes from the pool
          ArrayPool.give(new float[x.numel()]);
        }
        List<float[]> poisoned = step(false);
        assertSame(fresh.get(i), poisoned);
      }
      ArrayPool.poison = false;
    }
  }

  @Test
  void summedGradientsInPoolArraysAreTheFreshOnes() {
    List<List<float[]>> runs = new ArrayList<>();
    for (boolean poisoned : new boolean[] {false, true}) {
      setUp();
      ArrayPool.poison = poisoned;
      for (int k = 0; poisoned && k < ArrayPool.MOST_OF_A_LENGTH; k++) {
        ArrayPool.give(new float[x.numel()]);
      }
      Tensor h = Ops.conv2d(x, w, b, 1, 1, 1, 1); // read twice: the engine adds two gradients it owns, and drops one
      Tensor y = Ops.add(Ops.relu(Ops.batchNorm(h, runningMean, runningVar, gamma, beta, true, 0.1, 1e-5)), h);
      Ops.sum(Ops.mul(y, y)).backward();
      runs.add(List.of(y.toFloatArray(), x.grad().toFloatArray(), w.grad().toFloatArray(), gamma.grad().toFloatArray()));
    }
    assertSame(runs.get(0), runs.get(1));
  }

  @Test
  void stridedFusedStepIsTheOpsOneByOne() {
    stride = 2;
    setUp();
    List<float[]> fused = step(false);
    setUp();
    assertSame(step(true), fused);
  }
}
