package test;

import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.Input;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;
import java.util.List;

/**
 * An image beside ids: a small CNN's features of x joined with a category's row (one id per sample,
 * {@code @Input({1})}) and the mean of three tags' rows ({@code @Input({3})}), into an MLP head.
 */
@Model(input = {1, 6, 6})
public class TaggedImage extends Module {
  static final int CATEGORIES = 5;
  static final int TAGS = 8;
  static final int D = 3;

  final Conv2d conv = new Conv2d(1, 2, 3);
  final Embedding categoryRows = new Embedding(CATEGORIES, D);
  final Embedding tagRows = new Embedding(TAGS, D, 0);
  final Linear hidden = new Linear(2 * 4 * 4 + 2 * D, 8);
  final Linear head = new Linear(8, 3);
  final Linear imageHead = new Linear(2 * 4 * 4, 3);

  public Tensor forwardTagged(Tensor x, @Input({1}) Tensor category, @Input({3}) Tensor tags) {
    Tensor features = flatten(relu(conv.apply(x)));                                // [N, 32]
    Tensor c = categoryRows.apply(category).reshape(-1, D);                         // [N, 1] ids -> [N, D]
    Tensor t = tagRows.apply(tags).mean(1);                                         // [N, 3] ids -> [N, 3, D] -> [N, D]
    return head.apply(relu(hidden.apply(Tensor.cat(List.of(features, c, t), 1))));
  }

  @Override
  public Tensor forward(Tensor x) {
    return imageHead.apply(flatten(relu(conv.apply(x))));
  }
}
