package dev.kiln.runtime.cpu;

import java.lang.System.Logger.Level;
import dev.kiln.runtime.Tensor;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.openblas.global.openblas_nolapack;

/**
 * Single-precision matrix multiply, row-major: {@code C = alpha * op(A) * op(B) + beta * C}.
 *
 * <p>Runs OpenBLAS {@code cblas_sgemm} through the JavaCPP preset when its natives load, and a
 * pure-Java kernel otherwise (announced with one log line). Tensors live on the Java heap, and
 * JNI copies whole {@code float[]} arguments in and out on every call (measured 2-4x slower than
 * native pointers, see docs/benchmarks.md); so the arrays are staged through per-thread off-heap
 * buffers, copying each operand once and only the result back.
 *
 * <p>Threads: OpenBLAS runs single-threaded and large products are split into blocks of C over
 * {@link Parallel}'s threads ({@code kiln.threads}, default all processors), the same threads
 * that run Kiln's other kernels. Letting OpenBLAS thread itself was measured worse: its workers
 * spin after each call and took the second core from the Java kernels that followed.
 */
public final class Blas {
  private static final System.Logger LOG = System.getLogger("dev.kiln.runtime");
  private static final boolean NATIVE = loadNative();
  private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);
  /** Columns (or rows) of C per unit of a split product. */
  private static final int PANEL = 16;
  /**
   * Multiply-adds that count as one element of {@link Parallel#forRange}'s work: splitting pays
   * from about 2M multiply-adds (a 64x64x512 product), where a hand-off costs a few percent.
   */
  private static final int GEMM_WORK_SCALE = 64;

  private Blas() {}

  private static boolean loadNative() {
    String choice = System.getProperty("kiln.blas", "openblas");
    if (choice.equals("java")) {
      LOG.log(Level.INFO, "Kiln: matrix multiply uses the pure-Java kernel (-Dkiln.blas=java)");
      return false;
    }
    try {
      Loader.load(openblas_nolapack.class);
      openblas_nolapack.blas_set_num_threads(1); // Kiln splits products over its own threads (Parallel)
      return true;
    } catch (Throwable t) {
      LOG.log(Level.WARNING, "Kiln: OpenBLAS natives did not load (" + t + "); matrix multiply falls back to pure Java, expect it to be several times slower");
      return false;
    }
  }

  /** Whether OpenBLAS is in use (false means the pure-Java fallback). */
  public static boolean isNative() {
    return NATIVE;
  }

  /** Short description for benchmark tables, e.g. {@code "OpenBLAS, 2 threads"}. */
  public static String describe() {
    if (!NATIVE) {
      return "pure Java";
    }
    return "OpenBLAS, " + Parallel.threads() + (Parallel.threads() == 1 ? " thread" : " threads");
  }

  /**
   * {@code C[m x n] = alpha * op(A)[m x k] * op(B)[k x n] + beta * C}, all row-major with leading
   * dimensions {@code lda, ldb, ldc}. {@code op(X)} is X or its transpose.
   */
  public static void sgemm(
      boolean transA, boolean transB, int m, int n, int k, float alpha,
      float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
      float beta, float[] c, int cOff, int ldc) {
    if (m == 0 || n == 0) {
      return;
    }
    if (NATIVE) {
      nativeSgemm(transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
    } else {
      javaSgemm(transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
    }
  }

  /**
   * As {@link #sgemm(boolean, boolean, int, int, int, float, float[], int, int, float[], int, int, float, float[], int, int)}
   * with {@code B} a tensor (a weight): OpenBLAS reads the tensor's native copy, which stays current
   * across steps when the optimizer updates it natively, so the weight is not copied per call.
   */
  public static void sgemm(
      boolean transA, boolean transB, int m, int n, int k, float alpha,
      float[] a, int aOff, int lda, Tensor b, int ldb,
      float beta, float[] c, int cOff, int ldc) {
    if (m == 0 || n == 0) {
      return;
    }
    if (!NATIVE) {
      javaSgemm(transA, transB, m, n, k, alpha, a, aOff, lda, b.readBuffer(), b.offset(), ldb, beta, c, cOff, ldc);
      return;
    }
    Scratch s = SCRATCH.get();
    FloatPointer pa = stage(s, true, a, aOff, span("A", a, aOff, transA ? k : m, transA ? m : k, lda));
    FloatPointer pc = stageC(c, cOff, m, n, ldc, beta, s);
    gemm(transA, transB, m, n, k, alpha, pa, lda, b.readNative().getPointer(b.offset()), ldb, beta, pc, ldc);
    pc.get(c, cOff, span("C", c, cOff, m, n, ldc));
  }

  /**
   * A linear layer's forward, {@code out[rows x outF] = x[rows x in] * weight[outF x in]^T + bias} ({@code bias} null:
   * none), {@code out} contiguous. With OpenBLAS and {@code in <= }{@link #BIAS_IN_PRODUCT_MAX_K}, the bias rows are
   * written into the staged product first and OpenBLAS adds the product to them ({@code beta = 1}, which also spares
   * its zeroing pass over C), instead of a pass of {@link CpuKernels#addBiasRows} after it: the same bits, since
   * OpenBLAS sums each element's k in one pass there and adds it to C in one rounding, as {@code addBiasRows} adds the
   * bias (BlasTest checks both ways bit for bit). Eager {@code linear} and compiled Linear layers both call this.
   */
  public static void linear(int rows, int outF, int in, float[] x, int xOff, Tensor weight, float[] bias, int biasOff,
      float[] out, int outOff) {
    if (bias == null || !NATIVE || in > BIAS_IN_PRODUCT_MAX_K || rows == 0 || outF == 0) {
      sgemm(false, true, rows, outF, in, 1f, x, xOff, in, weight, in, 0f, out, outOff, outF);
      if (bias != null) {
        CpuKernels.addBiasRows(out, outOff, out, outOff, bias, biasOff, rows, outF);
      }
      return;
    }
    Scratch s = SCRATCH.get();
    FloatPointer pa = stage(s, true, x, xOff, span("A", x, xOff, rows, in, in));
    int len = span("C", out, outOff, rows, outF, outF);
    if (biasOff < 0 || outF > bias.length - biasOff) {
      throw new IndexOutOfBoundsException("linear: bias of " + outF + " floats from offset " + biasOff + ", but its array holds "
          + bias.length);
    }
    FloatPointer pc = s.c(len);
    pc.put(bias, biasOff, outF);
    for (long filled = outF; filled < len; filled *= 2) { // the first row doubled until C holds a bias row per row
      Pointer.memcpy(pc.getPointer(filled), pc, Float.BYTES * Math.min(filled, len - filled));
    }
    gemm(false, true, rows, outF, in, 1f, pa, in, weight.readNative().getPointer(weight.offset()), in, 1f, pc, outF);
    pc.get(out, outOff, len);
  }

  /**
   * A compiled linear layer's two products from the gradient {@code g[rows x outF]} of its output, {@code g} staged to
   * native memory once for both (two {@link #sgemm} calls would stage it twice): the weight's gradient {@code gw +=
   * g^T x} unless {@code gw} is null, then the input's {@code dx = g weight + beta dx} unless {@code dx} is null. The
   * same products, split as {@link #sgemm}'s, so the same bits; over more than one block of rows into a gradient
   * already written, the weight's product made alone and then added, eager mode's order.
   */
  public static void linearBackward(int rows, int outF, int in, float[] g, int gOff, float[] x, int xOff, Tensor gw,
      Tensor weight, float beta, float[] dx, int dxOff) {
    if (gw == null && dx == null) {
      return;
    }
    if (rows == 0 || outF == 0 || in == 0) {
      if (dx != null && beta == 0f) {
        java.util.Arrays.fill(dx, dxOff, dxOff + rows * in, 0f); // as sgemm with k = 0: C = beta C
      }
      return;
    }
    if (gw != null && !addsAsMadeAlone(dev.kiln.runtime.Compiled.isKnownZero(gw), rows)) {
      // rows over more than one block into a gradient already written (a layer's later use in the same backward, or
      // gradients accumulated over calls): the product made alone and then added, as eager mode's engine adds a
      // fresh gradient (Tensor.gradientToAddInto), not each block's sum added to the gradient in turn
      float[] fresh = new float[outF * in];
      sgemm(true, false, outF, in, rows, 1f, g, gOff, outF, x, xOff, in, 0f, fresh, 0, in);
      CpuKernels.accumulate(gw.buffer(), gw.offset(), fresh, 0, outF * in);
      gw = null;
      if (dx == null) {
        return;
      }
    }
    if (!NATIVE) {
      if (gw != null) {
        sgemm(true, false, outF, in, rows, 1f, g, gOff, outF, x, xOff, in, 1f, gw, in);
      }
      if (dx != null) {
        sgemm(false, false, rows, in, outF, 1f, g, gOff, outF, weight, in, beta, dx, dxOff, in);
      }
      return;
    }
    Scratch s = SCRATCH.get();
    FloatPointer pg = stage(s, true, g, gOff, span("A", g, gOff, rows, outF, outF));
    if (gw != null) {
      FloatPointer px = stage(s, false, x, xOff, span("B", x, xOff, rows, in, in));
      gemm(true, false, outF, in, rows, 1f, pg, outF, px, in, 1f, gw.writeNative().getPointer(gw.offset()), in);
    }
    if (dx != null) {
      FloatPointer pc = stageC(dx, dxOff, rows, in, in, beta, s);
      gemm(false, false, rows, in, outF, 1f, pg, outF, weight.readNative().getPointer(weight.offset()), in, beta, pc, in);
      pc.get(dx, dxOff, span("C", dx, dxOff, rows, in, in));
    }
  }

  /**
   * The largest k for which {@link #linear} folds the bias into the product: up to there OpenBLAS 0.3.31 (the
   * preset's, on x86-64) computes each element's k in one block, so {@code bias + product} rounds once, as the
   * separate pass does; with k split into blocks each block's sum would be added to C in turn. Measured here (AVX-512):
   * bit-equal up to k = 400, not from 512; kept at 256, inside every x86 target's block. Eager and compiled layers call
   * the same method, so their parity holds either way. Folded, a [1024, 64] x [64, 192] product and its bias took 242
   * us where the product and the separate pass took 302 (one thread).
   */
  static final int BIAS_IN_PRODUCT_MAX_K = 256;

  /**
   * Whether OpenBLAS sums an inner dimension of {@code k} in one block ({@link #BIAS_IN_PRODUCT_MAX_K}), so that
   * {@code C += A B} ({@code beta = 1}) rounds as the product computed alone and then added to C.
   */
  public static boolean oneBlock(int k) {
    return k <= BIAS_IN_PRODUCT_MAX_K;
  }

  /**
   * Whether {@code C += A B} ({@code beta = 1}) over an inner dimension of {@code k} rounds as eager mode's engine adds a
   * gradient made alone ({@code C + (A B)}): when C holds only +0 ({@code cKnownZero}: {@code 0 + s} is {@code s} for
   * every block's sum) or k is {@link #oneBlock}. The one rule for eager linear layers ({@code
   * Tensor.gradientToAddInto}) and compiled ones ({@link #linearBackward}), so both keep eager's bits.
   */
  public static boolean addsAsMadeAlone(boolean cKnownZero, int k) {
    return cKnownZero || oneBlock(k);
  }

  /**
   * As {@link #sgemm(boolean, boolean, int, int, int, float, float[], int, int, float[], int, int, float, float[], int, int)}
   * with {@code C} a tensor (a weight gradient), written in its native copy: the optimizer then
   * reads it there without a copy.
   */
  public static void sgemm(
      boolean transA, boolean transB, int m, int n, int k, float alpha,
      float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
      float beta, Tensor c, int ldc) {
    if (m == 0 || n == 0) {
      return;
    }
    if (!NATIVE) {
      javaSgemm(transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c.buffer(), c.offset(), ldc);
      return;
    }
    Scratch s = SCRATCH.get();
    FloatPointer pa = stage(s, true, a, aOff, span("A", a, aOff, transA ? k : m, transA ? m : k, lda));
    FloatPointer pb = stage(s, false, b, bOff, span("B", b, bOff, transB ? n : k, transB ? k : n, ldb));
    gemm(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, c.writeNative().getPointer(c.offset()), ldc);
  }

  /**
   * {@code into} (grown, or made when null) holding a native copy of {@code len} floats of {@code x} from {@code off}: an
   * operand that many products read, staged once for all of them (a Winograd layer's transformed filters, which every
   * chunk's 16 products read). Requires {@link #isNative()}; the caller keeps the pointer (and closes it when done).
   */
  public static FloatPointer toNative(FloatPointer into, float[] x, int off, int len) {
    span("A", x, off, 1, len, len);
    FloatPointer p = Scratch.ensure(into, len);
    p.put(x, off, len);
    return p;
  }

  /**
   * As {@link #sgemm(boolean, boolean, int, int, int, float, float[], int, int, float[], int, int, float, float[], int, int)}
   * with A already native ({@link #toNative}), from element {@code aOff}: the same OpenBLAS call on the same values, so
   * the same bits. Requires {@link #isNative()}.
   */
  public static void sgemm(
      boolean transA, boolean transB, int m, int n, int k, float alpha,
      FloatPointer a, long aOff, int lda, float[] b, int bOff, int ldb,
      float beta, float[] c, int cOff, int ldc) {
    if (m == 0 || n == 0) {
      return;
    }
    Scratch s = SCRATCH.get();
    FloatPointer pb = stage(s, false, b, bOff, span("B", b, bOff, transB ? n : k, transB ? k : n, ldb));
    FloatPointer pc = stageC(c, cOff, m, n, ldc, beta, s);
    gemm(transA, transB, m, n, k, alpha, a.getPointer(aOff), lda, pb, ldb, beta, pc, ldc);
    pc.get(c, cOff, span("C", c, cOff, m, n, ldc));
  }

  /**
   * As {@link #sgemm(boolean, boolean, int, int, int, float, float[], int, int, float[], int, int, float, float[], int, int)}
   * with C native, from element {@code cOff} ({@link #toNative}; its {@code m} rows of {@code ldc} floats the caller's to
   * size): a sum of products kept there over many calls ({@code beta = 1}) and copied back once, the same OpenBLAS
   * calls on the same values as with C copied in and out each time, so the same bits. Requires {@link #isNative()}.
   */
  public static void sgemm(
      boolean transA, boolean transB, int m, int n, int k, float alpha,
      float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
      float beta, FloatPointer c, long cOff, int ldc) {
    if (m == 0 || n == 0) {
      return;
    }
    Scratch s = SCRATCH.get();
    FloatPointer pa = stage(s, true, a, aOff, span("A", a, aOff, transA ? k : m, transA ? m : k, lda));
    FloatPointer pb = stage(s, false, b, bOff, span("B", b, bOff, transB ? n : k, transB ? k : n, ldb));
    gemm(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, c.getPointer(cOff), ldc);
  }

  /**
   * As {@link #sgemm(boolean, boolean, int, int, int, float, float[], int, int, float[], int, int, float, float[], int, int)}
   * with all three operands native, from their pointers' starts: operands the caller wrote there itself (a one-row
   * convolution's columns, {@code RowConv}), split and computed as that method computes them, so the same bits.
   * Requires {@link #isNative()}.
   */
  public static void sgemm(
      boolean transA, boolean transB, int m, int n, int k, float alpha,
      FloatPointer a, int lda, FloatPointer b, int ldb, float beta, FloatPointer c, int ldc) {
    if (m == 0 || n == 0) {
      return;
    }
    gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }

  /**
   * {@code count} products {@code C[i] = alpha * op(A[i]) * op(B[i]) + beta * C[i]} of contiguous
   * row-major matrices {@code strideA}, {@code strideB} and {@code strideC} floats apart: C[i] is
   * {@code m x n}, op(A[i]) {@code m x k} (A[i] stored {@code k x m} when {@code transA}), op(B[i])
   * {@code k x n} (B[i] stored {@code n x k} when {@code transB}). A batched matmul's forward and
   * both gradients: a transposed operand is a flag, not a copy. Each operand is staged to native
   * memory once for the whole batch; the products are shared among the cores (each one
   * single-threaded OpenBLAS call, so results do not depend on the split), or, when there are
   * too few to share, each split as {@link #sgemm} splits one. {@code strideA} or {@code strideB} may be 0: one matrix
   * in every product (a compiled {@code w.matmul(x)}'s weight, staged once).
   */
  public static void sgemmBatched(
      int count, boolean transA, boolean transB, int m, int n, int k, float alpha,
      float[] a, int aOff, int strideA, float[] b, int bOff, int strideB,
      float beta, float[] c, int cOff, int strideC) {
    if (count == 0 || m == 0 || n == 0) {
      return;
    }
    int lda = transA ? m : k, ldb = transB ? k : n;
    long work = 2L * count * m * n * Math.max(k, 1);
    if (!NATIVE) {
      Parallel.forRange(count, work, (part, from, to) -> {
        for (int i = from; i < to; i++) {
          javaSgemm(transA, transB, m, n, k, alpha, a, aOff + i * strideA, lda, b, bOff + i * strideB, ldb,
              beta, c, cOff + i * strideC, n);
        }
      });
      return;
    }
    Scratch s = SCRATCH.get();
    FloatPointer pa = stage(s, true, a, aOff, batchSpan("A", a, aOff, count, strideA, (long) m * k));
    FloatPointer pb = stage(s, false, b, bOff, batchSpan("B", b, bOff, count, strideB, (long) k * n));
    int cLen = batchSpan("C", c, cOff, count, strideC, (long) m * n);
    FloatPointer pc = s.c(cLen);
    if (beta != 0f || strideC != m * n) { // C is read, or its gaps between matrices must survive the copy back
      pc.put(c, cOff, cLen);
    }
    Parallel.forRange(count, work / GEMM_WORK_SCALE, (part, from, to) -> {
      // three views per part, moved along the batch (JavaCPP passes address + position): getPointer made three
      // pointer objects per product, thousands per training step of a transformer's per-head products
      FloatPointer va = new FloatPointer(pa), vb = new FloatPointer(pb), vc = new FloatPointer(pc);
      for (int i = from; i < to; i++) {
        gemm(transA, transB, m, n, k, alpha, va.position((long) i * strideA), lda, vb.position((long) i * strideB), ldb,
            beta, vc.position((long) i * strideC), n);
      }
    });
    pc.get(c, cOff, cLen);
  }

  /**
   * {@code count} products {@code C[i] = alpha * op(A[i]) * op(B[i])} (beta 0) of row-major matrices anywhere in
   * their arrays: A[i] starts at {@code a[aOffs[i]]} with leading dimension {@code lda}, B[i] and C[i] alike. For
   * eager matmul over permuted operands read in place ({@code q.matmul(k.transpose(-2, -1))} over the heads of a
   * {@code [N, S, H, D]} projection: one product per head of each sample, rows {@code H * D} apart), and their
   * gradients written in the source's layout. {@code [aBase, aBase + aLen)} holds every A[i] (staged to native memory
   * once), B alike; C's matrices cover {@code [cBase, cBase + cLen)} whole (it is not read). Shared among the cores as
   * {@link #sgemmBatched} shares its products, each one single-threaded OpenBLAS call.
   */
  public static void sgemmAt(int count, boolean transA, boolean transB, int m, int n, int k, float alpha,
      float[] a, int aBase, int aLen, int[] aOffs, int lda, float[] b, int bBase, int bLen, int[] bOffs, int ldb,
      float[] c, int cBase, int cLen, int[] cOffs, int ldc) {
    if (count == 0 || m == 0 || n == 0) {
      return;
    }
    for (int i = 0; i < count; i++) { // the copies to and from native memory do not check bounds
      within("A", aOffs[i], transA ? k : m, transA ? m : k, lda, aBase, aLen);
      within("B", bOffs[i], transB ? n : k, transB ? k : n, ldb, bBase, bLen);
      within("C", cOffs[i], m, n, ldc, cBase, cLen);
    }
    long work = 2L * count * m * n * Math.max(k, 1);
    if (!NATIVE) {
      Parallel.forRange(count, work, (part, from, to) -> {
        for (int i = from; i < to; i++) {
          javaSgemm(transA, transB, m, n, k, alpha, a, aOffs[i], lda, b, bOffs[i], ldb, 0f, c, cOffs[i], ldc);
        }
      });
      return;
    }
    Scratch s = SCRATCH.get();
    FloatPointer pa = stage(s, true, a, aBase, span("A", a, aBase, 1, aLen, aLen));
    FloatPointer pb = stage(s, false, b, bBase, span("B", b, bBase, 1, bLen, bLen));
    span("C", c, cBase, 1, cLen, cLen);
    FloatPointer pc = s.c(cLen);
    Parallel.forRange(count, work / GEMM_WORK_SCALE, (part, from, to) -> {
      FloatPointer va = new FloatPointer(pa), vb = new FloatPointer(pb), vc = new FloatPointer(pc);
      for (int i = from; i < to; i++) {
        gemm(transA, transB, m, n, k, alpha, va.position(aOffs[i] - aBase), lda, vb.position(bOffs[i] - bBase), ldb,
            0f, vc.position(cOffs[i] - cBase), ldc);
      }
    });
    pc.get(c, cBase, cLen);
  }

  /** Checks that a {@code rows x cols} operand at {@code off} (leading dimension {@code ld}) lies in {@code [base, base + len)}. */
  private static void within(String operand, int off, int rows, int cols, int ld, int base, int len) {
    if (rows == 0 || cols == 0) {
      return;
    }
    long end = (long) off + (long) (rows - 1) * ld + cols;
    if (off < base || end > (long) base + len || ld < cols) {
      throw new IndexOutOfBoundsException("sgemmAt: " + operand + " (" + rows + " x " + cols + ", leading dimension " + ld
          + ") at " + off + " is not inside [" + base + ", " + ((long) base + len) + ")");
    }
  }

  /**
   * Elements spanned by {@code count} matrices of {@code size} floats {@code stride} apart, checked as {@link #span}; an
   * operand A or B may have stride 0 (one matrix read for every product: a weight repeated over the batch), C may not.
   */
  private static int batchSpan(String operand, float[] x, int off, int count, int stride, long size) {
    if (size == 0) {
      return 0;
    }
    long len = (long) (count - 1) * stride + size;
    boolean repeated = stride == 0 && !operand.equals("C");
    if (off < 0 || stride < size && !repeated || len > x.length - (long) off) {
      throw new IndexOutOfBoundsException("sgemmBatched: " + operand + " (" + count + " matrices of " + size + " floats, "
          + stride + " apart) spans " + len + " floats from offset " + off + ", but its array holds " + x.length);
    }
    return (int) len;
  }

  /** {@code y += alpha * x} over {@code n} native values (BLAS saxpy); requires {@link #isNative()}. */
  public static void axpy(int n, float alpha, FloatPointer x, FloatPointer y) {
    openblas_nolapack.cblas_saxpy(n, alpha, x, 1, y, 1);
  }

  /** {@code y = x} over {@code n} native values (BLAS scopy); requires {@link #isNative()}. */
  public static void copy(int n, FloatPointer x, FloatPointer y) {
    openblas_nolapack.cblas_scopy(n, x, 1, y, 1);
  }

  /** {@code x *= alpha} over {@code n} native values (BLAS sscal); requires {@link #isNative()}. */
  public static void scale(int n, float alpha, FloatPointer x) {
    openblas_nolapack.cblas_sscal(n, alpha, x, 1);
  }

  private static int op(boolean trans) {
    return trans ? openblas_nolapack.CblasTrans : openblas_nolapack.CblasNoTrans;
  }

  /**
   * Elements spanned by a {@code rows x cols} row-major operand with leading dimension {@code ld},
   * checked to lie inside {@code x} from {@code off}: the copies to and from native memory do not
   * check bounds, so a wrong size would otherwise write past the array.
   */
  private static int span(String operand, float[] x, int off, int rows, int cols, int ld) {
    if (rows == 0 || cols == 0) {
      return 0;
    }
    long len = (long) (rows - 1) * ld + cols;
    if (off < 0 || len > x.length - (long) off) {
      throw new IndexOutOfBoundsException("sgemm: " + operand + " (" + rows + " x " + cols + ", leading dimension "
          + ld + ") spans " + len + " floats from offset " + off + ", but its array holds " + x.length);
    }
    return (int) len;
  }

  /** Copies {@code len} values of an operand into scratch A ({@code a == true}) or B. */
  private static FloatPointer stage(Scratch s, boolean a, float[] x, int off, int len) {
    FloatPointer into = a ? s.a(len) : s.b(len);
    into.put(x, off, len);
    return into;
  }

  private static FloatPointer stageC(float[] c, int cOff, int m, int n, int ldc, float beta, Scratch s) {
    int len = span("C", c, cOff, m, n, ldc);
    FloatPointer pc = s.c(len);
    if (beta != 0f || ldc != n) { // C is read, or its gaps between rows must survive the copy back
      pc.put(c, cOff, len);
    }
    return pc;
  }

  private static void nativeSgemm(
      boolean transA, boolean transB, int m, int n, int k, float alpha,
      float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
      float beta, float[] c, int cOff, int ldc) {
    Scratch s = SCRATCH.get();
    FloatPointer pa = stage(s, true, a, aOff, span("A", a, aOff, transA ? k : m, transA ? m : k, lda));
    FloatPointer pb = stage(s, false, b, bOff, span("B", b, bOff, transB ? n : k, transB ? k : n, ldb));
    FloatPointer pc = stageC(c, cOff, m, n, ldc, beta, s);
    gemm(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
    pc.get(c, cOff, span("C", c, cOff, m, n, ldc));
  }

  /**
   * One product on native operands, split over {@link Parallel}'s threads when it is large: the
   * rows of C (when it has more rows than columns) or its columns, in blocks of whole 16-float
   * panels, each part a single-threaded OpenBLAS call on its own block of C. Each element of C is
   * still computed by one call over all of k, and the split depends only on the sizes, so results
   * are reproducible.
   */
  private static void gemm(
      boolean transA, boolean transB, int m, int n, int k, float alpha,
      FloatPointer a, int lda, FloatPointer b, int ldb, float beta, FloatPointer c, int ldc) {
    if (Parallel.busy()) { // inside a kernel's part (or another thread's region): one call
      openblas_nolapack.cblas_sgemm(openblas_nolapack.CblasRowMajor, op(transA), op(transB),
          m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
      return;
    }
    boolean byRows = m > n;
    int panels = ((byRows ? m : n) + PANEL - 1) / PANEL;
    Parallel.forRange(panels, (long) m * n * k / GEMM_WORK_SCALE, (part, from, to) -> {
      int lo = from * PANEL;
      int hi = Math.min(to * PANEL, byRows ? m : n);
      if (hi <= lo) {
        return;
      }
      if (lo == 0 && hi == (byRows ? m : n)) {
        openblas_nolapack.cblas_sgemm(openblas_nolapack.CblasRowMajor, op(transA), op(transB),
            m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
      } else if (byRows) {
        openblas_nolapack.cblas_sgemm(openblas_nolapack.CblasRowMajor, op(transA), op(transB),
            hi - lo, n, k, alpha, a.getPointer(transA ? lo : (long) lo * lda), lda, b, ldb, beta,
            c.getPointer((long) lo * ldc), ldc);
      } else {
        openblas_nolapack.cblas_sgemm(openblas_nolapack.CblasRowMajor, op(transA), op(transB),
            m, hi - lo, k, alpha, a, lda, b.getPointer(transB ? (long) lo * ldb : lo), ldb, beta,
            c.getPointer(lo), ldc);
      }
    });
  }

  /** Blocked i-k-j loops over rows of C; the inner loop runs along contiguous rows so the JIT vectorises it. */
  static void javaSgemm(
      boolean transA, boolean transB, int m, int n, int k, float alpha,
      float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
      float beta, float[] c, int cOff, int ldc) {
    float[] bt = b;
    int btOff = bOff;
    int btLd = ldb;
    if (transB) { // make op(B) row-major k x n once
      bt = new float[k * n];
      for (int p = 0; p < k; p++) {
        for (int j = 0; j < n; j++) {
          bt[p * n + j] = b[bOff + j * ldb + p];
        }
      }
      btOff = 0;
      btLd = n;
    }
    float[] row = new float[n];
    for (int i = 0; i < m; i++) {
      java.util.Arrays.fill(row, 0f);
      for (int p = 0; p < k; p++) {
        float av = transA ? a[aOff + p * lda + i] : a[aOff + i * lda + p];
        if (av == 0f) {
          continue;
        }
        int bRow = btOff + p * btLd;
        for (int j = 0; j < n; j++) {
          row[j] += av * bt[bRow + j];
        }
      }
      int cRow = cOff + i * ldc;
      if (beta == 0f) {
        for (int j = 0; j < n; j++) {
          c[cRow + j] = alpha * row[j];
        }
      } else {
        for (int j = 0; j < n; j++) {
          c[cRow + j] = alpha * row[j] + beta * c[cRow + j];
        }
      }
    }
  }

  /** Growing off-heap staging buffers, one set per thread, kept for the thread's life. */
  private static final class Scratch {
    private FloatPointer a;
    private FloatPointer b;
    private FloatPointer c;

    FloatPointer a(long n) {
      return a = ensure(a, n);
    }

    FloatPointer b(long n) {
      return b = ensure(b, n);
    }

    FloatPointer c(long n) {
      return c = ensure(c, n);
    }

    private static FloatPointer ensure(FloatPointer p, long n) {
      if (p != null && p.capacity() >= n) {
        return p;
      }
      if (p != null) {
        p.close();
      }
      return new FloatPointer(Math.max(n, 1 << 16));
    }
  }
}
