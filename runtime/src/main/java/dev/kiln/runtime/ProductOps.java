package dev.kiln.runtime;

import static dev.kiln.runtime.ArithmeticOps.expand;
import static dev.kiln.runtime.DeferredFusions.deferredPermute;
import static dev.kiln.runtime.DeferredFusions.keepsLittle;
import static dev.kiln.runtime.DeferredFusions.reachedByPermutes;
import static dev.kiln.runtime.Ops.*;

import dev.kiln.runtime.cpu.Blas;
import dev.kiln.runtime.cpu.CpuKernels;
import java.util.Arrays;

/**
 * Matrix products of eager mode: matmul, mm, bmm (reading an operand in place at its strides where it can:
 * {@link #stridedMatmul}) and linear. Their public entries are in {@link Ops}.
 */
final class ProductOps {
  private ProductOps() {}

  public static Tensor matmul(Tensor a, Tensor b) {
    Devices.onCuda("matmul", a, b);
    requireFloat("matmul", a);
    requireFloat("matmul", b);
    String shapes = Shapes.toString(a.shape()) + " @ " + Shapes.toString(b.shape());
    if (a.dim() == 0 || b.dim() == 0) {
      throw new IllegalArgumentException("matmul: " + shapes + ": both operands need at least one dimension (for a "
          + "scalar factor use mul)");
    }
    if (a.dim() == 1 && b.dim() == 1) { // the dot product
      return reshape(mm(reshape(a, 1, -1), reshape(b, -1, 1)));
    }
    if (a.dim() == 1) {
      return squeeze(matmul(unsqueeze(a, 0), b), -2);
    }
    if (b.dim() == 1) {
      return squeeze(matmul(a, unsqueeze(b, 1)), -1);
    }
    int m = a.size(-2), k = a.size(-1), n = b.size(-1);
    if (b.size(-2) != k) {
      throw new IllegalArgumentException("matmul: " + shapes + ": inner dimensions " + k + " and " + b.size(-2) + " differ");
    }
    if (a.dim() == 2 && b.dim() == 2) {
      return mm(a, b);
    }
    if (b.dim() == 2) { // [..., m, k] @ [k, n]: every row of a times b, one GEMM
      int[] outShape = a.shape();
      outShape[outShape.length - 1] = n;
      int rows = Shapes.numel(Arrays.copyOf(a.shape(), a.dim() - 1)); // not -1: k may be 0
      return reshape(mm(reshape(a, rows, k), b), outShape);
    }
    int[] batch = Shapes.broadcast("matmul (" + shapes + ", batch dimensions)", Arrays.copyOf(a.shape(), a.dim() - 2),
        Arrays.copyOf(b.shape(), b.dim() - 2));
    int count = Shapes.numel(batch);
    Tensor inPlace = a.dim() == b.dim() && (a.deferredPermute() != null || b.deferredPermute() != null)
        && Arrays.equals(Arrays.copyOf(a.shape(), a.dim() - 2), Arrays.copyOf(b.shape(), b.dim() - 2))
        ? stridedMatmul(a, b, count, m, k, n) : null;
    if (inPlace != null) {
      return inPlace;
    }
    Tensor left = reshape(expand(a, Shapes.concat(batch, m, k), false), count, m, k);
    Tensor right = reshape(expand(b, Shapes.concat(batch, k, n), false), count, k, n);
    return reshape(bmm(left, right), Shapes.concat(batch, m, n));
  }

