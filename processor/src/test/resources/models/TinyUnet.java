package test;

import static dev.kiln.dsl.F.adaptiveAvgPool2d;
import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.interpolate;
import static dev.kiln.dsl.F.maxPool2d;
import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.Dropout2d;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.Upsample;
import dev.kiln.runtime.Tensor;
import java.util.List;

/**
 * A U-Net in miniature: an encoder map pooled, processed, upsampled back (an Upsample layer) and
 * concatenated with the encoder's map (the skip connection), then F.interpolate with unequal factors;
 * channel dropout on the encoder's map.
 */
@Model(input = {2, 8, 8})
public class TinyUnet extends Module {
  final Conv2d enc = new Conv2d(2, 4, 3).padding(1);
  final Dropout2d drop = new Dropout2d(0.3);
  final Conv2d mid = new Conv2d(4, 4, 3).padding(1);
  final Upsample up = new Upsample(2);
  final Conv2d dec = new Conv2d(8, 2, 1);
  final Linear head = new Linear(8, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor e = drop.apply(relu(enc.apply(x)));                            // [N, 4, 8, 8], whole channels dropped in training
    Tensor m = up.apply(relu(mid.apply(maxPool2d(e, 2))));                // [N, 4, 8, 8]
    Tensor d = interpolate(dec.apply(Tensor.cat(List.of(m, e), 1)), 1, 2); // [N, 2, 8, 16]
    return head.apply(flatten(adaptiveAvgPool2d(d, 2)));
  }
}
