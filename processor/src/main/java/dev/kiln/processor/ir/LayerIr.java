package dev.kiln.processor.ir;

import dev.kiln.dsl.LayerSpec;

/**
 * A layer declared in the model: its path as a {@code state_dict} prefix ({@code fc1},
 * {@code 1}, {@code features.0}), its hyper-parameters (folded at compile time) and where it was
 * declared.
 *
 * @param tiedTo the path of the layer whose weight this layer's weight is ({@code lmHead.weight(wte.weight())}: {@code
 *     wte}), or null when the layer has its own
 * @param tie where the tie was written, or null
 */
public record LayerIr(String path, LayerSpec spec, Source source, String tiedTo, Source tie) {
  public LayerIr {
    if ((tiedTo == null) != (tie == null)) {
      throw new IllegalArgumentException(path + ": a tie needs both the layer it reads and where it was written");
    }
  }

  public LayerIr(String path, LayerSpec spec, Source source) {
    this(path, spec, source, null, null);
  }

  /** This layer with its weight tied to {@code other}'s, as written at {@code at}. */
  public LayerIr tiedTo(String other, Source at) {
    return new LayerIr(path, spec, source, other, at);
  }
}
