package dev.kiln.runtime.cuda;

import java.lang.ref.Reference;
import java.util.Arrays;

/**
 * Embedding lookups and their gradients on the GPU ({@code nn.Embedding}, {@code nn.EmbeddingBag}):
 * the CUDA twins of {@code cpu.CpuKernels.embeddingForward/embeddingBackward} and of {@code
 * Ops.embeddingBag}'s loops, in the same float order, so that the two backends agree bit for bit.
 *
 * <p>Ids are label tensors (floats holding whole numbers) on the device; the caller has checked
 * them on the host, where a label tensor moved to the GPU keeps its values ({@code Tensor.to}), so
 * no kernel indexes out of range and the error is the CPU's. The table's gradient is not scattered
 * with atomic adds (PyTorch's way for the bag's max mode, with a sum order that varies from run to
 * run): the host, which holds the ids anyway, sorts the entries by row (then position), and one
 * thread per (row, column) adds its row's contributions in the CPU's order and adds the sum into
 * the gradient once. The sorted entries (a batch's ids, a few ints each) are the one upload per
 * backward; the table and its gradient never leave the device.
 */
public final class EmbeddingKernels {
  /** Bag reductions, as {@code Ops.embeddingBag} numbers them. */
  public static final int SUM = 0;
  public static final int MEAN = 1;
  public static final int MAX = 2;
  /** A plain lookup ({@code Ops.embedding}): each position's gradient row goes to its id's row. */
  public static final int LOOKUP = 3;

  /** The CUDA C source, public so that a test can compile it without a GPU. */
  public static final String SOURCE = """
      // Ids are floats holding whole numbers (label tensors), checked in range on the host before
      // each launch. Sums use __fadd_rn/__fmul_rn so that NVRTC does not contract them into fused
      // multiply-adds: the CPU rounds each product and each sum.

      // out[p, j] = w[ids[p], j] over n = count * dim values.
      extern "C" __global__ void kiln_embedding_forward(float* out, const float* w, const float* ids, int dim, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) {
          int k = (int) i;
          int p = k / dim, j = k - p * dim;
          out[i] = w[(long long) (int) ids[p] * dim + j];
        }
      }

      // Bag b of entries [starts[b], starts[b + 1]) reduced to out[b, j], one thread per (b, j):
      // mode 0 sum (each row times psw[e] when psw is given), 1 mean (the sum divided by the
      // entries counted), 2 max (the first entry holding the maximum, written to argmax; a NaN
      // only when it comes first, as Java's >). Entries whose id is the padding row are left out
      // of the bag and its count; an empty bag gives 0 (argmax -1).
      extern "C" __global__ void kiln_embedding_bag_forward(float* out, int* argmax, const float* w, const float* ids,
          const int* starts, const float* psw, int padding, int mode, int dim, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i >= n) return;
        int k = (int) i;
        int b = k / dim, j = k - b * dim;
        float acc = 0.0f;
        int count = 0, arg = -1;
        for (int e = starts[b], end = starts[b + 1]; e < end; e++) {
          int id = (int) ids[e];
          if (id == padding) continue;
          float v = w[(long long) id * dim + j];
          if (mode == 2) {
            if (count == 0 || v > acc) {
              acc = v;
              arg = e;
            }
          } else {
            acc = __fadd_rn(acc, psw != 0 ? __fmul_rn(psw[e], v) : v);
          }
          count++;
        }
        if (mode == 1 && count > 0) acc = __fdiv_rn(acc, (float) count);
        out[i] = acc;
        if (mode == 2) argmax[i] = arg;
      }

      // The table's gradient, one thread per (segment s, column j). Segment s is the entries
      // entries[segStarts[s] .. segStarts[s + 1]) that pick row rows[s], in ascending order (sorted
      // on the host; padding entries and entries in no bag left out), so the row's contributions
      // are summed in the CPU's order from 0 and the sum added into dw once: the CPU's dw, then the
      // engine's grad + dw, bit for bit, with no atomics. Mode 3: a lookup, entry e's gradient is
      // g[e]; modes 0-2 a bag's: entry e in bag entryBag[e] gets g[b] times psw[e] (sum, when
      // given), 1 / bagCount[b] (mean), or g[b] where argmax[b, j] is e (max).
      extern "C" __global__ void kiln_embedding_backward(float* dw, const float* g, const int* rows, const int* segStarts,
          const int* entries, const int* entryBag, const int* bagCount, const float* psw, const int* argmax,
          int mode, int dim, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i >= n) return;
        int k = (int) i;
        int s = k / dim, j = k - s * dim;
        float sum = 0.0f;
        for (int t = segStarts[s], end = segStarts[s + 1]; t < end; t++) {
          int e = entries[t];
          float c;
          if (mode == 3) {
            c = g[(long long) e * dim + j];
          } else {
            int b = entryBag[e];
            long long o = (long long) b * dim + j;
            if (mode == 2) {
              if (argmax[o] != e) continue;
              c = g[o];
            } else if (mode == 1) {
              c = __fmul_rn(__fdiv_rn(1.0f, (float) bagCount[b]), g[o]);
            } else {
              c = psw != 0 ? __fmul_rn(psw[e], g[o]) : g[o];
            }
          }
          sum = __fadd_rn(sum, c);
        }
        long long at = (long long) rows[s] * dim + j;
        dw[at] = __fadd_rn(dw[at], sum);
      }

      // The per-sample weights' gradient of a sum bag, one thread per entry e: the bag's gradient
      // dotted with the entry's row, in double in the CPU's order; 0 for a padding entry or one in
      // no bag (entryBag[e] == bags).
      extern "C" __global__ void kiln_embedding_bag_weights_backward(float* ds, const float* g, const float* w,
          const float* ids, const int* entryBag, int bags, int padding, int dim, long long n) {
        long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
        if (i >= n) return;
        int b = entryBag[i];
        int id = (int) ids[i];
        if (b >= bags || id == padding) {
          ds[i] = 0.0f;
          return;
        }
        const float* gb = g + (long long) b * dim;
        const float* row = w + (long long) id * dim;
        double dot = 0.0;
        for (int j = 0; j < dim; j++) dot = __dadd_rn(dot, __dmul_rn((double) gb[j], (double) row[j]));
        ds[i] = (float) dot;
      }
      """;

