package dev.kiln.runtime;

import static dev.kiln.runtime.Ops.requireFloat;
import static dev.kiln.runtime.Ops.track;

import dev.kiln.runtime.cuda.Cuda;
import dev.kiln.runtime.cuda.IndexKernels;
import dev.kiln.runtime.cpu.ScatterKernels.Placement;
import dev.kiln.runtime.cuda.ScatterKernels;
import dev.kiln.runtime.cuda.SelectKernels;
import java.util.Arrays;

/**
 * The bodies of {@link Ops}' writes by index, with their gradients: scatter (of a source or a
 * value), scatter_add, index_add, index_fill, index_copy; and the reads by mask or index map:
 * masked_select, nonzero, roll. Every write is one {@link Placement}: source element {@code srcAt[j]}
 * goes to result element {@code to[j]}, set or added, built from the indices on the host (a label
 * tensor on the GPU keeps a host copy); one forward and one backward serve them all, on the CPU a
 * loop, on CUDA {@link ScatterKernels} (the values never leave the device; the same bits). The reads
 * are {@code ShapeOps.gathered} maps on the CPU; on CUDA {@link SelectKernels} (masked_select and nonzero: a
 * count read back, then the values written in order) and {@code kiln_roll}, the values never on the host.
 */
final class ScatterOps {
  private ScatterOps() {}

  // ------------------------------------------------------------------ scatter, scatter_add

  /** PyTorch's {@code x.scatter(dim, index, src)}: {@code out[..index[i][j]..] = src[i][j]} along dim. */
  static Tensor scatter(Tensor x, int dim, Tensor index, Tensor src) {
    Placement p = scatterPlaces("scatter", x, dim, index, src);
    return placed("scatter", x, src, 0f, p, false, 1f);
  }

  /** PyTorch's {@code x.scatter(dim, index, value)}. */
  static Tensor scatter(Tensor x, int dim, Tensor index, float value) {
    Placement p = scatterPlaces("scatter", x, dim, index, null);
    return placed("scatter", x, null, value, p, false, 1f);
  }

  /** PyTorch's {@code x.scatter_add(dim, index, src)}: duplicates add up. */
  static Tensor scatterAdd(Tensor x, int dim, Tensor index, Tensor src) {
    Placement p = scatterPlaces("scatter_add", x, dim, index, src);
    return placed("scatter_add", x, src, 0f, p, true, 1f);
  }

  /**
   * The placement of a scatter: for each position of {@code index} (labels of x's rank, no larger
   * than src anywhere nor x off {@code dim}), the result element at that position with dim's
   * coordinate the index value, and src's element at that position.
   */
  private static Placement scatterPlaces(String op, Tensor x, int dim, Tensor index, Tensor src) {
    int d = checkWrite(op, x, dim, index, src);
    if (index.dtype() != DType.INT32 || index.dim() != x.dim()) {
      throw new IllegalArgumentException(op + ": the index must be labels (Tensor.labels(...)) of the input's rank " + x.dim() + ", got "
          + index.dtype() + " " + Shapes.toString(index.shape()));
    }
    if (src != null && src.dim() != x.dim()) {
      throw new IllegalArgumentException(op + ": the source " + Shapes.toString(src.shape()) + " must have the input's rank " + x.dim()
          + " (input " + Shapes.toString(x.shape()) + ")");
    }
    return dev.kiln.runtime.cpu.ScatterKernels.scatterPlaces(op, x.shape(), d, index.toIntArray(), index.shape(), src == null ? null : src.shape());
  }

  // ------------------------------------------------------------------ index_add, index_copy, index_fill

  /** PyTorch's {@code x.index_add(dim, index, source, alpha)}: {@code out[.., index[i], ..] += alpha source[.., i, ..]}. */
  static Tensor indexAdd(Tensor x, int dim, Tensor index, Tensor source, float alpha) {
    Placement p = indexPlaces("index_add", x, dim, index, source);
    return placed("index_add", x, source, 0f, p, true, alpha);
  }

  /** PyTorch's {@code x.index_copy(dim, index, source)}: {@code out[.., index[i], ..] = source[.., i, ..]}. */
  static Tensor indexCopy(Tensor x, int dim, Tensor index, Tensor source) {
    Placement p = indexPlaces("index_copy", x, dim, index, source);
    return placed("index_copy", x, source, 0f, p, false, 1f);
  }

