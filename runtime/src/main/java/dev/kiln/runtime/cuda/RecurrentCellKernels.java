package dev.kiln.runtime.cuda;

/**
 * The cells of a recurrent layer's step on the GPU ({@code nn.RNN}, {@code nn.LSTM}, {@code nn.GRU}):
 * the CUDA twins of {@code cpu.RecurrentKernels}' {@code cells} and {@code gradCells}, one thread per
 * (batch row, hidden unit), all of a unit's gates in that thread. The hidden state's product {@code
 * h W_hh^T} and the backward's {@code dGates W_hh} are cuBLAS GEMMs between the launches ({@code
 * Ops.recurrent}'s CUDA side, {@code CudaRecurrent}); these kernels do the element-wise rest, so a step
 * costs one GEMM and one launch each way.
 *
 * <p>Arithmetic, as the CPU's: the forward in float, the gates summed as {@code (x + hh) + b_hh}, the
 * fused multiply-adds where the CPU has {@code Math.fma} ({@code fmaf}) and explicitly rounded products
 * and sums elsewhere ({@code __fmul_rn}, {@code __fsub_rn}: NVRTC contracts {@code a * b + c} by default,
 * the CPU rounds each); sigmoid is {@code kiln_sigmoid_forward}'s formula and tanh CUDA's {@code tanhf},
 * where the CPU's vectorised kernels are within 1.44 and 0.94 ulp of the exact values and CUDA's within
 * a few ulp, so the two agree to float rounding, not bit for bit. The backward is in double from the kept
 * float values, as the CPU's, each stored value rounded once to float; the products that an addition or
 * subtraction reads are rounded explicitly ({@code __dmul_rn}) so that no contraction changes them.
 *
 * <p>Modes, as {@code cpu.RecurrentKernels.Mode}'s ordinals: 0 RNN tanh, 1 RNN ReLU, 2 LSTM (gates i,
 * f, g, o), 3 GRU (r, z, n). Layouts, row-major: a step's input part {@code x [B, G H]}, its hidden part
 * {@code hh [B, G H]} (without {@code b_hh}), the step's states {@code [B, S H]} (S = 2 for LSTM: h, then
 * c, in each row), the kept cell values {@code acts [B, 4 H]} (LSTM: i, f, g, o after their
 * activations; GRU: r, z, n and the hidden n-part {@code h W_hn^T + b_hn}), and the hidden and cell
 * states {@code [B, H]}.
 */
