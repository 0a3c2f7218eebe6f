package dev.kiln.processor.ir;

import dev.kiln.dsl.LayerSpec;
import java.util.List;

/**
 * One operation of {@code forward}, in program order: {@code output = spec(input)}, or of several
 * values for an {@link Add} ({@code a + b}) or a {@link Cat}. {@code layer} is the declared layer
 * it calls, or {@code null} for a functional call such as {@code relu(x)} (whose spec is the
 * equivalent layer's). {@code text} is the call as written, for messages.
 *
 * @param inputs the values it reads, in order: one, or an add's two, a cat's one or more
 */
public record StepIr(String output, List<String> inputs, LayerSpec spec, LayerIr layer, String text, Source source) {
  public StepIr {
    inputs = List.copyOf(inputs);
  }

  /** A step of one input. */
  public StepIr(String output, String input, LayerSpec spec, LayerIr layer, String text, Source source) {
    this(output, List.of(input), spec, layer, text, source);
  }

  /** The (first) value it reads. */
  public String input() {
    return inputs.get(0);
  }

  /**
   * Whether it is {@code F.conv2d(x, w, b, ...)} ({@code F.conv1d}): a convolution of no layer, reading x, then its weight and
   * bias, tensor fields of the model.
   */
  public boolean functionalConv() {
    return layer == null && (spec instanceof dev.kiln.dsl.Conv2d.Spec || spec instanceof dev.kiln.dsl.Conv1d.Spec);
  }

  /**
   * Whether it reads tensor fields of the model after its input, as a layer reads its parameters: {@code F.conv2d(x, w, b)}
   * ({@link #functionalConv}), {@code F.groupNorm(x, groups, w, b, eps)} ({@link GroupNormOf}), a PReLU's or {@code
   * F.prelu(x, w)}'s slopes ({@link PReluOf}).
   */
  public boolean functional() {
    return functionalConv() || spec instanceof GroupNormOf || spec instanceof PReluOf;
  }

  /** Whether it reads more than one value (an add or a cat). */
  public boolean joins() {
    return inputs.size() > 1;
  }
}
