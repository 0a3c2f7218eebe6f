package dev.kiln.runtime.cuda;

import java.lang.ref.Reference;

/**
 * Index maps and line kernels on the GPU: the CUDA twins of {@code cpu.IndexKernels} (constant
 * padding and flipping as one coordinate map; running sums, log-sum-exp and p-norms along one
 * dimension of {@code [outer, size, inner]}), with the same formulas in double, so that the two
 * backends agree to float rounding (the index map, and the running sums where a thread scans a
 * line, bit for bit). The running sums run one thread per
 * line (a sequential scan, in the CPU's order), a long line a block (stretches scanned in shared
 * memory); log-sum-exp and the norms reduce a line with a group of threads ({@link
 * #LINE_REDUCE}: a block for a long line, a warp or a thread for a short one); the backward passes
 * one thread per element.
 */
public final class IndexKernels {
  private IndexKernels() {}

  /** Threads per block of the line reductions ({@link #LINE_REDUCE}): the source assumes 256. */
  static final int THREADS = 256;
  /** A line at least this long is reduced by a whole block of {@value #THREADS} threads. */
  static final int BLOCK_LINE = 1024;
  /** A line at least this long (and shorter than {@link #BLOCK_LINE}) is reduced by a warp. */
  static final int WARP_LINE = 32;
  /** From this many strided lines on, a thread per line: adjacent threads read adjacent values. */
  static final long MANY_STRIDED_LINES = 16384;

  /**
   * CUDA C of the line reductions, shared by the index, sort and element-wise families: {@code kiln_line_here},
   * {@code kiln_line_base}, {@code kiln_group_reduce} (a sum or a maximum) and {@code kiln_line_exp_sum} (softmax's
   * and cross-entropy's maximum and sum of exponentials). A line of {@code x}
   * seen as {@code [outer, size, inner]} is reduced by a group of 1, 32 or 256 threads ({@link
   * #lineGroup}), {@code 256 / group} lines to a block; the group's partial results meet in shared
   * memory in a tree fixed by the group (for 256, {@code BatchNormKernels.BLOCK_SUM}'s tree), so a
   * result repeats bit for bit from run to run, and, the sums being in double, agrees with the
   * CPU's one-thread order to float rounding.
   */
  public static final String LINE_REDUCE = """
      // Line l of x seen as [outer, size, inner] is x[o, :, i] (l = o * inner + i), its values inner apart. A group of
      // `group` threads (1, 32 or 256, a power of two; IndexKernels.lineGroup) takes a line, 256 / group lines a block of
      // 256; lane k of the group takes the line's values k, k + group, ... The reductions synchronise the block: every
      // thread calls them, one past the last line with the identity.
      __device__ __forceinline__ long long kiln_line_base(long long line, int size, int inner) {
        return (line / inner) * size * inner + line % inner;
      }

      // The calling thread's line, its lane in the line's group, whether the line exists, and the offset of the line's
      // first value (0 past the last line).
      struct kiln_line_t { long long line; int lane; bool live; long long base; };

      __device__ __forceinline__ kiln_line_t kiln_line_here(int group, int size, int inner, long long lines) {
        kiln_line_t t;
        t.line = (long long) blockIdx.x * (blockDim.x / group) + threadIdx.x / group;
        t.lane = threadIdx.x & (group - 1);
        t.live = t.line < lines;
        t.base = t.live ? kiln_line_base(t.line, size, inner) : 0;
        return t;
      }

      // The sum of the group's v (max 0) or their maximum (max 1; NaN when any v is), in every thread of the group: a
      // tree in shared memory (red, double[256]) fixed by the group, for a sum of 256 kiln_block_sum's.
      __device__ double kiln_group_reduce(double v, double* red, int group, int max) {
        int lane = threadIdx.x & (group - 1);
        red[threadIdx.x] = v;
        __syncthreads();
        for (int s = group >> 1; s > 0; s >>= 1) {
          if (lane < s) {
            double a = red[threadIdx.x], b = red[threadIdx.x + s];
            red[threadIdx.x] = !max ? a + b : a != a ? a : (b != b || b > a) ? b : a;
          }
          __syncthreads();
        }
        double r = red[threadIdx.x - lane];
        __syncthreads();
        return r;
      }

      // Softmax's statistics of the calling group's line (values v[j * inner]): its maximum (fmaxf's within a lane, then
      // the tree's) into *max, and the sum of expf(v - max) in double, returned; in every thread of the group. Shared by
      // the softmax and cross-entropy line kernels.
      __device__ double kiln_line_exp_sum(const float* v, kiln_line_t here, int size, int inner, int group, double* red,
          float* max) {
        float m = __int_as_float(0xff800000);
        for (int j = here.lane; here.live && j < size; j += group) m = fmaxf(m, v[(long long) j * inner]);
        m = (float) kiln_group_reduce(m, red, group, 1);
        double sd = 0.0;
        for (int j = here.lane; here.live && j < size; j += group) sd += expf(v[(long long) j * inner] - m);
        *max = m;
        return kiln_group_reduce(sd, red, group, 0);
      }
      """;