public final class RecurrentCellKernels {
  /** The CUDA C source, public so that a test can compile it without a GPU. */
  public static final String SOURCE = """
      // One thread per (row b, unit j) of a step, n = B * H; mode 0 RNN tanh, 1 RNN ReLU, 2 LSTM, 3 GRU.

      __device__ __forceinline__ float kiln_rnn_sigmoid(float v) { // kiln_sigmoid_forward's: from exp(-|v|) <= 1
        float e = expf(-fabsf(v));
        return v >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
      }

      __device__ __forceinline__ int kiln_rnn_gates(int mode) {
        return mode == 2 ? 4 : mode == 3 ? 3 : 1;
      }

      // The step's cells: from the input's part x, the hidden state's hh (h W_hh^T) and b_hh (0 for none),
      // the new h (and LSTM's c) into the step's states and into hNext (cNext), from the previous hPrev
      // (cPrev); the cell's values into acts when it is not 0 (LSTM and GRU, for a backward).
      extern "C" __global__ void kiln_recurrent_forward(float* states, float* hNext, float* cNext, float* acts,
          const float* x, const float* hh, const float* bias, const float* hPrev, const float* cPrev,
          int mode, int hidden, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i >= n) return;
        int k = (int) i;
        int b = k / hidden, j = k - b * hidden;
        long long row = (long long) b * kiln_rnn_gates(mode) * hidden;
        const float* xr = x + row;
        const float* hr = hh + row;
        float h;
        if (mode <= 1) {
          float v = __fadd_rn(__fadd_rn(xr[j], hr[j]), bias != 0 ? bias[j] : 0.0f);
          h = mode == 0 ? tanhf(v) : ((v > 0.0f || v != v) ? v : 0.0f); // Math.max(v, 0f): NaN passes, -0 gives 0
          states[(long long) b * hidden + j] = h;
        } else if (mode == 2) {
          float g[4];
          for (int q = 0; q < 4; q++) {
            int at = q * hidden + j;
            g[q] = __fadd_rn(__fadd_rn(xr[at], hr[at]), bias != 0 ? bias[at] : 0.0f);
          }
          float ig = kiln_rnn_sigmoid(g[0]), fg = kiln_rnn_sigmoid(g[1]), gg = tanhf(g[2]), og = kiln_rnn_sigmoid(g[3]);
          float c = fmaf(fg, cPrev[k], __fmul_rn(ig, gg));
          h = __fmul_rn(tanhf(c), og);
          long long s = (long long) b * 2 * hidden + j;
          states[s] = h;
          states[s + hidden] = c;
          cNext[k] = c;
          if (acts != 0) {
            float* a = acts + (long long) b * 4 * hidden + j;
            a[0] = ig;
            a[hidden] = fg;
            a[2 * hidden] = gg;
            a[3 * hidden] = og;
          }
        } else {
          float r = kiln_rnn_sigmoid(__fadd_rn(__fadd_rn(xr[j], hr[j]), bias != 0 ? bias[j] : 0.0f));
          float z = kiln_rnn_sigmoid(__fadd_rn(__fadd_rn(xr[hidden + j], hr[hidden + j]), bias != 0 ? bias[hidden + j] : 0.0f));
          float hn = __fadd_rn(hr[2 * hidden + j], bias != 0 ? bias[2 * hidden + j] : 0.0f);
          float nn = tanhf(fmaf(r, hn, xr[2 * hidden + j]));
          h = fmaf(z, __fsub_rn(hPrev[k], nn), nn); // (1 - z) n + z h
          states[(long long) b * hidden + j] = h;
          if (acts != 0) {
            float* a = acts + (long long) b * 4 * hidden + j;
            a[0] = r;
            a[hidden] = z;
            a[2 * hidden] = nn;
            a[3 * hidden] = hn;
          }
        }
        hNext[k] = h;
      }

      // The step's cell gradients, given the states' gradient g ([B, S H]) and the next step's dh (dc),
      // which are overwritten with what goes on to the previous step before the GEMM dh += dhh W_hh (0,
      // or GRU's direct z path): the gates' gradient into dx ([B, G H]) and, for GRU, the hidden part's
      // into dhh (n's times r); for the others dhh is dx. h and c are the step's own states, hPrev and
      // cPrev the previous ones.
      extern "C" __global__ void kiln_recurrent_backward(float* dx, float* dhh, float* dh, float* dc, const float* g,
          const float* h, const float* c, const float* acts, const float* hPrev, const float* cPrev,
          int mode, int hidden, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i >= n) return;
        int k = (int) i;
        int b = k / hidden, j = k - b * hidden;
        int states = mode == 2 ? 2 : 1;
        long long gi = (long long) b * states * hidden + j;
        long long d = (long long) b * kiln_rnn_gates(mode) * hidden + j;
        double dH = (double) g[gi] + (double) dh[k];
        if (mode <= 1) {
          double y = h[k];
          double pre = mode == 0 ? dH * __dsub_rn(1.0, __dmul_rn(y, y)) : (!(y <= 0.0) ? dH : 0.0); // a NaN output passes
          dx[d] = (float) pre;
          dh[k] = 0.0f;
        } else if (mode == 2) {
          const float* a = acts + (long long) b * 4 * hidden + j;
          double ig = a[0], fg = a[hidden], gg = a[2 * hidden], og = a[3 * hidden];
          double tc = (double) tanhf(c[k]);
          double dC = __dadd_rn(__dadd_rn((double) g[gi + hidden], (double) dc[k]),
              __dmul_rn(__dmul_rn(dH, og), __dsub_rn(1.0, __dmul_rn(tc, tc))));
          dx[d] = (float) (dC * gg * ig * (1.0 - ig));
          dx[d + hidden] = (float) (dC * (double) cPrev[k] * fg * (1.0 - fg));
          dx[d + 2 * hidden] = (float) (dC * ig * __dsub_rn(1.0, __dmul_rn(gg, gg)));
          dx[d + 3 * hidden] = (float) (dH * tc * og * (1.0 - og));
          dc[k] = (float) (dC * fg);
          dh[k] = 0.0f;
        } else {
          const float* a = acts + (long long) b * 4 * hidden + j;
          double r = a[0], z = a[hidden], nn = a[2 * hidden], hn = a[3 * hidden];
          double hp = hPrev[k];
          double dn = dH * (1.0 - z) * __dsub_rn(1.0, __dmul_rn(nn, nn));
          double dr = dn * hn * r * (1.0 - r);
          double dz = dH * (hp - nn) * z * (1.0 - z);
          dx[d] = (float) dr;
          dx[d + hidden] = (float) dz;
          dx[d + 2 * hidden] = (float) dn;
          dhh[d] = (float) dr;
          dhh[d + hidden] = (float) dz;
          dhh[d + 2 * hidden] = (float) (dn * r);
          dh[k] = (float) (dH * z); // the direct path; the gates' part is added by the GEMM
        }
      }
      """;

  /** The modes' numbers in the source, {@code cpu.RecurrentKernels.Mode}'s ordinals. */
  public static final int RNN_TANH = 0;
  public static final int RNN_RELU = 1;
  public static final int LSTM = 2;
  public static final int GRU = 3;

  private RecurrentCellKernels() {}

  private static CudaKernel kernel(String name) {
    return CudaModule.of("kiln_recurrent.cu", SOURCE).kernel(name);
  }

  /**
   * One step's cells over {@code batch} rows of {@code hidden} units (addresses; 0 for a {@code bias}
   * or {@code acts} not given, and for {@code cNext}, {@code cPrev} but in LSTM).
   */
  public static void forward(int mode, long states, long hNext, long cNext, long acts, long x, long hh, long bias, long hPrev,
      long cPrev, int batch, int hidden) {
    requireMode(mode);
    long n = (long) batch * hidden;
    kernel("kiln_recurrent_forward").launch1d(n, states, hNext, cNext, acts, x, hh, bias, hPrev, cPrev, mode, hidden, n);
  }

  /**
   * One step's cell gradients (see the source): {@code dx} and {@code dhh} (the same address but for
   * GRU) written, {@code dh} and {@code dc} (LSTM's, else 0) replaced by what the previous step gets
   * before its GEMM.
   */
  public static void backward(int mode, long dx, long dhh, long dh, long dc, long g, long h, long c, long acts, long hPrev,
      long cPrev, int batch, int hidden) {
    requireMode(mode);
    long n = (long) batch * hidden;
    kernel("kiln_recurrent_backward").launch1d(n, dx, dhh, dh, dc, g, h, c, acts, hPrev, cPrev, mode, hidden, n);
  }

  private static void requireMode(int mode) {
    if (mode < RNN_TANH || mode > GRU) {
      throw new IllegalArgumentException("RecurrentCellKernels: mode " + mode + " is none of 0 (RNN tanh), 1 (RNN ReLU), 2 (LSTM), 3 (GRU)");
    }
  }
}
