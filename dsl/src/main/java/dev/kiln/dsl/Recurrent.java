package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.cpu.RecurrentKernels;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * What {@link RNN}, {@link LSTM} and {@link GRU} share, as PyTorch's {@code nn.RNNBase}: a stack
 * of {@code numLayers} recurrent layers, each run over the sequence forward (and, when
 * bidirectional, backward too, the two outputs side by side), the next layer reading the
 * previous one's output (through dropout in training, when {@code dropout > 0}).
 *
 * <p>Shapes, as PyTorch's: the input is {@code [T, B, inputSize]}, or {@code [B, T, inputSize]}
 * with {@code batchFirst}, or one sequence {@code [T, inputSize]}; the output {@code [T, B, D *
 * hiddenSize]} (D = 2 when bidirectional), and the last states {@code [numLayers * D, B,
 * hiddenSize]}, the layers' directions in order (PyTorch's {@code h_n}, and LSTM's {@code c_n}).
 * Parameters by PyTorch's names and shapes ({@code weight_ih_l0 [G * hiddenSize, inputSize]},
 * {@code weight_hh_l0}, {@code bias_ih_l0}, {@code bias_hh_l0}, {@code ..._reverse}), G the
 * gates (1, 4 for LSTM's i, f, g, o, 3 for GRU's r, z, n), so a PyTorch state dict loads as it is;
 * each drawn from {@code U(-1/sqrt(hiddenSize), 1/sqrt(hiddenSize))} as PyTorch's.
 *
 * <p>Runs eagerly on either device: the input's projection for all steps at once ({@code [T * B,
 * inputSize]} times {@code weight_ih}), then on either device the whole sequence as one fused node
 * per layer and direction ({@link Ops#recurrent}: one GEMM and the cells per step, back-propagation
 * through time in one backward; on CUDA a cuBLAS GEMM and one cell kernel per step, each way). Both
 * as {@link Ops#recurrentLayer}: without a gradient to record, on the CPU, the projection is a pooled array and
 * the kernel writes the hidden states alone (no cell states, no copy narrowed out of them).
 * A compiled model ({@code @Model}) runs the same kernels over its plan's buffers
 * ({@code dev.kiln.runtime.cpu.RecurrentStack}) for a layer built with {@code batchFirst(true)}.
 */
public abstract class Recurrent<T extends Recurrent<T>> extends Layer<Recurrent.Spec> {
  /**
   * The hyper-parameters and shape rule of a recurrent layer.
   *
   * @param mode {@code RNN_TANH}, {@code RNN_RELU}, {@code LSTM} or {@code GRU}
   */
  public record Spec(
      String mode, int inputSize, int hiddenSize, int numLayers, boolean bias, boolean batchFirst, double dropout,
      boolean bidirectional) implements LayerSpec {
    public Spec {
      if (!List.of("RNN_TANH", "RNN_RELU", "LSTM", "GRU").contains(mode)) {
        throw new IllegalArgumentException("recurrent layer: unknown mode " + mode);
      }
      String name = name(mode) + "(" + inputSize + ", " + hiddenSize + ")";
      if (inputSize <= 0 || hiddenSize <= 0) {
        throw new IllegalArgumentException(name + ": input_size and hidden_size must be positive");
      }
      if (numLayers < 1) {
        throw new IllegalArgumentException(name + ": num_layers must be at least 1, got " + numLayers);
      }
      if (!(dropout >= 0 && dropout <= 1)) {
        throw new IllegalArgumentException(name + ": dropout must be a probability in [0, 1], got " + dropout);
      }
    }

    private static String name(String mode) {
      return mode.startsWith("RNN") ? "RNN" : mode;
    }

    /** Gates per layer: 1 for RNN, 4 for LSTM, 3 for GRU. */
    public int gates() {
      return switch (mode) {
        case "LSTM" -> 4;
        case "GRU" -> 3;
        default -> 1;
      };
    }

    /** Directions: 2 when bidirectional. */
    public int directions() {
      return bidirectional ? 2 : 1;
    }

    /** The output's shape: the input's with its last dimension {@code directions * hiddenSize}. */
    @Override
    public int[] outputShape(int[] in) {
      if ((in.length != 3 && in.length != 2) || in[in.length - 1] != inputSize) {
        throw new ShapeException(this + " expects " + (batchFirst ? "[B, T, " : "[T, B, ") + inputSize + "] (or one sequence [T, "
            + inputSize + "]), receives " + Shapes.toString(in));
      }
      int[] out = in.clone();
      out[out.length - 1] = directions() * hiddenSize;
      return out;
    }

    /** PyTorch's repr: {@code LSTM(10, 20, num_layers=2, batch_first=True)}, the defaults left out. */
    @Override
    public String toString() {
      StringBuilder sb = new StringBuilder(name(mode)).append('(').append(inputSize).append(", ").append(hiddenSize);
      if (numLayers != 1) {
        sb.append(", num_layers=").append(numLayers);
      }
      if (!bias) {
        sb.append(", bias=False");
      }
      if (batchFirst) {
        sb.append(", batch_first=True");
      }
      if (dropout != 0) {
        sb.append(", dropout=").append(pythonRepr(dropout));
      }
      if (bidirectional) {
        sb.append(", bidirectional=True");
      }
      return sb.append(')').toString();
    }

    Spec with(int layers, boolean b, boolean first, double p, boolean both) {
      return new Spec(mode, inputSize, hiddenSize, layers, b, first, p, both);
    }
  }

  /**
   * What the layer's forward with states returns: the output sequence and the last hidden state of
   * every layer and direction ({@code h_n}), and for LSTM the last cell state ({@code c_n}, null for
   * RNN and GRU).
   */
  public record Output(Tensor output, Tensor h, Tensor c) {}

  /** weight_ih, weight_hh, bias_ih, bias_hh of each layer and direction, in PyTorch's order (biases null without bias). */
  private final List<Tensor[]> weights = new ArrayList<>();
  /** The names registered by the last {@link #build}, to remove when the spec changes. */
  private final List<String> registered = new ArrayList<>();

  Recurrent(Spec spec) {
    super(spec);
    build();
  }

  /** (Re)makes the parameters for the current spec, in PyTorch's order and with its initialisation. */
  private void build() {
    registered.forEach(this::unregisterParameter);
    registered.clear();
    weights.clear();
    Spec s = spec();
    float bound = (float) (1.0 / Math.sqrt(s.hiddenSize()));
    int rows = s.gates() * s.hiddenSize();
    for (int l = 0; l < s.numLayers(); l++) {
      for (int d = 0; d < s.directions(); d++) {
        int in = l == 0 ? s.inputSize() : s.directions() * s.hiddenSize();
        String[] names = names(weights.size());
        Tensor[] w = new Tensor[4];
        w[0] = registerParameter(names[0], Tensor.uniform(-bound, bound, rows, in).requiresGrad(true));
        w[1] = registerParameter(names[1], Tensor.uniform(-bound, bound, rows, s.hiddenSize()).requiresGrad(true));
        if (s.bias()) {
          w[2] = registerParameter(names[2], Tensor.uniform(-bound, bound, rows).requiresGrad(true));
          w[3] = registerParameter(names[3], Tensor.uniform(-bound, bound, rows).requiresGrad(true));
        }
        weights.add(w);
        registered.addAll(List.of(names));
      }
    }
  }

  /** PyTorch's parameter names of layer-direction {@code k}: {@code weight_ih_l1_reverse}, ...; the biases' only with bias. */
  private String[] names(int k) {
    Spec s = spec();
    String suffix = "_l" + k / s.directions() + (k % s.directions() == 1 ? "_reverse" : "");
    return s.bias()
        ? new String[] {"weight_ih" + suffix, "weight_hh" + suffix, "bias_ih" + suffix, "bias_hh" + suffix}
        : new String[] {"weight_ih" + suffix, "weight_hh" + suffix};
  }

  /** Applies a builder call's spec before the first forward, remaking the parameters. */
  private T reconfigure(Spec next) {
    reconfigure(next, "num_layers, bias, batch_first, dropout and bidirectional");
    build();
    @SuppressWarnings("unchecked")
    T self = (T) this;
    return self;
  }

  /** Recurrent layers stacked (PyTorch's {@code num_layers}), each reading the one before; new parameters are drawn. */
  public T numLayers(int numLayers) {
    Spec s = spec();
    return reconfigure(s.with(numLayers, s.bias(), s.batchFirst(), s.dropout(), s.bidirectional()));
  }

  /** With or without the biases {@code bias_ih} and {@code bias_hh}; new parameters are drawn. */
  public T bias(boolean bias) {
    Spec s = spec();
    return reconfigure(s.with(s.numLayers(), bias, s.batchFirst(), s.dropout(), s.bidirectional()));
  }

  /** Input and output as {@code [B, T, features]} (the states stay {@code [layers, B, H]}, as PyTorch's). */
  public T batchFirst(boolean batchFirst) {
    Spec s = spec();
    return reconfigure(s.with(s.numLayers(), s.bias(), batchFirst, s.dropout(), s.bidirectional()));
  }

  /** Dropout on each layer's output but the last, in training (PyTorch's {@code dropout}). */
  public T dropout(double p) {
    Spec s = spec();
    return reconfigure(s.with(s.numLayers(), s.bias(), s.batchFirst(), p, s.bidirectional()));
  }

  /** Each layer over the sequence both ways, the outputs side by side; new parameters are drawn. */
  public T bidirectional(boolean bidirectional) {
    Spec s = spec();
    return reconfigure(s.with(s.numLayers(), s.bias(), s.batchFirst(), s.dropout(), bidirectional));
  }

  /** {@code weight_ih_l<layer>} (or {@code _reverse} for direction 1), {@code [G * hiddenSize, in]}. */
  public Tensor weightIh(int layer, int direction) {
    return weights.get(index(layer, direction))[0];
  }

  /** {@code weight_hh_l<layer>}, {@code [G * hiddenSize, hiddenSize]}. */
  public Tensor weightHh(int layer, int direction) {
    return weights.get(index(layer, direction))[1];
  }

  /** {@code bias_ih_l<layer>} (or {@code _reverse}), {@code [G * hiddenSize]}; null without bias. */
  public Tensor biasIh(int layer, int direction) {
    return weights.get(index(layer, direction))[2];
  }

  /** {@code bias_hh_l<layer>} (or {@code _reverse}), {@code [G * hiddenSize]}; null without bias. */
  public Tensor biasHh(int layer, int direction) {
    return weights.get(index(layer, direction))[3];
  }

  /**
   * Every parameter in PyTorch's order ({@code _flat_weights}): per layer and direction {@code
   * weight_ih, weight_hh}, then {@code bias_ih, bias_hh} with bias. A compiled model's plan reads them
   * so ({@code dev.kiln.runtime.cpu.RecurrentStack}).
   */
  public List<Tensor> flatWeights() {
    List<Tensor> all = new ArrayList<>();
    for (Tensor[] w : weights) {
      for (Tensor t : w) {
        if (t != null) {
          all.add(t);
        }
      }
    }
    return java.util.Collections.unmodifiableList(all);
  }

  private int index(int layer, int direction) {
    Spec s = spec();
    if (layer < 0 || layer >= s.numLayers() || direction < 0 || direction >= s.directions()) {
      throw new IndexOutOfBoundsException(s + " has no layer " + layer + ", direction " + direction);
    }
    return layer * s.directions() + direction;
  }

  /** The output sequence ({@code output} of PyTorch's pair); the states start at zero. */
  @Override
  public Tensor forward(Tensor x) {
    return run(x, null, null).output();
  }

  /**
   * The layer over {@code x} from initial states {@code h0} (and, for LSTM, {@code c0}), each
   * {@code [numLayers * D, B, hiddenSize]} ({@code [numLayers * D, hiddenSize]} for one sequence),
   * or null for zeros.
   */
  final Output run(Tensor x, Tensor h0, Tensor c0) {
    Spec s = spec();
    outputShape(x.shape());
    markApplied();
    boolean one = x.dim() == 2; // one sequence [T, I], as PyTorch 1.13 takes it
    if (one) { // the batch dimension goes where batchFirst puts it; the states' is always 1
      int at = s.batchFirst() ? 0 : 1;
      Output o = run(x.unsqueeze(at), h0 == null ? null : requireState("h0", h0, 1, true).unsqueeze(1),
          c0 == null ? null : requireState("c0", c0, 1, true).unsqueeze(1));
      return new Output(o.output().squeeze(at), o.h().squeeze(1), o.c() == null ? null : o.c().squeeze(1));
    }
    Tensor seq = s.batchFirst() ? x.transpose(0, 1) : x; // [T, B, I]
    if (seq.size(0) == 0) {
      throw new ShapeException(s + ": the sequence is empty (" + Shapes.toString(x.shape()) + "); PyTorch expects a length above 0 too");
    }
    int batch = seq.size(1);
    Output o = layers(seq, h0 == null ? null : requireState("h0", h0, batch, false),
        c0 == null ? null : requireState("c0", c0, batch, false), null);
    return s.batchFirst() ? new Output(o.output().transpose(0, 1), o.h(), o.c()) : o;
  }

  /**
   * What the layer's forward over a {@link PackedSequence} returns: the output sequences, packed as
   * the input (zero past each one's length), and the states of each sequence's last step.
   */
  public record PackedOutput(PackedSequence output, Tensor h, Tensor c) {}

  /**
   * The output sequences of a batch of sequences of different lengths, each run for its own length
   * ({@code output} of PyTorch's pair over a {@code PackedSequence}); the states start at zero.
   */
  public PackedSequence forward(PackedSequence x) {
    return run(x, null, null).output();
  }

  /**
   * The layer over packed sequences: the batch sorted by length, longest first (stable), then each
   * layer direction run over runs of steps in which the same sequences are still going ({@link
   * #direction}), and the results put back in the batch's order. The packed batch's own layout
   * (batch first or not) is kept; the layer's {@code batchFirst} is for padded input only, as in
   * PyTorch, where a {@code PackedSequence} has none.
   */
  final PackedOutput run(PackedSequence x, Tensor h0, Tensor c0) {
    Spec s = spec();
    Tensor seq = x.timeMajor(); // [T, B, I]
    int[] lengths = x.lengths();
    int batch = lengths.length;
    if (seq.dim() != 3 || seq.size(2) != s.inputSize()) {
      throw new ShapeException(s + " expects packed sequences of " + s.inputSize() + " features, got " + x);
    }
    markApplied();
    int[] order = java.util.stream.IntStream.range(0, batch).boxed()
        .sorted((a, b) -> Integer.compare(lengths[b], lengths[a])).mapToInt(Integer::intValue).toArray();
    int[] inverse = new int[batch];
    int[] sorted = new int[batch];
    for (int i = 0; i < batch; i++) {
      inverse[order[i]] = i;
      sorted[i] = lengths[order[i]];
    }
    Tensor h = h0 == null ? null : requireState("h0", h0, batch, false);
    Tensor c = c0 == null ? null : requireState("c0", c0, batch, false);
    Output o = layers(inBatchOrder(seq, 1, order), inBatchOrder(h, 1, order), inBatchOrder(c, 1, order), sorted);
    Tensor out = inBatchOrder(o.output(), 1, inverse);
    return new PackedOutput(PackedSequence.ofPadded(x.batchFirst() ? out.transpose(0, 1) : out, lengths, x.batchFirst()),
        inBatchOrder(o.h(), 1, inverse), inBatchOrder(o.c(), 1, inverse));
  }

  /** {@code t}'s slices along {@code dim} in the order {@code order} ({@code t} itself if that is the identity, or null). */
  private static Tensor inBatchOrder(Tensor t, int dim, int[] order) {
    for (int i = 0; i < order.length; i++) {
      if (order[i] != i) {
        return t == null ? null : t.indexSelect(dim, Tensor.labels(order).to(t.device()));
      }
    }
    return t;
  }

  /**
   * The stack of layers over {@code seq [T, B, I]} from the initial states (null for zeros): the
   * output {@code [T, B, D * H]} and the last states. {@code lengths}: null when every sequence runs
   * all T steps, else each sequence's length, longest first (the first equal to T).
   */
  private Output layers(Tensor seq, Tensor h, Tensor c, int[] lengths) {
    Spec s = spec();
    List<Tensor> hn = new ArrayList<>(), cn = new ArrayList<>();
    Tensor input = seq;
    for (int l = 0; l < s.numLayers(); l++) {
      List<Tensor> outs = new ArrayList<>();
      for (int d = 0; d < s.directions(); d++) {
        int k = l * s.directions() + d;
        Tensor[] state = {h == null ? null : h.select(0, k), c == null ? null : c.select(0, k)};
        outs.add(direction(input, weights.get(k), state, d == 1, lengths));
        hn.add(state[0]);
        if (state[1] != null) {
          cn.add(state[1]);
        }
      }
      input = outs.size() == 1 ? outs.get(0) : Tensor.cat(outs, 2);
      if (s.dropout() > 0 && l < s.numLayers() - 1) {
        input = Ops.dropout(input, s.dropout(), isTraining());
      }
    }
    return new Output(input, Tensor.stack(hn, 0), cn.isEmpty() ? null : Tensor.stack(cn, 0));
  }

  /**
   * One layer's direction over the sequence {@code [T, B, in]}; {@code state} holds the initial h
   * (and c), null for zeros, and is updated to the last step's. With {@code lengths} (longest
   * first), the steps split into runs over which the same sequences are going: in the forward
   * direction the batch's tail drops out as its sequences end (their last states kept), in the
   * backward one it joins as each sequence's last step comes (from its initial state); each run is
   * {@link #steps}, and the output is zero past each sequence's end, as PyTorch pads packed output.
   */
  private Tensor direction(Tensor input, Tensor[] w, Tensor[] state, boolean reverse, int[] lengths) {
    int steps = input.size(0), batch = input.size(1), hidden = spec().hiddenSize();
    if (lengths == null || lengths[batch - 1] == steps) { // the projection and the steps as one op
      return run(Ops.recurrentLayer(mode(), input, w[0], w[2], state[0], state[1], w[1], w[3], reverse), state);
    }
    // the input's part of every step's gates at once: [T * B, in] @ weight_ih^T + bias_ih
    Tensor projected = Ops.linear(input.reshape(steps * batch, input.size(2)), w[0], w[2])
        .reshape(steps, batch, spec().gates() * hidden); // not -1: the batch may be empty
    int[] ends = java.util.Arrays.stream(lengths).distinct().sorted().toArray(); // the runs: [ends[j-1], ends[j])
    Tensor[] out = new Tensor[ends.length];
    if (!reverse) {
      List<Tensor[]> ended = new ArrayList<>(); // the last states of sequences that ended, latest first
      int going = batch;
      for (int j = 0; j < ends.length; j++) {
        int from = j == 0 ? 0 : ends[j - 1], still = going(lengths, ends[j]);
        if (still < going) {
          ended.add(0, new Tensor[] {rows(state[0], still, going), rows(state[1], still, going)});
        }
        Tensor[] run = {rows(state[0], 0, still), rows(state[1], 0, still)};
        out[j] = padBatch(steps(projected.narrow(0, from, ends[j] - from).narrow(1, 0, still), w, run, false), batch);
        state[0] = run[0];
        state[1] = run[1];
        going = still;
      }
      for (int i = 0; i < 2; i++) {
        if (state[i] != null) {
          List<Tensor> parts = new ArrayList<>(List.of(state[i]));
          for (Tensor[] e : ended) {
            parts.add(e[i]);
          }
          state[i] = Tensor.cat(parts, 0);
        }
      }
    } else {
      Tensor[] initial = state.clone();
      Tensor[] run = {null, null};
      int going = 0;
      for (int j = ends.length - 1; j >= 0; j--) {
        int from = j == 0 ? 0 : ends[j - 1], now = going(lengths, ends[j]);
        for (int i = 0; i < 2; i++) { // the sequences whose last step comes now join from their initial states
          boolean lstmCell = i == 1 && spec().mode().equals("LSTM");
          Tensor joining = initial[i] != null ? rows(initial[i], going, now)
              : (i == 0 || lstmCell) && run[i] != null ? Tensor.zeros(input.device(), now - going, hidden) : null;
          run[i] = run[i] == null ? joining : joining == null ? run[i] : Tensor.cat(List.of(run[i], joining), 0);
        }
        out[j] = padBatch(steps(projected.narrow(0, from, ends[j] - from).narrow(1, 0, now), w, run, true), batch);
        going = now;
      }
      state[0] = run[0];
      state[1] = run[1];
    }
    return Tensor.cat(List.of(out), 0);
  }

  /** How many of the sequences (lengths longest first) are still going at step {@code end - 1}: those of length {@code >= end}. */
  private static int going(int[] lengths, int end) {
    int n = 0;
    while (n < lengths.length && lengths[n] >= end) {
      n++;
    }
    return n;
  }

  /** Rows {@code [from, to)} of a state {@code [B, H]}, null for null. */
  private static Tensor rows(Tensor state, int from, int to) {
    return state == null ? null : from == 0 && to == state.size(0) ? state : state.narrow(0, from, to - from);
  }

  /** {@code out [t, b, H]} with zero rows after its b sequences, to {@code [t, batch, H]}. */
  private static Tensor padBatch(Tensor out, int batch) {
    int b = out.size(1);
    return b == batch ? out : Tensor.cat(List.of(out, Tensor.zeros(out.device(), out.size(0), batch - b, out.size(2))), 1);
  }

  /**
   * The steps of one run, {@code projected [t, b, G * H]} (the input's part of the gates), from the
   * states in {@code state} (null for zeros), which are updated to the run's last step's: one fused
   * node for the whole run on either device ({@link Ops#recurrentRun}: per step one GEMM and the cells,
   * back-propagation through time in one backward; without a gradient the hidden states alone).
   */
  private Tensor steps(Tensor projected, Tensor[] w, Tensor[] state, boolean reverse) {
    return run(Ops.recurrentRun(mode(), projected, state[0], state[1], w[1], w[3], reverse), state);
  }

  /** The run's output; its last states into {@code state} (LSTM's cell state only for LSTM). */
  private static Tensor run(Ops.RecurrentRun run, Tensor[] state) {
    state[0] = run.h();
    if (run.c() != null) {
      state[1] = run.c();
    }
    return run.output();
  }

  private RecurrentKernels.Mode mode() {
    return RecurrentKernels.Mode.valueOf(spec().mode());
  }

  /** Checks an initial state's shape, {@code [numLayers * D, B, H]} (or {@code [numLayers * D, H]} for one sequence). */
  private Tensor requireState(String name, Tensor state, int batch, boolean one) {
    Spec s = spec();
    int layers = s.numLayers() * s.directions();
    int[] expected = one ? new int[] {layers, s.hiddenSize()} : new int[] {layers, batch, s.hiddenSize()};
    if (!java.util.Arrays.equals(state.shape(), expected)) {
      throw new ShapeException(String.format(Locale.ROOT, "%s: %s must have shape %s (num_layers * directions, batch, hidden_size), got %s",
          s, name, Shapes.toString(expected), Shapes.toString(state.shape())));
    }
    return state;
  }
}
