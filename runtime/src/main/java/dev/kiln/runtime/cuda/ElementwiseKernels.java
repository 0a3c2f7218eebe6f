package dev.kiln.runtime.cuda;

import dev.kiln.runtime.cpu.AvgPool2dShape;

/**
 * The element-wise, reduction, softmax, loss and max-pooling kernels of eager mode on the GPU:
 * the CUDA twins of {@code cpu.CpuKernels}, {@code cpu.ActivationKernels} and the pooling half of
 * {@code cpu.ConvKernels}, with the same formulas, argument order (outputs first, then the
 * incoming gradient, then saved forward values, then sizes) and tie and NaN rules, so that the
 * two backends agree to float rounding (exactly for ReLU and max pooling).
 *
 * <p>Launchers take device addresses as {@code long} and check their sizes on the host, naming
 * the kernel in the exception. Element counts fit an {@code int} (a tensor's {@code numel} does);
 * they are passed as {@code long long} where a thread index is compared with them, since
 * {@code blockIdx.x * blockDim.x} may pass 2^31 in the last block of a large launch. Past that
 * check an index fits an {@code int}, and divisions and remainders are taken in 32 bits (a 64-bit
 * one is a long instruction sequence on a GPU); offsets into memory stay 64-bit.
 *
 * <p>Every reduction adds in an order fixed by the sizes alone, so results repeat bit for bit
 * from run to run; the one exception is the max-pooling backward, whose atomic adds make the sum
 * order vary where windows overlap (with at most one contribution per element, the usual case of
 * stride at least the kernel, it is exact).
 */
public final class ElementwiseKernels {
  /** Threads per block of the kernels that use shared memory or warps: the source assumes 256. */
  static final int THREADS = 256;
  /** Rows of a softmax handled by one block: one warp each. */
  private static final int ROWS_PER_BLOCK = THREADS / 32;
  /** Blocks of the first pass of {@link #sum}: enough to fill a GPU, and a fixed order of addition. */
  private static final int SUM_BLOCKS = 1024;
  /** Rows one block of {@code kiln_sum_rows} adds before a second pass takes over. */
  private static final int ROWS_PER_CHUNK = 1024;

