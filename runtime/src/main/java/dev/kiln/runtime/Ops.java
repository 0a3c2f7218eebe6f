package dev.kiln.runtime;

import static dev.kiln.runtime.LossOps.reduce;

import dev.kiln.runtime.cpu.ActivationCodeKernels;
import dev.kiln.runtime.cpu.ActivationKernels;
import dev.kiln.runtime.cpu.ArithmeticKernels;
import dev.kiln.runtime.cpu.Blas;
import dev.kiln.runtime.cpu.ConvKernels;
import dev.kiln.runtime.cpu.CpuKernels;
import dev.kiln.runtime.cpu.MathKernels;
import dev.kiln.runtime.cpu.NormKernels;
import dev.kiln.runtime.cpu.PointwiseKernels;
import dev.kiln.runtime.cpu.RecurrentKernels;
import dev.kiln.runtime.cpu.SortKernels;
import dev.kiln.runtime.cpu.WhereKernels;
import java.util.Arrays;

/**
 * The differentiable operations of eager mode, each with its derivative next to it: this file is
 * Kiln's derivative table. Each op checks its shapes (the message names both), computes through
 * {@link CpuKernels} or {@link Blas}, and records a {@link Node} when gradients are wanted. Ops
 * with a CUDA kernel hand tensors that live on the GPU to {@code CudaOps}, which makes the same
 * checks and records the same derivatives on the device; the others refuse them
 * ({@code Devices.requireCpu}).
 *
 * <p>This class is the public API and the checks every op shares ({@link #track}, {@code require*},
 * {@link Along}); each public method documents the op and calls its implementation, grouped by kind in
 * package-private classes: {@link ShapeOps} (views, slicing, joins, gathers, embeddings), {@link ProductOps}
 * (matmul, bmm, linear), {@link ArithmeticOps} (element-wise arithmetic and broadcasting), {@link UnaryOps}
 * (element-wise functions, activations, softmax), {@link ReductionOps}, {@link LossOps}, {@link LayerOps}
 * (convolution, pooling, normalisation, dropout), {@link RecurrentOps}, and {@link DeferredFusions} (the
 * helpers of the eager fusions over {@link Deferred} values). The padding, flipping, running-sum, norm and
 * piecewise ops at the end delegate to {@link IndexOps} and {@link PiecewiseOps}, whose one node per op
 * picks each device's kernel itself; the math functions, logical ops, prod, amax/amin and writes by index
 * of the last section to {@link PointwiseOps} (one table of functions for both devices), {@code IndexOps},
 * {@code ReductionOps} and {@link ScatterOps}. docs/design-notes.md ("Where eager ops live") lists them.
 */
public final class Ops {
  private Ops() {}

  static boolean track(Tensor... inputs) {
    if (!Kiln.isGradEnabled()) {
      return false;
    }
    for (Tensor t : inputs) {
      if (t != null && t.requiresGrad()) {
        return true;
      }
    }
    return false;
  }

  static void requireFloat(String op, Tensor t) {
    if (t.dtype() != DType.FLOAT32) {
      throw new IllegalArgumentException(op + ": expected a float tensor, got " + t.dtype() + " of shape " + Shapes.toString(t.shape()));
    }
  }

  /** Class indices ({@link Tensor#labels}), as embeddings and losses take them. */
  static void requireLabels(String op, String what, Tensor t) {
    if (t.dtype() != DType.INT32) {
      throw new IllegalArgumentException(op + ": the " + what + " must be a label tensor (Tensor.labels(...)), got a float tensor of shape "
          + Shapes.toString(t.shape()));
    }
  }

  static void requireRank(String op, String what, Tensor t, int rank) {
    if (t.dim() != rank) {
      throw new IllegalArgumentException(
          op + ": " + what + " must have rank " + rank + ", got shape " + Shapes.toString(t.shape()));
    }
  }

  // ------------------------------------------------------------------ reshape

  /** A view with a new shape; the gradient is reshaped back. */
  public static Tensor reshape(Tensor x, int... newShape) {
    return ShapeOps.reshape(x, newShape);
  }

  // ------------------------------------------------------------------ matrix products

  /**
   * PyTorch's {@code torch.matmul} ({@code a @ b}): a 1-d operand is a row on the left or a column
   * on the right, removed from the result ({@code [k] @ [k]} is their dot product, rank 0); two
   * matrices multiply ({@link #mm}); otherwise the last two dimensions multiply as matrices and the
   * ones before broadcast as batches ({@code [B, h, s, d] @ [B, h, d, s]}, {@code [B, s, d] @ [d,
   * e]}, {@code [s, d] @ [B, d, e]}). A right operand of rank 2 is one GEMM over all of the left's
   * rows; other batches run {@link #bmm} on operands expanded (copied) to the broadcast batch
   * shape, whose gradients sum back to each operand's shape.
   *
   * @throws IllegalArgumentException for a rank-0 operand, inner sizes that differ or batch
   *     dimensions that do not broadcast, naming both shapes
   */
  public static Tensor matmul(Tensor a, Tensor b) {
    return ProductOps.matmul(a, b);
  }

  /**
   * Batched matrix product, PyTorch's {@code torch.bmm}: {@code out[i] = a[i] @ b[i]} for {@code
   * a[B, m, k]} and {@code b[B, k, n]} (no broadcasting; {@link #matmul} broadcasts). d/da[i] =
   * g[i] @ b[i]^T, d/db[i] = a[i]^T @ g[i]. On the CPU the batches are shared among the cores, on
   * CUDA one strided-batched cuBLAS call each way.
   */
  public static Tensor bmm(Tensor a, Tensor b) {
    return ProductOps.bmm(a, b);
  }

  /**
   * Matrix product, PyTorch's {@code torch.mm}: {@code a[m,k] @ b[k,n]}, as {@link #bmm} of a batch of one.
   */
  public static Tensor mm(Tensor a, Tensor b) {
    return ProductOps.mm(a, b);
  }

  /**
   * {@code x[N,in] @ weight[out,in]^T + bias[out]} (PyTorch's {@code F.linear}); {@code bias} may be
   * null. dx = g @ W, dW = g^T @ x, db = column sums of g.
   */
  public static Tensor linear(Tensor x, Tensor weight, Tensor bias) {
    return ProductOps.linear(x, weight, bias);
  }

  // ------------------------------------------------------------------ element-wise

  /**
   * {@code x} repeated to {@code shape}, as PyTorch's {@code x.expand(shape)}: {@code x}'s
   * dimensions align with {@code shape}'s last ones, each of size 1 stretches to {@code shape}'s
   * size (0 included), the others must equal it, and {@code -1} keeps x's size. New leading
   * dimensions repeat the whole tensor. A copy, not a view (Kiln has no strided views): one pass
   * per run of stretched dimensions; the gradient is summed back to x's shape.
   *
   * @throws IllegalArgumentException naming both shapes when x does not expand to {@code shape}
   */
  public static Tensor expand(Tensor x, int... shape) {
    return ArithmeticOps.expand(x, shape);
  }

  /** A comparison of two values, for {@link #compare}. */
  @FunctionalInterface
  public interface Comparison {
    boolean test(float a, float b);
  }

  /**
   * {@code a op b} element-wise as a mask: 1 where it holds, else 0 (any comparison with NaN is
   * false but {@code ne}'s, as in PyTorch), broadcast as {@link #add}; a FLOAT32 tensor without
   * gradient on a's device (on CUDA one kernel where each operand repeats over the result's leading
   * dimensions, as {@link #where}'s; else computed on the host). PyTorch's {@code a > b} and its kin, whose bool
   * tensors Kiln writes as 0/1 floats: {@code logits.gt(0).eq(labels).sum()} counts hits.
   */
  public static Tensor compare(String op, Tensor a, Tensor b, Comparison c) {
    return ArithmeticOps.compare(op, a, b, c);
  }

  /**
   * The slices of x along {@code dim} at {@code index} (class-index labels, {@code [k]}), in that
   * order, repeats allowed: PyTorch's {@code x.index_select(dim, index)}; the size along {@code dim}
   * becomes k. The gradient adds each slice's back at its index. Computed on the host on either device.
   *
   * @throws IllegalArgumentException for an index tensor that is not rank-1 labels, or an index out of range
   */
  public static Tensor indexSelect(Tensor x, int dim, Tensor index) {
    if (IntOps.isIds(x)) { // ids moved: ids (IntOps)
      return IntOps.keepingIds(x, f -> ShapeOps.indexSelect(f, dim, index));
    }
    return ShapeOps.indexSelect(x, dim, index);
  }

  /**
   * Values of x picked along {@code dim} by {@code index} (labels of x's rank, each other dimension
   * no larger than x's): {@code out[i][j] = x[index[i][j]][j]} for dim 0, PyTorch's {@code
   * x.gather(dim, index)}; the output has the index's shape, the gradient adds back to each picked
   * place. Computed on the host on either device.
   *
   * @throws IllegalArgumentException for an index of another rank, a dimension larger than x's, or an index out of range
   */
  public static Tensor gather(Tensor x, int dim, Tensor index) {
    if (IntOps.isIds(x)) { // ids moved: ids (IntOps)
      return IntOps.keepingIds(x, f -> ShapeOps.gather(f, dim, index));
    }
    return ShapeOps.gather(x, dim, index);
  }

  /**
   * {@code value} where {@code mask} is nonzero, x elsewhere: PyTorch's {@code x.masked_fill(mask,
   * value)} (an attention mask: {@code scores.maskedFill(Tensor.ones(s, s).triu(1), -inf)}). The mask
   * broadcasts to x's shape; the gradient reaches x where the mask is 0. Computed as {@link #where}.
   *
   * @throws IllegalArgumentException when the mask does not broadcast to x's shape
   */
  public static Tensor maskedFill(Tensor x, Tensor mask, float value) {
    if (IntOps.isIds(x)) { // ids filled with the value as an id: ids (IntOps)
      return IntOps.maskedFill(x, mask, value);
    }
    return ShapeOps.maskedFill(x, mask, value);
  }

  /**
   * The lower triangle of the last two dimensions, PyTorch's {@code tril(diagonal)}: elements with
   * {@code column - row <= diagonal} kept, the others 0 (exactly, whatever they held); the gradient
   * passes where the values were kept. {@code diagonal} 0 is the main diagonal, above it positive.
   */
  public static Tensor tril(Tensor x, int diagonal) {
    if (IntOps.isIds(x)) { // ids moved: ids (IntOps)
      return IntOps.keepingIds(x, f -> ShapeOps.tril(f, diagonal));
    }
    return ShapeOps.tril(x, diagonal);
  }

  /** The upper triangle, PyTorch's {@code triu(diagonal)}: elements with {@code column - row >= diagonal} kept, as {@link #tril}. */
  public static Tensor triu(Tensor x, int diagonal) {
    if (IntOps.isIds(x)) { // ids moved: ids (IntOps)
      return IntOps.keepingIds(x, f -> ShapeOps.triu(f, diagonal));
    }
    return ShapeOps.triu(x, diagonal);
  }

  /**
   * A copy of x in new memory, on the tape (PyTorch's {@code clone()}: the gradient passes through
   * unchanged); class indices are copied as class indices.
   */
  public static Tensor clone(Tensor x) {
    return ShapeOps.clone(x);
  }

