package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.cpu.RecurrentKernels;
import java.util.List;

/**
 * What {@link RNNCell}, {@link LSTMCell} and {@link GRUCell} share, as PyTorch's {@code
 * nn.RNNCellBase}: one step of the recurrence, for loops written by hand (a decoder feeding its
 * own output back, attention over an encoder's states). The input is {@code [B, inputSize]} or one
 * sample {@code [inputSize]}; the states {@code [B, hiddenSize]} (or {@code [hiddenSize]}), zeros
 * when not given. Parameters by PyTorch's names ({@code weight_ih [G * hiddenSize, inputSize]},
 * {@code weight_hh}, {@code bias_ih}, {@code bias_hh}) and initialisation. On either device the step
 * is the recurrent layers' fused node over a sequence of one ({@link Ops#recurrent}).
 */
public abstract class RecurrentCell extends Layer<RecurrentCell.Spec> {
  /**
   * The hyper-parameters of a cell.
   *
   * @param mode {@code RNN_TANH}, {@code RNN_RELU}, {@code LSTM} or {@code GRU}
   */
  public record Spec(String mode, int inputSize, int hiddenSize, boolean bias) implements LayerSpec {
    public Spec {
      if (!List.of("RNN_TANH", "RNN_RELU", "LSTM", "GRU").contains(mode)) {
        throw new IllegalArgumentException("recurrent cell: unknown mode " + mode);
      }
      if (inputSize <= 0 || hiddenSize <= 0) {
        throw new IllegalArgumentException(name(mode) + "(" + inputSize + ", " + hiddenSize + "): input_size and hidden_size must be positive");
      }
    }

    private static String name(String mode) {
      return (mode.startsWith("RNN") ? "RNN" : mode) + "Cell";
    }

    int gates() {
      return mode.equals("LSTM") ? 4 : mode.equals("GRU") ? 3 : 1;
    }

    /** The new hidden state's shape: the input's with {@code hiddenSize} last. */
    @Override
    public int[] outputShape(int[] in) {
      if ((in.length != 1 && in.length != 2) || in[in.length - 1] != inputSize) {
        throw new ShapeException(this + " expects [B, " + inputSize + "] (or one sample [" + inputSize + "]), receives "
            + Shapes.toString(in));
      }
      int[] out = in.clone();
      out[out.length - 1] = hiddenSize;
      return out;
    }

    /** PyTorch's repr: {@code LSTMCell(10, 20)}, {@code RNNCell(10, 20, bias=False)}. */
    @Override
    public String toString() {
      return name(mode) + "(" + inputSize + ", " + hiddenSize + (bias ? "" : ", bias=False") + ")";
    }
  }

  /** The states after a step: the hidden state, and LSTM's cell state (null for the others). */
  public record State(Tensor h, Tensor c) {}

  private final Tensor weightIh;
  private final Tensor weightHh;
  private final Tensor biasIh;
  private final Tensor biasHh;

  RecurrentCell(Spec spec) {
    super(spec);
    float bound = (float) (1.0 / Math.sqrt(spec.hiddenSize()));
    int rows = spec.gates() * spec.hiddenSize();
    weightIh = registerParameter("weight_ih", Tensor.uniform(-bound, bound, rows, spec.inputSize()).requiresGrad(true));
    weightHh = registerParameter("weight_hh", Tensor.uniform(-bound, bound, rows, spec.hiddenSize()).requiresGrad(true));
    biasIh = spec.bias() ? registerParameter("bias_ih", Tensor.uniform(-bound, bound, rows).requiresGrad(true)) : null;
    biasHh = spec.bias() ? registerParameter("bias_hh", Tensor.uniform(-bound, bound, rows).requiresGrad(true)) : null;
  }

  public Tensor weightIh() {
    return weightIh;
  }

  public Tensor weightHh() {
    return weightHh;
  }

  // ------------------------------------------------ the cell as a one-layer recurrent layer over a sequence of one
  // The members a compiled plan calls on a recurrent layer ({@link Recurrent}'s names), so that a cell stepped by hand can
  // run as that layer's step: one layer, one direction, batch first, one step (the plan's RecurrentStack reads the
  // weights in PyTorch's order; the CUDA plan calls forwardWithState on the tape).

  /** {@code weight_ih}, as {@link Recurrent#weightIh}: the cell is layer 0, direction 0. */
  public Tensor weightIh(int layer, int direction) {
    requireRun(layer, direction);
    return weightIh;
  }

  /** {@code weight_hh}, as {@link Recurrent#weightHh}. */
  public Tensor weightHh(int layer, int direction) {
    requireRun(layer, direction);
    return weightHh;
  }