  /** The CUDA C source, public so that a test can compile it without a GPU. */
  public static final String SOURCE = IndexKernels.LINE_REDUCE + """
      // Kernels with shared memory or warp shuffles are launched with 256 threads per block
      // (ElementwiseKernels.THREADS); the others with any block size. The *_lines kernels reduce long lines by groups
      // of threads (IndexKernels.LINE_REDUCE, above, and its lineGroup).

      __device__ __forceinline__ float kiln_neg_inf() { return __int_as_float(0xff800000); }

      // The maximum over a warp, in every lane (lane 0's value, broadcast, so that all agree).
      __device__ __forceinline__ float kiln_warp_max(float v) {
        for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_down_sync(0xffffffffu, v, o));
        return __shfl_sync(0xffffffffu, v, 0);
      }

      // The sum over a warp, in every lane, in double (softmax's sums, accumulated as the CPU's are);
      // the order of addition is fixed (a tree), and the lanes take lane 0's result rather than each
      // its own, which may round differently.
      __device__ __forceinline__ double kiln_warp_sum_double(double v) {
        for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
        return __shfl_sync(0xffffffffu, v, 0);
      }

      // ---------------------------------------------------------------- activations

      // out = max(x, 0); a NaN passes through, as with Java's Math.max.
      extern "C" __global__ void kiln_relu_forward(float* out, const float* x, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) {
          float v = x[i];
          out[i] = (v > 0.0f || v != v) ? v : 0.0f;
        }
      }

      // dx = g where the output y > 0, else 0: a product with a 0/1 factor (NaN for a NaN y), as
      // the CPU's arithmetic mask computes it, so that the two agree bit for bit.
      extern "C" __global__ void kiln_relu_backward(float* dx, const float* g, const float* y, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) {
          float v = y[i];
          float pass = v > 0.0f ? 1.0f : (v == v ? 0.0f : v);
          dx[i] = g[i] * pass;
        }
      }

      // out = 1 / (1 + exp(-x)), from exp(-|x|) <= 1 so that nothing overflows.
      extern "C" __global__ void kiln_sigmoid_forward(float* out, const float* x, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) {
          float v = x[i];
          float e = expf(-fabsf(v));
          out[i] = v >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
        }
      }

      // dx = g * y * (1 - y), y the sigmoid's output.
      extern "C" __global__ void kiln_sigmoid_backward(float* dx, const float* g, const float* y, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) {
          float s = y[i];
          dx[i] = g[i] * s * (1.0f - s);
        }
      }

      extern "C" __global__ void kiln_tanh_forward(float* out, const float* x, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) out[i] = tanhf(x[i]);
      }

      // dx = g * (1 - y^2), y the tanh's output.
      extern "C" __global__ void kiln_tanh_backward(float* dx, const float* g, const float* y, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) {
          float t = y[i];
          dx[i] = g[i] * (1.0f - __fmul_rn(t, t)); // no fused multiply-add: the CPU rounds t * t first
        }
      }

      // GELU: out = x Phi(x), Phi(x) = erfc(-x / sqrt 2) / 2, in double (the CPU computes in float, within 6 ulp of this)
      extern "C" __global__ void kiln_gelu_forward(float* out, const float* x, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) {
          double v = x[i];
          out[i] = (float) (v * 0.5 * erfc(-v * 0.7071067811865476));
        }
      }

      // dx = g (Phi(x) + x phi(x)), from the input x
      extern "C" __global__ void kiln_gelu_backward(float* dx, const float* g, const float* x, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) {
          double v = x[i];
          double density = exp(-0.5 * v * v) * 0.3989422804014327;
          dx[i] = (float) (g[i] * (0.5 * erfc(-v * 0.7071067811865476) + v * density));
        }
      }

      // GELU's tanh approximation (PyTorch's approximate='tanh'): out = 0.5 x (1 + tanh(u)), u = sqrt(2 / pi) (x + 0.044715
      // x^3), in double (the CPU computes in float as PyTorch does); |x| clamped to 1e4 for u, where tanh is +-1: 0 at -inf
      __device__ double kiln_gelu_tanh_inner(double v) {
        double c = fmin(fmax(v, -1.0e4), 1.0e4);
        return tanh(0.7978845608028654 * (c + 0.044715 * c * c * c));
      }

      extern "C" __global__ void kiln_gelu_tanh_forward(float* out, const float* x, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) {
          double v = x[i];
          out[i] = (float) (0.5 * fmax(v, -1.0e300) * (1.0 + kiln_gelu_tanh_inner(v)));
        }
      }

      // dx = g (0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2 / pi) (1 + 3 0.044715 x^2)), from the input x, x clamped as above
      extern "C" __global__ void kiln_gelu_tanh_backward(float* dx, const float* g, const float* x, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) {
          double v = x[i], c = fmin(fmax(v, -1.0e4), 1.0e4), t = kiln_gelu_tanh_inner(v);
          double slope = 0.5 * (1.0 + t) + 0.5 * c * (1.0 - t * t) * 0.7978845608028654 * (1.0 + 0.134145 * c * c);
          dx[i] = (float) (g[i] * slope);
        }
      }

      // SiLU: out = x sigmoid(x), in double (the CPU computes in float, within 1.7 ulp of this)
      extern "C" __global__ void kiln_silu_forward(float* out, const float* x, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) {
          double v = x[i];
          double e = exp(-fabs(v));
          out[i] = (float) (v * (v >= 0.0 ? 1.0 : e) / (1.0 + e));
        }
      }

      // dx = g s (1 + x (1 - s)), s = sigmoid(x), from the input x
      extern "C" __global__ void kiln_silu_backward(float* dx, const float* g, const float* x, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) {
          double v = x[i];
          double e = exp(-fabs(v));
          double s = (v >= 0.0 ? 1.0 : e) / (1.0 + e);
          dx[i] = (float) (g[i] * s * (1.0 + v * (1.0 - s)));
        }
      }

      // out = x > 0 ? x : slope * x
      extern "C" __global__ void kiln_leaky_relu_forward(float* out, const float* x, float slope, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) {
          float v = x[i];
          out[i] = v > 0.0f ? v : slope * v;
        }
      }

      // dx = x > 0 ? g : slope * g, from the input x (the slope may be negative, so not from y).
      extern "C" __global__ void kiln_leaky_relu_backward(float* dx, const float* g, const float* x, float slope, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) {
          float v = g[i];
          dx[i] = x[i] > 0.0f ? v : slope * v;
        }
      }

      // out = min(max(x, lo), hi), NaN staying NaN (fmaxf would drop it), as the CPU's MathKernels.clampForward
      extern "C" __global__ void kiln_clamp_forward(float* out, const float* x, float lo, float hi, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) {
          float v = x[i];
          out[i] = v != v ? v : (v < lo ? lo : v) > hi ? hi : (v < lo ? lo : v);
        }
      }

      // dx = lo <= x <= hi ? g : 0 (0 for a NaN x, as PyTorch's clamp_backward)
      extern "C" __global__ void kiln_clamp_backward(float* dx, const float* g, const float* x, float lo, float hi, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) {
          float v = x[i];
          dx[i] = v >= lo && v <= hi ? g[i] : 0.0f;
        }
      }

      // ---------------------------------------------------------------- arithmetic

      // out = a * b, same shapes (also dropout's mask, forward and backward)
      // ---------------------------------------------------------------- element-wise math
      // Values in double, rounded once, as the CPU's MathKernels compute them.

      extern "C" __global__ void kiln_exp_forward(float* out, const float* x, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) out[i] = (float) exp((double) x[i]);
      }

      extern "C" __global__ void kiln_log_forward(float* out, const float* x, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) out[i] = (float) log((double) x[i]);
      }

      // dx = g / x: log's gradient from its input
      extern "C" __global__ void kiln_log_backward(float* dx, const float* g, const float* x, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) dx[i] = __fdiv_rn(g[i], x[i]);
      }

      // sin and cos in double (the CPU's Math.sin, Math.cos), each gradient from the input
      extern "C" __global__ void kiln_sin_forward(float* out, const float* x, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) out[i] = (float) sin((double) x[i]);
      }

      extern "C" __global__ void kiln_sin_backward(float* dx, const float* g, const float* x, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) dx[i] = (float) (g[i] * cos((double) x[i]));
      }

      extern "C" __global__ void kiln_cos_forward(float* out, const float* x, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) out[i] = (float) cos((double) x[i]);
      }

      extern "C" __global__ void kiln_cos_backward(float* dx, const float* g, const float* x, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) dx[i] = (float) (-g[i] * sin((double) x[i]));
      }

      extern "C" __global__ void kiln_sqrt_forward(float* out, const float* x, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) out[i] = __fsqrt_rn(x[i]);
      }

      // dx = g / (2 y): sqrt's gradient from its output
      extern "C" __global__ void kiln_sqrt_backward(float* dx, const float* g, const float* y, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) dx[i] = __fdiv_rn(g[i], 2.0f * y[i]);
      }

      // std's gradient from its output: sqrt's, and 0 where the standard deviation is 0, as PyTorch's
      extern "C" __global__ void kiln_std_backward(float* dx, const float* g, const float* y, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) dx[i] = y[i] == 0.0f ? 0.0f : __fdiv_rn(g[i], 2.0f * y[i]);
      }

      extern "C" __global__ void kiln_abs_forward(float* out, const float* x, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) out[i] = fabsf(x[i]);
      }

      // dx = g * sign(x), sign(+-0) = +0, NaN for NaN (the CPU's MathKernels.absBackward)
      extern "C" __global__ void kiln_abs_backward(float* dx, const float* g, const float* x, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) {
          float v = x[i];
          float s = v > 0.0f ? 1.0f : (v < 0.0f ? -1.0f : (v == v ? 0.0f : v));
          dx[i] = g[i] * s;
        }
      }

      // out = -x: negation, and its own gradient's rule
      extern "C" __global__ void kiln_neg(float* out, const float* x, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) out[i] = -x[i];
      }

      extern "C" __global__ void kiln_pow_forward(float* out, const float* x, float e, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) out[i] = (float) pow((double) x[i], (double) e);
      }

      // dx = g * e * x^(e - 1), 0 for e = 0
      extern "C" __global__ void kiln_pow_backward(float* dx, const float* g, const float* x, float e, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) dx[i] = e == 0.0f ? 0.0f : (float) ((double) g[i] * ((double) e * pow((double) x[i], (double) e - 1.0)));
      }

      // out[c, r] = x[r, c]: one thread an element, reads along rows (coalesced), writes strided
      extern "C" __global__ void kiln_transpose(float* out, const float* x, int rows, int cols) {
        long long t = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (t < (long long) rows * cols) {
          int r = (int) (t / cols), c = (int) (t % cols);
          out[(long long) c * rows + r] = x[t];
        }
      }

      // out = x with its dimensions reordered, one thread an output: out's sizes s0..s5 (leading ones
      // padding a lower rank) and x's stride t0..t5 along each of out's dimensions. Values are moved,
      // not computed on, so the copy is bit for bit (a permutation's gradient is the inverse one).
      extern "C" __global__ void kiln_permute(float* out, const float* x, long long n,
          int s0, int s1, int s2, int s3, int s4, int s5, int t0, int t1, int t2, int t3, int t4, int t5) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) {
          int rest = (int) i;
          long long src = 0;
          src += (long long) (rest % s5) * t5; rest /= s5;
          src += (long long) (rest % s4) * t4; rest /= s4;
          src += (long long) (rest % s3) * t3; rest /= s3;
          src += (long long) (rest % s2) * t2; rest /= s2;
          src += (long long) (rest % s1) * t1; rest /= s1;
          src += (long long) rest * t0;
          out[i] = x[src];
        }
      }

      // out = c != 0 ? a : b, each operand repeating over out's leading dimensions (nc, na, nb values,
      // a scalar 1): torch.where, and so masked_fill. NaN is nonzero, -0 is zero, as the CPU's test.
      extern "C" __global__ void kiln_where(float* out, const float* c, const float* a, const float* b,
          int nc, int na, int nb, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) {
          int k = (int) i;
          out[i] = c[k % nc] != 0.0f ? a[k % na] : b[k % nb];
        }
      }

      // a OP b as a 0/1 mask, each operand repeating over the output's leading dimensions; op: 0 eq, 1 ne,
      // 2 gt, 3 ge, 4 lt, 5 le (IEEE comparisons: any with NaN false but ne's, as the CPU's Java ones)
      extern "C" __global__ void kiln_compare(float* out, const float* a, const float* b, int na, int nb, int op,
          long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) {
          float x = a[(int) (i % na)], y = b[(int) (i % nb)];
          bool r = op == 0 ? x == y : op == 1 ? x != y : op == 2 ? x > y : op == 3 ? x >= y : op == 4 ? x < y : x <= y;
          out[i] = r ? 1.0f : 0.0f;
        }
      }

      // The gradient of one branch of kiln_where, m values repeating over n: dx[j] = the sum of g[i]
      // over i = j (mod m) where the condition picked this branch ((c != 0) == taken), added in float
      // in index order from +0, as the CPU's loop adds them, so the two agree bit for bit.
      extern "C" __global__ void kiln_where_backward(float* dx, const float* g, const float* c, int nc, int m, int taken,
          long long n) {
        long long j = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (j < m) {
          float acc = 0.0f;
          for (long long i = j; i < n; i += m) {
            if ((c[(int) i % nc] != 0.0f) == (taken != 0)) acc += g[i];
          }
          dx[j] = acc;
        }
      }

      // kiln_where_backward where its m sums are long (IndexKernels.lineGroup of m lines of n / m repeats, m apart): a
      // group of threads a sum, lane k adding repeats k, k + group, ... in double, the lanes' sums met in LINE_REDUCE's
      // tree. The CPU's float sum to rounding, the same bits from run to run.
      extern "C" __global__ void kiln_where_lines_backward(float* dx, const float* g, const float* c, int nc, int m, int taken,
          long long n, int group) {
        __shared__ double red[256];
        int size = (int) (n / m);
        kiln_line_t here = kiln_line_here(group, size, m, m); // line j of [1, n / m, m] starts at j
        double acc = 0.0;
        for (int k = here.lane; here.live && k < size; k += group) {
          long long i = here.base + (long long) k * m;
          if ((c[(int) (i % nc)] != 0.0f) == (taken != 0)) acc += g[i];
        }
        acc = kiln_group_reduce(acc, red, group, 0);
        if (here.live && here.lane == 0) dx[here.line] = (float) acc;
      }

      // out[o, i] = factor * sum_k x[o, k, i], x seen as [outer, size, inner]: one thread an output,
      // added in double in the CPU's order (MathKernels.sumAlong), so the two agree bit for bit: a
      // row of one-value columns (inner == 1) over eight interleaved accumulators (value k of the
      // first 8 * (size / 8) into s[k % 8], the rest into s0 in order, then ((s0 + s1) + (s2 + s3))
      // + ((s4 + s5) + (s6 + s7)), MathKernels.sum8), a column of inner > 1 in index order.
      extern "C" __global__ void kiln_sum_along(float* out, const float* x, int outer, int size, int inner, float factor) {
        long long t = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (t < (long long) outer * inner) {
          double acc = 0.0;
          if (inner == 1) {
            const float* row = x + t * size;
            double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0, s4 = 0.0, s5 = 0.0, s6 = 0.0, s7 = 0.0;
            int k = 0;
            for (; k + 7 < size; k += 8) {
              s0 += row[k];
              s1 += row[k + 1];
              s2 += row[k + 2];
              s3 += row[k + 3];
              s4 += row[k + 4];
              s5 += row[k + 5];
              s6 += row[k + 6];
              s7 += row[k + 7];
            }
            for (; k < size; k++) s0 += row[k];
            acc = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
          } else {
            int o = (int) (t / inner), i = (int) (t % inner);
            const float* col = x + (long long) o * size * inner + i;
            for (int k = 0; k < size; k++) acc += col[(long long) k * inner];
          }
          out[t] = (float) (acc * factor);
        }
      }

      // kiln_sum_along's sums over long lines, `group` threads a line (IndexKernels.lineGroup: a block from 1024 values, a
      // warp from 32): lane k adds the line's values k, k + group, ... in double, the lanes' sums meet in LINE_REDUCE's
      // tree. The CPU's sum to rounding (not its eight lanes' order), the same bits from run to run.
      extern "C" __global__ void kiln_sum_lines(float* out, const float* x, int size, int inner, long long lines, int group,
          float factor) {
        __shared__ double red[256];
        kiln_line_t here = kiln_line_here(group, size, inner, lines);
        const float* v = x + here.base;
        double acc = 0.0;
        for (int k = here.lane; here.live && k < size; k += group) acc += v[(long long) k * inner];
        acc = kiln_group_reduce(acc, red, group, 0);
        if (here.live && here.lane == 0) out[here.line] = (float) (acc * factor);
      }

      // The variance over several dimensions, as the CPU's MathKernels.varianceOver: x seen as nine alternating runs
      // r0..r8 (kept, reduced, ..., kept; a shorter list padded in front with runs of 1), one thread an output (its
      // kept coordinates from o), two passes in double over its values in memory order: the mean, then the sum of
      // (x - mean)^2, each a value at a time, or with r8 == 1 a sum8 (the CPU's eight lanes) over each contiguous
      // run of r7 added in turn: the CPU's order, so the same bits. out = that / divisor, mean = the mean in float.
      __device__ double kiln_var_run(const float* v, int len, double m, int squares) {
        double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0, s4 = 0.0, s5 = 0.0, s6 = 0.0, s7 = 0.0;
        int k = 0;
        if (squares) {
          for (; k + 7 < len; k += 8) {
            double d0 = (double) v[k] - m, d1 = (double) v[k + 1] - m, d2 = (double) v[k + 2] - m, d3 = (double) v[k + 3] - m;
            double d4 = (double) v[k + 4] - m, d5 = (double) v[k + 5] - m, d6 = (double) v[k + 6] - m, d7 = (double) v[k + 7] - m;
            s0 = __dadd_rn(s0, __dmul_rn(d0, d0)); s1 = __dadd_rn(s1, __dmul_rn(d1, d1));
            s2 = __dadd_rn(s2, __dmul_rn(d2, d2)); s3 = __dadd_rn(s3, __dmul_rn(d3, d3));
            s4 = __dadd_rn(s4, __dmul_rn(d4, d4)); s5 = __dadd_rn(s5, __dmul_rn(d5, d5));
            s6 = __dadd_rn(s6, __dmul_rn(d6, d6)); s7 = __dadd_rn(s7, __dmul_rn(d7, d7));
          }
          for (; k < len; k++) { double d = (double) v[k] - m; s0 = __dadd_rn(s0, __dmul_rn(d, d)); }
        } else {
          for (; k + 7 < len; k += 8) {
            s0 += v[k]; s1 += v[k + 1]; s2 += v[k + 2]; s3 += v[k + 3];
            s4 += v[k + 4]; s5 += v[k + 5]; s6 += v[k + 6]; s7 += v[k + 7];
          }
          for (; k < len; k++) s0 += v[k];
        }
        return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
      }

      __device__ double kiln_var_pass(const float* x, long long base, const int* r, const long long* st, double m, int squares) {
        double acc = 0.0;
        for (int a = 0; a < r[1]; a++)
          for (int b = 0; b < r[3]; b++)
            for (int c = 0; c < r[5]; c++) {
              long long at = base + a * st[1] + b * st[3] + c * st[5];
              if (r[8] == 1) {
                acc += kiln_var_run(x + at, r[7], m, squares);
              } else {
                for (int d = 0; d < r[7]; d++) {
                  double v = x[at + d * st[7]];
                  acc = squares ? __dadd_rn(acc, __dmul_rn(v - m, v - m)) : acc + v;
                }
              }
            }
        return acc;
      }

      // The runs' strides in x into st, and the offset of output o's first value (its kept coordinates from o).
      __device__ long long kiln_var_base(long long o, const int* r, long long* st) {
        long long stride = 1;
        for (int j = 8; j >= 0; j--) { st[j] = stride; stride *= r[j]; }
        long long rest = o, base = 0;
        for (int j = 8; j >= 0; j -= 2) { base += (rest % r[j]) * st[j]; rest /= r[j]; }
        return base;
      }

      extern "C" __global__ void kiln_variance_over(float* out, float* mean, const float* x, long long outputs,
          int r0, int r1, int r2, int r3, int r4, int r5, int r6, int r7, int r8, int divisor) {
        long long o = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (o < outputs) {
          int r[9] = {r0, r1, r2, r3, r4, r5, r6, r7, r8};
          long long st[9];
          long long base = kiln_var_base(o, r, st);
          double count = (double) r[1] * r[3] * r[5] * r[7];
          double m = kiln_var_pass(x, base, r, st, 0.0, 0) / count;
          out[o] = (float) (kiln_var_pass(x, base, r, st, m, 1) / (double) divisor);
          mean[o] = (float) m;
        }
      }

      // The offset of an output's reduced value j (0 <= j < r1 r3 r5 r7, in memory order: r7's coordinate fastest).
      __device__ __forceinline__ long long kiln_var_at(long long base, int j, const int* r, const long long* st) {
        int d = j % r[7];
        j /= r[7];
        int c = j % r[5];
        j /= r[5];
        int b = j % r[3];
        return base + (long long) (j / r[3]) * st[1] + b * st[3] + c * st[5] + d * st[7];
      }

      // kiln_variance_over's outputs over many values, `group` threads an output (IndexKernels.lineGroup of the outputs,
      // the count of reduced values and r8, their stride): lane k takes reduced values k, k + group, ..., the same two
      // passes in double, each pass's lane sums met in LINE_REDUCE's tree. The CPU's to rounding, the same bits from run
      // to run: batch norm's statistics over [N, C, H*W] are C lines of N*H*W values, a block each.
      extern "C" __global__ void kiln_variance_lines(float* out, float* mean, const float* x, long long outputs,
          int r0, int r1, int r2, int r3, int r4, int r5, int r6, int r7, int r8, int divisor, int group) {
        __shared__ double red[256];
        int r[9] = {r0, r1, r2, r3, r4, r5, r6, r7, r8};
        long long st[9];
        kiln_line_t here = kiln_line_here(group, 1, 1, outputs); // its line and lane; the offset from the runs
        long long base = kiln_var_base(here.live ? here.line : 0, r, st);
        int count = r1 * r3 * r5 * r7;
        double s = 0.0;
        for (int j = here.lane; here.live && j < count; j += group) s += x[kiln_var_at(base, j, r, st)];
        double m = kiln_group_reduce(s, red, group, 0) / (double) count;
        double q = 0.0;
        for (int j = here.lane; here.live && j < count; j += group) {
          double d = (double) x[kiln_var_at(base, j, r, st)] - m;
          q = __dadd_rn(q, __dmul_rn(d, d));
        }
        q = kiln_group_reduce(q, red, group, 0);
        if (here.live && here.lane == 0) {
          out[here.line] = (float) (q / (double) divisor);
          mean[here.line] = (float) m;
        }
      }

      // dx = (scale * g[o]) * (x - mean[o]), o the output of input value i (kiln_variance_over's runs): the
      // variance's gradient, PyTorch's var_backward, as the CPU's MathKernels.varianceBackward.
      extern "C" __global__ void kiln_variance_backward(float* dx, const float* g, const float* x, const float* mean,
          long long n, int r0, int r1, int r2, int r3, int r4, int r5, int r6, int r7, int r8, float scale) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) {
          int r[9] = {r0, r1, r2, r3, r4, r5, r6, r7, r8};
          long long rest = i, o = 0, kept = 1;
          for (int j = 8; j >= 0; j--) {
            long long c = rest % r[j];
            rest /= r[j];
            if ((j & 1) == 0) { o += c * kept; kept *= r[j]; }
          }
          dx[i] = __fmul_rn(__fmul_rn(scale, g[o]), __fsub_rn(x[i], mean[o]));
        }
      }

      // dx[o, k, i] = factor * g[o, i]: the gradient of kiln_sum_along
      extern "C" __global__ void kiln_spread_along(float* dx, const float* g, int size, int inner, float factor, long long n) {
        long long t = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (t < n) {
          long long o = t / ((long long) size * inner);
          int i = (int) (t % inner);
          dx[t] = g[o * inner + i] * factor;
        }
      }

      // SplitMix64's output mix (Stafford's variant 13), as dev.kiln.runtime.Generator's mix64.
      __device__ __forceinline__ unsigned long long kiln_mix64(unsigned long long z) {
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
      }

      // Inverted dropout: mask[i] = (draw i < p) ? 0 : keep, out[i] = x[i] * mask[i]. Draw i of the
      // block the host generator reserved at state `start` is mix64(start + (i + 1) * gamma) >> 11
      // times 2^-53, the double Generator.nextDouble() returns: the same mask as on the CPU, drawn
      // here without a host loop or an upload. p arrives as the bits of a double.
      extern "C" __global__ void kiln_dropout(float* out, float* mask, const float* x, long long start,
          long long pBits, float keep, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) {
          unsigned long long z = kiln_mix64((unsigned long long) start + (unsigned long long) (i + 1) * 0x9e3779b97f4a7c15ULL);
          double u = (double) (z >> 11) * 1.1102230246251565e-16; // 2^-53
          float m = u < __longlong_as_double(pBits) ? 0.0f : keep;
          mask[i] = m;
          out[i] = x[i] * m;
        }
      }

      extern "C" __global__ void kiln_mul(float* out, const float* a, const float* b, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) out[i] = a[i] * b[i];
      }

      // out = a / b, a true quotient rounded once (PyTorch's; Ops.div on the CPU)
      extern "C" __global__ void kiln_div(float* out, const float* a, const float* b, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) out[i] = __fdiv_rn(a[i], b[i]);
      }

      // The gradients of y = a / b (ATen's div backward, as the CPU's ArithmeticKernels): da = g / b,
      // db = -g * (y / b); either output may be null.
      extern "C" __global__ void kiln_div_backward(float* da, float* db, const float* g, const float* b, const float* y,
          long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) {
          if (da) da[i] = __fdiv_rn(g[i], b[i]);
          if (db) db[i] = __fmul_rn(-g[i], __fdiv_rn(y[i], b[i]));
        }
      }

      // out[r, j] = a[r, j] + b[j]: b repeated over the leading dimensions of a, seen as [n / cols, cols]
      extern "C" __global__ void kiln_add_repeated(float* out, const float* a, const float* b, int cols, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) out[i] = a[i] + b[(int) i % cols];
      }

      // out[r, j] = a[r, j] * b[j]
      extern "C" __global__ void kiln_mul_repeated(float* out, const float* a, const float* b, int cols, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) out[i] = a[i] * b[(int) i % cols];
      }

      // out = x * s
      extern "C" __global__ void kiln_scale(float* out, const float* x, float s, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) out[i] = x[i] * s;
      }

      // out[i] = g[0] * factor: the gradient of a sum (factor 1) or mean (1 / n) of all elements.
      extern "C" __global__ void kiln_fill_scaled(float* out, const float* g, float factor, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) out[i] = g[0] * factor;
      }

      // ---------------------------------------------------------------- reductions

      // First pass of the sum of all elements: block b adds its grid-stride share of x into
      // partial[b], in double as the CPU does. The grid size depends on n only, so the order of
      // addition, and the result, never change from run to run. 256 threads.
      extern "C" __global__ void kiln_sum_partials(double* partial, const float* x, long long n) {
        __shared__ double s[256];
        double acc = 0.0;
        for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
          acc += x[i];
        }
        s[threadIdx.x] = acc;
        __syncthreads();
        for (int w = 128; w > 0; w >>= 1) {
          if (threadIdx.x < w) s[threadIdx.x] += s[threadIdx.x + w];
          __syncthreads();
        }
        if (threadIdx.x == 0) partial[blockIdx.x] = s[0];
      }

      // Second pass, one block of 256 threads: out[0] = (float) (sum(partial) * factor).
      extern "C" __global__ void kiln_sum_finish(float* out, const double* partial, int count, float factor) {
        __shared__ double s[256];
        double acc = 0.0;
        for (int i = threadIdx.x; i < count; i += blockDim.x) acc += partial[i];
        s[threadIdx.x] = acc;
        __syncthreads();
        for (int w = 128; w > 0; w >>= 1) {
          if (threadIdx.x < w) s[threadIdx.x] += s[threadIdx.x + w];
          __syncthreads();
        }
        if (threadIdx.x == 0) out[0] = (float) (s[0] * (double) factor);
      }

      // Column sums of x[rows, cols], chunk by chunk: out[chunk, j] = sum of x[r, j] over the rows
      // r of chunk blockIdx.y (rowsPerChunk of them). A block of 256 threads covers 32 columns
      // (blockIdx.x) with 8 threads per column, which take every 8th row and then add up their
      // 8 partial sums in a fixed order. Adjacent threads read adjacent columns (coalesced).
      extern "C" __global__ void kiln_sum_rows(float* out, const float* x, int rows, int cols, int rowsPerChunk) {
        __shared__ float part[8][32];
        int lane = threadIdx.x & 31, k = threadIdx.x >> 5;
        int j = blockIdx.x * 32 + lane;
        int r0 = blockIdx.y * rowsPerChunk;
        int r1 = (int) min((long long) rows, (long long) r0 + rowsPerChunk);
        float acc = 0.0f;
        if (j < cols) {
          for (int r = r0 + k; r < r1; r += 8) acc += x[(long long) r * cols + j];
        }
        part[k][lane] = acc;
        __syncthreads();
        if (k == 0 && j < cols) {
          float t = part[0][lane];
          for (int q = 1; q < 8; q++) t += part[q][lane];
          out[(long long) blockIdx.y * cols + j] = t;
        }
      }

      // ---------------------------------------------------------------- softmax and log-softmax

      // Along the last dimension (rows of `size` contiguous values), one warp per row, 8 rows per
      // block of 256: y = exp(x - max) / sum, or with `takeLog` set, y = (x - max) - log(sum). The
      // sum is taken in double, as on the CPU, and the maximum is subtracted before the log: with
      // large logits, max + log(sum) in float would cost the result half an ulp of the maximum.
      extern "C" __global__ void kiln_softmax_rows_forward(float* y, const float* x, int rows, int size, int takeLog) {
        int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
        int lane = threadIdx.x & 31;
        if (row >= rows) return; // the whole warp leaves together, so the shuffles stay complete
        const float* xr = x + (long long) row * size;
        float* yr = y + (long long) row * size;
        float m = kiln_neg_inf();
        for (int k = lane; k < size; k += 32) m = fmaxf(m, xr[k]);
        m = kiln_warp_max(m);
        double sd = 0.0;
        for (int k = lane; k < size; k += 32) sd += expf(xr[k] - m);
        sd = kiln_warp_sum_double(sd);
        float s = (float) sd;
        if (takeLog) {
          float ls = (float) log(sd);
          for (int k = lane; k < size; k += 32) yr[k] = (xr[k] - m) - ls;
        } else {
          for (int k = lane; k < size; k += 32) yr[k] = expf(xr[k] - m) / s;
        }
      }

      // Backward of kiln_softmax_rows_forward from its output y: dx = y * (g - sum(g * y)), or
      // with `takeLog` set, dx = g - exp(y) * sum(g).
      extern "C" __global__ void kiln_softmax_rows_backward(float* dx, const float* g, const float* y, int rows, int size, int takeLog) {
        int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
        int lane = threadIdx.x & 31;
        if (row >= rows) return;
        long long base = (long long) row * size;
        double sd = 0.0;
        for (int k = lane; k < size; k += 32) sd += takeLog ? g[base + k] : (double) g[base + k] * y[base + k];
        float s = (float) kiln_warp_sum_double(sd);
        for (int k = lane; k < size; k += 32) {
          long long at = base + k;
          dx[at] = takeLog ? g[at] - expf(y[at]) * s : y[at] * (g[at] - s);
        }
      }

      // Along a middle dimension of x seen as [outer, size, inner] (inner > 1): one thread per
      // (outer, inner) pair, walking its `size` values `inner` apart; adjacent threads read
      // adjacent values. Same formulas as kiln_softmax_rows_forward.
      extern "C" __global__ void kiln_softmax_strided_forward(float* y, const float* x, int outer, int size, int inner, int takeLog) {
        long long t = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (t >= (long long) outer * inner) return;
        long long first = (long long) ((int) t / inner) * size * inner + (int) t % inner;
        float m = kiln_neg_inf();
        for (int k = 0; k < size; k++) m = fmaxf(m, x[first + (long long) k * inner]);
        double sd = 0.0;
        for (int k = 0; k < size; k++) sd += expf(x[first + (long long) k * inner] - m);
        float s = (float) sd;
        float ls = (float) log(sd);
        for (int k = 0; k < size; k++) {
          long long at = first + (long long) k * inner;
          y[at] = takeLog ? (x[at] - m) - ls : expf(x[at] - m) / s;
        }
      }

      // Backward of kiln_softmax_strided_forward, formulas as kiln_softmax_rows_backward.
      extern "C" __global__ void kiln_softmax_strided_backward(
          float* dx, const float* g, const float* y, int outer, int size, int inner, int takeLog) {
        long long t = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (t >= (long long) outer * inner) return;
        long long first = (long long) ((int) t / inner) * size * inner + (int) t % inner;
        double sd = 0.0;
        for (int k = 0; k < size; k++) {
          long long at = first + (long long) k * inner;
          sd += takeLog ? g[at] : (double) g[at] * y[at];
        }
        float s = (float) sd;
        for (int k = 0; k < size; k++) {
          long long at = first + (long long) k * inner;
          dx[at] = takeLog ? g[at] - expf(y[at]) * s : y[at] * (g[at] - s);
        }
      }

      // ---------------------------------------------------------------- losses

      // Cross-entropy of logits[rows, classes] against class indices stored as floats (checked
      // on the host: whole numbers in 0..classes-1), one warp per row, 8 rows per block of 256:
      // probs = softmax(logits), kept for the backward; loss = log(sum exp(x - max)) + max - x[target].
      extern "C" __global__ void kiln_cross_entropy_forward(
          float* losses, float* probs, const float* logits, const float* targets, int rows, int classes) {
        int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
        int lane = threadIdx.x & 31;
        if (row >= rows) return;
        const float* xr = logits + (long long) row * classes;
        float* pr = probs + (long long) row * classes;
        float m = kiln_neg_inf();
        for (int k = lane; k < classes; k += 32) m = fmaxf(m, xr[k]);
        m = kiln_warp_max(m);
        double sd = 0.0;
        for (int k = lane; k < classes; k += 32) sd += expf(xr[k] - m);
        sd = kiln_warp_sum_double(sd);
        float s = (float) sd;
        for (int k = lane; k < classes; k += 32) pr[k] = expf(xr[k] - m) / s;
        // log(sum) - (x[target] - max): the maximum subtracted first, as for log-softmax
        if (lane == 0) losses[row] = (float) (log(sd) - (double) (xr[(int) targets[row]] - m));
      }

      // kiln_cross_entropy_forward for rows of many classes, `group` threads a row (IndexKernels.lineGroup: a block from
      // 1024 classes, where a warp would leave a row of 50k classes some 1600 values a lane), the same formulas;
      // LINE_REDUCE's tree (softmax's kiln_line_exp_sum) instead of the warp's.
      extern "C" __global__ void kiln_cross_entropy_lines_forward(
          float* losses, float* probs, const float* logits, const float* targets, int rows, int classes, int group) {
        __shared__ double red[256];
        kiln_line_t here = kiln_line_here(group, classes, 1, rows);
        const float* xr = logits + here.base;
        float* pr = probs + here.base;
        float m;
        double sd = kiln_line_exp_sum(xr, here, classes, 1, group, red, &m);
        float s = (float) sd;
        for (int k = here.lane; here.live && k < classes; k += group) pr[k] = expf(xr[k] - m) / s;
        if (here.live && here.lane == 0) losses[here.line] = (float) (log(sd) - (double) (xr[(int) targets[here.line]] - m));
      }

      // dlogits[r, j] = (probs[r, j] - (j == target[r])) * scale[r * scaleStride] * factor: the
      // per-sample gradients g[r] (stride 1, factor 1), or one g[0] for a mean (stride 0, factor
      // 1 / rows) or sum (factor 1). Written as the CPU does: p * s, then s subtracted at the target.
      extern "C" __global__ void kiln_cross_entropy_backward(float* dlogits, const float* probs, const float* targets,
          const float* scale, int scaleStride, float factor, int classes, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) {
          int r = (int) i / classes;
          int j = (int) i - r * classes;
          float s = scale[r * scaleStride] * factor;
          float d = __fmul_rn(probs[i], s); // rounded before the subtraction below, as on the CPU (no fused multiply-add)
          dlogits[i] = j == (int) targets[r] ? d - s : d;
        }
      }

      // out = |x - t|
      extern "C" __global__ void kiln_l1_forward(float* out, const float* x, const float* t, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) out[i] = fabsf(x[i] - t[i]);
      }

      // dx = g * sign(x - t), with Java's Math.signum: 0 (signed) where equal, NaN for NaN.
      extern "C" __global__ void kiln_l1_backward(float* dx, const float* g, const float* x, const float* t, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) {
          float d = x[i] - t[i];
          dx[i] = g[i] * (d > 0.0f ? 1.0f : (d < 0.0f ? -1.0f : d));
        }
      }

      // out = (x - t)^2
      extern "C" __global__ void kiln_mse_forward(float* out, const float* x, const float* t, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) {
          float d = x[i] - t[i];
          out[i] = d * d;
        }
      }

      // dx = g * 2 * (x - t)
      extern "C" __global__ void kiln_mse_backward(float* dx, const float* g, const float* x, const float* t, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) dx[i] = g[i] * 2.0f * (x[i] - t[i]);
      }

      // ---------------------------------------------------------------- max pooling

      // One thread per output element of x[planes, height, width] pooled to [planes, outH, outW]
      // (cpu.Pool2dShape's geometry). The window is clipped to the input (padding counts as minus
      // infinity) and read in row-major order, with ConvKernels.maxPool2dForward's rules: the
      // first maximum is recorded in argmax (its index ih * width + iw within the plane); a NaN
      // makes the value NaN, and the recorded element is then the largest one before the first
      // NaN (the NaN itself when it comes first).
      extern "C" __global__ void kiln_max_pool2d_forward(float* out, int* argmax, const float* x,
          int planes, int height, int width, int outH, int outW,
          int kernelH, int kernelW, int strideH, int strideW, int padH, int padW) {
        long long thread = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (thread >= (long long) planes * outH * outW) return;
        int o = (int) thread;
        int ow = o % outW;
        int oh = o / outW % outH;
        int plane = o / (outW * outH);
        int hLo = max(oh * strideH - padH, 0), hHi = min(oh * strideH - padH + kernelH, height);
        int wLo = max(ow * strideW - padW, 0), wHi = min(ow * strideW - padW + kernelW, width);
        const float* xp = x + (long long) plane * height * width;
        float m = kiln_neg_inf();
        int best = hLo * width + wLo;
        for (int ih = hLo; ih < hHi; ih++) {
          for (int iw = wLo; iw < wHi; iw++) {
            int at = ih * width + iw;
            float v = xp[at];
            best = v > m ? at : best;
            // Java's Math.max: a NaN, once seen, stays; +0 wins over -0
            m = (v > m || v != v || (__float_as_int(v) == 0 && m == 0.0f)) ? v : m;
          }
        }
        out[o] = m;
        argmax[o] = best;
      }

      // Gradient of max pooling: each output's gradient is added at its recorded maximum, into a
      // dx the caller has zeroed. Atomic, since overlapping windows may share a maximum.
      extern "C" __global__ void kiln_max_pool2d_backward(
          float* dx, const float* g, const int* argmax, int planeIn, int planeOut, long long n) {
        long long o = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (o < n) atomicAdd(dx + (long long) ((int) o / planeOut) * planeIn + argmax[o], g[o]);
      }

      // ---------------------------------------------------------------- average pooling

      // The window of output o along one axis of size in (cpu.AvgPool2dShape's rules): adaptive,
      // [floor(o in / out), ceil((o + 1) in / out)); else kernel k every s from -p, cut at in + p,
      // then clipped to the input, its divisor factor counting the padding when includePad.
      __device__ __forceinline__ void kiln_avg_window(int o, int in, int out, int k, int s, int p, int includePad,
          int adaptive, int* lo, int* hi, int* count) {
        if (adaptive) {
          *lo = (int) (((long long) o * in) / out);
          *hi = (int) (((long long) (o + 1) * in + out - 1) / out);
          *count = *hi - *lo;
          return;
        }
        int st = o * s - p;
        int e = min(st + k, in + p);
        *lo = max(st, 0);
        *hi = min(e, in);
        *count = includePad ? e - st : *hi - *lo;
      }

      // v divided by a window's size: by the two factors in turn when adaptive (PyTorch's rounding).
      __device__ __forceinline__ float kiln_avg_divide(float v, int rc, int cc, int adaptive) {
        return adaptive ? v / (float) rc / (float) cc : v / (float) (rc * cc);
      }

      // One thread per output of x[planes, height, width] averaged to [planes, outH, outW], summing
      // in row-major order in double as the CPU kernel.
      extern "C" __global__ void kiln_avg_pool2d_forward(float* out, const float* x, int planes, int height, int width,
          int outH, int outW, int kernelH, int kernelW, int strideH, int strideW, int padH, int padW, int includePad,
          int adaptive) {
        long long thread = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (thread >= (long long) planes * outH * outW) return;
        int o = (int) thread;
        int ow = o % outW;
        int oh = o / outW % outH;
        int plane = o / (outW * outH);
        int hLo, hHi, hc, wLo, wHi, wc;
        kiln_avg_window(oh, height, outH, kernelH, strideH, padH, includePad, adaptive, &hLo, &hHi, &hc);
        kiln_avg_window(ow, width, outW, kernelW, strideW, padW, includePad, adaptive, &wLo, &wHi, &wc);
        const float* xp = x + (long long) plane * height * width;
        double sum = 0.0;
        for (int ih = hLo; ih < hHi; ih++) {
          for (int iw = wLo; iw < wHi; iw++) {
            sum = __dadd_rn(sum, (double) xp[ih * width + iw]);
          }
        }
        out[o] = kiln_avg_divide((float) sum, hc, wc, adaptive);
      }

      // Gradient of average pooling, one thread per input element gathering the shares of the
      // outputs whose windows hold it, in the order the CPU kernel adds them (deterministic, no
      // atomics); dx is overwritten.
      extern "C" __global__ void kiln_avg_pool2d_backward(float* dx, const float* g, int planes, int height, int width,
          int outH, int outW, int kernelH, int kernelW, int strideH, int strideW, int padH, int padW, int includePad,
          int adaptive) {
        long long thread = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (thread >= (long long) planes * height * width) return;
        int i = (int) thread;
        int iw = i % width;
        int ih = i / width % height;
        int plane = i / (width * height);
        // candidate outputs along each axis, then each checked against its window
        int ohLo, ohHi, owLo, owHi;
        if (adaptive) {
          ohLo = max((int) (((long long) ih * outH) / height) - 1, 0);
          ohHi = min((int) (((long long) (ih + 1) * outH) / height) + 1, outH - 1);
          owLo = max((int) (((long long) iw * outW) / width) - 1, 0);
          owHi = min((int) (((long long) (iw + 1) * outW) / width) + 1, outW - 1);
        } else {
          ohLo = max((ih + padH - kernelH) / strideH, 0);
          ohHi = min((ih + padH) / strideH, outH - 1);
          owLo = max((iw + padW - kernelW) / strideW, 0);
          owHi = min((iw + padW) / strideW, outW - 1);
        }
        const float* gp = g + (long long) plane * outH * outW;
        float sum = 0.0f;
        for (int oh = ohLo; oh <= ohHi; oh++) {
          int hLo, hHi, hc;
          kiln_avg_window(oh, height, outH, kernelH, strideH, padH, includePad, adaptive, &hLo, &hHi, &hc);
          if (ih < hLo || ih >= hHi) continue;
          for (int ow = owLo; ow <= owHi; ow++) {
            int wLo, wHi, wc;
            kiln_avg_window(ow, width, outW, kernelW, strideW, padW, includePad, adaptive, &wLo, &wHi, &wc);
            if (iw < wLo || iw >= wHi) continue;
            sum = __fadd_rn(sum, kiln_avg_divide(gp[oh * outW + ow], hc, wc, adaptive));
          }
        }
        dx[i] = sum;
      }
      """;

