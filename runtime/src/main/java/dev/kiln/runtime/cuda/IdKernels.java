package dev.kiln.runtime.cuda;

import dev.kiln.runtime.cpu.IdKernels.Op;
import java.lang.ref.Reference;

/**
 * Integer arithmetic of ids on the GPU, the twin of {@code cpu.IdKernels}: {@code ids + c}, {@code ids // c}, {@code
 * ids.clamp(lo, hi)}, and ids with ids broadcast, a thread per element, each value computed in 64 bits as the CPU's
 * loop does ({@code floor_divide} and {@code remainder} rounding toward minus infinity, as {@code Math.floorDiv} and
 * {@code Math.floorMod}; add, sub and mul wrap as Java's longs). The operations are {@link Op}'s, by ordinal: the
 * switch below is generated from the enum, so the two sides cannot disagree on which is which.
 *
 * <p>A result past 2^24 in magnitude (which the float storage would round) or a division by zero sets a one-value
 * flag on the device instead of an error; the launcher reads it back (one small download, so one wait, as PyTorch's
 * {@code .item()}-like checks) and answers whether every value was good. The caller then redoes the op on the host,
 * whose loop throws the CPU's message naming the op, the value and its place: the error path only.
 */
public final class IdKernels {
  private IdKernels() {}

  /** Ranks the broadcast kernel takes; a higher-rank result is computed on the host (it never comes up). */
  public static final int MAX_RANK = 8;

  /** CUDA C of {@code a op b} for {@link Op} of ordinal {@code op}. */
  private static String expression(Op op) {
    return switch (op) {
      case ADD -> "(long long) ((unsigned long long) a + (unsigned long long) b)";
      case SUB -> "(long long) ((unsigned long long) a - (unsigned long long) b)";
      case MUL -> "(long long) ((unsigned long long) a * (unsigned long long) b)";
      case FLOOR_DIVIDE -> "b == 0 ? (*zero = 1, 0LL) : (a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0))";
      case REMAINDER -> "b == 0 ? (*zero = 1, 0LL) : (a % b + ((a % b != 0) && ((a % b < 0) != (b < 0)) ? b : 0))";
      case MAX -> "a > b ? a : b";
      case MIN -> "a < b ? a : b";
      case NEG -> "(long long) (0ULL - (unsigned long long) a)";
      case ABS -> "a < 0 ? (long long) (0ULL - (unsigned long long) a) : a";
    };
  }

  /** The CUDA C source, public so that a test can compile it without a GPU. */
  public static final String SOURCE = source();

  private static String source() {
    StringBuilder s = new StringBuilder("// generated from cpu.IdKernels.Op: case k is the op of ordinal k\n");
    s.append("__device__ long long kiln_id_apply(int op, long long a, long long b, int* zero) {\n  switch (op) {\n");
    for (Op op : Op.values()) {
      s.append("    case ").append(op.ordinal()).append(": return ").append(expression(op)).append("; // ").append(op).append('\n');
    }
    s.append("    default: return 0;\n  }\n}\n");
    s.append("""

        // the value as an id, or the flag set (a result past 2^24 in magnitude, or a division by zero) and 0
        __device__ __forceinline__ float kiln_id_checked(long long v, int zero, float* bad) {
          if (zero || v > (1LL << 24) || v < -(1LL << 24)) {
            bad[0] = 1.0f;
            return 0.0f;
          }
          return (float) v;
        }

        // out = min(x op c, c2) for n ids (c2 the largest long for no upper bound: clamp's two bounds are op MAX, then c2)
        extern "C" __global__ void kiln_ids_constant(float* out, const float* x, int op, long long c, long long c2, float* bad,
            long long n) {
          long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
          if (i >= n) return;
          int zero = 0;
          long long v = kiln_id_apply(op, (long long) x[i], c, &zero);
          out[i] = kiln_id_checked(v < c2 ? v : c2, zero, bad);
        }

        // out = a op b broadcast: table holds 3 ints per dimension of the result (its size, a's stride, b's stride; a
        // stride 0 where that operand repeats)
        extern "C" __global__ void kiln_ids_binary(float* out, const float* a, const float* b, const int* table, int rank, int op,
            float* bad, long long n) {
          long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
          if (i >= n) return;
          long long rest = i, ai = 0, bi = 0;
          for (int d = rank - 1; d >= 0; d--) {
            long long c = rest % table[3 * d];
            rest /= table[3 * d];
            ai += c * table[3 * d + 1];
            bi += c * table[3 * d + 2];
          }
          int zero = 0;
          long long v = kiln_id_apply(op, (long long) a[ai], (long long) b[bi], &zero);
          out[i] = kiln_id_checked(v, zero, bad);
        }
        """);
    return s.toString();
  }

  /**
   * {@code out[i] = min(x[i] op c, c2)} for {@code n} ids ({@code c2} {@link Long#MAX_VALUE} for no bound; the
   * caller has refused a constant divisor 0). Waits for the result's check.
   *
   * @return whether every value is an id (else the caller redoes the op on the host for its error)
   */
  public static boolean constant(Op op, long c, long c2, long out, long x, long n) {
    return checked(bad -> kernel("kiln_ids_constant").launch1d(n, out, x, op.ordinal(), c, c2, bad, n));
  }

  /**
   * {@code out = a op b} broadcast to {@code shape}, {@code aStrides} and {@code bStrides} each operand's strides over
   * the result's dimensions (0 where it repeats). Waits for the result's check.
   *
   * @return whether every value is an id and no divisor was 0 (else the caller redoes the op on the host)
   */
  public static boolean binary(Op op, long out, long a, long b, int[] shape, int[] aStrides, int[] bStrides) {
    if (shape.length > MAX_RANK) {
      throw new IllegalArgumentException("IdKernels.binary: rank " + shape.length + " is more than " + MAX_RANK);
    }
    long n = 1;
    int[] table = new int[3 * shape.length];
    for (int d = 0; d < shape.length; d++) {
      n *= shape[d];
      table[3 * d] = shape[d];
      table[3 * d + 1] = aStrides[d];
      table[3 * d + 2] = bStrides[d];
    }
    if (n == 0) {
      return true;
    }
    long count = n;
    CudaBuffer t = EmbeddingKernels.uploadIndices(table.length == 0 ? new int[] {1} : table);
    boolean ok = checked(bad -> kernel("kiln_ids_binary").launch1d(count, out, a, b, t.address(), shape.length, op.ordinal(), bad,
        count));
    Reference.reachabilityFence(t);
    return ok;
  }

  /** Runs {@code launch} with a zeroed one-value flag and reads it back: true when no thread set it. */
  private static boolean checked(java.util.function.LongConsumer launch) {
    Cuda cuda = Cuda.get();
    CudaBuffer flag = cuda.allocate(1);
    cuda.zero(flag.address(), 1);
    launch.accept(flag.address());
    float[] bad = new float[1];
    cuda.download(flag.address(), bad, 0, 1);
    Reference.reachabilityFence(flag);
    return bad[0] == 0f;
  }

  private static CudaKernel kernel(String name) {
    return CudaModule.of("kiln_ids.cu", SOURCE).kernel(name);
  }
}
