package test;

import dev.kiln.dsl.Input;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * A scatterAdd of a further input's ids ({@code @Input({2})}, two tags per sample, read by writes alone: a label tensor),
 * a one-hot of ids computed from them ({@code zeros.scatter(1, tags.add(1).remainder(8), 1f)} of a value of the batch), and a
 * scatter at ids computed from an argmax, and a gather at the tags.
 */
@Model(input = {6})
public class ScatteredTags extends Module {
  final Linear fc = new Linear(6, 8);
  final Linear weights = new Linear(6, 2);
  final Linear head = new Linear(8, 3);

  public Tensor forwardTagged(Tensor x, @Input({2}) Tensor tags) {
    Tensor h = fc.apply(x);                                      // [N, 8]
    Tensor marked = h.scatterAdd(1, tags, weights.apply(x));     // each tag's weight added at its place
    Tensor oneHot = h.mul(0f).scatter(1, tags.add(1).remainder(8), 1f);   // 1 at each tag's next place
    Tensor next = h.scatter(1, h.argmax(1, true).add(1).clampMax(7), 0f);  // the place after each argmax zeroed
    Tensor sum = marked.add(oneHot).add(next);
    return head.apply(sum.scatterAdd(1, tags, h.gather(1, tags)));        // h at each tag added again
  }

  @Override
  public Tensor forward(Tensor x) {
    return head.apply(fc.apply(x));
  }
}