  public static Tensor bmm(Tensor a, Tensor b) {
    boolean cuda = Devices.onCuda("bmm", a, b);
    requireFloat("bmm", a);
    requireFloat("bmm", b);
    requireRank("bmm", "left operand", a, 3);
    requireRank("bmm", "right operand", b, 3);
    int count = a.size(0), m = a.size(1), k = a.size(2), n = b.size(2);
    if (b.size(0) != count || b.size(1) != k) {
      throw new IllegalArgumentException("bmm: " + Shapes.toString(a.shape()) + " @ " + Shapes.toString(b.shape()) + ": "
          + (b.size(0) != count ? "batch sizes " + count + " and " + b.size(0) : "inner dimensions " + k + " and " + b.size(1))
          + " differ");
    }
    if (cuda) {
      return CudaLayerOps.bmm(a, b);
    }
    Tensor inPlace = a.deferredPermute() != null || b.deferredPermute() != null ? stridedMatmul(a, b, count, m, k, n) : null;
    if (inPlace != null) {
      return inPlace;
    }
    float[] out = ArrayPool.floats(Shapes.numel(count, m, n)); // overwritten (beta 0)
    batchedGemm(count, false, false, m, n, k, a.readBuffer(), a.offset(), b.readBuffer(), b.offset(), out);
    if (!track(a, b)) {
      return Tensor.wrap(out, count, m, n).sealed(); // the op's own array: a scale of it may defer (Deferred.Scale)
    }
    return Tensor.ofNode(out, new int[] {count, m, n}, new Node(a, b) {
      @Override public String name() {
        return "bmm";
      }

      @Override protected Tensor[] backward(Tensor g) {
        Tensor da = null, db = null;
        if (needsGrad(0)) {
          float[] d = ArrayPool.floats(Shapes.numel(count, m, k)); // overwritten (beta 0)
          batchedGemm(count, false, true, m, k, n, g.readBuffer(), g.offset(), b.readBuffer(), b.offset(), d);
          da = Tensor.gradient(d, count, m, k);
        }
        if (needsGrad(1)) {
          float[] d = ArrayPool.floats(Shapes.numel(count, k, n)); // overwritten (beta 0)
          batchedGemm(count, true, false, k, n, m, a.readBuffer(), a.offset(), g.readBuffer(), g.offset(), d);
          db = Tensor.gradient(d, count, k, n);
        }
        recycle(g); // read, and shared by nothing returned
        return new Tensor[] {da, db};
      }
    }).sealed();
  }

  /**
   * One operand of {@link #stridedMatmul}: its matrices in {@code values}' array, each at an offset of {@code offsets}
   * with leading dimension {@code ld}, stored transposed when {@code trans}. {@code values} is the operand itself
   * (contiguous) or the source of its deferred permute.
   */
  private record GemmOperand(Tensor values, int[] offsets, int ld, boolean trans) {}

  /**
   * {@code t}'s {@code count} matrices ({@code [..., rows, cols]}) where they lie: in place in the source of a deferred
   * permute when one of the last two dimensions is contiguous there (a row-major or a transposed matrix, each batch at
   * the offset its indices give), else null; t's own contiguous matrices when it is not deferred (or no longer).
   */
  private static GemmOperand gemmOperand(Tensor t, int count) {
    int rank = t.dim(), rows = t.size(-2), cols = t.size(-1);
    Deferred.Permute d = t.deferredPermute();
    int[] offsets = new int[count];
    if (d == null) {
      for (int i = 0; i < count; i++) {
        offsets[i] = t.offset() + i * rows * cols;
      }
      return new GemmOperand(t, offsets, cols, false);
    }
    int[] sourceShape = d.source().shape();
    int[] stride = new int[rank]; // t's strides in the source
    for (int i = 0; i < rank; i++) {
      int s = 1;
      for (int j = d.order()[i] + 1; j < rank; j++) {
        s *= sourceShape[j];
      }
      stride[i] = s;
    }
    boolean trans;
    int ld;
    if (stride[rank - 1] == 1 && stride[rank - 2] >= cols) {
      trans = false;
      ld = stride[rank - 2];
    } else if (stride[rank - 2] == 1 && stride[rank - 1] >= rows) {
      trans = true;
      ld = stride[rank - 1];
    } else {
      return null;
    }
    int[] at = new int[Math.max(0, rank - 2)];
    int off = d.source().offset();
    for (int i = 0; i < count; i++) { // the batch indices in row-major order, the offset moved along
      offsets[i] = off;
      for (int j = rank - 3; j >= 0; j--) {
        off += stride[j];
        if (++at[j] < t.size(j)) {
          break;
        }
        off -= stride[j] * t.size(j);
        at[j] = 0;
      }
    }
    return new GemmOperand(d.source(), offsets, ld, trans);
  }

