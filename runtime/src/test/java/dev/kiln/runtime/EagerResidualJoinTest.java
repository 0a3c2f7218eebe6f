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
 * Eager mode's residual join {@code relu(add(h, x))} ({@link Deferred.Add}: the sum computed when read, a ReLU of it
 * adding and clamping in one pass) against the ops one by one, bit for bit: the block's output, the loss's gradients of
 * the input and every parameter, in training and inference, with a max pool's output (block one of the sample's
 * ResNet) and a batch norm's (its projection shortcut) as the skip; the sum read later, after its operands are written,
 * and not deferred over operands a caller may write. The unfused reference multiplies the branch by 1 before the add
 * (exact, and the product is not sealed, so the add runs at once).
 */
class EagerResidualJoinTest {
  private Tensor x, w1, w2, ws, g1, b1, g2, b2, gs, bs, probe;

  @BeforeEach
  void setUp() {
    ArrayPool.clear();
    Kiln.manualSeed(11);
    x = Tensor.randn(2, 8, 16, 16).requiresGrad(true);
    w1 = Tensor.randn(8, 8, 3, 3).mul(0.2f).detach().requiresGrad(true);
    w2 = Tensor.randn(8, 8, 3, 3).mul(0.2f).detach().requiresGrad(true);
    ws = Tensor.randn(8, 8, 1, 1).mul(0.5f).detach().requiresGrad(true);
    g1 = Tensor.randn(8).detach().requiresGrad(true);
    b1 = Tensor.randn(8).detach().requiresGrad(true);
    g2 = Tensor.randn(8).detach().requiresGrad(true);
    b2 = Tensor.randn(8).detach().requiresGrad(true);
    gs = Tensor.randn(8).detach().requiresGrad(true);
    bs = Tensor.randn(8).detach().requiresGrad(true);
    probe = Tensor.randn(2, 8, 8, 8);
  }

  @AfterEach
  void tearDown() {
    ArrayPool.poison = false;
    ArrayPool.clear();
  }

  private Tensor bn(Tensor in, Tensor gamma, Tensor beta, boolean training) {
    return Ops.batchNorm(in, Tensor.zeros(8), Tensor.ones(8), gamma, beta, training, 0.1, 1e-5);
  }

  /**
   * A pooled stem, then two residual blocks as the sample ResNet's: the first joined with the pool's output, the second
   * with a batch-normed 1x1 convolution of the first's output; {@code oneByOne} multiplies each branch by 1 first.
   */
  private Tensor net(boolean training, boolean oneByOne) {
    Tensor stem = Ops.maxPool2d(Ops.relu(bn(Ops.conv2d(x, w1, null, 1, 1, 1, 1), g1, b1, training)), 2, 2, 2, 2, 0, 0, false);
    Tensor h = bn(Ops.conv2d(stem, w2, null, 1, 1, 1, 1), g2, b2, training);
    Tensor joined = Ops.relu(Ops.add(oneByOne ? h.mul(1f) : h, stem));
    Tensor h2 = bn(Ops.conv2d(joined, w2, null, 1, 1, 1, 1), g2, b2, training);
    Tensor shortcut = bn(Ops.conv2d(joined, ws, null, 1, 1, 0, 0), gs, bs, training);
    return Ops.relu(Ops.add(oneByOne ? h2.mul(1f) : h2, shortcut));
  }

  private List<float[]> step(boolean oneByOne) {
    List<Tensor> params = List.of(x, w1, w2, ws, g1, b1, g2, b2, gs, bs);
    for (Tensor p : params) {
      p.setGrad(null);
    }
    Tensor out = net(true, oneByOne);
    Ops.sum(Ops.mul(out, probe)).backward();
    List<float[]> all = new ArrayList<>(List.of(out.toFloatArray()));
    for (Tensor p : params) {
      all.add(p.grad().toFloatArray());
    }
    return all;
  }

  @Test
  void trainingStepIsTheOpsOneByOneBitForBit() {
    List<float[]> fused = step(false);
    setUp();
    List<float[]> reference = step(true);
    assertEquals(reference.size(), fused.size());
    for (int i = 0; i < reference.size(); i++) {
      assertArrayEquals(reference.get(i), fused.get(i), "entry " + i);
    }
  }

  @Test
  void inferenceIsTheOpsOneByOneBitForBit() {
    try (var g = Kiln.noGrad()) {
      assertArrayEquals(net(false, true).toFloatArray(), net(false, false).toFloatArray());
      ArrayPool.poison = true; // arrays from the pool full of NaN: each kernel writes all of its own
      assertArrayEquals(net(false, true).toFloatArray(), net(false, false).toFloatArray());
    }
  }

  @Test
  void theSumIsComputedWhenReadWithItsOperandsOfTheAdd() {
    try (var g = Kiln.noGrad()) {
      Tensor a = Ops.relu(Tensor.randn(3, 70000)), b = Ops.relu(Tensor.randn(3, 70000));
      Tensor expected = Ops.add(a.mul(1f), b);
      Tensor sum = Ops.add(a, b);
      Tensor joined = Ops.relu(sum);
      assertNotNull(sum.pendingValues(), "the ReLU read the operands, not the sum");
      assertArrayEquals(Ops.relu(expected).toFloatArray(), joined.toFloatArray());
      a.zero(); // a write to an operand computes the sum first, from the values it had
      assertNull(sum.pendingValues());
      assertArrayEquals(expected.toFloatArray(), sum.toFloatArray());
    }
  }

  @Test
  void operandsACallerMayWriteAreAddedAtOnce() {
    float[] mine = new float[] {1, -2, 3};
    Tensor a = Tensor.wrap(mine, 3);
    Tensor sum = Ops.add(a, Ops.relu(Tensor.wrap(new float[] {1, 1, 1}, 3)));
    assertNull(sum.pendingValues());
    mine[0] = 100; // written behind the tensor's back: the sum was made before
    assertArrayEquals(new float[] {2, -1, 4}, sum.toFloatArray());
  }
}
