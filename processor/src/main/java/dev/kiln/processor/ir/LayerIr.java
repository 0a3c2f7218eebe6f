package dev.kiln.processor.ir;

import dev.kiln.dsl.LayerSpec;

/**
 * A layer declared in the model: its path as a {@code state_dict} prefix ({@code fc1},
 * {@code 1}, {@code features.0}), its hyper-parameters (folded at compile time) and where it was
 * declared.
 */
public record LayerIr(String path, LayerSpec spec, Source source) {}
