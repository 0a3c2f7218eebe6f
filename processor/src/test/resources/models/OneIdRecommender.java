package test;

import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.Input;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * A recommender as PyTorch writes it: one user's features and one item id per sample, the ids {@code [N]}
 * ({@code @Input({})}), whose rows {@code [N, D]} join the features' projection without a reshape.
 */
@Model(input = {6})
public class OneIdRecommender extends Module {
  static final int D = 4;

  final Linear user = new Linear(6, D);
  final Embedding itemRows = new Embedding(9, D, 0);

  public Tensor forwardPair(Tensor features, @Input({}) Tensor items) {    // items: [N] ids
    return user.apply(features).mul(itemRows.apply(items)).sum(-1, true);   // [N, D] * [N, D] -> [N, 1]
  }

  @Override
  public Tensor forward(Tensor features) {
    return user.apply(features);
  }
}