  private ElementwiseKernels() {}

  private static CudaKernel kernel(String name) {
    return CudaModule.of("kiln_elementwise.cu", SOURCE).kernel(name);
  }

  private static void require(boolean ok, String function, String what) {
    if (!ok) {
      throw new IllegalArgumentException(function + ": " + what);
    }
  }

  private static void requireCount(String function, long n) {
    require(n >= 0 && n <= Integer.MAX_VALUE, function, "element count " + n + " is outside 0.." + Integer.MAX_VALUE);
  }

  private static void requireDims(String function, int... dims) {
    for (int d : dims) {
      require(d >= 0, function, "negative size " + d + " in " + java.util.Arrays.toString(dims));
    }
  }

  /** {@code count} items of at most {@code perBlock} each: the number of blocks, checked to fit a grid. */
  private static int blocks(String function, long count, int perBlock) {
    long b = (count + perBlock - 1) / perBlock;
    require(b <= Integer.MAX_VALUE, function, count + " items is more than one launch covers");
    return (int) b;
  }

  // ------------------------------------------------------------------ activations

  /** {@code out = max(x, 0)}. */
  public static void reluForward(long out, long x, long n) {
    requireCount("relu_forward", n);
    kernel("kiln_relu_forward").launch1d(n, out, x, n);
  }