  /** The CUDA C source, public so that a test can compile it without a GPU. */
  public static final String SOURCE = LINE_REDUCE + """
      // The index map: table holds 5 ints per dimension (outSize, srcSize, flip, offset < 0, |offset|);
      // output coordinate c reads source coordinate (flip ? -c : c) + offset, fill outside the source.
      extern "C" __global__ void kiln_index_map(float* out, const float* x, const int* table, int rank, float fill, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i >= n) return;
        int rest = (int) i;
        long long src = 0, stride = 1;
        bool inside = true;
        for (int d = rank - 1; d >= 0; d--) {
          const int* t = table + 5 * d;
          int c = rest % t[0];
          rest /= t[0];
          long long offset = t[3] ? -(long long) t[4] : (long long) t[4];
          long long s = (t[2] ? -(long long) c : (long long) c) + offset;
          inside = inside && s >= 0 && s < t[1];
          src += s * stride;
          stride *= t[1];
        }
        out[i] = inside ? x[src] : fill;
      }

      // roll: table holds 2 ints per dimension (size, shift in [0, size)); output coordinate c reads source
      // coordinate (c - shift) mod size; fromZero adds the value to +0 (a gradient: the CPU adds into zeros, -0 gives 0)
      extern "C" __global__ void kiln_roll(float* out, const float* x, const int* table, int rank, int fromZero, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i >= n) return;
        long long rest = i, src = 0, stride = 1;
        for (int d = rank - 1; d >= 0; d--) {
          long long size = table[2 * d], c = rest % size;
          rest /= size;
          src += (c >= table[2 * d + 1] ? c - table[2 * d + 1] : c - table[2 * d + 1] + size) * stride;
          stride *= size;
        }
        out[i] = fromZero ? __fadd_rn(0.0f, x[src]) : x[src];
      }

      // Running sums along the middle of [outer, size, inner], one thread per line, in double, each
      // rounded once; from the end when reverse (the gradient).
      extern "C" __global__ void kiln_cumsum(float* out, const float* x, int size, int inner, int reverse, long long lines) {
        long long l = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (l >= lines) return;
        int line = (int) l;
        int o = line / inner, i = line - o * inner;
        long long base = (long long) o * size * inner + i;
        double acc = 0.0;
        for (int step = 0; step < size; step++) {
          long long at = base + (long long) (reverse ? size - 1 - step : step) * inner;
          acc += (double) x[at];
          out[at] = (float) acc;
        }
      }

      // Running sums of a long line (LINE_REDUCE's group of 256), a block a line: thread t adds the line's t-th stretch of
      // ceil(size / 256) values (in the scan's direction) in double, the stretches' sums are scanned in shared memory
      // (a fixed tree: each thread's total of the stretches before its own), then each thread writes its stretch's
      // running sums from there. The same double sums as kiln_cumsum's, grouped otherwise: the floats agree to
      // rounding (almost always bit for bit) and repeat from run to run.
      extern "C" __global__ void kiln_cumsum_block(float* out, const float* x, int size, int inner, int reverse) {
        __shared__ double red[256];
        long long base = kiln_line_base(blockIdx.x, size, inner);
        int per = (size + 255) / 256, from = min(size, (int) threadIdx.x * per), to = min(size, from + per);
        double part = 0.0;
        for (int s = from; s < to; s++) part += (double) x[base + (long long) (reverse ? size - 1 - s : s) * inner];
        red[threadIdx.x] = part;
        __syncthreads();
        for (int off = 1; off < 256; off <<= 1) {
          double add = threadIdx.x >= off ? red[threadIdx.x - off] : 0.0;
          __syncthreads();
          red[threadIdx.x] += add;
          __syncthreads();
        }
        double acc = threadIdx.x == 0 ? 0.0 : red[threadIdx.x - 1];
        for (int s = from; s < to; s++) {
          long long at = base + (long long) (reverse ? size - 1 - s : s) * inner;
          acc += (double) x[at];
          out[at] = (float) acc;
        }
      }

      // log(sum exp(x - m)) + m along a line, m its maximum (0 in its place when infinite), NaN for a line holding one;
      // `group` threads a line (LINE_REDUCE)
      extern "C" __global__ void kiln_logsumexp_forward(float* out, const float* x, int size, int inner, long long lines, int group) {
        __shared__ double red[256];
        kiln_line_t here = kiln_line_here(group, size, inner, lines);
        const float* v = x + here.base;
        double m = (double) __int_as_float(0xff800000);
        for (int j = here.lane; here.live && j < size; j += group) {
          double e = v[(long long) j * inner];
          m = (e > m || e != e) ? e : m;
          if (e != e) break;
        }
        m = kiln_group_reduce(m, red, group, 1);
        double shift = fabs(m) == (double) __int_as_float(0x7f800000) ? 0.0 : m; // an infinite maximum shifts by 0
        double sum = 0.0;
        for (int j = here.lane; here.live && j < size; j += group) sum += exp((double) v[(long long) j * inner] - shift);
        sum = kiln_group_reduce(sum, red, group, 0);
        if (here.live && here.lane == 0) out[here.line] = (float) (log(sum) + shift);
      }

      // Softmax (takeLog 0) or log-softmax of each line, `group` threads a line (LINE_REDUCE): the long rows and long
      // strided lines that ElementwiseKernels' warp per row and thread per strided line would leave to too few
      // threads. kiln_softmax_rows_forward's formulas: y = exp(x - m) / sum or (x - m) - log(sum), the sum in double,
      // m the maximum as fmaxf's.
      extern "C" __global__ void kiln_softmax_lines_forward(float* y, const float* x, int size, int inner, long long lines,
          int group, int takeLog) {
        __shared__ double red[256];
        kiln_line_t here = kiln_line_here(group, size, inner, lines);
        float m;
        double sd = kiln_line_exp_sum(x + here.base, here, size, inner, group, red, &m);
        float s = (float) sd, ls = (float) log(sd);
        for (int j = here.lane; here.live && j < size; j += group) {
          long long at = here.base + (long long) j * inner;
          y[at] = takeLog ? (x[at] - m) - ls : expf(x[at] - m) / s;
        }
      }

      // Its gradient from the output y, kiln_softmax_rows_backward's formulas: dx = y (g - sum(g y)), or for the
      // log-softmax g - exp(y) sum(g).
      extern "C" __global__ void kiln_softmax_lines_backward(float* dx, const float* g, const float* y, int size, int inner,
          long long lines, int group, int takeLog) {
        __shared__ double red[256];
        kiln_line_t here = kiln_line_here(group, size, inner, lines);
        double sd = 0.0;
        for (int j = here.lane; here.live && j < size; j += group) {
          long long at = here.base + (long long) j * inner;
          sd += takeLog ? g[at] : (double) g[at] * y[at];
        }
        float s = (float) kiln_group_reduce(sd, red, group, 0);
        for (int j = here.lane; here.live && j < size; j += group) {
          long long at = here.base + (long long) j * inner;
          dx[at] = takeLog ? g[at] - expf(y[at]) * s : y[at] * (g[at] - s);
        }
      }

      // dx = g exp(x - y), g and y one per line
      extern "C" __global__ void kiln_logsumexp_backward(float* dx, const float* g, const float* x, const float* y,
          int size, int inner, long long n) {
        long long k = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (k >= n) return;
        int e = (int) k;
        int line = (e / (size * inner)) * inner + e % inner;
        dx[k] = (float) ((double) g[line] * exp((double) x[k] - (double) y[line]));
      }

      // (sum |x|^p)^(1/p) along a line, in double (p = 1 and 2 without a power); p a float, as the host's; `group` threads
      // a line (LINE_REDUCE)
      extern "C" __global__ void kiln_norm_forward(float* out, const float* x, float p, int size, int inner, long long lines,
          int group) {
        __shared__ double red[256];
        kiln_line_t here = kiln_line_here(group, size, inner, lines);
        const float* v = x + here.base;
        double sum = 0.0;
        for (int j = here.lane; here.live && j < size; j += group) {
          double a = fabs((double) v[(long long) j * inner]);
          sum += p == 2.0f ? a * a : p == 1.0f ? a : pow(a, (double) p);
        }
        sum = kiln_group_reduce(sum, red, group, 0);
        if (here.live && here.lane == 0) out[here.line] = (float) (p == 2.0f ? sqrt(sum) : p == 1.0f ? sum : pow(sum, 1.0 / (double) p));
      }

      // dx = g sign(x) (|x| / y)^(p - 1), 0 where x or the norm y is 0
      extern "C" __global__ void kiln_norm_backward(float* dx, const float* g, const float* x, const float* y, float p,
          int size, int inner, long long n) {
        long long k = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (k >= n) return;
        int e = (int) k;
        int line = (e / (size * inner)) * inner + e % inner;
        double v = x[k], norm = y[line], gv = g[line];
        double s = v > 0.0 ? 1.0 : v < 0.0 ? -1.0 : v;
        dx[k] = (float) (v == 0.0 || norm == 0.0 ? 0.0
            : p == 2.0f ? gv * v / norm : p == 1.0f ? gv * s : gv * s * pow(fabs(v) / norm, (double) p - 1.0));
      }

      // The product along the middle of [outer, size, inner], one thread per line, in double in index
      // order, rounded once (cpu.IndexKernels.prodForward's order: the same bits); 1 for an empty line.
      extern "C" __global__ void kiln_prod_forward(float* out, const float* x, int size, int inner, long long lines) {
        long long l = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (l >= lines) return;
        const float* v = x + (long long) ((int) l / inner) * size * inner + (int) l % inner;
        double p = 1.0;
        for (int j = 0; j < size; j++) p *= (double) v[(long long) j * inner];
        out[l] = (float) p;
      }

      // dx = g times the product of the line's other values: g p / x with p the line's product when it
      // holds no zero; at a line's only zero the product of its nonzero values, else 0 (PyTorch's rule).
      extern "C" __global__ void kiln_prod_backward(float* dx, const float* g, const float* x, int size, int inner,
          long long lines) {
        long long l = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (l >= lines) return;
        long long base = (long long) ((int) l / inner) * size * inner + (int) l % inner;
        double p = 1.0;
        int zeros = 0;
        for (int j = 0; j < size; j++) {
          double v = x[base + (long long) j * inner];
          if (v == 0.0) zeros++; else p *= v;
        }
        double gv = g[l];
        for (int j = 0; j < size; j++) {
          long long at = base + (long long) j * inner;
          double v = x[at];
          dx[at] = (float) (zeros == 0 ? gv * p / v : zeros == 1 && v == 0.0 ? gv * p : 0.0);
        }
      }
      """;

