package test;

import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * Blocks reading the tensor fields of the block they extend, as a PyTorch subclass reads its base's parameters: a
 * gain registered in the base's constructor at the width {@code super(...)} passes, a plain field parameter (a position
 * table, key {@code pos}) and a causal mask buffer; one block inheriting forward and fields as they are, one reading them
 * in its own forward beside a parameter of its own, one a level further down inheriting that forward.
 */
@Model(input = {6, 8})
public class InheritedFields extends Module {
  static final int T = 6;
  static final int D = 8;

  static class Base extends Module {
    final Linear fc;
    final Tensor gain;
    final Tensor pos = Tensor.randn(T, D).mul(0.02).requiresGrad(true);
    final Tensor mask = registerBuffer("mask", Tensor.ones(T, T).tril());

    Base(int width) {
      fc = new Linear(width, width);
      gain = registerParameter("gain", Tensor.ones(width).mul(0.5).requiresGrad(true));
    }

    @Override
    public Tensor forward(Tensor x) {
      return fc.apply(x.add(pos)).mul(gain);
    }
  }

  /** Base's forward and fields as they are. */
  static class Same extends Base {
    Same() {
      super(D);
    }
  }

  /** The inherited fields read in a forward of its own, beside a parameter of its own. */
  static class Attending extends Base {
    final Tensor scale = registerParameter("scale", Tensor.ones(1, T, D).requiresGrad(true));
    final LayerNorm ln = new LayerNorm(D);

    Attending(int width) {
      super(width);
    }

    @Override
    public Tensor forward(Tensor x) {
      Tensor q = fc.apply(ln.apply(x.add(pos)));
      Tensor att = q.matmul(x.transpose(1, 2)).maskedFill(mask.eq(0), Float.NEGATIVE_INFINITY).softmax(-1);
      return x.add(relu(att.matmul(q)).mul(scale).mul(gain));
    }
  }

  /** Attending's forward, two levels below Base. */
  static class Deeper extends Attending {
    Deeper() {
      super(D);
    }
  }

  final Linear in = new Linear(8, D);
  final Same a = new Same();
  final Attending b = new Attending(D);
  final Deeper c = new Deeper();
  final Linear head = new Linear(T * D, 3);

  @Override
  public Tensor forward(Tensor x) {
    return head.apply(flatten(c.apply(b.apply(a.apply(in.apply(x))))));
  }
}
