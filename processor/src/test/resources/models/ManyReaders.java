package test;

import static dev.kiln.dsl.F.*;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * Two values read by a dozen steps each ({@code p}, {@code q}: self-products, activations, a mean, three locals), so
 * that each gets its gradients summed in eager's engine's order (a depth-first order from the loss), not program order.
 */
@Model(input = {6})
public class ManyReaders extends Module {
  final Linear a = new Linear(6, 8);
  final Linear b = new Linear(6, 8);
  final Linear head = new Linear(8, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor p = a.apply(x);
    Tensor q = b.apply(x);
    Tensor extremes = p.mul(q).add(p.sub(q.mean(1, true))).add(p.mul(hardtanh(p, -0.2f, 0.2f)));
    Tensor smooth = sigmoid(p.mul(p).add(1f)).add(tanh(q)).add(sigmoid(q)).add(tanh(p.mul(p).add(2f)));
    Tensor steps = sigmoid(p).add(tanh(p)).add(sigmoid(q)).add(tanh(q)).add(relu(p)).mul(p);
    return head.apply(q.mul(extremes).add(smooth).add(steps));
  }
}