  /**
   * The tensor whose gradient slot an operand {@code t} of {@link #stridedMatmul} takes: t when it needs no gradient
   * (or is not deferred), else its permute's source when t's gradient would only be permuted back to it (t reached
   * from the source by permutes and same-shape views alone); null otherwise (a deferred tensor detached and made a
   * leaf: the caller then makes the permute).
   */
  private static Tensor gradientInput(Tensor t, GemmOperand o) {
    if (o.values() == t || !t.requiresGrad()) {
      return t;
    }
    return reachedByPermutes(t, o.values()) ? o.values() : null;
  }

  /**
   * {@code a @ b} over equal batch dimensions ({@code [..., m, k] @ [..., k, n]}) where one operand or both are
   * deferred permutes ({@link DeferredFusions#deferredPermute}): each product reads its matrix in place in the permute's source
   * ({@link Blas#sgemmAt}, a transposed matrix as OpenBLAS's flag), so that attention's heads ({@code view(-1, S, H,
   * D).transpose(1, 2)}) and the keys' {@code transpose(-2, -1)} are not copied. A deferred operand's gradient goes to
   * the permute's source, written in the source's layout (what the permutes' backwards would have made of it). Null
   * when an operand's layout does not allow it (the caller then makes the permute and multiplies as before).
   */
  private static Tensor stridedMatmul(Tensor a, Tensor b, int count, int m, int k, int n) {
    GemmOperand x = gemmOperand(a, count), y = gemmOperand(b, count);
    Tensor xIn = x == null ? null : gradientInput(a, x), yIn = y == null ? null : gradientInput(b, y);
    if (xIn == null || yIn == null) {
      return null;
    }
    int[] outOffsets = new int[count];
    for (int i = 0; i < count; i++) {
      outOffsets[i] = i * m * n;
    }
    int[] outShape = a.shape();
    outShape[outShape.length - 1] = n;
    boolean tracked = track(xIn, yIn);
    Tensor xs = x.values(), ys = y.values();
    if (!tracked && xs.isSealed() && ys.isSealed() && xs.deferrableOver() && ys.deferrableOver()
        && keepsLittle(count * m * n, xs == ys ? new Tensor[] {xs} : new Tensor[] {xs, ys})) {
      // computed when read (Deferred.Product): the scaled softmax reads the scores, the heads' join att @ v, each
      // into scratch, and neither is an array of its own
      Deferred.Product recipe = new Deferred.Product(c -> product(count, x, false, y, false, m, n, k, c, outOffsets, n));
      return Tensor.deferred(recipe, outShape, null, xs, ys);
    }
    float[] out = ArrayPool.floats(count * m * n); // overwritten: one product per matrix (beta 0)
    product(count, x, false, y, false, m, n, k, out, outOffsets, n);
    if (!tracked) {
      return Tensor.wrap(out, outShape).sealed(); // the op's own array: a scale of it may defer (Deferred.Scale)
    }
    // one value read as both operands (h @ h^T): its inputs listed right first, so that the engine adds the right
    // operand's gradient before the left's, the order the reshape nodes of the copying path give (and the compiled
    // model's, Generator.operandOrder)
    boolean rightFirst = xIn == yIn;
    return Tensor.ofNode(out, outShape, new Node(rightFirst ? new Tensor[] {yIn, xIn} : new Tensor[] {xIn, yIn}) {
      @Override public String name() {
        return "bmm";
      }

      @Override protected Tensor[] backward(Tensor g) {
        // the operands' values where they are now: in the source while still deferred (a write to the source would
        // have made the permute first), else in the permute's own array
        GemmOperand xv = gemmOperand(a, count), yv = gemmOperand(b, count);
        int[] gOffsets = new int[count];
        for (int i = 0; i < count; i++) {
          gOffsets[i] = g.offset() + i * m * n;
        }
        GemmOperand go = new GemmOperand(g, gOffsets, n, false);
        Tensor dx = null, dy = null;
        if (needsGrad(0)) { // da = g op(b)^T, written where a's values lie in xIn (transposed: op(b) g^T)
          float[] d = ArrayPool.floats(xIn.numel()); // overwritten: the operand's matrices fill its source (a permute)
          int[] at = relative(x.offsets(), xIn.offset());
          if (!x.trans()) {
            product(count, go, false, yv, true, m, k, n, d, at, x.ld());
          } else {
            product(count, yv, false, go, true, k, m, n, d, at, x.ld());
          }
          dx = Tensor.gradient(d, xIn.shape());
        }
        if (needsGrad(1)) { // db = op(a)^T g, written where b's values lie in yIn (transposed: g^T op(a))
          float[] d = ArrayPool.floats(yIn.numel()); // overwritten: the operand's matrices fill its source (a permute)
          int[] at = relative(y.offsets(), yIn.offset());
          if (!y.trans()) {
            product(count, xv, true, go, false, k, n, m, d, at, y.ld());
          } else {
            product(count, go, true, xv, false, n, k, m, d, at, y.ld());
          }
          dy = Tensor.gradient(d, yIn.shape());
        }
        recycle(g); // read, and shared by nothing returned
        return rightFirst ? new Tensor[] {dy, dx} : new Tensor[] {dx, dy};
      }
    }).sealed();
  }