  /**
   * {@code out} of {@code outShape} from {@code x} of {@code srcShape} through the map of {@code
   * cpu.IndexKernels.indexMap} (same arguments), one small table upload per call.
   */
  public static void indexMap(long out, long x, int[] outShape, int[] srcShape, boolean[] flip, long[] offset, float fill) {
    int rank = outShape.length;
    long n = 1;
    int[] table = new int[Math.max(5 * rank, 1)];
    for (int d = 0; d < rank; d++) {
      n *= outShape[d];
      long magnitude = Math.abs(offset[d]);
      if (magnitude >= 0x7f800000L) {
        throw new IllegalArgumentException("kiln_index_map: offset " + offset[d] + " of dimension " + d + " is too large");
      }
      table[5 * d] = outShape[d];
      table[5 * d + 1] = srcShape[d];
      table[5 * d + 2] = flip[d] ? 1 : 0;
      table[5 * d + 3] = offset[d] < 0 ? 1 : 0;
      table[5 * d + 4] = (int) magnitude;
    }
    if (n == 0) {
      return;
    }
    CudaBuffer t = EmbeddingKernels.uploadIndices(table);
    kernel("kiln_index_map").launch1d(n, out, x, t.address(), rank, fill, n);
    Reference.reachabilityFence(t);
  }

