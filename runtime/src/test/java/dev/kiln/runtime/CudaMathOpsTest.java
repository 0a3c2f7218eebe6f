package dev.kiln.runtime;

import static dev.kiln.runtime.CudaOpsTest.compare;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.CudaOpsTest.Match;
import dev.kiln.runtime.cpu.PointwiseKernels.Binary;
import dev.kiln.runtime.cpu.PointwiseKernels.Unary;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The math functions, logical ops, prod, amax and the writes by index on CUDA against the CPU
 * ({@link CudaOpsTest#compare}: values and gradients, results and gradients on the device).
 */
@Tag("cuda")
class CudaMathOpsTest {
  private static Device gpu;

  @BeforeAll
  static void requireGpu() {
    gpu = Device.cuda();
  }

  @BeforeEach
  void seed() {
    Kiln.manualSeed(31);
  }

  @Test
  void pointwiseFunctionsAgreeWithTheCpu() {
    float[] edges = {-2.5f, -1.5f, -0.5f, 0.5f, 1.5f, 2.5f, -0f, 0f, Float.NaN, 3.7f, -3.7f, 1e-7f};
    for (Unary f : new Unary[] {Unary.FLOOR, Unary.CEIL, Unary.ROUND, Unary.TRUNC, Unary.SIGN, Unary.SQUARE, Unary.RECIPROCAL}) {
      compare(f.opName, Match.EXACT, in -> Ops.pointwise(f, in[0]), Tensor.of(edges.clone(), 3, 4));
    }
    compare("rsqrt", Match.EXACT, in -> Ops.pointwise(Unary.RSQRT, in[0]), Tensor.uniform(0.1f, 4, 5, 6));
    compare("log1p", Match.CLOSE, in -> Ops.pointwise(Unary.LOG1P, in[0]), Tensor.uniform(-0.5f, 3, 5, 6));
    compare("expm1", Match.CLOSE, in -> Ops.pointwise(Unary.EXPM1, in[0]), Tensor.uniform(-2, 4, 5, 6));
  }

  @Test
  void binaryFunctionsAgreeWithTheCpu() {
    Tensor a = Tensor.of(new float[] {1, 2, 3, Float.NaN, 0.5f, -1}, 2, 3), b = Tensor.of(new float[] {1, 1, 4}, 3);
    compare("maximum", Match.EXACT, in -> in[0].maximum(in[1]), a, b);
    compare("minimum", Match.EXACT, in -> in[0].minimum(in[1]), a, b);
    compare("atan2", Match.CLOSE, in -> in[0].atan2(in[1]), Tensor.randn(3, 4), Tensor.uniform(0.5f, 2, 3, 1));
    compare("lerp", Match.CLOSE, in -> in[0].lerp(in[1], in[2]), Tensor.randn(3, 4), Tensor.randn(4), Tensor.rand(3, 4));
    Tensor x = Tensor.randn(4, 5).to(gpu), y = Tensor.randn(4, 5).to(gpu);
    for (Binary f : new Binary[] {Binary.LOGICAL_AND, Binary.LOGICAL_OR, Binary.LOGICAL_XOR}) {
      Tensor m = Ops.pointwise(f, x.gt(0), y.lt(0));
      assertTrue(m.device().isCuda(), f.opName);
      assertArrayEquals(Ops.pointwise(f, x.gt(0).to(Device.cpu()), y.lt(0).to(Device.cpu())).toFloatArray(), m.toFloatArray(), f.opName);
    }
    assertArrayEquals(x.to(Device.cpu()).eq(0).toFloatArray(), x.eq(0).logicalNot().logicalNot().toFloatArray());
  }

  @Test
  void reductionsAgreeWithTheCpu() {
    Tensor z = Tensor.of(new float[] {2, 0, 3, 0, 0, 1, 1, 2, 3, -1, 0.5f, 4}, 4, 3);
    compare("prod dim", Match.EXACT, in -> in[0].prod(1), z);
    compare("prod dim 0", Match.EXACT, in -> in[0].prod(0, true), Tensor.uniform(0.5f, 1.5f, 5, 3, 2));
    compare("prod", Match.EXACT, in -> in[0].prod(), Tensor.uniform(0.5f, 1.5f, 3, 4));
    compare("amax", Match.CLOSE, in -> in[0].amax(0, 2), Tensor.of(new float[] {1, 3, 3, 2, 2, 2, 0, 1, 3, 2, 2, 1}, 2, 3, 2));
    compare("amin", Match.CLOSE, in -> in[0].amin(new int[] {1}, true), Tensor.randn(3, 4));
    Tensor m = Tensor.of(new float[] {1, 0, 1, 1}, 2, 2).to(gpu);
    assertEquals(0f, m.all().item());
    assertEquals(1f, m.any().item());
    assertArrayEquals(new float[] {0, 1}, m.all(1).toFloatArray());
    assertTrue(m.any(0).device().isCuda());
  }

  @Test
  void writesByIndexAgreeWithTheCpu() {
    Tensor index = Tensor.labels(0, 2, 1, 3, 1, 0).reshape(2, 3);
    compare("scatter", Match.EXACT, in -> in[0].scatter(1, in[1], in[2]), Tensor.randn(2, 4), index, Tensor.randn(2, 5));
    compare("scatter value", Match.EXACT, in -> in[0].scatter(1, in[1], 2f), Tensor.randn(2, 4), index);
    compare("scatter_add", Match.EXACT, in -> in[0].scatterAdd(0, in[1], in[2]), Tensor.randn(4, 3), Tensor.labels(0, 0, 3, 1, 0, 3)
        .reshape(2, 3), Tensor.randn(2, 3));
    compare("index_add", Match.EXACT, in -> in[0].indexAdd(0, in[1], in[2], 2f), Tensor.randn(3, 2), Tensor.labels(2, 0, 2),
        Tensor.randn(3, 2));
    compare("index_copy", Match.EXACT, in -> in[0].indexCopy(1, in[1], in[2]), Tensor.randn(2, 3), Tensor.labels(2, 0), Tensor.randn(2, 2));
    compare("index_fill", Match.EXACT, in -> in[0].indexFill(1, in[1], -1f), Tensor.randn(2, 3), Tensor.labels(1));
    compare("masked_select", Match.EXACT, in -> in[0].maskedSelect(in[0].gt(0)), Tensor.randn(3, 4));
    compare("roll", Match.EXACT, in -> in[0].roll(new int[] {1, -1}, new int[] {0, 1}), Tensor.randn(3, 4));
    Tensor nz = Tensor.of(new float[] {0, 1, 2, 0}, 2, 2).to(gpu).nonzero();
    assertTrue(nz.device().isCuda());
    assertEquals(DType.INT32, nz.dtype());
    assertArrayEquals(new int[] {0, 1, 1, 0}, nz.toIntArray());
    assertNull(nz.gradFn());
    var e = assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(gpu, 2, 3).scatter(1, Tensor.labels(3).reshape(1, 1).to(gpu), 1f));
    assertTrue(e.getMessage().startsWith("scatter: index 3 at [0, 0] is out of range"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(gpu, 2).maximum(Tensor.zeros(2)));
    assertTrue(e.getMessage().startsWith("maximum"), e.getMessage());
  }
}
