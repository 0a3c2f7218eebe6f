package test;

import static dev.kiln.dsl.F.add;
import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * A ViT-style position table: tokens embedded by a Linear, a learned table {@code [S, D]} added (a
 * plain field ending in requiresGrad(true), a parameter under its field's name, as an nn.Parameter
 * attribute), written field first, with a ReLU after it in the same pass; then a residual branch
 * scaled by a learned per-position gain {@code [1, S, D]} assigned in the constructor (CaiT's
 * layer scale).
 */
@Model(input = {6, 8})
public class PositionTable extends Module {
  static final int S = 6;
  static final int D = 16;

  final Linear embed = new Linear(8, D);
  final Tensor pos = Tensor.randn(S, D).mul(0.02).requiresGrad(true);
  final Tensor gamma;
  final LayerNorm norm = new LayerNorm(D);
  final Linear mlp = new Linear(D, D);
  final Linear head = new Linear(S * D, 3);

  public PositionTable() {
    gamma = registerParameter("gamma", Tensor.ones(1, S, D).mul(0.5).requiresGrad(true));
  }

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = relu(add(pos, embed.apply(x)));
    h = h.add(mlp.apply(norm.apply(h)).mul(gamma));
    return head.apply(flatten(h));
  }
}
