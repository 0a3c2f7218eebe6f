package test;

import static dev.kiln.dsl.F.flatten;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * A product by a tensor field of a transposed, scaled value: the field multiplies every row of the batch
 * in one GEMM, which cannot read each sample transposed, so the transpose is a copy (the scale is still
 * the GEMM's alpha); a plain buffer {@code [S]} by hand added over the rows' last dimension after it.
 */
@Model(input = {8, 6})
public class TransposedRows extends Module {
  final Tensor w = registerParameter("w", Tensor.randn(8, 4).mul(0.5).requiresGrad(true));
  final Tensor shift = registerBuffer("shift", Tensor.randn(1, 1, 4));
  final Linear fc = new Linear(24, 3);

  @Override
  public Tensor forward(Tensor x) {
    return fc.apply(flatten(x.transpose(1, 2).mul(0.5).matmul(w).sub(shift)));   // [N, 6, 8] @ [8, 4] - [1, 1, 4]
  }
}
