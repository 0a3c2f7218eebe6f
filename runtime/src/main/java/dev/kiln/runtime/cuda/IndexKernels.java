package dev.kiln.runtime.cuda;

import java.lang.ref.Reference;

/**
 * Index maps and line kernels on the GPU: the CUDA twins of {@code cpu.IndexKernels} (constant
 * padding and flipping as one coordinate map; running sums, log-sum-exp and p-norms along one
 * dimension of {@code [outer, size, inner]}), with the same formulas in double and the same
 * order of addition, so that the two backends agree to float rounding (the index map and the
 * running sums bit for bit). A line kernel runs one thread per line (a sequential scan, in the
 * CPU's order); the backward passes one thread per element.
 */
public final class IndexKernels {
  private IndexKernels() {}

  /** The CUDA C source, public so that a test can compile it without a GPU. */
  public static final String SOURCE = """
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

      // log(sum exp(x - m)) + m along a line, m its maximum (0 in its place when infinite), NaN for a line holding one
      extern "C" __global__ void kiln_logsumexp_forward(float* out, const float* x, int size, int inner, long long lines) {
        long long l = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (l >= lines) return;
        int line = (int) l;
        int o = line / inner, i = line - o * inner;
        const float* v = x + (long long) o * size * inner + i;
        float m = __int_as_float(0xff800000);
        for (int j = 0; j < size; j++) {
          float e = v[(long long) j * inner];
          m = (e > m || e != e) ? e : m;
          if (e != e) break;
        }
        double shift = fabsf(m) == __int_as_float(0x7f800000) ? 0.0 : (double) m; // an infinite maximum shifts by 0
        double sum = 0.0;
        for (int j = 0; j < size; j++) sum += exp((double) v[(long long) j * inner] - shift);
        out[l] = (float) (log(sum) + shift);
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

      // (sum |x|^p)^(1/p) along a line, in double (p = 1 and 2 without a power); p a float, as the host's
      extern "C" __global__ void kiln_norm_forward(float* out, const float* x, float p, int size, int inner, long long lines) {
        long long l = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (l >= lines) return;
        int line = (int) l;
        int o = line / inner, i = line - o * inner;
        const float* v = x + (long long) o * size * inner + i;
        double sum = 0.0;
        for (int j = 0; j < size; j++) {
          double a = fabs((double) v[(long long) j * inner]);
          sum += p == 2.0f ? a * a : p == 1.0f ? a : pow(a, (double) p);
        }
        out[l] = (float) (p == 2.0f ? sqrt(sum) : p == 1.0f ? sum : pow(sum, 1.0 / (double) p));
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

  /** Running sums along the middle of {@code [outer, size, inner]}, from the end when {@code reverse}. */
  public static void cumsum(long out, long x, int outer, int size, int inner, boolean reverse) {
    long lines = (long) outer * inner;
    kernel("kiln_cumsum").launch1d(size == 0 ? 0 : lines, out, x, size, inner, reverse ? 1 : 0, lines);
  }

  /** {@code out[o, i] = logsumexp(x[o, :, i])}. */
  public static void logsumexpForward(long out, long x, int outer, int size, int inner) {
    long lines = (long) outer * inner;
    kernel("kiln_logsumexp_forward").launch1d(lines, out, x, size, inner, lines);
  }

  /** {@code dx = g exp(x - y)}, g and y one per line. */
  public static void logsumexpBackward(long dx, long g, long x, long y, int outer, int size, int inner) {
    long n = (long) outer * size * inner;
    kernel("kiln_logsumexp_backward").launch1d(n, dx, g, x, y, size, inner, n);
  }

  /** {@code out[o, i] = ||x[o, :, i]||_p}. */
  public static void normForward(long out, long x, int outer, int size, int inner, double p) {
    long lines = (long) outer * inner;
    kernel("kiln_norm_forward").launch1d(lines, out, x, (float) p, size, inner, lines);
  }

  /** The p-norm's gradient, as {@code cpu.IndexKernels.normBackward}. */
  public static void normBackward(long dx, long g, long x, long y, int outer, int size, int inner, double p) {
    long n = (long) outer * size * inner;
    kernel("kiln_norm_backward").launch1d(n, dx, g, x, y, (float) p, size, inner, n);
  }

  private static CudaKernel kernel(String name) {
    return CudaModule.of("kiln_index.cu", SOURCE).kernel(name);
  }
}
