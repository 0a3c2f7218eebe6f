package dev.kiln.runtime;

import dev.kiln.runtime.cpu.IndexKernels;
import dev.kiln.runtime.cuda.SortKernels;
import java.util.Arrays;

/**
 * The bodies of {@link Ops}' padding, flipping, repeating, running sums, log-sum-exp, norms and
 * sorting, with their derivatives: each op checks its arguments as PyTorch 1.13 does (the message
 * names the op, the argument and the shape), runs {@link IndexKernels} on the CPU or {@code
 * cuda.IndexKernels} on the GPU (results and gradients stay on the tensor's device), and records
 * one node whose backward runs the inverse map or the matching line kernel.
 */
final class IndexOps {
  private IndexOps() {}

  // ------------------------------------------------------------------ index maps: pad and flip

  /** {@link Ops#pad}. */
  static Tensor pad(Tensor x, int[] pad, float value) {
    Ops.requireFloat("pad", x);
    int[] shape = x.shape();
    int rank = shape.length;
    if (pad.length % 2 != 0) {
      throw new IllegalArgumentException("pad: padding length must be divisible by 2, got " + Arrays.toString(pad) + " for shape "
          + Shapes.toString(shape));
    }
    if (pad.length / 2 > rank) {
      throw new IllegalArgumentException("pad: padding length too large: " + Arrays.toString(pad) + " pads " + pad.length / 2
          + " dimensions, the tensor of shape " + Shapes.toString(shape) + " has " + rank);
    }
    int[] outShape = shape.clone();
    boolean[] flip = new boolean[rank];
    long[] offset = new long[rank];
    for (int k = 0; k < pad.length / 2; k++) {
      int d = rank - 1 - k;
      long before = pad[2 * k], after = pad[2 * k + 1];
      long size = shape[d] + before + after;
      if (size < 0 || size > Integer.MAX_VALUE) {
        throw new IllegalArgumentException("pad: the input size " + shape[d] + ", plus padding " + before + " and " + after
            + " gives an output size of " + size + " at dimension " + d + " of shape " + Shapes.toString(shape)
            + (size < 0 ? " (negative padding crops, at most the whole size)" : ""));
      }
      outShape[d] = (int) size;
      offset[d] = -before;
    }
    Shapes.numel(outShape); // refuses a result too large for one tensor
    return indexMapped("pad", x, outShape, flip, offset, value);
  }

  /** {@link Ops#flip}. */
  static Tensor flip(Tensor x, int[] dims) {
    Ops.requireFloat("flip", x);
    int rank = x.dim();
    boolean[] flip = new boolean[rank];
    long[] offset = new long[rank];
    for (int dim : dims) {
      int d;
      try {
        d = Shapes.normalizeDim(dim, rank);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("flip of shape " + Shapes.toString(x.shape()) + " along " + Arrays.toString(dims) + ": "
            + e.getMessage(), e);
      }
      if (flip[d]) {
        throw new IllegalArgumentException("flip of shape " + Shapes.toString(x.shape()) + " along " + Arrays.toString(dims)
            + ": dimension " + d + " appears multiple times in the list of dims");
      }
      flip[d] = true;
      offset[d] = x.size(d) - 1;
    }
    return indexMapped("flip", x, x.shape(), flip, offset, 0f);
  }

  /**
   * {@code x} read through the coordinate map of {@link IndexKernels#indexMap} into {@code
   * outShape}, {@code fill} where the map falls outside x; the gradient is the inverse map of the
   * incoming one (each output reads at most one input, so nothing adds up), 0 where no output read.
   */
  private static Tensor indexMapped(String name, Tensor x, int[] outShape, boolean[] flip, long[] offset, float fill) {
    int[] shape = x.shape();
    long[] inverse = IndexKernels.inverseOffsets(flip, offset);
    return linearBackward(name, x, mapped(x, outShape, flip, offset, fill), g -> mapped(g, shape, flip, inverse, 0f));
  }

