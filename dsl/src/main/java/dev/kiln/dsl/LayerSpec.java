package dev.kiln.dsl;

/**
 * A layer's hyper-parameters and shape rule, without parameters or tensors. Each layer class has
 * one (e.g. {@link Linear.Spec}); the layer delegates to it at run time and the annotation
 * processor calls the same code at compile time, so a shape rule exists exactly once.
 */
public interface LayerSpec {
  /**
   * The output shape for an input shape; -1 stands for the batch dimension.
   *
   * @throws ShapeException naming the layer ({@link #toString()}), the expected and the received shape
   */
  int[] outputShape(int[] inputShape);

  /** PyTorch's repr of the layer, e.g. {@code Linear(in_features=784, out_features=512, bias=True)}. */
  @Override
  String toString();
}