  /** {@code dx = y > 0 ? g : 0}, {@code y} the ReLU's output. */
  public static void reluBackward(long dx, long g, long y, long n) {
    requireCount("relu_backward", n);
    kernel("kiln_relu_backward").launch1d(n, dx, g, y, n);
  }

  /** {@code out = 1 / (1 + exp(-x))}. */
  public static void sigmoidForward(long out, long x, long n) {
    requireCount("sigmoid_forward", n);
    kernel("kiln_sigmoid_forward").launch1d(n, out, x, n);
  }

  /** {@code dx = g * y * (1 - y)}, {@code y} the sigmoid's output. */
  public static void sigmoidBackward(long dx, long g, long y, long n) {
    requireCount("sigmoid_backward", n);
    kernel("kiln_sigmoid_backward").launch1d(n, dx, g, y, n);
  }

  /** {@code out = tanh(x)}. */
  public static void tanhForward(long out, long x, long n) {
    requireCount("tanh_forward", n);
    kernel("kiln_tanh_forward").launch1d(n, out, x, n);
  }

  /** GELU, {@code out = x Phi(x)}. */
  public static void geluForward(long out, long x, long n) {
    requireCount("gelu_forward", n);
    kernel("kiln_gelu_forward").launch1d(n, out, x, n);
  }