  /**
   * {@code condition ? a : b} element-wise, as PyTorch's {@code torch.where}: the condition
   * nonzero where {@code a} is taken (a 0/1 mask from {@link #compare}, or labels), the three
   * broadcast together. Gradients: to a where the condition holds, to b elsewhere, each summed back
   * to its own shape. A NaN or infinity in the branch not taken does not reach the result, and
   * where sends that branch a gradient of 0 there (which an op before it may still turn into NaN,
   * {@code 0 * (1 / 0)} in log's backward, as in PyTorch). One kernel each way ({@link
   * WhereKernels} on the CPU, {@code kiln_where} on CUDA: the same sums, bit for bit) where every
   * operand repeats over the result's leading dimensions (a mask {@code [S, S]} or {@code [1, 1, S,
   * S]} over scores {@code [N, H, S, S]}, a scalar, a tensor of the result's shape); an operand
   * stretched elsewhere ({@code [N, 1, 1, S]}) is expanded first, and only a label condition that
   * does not repeat so goes through a loop over broadcast indices on the host.
   */
  public static Tensor where(Tensor condition, Tensor a, Tensor b) {
    if (IntOps.isIds(a) || IntOps.isIds(b)) { // ids of two id tensors, else floats (IntOps)
      return IntOps.where(condition, a, b);
    }
    return ArithmeticOps.where(condition, a, b);
  }

  /** For each of {@code all}, its place among the non-null ones, or -1 for a null: a node's optional inputs. */
  static int[] givenPlaces(Tensor... all) {
    int[] at = new int[all.length];
    int count = 0;
    for (int k = 0; k < all.length; k++) {
      at[k] = all[k] == null ? -1 : count++;
    }
    return at;
  }

  /** The non-null ones of {@code all}, in order (the inputs {@link #givenPlaces} numbers). */
  static Tensor[] given(Tensor... all) {
    return Arrays.stream(all).filter(java.util.Objects::nonNull).toArray(Tensor[]::new);
  }

  /** The number of times b, a suffix of a's shape ({@link ArithmeticOps#broadcast} made it so), repeats over a. */
  static int broadcastRepeats(String op, Tensor big, Tensor small) {
    int[] bs = big.shape(), ss = small.shape();
    if (ss.length > bs.length
        || !Arrays.equals(ss, Arrays.copyOfRange(bs, bs.length - ss.length, bs.length))) {
      throw new IllegalArgumentException(
          op + ": shapes " + Shapes.toString(bs) + " and " + Shapes.toString(ss)
              + " do not broadcast (the second must equal the trailing dimensions of the first)");
    }
    return big.numel() / Math.max(1, small.numel());
  }

  /**
   * {@code a + b}, broadcast as PyTorch broadcasts ({@link Shapes#broadcast}): equal shapes, a bias
   * row {@code [n]} over {@code [m, n]}, {@code [N, C, 1, 1]} over {@code [N, C, H, W]}, a column
   * {@code [m, 1]} beside a row {@code [1, n]}. Each operand's gradient is summed back to its shape.
   */
  public static Tensor add(Tensor a, Tensor b) {
    return ArithmeticOps.add(a, b);
  }

  /** {@code a * b} element-wise, broadcast as {@link #add}. */
  public static Tensor mul(Tensor a, Tensor b) {
    return ArithmeticOps.mul(a, b);
  }

  /**
   * {@code a + c} for a constant {@code c} (PyTorch's {@code a + 1}): the constant is a one-value row
   * added to every element, so both devices run their row-add kernels; the gradient passes unchanged.
   * On CUDA the constant is copied to the device on each call (4 bytes): a convenience, not a kernel
   * for a training step's inner loop.
   */
  public static Tensor shift(Tensor a, float c) {
    return ArithmeticOps.shift(a, c);
  }

  /** {@code a * s} for a constant {@code s}. */
  public static Tensor scale(Tensor a, float s) {
    return ArithmeticOps.scale(a, s);
  }

  /** {@code max(0, x)}. The gradient passes where the output is positive. */
  public static Tensor relu(Tensor x) {
    return UnaryOps.relu(x);
  }

  // ------------------------------------------------------------------ reductions

  /** Sum of all elements, as a rank-0 tensor. */
  public static Tensor sum(Tensor x) {
    if (IntOps.isIds(x)) { // ids' sum: ids, computed in 64 bits (IntOps)
      return IntOps.sum(x, new int[0], false);
    }
    return ReductionOps.sum(x);
  }

  /** Mean of all elements, as a rank-0 tensor. */
  public static Tensor mean(Tensor x) {
    return ReductionOps.mean(x);
  }

  /**
   * Sums along {@code dim} (negative counts from the end), as PyTorch's {@code x.sum(dim, keepdim)}:
   * the dimension is removed, or kept with size 1 when {@code keepDim}. Added in double.
   */
  public static Tensor sum(Tensor x, int dim, boolean keepDim) {
    if (IntOps.isIds(x)) { // ids' sums: ids (IntOps)
      return IntOps.sum(x, dim, keepDim);
    }
    return ReductionOps.sum(x, dim, keepDim);
  }

  /** Means along {@code dim}, as PyTorch's {@code x.mean(dim, keepdim)}. */
  public static Tensor mean(Tensor x, int dim, boolean keepDim) {
    return ReductionOps.mean(x, dim, keepDim);
  }

  /**
   * Sums over several dimensions at once, as PyTorch's {@code x.sum(dim=(2, 3), keepdim)}: {@code
   * dims} in any order, negative counting from the end, none repeated, none at all meaning every
   * one; the dimensions are removed, or kept with size 1 when {@code keepDim}. One pass on the CPU
   * ({@link MathKernels#sumOver}), added in double; the gradient is the incoming one repeated over
   * the reduced dimensions.
   *
   * @throws IllegalArgumentException naming the dimension and the shape for a dimension out of range
   *     or given twice
   */
  public static Tensor sum(Tensor x, int[] dims, boolean keepDim) {
    if (IntOps.isIds(x)) { // ids' sums: ids (IntOps)
      return IntOps.sum(x, dims, keepDim);
    }
    return ReductionOps.sum(x, dims, keepDim);
  }

  /**
   * Means over several dimensions at once, as PyTorch's {@code x.mean(dim=(2, 3), keepdim)}: {@link
   * #sum(Tensor, int[], boolean)} divided by the product of the reduced sizes ({@code [N, C, H, W] ->
   * [N, C]}, global average pooling, for {@code (2, 3)}); the gradient is the incoming one divided
   * by that product, repeated.
   *
   * @throws IllegalArgumentException as the sum's, and for a reduced dimension of size 0
   */
  public static Tensor mean(Tensor x, int[] dims, boolean keepDim) {
    return ReductionOps.mean(x, dims, keepDim);
  }

  // ------------------------------------------------------------------ variance and standard deviation

  /**
   * Variance along {@code dim} (negative counts from the end), as PyTorch's
   * {@code x.var(dim, unbiased, keepdim)}: {@code sum((x - mean)^2) / (n - 1)}, or {@code / n}
   * when not {@code unbiased}; the dimension is removed, or kept with size 1 when {@code keepDim}.
   * On the CPU the variance over one dimension (two passes in double, the gradient PyTorch's {@code
   * (2 / (n - 1)) g (x - mean)}); on CUDA composed of {@link #mean}, {@link #sub}, {@link #mul} and a
   * sum, the mean repeated along the dimension to be subtracted (the gradient summed back). One
   * value along the dimension, unbiased, gives NaN as in PyTorch ({@code 0 / 0}); a dimension of
   * size 0 is refused, as {@link #mean} refuses it.
   */
  public static Tensor var(Tensor x, int dim, boolean unbiased, boolean keepDim) {
    return ReductionOps.var(x, dim, unbiased, keepDim);
  }

  /**
   * Variance over several dimensions at once, as PyTorch's {@code x.var(dim=(2, 3), unbiased,
   * keepdim)}: {@code sum((x - mean)^2) / (n - 1)} (or {@code / n}), {@code n} the product of the
   * reduced sizes; {@code dims} read as {@link #sum(Tensor, int[], boolean)} reads them. On the CPU
   * two passes over {@code x} in double per output (the mean, then the squared differences from it),
   * the gradient one pass; on CUDA composed of the mean over the dimensions (kept, broadcast back by
   * {@link #sub}), {@link #mul} and a sum. One value, unbiased, gives NaN as in PyTorch; a
   * reduced dimension of size 0 is refused.
   */
  public static Tensor var(Tensor x, int[] dims, boolean unbiased, boolean keepDim) {
    return ReductionOps.var(x, dims, unbiased, keepDim);
  }

  /**
   * Standard deviation over several dimensions at once, as PyTorch's {@code x.std(dim=(2, 3),
   * unbiased, keepdim)}: the square root of {@link #var(Tensor, int[], boolean, boolean)}, its
   * gradient as {@link #std(Tensor, int, boolean, boolean)}'s.
   */
  public static Tensor std(Tensor x, int[] dims, boolean unbiased, boolean keepDim) {
    return ReductionOps.std(x, dims, unbiased, keepDim);
  }

  /**
   * Variance of all values, as a rank-0 tensor (PyTorch's {@code x.var(unbiased)}): {@code
   * sum((x - mean)^2) / (n - 1)}, or {@code / n} when not {@code unbiased}. One value, unbiased,
   * gives NaN as in PyTorch; an empty tensor is refused, as {@link #mean} refuses it.
   */
  public static Tensor var(Tensor x, boolean unbiased) {
    return ReductionOps.var(x, unbiased);
  }

  /**
   * Standard deviation along {@code dim}, as PyTorch's {@code x.std(dim, unbiased, keepdim)}: the
   * square root of {@link #var(Tensor, int, boolean, boolean)}. The gradient is
   * {@code g / (2 std)} through the variance's, and 0 where the standard deviation is 0 (a constant
   * input), as in PyTorch, where the plain square root's would give {@code 0 * inf = NaN}.
   */
  public static Tensor std(Tensor x, int dim, boolean unbiased, boolean keepDim) {
    return ReductionOps.std(x, dim, unbiased, keepDim);
  }

  /**
   * Standard deviation of all values, as a rank-0 tensor (PyTorch's {@code x.std(unbiased)}); see
   * {@link #std(Tensor, int, boolean, boolean)}.
   */
  public static Tensor std(Tensor x, boolean unbiased) {
    return ReductionOps.std(x, unbiased);
  }

  /**
   * The maxima ({@code max} true) or minima of {@code x} along {@code dim} and where they are, as
   * PyTorch's {@code x.max(dim, keepdim)}: the first on ties, NaN wins over any number (PyTorch
   * propagates NaN). The values' gradient goes to the element each came from, zero elsewhere.
   * On CUDA a reduction on the device ({@code cuda.SortKernels}: a block, a warp or a thread per
   * line), the gradient scattered there too.
   *
   * @throws IllegalArgumentException naming the op and the shape for a dimension out of range or
   *     of size 0
   */
  public static ValuesAndIndices extremaAlong(Tensor x, int dim, boolean keepDim, boolean max) {
    if (IntOps.isIds(x)) { // the largest ids and where they are: ids both (IntOps)
      ValuesAndIndices found = ReductionOps.extremaAlong(IntOps.toFloat(x), dim, keepDim, max);
      return new ValuesAndIndices(IntOps.asIds(found.values()), found.indices());
    }
    return ReductionOps.extremaAlong(x, dim, keepDim, max);
  }

