package dev.kiln.processor.ir;

import dev.kiln.dsl.LayerSpec;

/**
 * One operation of {@code forward}, in program order: {@code output = spec(input)}. {@code layer}
 * is the declared layer it calls, or {@code null} for a functional call such as {@code relu(x)}
 * (whose spec is the equivalent layer's). {@code text} is the call as written, for messages.
 */
public record StepIr(String output, String input, LayerSpec spec, LayerIr layer, String text, Source source) {}
