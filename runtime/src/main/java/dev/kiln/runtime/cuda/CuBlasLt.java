package dev.kiln.runtime.cuda;

import static org.bytedeco.cuda.global.cublas.CUBLASLT_EPILOGUE_RELU;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_EPILOGUE_RELU_BIAS;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_DESC_BIAS_POINTER;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_DESC_EPILOGUE;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_DESC_TRANSA;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_DESC_TRANSB;
import static org.bytedeco.cuda.global.cublas.CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES;
import static org.bytedeco.cuda.global.cublas.CUBLAS_COMPUTE_32F;
import static org.bytedeco.cuda.global.cublas.CUBLAS_OP_N;
import static org.bytedeco.cuda.global.cublas.CUBLAS_OP_T;
import static org.bytedeco.cuda.global.cublas.CUBLAS_STATUS_SUCCESS;
import static org.bytedeco.cuda.global.cudart.CUDA_R_32F;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.cuda.cublas.cublasLtContext;
import org.bytedeco.cuda.cublas.cublasLtMatmulAlgo_t;
import org.bytedeco.cuda.cublas.cublasLtMatmulDescOpaque_t;
import org.bytedeco.cuda.cublas.cublasLtMatmulHeuristicResult_t;
import org.bytedeco.cuda.cublas.cublasLtMatmulPreferenceOpaque_t;
import org.bytedeco.cuda.cublas.cublasLtMatrixLayoutOpaque_t;
import org.bytedeco.cuda.global.cublas;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.PointerPointer;

/**
 * A Linear layer's forward with its bias and ReLU in the GEMM's epilogue: one cuBLASLt call
 * ({@code CUBLASLT_EPILOGUE_RELU_BIAS}, or {@code _RELU} without a bias) instead of a GEMM and a
 * pass over its output. FP32 compute ({@code CUBLAS_COMPUTE_32F}: no TF32), like {@link CuBlas}.
 *
 * <p>Row-major {@code y[rows, out] = relu(x[rows, in] @ w[out, in]^T + bias)} is, in cuBLASLt's
 * column-major terms, {@code D[out, rows] = relu(op(A) B + bias)} with A = the weight's storage
 * seen as {@code [in, out]} (ld in) transposed, B = the input's storage seen as {@code [in, rows]}
 * (ld in), D the output seen as {@code [out, rows]} (ld out): the epilogue's bias has one value per
 * row of D, per output feature.
 *
 * <p>The descriptors, layouts and algorithm (the first the heuristic offers within
 * {@value #WORKSPACE_BYTES} bytes of workspace) are made once per shape. Where cuBLASLt offers no
 * algorithm, {@link #linearRelu} returns false and the caller runs a GEMM and its own epilogue;
 * {@code -Dkiln.cuda.cublaslt=false} makes it always do so.
 */
public final class CuBlasLt {
  private static final boolean ENABLED = !"false".equalsIgnoreCase(System.getProperty("kiln.cuda.cublaslt"));
  /** The workspace one product may use: 32 MiB, what NVIDIA suggests for Hopper. */
  static final long WORKSPACE_BYTES = 32L << 20;

  /**
   * The operand alignment the heuristic assumes by default (CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_*_BYTES):
   * fresh device buffers have it; a tensor at an offset in its storage may not, and goes to the fallback.
   */
  private static final long MIN_ALIGNMENT = 256;

  private static cublasLtContext handle;
  private static CudaBuffer workspace;
  private static final Map<List<Integer>, Plan> PLANS = new HashMap<>();
  private static final LongPointer BIAS = new LongPointer(1);

  private CuBlasLt() {}

  /** One shape's matmul description; {@code algo} null when cuBLASLt has none for it. */
  private record Plan(cublasLtMatmulDescOpaque_t desc, cublasLtMatrixLayoutOpaque_t a, cublasLtMatrixLayoutOpaque_t b,
      cublasLtMatrixLayoutOpaque_t d, cublasLtMatmulAlgo_t algo) {}