  /**
   * The {@code k} largest ({@code largest}) or smallest values along {@code dim} and their indices,
   * as PyTorch's {@code x.topk(k, dim, largest)}: sorted, NaN above every number; the dimension
   * keeps its place with size k. Ties come in their original order (PyTorch's CPU topk leaves their
   * order unspecified, and differs from 4 values on; the values are the same). The values' gradient goes back to the
   * elements they came from. On the CPU no line is sorted whole (a heap of k, or a radix select:
   * {@code cpu.SortKernels}); on CUDA the sort runs on the device ({@code cuda.SortKernels}; top-5 accuracy:
   * {@code out.topk(5, 1, true).indices()}).
   *
   * @throws IllegalArgumentException naming the shape for a k outside 0..size or a dimension out of range
   */
  public static ValuesAndIndices topk(Tensor x, int k, int dim, boolean largest) {
    return ReductionOps.topk(x, k, dim, largest);
  }

  /**
   * The values of {@code x} along {@code dim} sorted, ascending or ({@code descending}) descending,
   * and where each came from, as PyTorch's {@code x.sort(dim, descending)}: NaN above every
   * number (last ascending, first descending), ties in their original order (PyTorch's {@code
   * stable=True}; its default sort may order ties otherwise from some 16 values on, the values
   * the same). The values' gradient goes back to the elements they came from. On CUDA the sort
   * and the gradient's scatter run on the device, in the same order, as for {@link #topk}.
   *
   * @throws IllegalArgumentException naming the shape for a dimension out of range
   */
  public static ValuesAndIndices sort(Tensor x, int dim, boolean descending) {
    return ReductionOps.sort(x, dim, descending);
  }

  /**
   * The maximum ({@code max} true) or minimum of all of {@code x}'s values as a rank-0 tensor
   * (PyTorch's {@code x.max()}; NaN if any is NaN). As PyTorch's, the gradient is shared evenly by
   * every element equal to the result (each NaN, for a NaN result). On CUDA both run on the device
   * (one block reduces all values: {@code cuda.SortKernels}).
   *
   * @throws IllegalArgumentException for an empty tensor, which has no maximum
   */
  public static Tensor extremum(Tensor x, boolean max) {
    if (IntOps.isIds(x)) { // the largest id (IntOps)
      return IntOps.keepingIds(x, f -> ReductionOps.extremum(f, max));
    }
    return ReductionOps.extremum(x, max);
  }

  /** {@code shape} without dimension {@code d}, or with size 1 there when {@code keepDim}. */
  static int[] reducedShape(int[] shape, int d, boolean keepDim) {
    if (keepDim) {
      int[] out = shape.clone();
      out[d] = 1;
      return out;
    }
    int[] out = new int[shape.length - 1];
    for (int i = 0, k = 0; i < shape.length; i++) {
      if (i != d) {
        out[k++] = shape[i];
      }
    }
    return out;
  }

  // ------------------------------------------------------------------ slicing, joining, adding and removing dimensions

  /**
   * The {@code length} entries of {@code x} along {@code dim} from {@code start} (PyTorch's
   * {@code x.narrow(dim, start, length)}); negative {@code dim} and {@code start} count from the
   * end. A copy, not a view: Kiln has no strided views (only {@link #reshape} shares storage), so
   * writing to the result leaves {@code x} as it was, unlike PyTorch. The gradient is the
   * incoming one inside the slice and zero outside.
   *
   * @throws IllegalArgumentException for a rank-0 {@code x}, a dimension out of range, a start
   *     outside {@code -size..size}, a negative length, or {@code start + length} past the end
   */
  public static Tensor narrow(Tensor x, int dim, int start, int length) {
    return ShapeOps.narrow(x, dim, start, length);
  }

  /**
   * {@code x[start:end]} along {@code dim} (Python's slice, end exclusive): negative bounds count
   * from the end, and bounds past either end are clamped as Python and PyTorch clamp them, so
   * {@code slice(0, 1, Integer.MAX_VALUE)} drops the first row and an empty range gives size 0
   * along {@code dim}. A copy, as {@link #narrow}; the gradient is zero outside the slice.
   *
   * @throws IllegalArgumentException for a rank-0 {@code x} or a dimension out of range
   */
  public static Tensor slice(Tensor x, int dim, int start, int end) {
    return ShapeOps.slice(x, dim, start, end);
  }

  /**
   * Entry {@code index} of {@code x} along {@code dim}, which is removed (PyTorch's
   * {@code x.select(dim, index)}, {@code x[:, index]} for dimension 1); negative {@code dim} and
   * {@code index} count from the end. A copy, as {@link #narrow}; the gradient is zero at the other
   * entries.
   *
   * @throws IllegalArgumentException for a rank-0 {@code x}, a dimension out of range, or an index
   *     outside {@code -size..size-1}
   */
  public static Tensor select(Tensor x, int dim, int index) {
    return ShapeOps.select(x, dim, index);
  }

  /**
   * The slices of {@code x} along {@code dim}, PyTorch's {@code torch.unbind}: {@code x.size(dim)}
   * tensors of {@code x}'s shape without {@code dim} (copies, as {@link #select}'s). Their gradients
   * reach {@code x} through one node (see {@link ShapeOps#pieces}), where a {@code select} per slice gives
   * each slice an {@code x}-sized gradient of its own: quadratic in the count (a loop over a
   * sequence's steps written by hand).
   *
   * @throws IllegalArgumentException for a 0-dim tensor or a dimension out of range
   */
  public static Tensor[] unbind(Tensor x, int dim) {
    return ShapeOps.unbind(x, dim);
  }

  /**
   * {@code x} cut along {@code dim} into pieces of {@code splitSize} entries, the last one shorter
   * when the size does not divide (PyTorch's {@code torch.split(x, split_size, dim)}); a dimension
   * of size 0 gives one empty piece. Copies, as {@link #narrow}'s, whose gradients reach {@code x}
   * through one node, as {@link #unbind}'s.
   *
   * @throws IllegalArgumentException for a 0-dim tensor, a dimension out of range, a negative
   *     {@code splitSize}, or 0 over a dimension that is not empty
   */
  public static Tensor[] split(Tensor x, int splitSize, int dim) {
    return ShapeOps.split(x, splitSize, dim);
  }

  /**
   * {@code x} cut along {@code dim} into pieces of the given lengths, in order (PyTorch's {@code
   * torch.split(x, [2, 3], dim)}, {@code split_with_sizes}); see {@link #split(Tensor, int, int)}.
   *
   * @throws IllegalArgumentException for a 0-dim tensor, a dimension out of range, a negative
   *     length, or lengths that do not add up to the dimension's size
   */
  public static Tensor[] split(Tensor x, int[] lengths, int dim) {
    return ShapeOps.split(x, lengths, dim);
  }

  /**
   * {@code x} cut along {@code dim} into {@code chunks} pieces of {@code ceil(size / chunks)}
   * entries, the last one shorter, and fewer pieces where the size runs out first (PyTorch's {@code
   * torch.chunk}: 5 entries in 4 chunks are 2, 2 and 1); a dimension of size 0 gives {@code chunks}
   * empty pieces. {@code gates.chunk(4, 1)} splits an LSTM's gates. See {@link #split(Tensor, int, int)}.
   *
   * @throws IllegalArgumentException for a 0-dim tensor, a dimension out of range or {@code chunks} below 1
   */
  public static Tensor[] chunk(Tensor x, int chunks, int dim) {
    return ShapeOps.chunk(x, chunks, dim);
  }

  /**
   * {@code tensors} joined along {@code dim} (PyTorch's {@code torch.cat}; negative counts from the
   * end): float tensors on one device, of one rank (at least 1), whose shapes agree except along
   * {@code dim}. The result is a new tensor; each input that requires grad gets its part of the
   * gradient (an input listed twice gets both parts).
   *
   * <p>As in PyTorch, a tensor of shape {@code [0]} joins tensors of any shape as nothing, so
   * {@code all = Tensor.cat(List.of(all, batch), 0)} may start from {@code Tensor.zeros(0)}.
   *
   * @throws IllegalArgumentException for an empty list, a rank-0 tensor, ranks or sizes that differ
   *     (naming the tensor's position and both shapes), or tensors on different devices
   */
  public static Tensor cat(java.util.List<Tensor> tensors, int dim) {
    if (IntOps.anyIds(tensors)) { // ids of ids, else floats (IntOps)
      return IntOps.join(tensors, floats -> ShapeOps.cat(floats, dim));
    }
    return ShapeOps.cat(tensors, dim);
  }

  /**
   * {@code tensors}, all of one shape, joined along a new dimension {@code dim} (PyTorch's
   * {@code torch.stack}; {@code -(rank + 1)..rank}, negative counting from the end of the result):
   * {@link #cat} of each {@link #unsqueeze}d, so the gradient is cat's.
   *
   * @throws IllegalArgumentException for an empty list, shapes that differ (naming both and their
   *     positions), a dimension out of range, or tensors on different devices
   */
  public static Tensor stack(java.util.List<Tensor> tensors, int dim) {
    if (IntOps.anyIds(tensors)) {
      return IntOps.join(tensors, floats -> ShapeOps.stack(floats, dim));
    }
    return ShapeOps.stack(tensors, dim);
  }

  /** The tensors of a cat or stack: a non-empty list without nulls, all float. */
  /**
   * Sequences of different lengths {@code [L_i, *]} padded to the longest and stacked, PyTorch's
   * {@code pad_sequence(sequences, batch_first, padding_value)}: {@code [maxL, B, *]}, or {@code [B,
   * maxL, *]} with {@code batchFirst}. Float sequences keep their gradients (the padding gets none);
   * class-index sequences ({@code Tensor.labels}, e.g. targets padded with -100 for a loss's
   * ignore_index) are padded as labels. Every sequence must share its trailing shape and device.
   *
   * @throws IllegalArgumentException for an empty list, a rank-0 sequence, trailing shapes that differ
   *     or mixed kinds, naming the sequence
   */
  public static Tensor padSequence(java.util.List<Tensor> sequences, boolean batchFirst, float paddingValue) {
    return ShapeOps.padSequence(sequences, batchFirst, paddingValue);
  }

  /**
   * {@code x} with a dimension of size 1 inserted at {@code dim} (PyTorch's {@code x.unsqueeze(dim)}):
   * {@code -(rank + 1)..rank}, negative counting from the end of the result, so -1 appends one. A
   * {@link #reshape} view; the gradient is reshaped back.
   */
  public static Tensor unsqueeze(Tensor x, int dim) {
    return ShapeOps.unsqueeze(x, dim);
  }

  /**
   * {@code x} without dimension {@code dim} when its size is 1, else {@code x}'s shape unchanged
   * (PyTorch's {@code x.squeeze(dim)}; negative counts from the end; a rank-0 tensor takes 0 or -1).
   * A {@link #reshape} view; the gradient is reshaped back.
   */
  public static Tensor squeeze(Tensor x, int dim) {
    return ShapeOps.squeeze(x, dim);
  }

