package dev.kiln.runtime.cpu;

import dev.kiln.runtime.Generator;
import dev.kiln.runtime.Tensor;
import java.util.Arrays;
import java.util.List;

/**
 * A compiled model's recurrent layer (RNN, LSTM or GRU, stacked and bidirectional as PyTorch's)
 * over one batch size's buffers: the steps the eager layer takes, on plain arrays. Its input and
 * output are batch first, {@code [N, S, in]} and {@code [N, S, D * H]} (D = 2 when bidirectional),
 * as a compiled model keeps the batch in dimension 0; inside, the sequence is time-major, as the
 * eager layer runs it. Per layer and direction: the input's part of every step's gates by one GEMM
 * ({@code [S * N, in] @ weight_ih^T + bias_ih}), then the whole sequence as one fused run of {@link
 * RecurrentKernels} (the eager layer's node); between layers, in training, dropout with the eager
 * layer's draws, in its order. The backward runs the same kernels' back-propagation through time
 * and the GEMMs' gradients.
 *
 * <p>A plan holds one per recurrent step and reuses its buffers from call to call; what the
 * forward keeps for the backward is the last forward's (the plan's guard makes sure the backward
 * reads the forward that recorded it).
 *
 * <p>Weights and gradients come as PyTorch orders them ({@code _flat_weights}): per layer and
 * direction {@code weight_ih, weight_hh, bias_ih, bias_hh} (the biases only with bias).
 *
 * <p>With {@code lastStates} (a compiled {@code forwardWithState}), each sample's value holds its last
 * states after its output, batch first: {@code [N, S + L (+ L), D * H]}, rows {@code 0..S-1} the output,
 * then each layer's {@code h_n} (its directions side by side, as in the output), then LSTM's {@code c_n}
 * likewise; PyTorch's {@code h_n[l * D + d]} is row {@code S + l}, columns {@code d * H ..}. The states are
 * the eager layer's (each direction's last step: step S - 1 forward, step 0 in reverse), and their
 * gradient joins the steps' at that step, as the eager layer's does.
 *
 * <p>The initial states start at zero, or are read from a second value ({@link #forward(float[], int, float[], int,
 * float[], int, List, boolean, Generator, boolean)}: a compiled {@code forwardWithState(x, h0, c0)} given other
 * states), each sample's {@code [L (+ L), D * H]}: the layout of the last states above, without the output, so that
 * one run's last states start another's as they are. PyTorch's {@code h0[l * D + d]} of sample n is row {@code l},
 * columns {@code d * H ..}, {@code c0}'s rows {@code L ..}. Their gradient is the one the eager layer's kernels give
 * {@code h0} and {@code c0}.
 */
public final class RecurrentStack {
  private final RecurrentKernels.Mode mode;
  private final int batch;
  private final int steps;
  private final int inputSize;
  private final int hidden;
  private final int layers;
  private final int directions;
  private final boolean bias;
  private final double dropout;
  /** Whether each sample's value holds the last states after the output (see the class). */
  private final boolean lastStates;
  /** With last states: the output batch first {@code [N, S, D * H]}, before it joins the states. */
  private final float[] batchFirst;
  /** Each layer's input, time-major {@code [S, N, in_l]}: the model's input transposed, then each layer's output (after dropout). */
  private final float[][] inputs;
  /** The last layer's output, time-major {@code [S, N, D * H]}. */
  private final float[] top;
  /** Per layer and direction: the input's part of the gates {@code [S, N, G * H]}, and the states {@code [S, N, states * H]}. */
  private final float[][] projected;
  private final float[][] states;
  /** What each run keeps for its backward (null arrays when the forward kept nothing). */
  private final RecurrentKernels.Saved[] saved;
  /** Per layer but the last: the dropout mask of its output, when the last forward dropped. */
  private final float[][] masks;
  private boolean dropped;
  /** Per layer direction: its initial states {@code [N, H]} (h, then LSTM's c), gathered from the value that holds them. */
  private final float[][][] initial;
  /** The one state the value of initial states holds (0 h, 1 LSTM's c), the other starting at zero; -1 when it holds all. */
  private int onlyInitial = -1;