  /** PyTorch's {@code x.index_fill(dim, index, value)}: the slices at {@code index} along dim set to value. */
  static Tensor indexFill(Tensor x, int dim, Tensor index, float value) {
    Placement p = indexPlaces("index_fill", x, dim, index, null);
    return placed("index_fill", x, null, value, p, false, 1f);
  }

  /**
   * The placement of slices along {@code dim}: source slice i (x's shape but {@code index.numel()}
   * along dim; none for a fill) to x's slice {@code index[i]}.
   */
  private static Placement indexPlaces(String op, Tensor x, int dim, Tensor index, Tensor source) {
    int d = checkWrite(op, x, dim, index, source);
    int[] ids = indexIds(op, index);
    int[] xShape = x.shape();
    if (source != null) {
      dev.kiln.runtime.cpu.ScatterKernels.checkIndexSource(op, xShape, d, ids.length, source.shape());
    }
    return dev.kiln.runtime.cpu.ScatterKernels.indexPlaces(op, xShape, d, ids);
  }

  /**
   * The ids of an index form's index ({@code index_add}, {@code index_copy}, {@code index_fill}, {@code index_select}): labels of
   * rank 1 (or 0, one id), as PyTorch's vector index; compiled code reads a buffer of ids through it at each call.
   *
   * @throws IllegalArgumentException naming {@code op}, the dtype and the shape otherwise
   */
  static int[] indexIds(String op, Tensor index) {
    if (index.dtype() != DType.INT32 || index.dim() > 1) {
      throw new IllegalArgumentException(op + ": the index must be rank-1 labels (Tensor.labels(...)), got " + index.dtype() + " "
          + Shapes.toString(index.shape()));
    }
    return index.toIntArray();
  }

  /** The checks every write shares (one device, float values, a dimension of x), giving that dimension. */
  private static int checkWrite(String op, Tensor x, int dim, Tensor index, Tensor src) {
    Devices.onCuda(op, x, index, src);
    requireFloat(op, x);
    if (src != null) {
      requireFloat(op, src);
    }
    return dimOf(op, x, dim);
  }

  /** x's dimension {@code dim}, an error naming the op and x's shape when out of range (a rank-0 x has dimension 0 as PyTorch's). */
  private static int dimOf(String op, Tensor x, int dim) {
    if (x.dim() == 0) {
      throw new IllegalArgumentException(op + ": the input is a rank-0 tensor (one value); reshape(1) gives it a dimension");
    }
    try {
      return Shapes.normalizeDim(dim, x.dim());
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(op + " of shape " + Shapes.toString(x.shape()) + ": " + e.getMessage(), e);
    }
  }

  /**
   * x with {@code src}'s values (or {@code value} where src is null) placed by {@code p}: added
   * times {@code alpha} when {@code add}, else set (a later placement to one element wins). The
   * gradients: x's is the incoming one, zero where a value was set; src's element gets the
   * incoming gradient of the element it went to (times alpha), PyTorch's gather of it.
   */
  private static Tensor placed(String op, Tensor x, Tensor src, float value, Placement p, boolean add, float alpha) {
    int[] to = p.to(), srcAt = p.srcAt();
    boolean cuda = x.device().isCuda();
    Tensor result;
    if (cuda) { // x and src stay on the device: only the placements go up
      result = Tensor.empty(x.device(), x.shape());
      Cuda.get().copy(x.readCuda(), result.writeCuda(), x.numel());
      long s = src == null ? 0 : src.readCuda();
      if (add) {
        ScatterKernels.add(result.writeCuda(), s, to, srcAt, alpha);
      } else {
        ScatterKernels.set(result.writeCuda(), s, to, srcAt, value);
      }
      CudaLayerOps.keepAlive(x, src);
    } else {
      float[] out = x.toFloatArray();
      dev.kiln.runtime.cpu.ScatterKernels.place(out, 0, src == null ? null : src.toFloatArray(), 0, value, p, add, alpha);
      result = Tensor.wrap(out, x.shape());
    }
    if (!track(x, src)) {
      return result;
    }
    int srcCount = src == null ? 0 : src.numel();
    return Tensor.ofNode(result, new Node(src == null ? new Tensor[] {x} : new Tensor[] {x, src}) {
      @Override protected boolean savesTensors() { // the placement only
        return false;
      }

      @Override public String name() {
        return op;
      }

      @Override protected Tensor[] backward(Tensor g) {
        Tensor dx = null, dsrc = null;
        if (cuda) {
          Tensor gd = g.to(x.device());
          if (needsGrad(0)) {
            if (add) {
              dx = gd;
            } else { // the written places get nothing from the result
              dx = Tensor.empty(x.device(), x.shape());
              Cuda.get().copy(gd.readCuda(), dx.writeCuda(), x.numel());
              ScatterKernels.set(dx.writeCuda(), 0, to, null, 0f);
            }
          }
          if (src != null && needsGrad(1)) {
            dsrc = Tensor.zeros(x.device(), src.shape());
            ScatterKernels.gather(dsrc.writeCuda(), gd.readCuda(), to, srcAt, alpha);
          }
          CudaLayerOps.keepAlive(gd);
          return src == null ? new Tensor[] {dx} : new Tensor[] {dx, dsrc};
        }
        float[] gv = g.toFloatArray();
        if (needsGrad(0)) {
          if (add) {
            dx = g;
          } else {
            float[] d = new float[gv.length];
            dev.kiln.runtime.cpu.ScatterKernels.inputBackward(d, 0, gv, 0, gv.length, p, false, false);
            dx = Tensor.gradient(d, x.shape());
          }
        }
        if (src != null && needsGrad(1)) {
          float[] d = new float[srcCount];
          dev.kiln.runtime.cpu.ScatterKernels.sourceBackward(d, 0, srcCount, gv, 0, p, alpha, false);
          dsrc = Tensor.gradient(d, src.shape());
        }
        return src == null ? new Tensor[] {dx} : new Tensor[] {dx, dsrc};
      }
    });
  }