  /** {@code x} without its dimensions of size 1 (PyTorch's {@code x.squeeze()}); a {@link #reshape} view. */
  public static Tensor squeeze(Tensor x) {
    return ShapeOps.squeeze(x);
  }

  // ------------------------------------------------------------------ losses

  /**
   * Cross-entropy of {@code logits[N, C]} against class indices {@code target[N]}, averaged over
   * the batch ({@code mean}) or summed. Log-softmax and NLL run as one kernel; the saved softmax
   * gives the backward {@code (softmax - onehot) / N} in one pass.
   */
  public static Tensor crossEntropy(Tensor logits, Tensor target, boolean mean) {
    return LossOps.crossEntropy(logits, target, mean);
  }

  /** Cross-entropy per sample ({@code reduction='none'}): a tensor of shape {@code [N]}. */
  public static Tensor crossEntropyPerSample(Tensor logits, Tensor target) {
    return LossOps.crossEntropyPerSample(logits, target);
  }

  /**
   * The negative log-likelihood per sample, {@code -input[i, target[i]]} ({@code nn.NLLLoss} with
   * {@code reduction='none'}): {@code input [N, C]} log-probabilities, {@code target [N]} class
   * indices; a tensor {@code [N]}. The gradient is {@code -g} at each sample's class, 0 elsewhere.
   * Computed on the host on either device.
   *
   * @throws IllegalArgumentException naming the shapes, or the sample and the index out of range
   */
  public static Tensor nllLossPerSample(Tensor input, Tensor target) {
    return LossOps.nllLossPerSample(input, target);
  }

  /**
   * Rows of {@code weight [num, dim]} picked by the class indices {@code indices} (any shape, a
   * label tensor), as PyTorch's {@code F.embedding}: the result {@code [*indices' shape, dim]}.
   * The weight's gradient adds each picked row's gradient into its row (a dense gradient; the row
   * {@code paddingIdx} gets none, -1 for no such row). On CUDA the lookup and the gradient's
   * scatter are device kernels ({@code CudaOps.embedding}, {@code cuda.EmbeddingKernels}), the ids checked on the host.
   *
   * @throws IllegalArgumentException naming the index out of range, or for a float index tensor
   */
  public static Tensor embedding(Tensor indices, Tensor weight, int paddingIdx) {
    return ShapeOps.embedding(indices, weight, paddingIdx);
  }

  /**
   * Sums, means or maxima of bags of {@code weight [num, dim]}'s rows, as PyTorch's {@code
   * F.embedding_bag}: each bag's rows reduced without making the {@code [*, dim]} lookup first.
   * The bags are the rows of a 2-D {@code indices [B, N]} ({@code offsets} null), or, for a 1-D
   * {@code indices}, the runs starting at each of {@code offsets}' positions (the first 0, none
   * decreasing, none past the end), the last one running to the end of {@code indices} or, with
   * {@code includeLastOffset}, to the last offset, which then only ends it (B = offsets' length - 1).
   * Entries equal to {@code paddingIdx} (-1: none) are left out of their bag and of its count; an
   * empty bag gives zeros in every mode. {@code perSampleWeights} (null, or one float per entry of
   * {@code indices}, mode {@code "sum"} only) scales each row before the sum. Gradients: the weight's
   * dense, as {@link #embedding}'s (mean divides by the bag's count, max goes to the first row that
   * holds each maximum), and the per-sample weights' (the bag's gradient dotted with the row).
   * On CUDA the reductions and gradients are device kernels ({@code CudaOps.embeddingBag}), the
   * indices and offsets checked on the host.
   *
   * @param mode {@code "sum"}, {@code "mean"} or {@code "max"}
   * @return {@code [B, dim]}
   * @throws IllegalArgumentException naming the bad index, offset, shape or mode
   */
  public static Tensor embeddingBag(Tensor indices, Tensor offsets, Tensor weight, Tensor perSampleWeights, String mode,
      boolean includeLastOffset, int paddingIdx) {
    return ShapeOps.embeddingBag(indices, offsets, weight, perSampleWeights, mode, includeLastOffset, paddingIdx);
  }

  /** {@link #nllLossPerSample} averaged over the batch ({@code mean}; NaN for an empty one, as PyTorch's) or added. */
  public static Tensor nllLoss(Tensor input, Tensor target, boolean mean) {
    return LossOps.nllLoss(input, target, mean);
  }

  // ------------------------------------------------------------------ convolution and pooling

  /**
   * 2-d convolution (cross-correlation) as PyTorch's {@code F.conv2d} (dilation and groups: the overload below): input {@code [N, C, H, W]},
   * weight {@code [O, C, kH, kW]}, bias {@code [O]} or null; output {@code [N, O, outH, outW]} with
   * {@code outH = (H + 2 padH - kH) / strideH + 1} (rounded down), likewise outW. Padding is zeros.
   * An unbatched input {@code [C, H, W]} gives {@code [O, outH, outW]}, as in PyTorch 1.13.
   */
  public static Tensor conv2d(Tensor x, Tensor weight, Tensor bias, int strideH, int strideW, int padH, int padW) {
    return LayerOps.conv2d(x, weight, bias, strideH, strideW, padH, padW);
  }

  /**
   * {@link #conv2d} with PyTorch's {@code dilation} and {@code groups}: kernel taps {@code dilationH}/{@code dilationW}
   * apart, so {@code outH = (H + 2 padH - dilationH (kH - 1) - 1) / strideH + 1}; the channels split into
   * {@code groups} groups (both channel counts divisible by it), weight {@code [O, C / groups, kH, kW]}, output
   * group {@code g} reading input group {@code g} only. {@code groups == C} is a depthwise convolution, which runs
   * on direct kernels on the CPU; cuDNN takes both on CUDA.
   */
  public static Tensor conv2d(Tensor x, Tensor weight, Tensor bias, int strideH, int strideW, int padH, int padW,
      int dilationH, int dilationW, int groups) {
    return LayerOps.conv2d(x, weight, bias, strideH, strideW, padH, padW, dilationH, dilationW, groups);
  }

  /**
   * 2-d max pooling as PyTorch's {@code F.max_pool2d}: input {@code [N, C, H, W]}, output
   * {@code [N, C, outH, outW]}, each the maximum of a {@code kernelH x kernelW} window (padding
   * counts as minus infinity, and may be at most half the kernel). {@code ceilMode} rounds the
   * output size up, keeping a last partial window that starts inside the input. The gradient goes
   * to the element each maximum came from.
   */
  public static Tensor maxPool2d(
      Tensor x, int kernelH, int kernelW, int strideH, int strideW, int padH, int padW, boolean ceilMode) {
    return LayerOps.maxPool2d(x, kernelH, kernelW, strideH, strideW, padH, padW, ceilMode);
  }

  /**
   * PyTorch's {@code avg_pool2d} with a square window: the mean of each {@code kernel x kernel}
   * window every {@code stride}, zero {@code padding} (counted in the divisor when
   * {@code countIncludePad}), ceil mode as max pooling's. Takes {@code [N, C, H, W]} or one sample
   * {@code [C, H, W]}.
   */
  public static Tensor avgPool2d(Tensor x, int kernel, int stride, int padding, boolean ceilMode, boolean countIncludePad) {
    return LayerOps.avgPool2d(x, kernel, stride, padding, ceilMode, countIncludePad);
  }

  /**
   * The transposed 2-d convolution of {@code x [N, inC, H, W]} by {@code weight [inC, outC, kH, kW]}
   * (+ {@code bias [outC]}), as PyTorch's {@code conv_transpose2d} (dilation and groups: the overload below): the
   * output {@code [N, outC, outH, outW]}, {@code outH = (H - 1) strideH - 2 padH + kH +
   * outputPadH}, is what a convolution by the same weight (stride, padding) maps back to x, and
   * the values are that convolution's input gradient for an output gradient x. So the forward runs
   * the convolution's backward-data kernel (cuDNN's on CUDA), and the backward the forward
   * kernel (into x) and the backward-filter one (into the weight); the bias is added by
   * broadcasting. One sample's {@code [inC, H, W]} is taken too.
   *
   * @throws IllegalArgumentException naming the shapes for channels that do not match, an output
   *     padding not below the stride, or an output of no positions
   */
  public static Tensor convTranspose2d(Tensor x, Tensor weight, Tensor bias, int strideH, int strideW, int padH, int padW,
      int outputPadH, int outputPadW) {
    return LayerOps.convTranspose2d(x, weight, bias, strideH, strideW, padH, padW, outputPadH, outputPadW);
  }

  /**
   * {@link #convTranspose2d} with PyTorch's {@code dilation} and {@code groups}: weight {@code [inC, outC / groups, kH,
   * kW]}, input group {@code g} writing output group {@code g} only, {@code outH = (H - 1) strideH - 2 padH + dilationH
   * (kH - 1) + outputPadH + 1}; the output padding must be below the stride or the dilation. The same kernels, the
   * convolution's with the same dilation and groups (cuDNN's group count on CUDA).
   */
  public static Tensor convTranspose2d(Tensor x, Tensor weight, Tensor bias, int strideH, int strideW, int padH, int padW,
      int outputPadH, int outputPadW, int dilationH, int dilationW, int groups) {
    return LayerOps.convTranspose2d(x, weight, bias, strideH, strideW, padH, padW, outputPadH, outputPadW,
        dilationH, dilationW, groups);
  }

  /**
   * PyTorch's {@code adaptive_avg_pool2d} to {@code outH x outW} (1 x 1: global average pooling).
   * Takes {@code [N, C, H, W]} or one sample {@code [C, H, W]}.
   */
  public static Tensor adaptiveAvgPool2d(Tensor x, int outH, int outW) {
    return LayerOps.adaptiveAvgPool2d(x, outH, outW);
  }

  /**
   * 1-d convolution as PyTorch's {@code F.conv1d} (dilation and groups: the overload below): input {@code [N, C, L]} (or one
   * sample {@code [C, L]}), weight {@code [O, C, k]}, bias {@code [O]} or null; output {@code [N, O, outL]},
   * {@code outL = (L + 2 padding - k) / stride + 1} (rounded down), zero padding. Runs as {@link #conv2d} over the
   * view {@code [N, C, 1, L]} with a {@code 1 x k} kernel.
   */
  public static Tensor conv1d(Tensor x, Tensor weight, Tensor bias, int stride, int padding) {
    return LayerOps.conv1d(x, weight, bias, stride, padding);
  }

  /**
   * {@link #conv1d} with PyTorch's {@code dilation} and {@code groups}: weight {@code [O, C / groups, k]},
   * {@code outL = (L + 2 padding - dilation (k - 1) - 1) / stride + 1}; as {@link #conv2d}'s over {@code [N, C, 1, L]}.
   */
  public static Tensor conv1d(Tensor x, Tensor weight, Tensor bias, int stride, int padding, int dilation, int groups) {
    return LayerOps.conv1d(x, weight, bias, stride, padding, dilation, groups);
  }