  /**
   * @param mode the cell
   * @param batch {@code N}
   * @param steps {@code S}, the sequence's length
   * @param inputSize the features of each step of the input
   * @param hidden {@code H}
   * @param layers the stacked layers (PyTorch's {@code num_layers})
   * @param bidirectional whether each layer runs both ways (D = 2)
   * @param bias whether the layers have {@code bias_ih} and {@code bias_hh}
   * @param dropout the probability of dropout on each layer's output but the last, in training
   */
  public RecurrentStack(RecurrentKernels.Mode mode, int batch, int steps, int inputSize, int hidden, int layers, boolean bidirectional,
      boolean bias, double dropout) {
    this(mode, batch, steps, inputSize, hidden, layers, bidirectional, bias, dropout, false);
  }

  /**
   * A stack whose value holds the last states after the output ({@code lastStates}, see the class), or the output
   * alone; the other parameters as {@link #RecurrentStack(RecurrentKernels.Mode, int, int, int, int, int, boolean,
   * boolean, double)}'s.
   */
  public RecurrentStack(RecurrentKernels.Mode mode, int batch, int steps, int inputSize, int hidden, int layers, boolean bidirectional,
      boolean bias, double dropout, boolean lastStates) {
    this.mode = mode;
    this.batch = batch;
    this.steps = steps;
    this.inputSize = inputSize;
    this.hidden = hidden;
    this.layers = layers;
    this.directions = bidirectional ? 2 : 1;
    this.bias = bias;
    this.dropout = dropout;
    this.lastStates = lastStates;
    int rows = steps * batch, width = directions * hidden;
    inputs = new float[layers][];
    inputs[0] = new float[rows * inputSize];
    for (int l = 1; l < layers; l++) {
      inputs[l] = new float[rows * width];
    }
    top = new float[rows * width];
    projected = new float[layers * directions][rows * mode.gates * hidden];
    states = new float[layers * directions][rows * mode.states * hidden];
    saved = new RecurrentKernels.Saved[layers * directions];
    masks = new float[layers][];
    batchFirst = lastStates ? new float[rows * width] : null;
    initial = new float[layers * directions][mode.states][batch * hidden];
  }

  /**
   * Makes the value of initial states hold only state {@code state} ({@code [N, L, D * H]}: 0 h, 1 LSTM's c), the other
   * starting at zero, as eager mode's null or zeros for it ({@code lstm.forwardWithState(x, h0, null)}); this stack.
   */
  public RecurrentStack onlyInitial(int state) {
    if (state < 0 || state >= mode.states) {
      throw new IllegalArgumentException("recurrent: no initial state " + state + " in " + mode);
    }
    onlyInitial = state;
    return this;
  }

  /** Whether the value of initial states holds state {@code s} (0 h, 1 LSTM's c). */
  private boolean holdsInitial(int s) {
    return onlyInitial < 0 || onlyInitial == s;
  }

  /** Where a sample's initial state {@code s} of layer direction {@code k} starts in the value holding the initial states. */
  private int givenAt(int k, int s) {
    return initialAt(k, onlyInitial < 0 ? s : 0);
  }

  /** Values per sample of the stack's value: the output's {@code S * D * H}, and with last states each state's {@code L * D * H}. */
  public int perSample() {
    return (steps + (lastStates ? mode.states * layers : 0)) * directions * hidden;
  }

  /** Parameters per layer and direction in the flat list: 4 with bias, else 2. */
  private int perRun() {
    return bias ? 4 : 2;
  }

  /**
   * {@code out [N, S, D * H]} from {@code in [N, S, in]}, the states starting at zero (with last states {@code
   * [N, S + L (+ L), D * H]}, see the class).
   *
   * @param weights the layer's parameters in PyTorch's order (see the class)
   * @param training whether dropout between layers applies (the layer's {@code train()} mode)
   * @param rng the generator dropout draws from (Kiln's), in the eager layer's order
   * @param keep whether to keep what the backward needs (a forward that records a gradient)
   */
  public void forward(float[] out, int outOff, float[] in, int inOff, List<Tensor> weights, boolean training, Generator rng,
      boolean keep) {
    forward(out, outOff, in, inOff, null, 0, weights, training, rng, keep);
  }