  /**
   * {@code y = relu(x @ w^T + bias)} in one call, bias 0 for none; false (nothing done) when
   * cuBLASLt is off or has no algorithm for the shape.
   */
  public static synchronized boolean linearRelu(long y, long x, long w, long bias, int rows, int in, int out) {
    if (!ENABLED || rows == 0 || ((x | w | y | bias) & (MIN_ALIGNMENT - 1)) != 0) {
      return false; // an operand at an offset in its buffer: the algorithm was chosen for 256-byte aligned ones
    }
    Plan p = plan(rows, in, out, bias != 0);
    if (p.algo == null) {
      return false;
    }
    if (bias != 0) {
      BIAS.put(0, bias);
      int status = cublas.cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, BIAS, Long.BYTES);
      if (status != CUBLAS_STATUS_SUCCESS) {
        check(describe(rows, in, out, true) + " bias pointer", status);
      }
    }
    int status = cublas.cublasLtMatmul(handle, p.desc, DeviceConstants.ONE, new DevicePointer(w), p.a, new DevicePointer(x), p.b,
        DeviceConstants.ZERO, new DevicePointer(y), p.d, new DevicePointer(y), p.d, p.algo,
        new DevicePointer(workspace.address()), WORKSPACE_BYTES, Cuda.get().stream());
    if (status != CUBLAS_STATUS_SUCCESS) { // the message is built only when needed: this runs every step
      check(describe(rows, in, out, bias != 0), status);
    }
    return true;
  }

  private static String describe(int rows, int in, int out, boolean bias) {
    return "cublasLtMatmul(relu" + (bias ? " + bias" : "") + ", " + rows + "x" + in + " @ " + in + "x" + out + ")";
  }

  private static Plan plan(int rows, int in, int out, boolean bias) {
    List<Integer> key = List.of(rows, in, out, bias ? 1 : 0);
    Plan p = PLANS.get(key);
    if (p != null) {
      return p;
    }
    if (handle == null) {
      cublasLtContext h = new cublasLtContext();
      check("cublasLtCreate", cublas.cublasLtCreate(h));
      workspace = Cuda.get().allocate(WORKSPACE_BYTES / Float.BYTES);
      handle = h;
    }
    String what = "cuBLASLt plan for " + rows + "x" + in + " @ " + in + "x" + out;
    cublasLtMatmulDescOpaque_t desc;
    try (PointerPointer<?> pp = new PointerPointer<>(1)) {
      check(what + ": cublasLtMatmulDescCreate", cublas.cublasLtMatmulDescCreate(pp, CUBLAS_COMPUTE_32F, CUDA_R_32F));
      desc = new cublasLtMatmulDescOpaque_t(pp.get(0));
    }
    setInt(desc, CUBLASLT_MATMUL_DESC_TRANSA, CUBLAS_OP_T, what);
    setInt(desc, CUBLASLT_MATMUL_DESC_TRANSB, CUBLAS_OP_N, what);
    setInt(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, bias ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_RELU, what);
    cublasLtMatrixLayoutOpaque_t a = layout(in, out, in, what);
    cublasLtMatrixLayoutOpaque_t b = layout(in, rows, in, what);
    cublasLtMatrixLayoutOpaque_t d = layout(out, rows, out, what);
    cublasLtMatmulAlgo_t algo = null;
    try (PointerPointer<?> pp = new PointerPointer<>(1);
         LongPointer bytes = new LongPointer(1);
         cublasLtMatmulHeuristicResult_t result = new cublasLtMatmulHeuristicResult_t(1);
         IntPointer found = new IntPointer(1)) {
      check(what + ": cublasLtMatmulPreferenceCreate", cublas.cublasLtMatmulPreferenceCreate(pp));
      cublasLtMatmulPreferenceOpaque_t preference = new cublasLtMatmulPreferenceOpaque_t(pp.get(0));
      bytes.put(0, WORKSPACE_BYTES);
      check(what + ": cublasLtMatmulPreferenceSetAttribute",
          cublas.cublasLtMatmulPreferenceSetAttribute(preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, bytes, Long.BYTES));
      int status = cublas.cublasLtMatmulAlgoGetHeuristic(handle, desc, a, b, d, d, preference, 1, result, found);
      if (status == CUBLAS_STATUS_SUCCESS && found.get(0) > 0 && result.state() == CUBLAS_STATUS_SUCCESS) {
        // a copy that outlives the result array
        algo = new cublasLtMatmulAlgo_t();
        org.bytedeco.javacpp.Pointer.memcpy(algo, result.algo(), algo.sizeof());
      }
      cublas.cublasLtMatmulPreferenceDestroy(preference);
    }
    p = new Plan(desc, a, b, d, algo);
    PLANS.put(key, p);
    return p;
  }

  private static cublasLtMatrixLayoutOpaque_t layout(long rows, long cols, long ld, String what) {
    try (PointerPointer<?> pp = new PointerPointer<>(1)) {
      check(what + ": cublasLtMatrixLayoutCreate(" + rows + ", " + cols + ", ld " + ld + ")",
          cublas.cublasLtMatrixLayoutCreate(pp, CUDA_R_32F, rows, cols, ld));
      return new cublasLtMatrixLayoutOpaque_t(pp.get(0));
    }
  }

  private static void setInt(cublasLtMatmulDescOpaque_t desc, int attribute, int value, String what) {
    try (IntPointer v = new IntPointer(1)) {
      v.put(0, value);
      check(what + ": cublasLtMatmulDescSetAttribute(" + attribute + ")", cublas.cublasLtMatmulDescSetAttribute(desc, attribute, v, Integer.BYTES));
    }
  }

  private static void check(String call, int status) {
    Cuda.checkCublas(call, status);
  }
}
