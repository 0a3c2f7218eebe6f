package test;

import static dev.kiln.dsl.F.add;
import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.gelu;
import static dev.kiln.dsl.F.matmul;
import static dev.kiln.dsl.F.mul;
import static dev.kiln.dsl.F.softmax;
import static dev.kiln.dsl.F.transpose;

import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * A pre-norm transformer block with one attention head over [tokens, dim], written with F
 * functions: the scores' transpose and scale are folded into the product's GEMM, the attention
 * output's half-scale is a pass of its own; then a classifier head.
 */
@Model(input = {6, 8})
public class Attention extends Module {
  static final double SCALE = 0.35355339059327373; // 1 / sqrt(8)

  final LayerNorm norm1 = new LayerNorm(8);
  final Linear query = new Linear(8, 8);
  // no bias: softmax ignores a shift along a row, so a key bias gets a zero gradient, rounding noise in any order of sums
  final Linear key = new Linear(8, 8, false);
  final Linear value = new Linear(8, 8);
  final Linear proj = new Linear(8, 8);
  final LayerNorm norm2 = new LayerNorm(8);
  final Linear up = new Linear(8, 16);
  final Linear down = new Linear(16, 8);
  final Linear head = new Linear(48, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = norm1.apply(x);
    Tensor q = query.apply(h);
    Tensor k = key.apply(h);
    Tensor v = value.apply(h);
    Tensor scores = mul(matmul(q, transpose(k, -2, -1)), SCALE);
    Tensor att = softmax(scores, -1);
    x = add(x, mul(proj.apply(matmul(att, v)), 0.5));
    x = add(x, down.apply(gelu(up.apply(norm2.apply(x)))));
    return head.apply(flatten(x));
  }
}
