package test;

import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * Blocks extending blocks: one inheriting its layers and forward ({@code super(W)}), one adding layers and overriding
 * forward with the inherited layer, constant and helper method, and one a level further down inheriting that forward.
 */
@Model(input = {6})
public class DerivedBlocks extends Module {
  static final int W = 8;

  static class Base extends Module {
    final Linear fc1;
    final int width;

    Base(int width) {
      this.width = width;
      fc1 = new Linear(width, width);
    }

    Tensor residual(Tensor x) {
      return x.add(relu(fc1.apply(x)));
    }

    @Override
    public Tensor forward(Tensor x) {
      return residual(x);
    }
  }

  /** Base as it is. */
  static class Same extends Base {
    Same() {
      super(W);
    }
  }

  /** Base's layer and helper, and layers of its own. */
  static class Gated extends Base {
    final Linear fc2 = new Linear(W, W);
    final LayerNorm ln;

    Gated(int width) {
      super(width);
      ln = new LayerNorm(width);
    }

    @Override
    public Tensor forward(Tensor x) {
      return ln.apply(fc2.apply(residual(x)).mul(1.0 / width));
    }
  }

  /** Gated's forward, inherited through two levels. */
  static class Deeper extends Gated {
    Deeper() {
      super(W);
    }
  }

  final Linear in = new Linear(6, W);
  final Same a = new Same();
  final Gated b = new Gated(W);
  final Deeper c = new Deeper();
  final Linear out = new Linear(W, 3);

  @Override
  public Tensor forward(Tensor x) {
    return out.apply(c.apply(b.apply(a.apply(in.apply(x)))));
  }
}
