package dev.kiln.runtime;

import static dev.kiln.runtime.Ops.*;

import dev.kiln.runtime.cpu.Blas;
import dev.kiln.runtime.cpu.RecurrentKernels;
import java.util.Arrays;

/**
 * The recurrent ops of eager mode: a whole sequence of RNN/GRU/LSTM steps as one node over projected inputs
 * ({@link Ops#recurrent}), its inference forms returning the last states ({@link Ops#recurrentRun}, {@link
 * Ops#recurrentLayer}), and their checks; the CUDA side is {@link CudaRecurrent}. Their public entries and
 * {@link Ops.RecurrentRun} are in {@link Ops}.
 */
final class RecurrentOps {
  private RecurrentOps() {}

  public static Tensor recurrent(RecurrentKernels.Mode mode, Tensor xProj, Tensor h0, Tensor c0, Tensor wHh, Tensor bHh,
      boolean reverse) {
    boolean cuda = requireRecurrent(mode, xProj, h0, c0, wHh, bHh);
    if (cuda) {
      return CudaRecurrent.recurrent(mode, xProj, h0, c0, wHh, bHh, reverse);
    }
    int steps = xProj.size(0), batch = xProj.size(1), hidden = wHh.size(1), gh = mode.gates * hidden;
    int[] shape = {steps, batch, mode.states * hidden};
    float[] states = new float[Shapes.numel(shape)];
    boolean tracking = track(xProj, h0, c0, wHh, bHh); // without a backward, nothing is kept for one
    RecurrentKernels.Saved saved = RecurrentKernels.forward(mode, steps, batch, hidden, reverse, xProj.readBuffer(), xProj.offset(),
        bufferOrNull(h0), offsetOf(h0), bufferOrNull(c0), offsetOf(c0), wHh, bufferOrNull(bHh), offsetOf(bHh), states, tracking);
    // the node's inputs: xProj, then those of h0, c0, weight_hh, bias_hh that are given; at[k] is input k's place, or -1
    Tensor[] all = {xProj, h0, c0, wHh, bHh};
    int[] at = givenPlaces(all);
    Tensor[] inputs = given(all);
    if (!tracking) {
      return Tensor.wrap(states, shape);
    }
    return Tensor.ofNode(states, shape, new Node(inputs) {
      @Override protected boolean savesOutput() { // the backward reads the states (RNN's outputs, LSTM's cell states)
        return true;
      }

      @Override public String name() {
        return "recurrent(" + mode.name().toLowerCase(java.util.Locale.ROOT) + (reverse ? ", reverse" : "") + ")";
      }

      @Override protected Tensor[] backward(Tensor g) {
        int bh = batch * hidden;
        float[] dx = new float[xProj.numel()];
        float[] dh0 = at[1] >= 0 && needsGrad(at[1]) ? new float[bh] : null;
        float[] dc0 = at[2] >= 0 && needsGrad(at[2]) ? new float[bh] : null;
        float[] dw = needsGrad(at[3]) ? new float[wHh.numel()] : null;
        float[] db = at[4] >= 0 && needsGrad(at[4]) ? new float[gh] : null;
        RecurrentKernels.backward(mode, steps, batch, hidden, reverse, g.readBuffer(), g.offset(), wHh, saved, states, dx, dh0, dc0,
            dw, db);
        Tensor[] grads = new Tensor[inputs.length];
        grads[0] = needsGrad(0) ? Tensor.gradient(dx, xProj.shape()) : null;
        if (dh0 != null) {
          grads[at[1]] = Tensor.gradient(dh0, batch, hidden);
        }
        if (dc0 != null) {
          grads[at[2]] = Tensor.gradient(dc0, batch, hidden);
        }
        if (dw != null) {
          grads[at[3]] = Tensor.gradient(dw, wHh.shape());
        }
        if (db != null) {
          grads[at[4]] = Tensor.gradient(db, gh);
        }
        return grads;
      }
    });
  }

  /** Checks {@link #recurrent}'s operands (CUDA or CPU, shapes, float); whether they are on CUDA. */
  private static boolean requireRecurrent(RecurrentKernels.Mode mode, Tensor xProj, Tensor h0, Tensor c0, Tensor wHh, Tensor bHh) {
    boolean cuda = Devices.onCuda("recurrent", xProj, h0, c0, wHh, bHh);
    requireFloat("recurrent", xProj);
    requireRank("recurrent", "xProj", xProj, 3);
    requireRank("recurrent", "weight_hh", wHh, 2);
    int batch = xProj.size(1), hidden = wHh.size(1), gh = mode.gates * hidden;
    if (xProj.size(2) != gh || wHh.size(0) != gh) {
      throw new IllegalArgumentException("recurrent: " + mode + " with weight_hh " + Shapes.toString(wHh.shape()) + " needs gates ["
          + gh + ", " + hidden + "] and xProj [T, B, " + gh + "], got " + Shapes.toString(xProj.shape()));
    }
    for (Tensor state : new Tensor[] {h0, c0}) {
      if (state != null && !Arrays.equals(state.shape(), new int[] {batch, hidden})) {
        throw new IllegalArgumentException("recurrent: an initial state must be [" + batch + ", " + hidden + "], got "
            + Shapes.toString(state.shape()));
      }
    }
    if (c0 != null && mode != RecurrentKernels.Mode.LSTM) {
      throw new IllegalArgumentException("recurrent: only LSTM has a cell state");
    }
    if (bHh != null && (bHh.dim() != 1 || bHh.size(0) != gh)) {
      throw new IllegalArgumentException("recurrent: bias_hh must be [" + gh + "], got " + Shapes.toString(bHh.shape()));
    }
    return cuda;
  }

