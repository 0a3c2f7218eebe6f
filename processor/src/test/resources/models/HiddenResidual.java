package test;

import static dev.kiln.dsl.F.add;
import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.BatchNorm1d;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;
import java.util.List;

/**
 * A method of several outputs over a graph: a hidden value that is returned and also feeds two
 * steps (a Linear and the residual add), a value read by two heads, and a cat of two values.
 */
@Model(input = {6})
public class HiddenResidual extends Module {
  final Linear fc1 = new Linear(6, 8);
  final Linear fc2 = new Linear(8, 8, false); // no bias before the batch norm, which cancels it
  final BatchNorm1d bn = new BatchNorm1d(8);
  final Linear head1 = new Linear(8, 3);
  final Linear head2 = new Linear(16, 2);

  /** The first head's logits, the hidden activation and the second head's output. */
  public record Outputs(Tensor logits, Tensor hidden, Tensor aux) {}

  public Outputs heads(Tensor x) {
    Tensor h = relu(fc1.apply(x));
    Tensor r = relu(add(bn.apply(fc2.apply(h)), h));
    Tensor logits = head1.apply(r);
    Tensor aux = head2.apply(Tensor.cat(List.of(r, h), 1));
    return new Outputs(logits, h, aux);
  }

  @Override
  public Tensor forward(Tensor x) {
    return heads(x).logits();
  }
}
