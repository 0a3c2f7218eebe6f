package dev.kiln.runtime.cpu;

import dev.kiln.runtime.Tensor;

/**
 * One direction of one recurrent layer over a whole sequence, forward and backward, as PyTorch's
 * RNN, LSTM and GRU compute it: the input's part of every step's gates ({@code xProj}, {@code x
 * W_ih^T + b_ih} for all steps, computed before by one GEMM) comes in; each step adds the hidden
 * state's part ({@code h W_hh^T + b_hh}, one GEMM of {@code [B, H]} by {@code [H, G H]}) and
 * applies the cell. The backward runs the steps in reverse (back-propagation through time): one
 * GEMM per step for the hidden state's gradient, one over all steps for {@code W_hh}'s.
 *
 * <p>One tape node for the whole sequence, where a per-step composition of the tape's ops would
 * cost a dozen nodes per step and, worse, sum a full-size gradient of the projected input once per
 * step (each step's select): quadratic in the sequence length.
 *
 * <p>Layouts, row-major and contiguous: {@code xProj [T, B, G H]} (G = 1 for RNN, 4 for LSTM's i,
 * f, g, o, 3 for GRU's r, z, n); the states written {@code [T, B, S H]}, S = 2 for LSTM (h then c
 * in each row), else 1; {@code W_hh [G H, H]}, {@code b_hh [G H]}. Steps are indexed by time; a
 * reverse direction processes them from T - 1 down. Element-wise math in double with the eager
 * ops' sigmoid and tanh, each stored value rounded once.
 */
public final class RecurrentKernels {
  private RecurrentKernels() {}

  /** The cell. */
  public enum Mode {
    RNN_TANH(1, 1, 0), RNN_RELU(1, 1, 0), LSTM(4, 2, 4), GRU(3, 1, 4);

    /** Gates per step, state values per hidden unit (LSTM's h and c), and kept cell values per unit. */
    public final int gates;
    public final int states;
    final int kept;

    Mode(int gates, int states, int kept) {
      this.gates = gates;
      this.states = states;
      this.kept = kept;
    }
  }

  /**
   * What the forward keeps for the backward: each step's starting hidden state {@code hPrev [T, B,
   * H]}, LSTM's starting cell state {@code cPrev}, and the cell's values {@code acts [T, B, 4 H]}
   * (LSTM: i, f, g, o after their activations; GRU: r, z, n and the hidden state's n-part {@code h
   * W_hn^T + b_hn}; RNN: none, its output is enough).
   */
  public record Saved(float[] hPrev, float[] cPrev, float[] acts) {}

  /**
   * Runs the layer direction, writing {@code states}.
   *
   * @param h0 the initial hidden state {@code [B, H]} from {@code h0Off}, or null for zeros
   * @param c0 LSTM's initial cell state, or null for zeros
   * @param bHh {@code [G H]}, or null without bias
   * @param keep whether to keep what the backward needs (else the arrays of the result are null)
   */
  public static Saved forward(Mode mode, int steps, int batch, int hidden, boolean reverse, float[] xProj, int xOff,
      float[] h0, int h0Off, float[] c0, int c0Off, Tensor wHh, float[] bHh, int bOff, float[] states, boolean keep) {
    int gh = mode.gates * hidden, kh = mode.kept * hidden, bh = batch * hidden;
    float[] hPrev = keep ? new float[steps * bh] : null;
    float[] cPrev = keep && mode == Mode.LSTM ? new float[steps * bh] : null;
    float[] acts = keep && mode.kept > 0 ? new float[steps * batch * kh] : null;
    float[] h = new float[bh];
    float[] c = mode == Mode.LSTM ? new float[bh] : null;
    if (h0 != null) {
      System.arraycopy(h0, h0Off, h, 0, bh);
    }
    if (c != null && c0 != null) {
      System.arraycopy(c0, c0Off, c, 0, bh);
    }
    float[] hh = new float[batch * gh]; // the hidden state's part of one step's gates, without b_hh
    for (int k = 0; k < steps; k++) {
      int t = reverse ? steps - 1 - k : k;
      if (hPrev != null) {
        System.arraycopy(h, 0, hPrev, t * bh, bh);
      }
      if (cPrev != null) {
        System.arraycopy(c, 0, cPrev, t * bh, bh);
      }
      Blas.sgemm(false, true, batch, gh, hidden, 1f, h, 0, hidden, wHh, hidden, 0f, hh, 0, gh); // W_hh's native copy, not staged per step
      // the cells of the batch's rows are independent: shared among the cores (their exps dominate)
      Parallel.forRange(batch, 20L * batch * hidden * mode.gates, (part, from, to) ->
          cells(mode, t, from, to, batch, hidden, xProj, xOff, hh, bHh, bOff, h, c, acts, states));
    }
    return new Saved(hPrev, cPrev, acts);
  }

