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
 * Every mask of {@code nn.Transformer} and {@code nn.TransformerDecoder} compiled: the held {@code src_mask [S, S]}, {@code
 * tgt_mask [T, T]} (causal) and {@code memory_mask [T, S]}, and the key padding masks of each sample, further inputs
 * {@code src_key_padding_mask [N, S]}, {@code tgt_key_padding_mask [N, T]}, {@code memory_key_padding_mask [N, S]} (float,
 * added to the scores; any float is added).
 */
@Model(input = {6, 8})
public class PaddedTransformer extends Module {
  final Tensor srcMask = registerBuffer("src_mask", F.attentionMask(Tensor.ones(4, 4).triu(2)));
  final Tensor tgtMask = registerBuffer("tgt_mask", Transformer.generateSquareSubsequentMask(6));
  final Tensor memoryMask = registerBuffer("memory_mask", F.attentionMask(Tensor.ones(6, 4).triu(3)));
  final Transformer transformer = new Transformer(8, 2, 1, 2, 16, 0.0, "relu", 1e-5, true, false);
  final Linear head = new Linear(48, 3);

  @Override
  public Tensor forward(Tensor tgt) {
    return head.apply(flatten(transformer.forward(tgt, tgt)));
  }

  public Tensor forwardPadded(Tensor tgt, @Input({4, 8}) Tensor src, @Input({4}) Tensor srcPad, @Input({6}) Tensor tgtPad,
      @Input({4}) Tensor memoryPad) {
    return head.apply(flatten(transformer.forward(src, tgt, srcMask, tgtMask, memoryMask, srcPad, tgtPad, memoryPad)));
  }
}