  /**
   * {@code out} recorded as an op of x whose backward needs only the incoming gradient (moved to
   * x's device): {@code gradient} maps it to x's.
   */
  static Tensor linearBackward(String name, Tensor x, Tensor out, java.util.function.UnaryOperator<Tensor> gradient) {
    if (!Ops.track(x)) {
      return out;
    }
    return Tensor.ofNode(out, new Node(x) {
      @Override protected boolean savesTensors() {
        return false;
      }

      @Override public String name() {
        return name;
      }

      @Override protected Tensor[] backward(Tensor g) {
        return new Tensor[] {gradient.apply(g.to(x.device()))};
      }
    });
  }

  private static Tensor mapped(Tensor x, int[] outShape, boolean[] flip, long[] offset, float fill) {
    Tensor out = Tensor.empty(x.device(), outShape);
    if (x.device().isCuda()) {
      dev.kiln.runtime.cuda.IndexKernels.indexMap(out.writeCuda(), x.readCuda(), outShape, x.shape(), flip, offset, fill);
      CudaLayerOps.keepAlive(x);
    } else {
      IndexKernels.indexMap(out.buffer(), out.offset(), x.readBuffer(), x.offset(), outShape, x.shape(), flip, offset, fill);
    }
    return out;
  }

  // ------------------------------------------------------------------ repeat

  /** {@link Ops#repeat}: PyTorch's own construction, an expand of x with a size-1 dimension before each of its own. */
  static Tensor repeat(Tensor x, int[] repeats) {
    Ops.requireFloat("repeat", x);
    int[] shape = x.shape();
    int m = repeats.length, lead = m - shape.length;
    if (lead < 0) {
      throw new IllegalArgumentException("repeat: number of dimensions of repeat dims " + Arrays.toString(repeats)
          + " can not be smaller than number of dimensions of tensor " + Shapes.toString(shape));
    }
    int[] spread = new int[2 * m], to = new int[2 * m], outShape = new int[m];
    for (int d = 0; d < m; d++) {
      int size = d < lead ? 1 : shape[d - lead];
      if (repeats[d] < 0) {
        throw new IllegalArgumentException("repeat: repeats " + Arrays.toString(repeats) + " of shape " + Shapes.toString(shape)
            + ": repeat " + repeats[d] + " at dimension " + d + " is negative");
      }
      spread[2 * d] = 1;
      spread[2 * d + 1] = size;
      to[2 * d] = repeats[d];
      to[2 * d + 1] = size;
      long total = (long) size * repeats[d];
      if (total > Integer.MAX_VALUE) {
        throw new IllegalArgumentException("repeat: repeats " + Arrays.toString(repeats) + " of shape " + Shapes.toString(shape)
            + " give a size of " + total + " at dimension " + d);
      }
      outShape[d] = (int) total;
    }
    Shapes.numel(outShape);
    return Ops.reshape(Ops.expand(Ops.reshape(x, spread), to), outShape);
  }

  // ------------------------------------------------------------------ along one dimension: cumsum, logsumexp, norm

  /** {@link Ops#cumsum}. */
  static Tensor cumsum(Tensor x, int dim) {
    Ops.requireFloat("cumsum", x);
    Ops.Along a = alongOrScalar("cumsum", x, dim);
    return linearBackward("cumsum", x, scanned(x, a, false), g -> scanned(g, a, true));
  }

  private static Tensor scanned(Tensor x, Ops.Along a, boolean reverse) {
    Tensor out = Tensor.empty(x.device(), x.shape());
    if (x.device().isCuda()) {
      dev.kiln.runtime.cuda.IndexKernels.cumsum(out.writeCuda(), x.readCuda(), a.outer(), a.size(), a.inner(), reverse);
      CudaLayerOps.keepAlive(x);
    } else {
      IndexKernels.cumsum(out.buffer(), out.offset(), x.readBuffer(), x.offset(), a.outer(), a.size(), a.inner(), reverse);
    }
    return out;
  }