  /** The cells of rows {@code [from, to)} of step {@code t}: the new h (and c) from the gates, into {@code h}, {@code c}, {@code states}, {@code acts}. */
  private static void cells(Mode mode, int t, int from, int to, int batch, int hidden, float[] xProj, int xOff, float[] hh,
      float[] bHh, int bOff, float[] h, float[] c, float[] acts, float[] states) {
    int gh = mode.gates * hidden, sh = mode.states * hidden, kh = mode.kept * hidden;
    for (int b = from; b < to; b++) {
      int x = xOff + (t * batch + b) * gh, r = b * gh, u = b * hidden;
      int out = (t * batch + b) * sh, a = (t * batch + b) * kh;
      for (int j = 0; j < hidden; j++) {
        switch (mode) {
          case RNN_TANH, RNN_RELU -> {
            double pre = pre(xProj, x, hh, r, bHh, bOff, j);
            h[u + j] = (float) (mode == Mode.RNN_TANH ? ActivationKernels.tanh(pre) : Math.max(pre, 0));
          }
          case LSTM -> {
            double i = ActivationKernels.sigmoid(pre(xProj, x, hh, r, bHh, bOff, j));
            double f = ActivationKernels.sigmoid(pre(xProj, x, hh, r, bHh, bOff, hidden + j));
            double g = ActivationKernels.tanh(pre(xProj, x, hh, r, bHh, bOff, 2 * hidden + j));
            double o = ActivationKernels.sigmoid(pre(xProj, x, hh, r, bHh, bOff, 3 * hidden + j));
            float cNew = (float) (f * c[u + j] + i * g);
            c[u + j] = cNew;
            h[u + j] = (float) (o * ActivationKernels.tanh(cNew));
            keep(acts, a, hidden, j, i, f, g, o);
          }
          case GRU -> {
            double rg = ActivationKernels.sigmoid(pre(xProj, x, hh, r, bHh, bOff, j));
            double z = ActivationKernels.sigmoid(pre(xProj, x, hh, r, bHh, bOff, hidden + j));
            double hn = (double) hh[r + 2 * hidden + j] + (bHh == null ? 0 : bHh[bOff + 2 * hidden + j]);
            double n = ActivationKernels.tanh(xProj[x + 2 * hidden + j] + rg * hn);
            h[u + j] = (float) ((1 - z) * n + z * h[u + j]);
            keep(acts, a, hidden, j, rg, z, n, hn);
          }
        }
        states[out + j] = h[u + j];
        if (c != null) {
          states[out + hidden + j] = c[u + j];
        }
      }
    }
  }

  /**
   * The gradients of {@link #forward}, given the gradient of its states {@code dStates [T, B, S H]}
   * (the output's and the last states'); a null array is skipped, the others overwritten.
   *
   * @param states the forward's states (RNN reads its outputs, LSTM its cell states)
   * @param dxProj {@code [T, B, G H]}, the gradient of the input's part of the gates (always wanted:
   *     the hidden state's gradient runs through it)
   */
  public static void backward(Mode mode, int steps, int batch, int hidden, boolean reverse, float[] dStates, int dOff,
      Tensor wHh, Saved saved, float[] states, float[] dxProj, float[] dh0, float[] dc0, float[] dwHh,
      float[] dbHh) {
    int gh = mode.gates * hidden, bh = batch * hidden;
    // the gradient of the hidden state's part of the gates: the input's part's too, but for GRU's n
    float[] dHh = mode == Mode.GRU ? new float[steps * batch * gh] : dxProj;
    float[] dhNext = new float[bh];
    float[] dcNext = mode == Mode.LSTM ? new float[bh] : null;
    for (int k = steps - 1; k >= 0; k--) {
      int t = reverse ? steps - 1 - k : k;
      Parallel.forRange(batch, 12L * batch * hidden * mode.gates, (part, from, to) ->
          gradCells(mode, t, from, to, batch, hidden, dStates, dOff, saved, states, dxProj, dHh, dhNext, dcNext));
      // the previous step's hidden state also fed this step's gates: dh += dGates @ W_hh
      Blas.sgemm(false, false, batch, hidden, gh, 1f, dHh, t * batch * gh, gh, wHh, hidden, 1f, dhNext, 0, hidden);
    }
    if (dh0 != null) {
      System.arraycopy(dhNext, 0, dh0, 0, bh);
    }
    if (dc0 != null) {
      System.arraycopy(dcNext, 0, dc0, 0, bh);
    }
    int rows = steps * batch;
    if (dwHh != null) { // sum over steps of dGates^T @ hPrev, one GEMM
      Blas.sgemm(true, false, gh, hidden, rows, 1f, dHh, 0, gh, saved.hPrev(), 0, hidden, 0f, dwHh, 0, hidden);
    }
    if (dbHh != null) {
      CpuKernels.biasGradient(dbHh, 0, dHh, 0, rows, gh, false);
    }
  }

