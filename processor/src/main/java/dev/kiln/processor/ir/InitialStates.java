package dev.kiln.processor.ir;

import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.Recurrent;
import dev.kiln.dsl.ShapeException;

/**
 * A recurrent layer run from initial states other than zeros ({@code dec.forwardWithState(y, enc.h())}, PyTorch's
 * {@code self.dec(y, h_n)}): a step of two values, the layer's input and its initial states, batch first as every
 * compiled value, {@code [N, L (+ L), D * H]}: each layer's {@code h0} (its directions side by side), then LSTM's {@code
 * c0} likewise, the layout of {@link LastStates}' rows after the output, so that one run's last states start another as
 * they are. Its value is {@code run}'s: the output alone ({@code Recurrent.Spec}) or with the last states after it
 * ({@link LastStates}).
 *
 * An LSTM given one state and zeros for the other ({@code lstm.forwardWithState(x, enc.h(), c0)}, {@code c0} zeros or
 * null) reads a value holding that one alone, {@code [N, L, D * H]} ({@code only}), the other starting at zero as in eager
 * mode.
 *
 * @param run the layer's spec, or {@link LastStates} of it
 * @param only the one state the value holds (0 h, 1 LSTM's c), the other zeros; -1 when it holds all of the layer's
 */
public record InitialStates(LayerSpec run, int only) implements LayerSpec {
  /** A layer run from all its initial states. */
  public InitialStates(LayerSpec run) {
    this(run, -1);
  }

  /** The recurrent layer's spec. */
  public Recurrent.Spec layer() {
    return run instanceof LastStates s ? s.layer() : (Recurrent.Spec) run;
  }

  /** Whether the value holds the last states after the output. */
  public boolean lastStates() {
    return run instanceof LastStates;
  }

  /** The shape of the value holding the initial states: {@code [N, L (+ L), D * H]}. */
  public int[] statesShape() {
    Recurrent.Spec r = layer();
    return new int[] {-1, r.numLayers() * (r.mode().equals("LSTM") && only < 0 ? 2 : 1), r.directions() * r.hiddenSize()};
  }

  @Override
  public int[] outputShape(int[] in) {
    return run.outputShape(in);
  }

  @Override
  public String toString() {
    return run + (only < 0 ? " from its initial states" : only == 0 ? " from its initial h (c zeros)" : " from its initial c (h zeros)");
  }

  /** How a value written as an initial state reads as PyTorch's {@code [count, N, H]}. */
  public enum Form {
    /** A run's last states whole, {@code enc.h()}: {@code [N, L, D * H]} is PyTorch's {@code [L * D, N, H]}. */
    LAST,
    /** {@code v.unsqueeze(0)} of {@code [N, H]}: PyTorch's {@code [1, N, H]}. */
    UNSQUEEZE,
    /** {@code v.view(1, -1, H)} (or {@code reshape}, the batch as {@code x.size(0)}) of {@code [N, H]}. */
    VIEW
  }

  /**
   * One initial state of a layer, PyTorch's {@code h0} or {@code c0} {@code [L * D, N, H]}, out of a compiled value: the
   * same values as {@code [N, L, D * H]} (a view, each sample's {@code [L * D, H]} in order); the shape checker holds the
   * value to the layer's shape with PyTorch's message ({@link #error}).
   *
   * @param call the layer's call, for messages
   * @param name {@code h0} or {@code c0}
   * @param layer the layer
   * @param layerText the layer as messages name it ({@code dec: GRU(8, 8, batch_first=True)})
   * @param form how the value reads as PyTorch's state
   * @param count PyTorch's dimension 0: the run's {@code L * D} ({@link Form#LAST}), or the view's first size
   * @param hidden the view's last size ({@link Form#VIEW}), else -1
   * @param written the value as written, for messages ({@code h0 = proj.apply(f).unsqueeze(0)})
   */
  public record State(String call, String name, Recurrent.Spec layer, String layerText, Form form, int count, int hidden,
      String written) implements LayerSpec {
    /** PyTorch's shape of the state the value {@code in} is, as messages write it ({@code (1, N, 8)}). */
    public String torchShape(int[] in) {
      int per = 1;
      for (int i = 1; i < in.length; i++) {
        per *= in[i];
      }
      return switch (form) {
        case LAST -> "(" + count + ", N, " + per / count + ")";
        case UNSQUEEZE -> {
          StringBuilder s = new StringBuilder("(1, N");
          for (int i = 1; i < in.length; i++) {
            s.append(", ").append(in[i]);
          }
          yield s.append(")").toString();
        }
        case VIEW -> per == count * hidden ? "(" + count + ", N, " + hidden + ")"
            : "(" + count + ", N * " + per + " / " + count * hidden + ", " + hidden + ")";
      };
    }

    /** The shape the layer expects, as messages write it: {@code (L * D, N, H)}. */
    public String expected() {
      return "(" + layer.numLayers() * layer.directions() + ", N, " + layer.hiddenSize() + ")";
    }

    /** Whether the value {@code in} is the state the layer expects. */
    public boolean fits(int[] in) {
      return torchShape(in).equals(expected()) && (form != Form.UNSQUEEZE || in.length == 2);
    }

    @Override
    public int[] outputShape(int[] in) {
      if (!fits(in)) {
        throw new ShapeException("expected " + name + " of shape " + expected() + ", got " + torchShape(in));
      }
      return new int[] {in[0], layer.numLayers(), layer.directions() * layer.hiddenSize()};
    }

    @Override
    public String toString() {
      return name + " of " + layerText;
    }
  }
}