  /** {@link Ops#logsumexp}. */
  static Tensor logsumexp(Tensor x, int dim, boolean keepDim) {
    Ops.requireFloat("logsumexp", x);
    Ops.Along a = alongOrScalar("logsumexp", x, dim);
    int[] outShape = x.dim() == 0 ? new int[0] : Ops.reducedShape(x.shape(), Shapes.normalizeDim(dim, x.dim()), keepDim);
    Tensor out = Tensor.empty(x.device(), outShape);
    if (x.device().isCuda()) {
      dev.kiln.runtime.cuda.IndexKernels.logsumexpForward(out.writeCuda(), x.readCuda(), a.outer(), a.size(), a.inner());
    } else {
      IndexKernels.logsumexpForward(out.buffer(), out.offset(), x.readBuffer(), x.offset(), a.outer(), a.size(), a.inner());
    }
    return lineReduced("logsumexp", x, out, a, (dx, g, y) -> {
      if (dx.device().isCuda()) {
        dev.kiln.runtime.cuda.IndexKernels.logsumexpBackward(dx.writeCuda(), g.readCuda(), x.readCuda(), y.readCuda(), a.outer(),
            a.size(), a.inner());
      } else {
        IndexKernels.logsumexpBackward(dx.buffer(), dx.offset(), g.readBuffer(), g.offset(), x.readBuffer(), x.offset(),
            y.readBuffer(), y.offset(), a.outer(), a.size(), a.inner());
      }
    });
  }

  /** {@link Ops#prod} along {@code dim}. */
  static Tensor prod(Tensor x, int dim, boolean keepDim) {
    Ops.requireFloat("prod", x);
    Ops.Along a = alongOrScalar("prod", x, dim);
    int[] outShape = x.dim() == 0 ? new int[0] : Ops.reducedShape(x.shape(), Shapes.normalizeDim(dim, x.dim()), keepDim);
    return prod(x, a, outShape);
  }

  /** {@link Ops#prod} of all values, a rank-0 tensor (1 for an empty x). */
  static Tensor prod(Tensor x) {
    Ops.requireFloat("prod", x);
    return prod(x, new Ops.Along(1, x.numel(), 1), new int[0]);
  }

  private static Tensor prod(Tensor x, Ops.Along a, int[] outShape) {
    Tensor out = Tensor.empty(x.device(), outShape);
    if (x.device().isCuda()) {
      dev.kiln.runtime.cuda.IndexKernels.prodForward(out.writeCuda(), x.readCuda(), a.outer(), a.size(), a.inner());
      CudaLayerOps.keepAlive(x);
    } else {
      IndexKernels.prodForward(out.buffer(), out.offset(), x.readBuffer(), x.offset(), a.outer(), a.size(), a.inner());
    }
    return lineReduced("prod", x, out, a, (dx, g, y) -> {
      if (dx.device().isCuda()) {
        dev.kiln.runtime.cuda.IndexKernels.prodBackward(dx.writeCuda(), g.readCuda(), x.readCuda(), a.outer(), a.size(), a.inner());
      } else {
        IndexKernels.prodBackward(dx.buffer(), dx.offset(), g.readBuffer(), g.offset(), x.readBuffer(), x.offset(), a.outer(), a.size(),
            a.inner());
      }
    });
  }

  /** {@link Ops#norm}. */
  static Tensor norm(Tensor x, float p, int dim, boolean keepDim) {
    return norm(x, p, dim, keepDim, 0f);
  }

