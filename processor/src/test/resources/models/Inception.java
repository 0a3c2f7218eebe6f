package test;

import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.maxPool2d;
import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.BatchNorm2d;
import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;
import java.util.List;

/**
 * Concatenation: an Inception-style block (the input itself beside three convolutions of other
 * sizes), a DenseNet-style connection (a value beside a convolution of it), and one value twice
 * along the last dimension.
 */
@Model(input = {3, 8, 8})
public class Inception extends Module {
  final Conv2d b1 = new Conv2d(3, 4, 1);
  final Conv2d b2 = new Conv2d(3, 6, 3).padding(1);
  final Conv2d b3 = new Conv2d(3, 2, 5).padding(2);
  final BatchNorm2d bn = new BatchNorm2d(15);
  final Conv2d dense = new Conv2d(15, 4, 3).padding(1);
  final Linear fc = new Linear(2 * 19 * 4 * 4, 3);

  @Override
  public Tensor forward(Tensor x) {
    final int channels = 1;                                                            // a constant local
    Tensor h = Tensor.cat(List.of(x, b1.apply(x), relu(b2.apply(x)), b3.apply(x)), channels);   // [N, 15, 8, 8]
    h = relu(bn.apply(h));
    Tensor g = maxPool2d(Tensor.cat(List.of(h, dense.apply(h)), 1), 2);                  // [N, 19, 4, 4]
    Tensor f = flatten(Tensor.cat(List.of(g), -1));                                    // one value: a copy
    return fc.apply(Tensor.cat(List.of(f, f), -1));                                     // [N, 608]
  }
}
