package dev.kiln.runtime;

import static dev.kiln.runtime.ShapeOps.removeDim;
import static dev.kiln.runtime.ShapeOps.reshaping;
import static dev.kiln.runtime.UnaryOps.unary;
import static dev.kiln.runtime.Ops.*;

import dev.kiln.runtime.cpu.MathKernels;
import dev.kiln.runtime.cpu.SortKernels;
import java.util.Arrays;

/**
 * Reductions of eager mode: sum and mean (of all, along a dimension, over several), var and std, max/min
 * with their indices, topk, sort and the whole-tensor extrema. Their public entries are in {@link Ops}.
 */
final class ReductionOps {
  private ReductionOps() {}

  public static Tensor sum(Tensor x) {
    return reduceAll(x, 1f, "sum");
  }

  public static Tensor mean(Tensor x) {
    if (x.numel() == 0) {
      throw new IllegalArgumentException("mean of an empty tensor of shape " + Shapes.toString(x.shape()));
    }
    return reduceAll(x, 1f / x.numel(), "mean");
  }

  public static Tensor sum(Tensor x, int dim, boolean keepDim) {
    return reduceAlong("sum", x, dim, keepDim, false);
  }

  public static Tensor mean(Tensor x, int dim, boolean keepDim) {
    return reduceAlong("mean", x, dim, keepDim, true);
  }

  private static Tensor reduceAlong(String name, Tensor x, int dim, boolean keepDim, boolean mean) {
    requireFloat(name, x);
    Along a = Along.of(name, x, dim);
    if (mean && a.size() == 0) {
      throw new IllegalArgumentException(name + " along dimension " + dim + " of size 0, shape " + Shapes.toString(x.shape()));
    }
    return sumAlong(name, x, a, dim, keepDim, mean ? 1f / a.size() : 1f);
  }

  /** {@code factor} times the sum of {@code x} along {@code dim} (seen as {@code a}), recorded as {@code name}. */
  private static Tensor sumAlong(String name, Tensor x, Along a, int dim, boolean keepDim, float factor) {
    int d = Shapes.normalizeDim(dim, x.dim());
    int[] shape = x.shape();
    int[] outShape;
    if (keepDim) {
      outShape = shape.clone();
      outShape[d] = 1;
    } else {
      outShape = removeDim(shape, d);
    }
    if (Devices.onCuda(name, x)) {
      return CudaOps.reduceAlong(name, x, a.outer(), a.size(), a.inner(), factor, outShape);
    }
    return reshaping(name, x, outShape,
        (out, in, inOff) -> MathKernels.sumAlong(out, 0, in, inOff, a.outer(), a.size(), a.inner(), factor),
        (dx, g, gOff) -> MathKernels.spreadAlong(dx, 0, g, gOff, a.outer(), a.size(), a.inner(), factor));
  }

  public static Tensor sum(Tensor x, int[] dims, boolean keepDim) {
    return reduceOver("sum", x, dims, keepDim, false);
  }

  public static Tensor mean(Tensor x, int[] dims, boolean keepDim) {
    return reduceOver("mean", x, dims, keepDim, true);
  }

  private static Tensor reduceOver(String name, Tensor x, int[] dims, boolean keepDim, boolean mean) {
    requireFloat(name, x);
    Over o = Over.of(name, x, dims);
    if (mean && o.count() == 0) {
      throw new IllegalArgumentException(name + " over dimensions " + Arrays.toString(dims) + " of shape " + Shapes.toString(x.shape())
          + ": a reduced dimension has size 0, so there are no values to average");
    }
    return sumOver(name, x, o, Shapes.reducedShape(x.shape(), o.reduced(), keepDim), mean ? 1f / o.count() : 1f);
  }

