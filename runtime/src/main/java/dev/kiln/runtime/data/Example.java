package dev.kiln.runtime.data;

import dev.kiln.runtime.Tensor;
import java.util.Objects;

/**
 * One sample: an input and its target, e.g. an image {@code x} of shape {@code [1, 28, 28]} and a
 * rank-0 {@link dev.kiln.runtime.DType#INT32} class label {@code y}, or a float target for
 * regression.
 *
 * @param x the input
 * @param y the target
 */
public record Example(Tensor x, Tensor y) {
  public Example {
    Objects.requireNonNull(x, "Example: x is null");
    Objects.requireNonNull(y, "Example: y is null");
  }
}
