package dev.kiln.runtime;

import dev.kiln.runtime.cpu.RecurrentKernels;
import dev.kiln.runtime.cuda.CuBlas;
import dev.kiln.runtime.cuda.CudaException;
import dev.kiln.runtime.cuda.RecurrentCellKernels;

/**
 * {@link Ops#recurrent} on the GPU: one direction of one recurrent layer over a whole sequence as
 * one tape node, as on the CPU ({@link RecurrentKernels}), its states and gradients on the device.
 * Each step of the forward is one cuBLAS GEMM, the previous hidden state times {@code W_hh^T}, and
 * one {@code kiln_recurrent_forward} launch for the cells ({@link RecurrentCellKernels}); the
 * backward runs the steps in reverse, one {@code kiln_recurrent_backward} and one GEMM ({@code dh +=
 * dGates W_hh}) each, then one GEMM over all steps for {@code W_hh}'s gradient and one column sum
 * for {@code b_hh}'s, added into the parameters' gradients where they live ({@link GradSink}, as
 * {@link CudaLayerOps#linear}).
 *
 * <p>The hidden states are kept in time order in {@code T + 1} slots of {@code [B, H]}: slot 0 the
 * initial state and slot {@code t + 1} step t's for the forward direction, slot T the initial state
 * and slot t step t's for the reverse one. So every step's previous state is one slot, which the
 * GEMM reads in place, and all of them together are one block ({@code [T B, H]} from slot 0 or 1)
 * for {@code W_hh}'s gradient. LSTM's cell states are kept the same way. Without a backward to come,
 * one slot is updated in place (the GEMM has read it before the cells run, and each cell thread reads
 * its unit's previous state before writing the new one) and the cells' values are not kept.
 */
final class CudaRecurrent {
  private CudaRecurrent() {}