  /** {@code bias_ih}, as {@link Recurrent#biasIh}; null without bias. */
  public Tensor biasIh(int layer, int direction) {
    requireRun(layer, direction);
    return biasIh;
  }

  /** {@code bias_hh}, as {@link Recurrent#biasHh}; null without bias. */
  public Tensor biasHh(int layer, int direction) {
    requireRun(layer, direction);
    return biasHh;
  }

  /** Every parameter in PyTorch's order, as {@link Recurrent#flatWeights}: weight_ih, weight_hh, then bias_ih, bias_hh with bias. */
  public List<Tensor> flatWeights() {
    return biasIh == null ? List.of(weightIh, weightHh) : List.of(weightIh, weightHh, biasIh, biasHh);
  }

  /**
   * The step as {@link LSTM#forwardWithState(Tensor, Tensor, Tensor)} of a one-layer batch-first LSTM over a sequence of
   * one: {@code x [N, 1, in]}, {@code h0} and {@code c0 [1, N, H]} (null for zeros); output {@code [N, 1, H]}, h_n and
   * c_n {@code [1, N, H]}.
   */
  public Recurrent.Output forwardWithState(Tensor x, Tensor h0, Tensor c0) {
    if (!spec().mode().equals("LSTM") && c0 != null) {
      throw new IllegalArgumentException(spec() + " has no cell state: c0 must be null");
    }
    if (x.dim() != 3 || x.size(1) != 1) {
      throw new ShapeException(spec() + ": forwardWithState runs one step, [N, 1, " + spec().inputSize() + "], receives "
          + Shapes.toString(x.shape()));
    }
    State s = run(x.select(1, 0), h0 == null ? null : h0.select(0, 0), c0 == null ? null : c0.select(0, 0));
    return new Recurrent.Output(s.h().unsqueeze(1), s.h().unsqueeze(0), s.c() == null ? null : s.c().unsqueeze(0));
  }

  /** The step as {@link GRU#forwardWithState(Tensor, Tensor)} over a sequence of one (RNN and GRU cells). */
  public Recurrent.Output forwardWithState(Tensor x, Tensor h0) {
    return forwardWithState(x, h0, null);
  }

  /** The step from zero states as {@link Recurrent#forwardWithState(Tensor)} over a sequence of one. */
  public Recurrent.Output forwardWithState(Tensor x) {
    return forwardWithState(x, null, null);
  }

  private void requireRun(int layer, int direction) {
    if (layer != 0 || direction != 0) {
      throw new IndexOutOfBoundsException(spec() + " is one layer one way: no layer " + layer + " direction " + direction);
    }
  }

  /** The new hidden state from a zero state. */
  @Override
  public Tensor forward(Tensor x) {
    return run(x, null, null).h();
  }

  /** One step from states {@code h} (and {@code c}), null for zeros. */
  final State run(Tensor x, Tensor h, Tensor c) {
    Spec s = spec();
    outputShape(x.shape());
    if (x.dim() == 1) { // one sample
      State o = run(x.unsqueeze(0), h == null ? null : requireState("h", h, 0).unsqueeze(0),
          c == null ? null : requireState("c", c, 0).unsqueeze(0));
      return new State(o.h().squeeze(0), o.c() == null ? null : o.c().squeeze(0));
    }
    int batch = x.size(0), hidden = s.hiddenSize();
    h = h == null ? null : requireState("h", h, batch);
    c = c == null ? null : requireState("c", c, batch);
    Tensor fromInput = Ops.linear(x, weightIh, biasIh);
    // the recurrent layers' fused node over a sequence of one step
    Tensor states = Ops.recurrent(RecurrentKernels.Mode.valueOf(s.mode()), fromInput.reshape(1, batch, s.gates() * hidden), h, c,
        weightHh, biasHh, false).select(0, 0);
    return s.mode().equals("LSTM") ? new State(states.narrow(1, 0, hidden), states.narrow(1, hidden, hidden)) : new State(states, null);
  }

  /** Checks a state's shape: {@code [batch, hiddenSize]}, or {@code [hiddenSize]} for one sample ({@code batch} 0). */
  private Tensor requireState(String name, Tensor state, int batch) {
    Spec s = spec();
    int[] expected = batch == 0 ? new int[] {s.hiddenSize()} : new int[] {batch, s.hiddenSize()};
    if (!java.util.Arrays.equals(state.shape(), expected)) {
      throw new ShapeException(s + ": " + name + " must have shape " + Shapes.toString(expected) + ", got " + Shapes.toString(state.shape()));
    }
    return state;
  }
}