  /** The gradients of the cells of rows {@code [from, to)} of step {@code t}, given the states' gradient and the next step's. */
  private static void gradCells(Mode mode, int t, int from, int to, int batch, int hidden, float[] dStates, int dOff, Saved saved,
      float[] states, float[] dxProj, float[] dHh, float[] dhNext, float[] dcNext) {
    int gh = mode.gates * hidden, sh = mode.states * hidden, kh = mode.kept * hidden, bh = batch * hidden;
    float[] acts = saved.acts();
    for (int b = from; b < to; b++) {
      int row = t * batch + b, u = b * hidden;
      int ds = dOff + row * sh, s = row * sh, g = row * gh, a = row * kh, p = t * bh + u;
      for (int j = 0; j < hidden; j++) {
        double dh = (double) dStates[ds + j] + dhNext[u + j];
        switch (mode) {
          case RNN_TANH, RNN_RELU -> {
            double y = states[s + j];
            double dPre = mode == Mode.RNN_TANH ? dh * (1 - y * y) : (!(y <= 0) ? dh : 0); // a NaN output passes, as PyTorch's
            dxProj[g + j] = (float) dPre;
            dhNext[u + j] = 0;
          }
          case LSTM -> {
            double i = acts[a + j], f = acts[a + hidden + j], gg = acts[a + 2 * hidden + j], o = acts[a + 3 * hidden + j];
            double tc = ActivationKernels.tanh(states[s + hidden + j]);
            double dc = (double) dStates[ds + hidden + j] + dcNext[u + j] + dh * o * (1 - tc * tc);
            dxProj[g + j] = (float) (dc * gg * i * (1 - i));
            dxProj[g + hidden + j] = (float) (dc * saved.cPrev()[p + j] * f * (1 - f));
            dxProj[g + 2 * hidden + j] = (float) (dc * i * (1 - gg * gg));
            dxProj[g + 3 * hidden + j] = (float) (dh * tc * o * (1 - o));
            dcNext[u + j] = (float) (dc * f);
            dhNext[u + j] = 0;
          }
          case GRU -> {
            double r = acts[a + j], z = acts[a + hidden + j], n = acts[a + 2 * hidden + j], hn = acts[a + 3 * hidden + j];
            double hp = saved.hPrev()[p + j];
            double dnPre = dh * (1 - z) * (1 - n * n);
            double drPre = dnPre * hn * r * (1 - r);
            double dzPre = dh * (hp - n) * z * (1 - z);
            dxProj[g + j] = (float) drPre;
            dxProj[g + hidden + j] = (float) dzPre;
            dxProj[g + 2 * hidden + j] = (float) dnPre;
            dHh[g + j] = (float) drPre;
            dHh[g + hidden + j] = (float) dzPre;
            dHh[g + 2 * hidden + j] = (float) (dnPre * r);
            dhNext[u + j] = (float) (dh * z); // the direct path; the gates' part is added below
          }
        }
      }
    }
  }

  /** The pre-activation of gate column {@code col}: the input's part, the hidden state's part and b_hh. */
  private static double pre(float[] xProj, int x, float[] hh, int r, float[] bHh, int bOff, int col) {
    return (double) xProj[x + col] + hh[r + col] + (bHh == null ? 0 : bHh[bOff + col]);
  }

  /** Stores four cell values of unit j in a row of {@code acts} (blocks of {@code hidden}), unless nothing is kept. */
  private static void keep(float[] acts, int a, int hidden, int j, double v0, double v1, double v2, double v3) {
    if (acts == null) { // no backward to come
      return;
    }
    acts[a + j] = (float) v0;
    acts[a + hidden + j] = (float) v1;
    acts[a + 2 * hidden + j] = (float) v2;
    acts[a + 3 * hidden + j] = (float) v3;
  }
}
