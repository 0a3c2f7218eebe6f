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
 * two-layer {@link TransformerEncoder} with both masks, of a {@link Transformer} (encoder and decoder, causal target,
 * padded memory) and of a {@link MultiheadAttention} with kdim/vdim, bias_k/bias_v and zero attention (the cat and pad
 * those add), outputs and every gradient to 1e-4 relative norm error.
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

  @Test
  void transformerWithMasksOnTheDeviceAsOnTheCpu() {
    Kiln.manualSeed(13);
    Transformer cpu = new Transformer(8, 2, 1, 2, 16, 0.1, "relu", 1e-5, false, false);
    Transformer gpu = new Transformer(8, 2, 1, 2, 16, 0.1, "relu", 1e-5, false, false);
    gpu.loadStateDict(cpu.stateDict());
    gpu.to(GPU);
    cpu.eval();
    gpu.eval();
    Pair src = Pair.of(Tensor.randn(6, 3, 8));
    Pair tgt = Pair.of(Tensor.randn(5, 3, 8));
    Tensor causal = Transformer.generateSquareSubsequentMask(5);
    Tensor padding = F.attentionMask(Tensor.of(new float[] {0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1}, 3, 6));
    Tensor oc = cpu.forward(src.cpu(), tgt.cpu(), null, causal, null, padding, null, padding);
    Tensor og = gpu.forward(src.gpu(), tgt.gpu(), null, causal.to(GPU), null, padding.to(GPU), null, padding.to(GPU));
    assertTrue(og.device().isCuda(), "output on " + og.device());
    close("transformer output", oc, og);
    Tensor w = Tensor.randn(oc.shape());
    oc.mul(w).sum().backward();
    og.mul(w.to(GPU)).sum().backward();
    close("transformer src gradient", src.cpu().grad(), src.gpu().grad());
    close("transformer tgt gradient", tgt.cpu().grad(), tgt.gpu().grad());
    parametersAgree("transformer", cpu, gpu);
  }

  @Test
  void attentionWithKdimBiasKvAndZeroAttentionOnTheDeviceAsOnTheCpu() {
    Kiln.manualSeed(14);
    MultiheadAttention cpu = new MultiheadAttention(8, 2, 0, true, true, true, 5, 3, true);
    MultiheadAttention gpu = new MultiheadAttention(8, 2, 0, true, true, true, 5, 3, true);
    gpu.loadStateDict(cpu.stateDict());
    gpu.to(GPU);
    Pair q = Pair.of(Tensor.randn(2, 4, 8));
    Pair k = Pair.of(Tensor.randn(2, 6, 5));
    Pair v = Pair.of(Tensor.randn(2, 6, 3));
    Tensor padding = F.attentionMask(Tensor.of(new float[] {0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0}, 2, 6));
    Tensor causal = F.attentionMask(Tensor.ones(4, 6).triu(1));
    MultiheadAttention.Output oc = cpu.forward(q.cpu(), k.cpu(), v.cpu(), padding, true, causal);
    MultiheadAttention.Output og = gpu.forward(q.gpu(), k.gpu(), v.gpu(), padding.to(GPU), true, causal.to(GPU));
    assertTrue(og.output().device().isCuda(), "output on " + og.output().device());
    close("attention output", oc.output(), og.output());
    close("attention weights", oc.weights(), og.weights());
    Tensor w = Tensor.randn(oc.output().shape());
    oc.output().mul(w).sum().backward();
    og.output().mul(w.to(GPU)).sum().backward();
    close("attention query gradient", q.cpu().grad(), q.gpu().grad());
    close("attention key gradient", k.cpu().grad(), k.gpu().grad());
    close("attention value gradient", v.cpu().grad(), v.gpu().grad());
    parametersAgree("attention", cpu, gpu);
  }
}
