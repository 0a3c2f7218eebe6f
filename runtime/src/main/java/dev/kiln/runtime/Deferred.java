package dev.kiln.runtime;

import dev.kiln.runtime.cpu.Blas;
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
   * {@code x * factor} ({@code CpuKernels.scale}, eager {@code mul}/{@code div} by a constant), {@code x} a {@link
   * Tensor#isSealed sealed} tensor (a matmul's output): a softmax along the last dimension reads the scaled rows block by
   * block instead ({@code Ops.softmax}, attention's {@code q @ k^T / sqrt(d)}), so that the scaled scores are never
   * written unless read.
   */
  record Scale(Tensor x, float factor) implements Deferred {
    @Override public void fill(float[] out) {
      float[] values = x.readBufferOnce(); // a deferred product computed into scratch, not kept
      CpuKernels.scale(out, 0, values, x.offset(), out.length, factor, false);
      x.doneReading(values);
    }
  }

  /**
   * A batched matmul's products under no grad ({@code ProductOps.stridedMatmul}: the operands read in place, sealed), written
   * by {@code into} over an array of the output's length: attention's scores, which the scaled softmax reads into
   * scratch, and {@code att @ v}, which the heads' join reads into scratch.
   */
  record Product(java.util.function.Consumer<float[]> into) implements Deferred {
    @Override public void fill(float[] out) {
      into.accept(out);
    }
  }

  /**
   * {@code x weight^T + bias} ({@code Blas.linear}, {@code bias} may be null), eager {@code linear}'s output under no
   * grad, {@code x} a {@link Tensor#isSealed sealed} tensor (weight and bias are written by an optimizer step, which
   * computes these values first): a same-shape {@code add} or a {@code gelu} of it computes the product into its own
   * output and finishes there in place ({@code Ops.add}, {@code Ops.gelu}; a residual connection, an MLP's
   * activation), so that the product is never written to an array of its own unless something else reads it.
   */
  record Linear(Tensor x, Tensor weight, Tensor bias, int rows, int outF, int in) implements Deferred {
    @Override public void fill(float[] out) {
      float[] xs = x.readBufferOnce(); // a deferred input (the heads' join) computed into scratch, not kept
      compute(out, xs);
      x.doneReading(xs);
    }

    /** The product into {@code out} from {@code xs}, x's values (its array, read at x's offset). */
    void compute(float[] out, float[] xs) {
      Blas.linear(rows, outF, in, xs, x.offset(), weight, bias == null ? null : bias.readBuffer(),
          bias == null ? 0 : bias.offset(), out, 0);
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
      float[] values = source.readBufferOnce(); // a deferred source (a projection) computed into scratch, not kept
      CpuKernels.permute(out, 0, values, source.offset(), source.shape(), order, false);
      source.doneReading(values);
    }
  }
}
