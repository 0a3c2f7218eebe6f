package test;

import static dev.kiln.dsl.F.flatten;

import dev.kiln.dsl.F;
import dev.kiln.dsl.Input;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.Transformer;
import dev.kiln.runtime.Tensor;

/**
 * {@code nn.TransformerDecoder}'s key padding masks compiled, the decoder a Transformer's ({@code transformer.decoder()},
 * PyTorch's {@code transformer.decoder}): {@code tgt_key_padding_mask [N, T]} and {@code memory_key_padding_mask [N, S]},
 * further inputs (float, added to the scores), beside the held causal {@code tgt_mask}; forward runs the encoder's
 * {@code transformer.encoder().apply(x)} as the memory.
 */
@Model(input = {6, 8})
public class PaddedDecoder extends Module {
  final Tensor tgtMask = registerBuffer("tgt_mask", F.attentionMask(Tensor.ones(6, 6).triu(1)));
  final Transformer transformer = new Transformer(8, 2, 1, 2, 16, 0.0, "relu", 1e-5, true, true);
  final Linear head = new Linear(48, 3);

  @Override
  public Tensor forward(Tensor tgt) {
    Tensor memory = transformer.encoder().apply(tgt);
    return head.apply(flatten(transformer.decoder().forward(tgt, memory)));
  }

  public Tensor forwardPadded(Tensor tgt, @Input({4, 8}) Tensor memory, @Input({6}) Tensor tgtPad,
      @Input({4}) Tensor memoryPad) {
    return head.apply(flatten(transformer.decoder().forward(tgt, memory, tgtMask, null, tgtPad, memoryPad)));
  }
}