  public static RecurrentRun recurrentRun(RecurrentKernels.Mode mode, Tensor xProj, Tensor h0, Tensor c0, Tensor wHh, Tensor bHh,
      boolean reverse) {
    boolean cuda = requireRecurrent(mode, xProj, h0, c0, wHh, bHh);
    int steps = xProj.size(0), hidden = wHh.size(1);
    if (cuda || track(xProj, h0, c0, wHh, bHh)) {
      Tensor states = recurrent(mode, xProj, h0, c0, wHh, bHh, reverse);
      int last = reverse ? 0 : steps - 1;
      boolean lstm = mode == RecurrentKernels.Mode.LSTM;
      Tensor output = lstm ? states.narrow(2, 0, hidden) : states;
      // the last step first: not every step's cell copied
      return new RecurrentRun(output, output.select(0, last), lstm ? states.select(0, last).narrow(1, hidden, hidden) : null);
    }
    return hiddenStates(mode, xProj.readBuffer(), xProj.offset(), steps, xProj.size(1), h0, c0, wHh, bHh, reverse);
  }

  /** {@link RecurrentKernels#forwardHidden} over {@code xProj [T, B, G H]} from {@code xOff}: no gradient, on the CPU. */
  private static RecurrentRun hiddenStates(RecurrentKernels.Mode mode, float[] xProj, int xOff, int steps, int batch, Tensor h0,
      Tensor c0, Tensor wHh, Tensor bHh, boolean reverse) {
    int hidden = wHh.size(1);
    float[] out = new float[steps * batch * hidden];
    RecurrentKernels.Saved last = RecurrentKernels.forwardHidden(mode, steps, batch, hidden, reverse, xProj, xOff,
        bufferOrNull(h0), offsetOf(h0), bufferOrNull(c0), offsetOf(c0), wHh, bufferOrNull(bHh), offsetOf(bHh), out);
    return new RecurrentRun(Tensor.wrap(out, steps, batch, hidden), Tensor.wrap(last.h(), batch, hidden),
        last.c() == null ? null : Tensor.wrap(last.c(), batch, hidden));
  }

  public static RecurrentRun recurrentLayer(RecurrentKernels.Mode mode, Tensor input, Tensor wIh, Tensor bIh, Tensor h0, Tensor c0,
      Tensor wHh, Tensor bHh, boolean reverse) {
    requireRank("recurrent", "input", input, 3);
    requireRank("recurrent", "weight_hh", wHh, 2);
    int steps = input.size(0), batch = input.size(1), in = input.size(2), gh = mode.gates * wHh.size(1);
    Tensor flat = input.reshape(steps * batch, in);
    if (Devices.onCuda("recurrent", input, wIh, bIh, h0, c0, wHh, bHh) || track(input, wIh, bIh, h0, c0, wHh, bHh)) {
      return recurrentRun(mode, linear(flat, wIh, bIh).reshape(steps, batch, gh), h0, c0, wHh, bHh, reverse);
    }
    requireFloat("recurrent", input);
    requireRank("recurrent", "weight_ih", wIh, 2);
    if (wIh.size(0) != gh || wIh.size(1) != in || bIh != null && (bIh.dim() != 1 || bIh.size(0) != gh)) {
      throw new IllegalArgumentException("recurrent: " + mode + " over input " + Shapes.toString(input.shape()) + " needs weight_ih ["
          + gh + ", " + in + "] and bias_ih [" + gh + "], got " + Shapes.toString(wIh.shape())
          + (bIh == null ? "" : " and " + Shapes.toString(bIh.shape())));
    }
    float[] projected = ArrayPool.floats(steps * batch * gh); // overwritten
    requireRecurrent(mode, Tensor.wrap(projected, steps, batch, gh), h0, c0, wHh, bHh); // the states' and weight_hh's shapes
    Blas.linear(steps * batch, gh, in, flat.readBuffer(), flat.offset(), wIh, bufferOrNull(bIh), offsetOf(bIh), projected, 0);
    RecurrentRun run = hiddenStates(mode, projected, 0, steps, batch, h0, c0, wHh, bHh, reverse);
    ArrayPool.give(projected); // read, and nothing else holds it
    return run;
  }
}
