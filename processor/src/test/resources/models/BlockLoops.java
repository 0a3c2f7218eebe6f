package test;

import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.ModuleList;
import dev.kiln.dsl.ReLU;
import dev.kiln.dsl.Sequential;
import dev.kiln.runtime.Tensor;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * The other ways to hold and apply blocks: a ModuleList built from a range, applied by index in a counted loop and
 * its last block once more by a negative index; a block applied twice (one set of weights, as PyTorch lists it once);
 * blocks in a Sequential (in a field, and in a factory method's, KilnStack); a block's own parameter; a block's
 * constructor delegating to another ({@code this(W)}).
 */
@Model(input = {4})
public class BlockLoops extends Module {
  static final int W = 6;
  static final int N = 3;

  /** A residual layer with a learned gain. */
  static class Res extends Module {
    final Linear fc;
    final Tensor gain = registerParameter("gain", Tensor.ones(W).mul(0.5).requiresGrad(true));
    final double scale = 1 / Math.sqrt(W);   // folded by Kiln, not by javac

    Res() {
      this(W);
    }

    Res(int width) {
      fc = new Linear(width, width);
    }

    @Override
    public Tensor forward(Tensor x) {
      return x.add(relu(fc.apply(x)).mul(gain).mul(scale));
    }
  }

  /** Blocks in a factory method's Sequential: KilnStack. */
  @Model(input = {W})
  public static Sequential stack() {
    return Sequential.of(new Res(W), new ReLU(), new Res(W));
  }

  final Linear in = new Linear(4, W);
  final ModuleList<Res> layers = new ModuleList<>(IntStream.range(0, N).mapToObj(i -> new Res(W)).collect(Collectors.toList()));
  final Res shared = new Res();   // the constructor delegating: this(W)
  final Sequential tail = Sequential.of(new Res(W), new ReLU());
  final Linear out = new Linear(W, 3);

  @Override
  public Tensor forward(Tensor x) {
    x = in.apply(x);
    for (int i = 0; i < layers.size(); i++) {
      x = layers.get(i).apply(x);
    }
    x = shared.apply(shared.apply(x));
    x = tail.apply(x);
    return out.apply(layers.get(-1).apply(x));
  }
}
