package test;

import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * Pads its convolution in the constructor, after the initializer the annotation processor reads:
 * the compiled class must refuse to be built rather than compute without the padding.
 */
@Model(input = {1, 8, 8})
public class ConfiguredInConstructor extends Module {
  final Conv2d conv = new Conv2d(1, 4, 3);
  final Linear fc = new Linear(4 * 6 * 6, 3);

  public ConfiguredInConstructor() {
    conv.padding(1);
  }

  @Override
  public Tensor forward(Tensor x) {
    return fc.apply(flatten(relu(conv.apply(x))));
  }
}
