package dev.kiln.dsl;

import dev.kiln.runtime.Intermediates;
import dev.kiln.runtime.Tensor;

/**
 * A stack of {@code numLayers} copies of an encoder layer, then an optional norm: PyTorch 1.13's
 * {@code nn.TransformerEncoder(encoder_layer, num_layers, norm)}. As PyTorch's, the layers are deep copies of
 * {@code layer} (the same initial values in each; {@code layer} itself is not one of them); the state-dict keys are
 * {@code layers.0.self_attn.in_proj_weight}, ..., {@code norm.weight}.
 */
public class TransformerEncoder extends Module {
  private final transient ModuleList<TransformerEncoderLayer> layers;
  private final transient LayerNorm norm;

  public TransformerEncoder(TransformerEncoderLayer layer, int numLayers) {
    this(layer, numLayers, null);
  }

  /** @param norm applied to the last layer's output, or null */
  public TransformerEncoder(TransformerEncoderLayer layer, int numLayers, LayerNorm norm) {
    this.layers = registerModule("layers", new ModuleList<>(TransformerDecoder.copies("TransformerEncoder", "encoder_layer",
        layer, numLayers, () -> new TransformerEncoderLayer(layer.spec()))));
    this.norm = norm == null ? null : registerModule("norm", norm);
  }

  /** The copies, in order. */
  public ModuleList<TransformerEncoderLayer> layers() {
    return layers;
  }

  /** The final norm, or null. */
  public LayerNorm norm() {
    return norm;
  }

  @Override
  public Tensor forward(Tensor src) {
    return forward(src, null, null);
  }

  /** PyTorch's {@code forward(src, mask, src_key_padding_mask)}: each layer with the same masks, then the norm. */
  public Tensor forward(Tensor src, Tensor mask, Tensor srcKeyPaddingMask) {
    Tensor x = src;
    Intermediates outputs = intermediates(src); // under no grad: each layer's output given back once the next has read it
    for (TransformerEncoderLayer layer : layers) {
      x = layer.forward(x, mask, srcKeyPaddingMask);
      if (outputs != null) {
        outputs.next(x);
      }
    }
    if (norm == null) {
      return x;
    }
    Tensor y = norm.apply(x);
    if (outputs != null) {
      outputs.next(y); // the last layer's output too
    }
    return y;
  }

  @Override
  public int[] outputShape(int[] inputShape) {
    return layers.get(0).outputShape(inputShape);
  }
}
