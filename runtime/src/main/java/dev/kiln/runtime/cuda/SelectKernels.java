package dev.kiln.runtime.cuda;

import java.lang.ref.Reference;

/**
 * The reads by mask on the GPU: {@code masked_select} (and its gradient) and {@code nonzero}, whose result's length
 * is the count of nonzero mask values (NaN counts, -0 does not, as {@code v != 0}). The mask is cut into chunks of
 * {@value #CHUNK} values, a block each (256 threads, four consecutive values a thread): {@code kiln_mask_counts}
 * counts each chunk's, {@code kiln_mask_offsets} (one block) turns the counts into each chunk's first output place
 * and the total, which the host reads back (one value: the result's size, the one wait, as PyTorch's {@code
 * nonzero} has), then a block per chunk scans its threads' counts in shared memory and writes its values in
 * row-major order ({@code kiln_mask_select}, {@code kiln_nonzero}), or sends the result's gradient back to the
 * selected places and zeros elsewhere ({@code kiln_mask_scatter}). Values are copied, never summed: bit for bit the
 * CPU's.
 */
public final class SelectKernels {
  private SelectKernels() {}

  /** Mask values a block takes (256 threads, four each). */
  static final int CHUNK = 1024;

  /** The CUDA C source, public so that a test can compile it without a GPU. */
  public static final String SOURCE = """
      // The selected values among the calling thread's four (4t..4t+3 of its block's chunk of 1024), as a count.
      __device__ __forceinline__ int kiln_mask_own(const float* mask, long long n) {
        long long base = (long long) blockIdx.x * 1024 + threadIdx.x * 4;
        int c = 0;
        for (int k = 0; k < 4; k++) c += base + k < n && mask[base + k] != 0.0f ? 1 : 0;
        return c;
      }

      // The inclusive scan of the block's 256 values v, one a thread, in shared memory part[256]: the sum of threads
      // 0..this one's; part[255] holds the total after it.
      __device__ int kiln_block_scan(int* part, int v) {
        part[threadIdx.x] = v;
        __syncthreads();
        for (int off = 1; off < 256; off <<= 1) {
          int add = threadIdx.x >= off ? part[threadIdx.x - off] : 0;
          __syncthreads();
          part[threadIdx.x] += add;
          __syncthreads();
        }
        return part[threadIdx.x];
      }

      // counts[b] = the count of nonzero mask values in chunk b
      extern "C" __global__ void kiln_mask_counts(int* counts, const float* mask, long long n) {
        __shared__ int part[256];
        kiln_block_scan(part, kiln_mask_own(mask, n));
        if (threadIdx.x == 255) counts[blockIdx.x] = part[255];
      }

      // counts[0..blocks) becomes each chunk's first output place (an exclusive scan), counts[blocks] the total: one
      // block, thread t scanning its stretch of ceil(blocks / 256) counts, the stretches' sums scanned in shared memory
      extern "C" __global__ void kiln_mask_offsets(int* counts, int blocks) {
        __shared__ int part[256];
        int per = (blocks + 255) / 256, from = min(blocks, (int) threadIdx.x * per), to = min(blocks, from + per);
        int s = 0;
        for (int k = from; k < to; k++) s += counts[k];
        int acc = kiln_block_scan(part, s) - s;
        for (int k = from; k < to; k++) {
          int c = counts[k];
          counts[k] = acc;
          acc += c;
        }
        if (threadIdx.x == 255) counts[blocks] = part[255];
      }

      // The output place of the calling thread's first selected value: its chunk's offset plus the selected values of
      // the chunk's threads before it.
      __device__ int kiln_mask_place(const float* mask, const int* offsets, long long n, int* part) {
        int own = kiln_mask_own(mask, n);
        return offsets[blockIdx.x] + kiln_block_scan(part, own) - own;
      }

      // out = x where the mask is nonzero, in order (x and mask of n values each)
      extern "C" __global__ void kiln_mask_select(float* out, const float* x, const float* mask, const int* offsets, long long n) {
        __shared__ int part[256];
        long long at = kiln_mask_place(mask, offsets, n, part);
        long long base = (long long) blockIdx.x * 1024 + threadIdx.x * 4;
        for (int k = 0; k < 4; k++) {
          if (base + k < n && mask[base + k] != 0.0f) out[at++] = x[base + k];
        }
      }

      // dx = 0 + g[its place] where the mask is nonzero, 0 elsewhere (the CPU adds the gradient into zeros: -0 gives 0)
      extern "C" __global__ void kiln_mask_scatter(float* dx, const float* g, const float* mask, const int* offsets, long long n) {
        __shared__ int part[256];
        long long at = kiln_mask_place(mask, offsets, n, part);
        long long base = (long long) blockIdx.x * 1024 + threadIdx.x * 4;
        for (int k = 0; k < 4; k++) {
          if (base + k < n) dx[base + k] = mask[base + k] != 0.0f ? __fadd_rn(0.0f, g[at++]) : 0.0f;
        }
      }

      // out[k, :] = the coordinates (as floats) of x's k-th nonzero value, x of the given shape (rank ints)
      extern "C" __global__ void kiln_nonzero(float* out, const float* x, const int* offsets, const int* shape, int rank,
          long long n) {
        __shared__ int part[256];
        long long at = kiln_mask_place(x, offsets, n, part);
        long long base = (long long) blockIdx.x * 1024 + threadIdx.x * 4;
        for (int k = 0; k < 4; k++) {
          if (base + k < n && x[base + k] != 0.0f) {
            long long rest = base + k;
            for (int d = rank - 1; d >= 0; d--) {
              out[at * rank + d] = (float) (rest % shape[d]);
              rest /= shape[d];
            }
            at++;
          }
        }
      }
      """;

