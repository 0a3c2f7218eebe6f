package test;

import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.Flatten;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Sequential;

/** A factory method's model over ids: an Embedding first (the last row the padding row), flattened into a head. */
public class TokenBag {
  @Model(input = {5})
  public static Sequential bag() {
    return Sequential.of(
        new Embedding(10, 4, -1),
        new Flatten(),
        new Linear(20, 3));
  }
}
