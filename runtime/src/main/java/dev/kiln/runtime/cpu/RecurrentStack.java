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
    this.mode = mode;
    this.batch = batch;
    this.steps = steps;
    this.inputSize = inputSize;
    this.hidden = hidden;
    this.layers = layers;
    this.directions = bidirectional ? 2 : 1;
    this.bias = bias;
    this.dropout = dropout;
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
  }

  /** Parameters per layer and direction in the flat list: 4 with bias, else 2. */
  private int perRun() {
    return bias ? 4 : 2;
  }

  /**
   * {@code out [N, S, D * H]} from {@code in [N, S, in]}, the states starting at zero.
   *
   * @param weights the layer's parameters in PyTorch's order (see the class)
   * @param training whether dropout between layers applies (the layer's {@code train()} mode)
   * @param rng the generator dropout draws from (Kiln's), in the eager layer's order
   * @param keep whether to keep what the backward needs (a forward that records a gradient)
   */
  public void forward(float[] out, int outOff, float[] in, int inOff, List<Tensor> weights, boolean training, Generator rng,
      boolean keep) {
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
        Blas.sgemm(false, true, rows, gh, inSize, 1f, inputs[l], 0, inSize, wIh, inSize, 0f, proj, 0, gh);
        if (bIh != null) {
          CpuKernels.addBiasRows(proj, 0, proj, 0, bIh.readBuffer(), bIh.offset(), rows, gh);
        }
        saved[k] = RecurrentKernels.forward(mode, steps, batch, hidden, d == 1, proj, 0, null, 0, null, 0, wHh,
            bHh == null ? null : bHh.readBuffer(), bHh == null ? 0 : bHh.offset(), states[k], keep);
        // the hidden states side by side: [S, N, D * H]
        MathKernels.copyRows(layerOut, d * hidden, width, states[k], 0, sh, hidden, rows);
      }
      if (dropped && l < layers - 1) { // on this layer's output, as the eager layer draws it
        if (masks[l] == null) {
          masks[l] = new float[rows * width];
        }
        ActivationKernels.dropoutMask(masks[l], 0, rows * width, dropout, rng);
        ActivationKernels.applyMask(inputs[l + 1], 0, inputs[l + 1], 0, masks[l], 0, rows * width);
      }
    }
    CpuKernels.permute(out, outOff, top, 0, new int[] {steps, batch, width}, new int[] {1, 0, 2}, false);
  }

  /**
   * The gradients of the last {@link #forward}, given the output's {@code dOut [N, S, D * H]}: the
   * input's into {@code dIn} (written, or added with {@code accumulate}; null when not wanted), each
   * parameter's added to its gradient in {@code grads} (the flat list's order; null entries are not
   * wanted).
   */
  public void backward(float[] dIn, int dInOff, boolean accumulate, float[] dOut, int dOutOff, List<Tensor> weights, Tensor[] grads) {
    requireWeights(weights);
    if (grads.length != weights.size()) {
      throw new IllegalArgumentException("recurrent: " + grads.length + " gradients for " + weights.size() + " parameters");
    }
    int lowest = dIn != null ? 0 : layers; // the lowest layer whose input's or parameters' gradient is wanted
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
    CpuKernels.permute(dLayerOut, 0, dOut, dOutOff, new int[] {batch, steps, width}, new int[] {1, 0, 2}, false);
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
        Tensor gHh = grads[w + 1], gbHh = bias ? grads[w + 3] : null;
        RecurrentKernels.backward(mode, steps, batch, hidden, d == 1, dStates, 0, weights.get(w + 1), saved[k], states[k], dProj,
            null, null, gHh == null ? null : dwHh, gbHh == null ? null : dbHh);
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

  private void requireWeights(List<Tensor> weights) {
    if (weights.size() != layers * directions * perRun()) {
      throw new IllegalArgumentException("recurrent: " + weights.size() + " parameters, where " + layers + " layer(s) of "
          + directions + " direction(s) " + (bias ? "with" : "without") + " bias have " + layers * directions * perRun());
    }
  }
}