  /**
   * {@code out} = x of {@code shape} with each dimension rotated by {@code shifts[d]} places (in {@code [0, size)}): the
   * value at coordinate c moves to c + shift, wrapping around (PyTorch's {@code roll}); with {@code fromZero} each value
   * is added to +0, as a gradient the CPU adds into zeros. One small table upload per call.
   */
  public static void roll(long out, long x, int[] shape, int[] shifts, boolean fromZero) {
    int rank = shape.length;
    long n = 1;
    int[] table = new int[Math.max(2 * rank, 1)];
    for (int d = 0; d < rank; d++) {
      n *= shape[d];
      table[2 * d] = shape[d];
      table[2 * d + 1] = shifts[d];
    }
    if (n == 0) {
      return;
    }
    CudaBuffer t = EmbeddingKernels.uploadIndices(table);
    kernel("kiln_roll").launch1d(n, out, x, t.address(), rank, fromZero ? 1 : 0, n);
    Reference.reachabilityFence(t);
  }

  /**
   * Running sums along the middle of {@code [outer, size, inner]}, from the end when {@code reverse}:
   * a thread a line in the CPU's order (bit for bit), or a block scanning a long line ({@link #lineGroup}
   * of {@value #THREADS}; to rounding).
   */
  public static void cumsum(long out, long x, int outer, int size, int inner, boolean reverse) {
    long lines = (long) outer * inner;
    if (size > 0 && lineGroup(lines, size, inner) == THREADS) { // a long line: a block scans it
      if (lines > Integer.MAX_VALUE) {
        throw new IllegalArgumentException("kiln_cumsum_block: " + lines + " lines is more than one launch covers");
      }
      kernel("kiln_cumsum_block").launch((int) lines, 1, THREADS, 0, out, x, size, inner, reverse ? 1 : 0);
      return;
    }
    kernel("kiln_cumsum").launch1d(size == 0 ? 0 : lines, out, x, size, inner, reverse ? 1 : 0, lines);
  }

