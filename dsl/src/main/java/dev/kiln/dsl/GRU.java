package dev.kiln.dsl;

import dev.kiln.runtime.Tensor;

/**
 * Gated recurrent unit, PyTorch's {@code nn.GRU}: per step, with the input's and the hidden
 * state's gate values split as r, z, n (PyTorch's order), {@code r = sigmoid(x_r + h_r)}, {@code z
 * = sigmoid(x_z + h_z)}, {@code n = tanh(x_n + r h_n)} (the reset gate scales the hidden state's
 * part, bias included, as PyTorch's), {@code h_t = (1 - z) n + z h_(t-1)}. Shapes, parameters and
 * builder calls as {@link Recurrent} describes.
 */
public class GRU extends Recurrent<GRU> {
  public GRU(int inputSize, int hiddenSize) {
    super(new Spec("GRU", inputSize, hiddenSize, 1, true, false, 0, false));
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
   * states of its own last step, PyTorch's {@code gru(pack_padded_sequence(...), h0)}; {@code h0} as
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