  /**
   * PyTorch's {@code max_pool1d} over {@code [N, C, L]} or {@code [C, L]}: each output the maximum of a window of
   * {@code kernel} every {@code stride}, padding (minus infinity, at most half the kernel) and ceil mode as
   * {@link #maxPool2d}'s, which it runs over {@code [N, C, 1, L]}.
   */
  public static Tensor maxPool1d(Tensor x, int kernel, int stride, int padding, boolean ceilMode) {
    return LayerOps.maxPool1d(x, kernel, stride, padding, ceilMode);
  }

  /** PyTorch's {@code avg_pool1d} over {@code [N, C, L]} or {@code [C, L]}, as {@link #avgPool2d} over {@code [N, C, 1, L]}. */
  public static Tensor avgPool1d(Tensor x, int kernel, int stride, int padding, boolean ceilMode, boolean countIncludePad) {
    return LayerOps.avgPool1d(x, kernel, stride, padding, ceilMode, countIncludePad);
  }

  /** PyTorch's {@code adaptive_avg_pool1d} to {@code size} positions, as {@link #adaptiveAvgPool2d} over {@code [N, C, 1, L]}. */
  public static Tensor adaptiveAvgPool1d(Tensor x, int size) {
    return LayerOps.adaptiveAvgPool1d(x, size);
  }

  // (end of convolution and pooling)

  // ------------------------------------------------------------------ normalisation, dropout, activations, regression losses

  /**
   * Batch normalisation over dimension 1 of {@code x [N, C, *]} (PyTorch's {@code F.batch_norm}):
   * {@code (x - mean[c]) / sqrt(var[c] + eps) * weight[c] + bias[c]}, statistics per channel over
   * the other dimensions (x is seen as {@code [N, C, L]}).
   *
   * <p>In training the batch's mean and biased variance normalise, the gradient flows through them
   * too, and {@code runningMean}/{@code runningVar}, when given, are updated in place:
   * {@code running = (1 - momentum) * running + momentum * batch}, with the variance unbiased
   * ({@code n / (n - 1)}). In evaluation the running statistics normalise and are left as they are.
   *
   * @param x input {@code [N, C]}, {@code [N, C, L]} or {@code [N, C, H, W]}; the output has its shape
   * @param runningMean {@code [C]} buffer; may be null (with runningVar) in training only
   * @param runningVar {@code [C]} buffer
   * @param weight {@code [C]} scale, or null together with bias for no affine transform
   * @param bias {@code [C]} shift
   * @throws IllegalArgumentException when training on one value per channel (as PyTorch), when a
   *     {@code [C]} tensor does not match x (naming both shapes), or when eval has no running statistics
   */
  public static Tensor batchNorm(
      Tensor x, Tensor runningMean, Tensor runningVar, Tensor weight, Tensor bias, boolean training, double momentum, double eps) {
    return LayerOps.batchNorm(x, runningMean, runningVar, weight, bias, training, momentum, eps);
  }

  /**
   * Layer normalisation, PyTorch's {@code F.layer_norm(x, normalized_shape, weight, bias, eps)}: the
   * last dimensions of x (those of {@code normalizedShape}) normalised by their own mean and biased
   * variance, {@code (x - mean) / sqrt(var + eps)}, then times {@code weight} plus {@code bias} (both
   * of {@code normalizedShape}, or both null). On the CPU one pass each way
   * ({@code NormKernels.layerNormForward}/{@code Backward}: statistics kept in double, outputs in float); on
   * CUDA composed of the tape's device ops (mean, sub, mul, pow).
   *
   * @throws IllegalArgumentException when x does not end with {@code normalizedShape}, when weight
   *     and bias are not both given or both null, or do not have that shape
   */
  public static Tensor layerNorm(Tensor x, int[] normalizedShape, Tensor weight, Tensor bias, double eps) {
    return LayerOps.layerNorm(x, normalizedShape, weight, bias, eps);
  }

  /**
   * Group normalisation, PyTorch's {@code F.group_norm(x, num_groups, weight, bias, eps)}: x {@code [N, C, *]} (rank 2
   * or more) with its C channels in {@code groups} groups of {@code C / groups}; each sample's group is normalised by its
   * own mean and biased variance over its channels' values, {@code (x - mean) / sqrt(var + eps)}, then each channel
   * scaled by {@code weight} and shifted by {@code bias} ({@code [C]} each, either null for none). The same in training
   * and evaluation (no running statistics); {@code groups = C} is instance normalisation. On the CPU one pass forward
   * and two backward ({@code NormKernels.groupNormForward}/{@code Backward}: statistics in double, outputs in float); on
   * CUDA Kiln's kernels ({@code cuda.GroupNormKernels}), the same arithmetic.
   *
   * @throws IllegalArgumentException when x has rank under 2, when C is not divisible by {@code groups}, when weight or
   *     bias is not {@code [C]}, or eps is not positive
   */
  public static Tensor groupNorm(Tensor x, int groups, Tensor weight, Tensor bias, double eps) {
    return LayerOps.groupNorm(x, groups, weight, bias, eps);
  }

  /**
   * One direction of one recurrent layer over a whole sequence as one tape node: from the input's part of every step's gates {@code xProj [T, B, G
   * H]} ({@code x W_ih^T + b_ih}), the initial states {@code h0}, {@code c0} ({@code [B, H]}, or null
   * for zeros; c0 for LSTM only), {@code wHh [G H, H]} and {@code bHh [G H]} (or null), the states
   * {@code [T, B, S H]}: each step's hidden state, and for LSTM its cell state beside it (S = 2).
   * The recurrent layers and cells of the dsl take it on either device; on CUDA it is {@link
   * CudaRecurrent} (per step one cuBLAS GEMM and one cell kernel each way), on the CPU {@link
   * RecurrentKernels}.
   *
   * @throws IllegalArgumentException for shapes that do not fit, or tensors on different devices
   */
  public static Tensor recurrent(RecurrentKernels.Mode mode, Tensor xProj, Tensor h0, Tensor c0, Tensor wHh, Tensor bHh,
      boolean reverse) {
    return RecurrentOps.recurrent(mode, xProj, h0, c0, wHh, bHh, reverse);
  }

  /**
   * What {@link #recurrentRun} and {@link #recurrentLayer} return: the output {@code [T, B, H]} (each step's hidden
   * state) and the last step's states {@code h}, {@code c} ({@code [B, H]}; c null but for LSTM), the last step being
   * T - 1, or 0 in reverse.
   */
  public record RecurrentRun(Tensor output, Tensor h, Tensor c) {}

  /**
   * {@link #recurrent}'s states as the recurrent layers use them: the hidden states, and the last step's states. With a
   * gradient to record (or on CUDA) the output is narrowed out of {@code recurrent}'s states; without one, on the CPU,
   * the kernel writes the hidden states alone into the output ({@code RecurrentKernels.forwardHidden}: LSTM's cell
   * states are never written, nor copied out), the last states are the run's own arrays. The same values either way.
   */
  public static RecurrentRun recurrentRun(RecurrentKernels.Mode mode, Tensor xProj, Tensor h0, Tensor c0, Tensor wHh, Tensor bHh,
      boolean reverse) {
    return RecurrentOps.recurrentRun(mode, xProj, h0, c0, wHh, bHh, reverse);
  }

  /**
   * One direction of one recurrent layer over {@code input [T, B, I]}: the input's part of every step's gates at once
   * ({@link #linear} of {@code [T * B, I]} by {@code wIh}, plus {@code bIh} when not null), then {@link #recurrentRun}.
   * Without a gradient to record, on the CPU, that projection is an array of the engine's, given back to its {@code
   * ArrayPool} once the run has read it (the layer's next run, or the next forward's, takes it again), and
   * the same values.
   */
  public static RecurrentRun recurrentLayer(RecurrentKernels.Mode mode, Tensor input, Tensor wIh, Tensor bIh, Tensor h0, Tensor c0,
      Tensor wHh, Tensor bHh, boolean reverse) {
    return RecurrentOps.recurrentLayer(mode, input, wIh, bIh, h0, c0, wHh, bHh, reverse);
  }

  /** A layer's node inputs: {@code x, weight} and the bias when there is one (its gradient is input 2). */
  static Tensor[] layerInputs(Tensor x, Tensor weight, Tensor bias) {
    return bias == null ? new Tensor[] {x, weight} : new Tensor[] {x, weight, bias};
  }

  static float[] bufferOrNull(Tensor t) {
    return t == null ? null : t.readBuffer();
  }

  static int offsetOf(Tensor t) {
    return t == null ? 0 : t.offset();
  }

  /**
   * Inverted dropout (PyTorch's {@code F.dropout}): in training each element is zeroed with
   * probability {@code p} and the others are scaled by {@code 1 / (1 - p)}, which keeps the
   * expected value. The mask comes from {@link Kiln#generator()}, so {@link Kiln#manualSeed}
   * repeats it, and the backward multiplies by the same mask. Outside training, or with
   * {@code p = 0}, {@code x} itself is returned. Any shape.
   *
   * @param p probability of zeroing an element, in [0, 1]; {@code p = 1} gives zeros
   */
  public static Tensor dropout(Tensor x, double p, boolean training) {
    return LayerOps.dropout(x, p, training);
  }

  /**
   * Channel dropout, as PyTorch's {@code F.dropout2d} on {@code [N, C, H, W]}: in training each
   * whole channel map is zeroed with probability {@code p} and the others scaled by {@code 1 / (1 -
   * p)} (one draw per sample and channel, from Kiln's generator); in evaluation, or with p = 0, x
   * itself. The mask multiplies by broadcasting, so the gradient is masked alike. As PyTorch 1.13 (which warns), a 3-d
   * {@code [N, C, L]} drops whole channels of length L and a 2-d {@code [N, C]} single values (mnist_rnn's Dropout2d after
   * a BatchNorm1d of an LSTM's last step): one draw per sample and channel whatever the rank.
   */
  public static Tensor dropout2d(Tensor x, double p, boolean training) {
    return LayerOps.dropout2d(x, p, training);
  }

  /**
   * Nearest-neighbour upsampling of {@code [N, C, H, W]} by whole factors, as PyTorch's {@code
   * nn.Upsample(scale_factor=(sh, sw))} (mode 'nearest'): each value repeated {@code sh x sw} times,
   * {@code [N, C, H sh, W sw]}; the gradient sums each block back to its value. On the CPU one
   * pass each way ({@code ConvKernels.upsampleNearestForward}/{@code Backward}); on CUDA a reshape
   * and an {@link #expand} on the device.
   */
  public static Tensor upsampleNearest(Tensor x, int scaleH, int scaleW) {
    return LayerOps.upsampleNearest(x, scaleH, scaleW);
  }

  // ------------------------------------------------------------------ element-wise math

  /** {@code exp(x)} element-wise; any shape. The gradient is {@code g * exp(x)}. */
  public static Tensor exp(Tensor x) {
    return UnaryOps.exp(x);
  }

  /** {@code sin(x)} element-wise, in double and rounded once; the gradient {@code g cos(x)}. */
  public static Tensor sin(Tensor x) {
    return UnaryOps.sin(x);
  }

  /** {@code cos(x)} element-wise, in double and rounded once; the gradient {@code -g sin(x)}. */
  public static Tensor cos(Tensor x) {
    return UnaryOps.cos(x);
  }