  /** {@code out[o, i] = prod_j x[o, j, i]}, a thread a line (the CPU's order and bits). */
  public static void prodForward(long out, long x, int outer, int size, int inner) {
    long lines = (long) outer * inner;
    kernel("kiln_prod_forward").launch1d(lines, out, x, size, inner, lines);
  }

  /** The product's gradient along the line (see the kernel), a thread a line. */
  public static void prodBackward(long dx, long g, long x, int outer, int size, int inner) {
    long lines = (long) outer * inner;
    kernel("kiln_prod_backward").launch1d(size == 0 ? 0 : lines, dx, g, x, size, inner, lines);
  }

  /** {@code out[o, i] = logsumexp(x[o, :, i])}. */
  public static void logsumexpForward(long out, long x, int outer, int size, int inner) {
    long lines = (long) outer * inner;
    int group = lineGroup(lines, size, inner);
    launchLines(kernel("kiln_logsumexp_forward"), lines, group, out, x, size, inner, lines, group);
  }

  /**
   * Softmax or ({@code takeLog}) log-softmax along the middle of {@code [outer, size, inner]} by
   * groups of threads ({@link #lineGroup}); {@code ElementwiseKernels.softmaxForward} hands it the
   * lines its own kernels would give too few threads.
   */
  public static void softmaxLinesForward(long y, long x, int outer, int size, int inner, boolean takeLog) {
    long lines = (long) outer * inner;
    int group = lineGroup(lines, size, inner);
    launchLines(kernel("kiln_softmax_lines_forward"), lines, group, y, x, size, inner, lines, group, takeLog ? 1 : 0);
  }

