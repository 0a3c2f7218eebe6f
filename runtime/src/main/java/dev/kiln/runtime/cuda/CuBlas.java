package dev.kiln.runtime.cuda;

import org.bytedeco.cuda.cublas.cublasContext;
import org.bytedeco.cuda.global.cublas;

/**
 * cuBLAS for the layers: the row-major matrix product of {@link dev.kiln.runtime.cpu.Blas#sgemm}
 * on device memory, and the two vector operations a linear layer's bias needs (add to every row,
 * sum the rows), done as products with a vector of ones so that no kernel of Kiln's own is needed.
 *
 * <p>Matrices are addresses of row-major floats. cuBLAS is column-major, and a row-major
 * {@code r x c} matrix is, read column-major, its {@code c x r} transpose; so the row-major
 * {@code C = op(A) op(B)} is computed as the column-major {@code C^T = op(B)^T op(A)^T}: the
 * operands swap places, as do {@code m} and {@code n}, and each keeps its own transpose flag and
 * leading dimension. Products run in plain FP32 ({@code CUBLAS_DEFAULT_MATH}, set by
 * {@link Cuda}), with {@code alpha}/{@code beta} read from host memory. Calls are queued on the
 * device's stream and return at once.
 */
public final class CuBlas {
  private static cublasContext configured;

  private CuBlas() {}

  /** The handle, its pointer mode set to host once (the scalars below live in host memory). */
  private static cublasContext handle() {
    cublasContext h = Cuda.get().cublas();
    if (configured != h) {
      Cuda.checkCublas("cublasSetPointerMode(host)", cublas.cublasSetPointerMode_v2(h, cublas.CUBLAS_POINTER_MODE_HOST));
      configured = h;
    }
    return h;
  }

  /**
   * {@code C[m x n] = alpha * op(A)[m x k] * op(B)[k x n] + beta * C}, all row-major with leading
   * dimensions {@code lda, ldb, ldc}, {@code op(X)} being X or its transpose: exactly
   * {@link dev.kiln.runtime.cpu.Blas#sgemm}'s contract, on device addresses. With {@code beta = 0}
   * C is not read (it may hold anything, NaN included).
   */
  public static void sgemm(
      boolean transA, boolean transB, int m, int n, int k, float alpha,
      long a, int lda, long b, int ldb, float beta, long c, int ldc) {
    if (m == 0 || n == 0) {
      return;
    }
    if (k == 0) {
      // Nothing to multiply, C = beta * C; cuBLAS itself would reject the leading dimension 0.
      scaleRows(c, m, n, ldc, beta);
      return;
    }
    // Column-major: C^T[n x m] = op(B)^T[n x k] * op(A)^T[k x m]. A row-major operand read
    // column-major is already transposed, so each keeps its flag.
    Cuda.checkCublas("cublasSgemm(" + m + "x" + k + (transA ? "^T" : "") + " @ " + k + "x" + n + (transB ? "^T" : "") + ")",
        cublas.cublasSgemm_v2(handle(), op(transB), op(transA), n, m, k,
            DeviceConstants.scalar(alpha), DevicePointer.floats(b), ldb, DevicePointer.floats(a), lda,
            DeviceConstants.scalar(beta), DevicePointer.floats(c), ldc));
  }

  /**
   * {@link #sgemm} over {@code count} matrices at once ({@code cublasSgemmStridedBatched}): the i-th
   * product reads A at {@code a + i * strideA} floats and B at {@code b + i * strideB}, and writes
   * C at {@code c + i * strideC}.
   */
  public static void sgemmStridedBatched(
      boolean transA, boolean transB, int m, int n, int k, float alpha,
      long a, int lda, long strideA, long b, int ldb, long strideB, float beta, long c, int ldc, long strideC, int count) {
    if (m == 0 || n == 0 || count == 0) {
      return;
    }
    if (k == 0) {
      for (int i = 0; i < count; i++) {
        scaleRows(c + 4L * strideC * i, m, n, ldc, beta);
      }
      return;
    }
    // Column-major, as sgemm: C^T = op(B)^T op(A)^T, each operand keeping its flag.
    Cuda.checkCublas("cublasSgemmStridedBatched(" + count + " x " + m + "x" + k + (transA ? "^T" : "") + " @ " + k + "x" + n
        + (transB ? "^T" : "") + ")",
        cublas.cublasSgemmStridedBatched(handle(), op(transB), op(transA), n, m, k,
            DeviceConstants.scalar(alpha), DevicePointer.floats(b), ldb, strideB, DevicePointer.floats(a), lda, strideA,
            DeviceConstants.scalar(beta), DevicePointer.floats(c), ldc, strideC, count));
  }

  /**
   * {@code out[r, j] += bias[j]} for a row-major {@code out[rows x cols]} (contiguous), as the
   * rank-1 update {@code out += ones[rows] (x) bias[cols]}.
   */
  public static void addBiasRows(long out, long bias, int rows, int cols) {
    if (rows == 0 || cols == 0) {
      return;
    }
    // Column-major, out is out^T[cols x rows] (ld cols): out^T += bias * ones^T.
    Cuda.checkCublas("cublasSger(bias " + cols + " to " + rows + " rows)",
        cublas.cublasSger_v2(handle(), cols, rows, DeviceConstants.ONE,
            DevicePointer.floats(bias), 1, DevicePointer.floats(DeviceConstants.ones(rows)), 1, DevicePointer.floats(out), cols));
  }

  /**
   * The column sums of a row-major {@code g[rows x cols]} (contiguous): {@code sums[j] = sum over
   * r of g[r, j]}, written ({@code accumulate} false) or added to {@code sums}. The bias gradient
   * of a linear layer.
   */
  public static void columnSums(long sums, long g, int rows, int cols, boolean accumulate) {
    if (cols == 0) {
      return;
    }
    if (rows == 0) {
      // BLAS returns early on an empty product without scaling y, so a fresh result is zeroed here.
      if (!accumulate) {
        Cuda.get().zero(sums, cols);
      }
      return;
    }
    // Column-major, g is g^T[cols x rows] (ld cols): sums = g^T * ones[rows].
    Cuda.checkCublas("cublasSgemv(sums of " + rows + " rows of " + cols + ")",
        cublas.cublasSgemv_v2(handle(), cublas.CUBLAS_OP_N, cols, rows, DeviceConstants.ONE,
            DevicePointer.floats(g), cols, DevicePointer.floats(DeviceConstants.ones(rows)), 1,
            accumulate ? DeviceConstants.ONE : DeviceConstants.ZERO, DevicePointer.floats(sums), 1));
  }

  /** {@code C = beta * C} for a row-major {@code m x n} block with leading dimension {@code ldc}. */
  private static void scaleRows(long c, int m, int n, int ldc, float beta) {
    if (beta == 1f) {
      return;
    }
    boolean whole = ldc == n && (long) m * n <= Integer.MAX_VALUE;
    int rows = whole ? 1 : m;
    long count = whole ? (long) m * n : n;
    for (int r = 0; r < rows; r++) {
      long row = c + (long) r * ldc * Float.BYTES;
      if (beta == 0f) {
        Cuda.get().zero(row, count); // not 0 * C: C may hold NaN
      } else {
        Cuda.checkCublas("cublasSscal", cublas.cublasSscal_v2(handle(), (int) count, DeviceConstants.scalar(beta), DevicePointer.floats(row), 1));
      }
    }
  }

  private static int op(boolean trans) {
    return trans ? cublas.CUBLAS_OP_T : cublas.CUBLAS_OP_N;
  }
}
