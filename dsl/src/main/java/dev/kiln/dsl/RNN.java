package dev.kiln.dsl;

import dev.kiln.runtime.Tensor;

/**
 * An Elman recurrent layer, PyTorch's {@code nn.RNN}: {@code h_t = tanh(x_t W_ih^T + b_ih + h_(t-1)
 * W_hh^T + b_hh)} (or ReLU with {@code nonlinearity "relu"}). Shapes, parameters and builder calls
 * as {@link Recurrent} describes: {@code new RNN(10, 20).numLayers(2).batchFirst(true)}.
 */
public class RNN extends Recurrent<RNN> {
  public RNN(int inputSize, int hiddenSize) {
    this(inputSize, hiddenSize, "tanh");
  }

  /** With {@code nonlinearity} {@code "tanh"} (PyTorch's default) or {@code "relu"}. */
  public RNN(int inputSize, int hiddenSize, String nonlinearity) {
    super(new Spec(mode(nonlinearity), inputSize, hiddenSize, 1, true, false, 0, false));
  }

  private static String mode(String nonlinearity) {
    return switch (nonlinearity) {
      case "tanh" -> "RNN_TANH";
      case "relu" -> "RNN_RELU";
      default -> throw new IllegalArgumentException("RNN: unknown nonlinearity '" + nonlinearity + "' (tanh or relu)");
    };
  }

  /** The output and the last hidden states ({@code h_n}), the states starting at zero. */
  public Output forwardWithState(Tensor x) {
    return run(x, null, null);
  }

  /** The output and the last hidden states from initial states {@code h0} ({@code [numLayers * D, B, H]}, or null for zeros). */
  public Output forwardWithState(Tensor x, Tensor h0) {
    return run(x, h0, null);
  }

  /**
   * Over sequences of different lengths: each sequence's output (zero past its end) and the hidden
   * states of its own last step, PyTorch's {@code rnn(pack_padded_sequence(...), h0)}; {@code h0} as
   * above, null for zeros, in the batch's order.
   */
  public PackedOutput forwardWithState(PackedSequence x, Tensor h0) {
    return run(x, h0, null);
  }

  /** {@link #forwardWithState(PackedSequence, Tensor)} from zero states. */
  public PackedOutput forwardWithState(PackedSequence x) {
    return run(x, null, null);
  }
}
