package dev.kiln.runtime.cuda;

import java.lang.ref.Reference;

/**
 * Ordering along one dimension on the GPU: sort and argsort (and so topk), the maxima and minima
 * along a dimension with their indices (max, min, argmax, argmin), the scatter that sends their
 * values' gradient back, and one-hot. x is seen as {@code [outer, size, inner]}, a line {@code
 * x[o, :, i]}; indices travel as floats, as Kiln's {@code INT32} tensors hold them (exact up to
 * 2^24 values a line).
 *
 * <p>The order is the CPU's ({@code ReductionOps.ordered}, PyTorch's {@code stable=True}): ascending puts
 * NaN last, descending first; equal values (0 and -0 among them, and NaNs) keep their original
 * order. Every value is keyed by (value, original index), a total order, so the result does not
 * depend on how the sort gets there. A line is cut into chunks of a power of two up to {@value
 * #CHUNK} values, each chunk sorted by a bitonic network in shared memory ({@code
 * kiln_sort_chunks}; several short lines to a block), then runs of sorted chunks are merged in
 * pairs until one run holds the line ({@code kiln_sort_merge}, a thread per value finding its
 * place in the other run by binary search), so no line is too long for the device.
 *
 * <p>The maxima reduce a line with {@link IndexKernels#LINE_REDUCE}'s groups: the first index
 * among equal values wins, a NaN before any number (the first NaN), as on the CPU. The maximum of
 * all values is the same reduction over one line, its gradient shared among the ties.
 */
public final class SortKernels {
  private SortKernels() {}

  /** Values one block sorts in shared memory (a float and an int each: 32 KiB). */
  static final int CHUNK = 4096;