  // ------------------------------------------------------------------ masked_select, nonzero, roll

  /**
   * PyTorch's {@code x.masked_select(mask)}: the values where the mask (broadcast with x; nonzero
   * is true) holds, in row-major order, as a rank-1 tensor; the gradient goes back to those places.
   */
  static Tensor maskedSelect(Tensor x, Tensor mask) {
    String op = "masked_select";
    Devices.onCuda(op, x, mask);
    requireFloat(op, x);
    int[] shape = Shapes.broadcast(op, x.shape(), mask.shape());
    Tensor expandedMask;
    try (var off = Kiln.noGrad()) {
      expandedMask = ArithmeticOps.expand(IntOps.toFloat(mask), shape, false);
    }
    if (x.device().isCuda() && Shapes.numel(shape) > 0) {
      return selectedOnDevice(op, ArithmeticOps.expand(x, shape, false), expandedMask);
    }
    float[] m = expandedMask.toFloatArray();
    int count = 0;
    for (float v : m) {
      count += v != 0 ? 1 : 0;
    }
    int[] from = new int[count];
    for (int i = 0, k = 0; i < m.length; i++) {
      if (m[i] != 0) {
        from[k++] = i;
      }
    }
    return ShapeOps.gathered(op, ArithmeticOps.expand(x, shape, false), from, new int[] {count});
  }

  /**
   * x's values where {@code mask} (x's shape, both on the device) is nonzero, counted, then written by {@link
   * SelectKernels} (one read of the count); the gradient placed back by the same offsets, zeros elsewhere.
   */
  private static Tensor selectedOnDevice(String op, Tensor x, Tensor mask) {
    long n = x.numel();
    SelectKernels.Offsets offsets = SelectKernels.count(mask.readCuda(), n);
    Tensor result = Tensor.empty(x.device(), offsets.count());
    SelectKernels.select(result.writeCuda(), x.readCuda(), mask.readCuda(), n, offsets);
    CudaLayerOps.keepAlive(x, mask);
    return IndexOps.linearBackward(op, x, result, g -> {
      Tensor dx = Tensor.empty(x.device(), x.shape());
      SelectKernels.scatter(dx.writeCuda(), g.readCuda(), mask.readCuda(), n, offsets);
      CudaLayerOps.keepAlive(g, mask);
      return dx;
    });
  }