  /** {@link Ops#recurrent} of tensors on the GPU, the arguments checked there. */
  static Tensor recurrent(RecurrentKernels.Mode mode, Tensor xProj, Tensor h0, Tensor c0, Tensor wHh, Tensor bHh, boolean reverse) {
    String op = "recurrent(" + mode.name().toLowerCase(java.util.Locale.ROOT) + (reverse ? ", reverse" : "") + ")";
    int steps = xProj.size(0), batch = xProj.size(1), hidden = wHh.size(1), gh = mode.gates * hidden, sh = mode.states * hidden;
    boolean lstm = mode == RecurrentKernels.Mode.LSTM;
    boolean kept = mode == RecurrentKernels.Mode.LSTM || mode == RecurrentKernels.Mode.GRU; // the cells' values a backward reads
    boolean tracking = Ops.track(xProj, h0, c0, wHh, bHh);
    Device dev = xProj.device();
    int slots = tracking ? steps + 1 : 1;
    Slots hs = new Slots(Tensor.empty(dev, slots, batch, hidden), tracking, batch, hidden);
    Slots cs = lstm ? new Slots(Tensor.empty(dev, slots, batch, hidden), tracking, batch, hidden) : null;
    Tensor acts = tracking && kept ? Tensor.empty(dev, steps, batch, 4 * hidden) : null;
    Tensor states = Tensor.empty(dev, steps, batch, sh);
    int code = mode.ordinal();
    named(op, () -> {
      initial(hs, h0, reverse ? steps : 0);
      if (cs != null) {
        initial(cs, c0, reverse ? steps : 0);
      }
      Tensor hh = Tensor.empty(dev, batch, gh); // the hidden state's part of one step's gates
      long w = wHh.readCuda(), x = xProj.readCuda(), out = states.writeCuda(), a = CudaLayerOps.write(acts);
      long bias = CudaLayerOps.read(bHh);
      for (int k = 0; k < steps; k++) {
        int t = reverse ? steps - 1 - k : k;
        int prev = reverse ? t + 1 : t, next = reverse ? t : t + 1;
        CuBlas.sgemm(false, true, batch, gh, hidden, 1f, hs.at(prev), hidden, w, hidden, 0f, hh.writeCuda(), gh);
        RecurrentCellKernels.forward(code, at(out, t, batch, sh), hs.at(next), cs == null ? 0L : cs.at(next),
            a == 0 ? 0L : at(a, t, batch, 4 * hidden), at(x, t, batch, gh), hh.readCuda(), bias, hs.at(prev),
            cs == null ? 0L : cs.at(prev), batch, hidden);
      }
      CudaLayerOps.keepAlive(hh, xProj, wHh, bHh, h0, c0, acts, states, hs.values(), cs == null ? null : cs.values());
      return null;
    });
    if (!tracking) {
      return states;
    }
    // the node's inputs: xProj, then those of h0, c0, weight_hh, bias_hh that are given; at[k] is input k's place, or -1
    Tensor[] all = {xProj, h0, c0, wHh, bHh};
    int[] at = Ops.givenPlaces(all);
    Tensor[] inputs = Ops.given(all);
    return Tensor.ofNode(states, new Node(inputs) {
      @Override protected boolean savesOutput() { // as the CPU's node, which reads its states (it keeps its own copy here)
        return true;
      }

      @Override public String name() {
        return op;
      }

      @Override protected Tensor[] backward(Tensor gradOutput) {
        return named(op + " backward", () -> {
          Tensor g = CudaLayerOps.onDevice(gradOutput, dev);
          Tensor dx = Tensor.empty(dev, xProj.shape());
          Tensor dhh = mode == RecurrentKernels.Mode.GRU ? Tensor.empty(dev, xProj.shape()) : dx; // the hidden part's, but for GRU's n
          Tensor dh = Tensor.zeros(dev, batch, hidden); // the next step's dh, at the end h0's
          Tensor dc = lstm ? Tensor.zeros(dev, batch, hidden) : null;
          long w = wHh.readCuda(), gd = g.readCuda(), dxa = dx.writeCuda(), dhha = dhh.writeCuda(), dha = dh.writeCuda();
          long dca = CudaLayerOps.write(dc), a = CudaLayerOps.read(acts);
          for (int k = steps - 1; k >= 0; k--) {
            int t = reverse ? steps - 1 - k : k;
            int prev = reverse ? t + 1 : t, next = reverse ? t : t + 1;
            long dhht = at(dhha, t, batch, gh);
            RecurrentCellKernels.backward(code, at(dxa, t, batch, gh), dhht, dha, dca, at(gd, t, batch, sh), hs.at(next),
                cs == null ? 0L : cs.at(next), a == 0 ? 0L : at(a, t, batch, 4 * hidden), hs.at(prev), cs == null ? 0L : cs.at(prev),
                batch, hidden);
            // the previous step's hidden state also fed this step's gates: dh += dGates @ W_hh
            CuBlas.sgemm(false, false, batch, hidden, gh, 1f, dhht, gh, w, hidden, 1f, dha, hidden);
          }
          Tensor[] grads = new Tensor[inputs.length];
          grads[0] = needsGrad(0) ? dx : null;
          if (at[1] >= 0 && needsGrad(at[1])) {
            grads[at[1]] = dh;
          }
          if (at[2] >= 0 && needsGrad(at[2])) {
            grads[at[2]] = dc;
          }
          int rows = steps * batch;
          if (needsGrad(at[3])) { // sum over steps of dGates^T @ hPrev: the previous states are one block of slots
            GradSink dw = GradSink.of(wHh);
            CuBlas.sgemm(true, false, gh, hidden, rows, 1f, dhha, gh, hs.at(reverse ? 1 : 0), hidden, dw.accumulate() ? 1f : 0f,
                dw.address(), hidden);
            grads[at[3]] = dw.returned();
          }
          if (at[4] >= 0 && needsGrad(at[4])) {
            GradSink db = GradSink.of(bHh);
            CuBlas.columnSums(db.address(), dhha, rows, gh, db.accumulate());
            grads[at[4]] = db.returned();
          }
          CudaLayerOps.keepAlive(g, dhh, wHh, acts, hs.values(), cs == null ? null : cs.values());
          return grads;
        });
      }
    });
  }

  /**
   * The hidden (or cell) states' slots of {@code [B, H]}: {@code T + 1} of them when a backward
   * will read them all, else one for every slot number, updated in place.
   */
  private record Slots(Tensor values, boolean all, int batch, int hidden) {
    long at(int slot) {
      return CudaRecurrent.at(values.writeCuda(), all ? slot : 0, batch, hidden);
    }
  }

  /** The initial state into slot {@code slot}: a copy of {@code state}, or zeros for null. */
  private static void initial(Slots slots, Tensor state, int slot) {
    long count = (long) slots.batch() * slots.hidden();
    if (state == null) {
      dev.kiln.runtime.cuda.Cuda.get().zero(slots.at(slot), count);
    } else {
      dev.kiln.runtime.cuda.Cuda.get().copy(state.readCuda(), slots.at(slot), count);
      CudaLayerOps.keepAlive(state);
    }
  }

  /** The address of row block {@code t} of {@code [*, rows, width]} floats from {@code base}. */
  private static long at(long base, int t, int rows, int width) {
    return base + (long) t * rows * width * Float.BYTES;
  }

  /** Runs allocations and launches, naming the op in any CUDA failure (as {@code CudaOps}' own). */
  private static <T> T named(String op, java.util.function.Supplier<T> body) {
    try {
      return body.get();
    } catch (CudaException e) {
      throw new CudaException(op + ": " + e.getMessage(), e);
    }
  }
}
