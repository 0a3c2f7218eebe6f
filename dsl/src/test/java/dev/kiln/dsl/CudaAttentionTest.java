package dev.kiln.dsl;

import static dev.kiln.dsl.CudaRecurrentTest.GPU;
import static dev.kiln.dsl.CudaRecurrentTest.close;
import static dev.kiln.dsl.CudaRecurrentTest.parametersAgree;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.dsl.CudaRecurrentTest.Pair;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The attention layers on CUDA (the existing device ops: linear, batched matmul, softmax, layer norm, masks) against
 * the same layers on the CPU: one forward and backward of {@link F#scaledDotProductAttention} (causal) and of a
 * two-layer {@link TransformerEncoder} with both masks, outputs and every gradient to 1e-4 relative norm error.
 * Needs a GPU: tagged cuda.
 */
@Tag("cuda")
class CudaAttentionTest {
  @Test
  void scaledDotProductAttentionOnTheDeviceAsOnTheCpu() {
    Kiln.manualSeed(11);
    Pair q = Pair.of(Tensor.randn(2, 3, 5, 8));
    Pair k = Pair.of(Tensor.randn(2, 3, 6, 8));
    Pair v = Pair.of(Tensor.randn(2, 3, 6, 4));
    Tensor oc = F.scaledDotProductAttention(q.cpu(), k.cpu(), v.cpu(), null, 0, true);
    Tensor og = F.scaledDotProductAttention(q.gpu(), k.gpu(), v.gpu(), null, 0, true);
    assertTrue(og.device().isCuda(), "output on " + og.device());
    close("sdpa output", oc, og);
    Tensor w = Tensor.randn(oc.shape());
    oc.mul(w).sum().backward();
    og.mul(w.to(GPU)).sum().backward();
    close("sdpa q gradient", q.cpu().grad(), q.gpu().grad());
    close("sdpa k gradient", k.cpu().grad(), k.gpu().grad());
    close("sdpa v gradient", v.cpu().grad(), v.gpu().grad());
  }

  @Test
  void encoderWithMasksOnTheDeviceAsOnTheCpu() {
    Kiln.manualSeed(12);
    TransformerEncoder cpu = new TransformerEncoder(new TransformerEncoderLayer(8, 2, 16, 0.1, "gelu", 1e-5, true, true), 2,
        new LayerNorm(8));
    TransformerEncoder gpu = new TransformerEncoder(new TransformerEncoderLayer(8, 2, 16, 0.1, "gelu", 1e-5, true, true), 2,
        new LayerNorm(8));
    gpu.loadStateDict(cpu.stateDict());
    gpu.to(GPU);
    cpu.eval();
    gpu.eval();
    Pair x = Pair.of(Tensor.randn(3, 5, 8));
    Tensor causal = F.attentionMask(Tensor.ones(5, 5).triu(1));
    Tensor padding = F.attentionMask(Tensor.of(new float[] {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1}, 3, 5));
    Tensor oc = cpu.forward(x.cpu(), causal, padding);
    Tensor og = gpu.forward(x.gpu(), causal.to(GPU), padding.to(GPU));
    assertTrue(og.device().isCuda(), "output on " + og.device());
    close("encoder output", oc, og);
    Tensor w = Tensor.randn(oc.shape());
    oc.mul(w).sum().backward();
    og.mul(w.to(GPU)).sum().backward();
    close("encoder input gradient", x.cpu().grad(), x.gpu().grad());
    parametersAgree("encoder", cpu, gpu);
  }
}