  /** The gradient of {@link #softmaxLinesForward} from its output {@code y}. */
  public static void softmaxLinesBackward(long dx, long g, long y, int outer, int size, int inner, boolean takeLog) {
    long lines = (long) outer * inner;
    int group = lineGroup(lines, size, inner);
    launchLines(kernel("kiln_softmax_lines_backward"), lines, group, dx, g, y, size, inner, lines, group, takeLog ? 1 : 0);
  }

  /**
   * Whether {@link #softmaxLinesForward} should take a softmax along the middle of {@code [outer,
   * size, inner]}: a row of {@value #BLOCK_LINE} values or more (a block, not a warp), or strided
   * lines that {@link #lineGroup} gives more than a thread each.
   */
  public static boolean softmaxByLines(int outer, int size, int inner) {
    int group = lineGroup((long) outer * inner, size, inner);
    return inner == 1 ? group == THREADS : group > 1;
  }

  /** {@code dx = g exp(x - y)}, g and y one per line. */
  public static void logsumexpBackward(long dx, long g, long x, long y, int outer, int size, int inner) {
    long n = (long) outer * size * inner;
    kernel("kiln_logsumexp_backward").launch1d(n, dx, g, x, y, size, inner, n);
  }

  /** {@code out[o, i] = ||x[o, :, i]||_p}. */
  public static void normForward(long out, long x, int outer, int size, int inner, double p) {
    long lines = (long) outer * inner;
    int group = lineGroup(lines, size, inner);
    launchLines(kernel("kiln_norm_forward"), lines, group, out, x, (float) p, size, inner, lines, group);
  }

  /** The p-norm's gradient, as {@code cpu.IndexKernels.normBackward}. */
  public static void normBackward(long dx, long g, long x, long y, int outer, int size, int inner, double p) {
    long n = (long) outer * size * inner;
    kernel("kiln_norm_backward").launch1d(n, dx, g, x, y, (float) p, size, inner, n);
  }

  /**
   * Threads that reduce one line of {@code [outer, size, inner]} ({@link #LINE_REDUCE}): a block of
   * {@value #THREADS} for a long line ({@value #BLOCK_LINE} values on: logsumexp over 50k classes
   * with a few rows has a block per row), else a warp from {@value #WARP_LINE} values, else one
   * thread; strided lines ({@code inner > 1}) take a thread each from {@value #MANY_STRIDED_LINES}
   * lines on, where adjacent threads reading adjacent values beat splitting a line. The choice
   * depends on the sizes only, so the order of addition does too. Not yet timed on a GPU.
   */
  static int lineGroup(long lines, int size, int inner) {
    if (inner > 1 && lines >= MANY_STRIDED_LINES) {
      return 1;
    }
    return size >= BLOCK_LINE ? THREADS : size >= WARP_LINE ? 32 : 1;
  }

  /** Launches a {@link #LINE_REDUCE} kernel over {@code lines}, {@code group} threads each, in blocks of {@value #THREADS}. */
  static void launchLines(CudaKernel kernel, long lines, int group, Object... args) {
    long perBlock = THREADS / group;
    long blocks = (lines + perBlock - 1) / perBlock;
    if (blocks > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(kernel + ": " + lines + " lines is more than one launch covers");
    }
    if (blocks > 0) {
      kernel.launch((int) blocks, 1, THREADS, 0, args);
    }
  }

  private static CudaKernel kernel(String name) {
    return CudaModule.of("kiln_index.cu", SOURCE).kernel(name);
  }
}