  /**
   * PyTorch's {@code x.nonzero()}: the coordinates of x's nonzero values (NaN included) in row-major
   * order, as INT32 labels of shape {@code [count, rank]}, on x's device; no gradient. On CUDA counted
   * and written by {@link SelectKernels} (one read of the count; a dimension past 2^24 + 1, whose
   * coordinates ids cannot hold, goes through the host for its error).
   */
  static Tensor nonzero(Tensor x) {
    int rank = x.dim();
    if (x.device().isCuda() && rank > 0 && x.numel() > 0 && Arrays.stream(x.shape()).allMatch(s -> s <= DType.MAX_EXACT_INT + 1)) {
      SelectKernels.Offsets offsets = SelectKernels.count(x.readCuda(), x.numel());
      Tensor result = Tensor.emptyIndices(x.device(), offsets.count(), rank);
      SelectKernels.nonzero(result.writeCuda(), x.readCuda(), x.shape(), offsets);
      CudaLayerOps.keepAlive(x);
      return result;
    }
    float[] v = x.toFloatArray();
    int count = 0;
    for (float f : v) {
      count += f != 0 ? 1 : 0;
    }
    float[] out = new float[count * rank];
    int[] shape = x.shape(), pos = new int[rank];
    for (int i = 0, k = 0; i < v.length; i++) {
      if (v[i] != 0) {
        for (int d = 0; d < rank; d++) {
          out[k++] = pos[d];
        }
      }
      for (int d = rank - 1; d >= 0 && ++pos[d] == shape[d]; d--) {
        pos[d] = 0;
      }
    }
    return Tensor.wrap(out, DType.INT32, count, rank).to(x.device());
  }

  /**
   * PyTorch's {@code x.roll(shifts, dims)}: each dimension of {@code dims} rotated by its shift (an
   * element at coordinate c moves to c + shift, wrapping around); with no dims, the flattened
   * tensor rotated and the shape restored. The gradient rotates back.
   */
  static Tensor roll(Tensor x, int[] shifts, int[] dims) {
    String op = "roll";
    requireFloat(op, x);
    int[] shape = x.shape();
    if (dims.length == 0) {
      if (shifts.length != 1) {
        throw new IllegalArgumentException(op + ": without dims, one shift rolls the flattened tensor; got shifts "
            + Arrays.toString(shifts) + " for shape " + Shapes.toString(shape));
      }
      int n = x.numel();
      int s = n == 0 ? 0 : Math.floorMod(shifts[0], n);
      if (x.device().isCuda()) { // the flattened tensor: one dimension of n
        return rolledOnDevice(op, x, new int[] {n}, new int[] {s});
      }
      int[] from = new int[n];
      for (int i = 0; i < n; i++) {
        from[i] = Math.floorMod(i - s, n);
      }
      return ShapeOps.gathered(op, x, from, shape);
    }
    if (shifts.length != dims.length) {
      throw new IllegalArgumentException(op + ": shifts " + Arrays.toString(shifts) + " and dims " + Arrays.toString(dims)
          + " must have the same length");
    }
    int rank = shape.length;
    int[] shift = new int[rank];
    for (int k = 0; k < dims.length; k++) {
      int d = dimOf(op, x, dims[k]);
      shift[d] = shape[d] == 0 ? 0 : Math.floorMod(shift[d] + Math.floorMod(shifts[k], shape[d]), shape[d]); // a dim twice: both shifts
    }
    if (x.device().isCuda()) {
      return rolledOnDevice(op, x, shape, shift);
    }
    int n = x.numel();
    int[] from = new int[n], pos = new int[rank], stride = x.stride();
    for (int i = 0; i < n; i++) {
      int f = 0;
      for (int d = 0; d < rank; d++) {
        f += Math.floorMod(pos[d] - shift[d], shape[d]) * stride[d];
      }
      from[i] = f;
      for (int d = rank - 1; d >= 0 && ++pos[d] == shape[d]; d--) {
        pos[d] = 0;
      }
    }
    return ShapeOps.gathered(op, x, from, shape);
  }

  /**
   * x seen as {@code sizes} (its shape, or its n values as one dimension) rotated by {@code shifts} (each in {@code [0,
   * size)}) on the device ({@code kiln_roll}); the gradient rotated back the same way. Values are moved, never summed:
   * bit for bit the CPU's.
   */
  private static Tensor rolledOnDevice(String op, Tensor x, int[] sizes, int[] shifts) {
    Tensor result = Tensor.empty(x.device(), x.shape());
    IndexKernels.roll(result.writeCuda(), x.readCuda(), sizes, shifts, false);
    CudaLayerOps.keepAlive(x);
    int[] back = new int[shifts.length];
    for (int d = 0; d < back.length; d++) {
      back[d] = shifts[d] == 0 ? 0 : sizes[d] - shifts[d];
    }
    return IndexOps.linearBackward(op, x, result, g -> {
      Tensor dx = Tensor.empty(x.device(), x.shape());
      IndexKernels.roll(dx.writeCuda(), g.readCuda(), sizes, back, true);
      CudaLayerOps.keepAlive(g);
      return dx;
    });
  }
}
