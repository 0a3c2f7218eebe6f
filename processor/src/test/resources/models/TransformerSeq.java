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
 * PyTorch's {@code nn.Transformer(8, 2, 2, 1, 16, 0.1, batch_first=True)} compiled: the source a memory of 3 made from pairs
 * of the input's tokens, the target the input itself under the causal {@code tgt_mask} (a buffer of 0 and -inf), dropout
 * 0.1 everywhere (the attention weights, dropout1..3, the feed-forward part) in training. {@code forwardPair} takes the
 * source as a further input of 4 tokens, with PyTorch's eight-argument forward.
 */
@Model(input = {6, 8})
public class TransformerSeq extends Module {
  static final int T = 6;

  final Tensor causal = registerBuffer("causal", F.attentionMask(Tensor.ones(T, T).triu(1)));
  final Linear pairs = new Linear(16, 8);
  final Transformer transformer = new Transformer(8, 2, 2, 1, 16, 0.1, "relu", 1e-5, true, false);
  final Linear head = new Linear(48, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor src = pairs.apply(x.view(-1, 3, 16));                    // [N, 3, 8]
    return head.apply(flatten(transformer.forward(src, x, null, causal, null, null, null, null)));
  }

  public Tensor forwardPair(Tensor tgt, @Input({4, 8}) Tensor src) {
    return head.apply(flatten(transformer.forward(src, tgt)));
  }
}
