package dev.kiln.processor.ir;

import dev.kiln.dsl.LayerSpec;

/**
 * {@code Tensor.where(mask, a, b)} in a compiled forward: a where the mask is nonzero, b elsewhere, as eager mode's
 * (PyTorch's {@code torch.where}). The step reads {@code a}, {@code b} and the mask (its third value: a comparison's 0/1
 * values, {@code h.gt(0)}, or a value as it is), all of one shape; a and b get the gradient where each was taken, the
 * mask none.
 *
 * @param written the call as written, for messages
 */
public record Where(String written) implements LayerSpec {
  @Override
  public int[] outputShape(int[] in) {
    return in.clone();
  }

  @Override
  public String toString() {
    return written;
  }
}
