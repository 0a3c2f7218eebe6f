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
 * reverse direction processes them from T - 1 down. The forward's cells are float, with the eager
 * ops' sigmoid and tanh kernels (as PyTorch's CPU cells); the backward's element-wise math is in
 * double from the kept float values, each stored value rounded once.
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
   * W_hn^T + b_hn}; RNN: none, its output is enough); and the last step's states {@code h [B, H]} and LSTM's
   * {@code c} (null for the others), arrays of the run's own.
   */
  public record Saved(float[] hPrev, float[] cPrev, float[] acts, float[] h, float[] c) {}

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
    return forward(mode, steps, batch, hidden, reverse, xProj, xOff, h0, h0Off, c0, c0Off, wHh, bHh, bOff, states, keep, true,
        false);
  }

  /**
   * {@link #forward} for inference: each step's hidden state alone into {@code out [T, B, H]} (LSTM's cell states are
   * not written), nothing kept for a backward; the last step's states are the result's {@code h} and {@code c}.
   */
  public static Saved forwardHidden(Mode mode, int steps, int batch, int hidden, boolean reverse, float[] xProj, int xOff,
      float[] h0, int h0Off, float[] c0, int c0Off, Tensor wHh, float[] bHh, int bOff, float[] out) {
    return forward(mode, steps, batch, hidden, reverse, xProj, xOff, h0, h0Off, c0, c0Off, wHh, bHh, bOff, out, false, true,
        true);
  }

  /**
   * {@link #forward}, LSTM's cells {@link #lstmCells} in blocks or, without {@code blocked}, row by row as before (for
   * tests); with {@code hiddenOnly} the states written are {@code [T, B, H]}, the hidden states alone.
   */
  static Saved forward(Mode mode, int steps, int batch, int hidden, boolean reverse, float[] xProj, int xOff,
      float[] h0, int h0Off, float[] c0, int c0Off, Tensor wHh, float[] bHh, int bOff, float[] states, boolean keep,
      boolean blocked, boolean hiddenOnly) {
    if (hiddenOnly && mode == Mode.LSTM && !blocked) {
      throw new IllegalArgumentException("recurrent: the hidden states alone are written by the blocked LSTM cells only");
    }
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
    long run = RUNS.incrementAndGet();
    // per part: one row's gates, before and after their activations (and GRU's hidden n-part)
    float[][] gates = new float[Parallel.threads()][Math.max(gh, kh)];
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
      Parallel.forRange(batch, 8L * batch * hidden * mode.gates, (part, from, to) -> {
        if (mode == Mode.LSTM && blocked) {
          lstmCells(run, t, from, to, batch, hidden, xProj, xOff, hh, bHh, bOff, h, c, acts, states, !hiddenOnly);
        } else {
          cells(mode, t, from, to, batch, hidden, xProj, xOff, hh, bHh, bOff, h, c, acts, states, gates[part]);
        }
      });
    }
    return new Saved(hPrev, cPrev, acts, h, c);
  }

  /**
   * The cells of rows {@code [from, to)} of step {@code t}: the new h (and c) from the gates, into
   * {@code h}, {@code c}, {@code states}, {@code acts}. A row's gates are summed into {@code a}
   * (input's part, hidden state's part, b_hh), activated in place by the float kernels of {@link
   * ActivationKernels} (vectorised), then combined, in float with fused multiply-adds, as PyTorch's
   * CPU cells are.
   */
  private static void cells(Mode mode, int t, int from, int to, int batch, int hidden, float[] xProj, int xOff, float[] hh,
      float[] bHh, int bOff, float[] h, float[] c, float[] acts, float[] states, float[] a) {
    int gh = mode.gates * hidden, sh = mode.states * hidden, kh = mode.kept * hidden;
    for (int b = from; b < to; b++) {
      int x = xOff + (t * batch + b) * gh, r = b * gh, u = b * hidden;
      int out = (t * batch + b) * sh, kept = (t * batch + b) * kh;
      switch (mode) {
        case RNN_TANH, RNN_RELU -> {
          preActivations(a, 0, xProj, x, hh, r, bHh, bOff, hidden);
          if (mode == Mode.RNN_TANH) {
            ActivationKernels.tanh(h, u, a, 0, hidden);
          } else {
            for (int j = 0; j < hidden; j++) {
              h[u + j] = Math.max(a[j], 0f);
            }
          }
        }
        case LSTM -> { // a: i, f, g, o
          preActivations(a, 0, xProj, x, hh, r, bHh, bOff, gh);
          ActivationKernels.sigmoid(a, 0, a, 0, 2 * hidden);
          ActivationKernels.tanh(a, 2 * hidden, a, 2 * hidden, hidden);
          ActivationKernels.sigmoid(a, 3 * hidden, a, 3 * hidden, hidden);
          for (int j = 0; j < hidden; j++) {
            c[u + j] = Math.fma(a[hidden + j], c[u + j], a[j] * a[2 * hidden + j]);
          }
          ActivationKernels.tanh(h, u, c, u, hidden);
          for (int j = 0; j < hidden; j++) {
            h[u + j] *= a[3 * hidden + j];
          }
        }
        case GRU -> { // a: r, z, n, and the hidden state's n-part
          preActivations(a, 0, xProj, x, hh, r, bHh, bOff, 2 * hidden);
          ActivationKernels.sigmoid(a, 0, a, 0, 2 * hidden);
          for (int j = 0; j < hidden; j++) {
            float hn = hh[r + 2 * hidden + j] + (bHh == null ? 0f : bHh[bOff + 2 * hidden + j]);
            a[3 * hidden + j] = hn;
            a[2 * hidden + j] = Math.fma(a[j], hn, xProj[x + 2 * hidden + j]);
          }
          ActivationKernels.tanh(a, 2 * hidden, a, 2 * hidden, hidden);
          for (int j = 0; j < hidden; j++) {
            float z = a[hidden + j], n = a[2 * hidden + j];
            h[u + j] = Math.fma(z, h[u + j] - n, n); // (1 - z) n + z h
          }
        }
      }
      if (acts != null) { // what the backward needs of the cell
        System.arraycopy(a, 0, acts, kept, kh);
      }
      System.arraycopy(h, u, states, out, hidden);
      if (c != null) {
        System.arraycopy(c, u, states, out + hidden, hidden);
      }
    }
  }

  /**
   * One thread's arrays for {@link #lstmCells}: the four gates of a block of rows, the cell state, a working array
   * (the hidden state's part of a gate, then {@code tanh(c)} and h), the bias's part of a gate and the exp's two
   * parts, each {@link BlockMath#BLOCK} floats at offset 0, where C2 vectorises the passes over them; and {@link
   * BlockMath.Scratch} views for the activations' blocks, run in place.
   */
  private static final class LstmScratch {
    final float[][] gates = new float[4][BlockMath.BLOCK];
    final float[] c = new float[BlockMath.BLOCK];
    final float[] work = new float[BlockMath.BLOCK];
    /** Per gate, its part of b_hh repeated for each row of a block (zeros without bias): made once per run. */
    final float[][] bias = new float[4][BlockMath.BLOCK];
    /** The run whose bias rows {@link #bias} holds ({@link #RUNS}), and from which column. */
    long biasRun = -1;
    int biasFrom = -1;
    final float[] e = new float[BlockMath.BLOCK];
    final float[] k = new float[BlockMath.BLOCK];
    final BlockMath.Scratch[] inPlace = new BlockMath.Scratch[4];
    /** tanh of the cell state into {@link #work}. */
    final BlockMath.Scratch tanhC = new BlockMath.Scratch(c, work, e, k);

    LstmScratch() {
      for (int q = 0; q < 4; q++) {
        inPlace[q] = new BlockMath.Scratch(gates[q], gates[q], e, k);
      }
    }
  }

  private static final ThreadLocal<LstmScratch> LSTM_SCRATCH = ThreadLocal.withInitial(LstmScratch::new);
  /** Numbers each {@link #forward} run, so that a thread's bias rows are made again for each (the bias may have changed). */
  private static final java.util.concurrent.atomic.AtomicLong RUNS = new java.util.concurrent.atomic.AtomicLong();

  /**
   * LSTM's cells of rows {@code [from, to)} of step {@code t}, as {@link #cells} computes them, value for value the
   * same bits, in blocks of up to {@link BlockMath#BLOCK} values: whole rows side by side when a gate's {@code hidden}
   * values fit (8 rows of 128), else one row's columns a block at a time. Each gate's block is gathered to offset 0
   * ({@code System.arraycopy}), summed ({@code (xProj + hh) + b_hh}, the bias 0 without one, as the row-wise sum adds),
   * activated by the float kernels' blocks in place, and combined in vectorised passes; what {@code cells} did over
   * one row's 128 values at offsets C2 did not vectorise (the sums and products, scalar) and in short blocks (the
   * activations, each call's scalar pre- and post-loops), 3.3 ms of the 5.2 of {@code bench --model lstm}'s
   * inference at one thread. The states written are {@code [T, B, 2 H]} (h, c), or {@code [T, B, H]} without
   * {@code cellStates}.
   */
  private static void lstmCells(long run, int t, int from, int to, int batch, int hidden, float[] xProj, int xOff, float[] hh,
      float[] bHh, int bOff, float[] h, float[] c, float[] acts, float[] states, boolean cellStates) {
    LstmScratch s = LSTM_SCRATCH.get();
    int gh = 4 * hidden, sh = (cellStates ? 2 : 1) * hidden;
    int width = Math.min(hidden, BlockMath.BLOCK), rowsPer = Math.max(1, BlockMath.BLOCK / hidden);
    float[] work = s.work, cell = s.c;
    for (int b0 = from; b0 < to; b0 += rowsPer) {
      int n = Math.min(rowsPer, to - b0);
      for (int j0 = 0; j0 < hidden; j0 += width) {
        int w = Math.min(width, hidden - j0), m = n * w;
        if (s.biasRun != run || s.biasFrom != j0) { // rows of the bias for every block of this run (whole rows: one j0)
          for (int q = 0; q < 4; q++) {
            for (int r = 0; r < rowsPer; r++) {
              if (bHh == null) {
                java.util.Arrays.fill(s.bias[q], r * w, (r + 1) * w, 0f);
              } else {
                System.arraycopy(bHh, bOff + q * hidden + j0, s.bias[q], r * w, w);
              }
            }
          }
          s.biasRun = run;
          s.biasFrom = j0;
        }
        for (int q = 0; q < 4; q++) { // a gate's pre-activations: (xProj + hh) + b_hh
          float[] gate = s.gates[q], bias = s.bias[q];
          for (int r = 0; r < n; r++) {
            int row = b0 + r, col = q * hidden + j0;
            System.arraycopy(xProj, xOff + (t * batch + row) * gh + col, gate, r * w, w);
            System.arraycopy(hh, row * gh + col, work, r * w, w);
          }
          for (int j = 0; j < m; j++) {
            gate[j] = gate[j] + work[j] + bias[j];
          }
          if (q == 2) {
            ActivationKernels.tanhBlock(s.inPlace[q], m);
          } else {
            ActivationKernels.sigmoidBlock(s.inPlace[q], m);
          }
        }
        float[] i = s.gates[0], f = s.gates[1], g = s.gates[2], o = s.gates[3];
        for (int r = 0; r < n; r++) {
          System.arraycopy(c, (b0 + r) * hidden + j0, cell, r * w, w);
        }
        for (int j = 0; j < m; j++) {
          cell[j] = Math.fma(f[j], cell[j], i[j] * g[j]);
        }
        ActivationKernels.tanhBlock(s.tanhC, m); // tanh(c) into work
        for (int j = 0; j < m; j++) {
          work[j] = work[j] * o[j];
        }
        for (int r = 0; r < n; r++) {
          int row = b0 + r, u = row * hidden + j0, out = (t * batch + row) * sh + j0;
          System.arraycopy(cell, r * w, c, u, w);
          System.arraycopy(work, r * w, h, u, w);
          System.arraycopy(work, r * w, states, out, w);
          if (cellStates) {
            System.arraycopy(cell, r * w, states, out + hidden, w);
          }
          if (acts != null) { // what the backward needs of the cell: i, f, g, o
            for (int q = 0; q < 4; q++) {
              System.arraycopy(s.gates[q], r * w, acts, (t * batch + row) * gh + q * hidden + j0, w);
            }
          }
        }
      }
    }
  }

  /** {@code a[aOff + j] = xProj[x + j] + hh[r + j] + bHh[bOff + j]} for {@code j < n} (no bias when null): gates before their activations. */
  private static void preActivations(float[] a, int aOff, float[] xProj, int x, float[] hh, int r, float[] bHh, int bOff, int n) {
    for (int j = 0; j < n; j++) {
      a[aOff + j] = xProj[x + j] + hh[r + j] + (bHh == null ? 0f : bHh[bOff + j]);
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
    float[][] tanhC = new float[Parallel.threads()][mode == Mode.LSTM ? hidden : 0]; // per part: tanh of a row's cell state
    for (int k = steps - 1; k >= 0; k--) {
      int t = reverse ? steps - 1 - k : k;
      Parallel.forRange(batch, 12L * batch * hidden * mode.gates, (part, from, to) ->
          gradCells(mode, t, from, to, batch, hidden, dStates, dOff, saved, states, dxProj, dHh, dhNext, dcNext, tanhC[part]));
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

  /**
   * The gradients of the cells of rows {@code [from, to)} of step {@code t}, given the states'
   * gradient and the next step's, in double from the kept float values; LSTM's {@code tanh(c)} is
   * recomputed by the forward's float kernel into {@code tanhC}.
   */
  private static void gradCells(Mode mode, int t, int from, int to, int batch, int hidden, float[] dStates, int dOff, Saved saved,
      float[] states, float[] dxProj, float[] dHh, float[] dhNext, float[] dcNext, float[] tanhC) {
    int gh = mode.gates * hidden, sh = mode.states * hidden, kh = mode.kept * hidden, bh = batch * hidden;
    float[] acts = saved.acts();
    for (int b = from; b < to; b++) {
      int row = t * batch + b, u = b * hidden;
      int ds = dOff + row * sh, s = row * sh, g = row * gh, a = row * kh, p = t * bh + u;
      if (mode == Mode.LSTM) {
        ActivationKernels.tanh(tanhC, 0, states, s + hidden, hidden);
      }
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
            double tc = tanhC[j];
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
}