  /**
   * {@code factor} times the sum of {@code x} over {@code o}'s dimensions, recorded as {@code name}:
   * the one-dimension path for one run of reduced dimensions; on CUDA the reduce-along kernel once
   * per run of reduced dimensions, the innermost first, each pass on the tape.
   */
  private static Tensor sumOver(String name, Tensor x, Over o, int[] outShape, float factor) {
    int[] runs = o.runs();
    if (Devices.onCuda(name, x)) {
      if (runs.length == 1) {
        return CudaOps.reduceAlong(name, x, runs[0], 1, 1, factor, outShape);
      }
      Tensor t = x;
      int[] r = runs;
      for (int m = r.length - 1; m >= 2; m -= 2) { // reduces r[m - 1]; the runs left merge r[m - 2] with r[m]
        int[] left = Arrays.copyOf(r, m - 1);
        left[m - 2] *= r[m];
        t = CudaOps.reduceAlong(name, t, Shapes.numel(Arrays.copyOf(r, m - 1)), r[m - 1], r[m], m == 2 ? factor : 1f,
            m == 2 ? outShape : left);
        r = left;
      }
      return t;
    }
    return reshaping(name, x, outShape,
        (out, in, inOff) -> MathKernels.sumOver(out, 0, in, inOff, runs, factor),
        (dx, g, gOff) -> MathKernels.spreadOver(dx, 0, g, gOff, runs, factor, false));
  }

  /**
   * A reduction over several dimensions: which ones ({@link Shapes#reducedDims}), the input's
   * alternating runs ({@link Shapes#reductionRuns}), and how many values each output sums.
   */
  record Over(boolean[] reduced, int[] runs, int count) {
    static Over of(String op, Tensor x, int[] dims) {
      int[] shape = x.shape();
      boolean[] reduced;
      try {
        reduced = Shapes.reducedDims(dims, shape.length);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(op + " over dimensions " + Arrays.toString(dims) + " of shape " + Shapes.toString(shape)
            + ": " + e.getMessage(), e);
      }
      int count = 1;
      for (int d = 0; d < shape.length; d++) {
        count *= reduced[d] ? shape[d] : 1;
      }
      return new Over(reduced, Shapes.reductionRuns(shape, reduced), count);
    }
  }

  private static Tensor reduceAll(Tensor x, float factor, String name) {
    if (Devices.onCuda(name, x)) {
      return CudaOps.reduceAll(x, factor, name);
    }
    requireFloat(name, x);
    double s = MathKernels.sumAll(x.readBuffer(), x.offset(), x.numel());
    float[] out = {(float) (s * factor)};
    if (!track(x)) {
      return Tensor.wrap(out);
    }
    return Tensor.ofNode(out, new int[0], new Node(x) {
      @Override protected boolean savesTensors() {
        return false;
      }

      @Override public String name() {
        return name;
      }

      @Override protected Tensor[] backward(Tensor g) {
        float[] d = new float[x.numel()];
        java.util.Arrays.fill(d, g.item() * factor);
        return new Tensor[] {Tensor.gradient(d, x.shape())};
      }
    });
  }

  public static Tensor var(Tensor x, int dim, boolean unbiased, boolean keepDim) {
    return variance("var", x, dim, unbiased, keepDim);
  }

  /** {@link #var(Tensor, int, boolean, boolean)}, its argument errors naming {@code op}. */
  private static Tensor variance(String op, Tensor x, int dim, boolean unbiased, boolean keepDim) {
    requireFloat(op, x);
    Along a = Along.of(op, x, dim);
    if (a.size() == 0) {
      throw new IllegalArgumentException(op + " along dimension " + dim + " of size 0, shape " + Shapes.toString(x.shape()));
    }
    Over o = Over.of(op, x, new int[] {dim});
    return varianceOver(op, x, o, Shapes.reducedShape(x.shape(), o.reduced(), keepDim), unbiased);
  }

  public static Tensor var(Tensor x, int[] dims, boolean unbiased, boolean keepDim) {
    return variance("var", x, dims, unbiased, keepDim);
  }

  /** {@link #var(Tensor, int[], boolean, boolean)}, its argument errors naming {@code op}. */
  private static Tensor variance(String op, Tensor x, int[] dims, boolean unbiased, boolean keepDim) {
    requireFloat(op, x);
    Over o = Over.of(op, x, dims);
    if (o.count() == 0) {
      throw new IllegalArgumentException(op + " over dimensions " + Arrays.toString(dims) + " of shape " + Shapes.toString(x.shape())
          + ": a reduced dimension has size 0, so there are no values");
    }
    int[] outShape = Shapes.reducedShape(x.shape(), o.reduced(), keepDim);
    if (Devices.onCuda(op, x) && !CudaOps.varianceTakes(o.runs())) { // more runs than the device kernel takes: composed
      Tensor z = sub(x, mean(x, dims, true));
      return sumOver("var", mul(z, z), o, outShape, 1f / (o.count() - (unbiased ? 1 : 0)));
    }
    return varianceOver(op, x, o, outShape, unbiased);
  }

