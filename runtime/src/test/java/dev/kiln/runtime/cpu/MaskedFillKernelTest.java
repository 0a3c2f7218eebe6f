package dev.kiln.runtime.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import org.junit.jupiter.api.Test;

/**
 * A masked fill with a mask of each sample's own (a compiled model's mask input): the eager
 * {@code x.maskedFill(mask.reshape(...).eq(0), v)} bit for bit, forward and gradient, for a padding mask
 * broadcast over heads and query positions and for one broadcast over the last dimension.
 */
class MaskedFillKernelTest {
  @Test
  void aPaddingMaskOverAttentionScoresIsEagerBitForBit() {
    // scores [N=3, H=2, S=4, S=4], mask [N, 4] viewed [N, 1, 1, 4]: groups 3, size 2*4, inner 4
    check(new int[] {3, 2, 4, 4}, new int[] {3, 1, 1, 4}, 3, 8, 4, Float.NEGATIVE_INFINITY);
  }

  @Test
  void aMaskOverTheLastDimensionAndOneOfTheValuesShape() {
    // [N=2, S=5, D=3] with [N, 5, 1]: groups 2*5, size 3, inner 1
    check(new int[] {2, 5, 3}, new int[] {2, 5, 1}, 10, 3, 1, 0f);
    // the value's own shape: size 1
    check(new int[] {2, 5, 3}, new int[] {2, 5, 3}, 1, 1, 30, -1e9f);
  }

  /** Two values compared ({@code x.lt(y)}, a compiled mask of activations), y repeated along the middle or either side: eager's bits. */
  @Test
  void twoValuesComparedAsEagerModeBroadcastsThem() {
    Kiln.manualSeed(9);
    Tensor x = Tensor.randn(2, 5, 3);
    Tensor row = Tensor.randn(2, 5, 1);
    Tensor same = Tensor.randn(2, 5, 3);
    float[] out = new float[30];
    MaskTest.LT.selectRepeated(out, 0, x.toFloatArray(), 0, row.toFloatArray(), 0, 10, 3, 1, false);
    assertArrayEquals(x.lt(row).toFloatArray(), out);
    MaskTest.LT.selectRepeated(out, 0, x.toFloatArray(), 0, row.toFloatArray(), 0, 10, 3, 1, true);
    assertArrayEquals(row.lt(x).toFloatArray(), out);
    MaskTest.GE.selectRepeated(out, 0, x.toFloatArray(), 0, same.toFloatArray(), 0, 2, 1, 15, false);
    assertArrayEquals(x.ge(same).toFloatArray(), out);
    float[] nan = {Float.NaN, 1f, 2f};
    MaskTest.NE.selectRepeated(out, 0, nan, 0, new float[] {Float.NaN, 1f, 3f}, 0, 1, 1, 3, false);
    assertArrayEquals(new float[] {1f, 0f, 1f}, java.util.Arrays.copyOf(out, 3));
  }

  /** A compiled where's gradient per branch, written and added: eager's {@code Tensor.where} gradients bit for bit. */
  @Test
  void whereBranchGradientsAreEagerBitForBit() {
    Kiln.manualSeed(5);
    Tensor a = Tensor.randn(3, 7).requiresGrad(true);
    Tensor b = Tensor.randn(3, 7).requiresGrad(true);
    Tensor c = Tensor.randn(3, 7).gt(0f);
    Tensor g = Tensor.randn(3, 7).mul(-1f);
    Tensor.where(c, a, b).backward(g);
    float[] da = new float[21];
    float[] db = new float[21];
    WhereKernels.branchBackward(da, 0, g.toFloatArray(), 0, c.toFloatArray(), 0, true, 21, false);
    WhereKernels.branchBackward(db, 0, g.toFloatArray(), 0, c.toFloatArray(), 0, false, 21, false);
    assertArrayEquals(a.grad().toFloatArray(), da);
    assertArrayEquals(b.grad().toFloatArray(), db);
    float[] twice = da.clone();
    WhereKernels.branchBackward(twice, 0, g.toFloatArray(), 0, c.toFloatArray(), 0, true, 21, true);
    for (int i = 0; i < 21; i++) {
      assertArrayEquals(new float[] {da[i] + da[i]}, new float[] {twice[i]}, "added at " + i);
    }
    WhereKernels.branchBackward(null, 0, g.toFloatArray(), 0, c.toFloatArray(), 0, true, 21, false); // nothing needs it
  }

  /** The same over a condition that repeats over the result ({@code [7]} over {@code [3, 7]}): eager's gradients bit for bit. */
  @Test
  void whereBranchGradientsOverARepeatedConditionAreEagerBitForBit() {
    Kiln.manualSeed(6);
    Tensor a = Tensor.randn(3, 7).requiresGrad(true);
    Tensor b = Tensor.randn(3, 7).requiresGrad(true);
    Tensor c = Tensor.randn(7).gt(0f);
    Tensor g = Tensor.randn(3, 7).mul(-1f);
    Tensor.where(c, a, b).backward(g);
    float[] da = new float[22];
    float[] db = new float[21];
    WhereKernels.branchBackward(da, 1, g.toFloatArray(), 0, c.toFloatArray(), 0, 7, true, 21, false);
    WhereKernels.branchBackward(db, 0, g.toFloatArray(), 0, c.toFloatArray(), 0, 7, false, 21, false);
    assertArrayEquals(a.grad().toFloatArray(), java.util.Arrays.copyOfRange(da, 1, 22));
    assertArrayEquals(b.grad().toFloatArray(), db);
    float[] twice = db.clone();
    WhereKernels.branchBackward(twice, 0, g.toFloatArray(), 0, c.toFloatArray(), 0, 7, false, 21, true);
    for (int i = 0; i < 21; i++) {
      assertArrayEquals(new float[] {db[i] + db[i]}, new float[] {twice[i]}, "added at " + i);
    }
    WhereKernels.branchBackward(null, 0, g.toFloatArray(), 0, c.toFloatArray(), 0, 7, true, 21, false); // nothing needs it
  }

  private static void check(int[] shape, int[] maskShape, int groups, int size, int inner, float value) {
    Kiln.manualSeed(7);
    Tensor x = Tensor.randn(shape).requiresGrad(true);
    Tensor mask = Tensor.rand(maskShape).gt(0.5f); // 0/1
    Tensor y = x.maskedFill(mask.eq(0), value);
    Tensor g = Tensor.randn(shape);
    y.backward(g);

    float[] out = new float[y.numel()];
    CpuKernels.maskedFillRepeatedForward(out, 0, x.toFloatArray(), 0, mask.toFloatArray(), 0, groups, size, inner, MaskTest.EQ, 0f,
        value);
    assertArrayEquals(y.toFloatArray(), out);
    float[] dx = new float[y.numel()];
    java.util.Arrays.fill(dx, 1f); // overwritten
    CpuKernels.maskedFillRepeatedBackward(dx, 0, g.toFloatArray(), 0, mask.toFloatArray(), 0, groups, size, inner, MaskTest.EQ, 0f,
        false);
    assertArrayEquals(x.grad().toFloatArray(), dx);
    CpuKernels.maskedFillRepeatedBackward(dx, 0, g.toFloatArray(), 0, mask.toFloatArray(), 0, groups, size, inner, MaskTest.EQ, 0f,
        true);
    float[] twice = x.grad().toFloatArray();
    for (int i = 0; i < twice.length; i++) {
      twice[i] += twice[i];
    }
    assertArrayEquals(twice, dx);
  }
}
