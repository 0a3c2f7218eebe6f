package dev.kiln.processor.ir;

import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.Recurrent;

/**
 * A recurrent layer run by {@code forwardWithState} in a compiled forward ({@code var o = lstm.forwardWithState(x)},
 * PyTorch's {@code out, (h_n, c_n) = self.lstm(x)}): one value holding the output sequence and the last states, batch
 * first as every compiled value, {@code [N, S + L (+ L), D * H]}: rows {@code 0..S-1} the output ({@code [N, S, D * H]},
 * {@code apply}'s), then each layer's {@code h_n}, its directions side by side as in the output, then LSTM's {@code c_n}
 * likewise. The forward reads parts of it: {@code o.output()} ({@link Sequence}, a narrow of its first S rows) and
 * {@code o.h().select(0, i)}, PyTorch's {@code h_n[i]} ({@code [N, H]}: a select of the layer's row, {@link #row}, and
 * for a bidirectional layer a narrow of the direction's H columns, {@link #direction}). h_n's own dimension 1, the
 * batch, is never seen by the forward, which reads no other use of it.
 *
 * @param layer the recurrent layer's spec
 */
public record LastStates(Recurrent.Spec layer) implements LayerSpec {
  /** The rows after the output: L for h_n, and L more for LSTM's c_n. */
  public int stateRows() {
    return layer.numLayers() * (layer.mode().equals("LSTM") ? 2 : 1);
  }

  /** What a layer's output {@code [N, S, D * H]} (its shape rule's) becomes with the states after it. */
  public int[] withStates(int[] output) {
    int[] out = output.clone();
    out[1] += stateRows();
    return out;
  }

  @Override
  public int[] outputShape(int[] in) {
    return withStates(layer.outputShape(in));
  }

  /** The states PyTorch's {@code h_n[index]} (or {@code c_n}) counts: {@code num_layers * D}. */
  public int states() {
    return layer.numLayers() * layer.directions();
  }

  /**
   * The select of the row of state {@code index} ({@code 0..states()-1}) of h_n ({@code cell} false) or c_n: its layer's
   * row, counted from the end ({@code [N, S + L (+ L), D * H] -> [N, D * H]}; the reader does not know S).
   */
  public Narrow row(boolean cell, int index) {
    int l = index / layer.directions();
    return Narrow.select(1, -stateRows() + (cell ? layer.numLayers() : 0) + l);
  }

  /** The narrow of state {@code index}'s direction out of its layer's row ({@code [N, D * H] -> [N, H]}); null when the layer runs one way. */
  public Narrow direction(int index) {
    int h = layer.hiddenSize();
    return layer.directions() == 1 ? null : new Narrow(1, index % layer.directions() * h, h, false);
  }

  @Override
  public String toString() {
    return layer + " with its last states";
  }

  /**
   * {@code o.output()}: the output sequence, the value's first S rows ({@code [N, S + rows, D * H] -> [N, S, D * H]}),
   * planned as the narrow {@link #narrow} gives for the value's shape.
   *
   * @param stateRows the rows of states after the output ({@link LastStates#stateRows})
   */
  public record Sequence(int stateRows) implements LayerSpec {
    @Override
    public int[] outputShape(int[] in) {
      return narrow(in).outputShape(in);
    }

    /** The narrow of the output's rows out of the value {@code in}. */
    public Narrow narrow(int[] in) {
      return new Narrow(1, 0, in[1] - stateRows, false);
    }

    @Override
    public String toString() {
      return "output()";
    }
  }
}