  /** {@code dx = g (Phi(x) + x phi(x))}, from the input {@code x}. */
  public static void geluBackward(long dx, long g, long x, long n) {
    requireCount("gelu_backward", n);
    kernel("kiln_gelu_backward").launch1d(n, dx, g, x, n);
  }

  /** GELU's tanh approximation, {@code out = 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))}. */
  public static void geluTanhForward(long out, long x, long n) {
    requireCount("gelu_tanh_forward", n);
    kernel("kiln_gelu_tanh_forward").launch1d(n, out, x, n);
  }

  /** {@code dx = g} times the tanh form's derivative, from the input {@code x}. */
  public static void geluTanhBackward(long dx, long g, long x, long n) {
    requireCount("gelu_tanh_backward", n);
    kernel("kiln_gelu_tanh_backward").launch1d(n, dx, g, x, n);
  }

  /** SiLU, {@code out = x sigmoid(x)}. */
  public static void siluForward(long out, long x, long n) {
    requireCount("silu_forward", n);
    kernel("kiln_silu_forward").launch1d(n, out, x, n);
  }

  /** {@code dx = g s (1 + x (1 - s))}, {@code s = sigmoid(x)}, from the input {@code x}. */
  public static void siluBackward(long dx, long g, long x, long n) {
    requireCount("silu_backward", n);
    kernel("kiln_silu_backward").launch1d(n, dx, g, x, n);
  }