  /**
   * The variance over {@code o}'s dimensions, recorded as {@code var}: two passes over {@code x} in
   * double per output ({@link MathKernels#varianceOver}: the mean, then the squared differences from
   * it), one output array; the gradient {@code (2 / (n - 1)) g (x - mean)} (PyTorch's {@code
   * var_backward}) in one pass ({@link MathKernels#varianceBackward}), from the mean rounded to float.
   * On CUDA the same two kernels' device forms ({@code CudaOps.variance}), in the same order: the same bits.
   */
  private static Tensor varianceOver(String op, Tensor x, Over o, int[] outShape, boolean unbiased) {
    int[] runs = o.runs();
    int divisor = o.count() - (unbiased ? 1 : 0);
    if (Devices.onCuda(op, x)) {
      return CudaOps.variance(x, runs, outShape, divisor);
    }
    float[] out = new float[Shapes.numel(outShape)];
    float[] mean = new float[out.length];
    MathKernels.varianceOver(out, 0, mean, x.readBuffer(), x.offset(), runs, divisor);
    if (!track(x)) {
      return Tensor.wrap(out, outShape);
    }
    return Tensor.ofNode(out, outShape, new Node(x) {
      @Override public String name() {
        return "var";
      }

      @Override protected Tensor[] backward(Tensor g) {
        float[] dx = new float[x.numel()];
        MathKernels.varianceBackward(dx, 0, g.readBuffer(), g.offset(), x.readBuffer(), x.offset(), mean, runs, 2f / divisor,
            false);
        return new Tensor[] {Tensor.gradient(dx, x.shape())};
      }
    });
  }

  public static Tensor std(Tensor x, int[] dims, boolean unbiased, boolean keepDim) {
    return sqrtOfVariance(variance("std", x, dims, unbiased, keepDim));
  }

  public static Tensor var(Tensor x, boolean unbiased) {
    requireFloat("var", x);
    if (x.numel() == 0) {
      throw new IllegalArgumentException("var of an empty tensor of shape " + Shapes.toString(x.shape()));
    }
    Tensor z = sub(x, mean(x));
    return reduceAll(mul(z, z), 1f / (x.numel() - (unbiased ? 1 : 0)), "var");
  }

  public static Tensor std(Tensor x, int dim, boolean unbiased, boolean keepDim) {
    return sqrtOfVariance(variance("std", x, dim, unbiased, keepDim));
  }

  public static Tensor std(Tensor x, boolean unbiased) {
    requireFloat("std", x);
    if (x.numel() == 0) {
      throw new IllegalArgumentException("std of an empty tensor of shape " + Shapes.toString(x.shape()));
    }
    return sqrtOfVariance(var(x, unbiased));
  }

  /** {@code sqrt(v)}, recorded as {@code std}: the gradient {@code g / (2 y)}, 0 where {@code y} is 0. */
  private static Tensor sqrtOfVariance(Tensor v) {
    if (Devices.onCuda("std", v)) {
      return CudaOps.sqrtOfVariance(v);
    }
    return unary("std", v, Reads.OUTPUT, MathKernels::sqrtForward, MathKernels::stdBackward);
  }

  public static ValuesAndIndices extremaAlong(Tensor x, int dim, boolean keepDim, boolean max) {
    String name = max ? "max" : "min";
    requireFloat(name, x);
    int[] shape = x.shape();
    Along a;
    if (shape.length == 0 && (dim == 0 || dim == -1)) { // PyTorch takes the one value as a dimension of one
      a = new Along(1, 1, 1);
    } else {
      a = Along.of(name, x, dim);
      if (a.size() == 0) {
        throw new IllegalArgumentException(name + " along dimension " + dim + " of size 0, shape " + Shapes.toString(shape)
            + ": there is no " + (max ? "maximum" : "minimum") + " of nothing");
      }
    }
    int[] outShape = shape.length == 0 ? new int[0] : reducedShape(shape, Shapes.normalizeDim(dim, shape.length), keepDim);
    if (x.device().isCuda()) {
      return IndexOps.extremaOnDevice(name, x, a, outShape, max);
    }
    float[] data = x.toFloatArray();
    int count = a.outer() * a.inner();
    float[] values = new float[count];
    float[] indices = new float[count];
    int[] from = new int[count]; // flat index into x of each value, for the backward
    for (int o = 0; o < a.outer(); o++) {
      for (int i = 0; i < a.inner(); i++) {
        int base = o * a.size() * a.inner() + i;
        int best = 0;
        float bestValue = data[base];
        for (int j = 1; j < a.size() && !Float.isNaN(bestValue); j++) {
          float v = data[base + j * a.inner()];
          if (Float.isNaN(v) || (max ? v > bestValue : v < bestValue)) {
            best = j;
            bestValue = v;
          }
        }
        int k = o * a.inner() + i;
        values[k] = bestValue;
        indices[k] = best;
        from[k] = base + best * a.inner();
      }
    }
    return picked(name, x, outShape, values, indices, from);
  }