  /**
   * The p-norm along {@code dim}, raised to {@code floor} where it is below (nothing to raise for a
   * floor of 0), and the gradient PyTorch's formula with the raised norm: {@code g sign(x) (|x| /
   * max(y, floor))^(p - 1)}. A floor is cosine similarity's eps, which PyTorch 1.13 writes into
   * its norm in place, where the norm's backward then reads it.
   */
  private static Tensor norm(Tensor x, float p, int dim, boolean keepDim, float floor) {
    Ops.requireFloat("norm", x);
    if (!(p > 0) || Float.isInfinite(p)) {
      throw new IllegalArgumentException("norm: p must be a finite number above 0, got " + p + " (shape " + Shapes.toString(x.shape())
          + ")");
    }
    Ops.Along a = alongOrScalar("norm", x, dim);
    int[] outShape = x.dim() == 0 ? new int[0] : Ops.reducedShape(x.shape(), Shapes.normalizeDim(dim, x.dim()), keepDim);
    Tensor out = Tensor.empty(x.device(), outShape);
    if (x.device().isCuda()) {
      dev.kiln.runtime.cuda.IndexKernels.normForward(out.writeCuda(), x.readCuda(), a.outer(), a.size(), a.inner(), p);
    } else {
      IndexKernels.normForward(out.buffer(), out.offset(), x.readBuffer(), x.offset(), a.outer(), a.size(), a.inner(), p);
    }
    if (floor > 0 && x.device().isCuda()) { // in place: element by element
      dev.kiln.runtime.cuda.ElementwiseKernels.clampForward(out.writeCuda(), out.readCuda(), floor, Float.POSITIVE_INFINITY, out.numel());
    } else if (floor > 0) {
      dev.kiln.runtime.cpu.MathKernels.clampForward(out.buffer(), out.offset(), out.buffer(), out.offset(), out.numel(), floor,
          Float.POSITIVE_INFINITY);
    }
    return lineReduced("norm", x, out, a, (dx, g, y) -> {
      if (dx.device().isCuda()) {
        dev.kiln.runtime.cuda.IndexKernels.normBackward(dx.writeCuda(), g.readCuda(), x.readCuda(), y.readCuda(), a.outer(), a.size(),
            a.inner(), p);
      } else {
        IndexKernels.normBackward(dx.buffer(), dx.offset(), g.readBuffer(), g.offset(), x.readBuffer(), x.offset(), y.readBuffer(),
            y.offset(), a.outer(), a.size(), a.inner(), p);
      }
    });
  }

  /** A line kernel's backward: writes {@code dx} (x's shape) from the gradient {@code g} and the output {@code y}, one value per line each. */
  @FunctionalInterface
  private interface LineBackward {
    void run(Tensor dx, Tensor g, Tensor y);
  }

  /** {@code out}, a reduction of x along {@code a}, recorded with a backward that reads x and out. */
  private static Tensor lineReduced(String name, Tensor x, Tensor out, Ops.Along a, LineBackward backward) {
    if (!Ops.track(x)) {
      return out;
    }
    return Tensor.ofNode(out, new Node(x) {
      @Override protected boolean savesOutput() {
        return true;
      }

      @Override public String name() {
        return name;
      }

      @Override protected Tensor[] backward(Tensor g) {
        return new Tensor[] {gradientOf(x, g, (dx, gd) -> backward.run(dx, gd, out))};
      }
    });
  }

  /** A kernel writing an input's gradient {@code dx} from the incoming gradient {@code g} (on the input's device). */
  @FunctionalInterface
  interface GradientKernel {
    void run(Tensor dx, Tensor g);
  }

  /** The gradient of input {@code x}: a new tensor of its shape on its device, written by {@code kernel} from {@code g} moved there. */
  static Tensor gradientOf(Tensor x, Tensor g, GradientKernel kernel) {
    Tensor dx = Tensor.empty(x.device(), x.shape());
    Tensor gd = g.to(x.device());
    kernel.run(dx, gd);
    CudaLayerOps.keepAlive(gd); // its block stays out of the allocator until the kernel is queued
    return dx;
  }

  /** x seen along {@code dim}; a rank-0 x is one value along dimension 0 or -1, as PyTorch takes it. */
  static Ops.Along alongOrScalar(String op, Tensor x, int dim) {
    if (x.dim() == 0 && (dim == 0 || dim == -1)) {
      return new Ops.Along(1, 1, 1);
    }
    return Ops.Along.of(op, x, dim);
  }

  // ------------------------------------------------------------------ compositions: normalize, cosine similarity, one-hot

