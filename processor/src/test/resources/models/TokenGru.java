package test;

import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.Flatten;
import dev.kiln.dsl.GRU;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Sequential;

/** A factory method's sequence model over ids: an Embedding, a bidirectional GRU, every step flattened into a head. */
public class TokenGru {
  @Model(input = {6})
  public static Sequential gru() {
    return Sequential.of(
        new Embedding(11, 4, 0),
        new GRU(4, 5).bidirectional(true).batchFirst(true),
        new Flatten(),
        new Linear(6 * 2 * 5, 3));
  }
}
