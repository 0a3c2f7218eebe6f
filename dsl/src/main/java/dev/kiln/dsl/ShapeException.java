package dev.kiln.dsl;

/**
 * A layer received an input whose shape it cannot take. The message names the layer, the shape it
 * expected and the one it received, e.g. {@code Linear(in_features=1152) expects [N, 1152],
 * receives [N, 6272]}; the annotation processor reports the same sentence at compile time.
 */
public class ShapeException extends IllegalArgumentException {
  public ShapeException(String message) {
    super(message);
  }
}