  /** {@link Ops#normalize}: PyTorch's {@code x / x.norm(p, dim, keepdim=True).clamp_min(eps)}. */
  static Tensor normalize(Tensor x, float p, int dim, float eps) {
    Ops.requireFloat("normalize", x);
    if (!(eps >= 0) || Float.isInfinite(eps)) {
      throw new IllegalArgumentException("normalize: eps must be a finite number of 0 or more, got " + eps + " (shape "
          + Shapes.toString(x.shape()) + ")");
    }
    return Ops.div(x, Ops.clamp(Ops.norm(x, p, dim, true), eps, Float.POSITIVE_INFINITY));
  }

  /**
   * {@link Ops#cosineSimilarity}: PyTorch 1.13's {@code sum((a / max(|a|, eps)) * (b / max(|b|,
   * eps)), dim)}, each norm's gradient taken with the clamped norm, as its in-place clamp makes it.
   */
  static Tensor cosineSimilarity(Tensor a, Tensor b, int dim, float eps) {
    String op = "cosine_similarity";
    Devices.onCuda(op, a, b); // one device, or an error naming both
    Ops.requireFloat(op, a);
    Ops.requireFloat(op, b);
    if (!(eps >= 0) || Float.isInfinite(eps)) {
      throw new IllegalArgumentException(op + ": eps must be a finite number of 0 or more, got " + eps);
    }
    int[] shape = Shapes.broadcast(op, a.shape(), b.shape());
    try {
      Shapes.normalizeDim(dim, shape.length);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(op + " of " + Shapes.toString(a.shape()) + " and " + Shapes.toString(b.shape()) + ": "
          + e.getMessage(), e);
    }
    Tensor x1 = Arrays.equals(a.shape(), shape) ? a : Ops.expand(a, shape);
    Tensor x2 = Arrays.equals(b.shape(), shape) ? b : Ops.expand(b, shape);
    Tensor n1 = norm(x1, 2f, dim, true, eps);
    Tensor n2 = norm(x2, 2f, dim, true, eps);
    return Ops.sum(Ops.mul(Ops.div(x1, n1), Ops.div(x2, n2)), dim, false);
  }

  /** {@link Ops#oneHot}: computed on the host (labels keep a host copy), the result on the labels' device. */
  static Tensor oneHot(Tensor labels, int numClasses) {
    String op = "one_hot";
    Ops.requireLabels(op, "input", labels);
    int[] ids = labels.toIntArray();
    int[] shape = labels.shape();
    if (numClasses < -1) {
      throw new IllegalArgumentException(op + ": num_classes must be -1 (from the labels) or at least 0, got " + numClasses);
    }
    if (numClasses == -1 && ids.length == 0) {
      throw new IllegalArgumentException(op + ": can not infer the total number of classes from empty labels of shape "
          + Shapes.toString(shape) + "; give num_classes");
    }
    int classes = numClasses;
    if (classes == -1) {
      for (int id : ids) {
        classes = Math.max(classes, id + 1);
      }
    }
    long total = (long) ids.length * classes;
    if (total > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException(op + ": " + Shapes.toString(shape) + " labels of " + classes + " classes are too many values for one tensor");
    }
    for (int i = 0; i < ids.length; i++) {
      if (ids[i] < 0 || ids[i] >= classes) {
        throw new IllegalArgumentException(op + ": class value " + ids[i] + " at flat index " + i + " of labels " + Shapes.toString(shape)
            + (ids[i] < 0 ? " is negative: class values must be non-negative" : " must be smaller than num_classes " + classes));
      }
    }
    int[] outShape = Shapes.concat(shape, classes);
    if (labels.device().isCuda()) { // written on the device from its copy of the labels: nothing of the result uploaded
      Tensor out = Tensor.empty(labels.device(), outShape);
      SortKernels.oneHot(out.writeCuda(), labels.readCuda(), ids.length, classes);
      CudaLayerOps.keepAlive(labels);
      return out;
    }
    float[] out = new float[(int) total];
    for (int i = 0; i < ids.length; i++) {
      out[i * classes + ids[i]] = 1f;
    }
    return Tensor.wrap(out, outShape);
  }

  // ------------------------------------------------------------------ ordering on the GPU: sort, topk, max and min along a dimension