  private EmbeddingKernels() {}

  private static CudaKernel kernel(String name) {
    return CudaModule.of("kiln_embedding.cu", SOURCE).kernel(name);
  }

  /** {@code out[p] = weight[ids[p]]}: {@code count} rows of {@code dim} floats. */
  public static void forward(long out, long weight, long ids, int count, int dim) {
    kernel("kiln_embedding_forward").launch1d((long) count * dim, out, weight, ids, dim, (long) count * dim);
  }

  /**
   * The bags {@code [starts[b], starts[b + 1])} of {@code ids} reduced by {@code mode} ({@link #SUM},
   * {@link #MEAN}, {@link #MAX}) into {@code out [bags, dim]}; {@code argmax} (ints, {@code [bags,
   * dim]}) written in max mode, {@code perSampleWeights} (0 for none) scaling a sum's rows.
   */
  public static void bagForward(long out, long argmax, long weight, long ids, int[] starts, long perSampleWeights, int paddingIdx,
      int mode, int dim) {
    int bags = starts.length - 1;
    CudaBuffer s = uploadIndices(starts);
    kernel("kiln_embedding_bag_forward").launch1d((long) bags * dim, out, argmax, weight, ids, s.address(), perSampleWeights,
        paddingIdx, mode, dim, (long) bags * dim);
    Reference.reachabilityFence(s);
  }