  /**
   * The same, the states starting at {@code init}'s ({@code [N, L (+ L), D * H]} from {@code initOff}, see the class), or
   * at zero when it is null.
   */
  public void forward(float[] out, int outOff, float[] in, int inOff, float[] init, int initOff, List<Tensor> weights,
      boolean training, Generator rng, boolean keep) {
    requireWeights(weights);
    int rows = steps * batch, gh = mode.gates * hidden, width = directions * hidden, sh = mode.states * hidden;
    CpuKernels.permute(inputs[0], 0, in, inOff, new int[] {batch, steps, inputSize}, new int[] {1, 0, 2}, false);
    dropped = training && dropout > 0 && layers > 1;
    for (int l = 0; l < layers; l++) {
      int inSize = l == 0 ? inputSize : width;
      float[] layerOut = l == layers - 1 ? top : inputs[l + 1];
      for (int d = 0; d < directions; d++) {
        int k = l * directions + d, w = k * perRun();
        Tensor wIh = weights.get(w), wHh = weights.get(w + 1), bIh = bias ? weights.get(w + 2) : null;
        Tensor bHh = bias ? weights.get(w + 3) : null;
        float[] proj = projected[k];
        // the bias folded into the product where OpenBLAS allows it, the bits of a product and addBiasRows (eager's linear)
        Blas.linear(rows, gh, inSize, inputs[l], 0, wIh, bIh == null ? null : bIh.readBuffer(), bIh == null ? 0 : bIh.offset(),
            proj, 0);
        if (init != null) { // this layer direction's initial states, each sample's [H] out of its rows
          for (int st = 0; st < mode.states; st++) {
            if (holdsInitial(st)) {
              MathKernels.copyRows(initial[k][st], 0, hidden, init, initOff + givenAt(k, st), initialPerSample(), hidden, batch);
            }
          }
        }
        float[] h0 = init == null || !holdsInitial(0) ? null : initial[k][0];
        float[] c0 = init == null || mode.states < 2 || !holdsInitial(1) ? null : initial[k][1];
        float[] bh = bHh == null ? null : bHh.readBuffer();
        int bOff = bHh == null ? 0 : bHh.offset();
        // inference without the last states: the hidden states alone are written ([S, N, H]), LSTM's cell states not
        boolean hiddenOnly = !keep && !lastStates;
        saved[k] = hiddenOnly
            ? RecurrentKernels.forwardHidden(mode, steps, batch, hidden, d == 1, proj, 0, h0, 0, c0, 0, wHh, bh, bOff, states[k])
            : RecurrentKernels.forward(mode, steps, batch, hidden, d == 1, proj, 0, h0, 0, c0, 0, wHh, bh, bOff, states[k], keep);
        // the hidden states side by side: [S, N, D * H]
        MathKernels.copyRows(layerOut, d * hidden, width, states[k], 0, hiddenOnly ? hidden : sh, hidden, rows);
      }
      if (dropped && l < layers - 1) { // on this layer's output, as the eager layer draws it
        if (masks[l] == null) {
          masks[l] = new float[rows * width];
        }
        ActivationKernels.dropoutForward(inputs[l + 1], 0, inputs[l + 1], 0, masks[l], 0, rows * width, dropout, rng);
      }
    }
    if (!lastStates) {
      CpuKernels.permute(out, outOff, top, 0, new int[] {steps, batch, width}, new int[] {1, 0, 2}, false);
      return;
    }
    CpuKernels.permute(batchFirst, 0, top, 0, new int[] {steps, batch, width}, new int[] {1, 0, 2}, false);
    int pitch = perSample(), seq = steps * width;
    MathKernels.copyRows(out, outOff, pitch, batchFirst, 0, seq, seq, batch);
    for (int k = 0; k < layers * directions; k++) { // each layer direction's last step, into its rows after the output
      for (int s = 0; s < mode.states; s++) {
        MathKernels.copyRows(out, outOff + stateAt(k, s), pitch, states[k], lastStep(k) * batch * sh + s * hidden, sh, hidden, batch);
      }
    }
  }

