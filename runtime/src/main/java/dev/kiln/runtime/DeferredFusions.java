package dev.kiln.runtime;

import static dev.kiln.runtime.ShapeOps.permute;
import static dev.kiln.runtime.Ops.*;

import dev.kiln.runtime.cpu.ConvKernels;
import dev.kiln.runtime.cpu.CpuKernels;
import dev.kiln.runtime.cpu.Pool2dShape;

/**
 * The eager fusions over deferred values ({@link Deferred}) that whole helpers carry: a bias add folded into a
 * product not computed yet, a 2x2 max pool read from a batch norm's ReLU, a select or batched matmul reading a
 * permute's source in place, and the test of whether an output is worth deferring. The fused branches inside
 * the ops themselves (linear, scale, relu, batch norm, max pool, GELU, softmax) stay in their ops and call
 * these.
 */
final class DeferredFusions {
  private DeferredFusions() {}

  /**
   * Whether a value of {@code size} elements may be deferred over {@code inputs}, which its recipe keeps until it is
   * read: when they hold at most three times as many (a classifier's head, 1792 inputs a sample for 10 outputs, is
   * made at once, so that evaluation outputs collected unread do not keep their inputs).
   */
  static boolean keepsLittle(long size, Tensor... inputs) {
    long kept = 0;
    for (Tensor t : inputs) {
      kept += t.numel();
    }
    return kept <= 3 * size;
  }

  /** Whether {@code t}'s gradient reaches {@code source} through permutes and same-shape views alone (exact copies). */
  static boolean reachedByPermutes(Tensor t, Tensor source) {
    Tensor cur = t;
    while (cur != source) {
      Node fn = cur.gradFn();
      if (fn == null || fn.inputs.length != 1
          || !(fn.name().equals("permute") || fn.name().equals("transpose") || fn.name().equals("reshape"))) {
        return false;
      }
      Tensor next = fn.inputs[0];
      Deferred.Permute d = next.deferredPermute();
      if (next != source && (d == null || d.source() != source)) {
        return false;
      }
      cur = next;
    }
    return true;
  }

  /**
   * {@code a + b} of one shape under no grad where one operand is a linear layer's product not computed yet ({@link
   * Deferred.Linear}: a residual connection {@code x + proj(h)}): the product computed into the sum's array and the
   * other operand added there in place, the same bits (a float sum does not depend on its operands' order); the
   * product's own array is never made unless something else reads it. Null otherwise.
   */
  static Tensor addOntoProduct(Tensor a, Tensor b) {
    Deferred.Linear product = b.pendingValues() instanceof Deferred.Linear ? (Deferred.Linear) b.takeOneRead() : null;
    Tensor other = a;
    if (product == null && a.pendingValues() instanceof Deferred.Linear) {
      product = (Deferred.Linear) a.takeOneRead();
      other = b;
    }
    if (product == null) {
      return null; // (x + x of one deferred product: reading the other operand makes its values, the same as out's)
    }
    float[] out = ArrayPool.floats(a.numel()); // overwritten (the product, then the sum)
    product.fill(out);
    CpuKernels.addForward(out, 0, other.readBuffer(), other.offset(), out, 0, out.length, false);
    return Tensor.wrap(out, a.shape()).sealed(); // the op's own array: what reads it may defer (Deferred)
  }

  /**
   * {@code x.select(dim, index)} of a deferred permute {@code x}: the entry taken from the permute's source and the rest
   * of the permute applied to it (deferred too), so that the permute is never made whole (the last step of an LSTM's
   * batch-first output, {@code out[:, -1]}). Values and gradients those of the permute made first: its gradient
   * would reach the source by permutes alone; one that needs none is taken without the tape.
   */
  static Tensor selectOfPermute(Tensor x, Deferred.Permute deferred, int dim, int index) {
    int[] order = deferred.order();
    int at = order[dim];
    int[] rest = new int[order.length - 1];
    boolean identity = true;
    for (int i = 0, j = 0; i < order.length; i++) {
      if (i != dim) {
        rest[j] = order[i] > at ? order[i] - 1 : order[i];
        identity &= rest[j] == j;
        j++;
      }
    }
    if (!x.requiresGrad()) {
      try (var g = Kiln.noGrad()) {
        return selectThenPermute(deferred.source(), at, index, identity ? null : rest);
      }
    }
    return selectThenPermute(deferred.source(), at, index, identity ? null : rest);
  }

  /** {@code source.select(dim, index)}, then permuted by {@code order} unless it is null. */
  private static Tensor selectThenPermute(Tensor source, int dim, int index, int[] order) {
    Tensor picked = select(source, dim, index);
    return order == null ? picked : permute("select", picked, order);
  }

  /** Whether a max pooling {@code s} is the plain 2x2 one over maps of the batch norm {@code bn}'s layout. */
  static boolean fitsTwoByTwo(Deferred.BatchNorm bn, Pool2dShape s) {
    return ConvKernels.isPlainTwoByTwo(s) && s.batch() == bn.n() && s.channels() == bn.c() && s.height() * s.width() == bn.l();
  }

  /**
   * Whether {@code x}'s permute may be deferred ({@link Storage#deferred}): a CPU float tensor but a leaf that requires
   * a gradient (a parameter, written by every optimizer step, whose permutes a matmul would leave unmade until then).
   */
  static boolean deferrable(Tensor x) {
    return !x.device().isCuda() && x.dtype() == DType.FLOAT32 && !(x.isLeaf() && x.requiresGrad()) && x.deferrableOver();
  }

  /**
   * {@code x} permuted by {@code order}, its values made when first read; a permute of such a tensor is one permute
   * of its source (the orders composed), so that {@code view(-1, S, H, D).transpose(1, 2)} and then {@code
   * transpose(-2, -1)} leave one strided layout of the projection for {@link Ops#matmul} to read in place.
   */
  static Tensor deferredPermute(Tensor x, int[] order, int[] outShape) {
    Deferred.Permute prior = x.deferredPermute();
    Tensor source = prior != null ? prior.source() : x;
    int[] composed = order.clone();
    if (prior != null) {
      for (int i = 0; i < order.length; i++) {
        composed[i] = prior.order()[order[i]];
      }
    }
    return Tensor.deferred(new Deferred.Permute(source, composed, outShape.clone()), outShape, null, source);
  }
}
