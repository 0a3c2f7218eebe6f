package test;

import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.ConvTranspose2d;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * Transposed convolutions whose output padding is at least their stride, which PyTorch allows below the dilation: the
 * convolution that maps the output back has more rows and columns than the input, which eager mode (and the compiled
 * code) pad with zeros at the bottom and right first; one square with stride 1, one of stride 2 and non-square.
 */
@Model(input = {3, 4, 4})
public class WideDecoder extends Module {
  final ConvTranspose2d wide = new ConvTranspose2d(3, 4, 3).dilation(3).outputPadding(2);             // [4, 12, 12]
  final ConvTranspose2d up = new ConvTranspose2d(4, 2, 2, 3).stride(2, 1).dilation(3, 2).outputPadding(2, 1).padding(1); // op >= stride
  final Linear fc = new Linear(2 * 26 * 15, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = relu(wide.apply(x));
    return fc.apply(flatten(up.apply(h)));
  }
}
