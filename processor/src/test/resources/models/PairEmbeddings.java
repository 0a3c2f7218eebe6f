package test;

import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.Input;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * A two-tower model of several inputs returning several outputs: both embeddings and the pair's score, so
 * that a loss may train the score and pull the embeddings together at once; beside it, a method of several outputs
 * of one input (an embedding and its score alone). forward is one input's embedding.
 */
@Model(input = {6})
public class PairEmbeddings extends Module {
  final Linear towerA = new Linear(6, 8);
  final Linear towerB = new Linear(4, 8);
  final Linear head = new Linear(8, 1);

  public record PairOut(Tensor left, Tensor right, Tensor score) {}

  public PairOut forwardPair(Tensor a, @Input({4}) Tensor b) {
    Tensor ea = relu(towerA.apply(a));                  // [N, 8]
    Tensor eb = relu(towerB.apply(b));                  // [N, 8]
    return new PairOut(ea, eb, head.apply(ea.mul(eb))); // [N, 8], [N, 8], [N, 1]
  }

  public Tensor[] embedded(Tensor x) {
    Tensor e = relu(towerA.apply(x));
    return new Tensor[] {e, head.apply(e)};
  }

  @Override
  public Tensor forward(Tensor x) {
    return relu(towerA.apply(x));
  }
}
