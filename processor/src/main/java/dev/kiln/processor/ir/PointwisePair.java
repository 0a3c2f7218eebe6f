package dev.kiln.processor.ir;

import dev.kiln.dsl.LayerSpec;
import dev.kiln.runtime.cpu.PointwiseKernels;

/**
 * {@code a.maximum(b)}, {@code a.minimum(b)} or {@code a.atan2(b)} in a compiled forward: a differentiable two-input function of {@code
 * cpu.PointwiseKernels}' table of two values of the batch, broadcast as PyTorch broadcasts them (as eager mode, the one
 * with sizes of 1 expanded to the result's shape first, its gradient summed back); forward and gradients the table's.
 *
 * @param function the table's entry
 * @param written the call as written, for messages
 */
public record PointwisePair(PointwiseKernels.Binary function, String written) implements LayerSpec {
  /** The differentiable entry of the table named {@code method} ({@code maximum}, {@code minimum}, {@code atan2}), else null. */
  public static PointwiseKernels.Binary of(String method) {
    return switch (method) {
      case "maximum" -> PointwiseKernels.Binary.MAXIMUM;
      case "minimum" -> PointwiseKernels.Binary.MINIMUM;
      case "atan2" -> PointwiseKernels.Binary.ATAN2;
      default -> null;
    };
  }

  /** The Tensor method: {@code maximum}, {@code minimum}, {@code atan2}. */
  public String method() {
    return function.opName;
  }

  @Override
  public int[] outputShape(int[] in) {
    return in.clone();
  }

  @Override
  public String toString() {
    return written;
  }
}
