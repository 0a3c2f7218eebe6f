package dev.kiln.processor.read;

import dev.kiln.dsl.BatchNorm;
import dev.kiln.dsl.Conv1d;
import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.ConvTranspose2d;
import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.EmbeddingBag;
import dev.kiln.dsl.GroupNorm;
import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.Linear;
import java.util.Optional;

/**
 * The shapes of a layer's parameters as its accessors return them ({@code fc.weight()}, {@code fc.bias()}), from its
 * hyper-parameters, as the dsl layer registers them: what a size read of one folds to ({@code fc.weight().size(1)}).
 */
final class ParameterShapes {
  private ParameterShapes() {}

  /**
   * The shape of the parameter {@code accessor} ({@code "weight"}, {@code "bias"}) of a layer of {@code spec}: empty when the
   * layer has none (a bias left out, {@code bias=false}: the accessor returns null), null for a layer or accessor not listed.
   */
  static Optional<int[]> of(LayerSpec spec, String accessor) {
    boolean weight = accessor.equals("weight");
    if (!weight && !accessor.equals("bias")) {
      return null;
    }
    if (spec instanceof Linear.Spec l) {
      return weight ? Optional.of(l.weightShape()) : present(l.bias(), l.outFeatures());
    }
    if (spec instanceof Embedding.Spec e) {
      return weight ? Optional.of(e.weightShape()) : null;
    }
    if (spec instanceof EmbeddingBag.Spec e) {
      return weight ? Optional.of(new int[] {e.numEmbeddings(), e.embeddingDim()}) : null;
    }
    if (spec instanceof Conv2d.Spec c) {
      return weight ? Optional.of(new int[] {c.outChannels(), c.inChannels() / c.groups(), c.kernelH(), c.kernelW()})
          : present(c.bias(), c.outChannels());
    }
    if (spec instanceof Conv1d.Spec c) {
      return weight ? Optional.of(new int[] {c.outChannels(), c.inChannels() / c.groups(), c.kernelSize()})
          : present(c.bias(), c.outChannels());
    }
    if (spec instanceof ConvTranspose2d.Spec c) {
      return weight ? Optional.of(c.weightShape())
          : present(c.bias(), c.outChannels());
    }
    if (spec instanceof LayerNorm.Spec n) {
      return n.elementwiseAffine() ? Optional.of(n.normalizedShape()) : Optional.empty();
    }
    if (spec instanceof GroupNorm.Options g) {
      return g.affine() ? Optional.of(new int[] {g.numChannels()}) : Optional.empty();
    }
    if (spec instanceof BatchNorm.Options b) {
      return b.affine() ? Optional.of(new int[] {b.numFeatures()}) : Optional.empty();
    }
    return null;
  }

  private static Optional<int[]> present(boolean present, int... shape) {
    return present ? Optional.of(shape) : Optional.empty();
  }
}