  /** The CUDA C source, public so that a test can compile it without a GPU. */
  public static final String SOURCE = IndexKernels.LINE_REDUCE + """

      // (a, ia) comes before (b, ib) in the sort: ascending NaN last, descending NaN first, equal values by original
      // index; an index of `size` or more is a padding slot, after every value.
      __device__ __forceinline__ bool kiln_sort_before(float a, int ia, float b, int ib, int size, int descending) {
        if (ia >= size || ib >= size) return ia < ib;
        bool na = a != a, nb = b != b;
        if (na != nb) return descending ? na : nb;
        if (!na && a != b) return descending ? a > b : a < b;
        return ia < ib;
      }

      // Each chunk of `chunk` values (a power of two, at most 4096) of every line sorted, `segments` chunks a block
      // (chunk * segments <= 4096), by a bitonic network in shared memory: keys[o, j, i] the chunk's values in order,
      // idx[o, j, i] the index along the line each came from. 256 threads.
      extern "C" __global__ void kiln_sort_chunks(float* keys, float* idx, const float* x, int size, int inner, long long lines,
          int chunk, int chunksPerLine, int segments, int descending) {
        __shared__ float sk[4096];
        __shared__ int si[4096];
        int slots = chunk * segments;
        long long first = (long long) blockIdx.x * segments, total = lines * chunksPerLine;
        for (int s = threadIdx.x; s < slots; s += blockDim.x) {
          long long seg = first + s / chunk;
          int r = s & (chunk - 1);
          int j = (int) (seg % chunksPerLine) * chunk + r;
          float k = 0.0f;
          int id = size + r;
          if (seg < total) {
            id = j;
            if (j < size) k = x[kiln_line_base(seg / chunksPerLine, size, inner) + (long long) j * inner];
          }
          sk[s] = k;
          si[s] = id;
        }
        __syncthreads();
        for (int k = 2; k <= chunk; k <<= 1) {
          for (int h = k >> 1; h > 0; h >>= 1) {
            for (int t = threadIdx.x; t < slots / 2; t += blockDim.x) {
              int i = (t / h) * 2 * h + t % h, p = i + h;
              bool up = k == chunk || (i & k) == 0; // the last stage sorts each chunk up: chunks never mix
              float a = sk[i], b = sk[p];
              int ia = si[i], ib = si[p];
              if (up ? kiln_sort_before(b, ib, a, ia, size, descending) : kiln_sort_before(a, ia, b, ib, size, descending)) {
                sk[i] = b; sk[p] = a;
                si[i] = ib; si[p] = ia;
              }
            }
            __syncthreads();
          }
        }
        for (int s = threadIdx.x; s < slots; s += blockDim.x) {
          long long seg = first + s / chunk;
          int j = (int) (seg % chunksPerLine) * chunk + (s & (chunk - 1));
          if (seg < total && si[s] < size) { // padding sorts last, so the chunk's values fill its first places
            long long at = kiln_line_base(seg / chunksPerLine, size, inner) + (long long) j * inner;
            keys[at] = sk[s];
            idx[at] = (float) si[s];
          }
        }
      }

      // One merge pass: runs of `width` sorted values along each line merged in pairs, a thread per value: its place
      // is its rank in its run plus the count of the other run's values before it (a binary search; the keys are
      // distinct, so the two counts never collide). n = lines * size.
      extern "C" __global__ void kiln_sort_merge(float* keys, float* idx, const float* srcKeys, const float* srcIdx, int size,
          int inner, int width, int descending, long long n) {
        long long t = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (t >= n) return;
        long long line = t / size;
        int p = (int) (t - line * size);
        long long base = kiln_line_base(line, size, inner);
        int start = p / width * width, other = (p / width ^ 1) * width;
        float a = srcKeys[base + (long long) p * inner];
        int ia = (int) srcIdx[base + (long long) p * inner];
        int dest = p;
        if (other < size) {
          int lo = 0, hi = min(width, size - other);
          while (lo < hi) {
            int mid = (lo + hi) >> 1;
            long long at = base + (long long) (other + mid) * inner;
            if (kiln_sort_before(srcKeys[at], (int) srcIdx[at], a, ia, size, descending)) lo = mid + 1; else hi = mid;
          }
          dest = min(start, other) + (p - start) + lo;
        }
        keys[base + (long long) dest * inner] = a;
        idx[base + (long long) dest * inner] = (float) ia;
      }

      // (a, ia) wins over (b, ib) for the maximum (max) or minimum: a NaN over any number, the first index among
      // equals; ib < 0 is nothing (a thread whose lane saw no value).
      __device__ __forceinline__ bool kiln_best_over(float a, int ia, float b, int ib, int max) {
        if (ib < 0) return ia >= 0;
        if (ia < 0) return false;
        bool na = a != a, nb = b != b;
        if (na || nb) return na && (!nb || ia < ib);
        if (a == b) return ia < ib;
        return max ? a > b : a < b;
      }

      // The maximum (max) or minimum of each line and its index along it (values, indices one per line), a group of
      // threads a line (LINE_REDUCE's; the tree here over (value, index) pairs).
      extern "C" __global__ void kiln_extremum_along(float* values, float* indices, const float* x, int size, int inner,
          long long lines, int group, int max) {
        __shared__ float rv[256];
        __shared__ int ri[256];
        kiln_line_t here = kiln_line_here(group, size, inner, lines);
        const float* v = x + here.base;
        float best = 0.0f;
        int at = -1;
        for (int j = here.lane; here.live && j < size; j += group) {
          float e = v[(long long) j * inner];
          if (kiln_best_over(e, j, best, at, max)) { best = e; at = j; }
        }
        rv[threadIdx.x] = best;
        ri[threadIdx.x] = at;
        __syncthreads();
        for (int s = group >> 1; s > 0; s >>= 1) {
          if (here.lane < s && kiln_best_over(rv[threadIdx.x + s], ri[threadIdx.x + s], rv[threadIdx.x], ri[threadIdx.x], max)) {
            rv[threadIdx.x] = rv[threadIdx.x + s];
            ri[threadIdx.x] = ri[threadIdx.x + s];
          }
          __syncthreads();
        }
        if (here.live && here.lane == 0) {
          values[here.line] = rv[threadIdx.x];
          indices[here.line] = (float) ri[threadIdx.x];
        }
      }

      // dx[o, idx[o, r, i], i] = g[o, r, i] for the k picked values of each line (distinct places: no two threads
      // write one); dx holds zeros elsewhere (the caller's fill).
      extern "C" __global__ void kiln_line_scatter(float* dx, const float* g, const float* idx, int k, int size, int inner,
          long long n) {
        long long t = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (t >= n) return;
        long long line = t / ((long long) k * inner) * inner + t % inner;
        dx[kiln_line_base(line, size, inner) + (long long) idx[t] * inner] = g[t];
      }

      // x equal to the extremum v: a NaN equals a NaN, -0 equals 0 (the CPU's Float.compare(e, v) == 0 || e == v)
      __device__ __forceinline__ bool kiln_ties(float e, float v) { return e == v || (e != e && v != v); }

      // count[0] = how many of x tie with value[0], one block of 256 (max()/min()'s gradient is shared among them)
      extern "C" __global__ void kiln_count_ties(float* count, const float* x, const float* value, long long n) {
        __shared__ double red[256];
        double c = 0.0;
        for (long long i = threadIdx.x; i < n; i += blockDim.x) c += kiln_ties(x[i], value[0]) ? 1.0 : 0.0;
        c = kiln_group_reduce(c, red, 256, 0);
        if (threadIdx.x == 0) count[0] = (float) c;
      }

      // dx = g / count where x ties with value[0], else 0: as the CPU, the share a float division
      extern "C" __global__ void kiln_share_ties(float* dx, const float* g, const float* x, const float* value, const float* count,
          long long n) {
        long long t = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (t < n) dx[t] = kiln_ties(x[t], value[0]) ? __fdiv_rn(g[0], count[0]) : 0.0f;
      }

      // out[e, c] = labels[e] == c ? 1 : 0, labels as floats holding whole numbers (checked on the host)
      extern "C" __global__ void kiln_one_hot(float* out, const float* labels, int classes, long long n) {
        long long t = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (t >= n) return;
        long long e = t / classes;
        out[t] = (long long) labels[e] == t - e * classes ? 1.0f : 0.0f;
      }
      """;

