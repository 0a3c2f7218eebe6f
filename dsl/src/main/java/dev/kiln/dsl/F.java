package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;

/**
 * Functional forms of the layers, for use inside {@code forward} as PyTorch's
 * {@code torch.nn.functional}: {@code import static dev.kiln.dsl.F.*;}.
 */
public final class F {
  private F() {}

  public static Tensor relu(Tensor x) {
    return Ops.relu(x);
  }

  /** Flattens all dimensions after the batch: {@code [N, C, H, W] -> [N, C*H*W]}. */
  public static Tensor flatten(Tensor x) {
    return x.flatten(1, -1);
  }

  public static Tensor flatten(Tensor x, int startDim, int endDim) {
    return x.flatten(startDim, endDim);
  }

  /** {@code x W^T + b}; {@code bias} may be null. */
  public static Tensor linear(Tensor x, Tensor weight, Tensor bias) {
    return Ops.linear(x, weight, bias);
  }

  public static Tensor reshape(Tensor x, int... shape) {
    return x.reshape(shape);
  }

  /** Cross-entropy of logits against class indices, averaged over the batch. */
  public static Tensor crossEntropy(Tensor logits, Tensor target) {
    return Ops.crossEntropy(logits, target, true);
  }

  // ---- convolution and pooling

  // ---- normalisation, dropout, activations

}
