package test;

import static dev.kiln.dsl.F.add;
import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.gelu;

import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * A transformer's feed-forward half over [tokens, dim]: pre-norm LayerNorm, Linear-GELU-Linear
 * applied to every token, a residual add, then a LayerNorm over the whole sample without an affine
 * transform (the int[] form) and a classifier head.
 */
@Model(input = {6, 8})
public class TokenMlp extends Module {
  final LayerNorm norm = new LayerNorm(new int[] {8}); // the varargs given as an array
  final Linear up = new Linear(8, 16);
  final Linear down = new Linear(16, 8);
  final LayerNorm last = new LayerNorm(new int[] {6, 8}, 1e-3, false);
  final Linear head = new Linear(48, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = add(x, down.apply(gelu(up.apply(norm.apply(x)))));
    return head.apply(flatten(last.apply(h)));
  }
}
