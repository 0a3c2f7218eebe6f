package test;

import static dev.kiln.dsl.F.logSoftmax;
import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.BatchNorm1d;
import dev.kiln.dsl.Dropout2d;
import dev.kiln.dsl.LSTM;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * pytorch/examples mnist_rnn's Net over 12x12 images: an LSTM over the rows, its last step batch-normed, Dropout2d
 * (on [N, 64], which PyTorch 1.13 drops element-wise, with a warning), two linear layers, log-probabilities.
 */
@Model(input = {1, 12, 12})
public class MnistRnn extends Module {
  final LSTM rnn = new LSTM(12, 16).batchFirst(true);
  final BatchNorm1d batchnorm = new BatchNorm1d(16);
  final Dropout2d dropout1 = new Dropout2d(0.25);
  final Dropout2d dropout2 = new Dropout2d(0.5);
  final Linear fc1 = new Linear(16, 8);
  final Linear fc2 = new Linear(8, 10);

  @Override
  public Tensor forward(Tensor input) {
    input = input.reshape(-1, 12, 12);
    Tensor output = rnn.forwardWithState(input).output();
    output = output.select(1, -1);
    output = batchnorm.apply(output);
    output = dropout1.apply(output);
    output = fc1.apply(output);
    output = relu(output);
    output = dropout2.apply(output);
    output = fc2.apply(output);
    output = logSoftmax(output, 1);
    return output;
  }
}
