package test;

import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * Pieces of a chunk of the input, two of four read (the last read first), through steps whose gradients are
 * exact: the input's gradient is the pieces' placed into zeros, bit for bit eager mode's (a ReLU's -0 included).
 */
@Model(input = {3, 8})
public class SignedPieces extends Module {
  @Override
  public Tensor forward(Tensor x) {
    Tensor[] p = x.chunk(4, 2);                                   // four [N, 3, 2]: p[1] and p[3] never read
    Tensor a = relu(p[2]);
    return flatten(a.sub(p[0].mul(0.5f)));                        // [N, 6]
  }
}
