package test;

import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.maxPool2d;
import static dev.kiln.dsl.F.pad;
import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.Upsample;
import dev.kiln.runtime.Tensor;
import java.util.List;

/**
 * A U-Net's odd-sized skip: the encoder's 7x7 map pooled to 3x3, upsampled to 6x6 and padded (one column
 * after, one row before) back to 7x7 before the cat, as PyTorch's U-Net pads; then cropped by negative
 * padding while a channel of zeros is added, and a column of a constant value.
 */
@Model(input = {2, 7, 7})
public class PaddedUnet extends Module {
  final Conv2d enc = new Conv2d(2, 4, 3).padding(1);
  final Conv2d mid = new Conv2d(4, 4, 3).padding(1);
  final Upsample up = new Upsample(2);
  final Conv2d dec = new Conv2d(8, 2, 1);
  final Linear head = new Linear(90, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor e = relu(enc.apply(x));                                     // [N, 4, 7, 7]
    Tensor m = pad(up.apply(relu(mid.apply(maxPool2d(e, 2)))), new int[] {0, 1, 1, 0}); // [N, 4, 7, 7]
    Tensor d = dec.apply(Tensor.cat(List.of(m, e), 1));                // [N, 2, 7, 7]
    Tensor c = pad(d, new int[] {-1, -1, -1, -1, 0, 1});               // [N, 3, 5, 5]
    return head.apply(flatten(pad(c, new int[] {1, 0}, 0.5f)));        // [N, 3, 5, 6]
  }
}
