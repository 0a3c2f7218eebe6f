package test;

import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.Input;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * Matrix factorisation, a two-tower recommender over ids: a user's row and an item's row of two
 * Embeddings, their dot product the score. One id per sample is declared {1} (the first input's
 * {@code @Model(input = {1})} as the item's {@code @Input({1})}), each row [N, 1, D] reshaped to [N, D].
 * The item table's row 0 is padding (an unknown item). forward scores a user against item 1.
 */
@Model(input = {1})
public class Recommender extends Module {
  static final int USERS = 7;
  static final int ITEMS = 9;
  static final int D = 4;

  final Embedding userRows = new Embedding(USERS, D);
  final Embedding itemRows = new Embedding(ITEMS, D, 0);

  public Tensor forwardPair(Tensor users, @Input({1}) Tensor items) {
    Tensor u = userRows.apply(users).reshape(-1, D);          // [N, 1] ids -> [N, 1, D] -> [N, D]
    Tensor v = itemRows.apply(items).reshape(-1, D);
    return u.mul(v).sum(-1, true);                            // [N, 1]: each pair's score
  }

  @Override
  public Tensor forward(Tensor users) {
    return userRows.apply(users).reshape(-1, D).sum(-1, true);
  }
}