  /** The natural logarithm element-wise (NaN below 0, -inf at 0); any shape. The gradient is {@code g / x}. */
  public static Tensor log(Tensor x) {
    return UnaryOps.log(x);
  }

  /** {@code sqrt(x)} element-wise (NaN below 0); any shape. The gradient is {@code g / (2 sqrt(x))}, infinite at 0. */
  public static Tensor sqrt(Tensor x) {
    return UnaryOps.sqrt(x);
  }

  /** {@code |x|} element-wise; any shape. The gradient is {@code g * sign(x)}, 0 at 0 as in PyTorch. */
  public static Tensor abs(Tensor x) {
    if (IntOps.isIds(x)) { // ids' magnitudes, ids (IntOps)
      return IntOps.withConstant(dev.kiln.runtime.cpu.IdKernels.Op.ABS, x, 0, Long.MAX_VALUE);
    }
    return UnaryOps.abs(x);
  }

  /** {@code -x}; any shape. The gradient is {@code -g}. */
  public static Tensor neg(Tensor x) {
    if (IntOps.isIds(x)) { // -ids, ids (IntOps)
      return IntOps.withConstant(dev.kiln.runtime.cpu.IdKernels.Op.NEG, x, 0, Long.MAX_VALUE);
    }
    return UnaryOps.neg(x);
  }

  /**
   * {@code x^exponent} element-wise ({@code Math.pow}'s rules: NaN for a negative base and a
   * fractional exponent); any shape. The gradient is {@code g * exponent * x^(exponent - 1)}, 0 for
   * the exponent 0.
   */
  public static Tensor pow(Tensor x, float exponent) {
    return UnaryOps.pow(x, exponent);
  }

  /** The transpose of a matrix ({@code x.t()}): {@code [rows, cols] -> [cols, rows]}, a copy; the gradient is the gradient's transpose. */
  public static Tensor transpose(Tensor x) {
    if (IntOps.isIds(x)) { // ids moved: ids (IntOps)
      return IntOps.keepingIds(x, f -> ShapeOps.transpose(f));
    }
    return ShapeOps.transpose(x);
  }

  /**
   * {@code x} with its dimensions reordered, as PyTorch's {@code x.permute(dims)}: dimension
   * {@code i} of the result is {@code x}'s {@code dims[i]} (negative counting from the end). A copy,
   * not a view (Kiln has no strided views); the gradient is the gradient permuted back. A float
   * CUDA tensor of up to six dimensions is permuted by one device kernel each way; class indices
   * and higher ranks on CUDA are permuted on the host.
   *
   * @throws IllegalArgumentException naming the shape and {@code dims} unless they are a
   *     permutation of x's dimensions
   */
  public static Tensor permute(Tensor x, int... dims) {
    return ShapeOps.permute(x, dims);
  }

  /** {@code x.permute(d0, d1)} with the two swapped (PyTorch's {@code x.transpose(d0, d1)}), a copy. */
  public static Tensor transpose(Tensor x, int d0, int d1) {
    if (IntOps.isIds(x)) { // ids moved: ids (IntOps)
      return IntOps.keepingIds(x, f -> ShapeOps.transpose(f, d0, d1));
    }
    return ShapeOps.transpose(x, d0, d1);
  }

  /**
   * {@code a - b}, broadcast as {@link #add} (PyTorch's {@code a - b}): one pass on the CPU, the
   * compiled models' kernels ({@link ArithmeticKernels}); on CUDA {@code a + (-b)}, the same values.
   */
  public static Tensor sub(Tensor a, Tensor b) {
    return ArithmeticOps.sub(a, b);
  }

  /**
   * {@code a / b}, broadcast as {@link #add}: on the CPU a true quotient, as PyTorch's, with its
   * gradients {@code g / b} and {@code -g * ((a / b) / b)} (ATen's), the compiled models' kernels
   * ({@link ArithmeticKernels}: eager and compiled divisions agree to the bit); on CUDA the same
   * quotient and gradients, a broadcast operand expanded on the device first.
   */
  public static Tensor div(Tensor a, Tensor b) {
    return ArithmeticOps.div(a, b);
  }

  /** {@code 1 / (1 + exp(-x))} element-wise; any shape. The gradient is {@code y * (1 - y)}. */
  public static Tensor sigmoid(Tensor x) {
    return UnaryOps.sigmoid(x);
  }

  /**
   * GELU, {@code x * Phi(x)} with {@code Phi} the standard normal CDF, as PyTorch's default
   * ({@code approximate='none'}): on the CPU in float, the normal tail from an exp and a fitted
   * polynomial ({@code ActivationKernels.geluForward}: within 6 ulp down to the smallest normal
   * results, where PyTorch's float kernel returns 0 below -5.4 or so); on CUDA in double. The
   * gradient {@code Phi(x) + x phi(x)} is computed from the input.
   */
  public static Tensor gelu(Tensor x) {
    return UnaryOps.gelu(x);
  }

  /**
   * GELU with PyTorch's {@code approximate} argument: {@code "none"} is {@link #gelu(Tensor)}, {@code "tanh"} the
   * tanh approximation {@code 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))} (GPT-2's), on the CPU in PyTorch
   * 1.13's float arithmetic ({@code ActivationKernels.geluTanhForward}), on CUDA in double; the gradient from the
   * input. Any other string is an error naming it.
   */
  public static Tensor gelu(Tensor x, String approximate) {
    return geluApproximation(approximate) ? UnaryOps.geluTanh(x) : UnaryOps.gelu(x);
  }

  /**
   * Whether PyTorch's {@code approximate} argument of GELU is {@code "tanh"} (false for {@code "none"}); any other
   * value is an {@link IllegalArgumentException} naming it and the two allowed.
   */
  public static boolean geluApproximation(String approximate) {
    if ("tanh".equals(approximate)) {
      return true;
    }
    if ("none".equals(approximate)) {
      return false;
    }
    throw new IllegalArgumentException("gelu: approximate argument must be either none or tanh, not "
        + (approximate == null ? "null" : "'" + approximate + "'"));
  }

  /**
   * {@code x * sigmoid(x)} element-wise (SiLU, "swish"); any shape. One pass each way, on the CPU in
   * float ({@code ActivationKernels.siluForward}: within 1.7 ulp), on CUDA in double; the gradient
   * {@code s (1 + x (1 - s))} is computed from the input.
   */
  public static Tensor silu(Tensor x) {
    return UnaryOps.silu(x);
  }

  /** {@code tanh(x)} element-wise; any shape. The gradient is {@code 1 - y^2}. */
  public static Tensor tanh(Tensor x) {
    return UnaryOps.tanh(x);
  }

  /** {@code x > 0 ? x : negativeSlope * x} element-wise; any shape. */
  public static Tensor leakyRelu(Tensor x, double negativeSlope) {
    return UnaryOps.leakyRelu(x, negativeSlope);
  }

  /**
   * {@code x} limited to {@code [min, max]}, as PyTorch's {@code x.clamp(min, max)}: a NaN stays NaN,
   * and {@code min > max} gives {@code max} everywhere, as in PyTorch. The gradient passes where
   * {@code min <= x <= max}, bounds included, and is 0 elsewhere (and at NaN). An infinite bound is
   * no bound: {@code clamp(x, 0, Float.POSITIVE_INFINITY)} is PyTorch's {@code x.clamp(min=0)}.
   *
   * @throws IllegalArgumentException for a NaN bound
   */
  public static Tensor clamp(Tensor x, float min, float max) {
    if (IntOps.isIds(x)) { // float bounds: floats, as PyTorch promotes (int bounds: Tensor.clamp(int, int), ids)
      return UnaryOps.clamp(IntOps.toFloat(x), min, max);
    }
    return UnaryOps.clamp(x, min, max);
  }

  /**
   * Softmax along {@code dim} (negative counts from the end): {@code exp(x) / sum(exp(x))}, shifted
   * by the maximum so that large values do not overflow. Rank 1 or more; the output has x's shape.
   */
  public static Tensor softmax(Tensor x, int dim) {
    return UnaryOps.softmax(x, dim);
  }

  /** {@code log(softmax(x, dim))}, computed as {@code x - logsumexp(x)} without forming the softmax. */
  public static Tensor logSoftmax(Tensor x, int dim) {
    return UnaryOps.logSoftmax(x, dim);
  }

  /** A tensor seen as {@code [outer, size, inner]} around one of its dimensions, as the softmax kernels take it. */
  record Along(int outer, int size, int inner) {
    static Along of(String op, Tensor x, int dim) {
      int[] shape = x.shape();
      try {
        int[] a = Shapes.along(shape, dim);
        return new Along(a[0], a[1], a[2]);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(op + " of shape " + Shapes.toString(shape) + ": " + e.getMessage(), e);
      }
    }
  }

  /**
   * Mean (or, with {@code mean} false, sum) absolute error between {@code input} and
   * {@code target} of the same shape, as a rank-0 tensor (PyTorch's {@code F.l1_loss}).
   */
  public static Tensor l1Loss(Tensor input, Tensor target, boolean mean) {
    return LossOps.l1Loss(input, target, mean);
  }

  /**
   * {@code |input - target|} element-wise ({@code reduction='none'}), with input's shape. The
   * gradient is {@code sign(input - target)}, 0 where they are equal; the target's is its negative.
   */
  public static Tensor l1LossPerElement(Tensor input, Tensor target) {
    return LossOps.l1LossPerElement(input, target);
  }

  /**
   * Mean (or, with {@code mean} false, sum) squared error between {@code input} and {@code target}
   * of the same shape, as a rank-0 tensor (PyTorch's {@code F.mse_loss}).
   */
  public static Tensor mseLoss(Tensor input, Tensor target, boolean mean) {
    return LossOps.mseLoss(input, target, mean);
  }

  /** {@code (input - target)^2} element-wise ({@code reduction='none'}), with input's shape. */
  public static Tensor mseLossPerElement(Tensor input, Tensor target) {
    return LossOps.mseLossPerElement(input, target);
  }

  /**
   * Binary cross-entropy of logits, element-wise ({@code reduction='none'}), as PyTorch's
   * {@code F.binary_cross_entropy_with_logits}: {@code y softplus(-x) + (1 - y) softplus(x)}, stable
   * for any logit, infinite ones included (a sure wrong answer costs infinity, a sure right one 0,
   * where PyTorch's formula gives NaN for some). Gradients: {@code sigmoid(x) - y} to the logits, {@code -x} to the
   * target. Targets need not be 0 or 1 (soft labels). Computed in double on the host on either
   * device (a classifier's [N] or [N, 1] outputs).
   */
  public static Tensor binaryCrossEntropyWithLogitsPerElement(Tensor logits, Tensor target) {
    return LossOps.binaryCrossEntropyWithLogitsPerElement(logits, target);
  }

  /** {@link #binaryCrossEntropyWithLogitsPerElement} averaged ({@code mean}) or added. */
  public static Tensor binaryCrossEntropyWithLogits(Tensor logits, Tensor target, boolean mean) {
    return LossOps.binaryCrossEntropyWithLogits(logits, target, mean);
  }

