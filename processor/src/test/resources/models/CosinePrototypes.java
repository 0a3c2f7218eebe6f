package test;

import static dev.kiln.dsl.F.cosineSimilarity;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * A cosine classifier: each sample's embedding against learned class prototypes, a parameter of the model ({@code [3,
 * 8]}, written first: the field repeated over the batch, its gradient summed over it into the parameter's), and a
 * fixed direction held as a buffer ({@code [1, 8]}, no gradient) against the per-class embeddings; scaled as
 * normalized-softmax heads are.
 */
@Model(input = {6})
public class CosinePrototypes extends Module {
  final Linear embed = new Linear(6, 8);
  final Linear perClass = new Linear(8, 24);
  final Tensor prototypes = registerParameter("prototypes", Tensor.randn(3, 8).requiresGrad(true));
  final Tensor direction = registerBuffer("direction", Tensor.randn(1, 8));

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = embed.apply(x);                                         // [N, 8]
    Tensor scores = cosineSimilarity(prototypes, h.view(-1, 1, 8), -1, 1e-8);   // [N, 3]
    Tensor c = perClass.apply(h).view(-1, 3, 8);                       // [N, 3, 8]
    return scores.mul(10f).add(cosineSimilarity(c, direction, 2, 1e-8));
  }
}