  /**
   * Values picked from {@code x} (element {@code from[j]} of its flat values gave value {@code j})
   * with their indices along the dimension, on x's device; the gradient goes back to the picked
   * elements, zero elsewhere. The result of max, min and topk along a dimension.
   */
  private static ValuesAndIndices picked(String name, Tensor x, int[] outShape, float[] values, float[] indices, int[] from) {
    Tensor idx = Tensor.wrap(indices, DType.INT32, outShape).to(x.device());
    Tensor vals = Tensor.wrap(values, outShape).to(x.device());
    if (!track(x)) {
      return new ValuesAndIndices(vals, idx);
    }
    int n = x.numel();
    return new ValuesAndIndices(Tensor.ofNode(vals, new Node(x) {
      @Override protected boolean savesInputs() { // PyTorch saves the indices, not x
        return false;
      }

      @Override public String name() {
        return name;
      }

      @Override protected Tensor[] backward(Tensor g) {
        float[] gd = g.toFloatArray();
        float[] dx = new float[n];
        for (int k = 0; k < gd.length; k++) {
          dx[from[k]] = gd[k];
        }
        return new Tensor[] {Tensor.gradient(dx, x.shape()).to(x.device())};
      }
    }), idx);
  }

  public static ValuesAndIndices topk(Tensor x, int k, int dim, boolean largest) {
    requireFloat("topk", x);
    boolean scalar = x.dim() == 0 && (dim == 0 || dim == -1); // PyTorch takes the one value as a dimension of one
    Along a = scalar ? new Along(1, 1, 1) : Along.of("topk", x, dim);
    if (k < 0 || k > a.size()) {
      throw new IllegalArgumentException("topk: k " + k + " is out of range for dimension " + dim + " of size " + a.size()
          + ", shape " + Shapes.toString(x.shape()));
    }
    if (scalar && k == 0) {
      throw new IllegalArgumentException("topk: k 0 of a scalar has no shape to give (PyTorch returns the scalar itself);"
          + " reshape(1) makes it one value along a dimension");
    }
    return ordered("topk", x, a, k, dim, largest);
  }

  public static ValuesAndIndices sort(Tensor x, int dim, boolean descending) {
    requireFloat("sort", x);
    Along a = IndexOps.alongOrScalar("sort", x, dim);
    return ordered("sort", x, a, a.size(), dim, descending);
  }

  /** The first {@code k} of x's values along {@code a} ordered largest first ({@code largest}) or smallest first, and their indices. */
  private static ValuesAndIndices ordered(String name, Tensor x, Along a, int k, int dim, boolean largest) {
    boolean scalar = x.dim() == 0;
    int[] outShape = x.shape();
    if (!scalar) {
      outShape[Shapes.normalizeDim(dim, outShape.length)] = k;
    }
    if (x.device().isCuda()) {
      return IndexOps.orderedOnDevice(name, x, a, k, outShape, largest);
    }
    float[] data = x.toFloatArray();
    int count = a.outer() * k * a.inner();
    float[] values = new float[count], indices = new float[count];
    int[] from = new int[count];
    SortKernels.ordered(data, 0, a.outer(), a.size(), a.inner(), k, largest, values, indices, from);
    return picked(name, x, outShape, values, indices, from);
  }