  /**
   * Binary cross-entropy of probabilities, element-wise, as PyTorch's {@code F.binary_cross_entropy}:
   * {@code -(y log p + (1 - y) log(1 - p))}, each log clamped at -100 as PyTorch clamps it (so p = 0
   * or 1 gives 100, not infinity). Gradients: {@code (p - y) / max(p (1 - p), 1e-12)} to p,
   * {@code log(1 - p) - log(p)} to the target. Prefer the logits form after a sigmoid: it is exact
   * where this one clamps.
   *
   * @throws IllegalArgumentException when a probability is outside [0, 1] or NaN, as PyTorch refuses it
   */
  public static Tensor binaryCrossEntropyPerElement(Tensor probabilities, Tensor target) {
    return LossOps.binaryCrossEntropyPerElement(probabilities, target);
  }

  /** {@link #binaryCrossEntropyPerElement} averaged ({@code mean}) or added. */
  public static Tensor binaryCrossEntropy(Tensor probabilities, Tensor target, boolean mean) {
    return LossOps.binaryCrossEntropy(probabilities, target, mean);
  }

  // (end of normalisation, dropout, activations, regression losses)

  // ------------------------------------------------------------------ padding, flipping, repeating, running sums, norms (IndexOps)

  /**
   * {@code x} padded with {@code value} as PyTorch's {@code F.pad(x, pad, value=value)} in its
   * constant mode: {@code pad} holds (before, after) pairs from the last dimension backwards
   * ({@code {1, 1, 2, 0}} pads the last dimension by one on each side and the one before it by two
   * at its start); a negative count crops. One pass each way (an index map, on the tensor's device);
   * the gradient is the incoming one cropped back, 0 for cropped values.
   *
   * @throws IllegalArgumentException for an odd count, more pairs than dimensions, or a crop past a
   *     dimension's size, naming the padding and the shape
   */
  public static Tensor pad(Tensor x, int[] pad, float value) {
    if (IntOps.isIds(x)) { // ids moved, padded with the value as an id: ids (IntOps)
      return IntOps.pad(x, pad, value);
    }
    return IndexOps.pad(x, pad, value);
  }

  /**
   * {@code x} padded as PyTorch's {@code F.pad(x, pad, mode=mode)}: {@code "constant"} with zeros ({@link #pad(Tensor, int[],
   * float)}), or {@code "reflect"}, {@code "replicate"} or {@code "circular"} over the dimensions after the first ({@link
   * PadModes}): one {@link #indexSelect} per padded dimension, the last first, whose gradient adds each padded value's back
   * to the value it copies.
   *
   * @throws IllegalArgumentException for an unknown mode, or a padding the mode refuses (PadModes#check), naming it
   */
  public static Tensor pad(Tensor x, int[] pad, String mode) {
    PadModes.check(mode, pad, x.shape());
    if (!PadModes.indexed(mode)) {
      return pad(x, pad, 0f);
    }
    Tensor out = x;
    for (int k = 0; k < pad.length / 2; k++) {
      int d = x.dim() - 1 - k;
      if (pad[2 * k] != 0 || pad[2 * k + 1] != 0) {
        out = indexSelect(out, d, Tensor.labels(PadModes.sources(mode, x.size(d), pad[2 * k], pad[2 * k + 1])).to(x.device()));
      }
    }
    return out;
  }

  /**
   * {@code x} reversed along each of {@code dims} (negative counting from the end), PyTorch's
   * {@code torch.flip(x, dims)}: a copy in one pass, whose gradient is the incoming one flipped back.
   *
   * @throws IllegalArgumentException for a dimension out of range or named twice
   */
  public static Tensor flip(Tensor x, int... dims) {
    if (IntOps.isIds(x)) { // ids moved: ids (IntOps)
      return IntOps.keepingIds(x, f -> IndexOps.flip(f, dims));
    }
    return IndexOps.flip(x, dims);
  }

  /**
   * {@code x} tiled {@code repeats[d]} times along each dimension, PyTorch's {@code x.repeat(...)}
   * (numpy's {@code tile}, not its {@code repeat}): {@code [2, 3].repeat(2, 1, 2)} is {@code [2, 2, 6]},
   * extra leading repeats adding dimensions; 0 gives an empty dimension. Built as PyTorch builds it,
   * an {@link #expand} of x with a size-1 dimension before each of its own, so the gradient sums
   * the tiles back on either device.
   *
   * @throws IllegalArgumentException for fewer repeats than x has dimensions or a negative repeat
   */
  public static Tensor repeat(Tensor x, int... repeats) {
    if (IntOps.isIds(x)) { // ids moved: ids (IntOps)
      return IntOps.keepingIds(x, f -> IndexOps.repeat(f, repeats));
    }
    return IndexOps.repeat(x, repeats);
  }

  /**
   * The running sums of {@code x} along {@code dim}, PyTorch's {@code torch.cumsum(x, dim)}: each
   * accumulated in double and rounded once (PyTorch's CPU kernel also sums in double); the
   * gradient is the running sum of the incoming one from the end. One pass each way on either
   * device (on CUDA a thread per line).
   *
   * @throws IllegalArgumentException for a dimension out of range, naming the shape
   */
  public static Tensor cumsum(Tensor x, int dim) {
    return IndexOps.cumsum(x, dim);
  }

  /**
   * {@code log(sum(exp(x)))} along {@code dim}, PyTorch's {@code torch.logsumexp(x, dim, keepdim)}:
   * stable, shifted by each line's maximum (so large values do not overflow and a line of
   * {@code -inf} gives {@code -inf}), summed in double. The gradient is {@code g exp(x - y)}, the
   * softmax along {@code dim} times the incoming gradient.
   *
   * @throws IllegalArgumentException for a dimension out of range, naming the shape
   */
  public static Tensor logsumexp(Tensor x, int dim, boolean keepDim) {
    return IndexOps.logsumexp(x, dim, keepDim);
  }

  /**
   * The p-norm along {@code dim}, {@code (sum |x|^p)^(1/p)}, PyTorch's {@code x.norm(p, dim,
   * keepdim)} ({@code torch.linalg.vector_norm}) for a finite p above 0, summed in double; the
   * gradient is PyTorch's, {@code g sign(x) (|x| / y)^(p - 1)}, and 0 where the norm is 0 (no NaN
   * for a zero vector).
   *
   * @throws IllegalArgumentException for p not above 0 or infinite, or a dimension out of range
   */
  public static Tensor norm(Tensor x, float p, int dim, boolean keepDim) {
    return IndexOps.norm(x, p, dim, keepDim);
  }

  /**
   * {@code x / max(||x||_p, eps)} along {@code dim}, PyTorch's {@code F.normalize(x, p, dim, eps)}:
   * each line scaled to norm 1 (a line of norm below eps divided by eps, its norm's gradient 0
   * there, as the clamp PyTorch applies). Composed of {@link #norm}, {@link #clamp} and {@link #div},
   * so it runs on either device.
   */
  public static Tensor normalize(Tensor x, float p, int dim, float eps) {
    return IndexOps.normalize(x, p, dim, eps);
  }

  /**
   * The cosine of the angle between {@code a} and {@code b} along {@code dim}, PyTorch 1.13's {@code
   * F.cosine_similarity(a, b, dim, eps)}: the two broadcast together, each divided by its 2-norm
   * clamped below at eps, and the products summed along {@code dim}, which is removed. As in
   * PyTorch (which clamps the norm in place) the gradient passes through the clamp, and the
   * norm's gradient {@code x / norm} is taken with the clamped norm. On either device.
   *
   * @throws IllegalArgumentException for shapes that do not broadcast or a dimension out of range
   */
  public static Tensor cosineSimilarity(Tensor a, Tensor b, int dim, float eps) {
    return IndexOps.cosineSimilarity(a, b, dim, eps);
  }

  /**
   * Class indices as one-hot rows, PyTorch's {@code F.one_hot(labels, num_classes)} but float (the
   * form a loss or a product takes): {@code labels} of any shape give {@code [*shape, numClasses]},
   * 1 at each label's class, on the labels' device. A {@code numClasses} of -1 takes the largest
   * label plus one. No gradient (labels have none).
   *
   * @throws IllegalArgumentException for float input, a negative label, one not below {@code
   *     numClasses}, or -1 with no labels to count from, naming the label, its place and the shape
   */
  public static Tensor oneHot(Tensor labels, int numClasses) {
    return IndexOps.oneHot(labels, numClasses);
  }

  // ------------------------------------------------------------------ piecewise activations and losses (PiecewiseOps)

  /**
   * Softplus, {@code log(1 + exp(beta x)) / beta}, and {@code x} itself where {@code beta x >
   * threshold} (PyTorch's {@code F.softplus(x, beta, threshold)}, default 1 and 20); any shape. The
   * gradient is {@code sigmoid(beta x)}, 1 past the threshold.
   *
   * @throws IllegalArgumentException for a beta of 0 or a bound that is not a finite float
   */
  public static Tensor softplus(Tensor x, double beta, double threshold) {
    return PiecewiseOps.softplus(x, beta, threshold);
  }

  /** ReLU6, {@code min(max(x, 0), 6)} (PyTorch's {@code F.relu6}): hardtanh between 0 and 6, its gradient 0 at both bounds. */
  public static Tensor relu6(Tensor x) {
    return PiecewiseOps.hardtanh(x, 0, 6);
  }

  /** Hardswish, {@code x min(max(x + 3, 0), 6) / 6} (PyTorch's {@code F.hardswish}); the gradient {@code x / 3 + 1/2} on [-3, 3]. */
  public static Tensor hardswish(Tensor x) {
    return PiecewiseOps.activation("hardswish", ActivationCodeKernels.HARDSWISH, x, 0);
  }

  /** Hardsigmoid, {@code min(max(x + 3, 0), 6) / 6} (PyTorch's {@code F.hardsigmoid}); the gradient 1/6 strictly inside (-3, 3). */
  public static Tensor hardsigmoid(Tensor x) {
    return PiecewiseOps.activation("hardsigmoid", ActivationCodeKernels.HARDSIGMOID, x, 0);
  }

  /** Mish, {@code x tanh(softplus(x))} (PyTorch's {@code F.mish}). */
  public static Tensor mish(Tensor x) {
    return PiecewiseOps.activation("mish", ActivationCodeKernels.MISH, x, 0);
  }

  /** SELU, {@code scale (x > 0 ? x : alpha (exp(x) - 1))} with PyTorch's alpha 1.6733 and scale 1.0507 ({@code F.selu}). */
  public static Tensor selu(Tensor x) {
    return PiecewiseOps.activation("selu", ActivationCodeKernels.SELU, x, 0);
  }

  /** CELU, {@code x > 0 ? x : alpha (exp(x / alpha) - 1)} (PyTorch's {@code F.celu(x, alpha)}); alpha not 0. */
  public static Tensor celu(Tensor x, double alpha) {
    return PiecewiseOps.activation("celu", ActivationCodeKernels.CELU, x, alpha);
  }

  /** Softsign, {@code x / (1 + |x|)} (PyTorch's {@code F.softsign}). */
  public static Tensor softsign(Tensor x) {
    return PiecewiseOps.activation("softsign", ActivationCodeKernels.SOFTSIGN, x, 0);
  }

