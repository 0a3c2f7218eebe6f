package test;

import static dev.kiln.dsl.F.flatten;

import dev.kiln.dsl.Input;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.Transformer;
import dev.kiln.runtime.Tensor;

/**
 * The smallest {@code nn.Transformer}: one encoder and one decoder layer without dropout, the source a further input of 3
 * tokens, the output the decoder's over the 4 target tokens, classified.
 */
@Model(input = {4, 8})
public class SmallTransformer extends Module {
  final Transformer transformer = new Transformer(8, 2, 1, 1, 16, 0.0, "relu", 1e-5, true, false);
  final Linear head = new Linear(32, 3);

  @Override
  public Tensor forward(Tensor tgt) {
    return head.apply(flatten(transformer.forward(tgt, tgt)));
  }

  public Tensor forwardPair(Tensor tgt, @Input({3, 8}) Tensor src) {
    return head.apply(flatten(transformer.forward(src, tgt)));
  }
}
