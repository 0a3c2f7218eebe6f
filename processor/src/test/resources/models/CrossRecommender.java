package test;

import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.Input;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * A recommender with a cross feature: besides a user's and an item's rows (their product the score), each (user, item)
 * pair has a row of its own, looked up by the pair's id {@code users * ITEMS + items}, integer arithmetic of the two id
 * inputs. The item table's row 0 is padding.
 */
@Model(input = {1})
public class CrossRecommender extends Module {
  static final int USERS = 7;
  static final int ITEMS = 9;
  static final int D = 4;

  final Embedding userRows = new Embedding(USERS, D);
  final Embedding itemRows = new Embedding(ITEMS, D, 0);
  final Embedding pairRows = new Embedding(USERS * ITEMS, D);

  public Tensor forwardPair(Tensor users, @Input({1}) Tensor items) {
    Tensor v = itemRows.apply(items).reshape(-1, D);                          // [N, D]
    Tensor pair = pairRows.apply(users.mul(ITEMS).add(items)).reshape(-1, D); // the (user, item) pair's own row
    return userRows.apply(users).reshape(-1, D).mul(v).add(pair).sum(-1, true);
  }

  @Override
  public Tensor forward(Tensor users) {
    return userRows.apply(users).reshape(-1, D).sum(-1, true);
  }
}