  /**
   * The gradients of a lookup ({@code mode} {@link #LOOKUP}, {@code starts} null) or of a bag
   * reduction: the table's added into {@code dw} (0 for none; the caller zeroes a fresh one), rows
   * of {@code paddingIdx} left alone; the per-sample weights' written to {@code ds} (0 for none).
   *
   * @param ids the ids as the host holds them (checked in range), one per entry
   * @param g the output's gradient, {@code [entries, dim]} for a lookup, {@code [bags, dim]} for bags
   * @param weight the table, read for {@code ds}
   * @param idsOnDevice the same ids on the device, read for {@code ds}
   * @param argmax max mode's entries, from {@link #bagForward}
   */
  public static void backward(long dw, long ds, long g, int[] ids, int[] starts, int paddingIdx, int mode, int dim, long weight,
      long idsOnDevice, long perSampleWeights, long argmax) {
    int count = ids.length;
    int bags = starts == null ? 0 : starts.length - 1;
    int[] entryBag = null;
    int[] bagCount = null;
    if (starts != null) { // which bag each entry is in (bags: in none, past include_last_offset's end) and each bag's count
      entryBag = new int[count];
      Arrays.fill(entryBag, bags);
      bagCount = new int[bags];
      for (int b = 0; b < bags; b++) {
        for (int e = starts[b]; e < starts[b + 1]; e++) {
          entryBag[e] = b;
          if (ids[e] != paddingIdx) {
            bagCount[b]++;
          }
        }
      }
    }
    // the entries that give the table a gradient, sorted by row, then position: (row << 32) | entry
    long[] keys = new long[count];
    int m = 0;
    if (dw != 0) {
      for (int e = 0; e < count; e++) {
        if (ids[e] != paddingIdx && (entryBag == null || entryBag[e] < bags)) {
          keys[m++] = ((long) ids[e] << 32) | e;
        }
      }
      Arrays.sort(keys, 0, m);
    }
    int segments = 0;
    for (int t = 0; t < m; t++) {
      if (t == 0 || keys[t] >>> 32 != keys[t - 1] >>> 32) {
        segments++;
      }
    }
    // one upload: rows[segments], segStarts[segments + 1], entries[m], entryBag[count], bagCount[bags]
    int rowsAt = 0, startsAt = segments, entriesAt = startsAt + segments + 1, bagAt = entriesAt + m, countAt = bagAt + (entryBag == null ? 0 : count);
    int[] table = new int[countAt + bags];
    int s = 0;
    for (int t = 0; t < m; t++) {
      int row = (int) (keys[t] >>> 32);
      if (t == 0 || row != (int) (keys[t - 1] >>> 32)) {
        table[rowsAt + s] = row;
        table[startsAt + s] = t;
        s++;
      }
      table[entriesAt + t] = (int) keys[t];
    }
    table[startsAt + segments] = m;
    if (entryBag != null) {
      System.arraycopy(entryBag, 0, table, bagAt, count);
      System.arraycopy(bagCount, 0, table, countAt, bags);
    }
    CudaBuffer t = uploadIndices(table);
    if (segments > 0) {
      kernel("kiln_embedding_backward").launch1d((long) segments * dim, dw, g, t.at(rowsAt), t.at(startsAt), t.at(entriesAt),
          entryBag == null ? 0L : t.at(bagAt), entryBag == null ? 0L : t.at(countAt), perSampleWeights, argmax, mode, dim,
          (long) segments * dim);
    }
    if (ds != 0) {
      kernel("kiln_embedding_bag_weights_backward").launch1d(count, ds, g, weight, idsOnDevice, t.at(bagAt), bags, paddingIdx, dim,
          (long) count);
    }
    Reference.reachabilityFence(t);
  }

  /**
   * Uploads ints in {@code [0, 0x7f800000)} without waiting, through the float upload ring: each
   * int's bits as a float's. Such an int is the bit pattern of a finite (or subnormal) float, never
   * a NaN, so {@link Float#intBitsToFloat} keeps its bits exactly (a NaN's payload might not
   * survive); ids and positions are far below the bound.
   */
  static CudaBuffer uploadIndices(int[] values) {
    float[] bits = new float[values.length];
    for (int i = 0; i < values.length; i++) {
      if (values[i] < 0 || values[i] >= 0x7f800000) {
        throw new IllegalArgumentException("EmbeddingKernels: index table entry " + i + " = " + values[i] + " is outside [0, 2^31 - 2^23)");
      }
      bits[i] = Float.intBitsToFloat(values[i]);
    }
    Cuda cuda = Cuda.get();
    CudaBuffer b = cuda.allocate(values.length);
    cuda.upload(bits, 0, b.address(), values.length);
    return b;
  }
}
