package test;

import static dev.kiln.dsl.F.adaptiveAvgPool1d;
import static dev.kiln.dsl.F.add;
import static dev.kiln.dsl.F.avgPool1d;
import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.maxPool1d;
import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.AdaptiveAvgPool1d;
import dev.kiln.dsl.AvgPool1d;
import dev.kiln.dsl.BatchNorm1d;
import dev.kiln.dsl.Conv1d;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.MaxPool1d;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * A 1-d CNN over [N, 4, 32] sequences: conv-BN-ReLU-pool (the ReLU's mask applied by the pooling's backward), a strided
 * convolution without bias, average pooling (layer with ceil mode and the padding out of the divisor, and F), F.maxPool1d
 * with padding, adaptive pooling (layer and F).
 */
@Model(input = {4, 32})
public class SequenceCnn extends Module {
  final Conv1d conv1 = new Conv1d(4, 8, 5).padding(2);
  final BatchNorm1d bn1 = new BatchNorm1d(8);
  final MaxPool1d pool = new MaxPool1d(2);
  final Conv1d conv2 = new Conv1d(8, 8, 3).stride(2).bias(false);
  final AvgPool1d avg = new AvgPool1d(3).stride(2).padding(1).ceilMode(true).countIncludePad(false);
  final AdaptiveAvgPool1d adaptive = new AdaptiveAvgPool1d(3);
  final Linear fc = new Linear(8 * 3, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = pool.apply(relu(bn1.apply(conv1.apply(x))));                 // [N, 8, 16]
    h = relu(conv2.apply(h));                                               // [N, 8, 7]
    Tensor a = adaptive.apply(avg.apply(h));                                // [N, 8, 4] -> [N, 8, 3]
    Tensor b = adaptiveAvgPool1d(maxPool1d(avgPool1d(h, 2, 1), 3, 1, 1, true), 3); // [N, 8, 6] -> [N, 8, 6] -> [N, 8, 3]
    return fc.apply(flatten(add(a, b)));
  }
}
