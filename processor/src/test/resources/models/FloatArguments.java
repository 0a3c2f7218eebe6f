package test;

import dev.kiln.dsl.Dropout;
import dev.kiln.dsl.LeakyReLU;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/** Layer arguments computed in float, which the processor must fold as javac does (not in double). */
@Model(input = {4})
public class FloatArguments extends Module {
  final Linear fc = new Linear(4, 3);
  final LeakyReLU act = new LeakyReLU(1 / 3f);
  final Dropout drop = new Dropout(0.1f + 0.2f);

  @Override
  public Tensor forward(Tensor x) {
    return drop.apply(act.apply(fc.apply(x)));
  }
}
