package dev.kiln.dsl;

/**
 * A layer received an input whose shape it cannot take. The message names the layer, the shape it
 * expected and the one it received, e.g. {@code Linear(in_features=1152, out_features=10,
 * bias=True) expects [N, 1152], receives [64, 6272]} (a {@link Sequential} puts the layer's name in
 * front: {@code Sequential layer 'fc1': ...}); the annotation processor reports the same rule at
 * compile time, on the line of the call, with the batch as N and where the input came from.
 */
public class ShapeException extends IllegalArgumentException {
  public ShapeException(String message) {
    super(message);
  }
}
