package test;

import static dev.kiln.dsl.F.normalize;
import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/** A siamese network's tower: an MLP whose embedding is normalised to unit length, the normalize its last step. */
@Model(input = {6})
public class EmbeddingNet extends Module {
  final Linear fc1 = new Linear(6, 8);
  final Linear fc2 = new Linear(8, 3);

  @Override
  public Tensor forward(Tensor x) {
    return normalize(fc2.apply(relu(fc1.apply(x))));
  }
}