  public static Tensor extremum(Tensor x, boolean max) {
    String name = max ? "max" : "min";
    requireFloat(name, x);
    if (x.numel() == 0) {
      throw new IllegalArgumentException(name + " of an empty tensor of shape " + Shapes.toString(x.shape())
          + ": there is no " + (max ? "maximum" : "minimum") + " of nothing; max(dim) takes a dimension of values");
    }
    if (x.device().isCuda()) {
      return IndexOps.extremumOnDevice(name, x, max);
    }
    float[] data = x.toFloatArray();
    float best = data[0];
    for (int i = 1; i < data.length && !Float.isNaN(best); i++) {
      if (Float.isNaN(data[i]) || (max ? data[i] > best : data[i] < best)) {
        best = data[i];
      }
    }
    Tensor out = Tensor.scalar(best).to(x.device());
    if (!track(x)) {
      return out;
    }
    float result = best;
    return Tensor.ofNode(out, new Node(x) {
      @Override public String name() {
        return name;
      }

      @Override protected Tensor[] backward(Tensor g) {
        float[] in = x.toFloatArray();
        int ties = 0;
        for (float v : in) {
          ties += Float.compare(v, result) == 0 || v == result ? 1 : 0;
        }
        float share = g.toFloatArray()[0] / ties;
        float[] dx = new float[in.length];
        for (int i = 0; i < in.length; i++) {
          dx[i] = Float.compare(in[i], result) == 0 || in[i] == result ? share : 0f;
        }
        return new Tensor[] {Tensor.gradient(dx, x.shape()).to(x.device())};
      }
    });
  }

  /**
   * {@code m}, of {@code shape} but with size 1 along the dimension seen as {@code a}, repeated
   * along it to {@code shape} (PyTorch's {@code m.expand(shape)} for that one dimension); the
   * gradient is summed back along it. The inverse pair of a sum along a dimension.
   */
  static Tensor expandAlong(Tensor m, Along a, int[] shape) {
    if (Devices.onCuda("expand", m)) {
      return CudaOps.expandAlong(m, a.outer(), a.size(), a.inner(), shape);
    }
    return reshaping("expand", m, shape,
        (out, in, inOff) -> MathKernels.spreadAlong(out, 0, in, inOff, a.outer(), a.size(), a.inner(), 1f),
        (dx, g, gOff) -> MathKernels.sumAlong(dx, 0, g, gOff, a.outer(), a.size(), a.inner(), 1f));
  }

  /**
   * {@link Ops#amax} ({@code max}) or {@link Ops#amin}: the extreme values over {@code dims} (none:
   * all), each dimension reduced in turn by {@link #extremaAlong} without the tape; the gradient
   * shared evenly by the elements equal to the result (NaN ones for a NaN result), as PyTorch's.
   */
  static Tensor amaxAmin(Tensor x, int[] dims, boolean keepDim, boolean max) {
    String name = max ? "amax" : "amin";
    requireFloat(name, x);
    if (x.dim() == 0) { // PyTorch takes the one value as a dimension of one
      for (int dim : dims) {
        IndexOps.alongOrScalar(name, x, dim);
      }
      return Ops.clone(x);
    }
    Over o = Over.of(name, x, dims);
    boolean[] reduced = o.reduced();
    int[] shape = x.shape();
    int[] keptShape = Shapes.reducedShape(shape, reduced, true), outShape = Shapes.reducedShape(shape, reduced, keepDim);
    Tensor kept = x;
    try (var off = Kiln.noGrad()) {
      for (int d = shape.length - 1; d >= 0; d--) {
        if (reduced[d]) {
          if (shape[d] == 0) {
            throw new IllegalArgumentException(name + " over dimensions " + Arrays.toString(dims) + " of shape " + Shapes.toString(shape)
                + ": dimension " + d + " has size 0, and there is no " + (max ? "maximum" : "minimum") + " of nothing");
          }
          kept = extremaAlong(kept, d, true, max).values();
        }
      }
    }
    Tensor values = kept;
    Tensor out = keepDim ? values : values.viewOf(outShape, null);
    if (!track(x)) {
      return out;
    }
    int[] reducedDims = new int[shape.length];
    int count = 0;
    for (int d = 0; d < shape.length; d++) {
      if (reduced[d]) {
        reducedDims[count++] = d;
      }
    }
    int[] over = Arrays.copyOf(reducedDims, count);
    return Tensor.ofNode(out, new Node(x) {
      @Override protected boolean savesOutput() { // the values the backward compares x with
        return true;
      }

      @Override public String name() {
        return name;
      }

      @Override protected Tensor[] backward(Tensor g) {
        Tensor at = Ops.compare(name + " backward", x, values, (u, v) -> u == v || u != u && v != v); // NaN ties NaN
        Tensor share = Ops.div(Ops.reshape(g.to(x.device()), keptShape), Ops.sum(at, over, true));
        return new Tensor[] {Ops.mul(at, share)};
      }
    });
  }
}
