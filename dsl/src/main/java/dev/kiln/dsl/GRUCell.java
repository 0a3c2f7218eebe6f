package dev.kiln.dsl;

import dev.kiln.runtime.Tensor;

/**
 * One GRU step, PyTorch's {@code nn.GRUCell}: {@code h = cell.step(x, h)} is PyTorch's {@code h =
 * cell(x, h)}, with {@link GRU}'s gates. See {@link RecurrentCell}.
 */
public class GRUCell extends RecurrentCell {
  public GRUCell(int inputSize, int hiddenSize) {
    this(inputSize, hiddenSize, true);
  }

  public GRUCell(int inputSize, int hiddenSize, boolean bias) {
    super(new Spec("GRU", inputSize, hiddenSize, bias));
  }

  /** The new hidden state from {@code h} (null for zeros). */
  public Tensor step(Tensor x, Tensor h) {
    return run(x, h, null).h();
  }
}
