package dev.kiln.processor.ir;

import dev.kiln.dsl.LayerSpec;

/**
 * One operation of {@code forward}, in program order: {@code output = spec(input)}, or
 * {@code output = input + other} for an {@link Add}. {@code layer} is the declared layer it calls,
 * or {@code null} for a functional call such as {@code relu(x)} (whose spec is the equivalent
 * layer's). {@code text} is the call as written, for messages.
 *
 * @param other the second value an {@link Add} reads, null for every other step
 */
public record StepIr(String output, String input, String other, LayerSpec spec, LayerIr layer, String text, Source source) {
  /** A step of one input. */
  public StepIr(String output, String input, LayerSpec spec, LayerIr layer, String text, Source source) {
    this(output, input, null, spec, layer, text, source);
  }

  /** The values it reads: its input, and an add's second one. */
  public java.util.List<String> inputs() {
    return other == null ? java.util.List.of(input) : java.util.List.of(input, other);
  }
}