  /**
   * {@code ReductionOps.ordered} on CUDA: each line's values sorted on the device ({@link SortKernels#sort},
   * the CPU's order), the first {@code k} kept (topk: an index map crops the line), and the values'
   * gradient scattered back to where they came from on the device.
   */
  static ValuesAndIndices orderedOnDevice(String name, Tensor x, Ops.Along a, int k, int[] outShape, boolean largest) {
    Device device = x.device();
    Tensor values = Tensor.empty(device, x.shape());
    Tensor indices = Tensor.emptyIndices(device, x.shape());
    SortKernels.sort(values.writeCuda(), indices.writeCuda(), x.readCuda(), a.outer(), a.size(), a.inner(), largest);
    CudaLayerOps.keepAlive(x);
    if (k < a.size()) {
      int[] line = {a.outer(), k, a.inner()}, full = {a.outer(), a.size(), a.inner()};
      Tensor firstValues = Tensor.empty(device, outShape);
      Tensor firstIndices = Tensor.emptyIndices(device, outShape);
      boolean[] flip = new boolean[3];
      long[] offset = new long[3];
      dev.kiln.runtime.cuda.IndexKernels.indexMap(firstValues.writeCuda(), values.readCuda(), line, full, flip, offset, 0f);
      dev.kiln.runtime.cuda.IndexKernels.indexMap(firstIndices.writeCuda(), indices.readCuda(), line, full, flip, offset, 0f);
      CudaLayerOps.keepAlive(values, indices);
      values = firstValues;
      indices = firstIndices;
    } // else outShape is x's shape
    return pickedOnDevice(name, x, a, k, values, indices);
  }

  /** {@code Ops.extremaAlong} on CUDA: each line's maximum ({@code max}) or minimum and its index, reduced on the device. */
  static ValuesAndIndices extremaOnDevice(String name, Tensor x, Ops.Along a, int[] outShape, boolean max) {
    Tensor values = Tensor.empty(x.device(), outShape);
    Tensor indices = Tensor.emptyIndices(x.device(), outShape);
    SortKernels.extremumAlong(values.writeCuda(), indices.writeCuda(), x.readCuda(), a.outer(),
        a.size(), a.inner(), max);
    CudaLayerOps.keepAlive(x);
    return pickedOnDevice(name, x, a, 1, values, indices);
  }

  /** {@code Ops.extremum} on CUDA: the maximum ({@code max}) or minimum of all values, its gradient shared among the ties. */
  static Tensor extremumOnDevice(String name, Tensor x, boolean max) {
    Tensor value = Tensor.empty(x.device());
    Tensor index = Tensor.emptyIndices(x.device());
    SortKernels.extremumAlong(value.writeCuda(), index.writeCuda(), x.readCuda(), 1, x.numel(), 1, max);
    CudaLayerOps.keepAlive(x, index);
    return lineReduced(name, x, value, new Ops.Along(1, x.numel(), 1),
        (dx, g, y) -> SortKernels.shareAmongTies(dx.writeCuda(), g.readCuda(), x.readCuda(), y.readCuda(), x.numel()));
  }

  /** Values picked from x's lines, {@code k} a line, at {@code indices}: their gradient goes back there, zeros elsewhere. */
  private static ValuesAndIndices pickedOnDevice(String name, Tensor x, Ops.Along a, int k, Tensor values, Tensor indices) {
    if (!Ops.track(x)) {
      return new ValuesAndIndices(values, indices);
    }
    return new ValuesAndIndices(Tensor.ofNode(values, new Node(x) {
      @Override protected boolean savesInputs() { // the indices, not x
        return false;
      }

      @Override public String name() {
        return name;
      }

      @Override protected Tensor[] backward(Tensor g) {
        return new Tensor[] {gradientOf(x, g, (dx, gd) -> {
          SortKernels.scatterAlong(dx.writeCuda(), gd.readCuda(), indices.readCuda(), a.outer(), k, a.size(), a.inner());
          CudaLayerOps.keepAlive(indices);
        })};
      }
    }), indices);
  }
}
