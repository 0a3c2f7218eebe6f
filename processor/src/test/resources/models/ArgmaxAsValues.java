package test;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/** An argmax's ids read as values (added to the logits): refused on its line, ids only an Embedding reads. */
@Model(input = {6, 8})
public class ArgmaxAsValues extends Module {
  final Linear predict = new Linear(8, 5);
  final Linear head = new Linear(30, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor logits = predict.apply(x);
    Tensor ids = logits.argmax(-1, true);
    return head.apply(logits.add(ids).flatten(1, 2));
  }
}
