package test;

import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.relu;
import static dev.kiln.dsl.F.silu;

import dev.kiln.dsl.BatchNorm2d;
import dev.kiln.dsl.ConvTranspose2d;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.SiLU;
import dev.kiln.runtime.Tensor;

/**
 * A decoder's upsampling, DCGAN-style: transposed convolutions (stride, padding, output padding; one
 * without a bias, one not square) with batch norm, ReLU and SiLU (a layer and a function).
 */
@Model(input = {4, 3, 3})
public class Decoder extends Module {
  final ConvTranspose2d up1 = new ConvTranspose2d(4, 3, 3).stride(2).padding(1).outputPadding(1); // [3, 6, 6]
  final BatchNorm2d bn = new BatchNorm2d(3);
  final ConvTranspose2d up2 = new ConvTranspose2d(3, 2, 2, 3).stride(1, 2).bias(false); // [2, 7, 13]
  final SiLU act = new SiLU();
  final Linear fc = new Linear(2 * 7 * 13, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = relu(bn.apply(up1.apply(x)));
    h = act.apply(up2.apply(h));
    return silu(fc.apply(flatten(h)));
  }
}