  /**
   * {@code C[i] = op(X[i]) op(Y[i])} ({@code rows x cols}, the product over {@code inner}) into {@code c} at {@code
   * cOffsets} with leading dimension {@code ldc}: each operand as {@link #gemmOperand} found it, transposed once more
   * where {@code transX} or {@code transY} asks.
   */
  private static void product(int count, GemmOperand x, boolean transX, GemmOperand y, boolean transY, int rows, int cols,
      int inner, float[] c, int[] cOffsets, int ldc) {
    Tensor xs = x.values(), ys = y.values();
    // an operand's values still deferred (a projection under no grad, Deferred.Linear) computed into scratch, not kept
    float[] xv = xs.readBufferOnce(), yv = ys == xs ? xv : ys.readBufferOnce();
    Blas.sgemmAt(count, x.trans() != transX, y.trans() != transY, rows, cols, inner, 1f, xv, xs.offset(),
        xs.numel(), x.offsets(), x.ld(), yv, ys.offset(), ys.numel(), y.offsets(), y.ld(), c, 0, c.length,
        cOffsets, ldc);
    xs.doneReading(xv);
    if (ys != xs) {
      ys.doneReading(yv);
    }
  }

  /** {@code offsets} less {@code base}: where the matrices lie in an array of their own. */
  private static int[] relative(int[] offsets, int base) {
    int[] r = new int[offsets.length];
    for (int i = 0; i < r.length; i++) {
      r[i] = offsets[i] - base;
    }
    return r;
  }

  /**
   * {@code out[i] = op(x[i]) @ op(y[i])} for {@code count} row-major, contiguous matrices, {@code
   * out[i]} of {@code rows x cols}, the product over {@code inner}; op transposes where asked (x
   * stored {@code inner x rows} then, y {@code cols x inner}). The batches are shared among the cores
   * ({@link Blas#sgemmBatched}, which compiled models call too).
   */
  private static void batchedGemm(int count, boolean transX, boolean transY, int rows, int cols, int inner,
      float[] x, int xOff, float[] y, int yOff, float[] out) {
    Blas.sgemmBatched(count, transX, transY, rows, cols, inner, 1f, x, xOff, rows * inner, y, yOff, inner * cols,
        0f, out, 0, rows * cols);
  }

  public static Tensor mm(Tensor a, Tensor b) {
    Devices.onCuda("mm", a, b);
    requireFloat("mm", a);
    requireFloat("mm", b);
    requireRank("mm", "left operand", a, 2);
    requireRank("mm", "right operand", b, 2);
    int m = a.size(0), k = a.size(1), n = b.size(1);
    if (b.size(0) != k) {
      throw new IllegalArgumentException(
          "mm: " + Shapes.toString(a.shape()) + " @ " + Shapes.toString(b.shape()) + ": inner dimensions " + k + " and " + b.size(0) + " differ");
    }
    return reshape(bmm(reshape(a, 1, m, k), reshape(b, 1, k, n)), m, n); // a batch of one: one GEMM each way
  }

