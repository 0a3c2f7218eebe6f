package test;

import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.ReLU;
import dev.kiln.dsl.Sequential;
import dev.kiln.dsl.Tanh;
import dev.kiln.runtime.Tensor;

/**
 * Loops over a Sequential field, as PyTorch code iterates an nn.Sequential: {@code for (Module layer : layers)} over
 * layers and a block, and a counted loop over a named Sequential's {@code size()} and {@code get(i)}.
 */
@Model(input = {6})
public class SequentialLoops extends Module {
  static final int W = 8;

  static class Res extends Module {
    final Linear fc = new Linear(W, W);

    @Override
    public Tensor forward(Tensor x) {
      return x.add(relu(fc.apply(x)));
    }
  }

  final Linear in = new Linear(6, W);
  final Sequential layers = Sequential.of(new Linear(W, W), new ReLU(), new Res(), new LayerNorm(W));
  final Sequential named = Sequential.builder().add("a", new Linear(W, W)).add("act", new Tanh()).build();
  final Linear out = new Linear(W, 3);

  @Override
  public Tensor forward(Tensor x) {
    x = in.apply(x);
    for (Module layer : layers) {
      x = layer.apply(x);
    }
    for (int i = 0; i < named.size(); i++) {
      x = named.get(i).apply(x);
    }
    return out.apply(x);
  }
}
