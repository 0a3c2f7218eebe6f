package test;

import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;
import java.util.List;

/**
 * Heads beside each other: the earliest output (which carries the compiled backward) is a head no
 * other output passes through, and the last statement is a view of an earlier value, smaller than
 * the value computed last.
 */
@Model(input = {2, 4, 3})
public class Heads extends Module {
  final Linear fc1 = new Linear(2 * 4 * 3, 4);
  final Conv2d conv = new Conv2d(2, 3, 3).padding(1);
  final Linear fc2 = new Linear(3 * 4 * 3, 2);

  public record Outs(Tensor a, Tensor b, Tensor joined, Tensor flat) {}

  public Outs heads(Tensor x) {
    Tensor a = fc1.apply(flatten(x));
    Tensor h = relu(conv.apply(x));                       // [N, 3, 4, 3]
    Tensor b = fc2.apply(flatten(h));
    Tensor joined = Tensor.cat(List.of(h, h), 3);         // [N, 3, 4, 6]: computed last
    Tensor flat = flatten(h);                             // [N, 36]: the last statement
    return new Outs(a, b, joined, flat);
  }

  @Override
  public Tensor forward(Tensor x) {
    return heads(x).b();
  }
}