  /** {@code dx = g * (1 - y^2)}, {@code y} the tanh's output. */
  public static void tanhBackward(long dx, long g, long y, long n) {
    requireCount("tanh_backward", n);
    kernel("kiln_tanh_backward").launch1d(n, dx, g, y, n);
  }

  /** {@code out = x > 0 ? x : slope * x}. */
  public static void leakyReluForward(long out, long x, float slope, long n) {
    requireCount("leaky_relu_forward", n);
    kernel("kiln_leaky_relu_forward").launch1d(n, out, x, slope, n);
  }

  /** {@code dx = x > 0 ? g : slope * g}, from the input {@code x}. */
  public static void leakyReluBackward(long dx, long g, long x, float slope, long n) {
    requireCount("leaky_relu_backward", n);
    kernel("kiln_leaky_relu_backward").launch1d(n, dx, g, x, slope, n);
  }

  /** {@code out = min(max(x, lo), hi)}, NaN kept. */
  public static void clampForward(long out, long x, float lo, float hi, long n) {
    requireCount("clamp_forward", n);
    kernel("kiln_clamp_forward").launch1d(n, out, x, lo, hi, n);
  }

  /** {@code dx = lo <= x <= hi ? g : 0}, from the input {@code x}. */
  public static void clampBackward(long dx, long g, long x, float lo, float hi, long n) {
    requireCount("clamp_backward", n);
    kernel("kiln_clamp_backward").launch1d(n, dx, g, x, lo, hi, n);
  }

  // ------------------------------------------------------------------ arithmetic

  // ------------------------------------------------------------------ element-wise math

  /** {@code out = exp(x)}; the gradient is a {@link #mul} by the output. */
  public static void expForward(long out, long x, long n) {
    requireCount("exp_forward", n);
    kernel("kiln_exp_forward").launch1d(n, out, x, n);
  }

  /** {@code out = log(x)}. */
  public static void logForward(long out, long x, long n) {
    requireCount("log_forward", n);
    kernel("kiln_log_forward").launch1d(n, out, x, n);
  }

  /** {@code dx = g / x}. */
  public static void logBackward(long dx, long g, long x, long n) {
    requireCount("log_backward", n);
    kernel("kiln_log_backward").launch1d(n, dx, g, x, n);
  }

  /** {@code out = sin(x)}, in double. */
  public static void sinForward(long out, long x, long n) {
    requireCount("sin_forward", n);
    kernel("kiln_sin_forward").launch1d(n, out, x, n);
  }

  /** {@code dx = g cos(x)}. */
  public static void sinBackward(long dx, long g, long x, long n) {
    requireCount("sin_backward", n);
    kernel("kiln_sin_backward").launch1d(n, dx, g, x, n);
  }

  /** {@code out = cos(x)}, in double. */
  public static void cosForward(long out, long x, long n) {
    requireCount("cos_forward", n);
    kernel("kiln_cos_forward").launch1d(n, out, x, n);
  }

  /** {@code dx = -g sin(x)}. */
  public static void cosBackward(long dx, long g, long x, long n) {
    requireCount("cos_backward", n);
    kernel("kiln_cos_backward").launch1d(n, dx, g, x, n);
  }

  /** {@code out = sqrt(x)}, correctly rounded. */
  public static void sqrtForward(long out, long x, long n) {
    requireCount("sqrt_forward", n);
    kernel("kiln_sqrt_forward").launch1d(n, out, x, n);
  }

  /** {@code dx = g / (2 y)}, {@code y} the square root. */
  public static void sqrtBackward(long dx, long g, long y, long n) {
    requireCount("sqrt_backward", n);
    kernel("kiln_sqrt_backward").launch1d(n, dx, g, y, n);
  }

  /** {@code dx = g / (2 y)}, 0 where {@code y} is 0: the standard deviation's gradient (MathKernels.stdBackward). */
  public static void stdBackward(long dx, long g, long y, long n) {
    requireCount("std_backward", n);
    kernel("kiln_std_backward").launch1d(n, dx, g, y, n);
  }

  /** {@code out = |x|}. */
  public static void absForward(long out, long x, long n) {
    requireCount("abs_forward", n);
    kernel("kiln_abs_forward").launch1d(n, out, x, n);
  }

  /** {@code dx = g * sign(x)}, sign(0) = 0. */
  public static void absBackward(long dx, long g, long x, long n) {
    requireCount("abs_backward", n);
    kernel("kiln_abs_backward").launch1d(n, dx, g, x, n);
  }

  /** {@code out = -x}, also negation's backward. */
  public static void negate(long out, long x, long n) {
    requireCount("neg", n);
    kernel("kiln_neg").launch1d(n, out, x, n);
  }

  /** {@code out = x^e}. */
  public static void powForward(long out, long x, float e, long n) {
    requireCount("pow_forward", n);
    kernel("kiln_pow_forward").launch1d(n, out, x, e, n);
  }

  /** {@code dx = g * e * x^(e - 1)}, 0 for {@code e = 0}. */
  public static void powBackward(long dx, long g, long x, float e, long n) {
    requireCount("pow_backward", n);
    kernel("kiln_pow_backward").launch1d(n, dx, g, x, e, n);
  }

  /** {@code out[c, r] = x[r, c]} for a {@code rows x cols} matrix. */
  public static void transpose(long out, long x, int rows, int cols) {
    requireDims("transpose", rows, cols);
    long n = (long) rows * cols;
    requireCount("transpose", n);
    kernel("kiln_transpose").launch1d(n, out, x, rows, cols);
  }

  /** The highest rank {@link #permute} takes. */
  public static final int PERMUTE_RANK = 6;

  /**
   * {@code out} = {@code x} (of {@code shape}, row-major) with its dimensions reordered: dimension
   * {@code i} of out is x's {@code order[i]}, as {@code cpu.CpuKernels.permute}. At most
   * {@value #PERMUTE_RANK} dimensions.
   */
  public static void permute(long out, long x, int[] shape, int[] order) {
    int rank = shape.length;
    require(rank <= PERMUTE_RANK && order.length == rank, "permute",
        "shape " + java.util.Arrays.toString(shape) + " and order " + java.util.Arrays.toString(order) + ": at most " + PERMUTE_RANK + " dimensions, one order each");
    requireDims("permute", shape);
    long n = 1;
    for (int s : shape) {
      n *= s;
    }
    requireCount("permute", n);
    int[] xStride = new int[rank];
    for (int d = rank - 1, s = 1; d >= 0; d--) {
      xStride[d] = s;
      s *= Math.max(1, shape[d]); // n fits an int, so every stride does
    }
    Object[] args = new Object[3 + 2 * PERMUTE_RANK];
    args[0] = out;
    args[1] = x;
    args[2] = n;
    int lead = PERMUTE_RANK - rank;
    for (int i = 0; i < PERMUTE_RANK; i++) {
      args[3 + i] = i < lead ? 1 : shape[order[i - lead]];
      args[3 + PERMUTE_RANK + i] = i < lead ? 0 : xStride[order[i - lead]];
    }
    kernel("kiln_permute").launch1d(n, args);
  }

  /** The comparisons {@link #compare} knows, in its kernel's order. */
  public static final java.util.List<String> COMPARISONS = java.util.List.of("eq", "ne", "gt", "ge", "lt", "le");

  /**
   * {@code out[i] = a[i % na] OP b[i % nb] ? 1 : 0} for {@code n} outputs, {@code op} one of {@link
   * #COMPARISONS}: a comparison with each operand repeating over the output's leading dimensions.
   */
  public static void compare(long out, long a, long b, int na, int nb, String op, long n) {
    requireCount("compare", n);
    int code = COMPARISONS.indexOf(op);
    require(code >= 0, "compare", "unknown comparison " + op);
    require(na > 0 && nb > 0 && n % na == 0 && n % nb == 0 || n == 0, "compare",
        "operands of " + na + " and " + nb + " values do not repeat over " + n);
    kernel("kiln_compare").launch1d(n, out, a, b, na, nb, code, n);
  }

  /**
   * {@code out[i] = c[i % nc] != 0 ? a[i % na] : b[i % nb]} for {@code n} outputs: torch.where with
   * each operand repeating over the output's leading dimensions (a scalar is one value).
   */
  public static void where(long out, long c, long a, long b, int nc, int na, int nb, long n) {
    requireCount("where", n);
    require(n == 0 || nc > 0 && na > 0 && nb > 0 && n % nc == 0 && n % na == 0 && n % nb == 0, "where",
        "operands of " + nc + ", " + na + " and " + nb + " values do not repeat over " + n);
    kernel("kiln_where").launch1d(n, out, c, a, b, nc, na, nb, n);
  }