  public static Tensor linear(Tensor x, Tensor weight, Tensor bias) {
    boolean cuda = Devices.onCuda("linear", x, weight, bias);
    requireFloat("linear", x);
    requireRank("linear", "input", x, 2);
    requireRank("linear", "weight", weight, 2);
    int rows = x.size(0), in = x.size(1), outF = weight.size(0);
    if (weight.size(1) != in) {
      throw new IllegalArgumentException(
          "linear: input " + Shapes.toString(x.shape()) + " does not match weight " + Shapes.toString(weight.shape())
              + " (expected " + weight.size(1) + " input features, got " + in + ")");
    }
    if (bias != null && (bias.dim() != 1 || bias.size(0) != outF)) {
      throw new IllegalArgumentException(
          "linear: bias " + Shapes.toString(bias.shape()) + " does not match " + outF + " output features");
    }
    if (cuda) {
      return CudaLayerOps.linear(x, weight, bias);
    }
    // The weight as a tensor: OpenBLAS reads its native copy, made once and kept while the weight
    // does not change (inference), instead of staging the array on every call; the bias folded into the product.
    Deferred.Linear product = new Deferred.Linear(x, weight, bias, rows, outF, in);
    boolean tracked = track(x, weight, bias);
    if (!tracked && x.isSealed() && x.deferrableOver() && keepsLittle(rows * outF, x)) {
      // computed when read: a residual add or a GELU after it computes the product into its own output (Deferred.Linear)
      return Tensor.deferred(product, new int[] {rows, outF}, null, x, weight, bias);
    }
    float[] out = ArrayPool.floats(rows * outF); // overwritten
    product.compute(out, x.readBuffer()); // x's values kept (the backward reads them)
    if (!tracked) {
      return Tensor.wrap(out, rows, outF).sealed(); // the op's own array: what reads it may defer (Deferred)
    }
    Tensor[] inputs = layerInputs(x, weight, bias);
    return Tensor.ofNode(out, new int[] {rows, outF}, new Node(inputs) {
      @Override public String name() {
        return "linear";
      }

      @Override protected Tensor[] backward(Tensor g) {
        Tensor[] grads = new Tensor[inputs.length];
        // a leaf weight's gradient added where it lives, as a compiled layer adds it (Tensor.gradientToAddInto)
        Tensor gw = needsGrad(1) ? weight.gradientToAddInto(rows) : null;
        if (gw != null) {
          float[] dx = needsGrad(0) ? ArrayPool.floats(rows * in) : null; // overwritten (beta 0)
          Blas.linearBackward(rows, outF, in, g.readBuffer(), g.offset(), x.readBuffer(), x.offset(), gw, weight, 0f, dx, 0);
          grads[0] = dx == null ? null : Tensor.gradient(dx, rows, in);
        } else if (needsGrad(0)) {
          float[] dx = ArrayPool.floats(rows * in); // overwritten (beta 0)
          Blas.sgemm(false, false, rows, in, outF, 1f, g.readBuffer(), g.offset(), outF, weight, in, 0f, dx, 0, in);
          grads[0] = Tensor.gradient(dx, rows, in);
        }
        if (needsGrad(1) && gw == null) {
          float[] dw = new float[outF * in];
          Blas.sgemm(true, false, outF, in, rows, 1f, g.readBuffer(), g.offset(), outF, x.readBuffer(), x.offset(), in, 0f, dw, 0, in);
          grads[1] = Tensor.gradient(dw, outF, in);
        }
        if (bias != null && needsGrad(2)) {
          float[] db = new float[outF];
          CpuKernels.biasGradient(db, 0, g.readBuffer(), g.offset(), rows, outF, false);
          grads[2] = Tensor.gradient(db, outF);
        }
        recycle(g); // read, and shared by nothing returned
        return grads;
      }
    }).sealed();
  }
}
