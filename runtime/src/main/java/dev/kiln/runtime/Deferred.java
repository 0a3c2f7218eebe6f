package dev.kiln.runtime;

import dev.kiln.runtime.cpu.CpuKernels;
import dev.kiln.runtime.cpu.NormKernels;

/**
 * How the values of an eager CPU output not computed yet will be computed ({@link Storage#deferred}): when
 * something first reads them, or just before the storage they are computed from is written. An op that
 * reads such an output may compute what it needs from the recipe instead, the compiled steps' fusions in
 * eager mode: a ReLU of a batch norm's output normalises and clamps in one pass, a 2x2 max pool of that
 * pools from the convolution's output at once, and the maps in between are never written unless read.
 * The values are the same either way, bit for bit: the fused kernels round as the ones in a row
 * (ParityTest compares compiled and eager mode). A permute's values are made the same way, and a batched
 * matmul reads its operand in place in the source instead ({@link Permute}).
 */
sealed interface Deferred {
  /** Writes every value into {@code out}, an array of the storage's length. */
  void fill(float[] out);

  /**
   * {@code NormKernels.batchNormForward} of {@code x}, a tensor whose storage has this output as a reader
   * ({@link Storage#addReader}), with the statistics and affine parameters as they were at the forward
   * (arrays of the recipe's own: a later optimizer step does not reach them).
   *
   * @param weight {@code [c]} or null, likewise {@code bias}
   */
  record BatchNorm(Tensor x, float[] mean, float[] var, float[] weight, float[] bias, int n, int c, int l, double eps)
      implements Deferred {
    @Override public void fill(float[] out) {
      NormKernels.batchNormForward(out, 0, x.readBuffer(), x.offset(), mean, 0, var, 0, weight, 0, bias, 0, n, c, l, eps);
    }
  }

  /** {@code max(0, bn)}: the batch norm's values clamped, in one pass ({@code NormKernels.batchNormReluForward}). */
  record BatchNormRelu(BatchNorm bn) implements Deferred {
    @Override public void fill(float[] out) {
      NormKernels.batchNormReluForward(out, 0, bn.x().readBuffer(), bn.x().offset(), bn.mean(), 0, bn.var(), 0, bn.weight(), 0,
          bn.bias(), 0, bn.n(), bn.c(), bn.l(), bn.eps());
    }
  }

  /**
   * {@code a + b}, two CPU float tensors of one shape, both {@link Storage#isSealed sealed} (each lists this output as
   * its reader): eager {@code add}'s output, which a ReLU reads as {@code max(a + b, 0)} in one pass instead ({@code
   * Ops.relu}, the compiled residual join's {@code CpuKernels.addForward(..., relu)}), the sum's own map never written
   * unless something else reads it.
   */
  record Add(Tensor a, Tensor b) implements Deferred {
    @Override public void fill(float[] out) {
      CpuKernels.addForward(out, 0, a.readBuffer(), a.offset(), b.readBuffer(), b.offset(), out.length, false);
    }
  }

  /**
   * {@code source} (a CPU float tensor) permuted by {@code order}, of {@code shape} (result dimension i is the source's
   * {@code order[i]}): eager {@code permute}'s output, which a batched matmul reads in place in the source instead
   * ({@code Ops.matmul}). The source need not be sealed: a permute is not of a parameter (written by every optimizer
   * step), and any other array is written through {@code buffer()}, called again before each round of writes, which
   * makes the permute's values first.
   */
  record Permute(Tensor source, int[] order, int[] shape) implements Deferred {
    @Override public void fill(float[] out) {
      CpuKernels.permute(out, 0, source.readBuffer(), source.offset(), source.shape(), order, false);
    }
  }
}
