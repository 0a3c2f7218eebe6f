package dev.kiln.runtime;

import dev.kiln.runtime.cpu.IndexKernels;
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
    Tensor out = mapped(x, outShape, flip, offset, fill);
    if (!Ops.track(x)) {
      return out;
    }
    long[] inverse = IndexKernels.inverseOffsets(flip, offset);
    return Tensor.ofNode(out, new Node(x) {
      @Override protected boolean savesTensors() {
        return false;
      }

      @Override public String name() {
        return name;
      }

      @Override protected Tensor[] backward(Tensor g) {
        return new Tensor[] {mapped(g.to(x.device()), shape, flip, inverse, 0f)};
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
    Tensor out = scanned(x, a, false);
    if (!Ops.track(x)) {
      return out;
    }
    return Tensor.ofNode(out, new Node(x) {
      @Override protected boolean savesTensors() {
        return false;
      }

      @Override public String name() {
        return "cumsum";
      }

      @Override protected Tensor[] backward(Tensor g) {
        return new Tensor[] {scanned(g.to(x.device()), a, true)};
      }
    });
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

  /** {@link Ops#norm}. */
  static Tensor norm(Tensor x, float p, int dim, boolean keepDim) {
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
        Tensor dx = Tensor.empty(x.device(), x.shape());
        Tensor gd = g.to(x.device());
        backward.run(dx, gd, out);
        CudaLayerOps.keepAlive(gd);
        return new Tensor[] {dx};
      }
    });
  }

  /** x seen along {@code dim}; a rank-0 x is one value along dimension 0 or -1, as PyTorch takes it. */
  static Ops.Along alongOrScalar(String op, Tensor x, int dim) {
    if (x.dim() == 0 && (dim == 0 || dim == -1)) {
      return new Ops.Along(1, 1, 1);
    }
    return Ops.Along.of(op, x, dim);
  }
}
