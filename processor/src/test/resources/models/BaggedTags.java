package test;

import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.EmbeddingBag;
import dev.kiln.dsl.Input;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;
import java.util.List;

/**
 * Features beside ids: a category's row (one id per sample) and the maximum of three tags' rows, an {@code
 * EmbeddingBag} over a further input of ids ({@code @Input({3})}: each sample's tags one bag, the padding tag left out).
 */
@Model(input = {6})
public class BaggedTags extends Module {
  static final int D = 4;

  final Linear fc = new Linear(6, D);
  final Embedding categoryRows = new Embedding(5, D, 0);
  final EmbeddingBag tagRows = new EmbeddingBag(8, D, EmbeddingBag.Mode.MAX).paddingIdx(0);
  final Linear head = new Linear(3 * D, 3);

  public Tensor forwardTagged(Tensor x, @Input({1}) Tensor category, @Input({3}) Tensor tags) {
    Tensor c = categoryRows.apply(category).reshape(-1, D);                       // [N, 1] ids -> [N, D]
    return head.apply(Tensor.cat(List.of(relu(fc.apply(x)), c, tagRows.apply(tags)), 1));   // tags [N, 3] -> [N, D]
  }

  @Override
  public Tensor forward(Tensor x) {
    return fc.apply(x);
  }
}
