package test;

import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.Dropout;
import dev.kiln.dsl.Input;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * Conditions on the training mode in the model's methods beside forward: a method of several outputs ({@code heads}) and
 * one of several inputs ({@code mixed}), each compiled once per mode as forward is. In training {@code heads} adds an
 * auxiliary layer's output and {@code mixed} drops; in evaluation they scale instead.
 */
@Model(input = {6})
public class MethodModes extends Module {
  public record Heads(Tensor logits, Tensor hidden) {}

  final Linear fc = new Linear(6, 8);
  final Linear aux = new Linear(8, 8);
  final Linear head = new Linear(8, 3);
  final Linear gate = new Linear(4, 8);
  final Dropout drop = new Dropout(0.2);

  @Override
  public Tensor forward(Tensor x) {
    return head.apply(relu(fc.apply(x)));
  }

  public Heads heads(Tensor x) {
    Tensor h = relu(fc.apply(x));
    if (isTraining()) {
      h = h.add(aux.apply(h));
    } else {
      h = h.mul(2);
    }
    Tensor logits = isTraining() && h.size(1) == 8 ? head.apply(h) : head.apply(h).mul(0.5);
    return new Heads(logits, h);
  }

  public Tensor mixed(Tensor x, @Input({4}) Tensor m) {
    Tensor h = relu(fc.apply(x)).mul(gate.apply(m));
    if (!isTraining()) {
      return head.apply(h.mul(0.8));
    }
    return head.apply(drop.apply(h));
  }
}
