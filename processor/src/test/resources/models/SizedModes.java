package test;

import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * Conditions on the training mode joined with sizes after the batch, which fold to constants: a size of the input, of an
 * expression and of a layer's weight. Each mode's graph takes the branches its condition picks there; a size of a value
 * the mode picks is each mode's own.
 */
@Model(input = {6})
public class SizedModes extends Module {
  final Linear fc = new Linear(6, 6);
  final Linear wide = new Linear(6, 8);
  final Linear aux = new Linear(6, 6);
  final Linear head = new Linear(6, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = relu(fc.apply(x));
    if (isTraining() && x.size(1) > 4) {                       // in training: the size is 6
      h = h.add(aux.apply(h));
    }
    if (isTraining() && wide.apply(h).size(1) < 8) {           // never: wide gives 8
      h = h.mul(3);
    }
    h = !isTraining() || fc.weight().size(0) != 6 ? h.mul(0.5) : h;   // in evaluation
    int d = (isTraining() ? wide.apply(h) : aux.apply(h)).size(1);     // 8 in training, 6 in evaluation
    h = h.mul(d);
    return head.apply(h);
  }
}
