package dev.kiln.dsl;

import dev.kiln.runtime.Tensor;

/**
 * One LSTM step, PyTorch's {@code nn.LSTMCell}: {@code var s = cell.step(x, h, c)} is PyTorch's
 * {@code h, c = cell(x, (h, c))}, with {@link LSTM}'s gates. See {@link RecurrentCell}.
 */
public class LSTMCell extends RecurrentCell {
  public LSTMCell(int inputSize, int hiddenSize) {
    this(inputSize, hiddenSize, true);
  }

  public LSTMCell(int inputSize, int hiddenSize, boolean bias) {
    super(new Spec("LSTM", inputSize, hiddenSize, bias));
  }

  /** The new hidden and cell states from {@code h} and {@code c} (null for zeros). */
  public State step(Tensor x, Tensor h, Tensor c) {
    return run(x, h, c);
  }
}
