package dev.kiln.dsl;

import dev.kiln.runtime.Intermediates;
import dev.kiln.runtime.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * A stack of {@code numLayers} copies of a decoder layer, then an optional norm: PyTorch 1.13's
 * {@code nn.TransformerDecoder(decoder_layer, num_layers, norm)}. As PyTorch's (and {@link TransformerEncoder}'s),
 * the layers are deep copies of {@code layer} (the same initial values in each; {@code layer} itself is not one of
 * them); the state-dict keys are {@code layers.0.self_attn.in_proj_weight}, ..., {@code layers.0.multihead_attn...},
 * {@code norm.weight}. Every layer attends over the same memory with the same masks.
 */
public class TransformerDecoder extends Module {
  private final transient ModuleList<TransformerDecoderLayer> layers;
  private final transient LayerNorm norm;

  public TransformerDecoder(TransformerDecoderLayer layer, int numLayers) {
    this(layer, numLayers, null);
  }

  /** @param norm applied to the last layer's output, or null */
  public TransformerDecoder(TransformerDecoderLayer layer, int numLayers, LayerNorm norm) {
    this.layers = registerModule("layers", new ModuleList<>(
        copies("TransformerDecoder", "decoder_layer", layer, numLayers, () -> new TransformerDecoderLayer(layer.spec()))));
    this.norm = norm == null ? null : registerModule("norm", norm);
  }

  /**
   * {@code numLayers} deep copies of {@code layer} (PyTorch's {@code _get_clones}): each {@code fresh} one loaded with
   * {@code layer}'s state, in its mode, on its device.
   *
   * @param who the stack, for messages ({@code "TransformerEncoder"})
   * @param what the layer's parameter name in PyTorch ({@code "encoder_layer"})
   */
  static <L extends Module> List<L> copies(String who, String what, L layer, int numLayers, Supplier<L> fresh) {
    if (layer == null) {
      throw new IllegalArgumentException(who + ": " + what + " must not be null");
    }
    if (numLayers <= 0) {
      throw new IllegalArgumentException(who + ": num_layers must be positive, got " + numLayers);
    }
    List<L> copies = new ArrayList<>();
    for (int i = 0; i < numLayers; i++) {
      L copy = fresh.get();
      copy.loadStateDict(layer.stateDict());
      copy.train(layer.isTraining());
      copy.to(layer.parameters().get(0).device());
      copies.add(copy);
    }
    return copies;
  }

  /** The copies, in order. */
  public ModuleList<TransformerDecoderLayer> layers() {
    return layers;
  }

  /** The final norm, or null. */
  public LayerNorm norm() {
    return norm;
  }

  /** Refused: a decoder needs the memory too. */
  @Override
  public Tensor forward(Tensor tgt) {
    throw new UnsupportedOperationException("TransformerDecoder needs the encoder's output too: forward(tgt, memory)");
  }

  /** {@code forward(tgt, memory, null, null, null, null)}: no masks. */
  public Tensor forward(Tensor tgt, Tensor memory) {
    return forward(tgt, memory, null, null, null, null);
  }

  /**
   * PyTorch's {@code forward(tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask)}:
   * each layer with the same memory and masks (see {@link TransformerDecoderLayer#forward(Tensor, Tensor, Tensor,
   * Tensor, Tensor, Tensor)}), then the norm.
   */
  public Tensor forward(Tensor tgt, Tensor memory, Tensor tgtMask, Tensor memoryMask, Tensor tgtKeyPaddingMask,
      Tensor memoryKeyPaddingMask) {
    Tensor x = tgt;
    Intermediates outputs = intermediates(tgt); // under no grad: each layer's output given back once the next has read it
    for (TransformerDecoderLayer layer : layers) {
      x = layer.forward(x, memory, tgtMask, memoryMask, tgtKeyPaddingMask, memoryKeyPaddingMask);
      if (outputs != null) {
        outputs.next(x);
      }
    }
    return norm == null ? x : norm.apply(x);
  }

  @Override
  public int[] outputShape(int[] tgtShape) {
    return layers.get(0).outputShape(tgtShape);
  }
}