  /** {@code log(sigmoid(x))}, computed stably as {@code min(x, 0) - log(1 + exp(-|x|))} (PyTorch's {@code F.logsigmoid}). */
  public static Tensor logSigmoid(Tensor x) {
    return PiecewiseOps.activation("log_sigmoid", ActivationCodeKernels.LOGSIGMOID, x, 0);
  }

  /** Tanhshrink, {@code x - tanh(x)} (PyTorch's {@code F.tanhshrink}). */
  public static Tensor tanhshrink(Tensor x) {
    return PiecewiseOps.activation("tanhshrink", ActivationCodeKernels.TANHSHRINK, x, 0);
  }

  /**
   * The parametric ReLU, {@code x > 0 ? x : weight * x} (PyTorch's {@code F.prelu(x, weight)}): {@code weight} one slope or
   * one per channel (dimension 1 of x; a 0-d or 1-d x has one), read where it lives, one kernel each way; the gradient at 0
   * is the slope's, the slopes' gradient summed over every position but the channel.
   */
  public static Tensor prelu(Tensor x, Tensor weight) {
    return PiecewiseOps.prelu(x, weight);
  }

  /** ELU, {@code x > 0 ? x : alpha (exp(x) - 1)} (PyTorch's {@code F.elu(x, alpha)}); the gradient {@code alpha exp(x)} at and below 0. */
  public static Tensor elu(Tensor x, double alpha) {
    return PiecewiseOps.elu(x, alpha);
  }

  /**
   * {@code x} limited to {@code [min, max]}, PyTorch's {@code F.hardtanh(x, min_val, max_val)}: the
   * values of {@link #clamp}, but the gradient passes only strictly inside the bounds (0 at them,
   * where clamp's passes), as PyTorch's; min above max gives max everywhere, as clamp (the layer
   * {@code Hardtanh} refuses it, as {@code nn.Hardtanh} does).
   *
   * @throws IllegalArgumentException for a bound that is not a finite float
   */
  public static Tensor hardtanh(Tensor x, double min, double max) {
    return PiecewiseOps.hardtanh(x, min, max);
  }

  /**
   * Smooth L1 loss element-wise ({@code reduction='none'}), PyTorch's {@code F.smooth_l1_loss(...,
   * beta)}: with {@code z = |input - target|}, {@code z^2 / (2 beta)} below beta and {@code z - beta
   * / 2} from it (plain L1 for beta 0). The gradient is {@code clamp(d / beta, -1, 1)}, the target's
   * its negative.
   *
   * @throws IllegalArgumentException for a negative beta or shapes that differ
   */
  public static Tensor smoothL1LossPerElement(Tensor input, Tensor target, double beta) {
    return PiecewiseOps.smoothL1("smooth_l1_loss", input, target, beta, false);
  }

  /** {@link #smoothL1LossPerElement} averaged ({@code mean}) or added. */
  public static Tensor smoothL1Loss(Tensor input, Tensor target, double beta, boolean mean) {
    return reduce(smoothL1LossPerElement(input, target, beta), mean);
  }

  /**
   * Huber loss element-wise, PyTorch's {@code F.huber_loss(..., delta)}: {@code z^2 / 2} below
   * delta and {@code delta (z - delta / 2)} from it, {@code z = |input - target|}; delta times the
   * smooth L1 loss of beta delta. The gradient is {@code clamp(d, -delta, delta)}.
   *
   * @throws IllegalArgumentException for a delta not above 0 or shapes that differ
   */
  public static Tensor huberLossPerElement(Tensor input, Tensor target, double delta) {
    return PiecewiseOps.smoothL1("huber_loss", input, target, delta, true);
  }

  /** {@link #huberLossPerElement} averaged ({@code mean}) or added. */
  public static Tensor huberLoss(Tensor input, Tensor target, double delta, boolean mean) {
    return reduce(huberLossPerElement(input, target, delta), mean);
  }

  // ------------------------------------------------------------------ math functions, logical ops, products, writes by index
  // (PointwiseOps, IndexOps.prod, ReductionOps.amaxAmin, ScatterOps)

  /**
   * {@code f(x)} element-wise for one of {@link PointwiseKernels.Unary}'s functions (floor, ceil,
   * round half to even, trunc, sign, reciprocal, rsqrt, log1p, expm1, square), PyTorch's {@code
   * torch.<name>}: each device's kernel from the one table; the gradient PyTorch's (0 for the
   * rounding functions and sign).
   *
   * @throws IllegalArgumentException for labels, naming the function
   */
  public static Tensor pointwise(PointwiseKernels.Unary f, Tensor x) {
    return PointwiseOps.unary(f, x);
  }

  /**
   * {@code f(a, b)} element-wise for one of {@link PointwiseKernels.Binary}'s functions, the shapes
   * broadcast as PyTorch's: {@code maximum} and {@code minimum} (NaN if either is; the gradient to
   * the larger/smaller, halved for each on a tie, as PyTorch 1.13's), {@code atan2}, and the logical
   * and/or/xor of masks (nonzero is true, NaN included; a 0/1 float mask without gradient, labels
   * accepted).
   *
   * @throws IllegalArgumentException naming the function and both shapes when they do not broadcast
   */
  public static Tensor pointwise(PointwiseKernels.Binary f, Tensor a, Tensor b) {
    return PointwiseOps.binary(f, a, b);
  }

  /** PyTorch's {@code torch.lerp(start, end, weight)} with a scalar weight ({@link PointwiseOps#lerp}). */
  public static Tensor lerp(Tensor start, Tensor end, float weight) {
    return PointwiseOps.lerp(start, end, weight);
  }

  /** PyTorch's {@code torch.lerp(start, end, weight)} with a weight per element, the three broadcast. */
  public static Tensor lerp(Tensor start, Tensor end, Tensor weight) {
    return PointwiseOps.lerp(start, end, weight);
  }

  /** PyTorch's {@code torch.logical_not(x)}: a 0/1 mask, 1 where x is 0 (NaN is true, so 0 there), without gradient. */
  public static Tensor logicalNot(Tensor x) {
    return PointwiseOps.logicalNot(x);
  }

  /** PyTorch's {@code x.all()} ({@code any} false) or {@code x.any()}: a 0/1 rank-0 tensor; empty: all 1, any 0. */
  public static Tensor allOrAny(Tensor x, boolean any) {
    return PointwiseOps.allOrAny(x, any);
  }

  /** PyTorch's {@code x.all(dim, keepdim)} or {@code x.any(dim, keepdim)}: a 0/1 mask, the dimension removed unless kept. */
  public static Tensor allOrAny(Tensor x, int dim, boolean keepDim, boolean any) {
    return PointwiseOps.allOrAny(x, dim, keepDim, any);
  }

  /**
   * The product of all values, PyTorch's {@code x.prod()}, in double, rounded once (1 for an empty
   * x); the gradient is PyTorch's: {@code g * prod / x} without zeros, the product of the others at
   * a lone zero, 0 elsewhere (and everywhere for two zeros or more). One thread on CUDA.
   */
  public static Tensor prod(Tensor x) {
    return IndexOps.prod(x);
  }

  /** The products along {@code dim}, PyTorch's {@code x.prod(dim, keepdim)}, as {@link #prod(Tensor)}: a thread per line on CUDA. */
  public static Tensor prod(Tensor x, int dim, boolean keepDim) {
    return IndexOps.prod(x, dim, keepDim);
  }

  /**
   * The maxima over {@code dims} (none: all), PyTorch's {@code x.amax(dims, keepdim)}: values only,
   * and unlike {@link #extremaAlong}'s (the first maximum's index takes all), the gradient is shared
   * evenly by every element equal to its maximum.
   *
   * @throws IllegalArgumentException for a dimension out of range, given twice, or of size 0
   */
  public static Tensor amax(Tensor x, int[] dims, boolean keepDim) {
    return ReductionOps.amaxAmin(x, dims, keepDim, true);
  }

  /** The minima over {@code dims}, PyTorch's {@code x.amin(dims, keepdim)}, as {@link #amax}. */
  public static Tensor amin(Tensor x, int[] dims, boolean keepDim) {
    return ReductionOps.amaxAmin(x, dims, keepDim, false);
  }

  /**
   * PyTorch's {@code x.scatter(dim, index, src)}: x with {@code out[i][index[i][j]] = src[i][j]}
   * (for dim 1; index labels of x's rank, no larger than src, nor than x off dim). With repeated
   * indices the last one wins (PyTorch leaves it unspecified). Gradients: x's the incoming one with
   * the written places 0, src's the incoming one gathered at index. On CUDA on the device ({@code
   * cuda.ScatterKernels}: the placements ordered on the host, a thread per target, the CPU's bits).
   *
   * @throws IllegalArgumentException naming the op for a rank, a size or an index out of range
   */
  public static Tensor scatter(Tensor x, int dim, Tensor index, Tensor src) {
    return ScatterOps.scatter(x, dim, index, src);
  }

  /** PyTorch's {@code x.scatter(dim, index, value)}, as {@link #scatter(Tensor, int, Tensor, Tensor)}. */
  public static Tensor scatter(Tensor x, int dim, Tensor index, float value) {
    return ScatterOps.scatter(x, dim, index, value);
  }

  /** PyTorch's {@code x.scatter_add(dim, index, src)}: repeated indices add up, in index order; x's gradient passes whole. */
  public static Tensor scatterAdd(Tensor x, int dim, Tensor index, Tensor src) {
    return ScatterOps.scatterAdd(x, dim, index, src);
  }

  /**
   * PyTorch's {@code x.index_add(dim, index, source, alpha=alpha)}: source's slice i added (times
   * alpha) to x's slice {@code index[i]} along dim (rank-1 labels; repeats add up, in index order, on either device).
   */
  public static Tensor indexAdd(Tensor x, int dim, Tensor index, Tensor source, float alpha) {
    return ScatterOps.indexAdd(x, dim, index, source, alpha);
  }

  /** PyTorch's {@code x.index_copy(dim, index, source)}: source's slice i written to x's slice {@code index[i]}. */
  public static Tensor indexCopy(Tensor x, int dim, Tensor index, Tensor source) {
    return ScatterOps.indexCopy(x, dim, index, source);
  }

  /** PyTorch's {@code x.index_fill(dim, index, value)}: x's slices at index set to value, their gradient 0. */
  public static Tensor indexFill(Tensor x, int dim, Tensor index, float value) {
    return ScatterOps.indexFill(x, dim, index, value);
  }

  /** PyTorch's {@code x.masked_select(mask)}: a rank-1 tensor of x's values where the broadcast mask is nonzero. */
  public static Tensor maskedSelect(Tensor x, Tensor mask) {
    return ScatterOps.maskedSelect(x, mask);
  }

  /** PyTorch's {@code x.nonzero()}: INT32 coordinates {@code [count, rank]} of the nonzero values. */
  public static Tensor nonzero(Tensor x) {
    return ScatterOps.nonzero(x);
  }

  /** PyTorch's {@code x.roll(shifts, dims)}; no dims rolls the flattened tensor by one shift. */
  public static Tensor roll(Tensor x, int[] shifts, int[] dims) {
    if (IntOps.isIds(x)) { // ids moved: ids (IntOps)
      return IntOps.keepingIds(x, f -> ScatterOps.roll(f, shifts, dims));
    }
    return ScatterOps.roll(x, shifts, dims);
  }
}
