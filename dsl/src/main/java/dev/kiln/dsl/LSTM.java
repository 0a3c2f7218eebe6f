package dev.kiln.dsl;

import dev.kiln.runtime.Tensor;

/**
 * Long short-term memory, PyTorch's {@code nn.LSTM}: per step, from the gates {@code x_t W_ih^T +
 * b_ih + h_(t-1) W_hh^T + b_hh} split as i, f, g, o (PyTorch's order): {@code c_t = sigmoid(f)
 * c_(t-1) + sigmoid(i) tanh(g)}, {@code h_t = sigmoid(o) tanh(c_t)}. Shapes, parameters and
 * builder calls as {@link Recurrent} describes: {@code new LSTM(10, 20).numLayers(2).batchFirst(true)};
 * {@code forwardWithState} gives PyTorch's {@code output, (h_n, c_n)}.
 */
public class LSTM extends Recurrent<LSTM> {
  public LSTM(int inputSize, int hiddenSize) {
    super(new Spec("LSTM", inputSize, hiddenSize, 1, true, false, 0, false));
  }

  /** The output and the last hidden and cell states ({@code h_n}, {@code c_n}), the states starting at zero. */
  public Output forwardWithState(Tensor x) {
    return run(x, null, null);
  }

  /**
   * The output and the last states from initial states {@code h0} and {@code c0} (each {@code
   * [numLayers * D, B, H]}, or null for zeros): PyTorch's {@code lstm(x, (h0, c0))}.
   */
  public Output forwardWithState(Tensor x, Tensor h0, Tensor c0) {
    return run(x, h0, c0);
  }

  /**
   * Over sequences of different lengths: each sequence's output (zero past its end) and the states
   * of its own last step, PyTorch's {@code lstm(pack_padded_sequence(...), (h0, c0))}; {@code h0} and
   * {@code c0} as above, null for zeros, in the batch's order.
   */
  public PackedOutput forwardWithState(PackedSequence x, Tensor h0, Tensor c0) {
    return run(x, h0, c0);
  }

  /** {@link #forwardWithState(PackedSequence, Tensor, Tensor)} from zero states. */
  public PackedOutput forwardWithState(PackedSequence x) {
    return run(x, null, null);
  }
}