  /** The step whose states are layer direction {@code k}'s last: S - 1 forward, 0 in reverse. */
  private int lastStep(int k) {
    return k % directions == 1 ? 0 : steps - 1;
  }

  /** Where a sample's last state {@code s} (0 h, 1 LSTM's c) of layer direction {@code k} starts in its value. */
  private int stateAt(int k, int s) {
    return steps * directions * hidden + initialAt(k, s);
  }

  /** Where a sample's initial state {@code s} (0 h, 1 LSTM's c) of layer direction {@code k} starts in the value holding them. */
  private int initialAt(int k, int s) {
    return (s * layers + k / directions) * directions * hidden + k % directions * hidden;
  }

  /** Values per sample of the value holding the initial states: {@code L (+ L) * D * H} (L when it holds one, {@link #onlyInitial}). */
  public int initialPerSample() {
    return (onlyInitial < 0 ? mode.states : 1) * layers * directions * hidden;
  }

  /**
   * The gradients of the last {@link #forward}, given the output's {@code dOut [N, S, D * H]} (with last states
   * {@code [N, S + L (+ L), D * H]}, the states' gradients after the output's, see the class): the
   * input's into {@code dIn} (written, or added with {@code accumulate}; null when not wanted), each
   * parameter's added to its gradient in {@code grads} (the flat list's order; null entries are not
   * wanted).
   */
  public void backward(float[] dIn, int dInOff, boolean accumulate, float[] dOut, int dOutOff, List<Tensor> weights, Tensor[] grads) {
    backward(dIn, dInOff, accumulate, dOut, dOutOff, null, 0, false, weights, grads);
  }

