package dev.kiln.dsl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import org.junit.jupiter.api.Test;

/**
 * The functions attention is written with ({@code F.matmul}, {@code transpose}, {@code permute},
 * {@code mul}/{@code div} by a constant) are the Tensor methods they name, values and gradients:
 * a compiled model is tested against them.
 */
class AttentionFunctionsTest {
  @Test
  void scaledDotProductAttentionAsTensorMethodsAndAsFunctions() {
    Kiln.manualSeed(7);
    Tensor q = Tensor.randn(2, 3, 4).requiresGrad(true);
    Tensor k = Tensor.randn(2, 3, 4).requiresGrad(true);
    Tensor viaFunctions = F.softmax(F.div(F.matmul(q, F.transpose(k, -2, -1)), Math.sqrt(4)), -1);
    Tensor viaMethods = q.matmul(k.transpose(-2, -1)).div(Math.sqrt(4)).softmax(-1);
    assertArrayEquals(new int[] {2, 3, 3}, viaFunctions.shape());
    assertArrayEquals(viaMethods.toFloatArray(), viaFunctions.toFloatArray());
    // PyTorch: [[1, 2], [3, 4]] @ [[1, 2], [3, 4]]^T * 0.5 = [[2.5, 5.5], [5.5, 12.5]]
    Tensor m = Tensor.of(new float[] {1, 2, 3, 4}, 1, 2, 2);
    assertArrayEquals(new float[] {2.5f, 5.5f, 5.5f, 12.5f}, F.mul(F.matmul(m, F.permute(m, 0, 2, 1)), 0.5).toFloatArray());

    Tensor w = Tensor.randn(2, 3, 3); // (a plain sum of softmax rows has no gradient)
    F.mul(viaFunctions, 3.0).mul(w).sum().backward();
    float[] dq = q.grad().toFloatArray();
    q.setGrad(null);
    k.setGrad(null);
    viaMethods.mul(3.0).mul(w).sum().backward();
    assertArrayEquals(q.grad().toFloatArray(), dq);
  }
}
