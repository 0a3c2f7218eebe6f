package dev.kiln.dsl;

import dev.kiln.runtime.Tensor;

/**
 * One Elman step, PyTorch's {@code nn.RNNCell}: {@code h = cell.step(x, h)}, {@code tanh(x W_ih^T +
 * b_ih + h W_hh^T + b_hh)} (or ReLU). See {@link RecurrentCell}.
 */
public class RNNCell extends RecurrentCell {
  public RNNCell(int inputSize, int hiddenSize) {
    this(inputSize, hiddenSize, true, "tanh");
  }

  /** With or without biases, and {@code nonlinearity} {@code "tanh"} or {@code "relu"}. */
  public RNNCell(int inputSize, int hiddenSize, boolean bias, String nonlinearity) {
    super(new Spec(switch (nonlinearity) {
      case "tanh" -> "RNN_TANH";
      case "relu" -> "RNN_RELU";
      default -> throw new IllegalArgumentException("RNNCell: unknown nonlinearity '" + nonlinearity + "' (tanh or relu)");
    }, inputSize, hiddenSize, bias));
  }

  /** The new hidden state from {@code h} (null for zeros). */
  public Tensor step(Tensor x, Tensor h) {
    return run(x, h, null).h();
  }
}