  /**
   * The same, with the gradient of the initial states the last forward read into {@code dInit} ({@code [N, L (+ L), D *
   * H]}, written, or added with {@code accumulateInit}; null when not wanted).
   */
  public void backward(float[] dIn, int dInOff, boolean accumulate, float[] dOut, int dOutOff, float[] dInit, int dInitOff,
      boolean accumulateInit, List<Tensor> weights, Tensor[] grads) {
    requireWeights(weights);
    if (grads.length != weights.size()) {
      throw new IllegalArgumentException("recurrent: " + grads.length + " gradients for " + weights.size() + " parameters");
    }
    int lowest = dIn != null || dInit != null ? 0 : layers; // the lowest layer whose input's, states' or parameters' gradient is wanted
    for (int i = 0; i < grads.length && lowest == layers; i++) {
      if (grads[i] != null) {
        lowest = i / (perRun() * directions);
      }
    }
    if (lowest == layers) {
      return;
    }
    int rows = steps * batch, gh = mode.gates * hidden, width = directions * hidden, sh = mode.states * hidden;
    float[] dLayerOut = new float[rows * width]; // time-major
    if (lastStates) {
      int seq = steps * width;
      MathKernels.copyRows(batchFirst, 0, seq, dOut, dOutOff, perSample(), seq, batch);
      CpuKernels.permute(dLayerOut, 0, batchFirst, 0, new int[] {batch, steps, width}, new int[] {1, 0, 2}, false);
    } else {
      CpuKernels.permute(dLayerOut, 0, dOut, dOutOff, new int[] {batch, steps, width}, new int[] {1, 0, 2}, false);
    }
    float[] dStates = new float[rows * sh];
    float[] dProj = new float[rows * gh];
    float[] dwHh = new float[gh * hidden];
    float[] dbHh = new float[gh];
    for (int l = layers - 1; l >= lowest; l--) {
      int inSize = l == 0 ? inputSize : width;
      boolean wantInput = l > lowest || dIn != null;
      float[] dLayerIn = wantInput ? new float[rows * inSize] : null;
      for (int d = 0; d < directions; d++) {
        int k = l * directions + d, w = k * perRun();
        if (saved[k] == null || saved[k].hPrev() == null) {
          throw new IllegalStateException("recurrent: the forward kept nothing for a backward (it ran without gradients)");
        }
        // this direction's part of the output's gradient; LSTM's cell states get none but through the steps
        Arrays.fill(dStates, 0f);
        MathKernels.copyRows(dStates, 0, sh, dLayerOut, d * hidden, width, hidden, rows);
        if (lastStates) { // the last states' gradients join their step's, as in the eager layer
          addStateGradients(dStates, dOut, dOutOff, k);
        }
        Tensor gHh = grads[w + 1], gbHh = bias ? grads[w + 3] : null;
        float[][] dInitial = dInit == null ? new float[2][] : initial[k]; // (the forward's copies are spent: reused)
        RecurrentKernels.backward(mode, steps, batch, hidden, d == 1, dStates, 0, weights.get(w + 1), saved[k], states[k], dProj,
            dInitial[0], mode.states < 2 ? null : dInitial[1], gHh == null ? null : dwHh, gbHh == null ? null : dbHh);
        if (dInit != null) { // each sample's rows of the initial states' gradient
          for (int st = 0; st < mode.states; st++) {
            for (int n = 0; n < batch && holdsInitial(st); n++) {
              int at = dInitOff + n * initialPerSample() + givenAt(k, st);
              if (accumulateInit) {
                CpuKernels.accumulate(dInit, at, initial[k][st], n * hidden, hidden);
              } else {
                System.arraycopy(initial[k][st], n * hidden, dInit, at, hidden);
              }
            }
          }
        }
        if (gHh != null) {
          CpuKernels.accumulate(gHh.buffer(), gHh.offset(), dwHh, 0, dwHh.length);
        }
        if (gbHh != null) {
          CpuKernels.accumulate(gbHh.buffer(), gbHh.offset(), dbHh, 0, dbHh.length);
        }
        Tensor gbIh = bias ? grads[w + 2] : null;
        if (gbIh != null) {
          CpuKernels.biasGradient(gbIh.buffer(), gbIh.offset(), dProj, 0, rows, gh, true);
        }
        Tensor gIh = grads[w];
        if (gIh != null) {
          Blas.sgemm(true, false, gh, inSize, rows, 1f, dProj, 0, gh, inputs[l], 0, inSize, 1f, gIh, inSize);
        }
        if (dLayerIn != null) { // both directions read the layer's input: their gradients add
          Blas.sgemm(false, false, rows, inSize, gh, 1f, dProj, 0, gh, weights.get(w), inSize, d == 0 ? 0f : 1f, dLayerIn, 0, inSize);
        }
      }
      if (l > 0 && dLayerIn != null) {
        if (dropped) { // through the dropout on the layer below's output
          ActivationKernels.applyMask(dLayerIn, 0, dLayerIn, 0, masks[l - 1], 0, rows * width);
        }
        dLayerOut = dLayerIn;
      } else if (l == 0 && dIn != null) {
        CpuKernels.permute(dIn, dInOff, dLayerIn, 0, new int[] {steps, batch, inputSize}, new int[] {1, 0, 2}, accumulate);
      }
    }
  }

  /** Adds each sample's gradient of layer direction {@code k}'s last states (in {@code dOut}'s rows after the output) into its step's {@code dStates}. */
  private void addStateGradients(float[] dStates, float[] dOut, int dOutOff, int k) {
    int sh = mode.states * hidden, pitch = perSample();
    for (int s = 0; s < mode.states; s++) {
      for (int n = 0; n < batch; n++) {
        CpuKernels.accumulate(dStates, (lastStep(k) * batch + n) * sh + s * hidden, dOut, dOutOff + n * pitch + stateAt(k, s), hidden);
      }
    }
  }

  private void requireWeights(List<Tensor> weights) {
    if (weights.size() != layers * directions * perRun()) {
      throw new IllegalArgumentException("recurrent: " + weights.size() + " parameters, where " + layers + " layer(s) of "
          + directions + " direction(s) " + (bias ? "with" : "without") + " bias have " + layers * directions * perRun());
    }
  }
}