  /**
   * {@code values} and {@code indices} (x's shape) the values of each line of {@code x} ({@code
   * [outer, size, inner]}) in order and where each came from along the line.
   */
  public static void sort(long values, long indices, long x, int outer, int size, int inner, boolean descending) {
    long lines = (long) outer * inner;
    long n = lines * size;
    if (n == 0) {
      return;
    }
    int chunk = size >= CHUNK ? CHUNK : size == 1 ? 1 : Integer.highestOneBit(size - 1) << 1; // a power of two, at least size
    int chunksPerLine = (size + chunk - 1) / chunk;
    int passes = 0;
    for (long width = chunk; width < size; width *= 2) {
      passes++;
    }
    Cuda cuda = Cuda.get();
    CudaBuffer temp = passes == 0 ? null : cuda.allocate(2 * n);
    long tempKeys = temp == null ? 0 : temp.address(), tempIdx = temp == null ? 0 : temp.at(n);
    // the last pass writes the result: with an odd number of passes, the chunks go to the temporary pair
    long keys = passes % 2 == 0 ? values : tempKeys, idx = passes % 2 == 0 ? indices : tempIdx;
    long segments = lines * chunksPerLine;
    int perBlock = (int) Math.min(CHUNK / chunk, segments);
    long blocks = (segments + perBlock - 1) / perBlock;
    if (blocks > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("kiln_sort_chunks: " + segments + " chunks is more than one launch covers");
    }
    kernel("kiln_sort_chunks").launch((int) blocks, 1, IndexKernels.THREADS, 0, keys, idx, x, size, inner, lines, chunk,
        chunksPerLine, perBlock, descending ? 1 : 0);
    for (long width = chunk; width < size; width *= 2) {
      long toKeys = keys == values ? tempKeys : values, toIdx = keys == values ? tempIdx : indices;
      kernel("kiln_sort_merge").launch1d(n, toKeys, toIdx, keys, idx, size, inner, (int) width, descending ? 1 : 0, n);
      keys = toKeys;
      idx = toIdx;
    }
    Reference.reachabilityFence(temp);
  }

  /** {@code values[o, i]} and {@code indices[o, i]} the maximum ({@code max}) or minimum of {@code x[o, :, i]} and its index. */
  public static void extremumAlong(long values, long indices, long x, int outer, int size, int inner, boolean max) {
    long lines = (long) outer * inner;
    int group = IndexKernels.lineGroup(lines, size, inner);
    IndexKernels.launchLines(kernel("kiln_extremum_along"), lines, group, values, indices, x, size, inner, lines, group, max ? 1 : 0);
  }

  /**
   * {@code dx} ({@code [outer, size, inner]}, zeroed here) holding {@code g} ({@code [outer, k,
   * inner]}) at the places {@code idx} (g's shape) names along each line, zeros elsewhere: the
   * gradient of values picked by index (sort, topk, max along a dimension).
   */
  public static void scatterAlong(long dx, long g, long idx, int outer, int k, int size, int inner) {
    long n = (long) outer * k * inner;
    CoreKernels.fill(dx, 0f, (long) outer * size * inner);
    kernel("kiln_line_scatter").launch1d(n, dx, g, idx, k, size, inner, n);
  }

  /**
   * The gradient of {@code max()}/{@code min()} of all of x's {@code n} values: {@code g[0]} shared
   * evenly among the values that tie with the result {@code value[0]} (PyTorch's rule), zeros
   * elsewhere; the ties counted by one block.
   */
  public static void shareAmongTies(long dx, long g, long x, long value, long n) {
    CudaBuffer count = Cuda.get().allocate(1);
    kernel("kiln_count_ties").launch(1, 1, IndexKernels.THREADS, 0, count.address(), x, value, n);
    kernel("kiln_share_ties").launch1d(n, dx, g, x, value, count.address(), n);
    Reference.reachabilityFence(count);
  }

  /** {@code out[e, c]} 1 where {@code labels[e] == c}, else 0 ({@code labels} checked on the host). */
  public static void oneHot(long out, long labels, int count, int classes) {
    long n = (long) count * classes;
    kernel("kiln_one_hot").launch1d(n, out, labels, classes, n);
  }

  private static CudaKernel kernel(String name) {
    return CudaModule.of("kiln_sort.cu", SOURCE).kernel(name);
  }
}
