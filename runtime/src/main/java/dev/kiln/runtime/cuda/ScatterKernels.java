package dev.kiln.runtime.cuda;

import java.lang.ref.Reference;
import java.util.Arrays;

/**
 * The writes by index on the GPU ({@code ScatterOps}' placements: source element {@code at[j]} to
 * result element {@code to[j]}, set or added), deterministic and bit for bit the CPU's loop: the
 * host, which holds the indices anyway, orders the placements by target (a set keeps each target's
 * last one; an add groups each target's in their order) and uploads them as one int table; then a
 * thread per target writes it, so nothing races and no atomics reorder a sum. One thread per target
 * adds its group in turn: a target written by very many sources is one long loop.
 */
public final class ScatterKernels {
  private ScatterKernels() {}

  /** The CUDA C source, public so that a test can compile it without a GPU. */
  public static final String SOURCE = """
      // out[pairs[2j]] = src[pairs[2j + 1]] (value where there is no source), the targets distinct: a thread a pair
      extern "C" __global__ void kiln_place_set(float* out, const float* src, const int* pairs, float value, int hasSrc,
          long long n) {
        long long j = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (j < n) out[pairs[2 * j]] = hasSrc ? src[pairs[2 * j + 1]] : value;
      }

      // out[t] += alpha src[a] for each placement of target t, in their order (alpha * v rounded first, as the
      // CPU's float loop): a thread per distinct target, whose placements are at[starts[k]..starts[k + 1])
      extern "C" __global__ void kiln_place_add(float* out, const float* src, const int* targets, const int* starts,
          const int* at, float alpha, long long groups) {
        long long k = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (k >= groups) return;
        int t = targets[k];
        float acc = out[t];
        for (int e = starts[k]; e < starts[k + 1]; e++) {
          float v = src[at[e]];
          acc = __fadd_rn(acc, alpha == 1.0f ? v : __fmul_rn(alpha, v));
        }
        out[t] = acc;
      }

      // d[pairs[2j + 1]] = 0 + alpha g[pairs[2j]]: a source's gradient from its target's (the sources distinct;
      // from +0, as the CPU adds into zeros)
      extern "C" __global__ void kiln_place_gather(float* d, const float* g, const int* pairs, float alpha, long long n) {
        long long j = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (j < n) {
          float v = g[pairs[2 * j]];
          d[pairs[2 * j + 1]] = __fadd_rn(0.0f, alpha == 1.0f ? v : __fmul_rn(alpha, v));
        }
      }
      """;

  /** The placements' indices ordered by target, then by their own order: {@code (to << 32) | j}. */
  private static long[] byTarget(int[] to) {
    long[] keys = new long[to.length];
    for (int j = 0; j < to.length; j++) {
      keys[j] = (long) to[j] << 32 | j;
    }
    Arrays.sort(keys);
    return keys;
  }

  /**
   * {@code out[to[j]] = src[at[j]]} ({@code value} where {@code src} is 0, no source), a later
   * placement to one target winning as in the CPU's loop.
   */
  public static void set(long out, long src, int[] to, int[] at, float value) {
    long[] keys = byTarget(to);
    int[] pairs = new int[2 * to.length];
    int n = 0;
    for (int k = 0; k < keys.length; k++) {
      if (k + 1 < keys.length && keys[k + 1] >>> 32 == keys[k] >>> 32) {
        continue; // a later placement to this target follows
      }
      int j = (int) keys[k];
      pairs[2 * n] = to[j];
      pairs[2 * n + 1] = at == null ? 0 : at[j];
      n++;
    }
    if (n == 0) {
      return;
    }
    CudaBuffer table = EmbeddingKernels.uploadIndices(Arrays.copyOf(pairs, 2 * n));
    kernel("kiln_place_set").launch1d(n, out, src, table.address(), value, src == 0 ? 0 : 1, (long) n);
    Reference.reachabilityFence(table);
  }

  /** {@code out[to[j]] += alpha src[at[j]]} for every j, each target's in j's order. */
  public static void add(long out, long src, int[] to, int[] at, float alpha) {
    if (to.length == 0) {
      return;
    }
    long[] keys = byTarget(to);
    int[] targets = new int[to.length], starts = new int[to.length + 1], order = new int[to.length];
    int groups = 0;
    for (int k = 0; k < keys.length; k++) {
      int t = (int) (keys[k] >>> 32);
      if (k == 0 || t != targets[groups - 1]) {
        targets[groups] = t;
        starts[groups++] = k;
      }
      order[k] = at[(int) keys[k]];
    }
    starts[groups] = keys.length;
    // one table: targets, then starts, then the sources in order
    int[] table = new int[2 * groups + 1 + to.length];
    System.arraycopy(targets, 0, table, 0, groups);
    System.arraycopy(starts, 0, table, groups, groups + 1);
    System.arraycopy(order, 0, table, 2 * groups + 1, to.length);
    CudaBuffer t = EmbeddingKernels.uploadIndices(table);
    kernel("kiln_place_add").launch1d(groups, out, src, t.address(), t.at(groups), t.at(2 * groups + 1), alpha, (long) groups);
    Reference.reachabilityFence(t);
  }

  /** {@code d[at[j]] = alpha g[to[j]]} for every j (the {@code at} distinct; d's other values are left as they are). */
  public static void gather(long d, long g, int[] to, int[] at, float alpha) {
    if (to.length == 0) {
      return;
    }
    int[] pairs = new int[2 * to.length];
    for (int j = 0; j < to.length; j++) {
      pairs[2 * j] = to[j];
      pairs[2 * j + 1] = at[j];
    }
    CudaBuffer table = EmbeddingKernels.uploadIndices(pairs);
    kernel("kiln_place_gather").launch1d(to.length, d, g, table.address(), alpha, (long) to.length);
    Reference.reachabilityFence(table);
  }

  private static CudaKernel kernel(String name) {
    return CudaModule.of("kiln_scatter.cu", SOURCE).kernel(name);
  }
}