  /**
   * The gradient of {@link #where}'s {@code a} ({@code taken}) or {@code b} branch, {@code m} values:
   * {@code g} where the condition chose that branch, summed over the repeats: a thread a value in
   * index order in float (the CPU's bits), or, where {@link IndexKernels#lineGroup} gives the
   * {@code n / m} repeats more than a thread, a group of threads a value (to rounding).
   */
  public static void whereBackward(long dx, long g, long c, int nc, int m, boolean taken, long n) {
    requireCount("where_backward", n);
    require(m > 0 && nc > 0 && n % m == 0 && n % nc == 0 || n == 0 && m >= 0, "where_backward",
        "a branch of " + m + " values and a condition of " + nc + " do not repeat over " + n);
    int group = m == 0 ? 1 : IndexKernels.lineGroup(m, (int) (n / m), m);
    if (group > 1) {
      IndexKernels.launchLines(kernel("kiln_where_lines_backward"), m, group, dx, g, c, nc, m, taken ? 1 : 0, n, group);
      return;
    }
    kernel("kiln_where_backward").launch1d(m, dx, g, c, nc, m, taken ? 1 : 0, n);
  }

  /**
   * {@code out[o, i] = factor * sum_k x[o, k, i]} over {@code [outer, size, inner]}, added in double.
   * Short lines (where {@link IndexKernels#lineGroup} gives a thread a line) in the CPU's order
   * ({@code MathKernels.sumAlong}: eight interleaved accumulators over a row of {@code inner == 1},
   * index order down a column otherwise), so the two agree bit for bit; longer lines by a warp or a
   * block each ({@code kiln_sum_lines}), in a tree fixed by the sizes: the CPU's to rounding.
   */
  public static void sumAlong(long out, long x, int outer, int size, int inner, float factor) {
    requireDims("sum_along", outer, size, inner);
    long outputs = (long) outer * inner;
    requireCount("sum_along", outputs);
    int group = IndexKernels.lineGroup(outputs, size, inner);
    if (group > 1) {
      IndexKernels.launchLines(kernel("kiln_sum_lines"), outputs, group, out, x, size, inner, outputs, group, factor);
      return;
    }
    kernel("kiln_sum_along").launch1d(outputs, out, x, outer, size, inner, factor);
  }

  /** Runs {@link #varianceOver} takes: four reduced runs at most, between five kept ones. */
  public static final int VARIANCE_RUNS = 9;

