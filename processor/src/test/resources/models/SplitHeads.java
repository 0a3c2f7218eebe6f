package test;

import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * A method of several outputs over the pieces of a split: each piece feeds a head of its own and the second is
 * returned as well, so a loss on one head sends the other piece no gradient (its slice of the source's stays zero).
 */
@Model(input = {12})
public class SplitHeads extends Module {
  final Linear trunk = new Linear(12, 12);
  final Linear head1 = new Linear(4, 3);
  final Linear head2 = new Linear(8, 2);

  /** The first head's logits, the second's, and the second piece itself. */
  public record Outputs(Tensor first, Tensor second, Tensor piece) {}

  public Outputs heads(Tensor x) {
    Tensor[] parts = relu(trunk.apply(x)).split(new int[] {4, 8}, 1);   // [N, 4], [N, 8]
    return new Outputs(head1.apply(parts[0]), head2.apply(parts[1]), parts[1]);
  }

  @Override
  public Tensor forward(Tensor x) {
    return heads(x).first();
  }
}