  /**
   * Counts the nonzero values of {@code mask} ({@code n} of them) and leaves each chunk's output offset in a new
   * buffer, which the caller passes to {@link #select}, {@link #scatter} or {@link #nonzero} and keeps while they may
   * run. Waits for the count.
   */
  public record Offsets(CudaBuffer buffer, int count) {}

  /** {@link Offsets} of the first {@code n} values at {@code mask}. */
  public static Offsets count(long mask, long n) {
    int blocks = blocks(n);
    Cuda cuda = Cuda.get();
    CudaBuffer offsets = cuda.allocate(blocks + 1L);
    kernel("kiln_mask_counts").launch(blocks, 1, 256, 0, offsets.address(), mask, n);
    kernel("kiln_mask_offsets").launch(1, 1, 256, 0, offsets.address(), blocks);
    float[] total = new float[1];
    cuda.download(offsets.at(blocks), total, 0, 1);
    return new Offsets(offsets, Float.floatToRawIntBits(total[0]));
  }

  /** {@code out = x[mask != 0]}, {@code offsets} {@link #count}'s of the same mask. */
  public static void select(long out, long x, long mask, long n, Offsets offsets) {
    kernel("kiln_mask_select").launch(blocks(n), 1, 256, 0, out, x, mask, offsets.buffer().address(), n);
    Reference.reachabilityFence(offsets);
  }

  /** {@code dx = g} placed back where {@code mask != 0}, 0 elsewhere ({@code n} values of dx and mask). */
  public static void scatter(long dx, long g, long mask, long n, Offsets offsets) {
    kernel("kiln_mask_scatter").launch(blocks(n), 1, 256, 0, dx, g, mask, offsets.buffer().address(), n);
    Reference.reachabilityFence(offsets);
  }

  /** {@code out [count, shape.length]} = the coordinates of x's nonzero values ({@code offsets} {@link #count}'s of x). */
  public static void nonzero(long out, long x, int[] shape, Offsets offsets) {
    long n = 1;
    for (int s : shape) {
      n *= s;
    }
    CudaBuffer sizes = EmbeddingKernels.uploadIndices(shape);
    kernel("kiln_nonzero").launch(blocks(n), 1, 256, 0, out, x, offsets.buffer().address(), sizes.address(), shape.length, n);
    Reference.reachabilityFence(sizes);
    Reference.reachabilityFence(offsets);
  }

  private static int blocks(long n) {
    long blocks = (n + CHUNK - 1) / CHUNK;
    if (blocks > Integer.MAX_VALUE - 1 || blocks == 0) {
      throw new IllegalArgumentException("SelectKernels: " + n + " values is not a count one launch covers");
    }
    return (int) blocks;
  }

  private static CudaKernel kernel(String name) {
    return CudaModule.of("kiln_select.cu", SOURCE).kernel(name);
  }
}