  /**
   * The variance over reduced runs ({@code Shapes.reductionRuns}, at most {@value #VARIANCE_RUNS}), as the
   * CPU's {@code MathKernels.varianceOver}: per output two passes in double, {@code out} the sum of squared
   * differences over {@code divisor}, {@code mean} each output's mean. A thread an output in the CPU's order (so
   * the same bits) where {@link IndexKernels#lineGroup} gives an output's values a thread (few of them, or many
   * strided outputs); else a warp or a block an output ({@code kiln_variance_lines}: batch norm's statistics, C
   * outputs of N*H*W values), to rounding.
   */
  public static void varianceOver(long out, long mean, long x, int[] runs, int divisor) {
    int[] r = varianceRuns(runs);
    long outputs = (long) r[0] * r[2] * r[4] * r[6] * r[8];
    requireCount("variance_over", outputs);
    if (outputs == 0) {
      return;
    }
    long count = (long) r[1] * r[3] * r[5] * r[7];
    requireCount("variance_over", count);
    int group = IndexKernels.lineGroup(outputs, (int) count, r[8]); // r8: the stride of an output's innermost values
    if (group > 1) {
      IndexKernels.launchLines(kernel("kiln_variance_lines"), outputs, group, out, mean, x, outputs,
          r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], divisor, group);
      return;
    }
    kernel("kiln_variance_over").launch1d(outputs, out, mean, x, outputs, r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8],
        divisor);
  }

  /** {@code dx = (scale * g) * (x - mean)}, {@code g} and {@code mean} repeated over the reduced runs: {@link #varianceOver}'s gradient. */
  public static void varianceBackward(long dx, long g, long x, long mean, int[] runs, float scale) {
    int[] r = varianceRuns(runs);
    long n = 1;
    for (int v : r) {
      n *= v;
    }
    requireCount("variance_backward", n);
    if (n == 0) {
      return;
    }
    kernel("kiln_variance_backward").launch1d(n, dx, g, x, mean, n, r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], scale);
  }

  /** {@code runs} padded in front with runs of 1 to {@value #VARIANCE_RUNS} (one run reducing nothing: {@code [r, 1, 1]}). */
  private static int[] varianceRuns(int[] runs) {
    int[] given = runs.length == 1 ? new int[] {runs[0], 1, 1} : runs;
    require(given.length % 2 == 1 && given.length <= VARIANCE_RUNS, "variance_over",
        "runs " + java.util.Arrays.toString(runs) + ": an odd number, at most " + VARIANCE_RUNS);
    requireDims("variance_over", given);
    int[] r = new int[VARIANCE_RUNS];
    java.util.Arrays.fill(r, 1);
    System.arraycopy(given, 0, r, VARIANCE_RUNS - given.length, given.length);
    return r;
  }

  /** {@code dx[o, k, i] = factor * g[o, i]}, the gradient of {@link #sumAlong}. */
  public static void spreadAlong(long dx, long g, int outer, int size, int inner, float factor) {
    long n = (long) outer * size * inner;
    requireCount("spread_along", n);
    if (n == 0) {
      return;
    }
    kernel("kiln_spread_along").launch1d(n, dx, g, size, inner, factor, n);
  }

  /**
   * Inverted dropout over {@code n} values: writes the mask (0, or {@code keep} = 1 / (1 - p)) and
   * {@code out = x * mask}. Value {@code i} takes draw {@code i} of the block a {@code
   * dev.kiln.runtime.Generator} reserved at state {@code start}: the mask is the CPU's, bit for bit.
   */
  public static void dropout(long out, long mask, long x, long start, double p, float keep, long n) {
    requireCount("dropout", n);
    kernel("kiln_dropout").launch1d(n, out, mask, x, start, Double.doubleToRawLongBits(p), keep, n);
  }

  /** {@code out = a * b}, same shapes; also applies dropout's mask in the backward. */
  public static void mul(long out, long a, long b, long n) {
    requireCount("mul", n);
    kernel("kiln_mul").launch1d(n, out, a, b, n);
  }

  /** {@code out = a / b}, same shapes: a true quotient, rounded once. */
  public static void div(long out, long a, long b, long n) {
    requireCount("div", n);
    kernel("kiln_div").launch1d(n, out, a, b, n);
  }

  /**
   * The gradients of {@code y = a / b}, same shapes: {@code da = g / b} and {@code db = -g * (y / b)}
   * (the CPU's formulas); {@code da} or {@code db} may be 0 (not wanted).
   */
  public static void divBackward(long da, long db, long g, long b, long y, long n) {
    requireCount("div_backward", n);
    kernel("kiln_div_backward").launch1d(n, da, db, g, b, y, n);
  }

  /** {@code out[r, j] = a[r, j] + b[j]} for {@code a} seen as {@code [n / cols, cols]}. */
  public static void addRepeated(long out, long a, long b, int cols, long n) {
    requireRepeated("add_repeated", cols, n);
    kernel("kiln_add_repeated").launch1d(n, out, a, b, cols, n);
  }

  /** {@code out[r, j] = a[r, j] * b[j]} for {@code a} seen as {@code [n / cols, cols]}. */
  public static void mulRepeated(long out, long a, long b, int cols, long n) {
    requireRepeated("mul_repeated", cols, n);
    kernel("kiln_mul_repeated").launch1d(n, out, a, b, cols, n);
  }

  private static void requireRepeated(String function, int cols, long n) {
    requireCount(function, n);
    require(n == 0 || (cols > 0 && n % cols == 0), function, n + " elements are not whole rows of " + cols);
  }

  /** {@code out = x * s}. */
  public static void scale(long out, long x, float s, long n) {
    requireCount("scale", n);
    kernel("kiln_scale").launch1d(n, out, x, s, n);
  }

  /** {@code out[0..n) = g[0] * factor}: the gradient of a sum or mean of all elements. */
  public static void fillScaled(long out, long g, float factor, long n) {
    requireCount("fill_scaled", n);
    kernel("kiln_fill_scaled").launch1d(n, out, g, factor, n);
  }

  // ------------------------------------------------------------------ reductions

  /**
   * {@code out[0] = (float) (sum(x[0..n)) * factor)}, the sum accumulated in double in an order
   * that depends on {@code n} only: a first pass of up to {@value #SUM_BLOCKS} blocks, each adding
   * a grid-stride share, then one block adding their partial sums. {@code n = 0} gives 0.
   */
  public static void sum(long out, long x, long n, float factor) {
    requireCount("sum", n);
    int blocks = Math.max(1, Math.min(SUM_BLOCKS, blocks("sum", n, THREADS)));
    // Doubles, two floats each; back to the allocator's cache at once, which is safe because
    // every later use of the block is queued on the same stream after these two kernels.
    CudaBuffer partial = Cuda.get().allocate(2L * blocks);
    try {
      kernel("kiln_sum_partials").launch(blocks, 1, THREADS, 0, partial.address(), x, n);
      kernel("kiln_sum_finish").launch(1, 1, THREADS, 0, out, partial.address(), blocks, factor);
    } finally {
      partial.release();
    }
  }

  /**
   * Column sums {@code out[j] = sum_r x[r, j]} of {@code x[rows, cols]}: the gradient of a tensor
   * repeated over leading dimensions, reduced back to its own shape. Long columns are cut into
   * chunks of {@value #ROWS_PER_CHUNK} rows summed in parallel, then the chunks' sums are summed
   * the same way; the order of addition depends on the sizes only.
   */
  public static void sumRows(long out, long x, int rows, int cols) {
    requireDims("sum_rows", rows, cols);
    if (cols == 0) {
      return;
    }
    int columnBlocks = blocks("sum_rows", cols, 32);
    int chunks = Math.max(1, Math.min(65535, (rows + ROWS_PER_CHUNK - 1) / ROWS_PER_CHUNK));
    int rowsPerChunk = Math.max(1, (rows + chunks - 1) / chunks);
    CudaKernel k = kernel("kiln_sum_rows");
    if (chunks == 1) {
      k.launch(columnBlocks, 1, THREADS, 0, out, x, rows, cols, rowsPerChunk);
      return;
    }
    CudaBuffer partial = Cuda.get().allocate((long) chunks * cols);
    try {
      k.launch(columnBlocks, chunks, THREADS, 0, partial.address(), x, rows, cols, rowsPerChunk);
      sumRows(out, partial.address(), chunks, cols);
    } finally {
      partial.release(); // safe: later users of the block are queued after these kernels
    }
  }

  // ------------------------------------------------------------------ softmax and log-softmax

  /**
   * Softmax ({@code takeLog} false) or log-softmax along the middle dimension of {@code x} seen as
   * {@code [outer, size, inner]}: a warp per row when the dimension is the last one
   * ({@code inner = 1}), else a thread per {@code (outer, inner)} pair; a long row, or long strided
   * lines, a group of threads each ({@link IndexKernels#softmaxByLines}).
   */
  public static void softmaxForward(long y, long x, int outer, int size, int inner, boolean takeLog) {
    String function = takeLog ? "log_softmax_forward" : "softmax_forward";
    requireDims(function, outer, size, inner);
    if ((long) outer * size * inner == 0) {
      return;
    }
    if (IndexKernels.softmaxByLines(outer, size, inner)) { // a long row, or long strided lines: a group of threads a line
      IndexKernels.softmaxLinesForward(y, x, outer, size, inner, takeLog);
    } else if (inner == 1) {
      kernel("kiln_softmax_rows_forward").launch(blocks(function, outer, ROWS_PER_BLOCK), 1, THREADS, 0, y, x, outer, size, takeLog ? 1 : 0);
    } else {
      kernel("kiln_softmax_strided_forward").launch1d((long) outer * inner, y, x, outer, size, inner, takeLog ? 1 : 0);
    }
  }

  /**
   * Gradient of {@link #softmaxForward} from its output {@code y}: {@code dx = y * (g - sum(g * y))},
   * or for the log-softmax {@code dx = g - exp(y) * sum(g)}, sums along the dimension.
   */
  public static void softmaxBackward(long dx, long g, long y, int outer, int size, int inner, boolean takeLog) {
    String function = takeLog ? "log_softmax_backward" : "softmax_backward";
    requireDims(function, outer, size, inner);
    if ((long) outer * size * inner == 0) {
      return;
    }
    if (IndexKernels.softmaxByLines(outer, size, inner)) {
      IndexKernels.softmaxLinesBackward(dx, g, y, outer, size, inner, takeLog);
    } else if (inner == 1) {
      kernel("kiln_softmax_rows_backward").launch(blocks(function, outer, ROWS_PER_BLOCK), 1, THREADS, 0, dx, g, y, outer, size, takeLog ? 1 : 0);
    } else {
      kernel("kiln_softmax_strided_backward").launch1d((long) outer * inner, dx, g, y, outer, size, inner, takeLog ? 1 : 0);
    }
  }

  // ------------------------------------------------------------------ losses

  /**
   * Cross-entropy per row of {@code logits[rows, classes]}: writes the softmax into
   * {@code probs[rows, classes]} and each row's loss into {@code losses[rows]}: a warp a row, or a
   * block a row of {@value IndexKernels#BLOCK_LINE} classes or more ({@link IndexKernels#lineGroup}).
   * The targets, class indices stored as floats, must have been checked on the host: the kernel reads
   * {@code logits[r, (int) target[r]]} unchecked.
   */
  public static void crossEntropyForward(long losses, long probs, long logits, long targets, int rows, int classes) {
    requireDims("cross_entropy_forward", rows, classes);
    require(rows == 0 || classes > 0, "cross_entropy_forward", rows + " rows of 0 classes have no loss");
    if (rows == 0) {
      return;
    }
    int group = IndexKernels.lineGroup(rows, classes, 1);
    if (group == IndexKernels.THREADS) { // a long row: a block, LINE_REDUCE's
      IndexKernels.launchLines(kernel("kiln_cross_entropy_lines_forward"), rows, group, losses, probs, logits, targets, rows,
          classes, group);
      return;
    }
    kernel("kiln_cross_entropy_forward").launch(blocks("cross_entropy_forward", rows, ROWS_PER_BLOCK), 1, THREADS, 0,
        losses, probs, logits, targets, rows, classes);
  }

  /**
   * {@code dlogits = (probs - onehot(target)) * s[r]} with {@code s[r] = scale[r * scaleStride] * factor}:
   * stride 1 and factor 1 for per-sample gradients, stride 0 for one gradient shared by every row
   * (a mean, {@code factor = 1 / rows}, or a sum).
   */
  public static void crossEntropyBackward(long dlogits, long probs, long targets, long scale, int scaleStride, float factor,
      int rows, int classes) {
    requireDims("cross_entropy_backward", rows, classes);
    require(scaleStride == 0 || scaleStride == 1, "cross_entropy_backward", "scale stride " + scaleStride + " is not 0 or 1");
    long n = (long) rows * classes;
    requireCount("cross_entropy_backward", n);
    kernel("kiln_cross_entropy_backward").launch1d(n, dlogits, probs, targets, scale, scaleStride, factor, classes, n);
  }

  /** {@code out = |x - t|}. */
  public static void l1Forward(long out, long x, long t, long n) {
    requireCount("l1_forward", n);
    kernel("kiln_l1_forward").launch1d(n, out, x, t, n);
  }

  /** {@code dx = g * sign(x - t)}; the target's gradient is {@code -dx}. */
  public static void l1Backward(long dx, long g, long x, long t, long n) {
    requireCount("l1_backward", n);
    kernel("kiln_l1_backward").launch1d(n, dx, g, x, t, n);
  }

  /** {@code out = (x - t)^2}. */
  public static void mseForward(long out, long x, long t, long n) {
    requireCount("mse_forward", n);
    kernel("kiln_mse_forward").launch1d(n, out, x, t, n);
  }

  /** {@code dx = g * 2 * (x - t)}; the target's gradient is {@code -dx}. */
  public static void mseBackward(long dx, long g, long x, long t, long n) {
    requireCount("mse_backward", n);
    kernel("kiln_mse_backward").launch1d(n, dx, g, x, t, n);
  }

  // ------------------------------------------------------------------ max pooling

  /**
   * Max pooling of {@code x[planes, height, width]} (planes = batch * channels) into
   * {@code out[planes, outH, outW]}, recording in {@code argmax} (an int buffer of as many
   * entries) each maximum's index {@code ih * width + iw} within its plane. The geometry is
   * {@code cpu.Pool2dShape}'s, which the caller has built and so checked; the tie and NaN rules are
   * {@code cpu.ConvKernels.maxPool2dForward}'s.
   */
  public static void maxPool2dForward(long out, long argmax, long x, int planes, int height, int width, int outH, int outW,
      int kernelH, int kernelW, int strideH, int strideW, int padH, int padW) {
    requireDims("max_pool2d_forward", planes, height, width, outH, outW, padH, padW);
    require(kernelH > 0 && kernelW > 0 && strideH > 0 && strideW > 0, "max_pool2d_forward",
        "kernel " + kernelH + "x" + kernelW + " and stride " + strideH + "x" + strideW + " must be positive");
    long n = (long) planes * outH * outW;
    requireCount("max_pool2d_forward", n);
    requireCount("max_pool2d_forward", (long) planes * height * width);
    kernel("kiln_max_pool2d_forward").launch1d(n, out, argmax, x, planes, height, width, outH, outW,
        kernelH, kernelW, strideH, strideW, padH, padW);
  }

  /**
   * Average pooling of {@code x[planes, height, width]} to {@code out[planes, outH, outW]} with the
   * windows of {@code shape} ({@code cpu.AvgPool2dShape}, which the caller built and so checked).
   */
  public static void avgPool2dForward(long out, long x, int planes, AvgPool2dShape shape) {
    avgPool2d("kiln_avg_pool2d_forward", out, x, planes, shape, (long) planes * shape.outHeight() * shape.outWidth());
  }

  /** Gradient of {@link #avgPool2dForward}: {@code dx[planes, height, width]} (overwritten) from {@code g}. */
  public static void avgPool2dBackward(long dx, long g, int planes, AvgPool2dShape shape) {
    avgPool2d("kiln_avg_pool2d_backward", dx, g, planes, shape, (long) planes * shape.height() * shape.width());
  }

  private static void avgPool2d(String name, long to, long from, int planes, AvgPool2dShape s, long threads) {
    requireDims(name, planes, s.height(), s.width(), s.outHeight(), s.outWidth());
    requireCount(name, (long) planes * s.height() * s.width());
    requireCount(name, (long) planes * s.outHeight() * s.outWidth());
    int[] w = s.window();
    kernel(name).launch1d(threads, to, from, planes, s.height(), s.width(), s.outHeight(), s.outWidth(),
        w[0], w[1], w[2], w[3], w[4], w[5], s.countIncludePad() ? 1 : 0, s.adaptive() ? 1 : 0);
  }

  /**
   * Gradient of {@link #maxPool2dForward}: {@code g[planes, outH, outW]} added at the recorded
   * maxima of {@code dx[planes, planeIn]}, which the caller has zeroed.
   */
  public static void maxPool2dBackward(long dx, long g, long argmax, int planes, int planeIn, int planeOut) {
    requireDims("max_pool2d_backward", planes, planeIn, planeOut);
    long n = (long) planes * planeOut;
    requireCount("max_pool2d_backward", n);
    kernel("kiln_max_pool2d_backward").launch1d(n, dx, g, argmax, planeIn, planeOut, n);
  }
}
