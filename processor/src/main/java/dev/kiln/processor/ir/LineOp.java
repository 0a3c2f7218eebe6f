package dev.kiln.processor.ir;

import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.ShapeException;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code x.logsumexp(dim[, keepDim])}, {@code x.norm(p, dim[, keepDim])}, {@code x.prod(dim[, keepDim])}, {@code x.amax(dim)} or {@code x.cumsum(dim)} in a compiled
 * forward: eager mode's line kernel along one dimension after the batch ({@code IndexKernels.logsumexpForward},
 * {@code normForward}, {@code cumsum}), the input seen as {@code [outer, size, inner]} around it; backward its
 * backward kernel ({@code logsumexpBackward} and {@code normBackward} from the input and the output, the running sum
 * from the end), so values and gradients are eager mode's bit for bit. Log-sum-exp and the norm remove the dimension,
 * or keep it with size 1; the running sum keeps the shape.
 *
 * @param kind which line kernel
 * @param p the norm's exponent, a finite number above 0 (1 for the others)
 * @param dim the dimension as written, negative counting from the end
 * @param keepDim whether a log-sum-exp or norm keeps the dimension with size 1
 * @param k a topk's count (-1 for an argsort's every index), else 0
 * @param more an amax's or amin's further dimensions as written ({@code x.amax(1, 2)}: {@code [2]}), else empty; with them
 *     the extreme is over all its dimensions at once ({@code IndexKernels.extremeOver})
 */
public record LineOp(Kind kind, float p, int dim, boolean keepDim, int k, List<Integer> more) implements LayerSpec {
  /** The line kernel. */
  public enum Kind {
    LOGSUMEXP,
    NORM,
    CUMSUM,
    /**
     * {@code x.prod(dim[, keepDim])}: each line's product in double ({@code IndexKernels.prodForward}); backward PyTorch's
     * rule from the input ({@code prodBackward}: {@code g p / x} without zeros, the others' product at a line's only zero).
     */
    PROD,
    /**
     * {@code x.amax(dim[, keepDim])}: each line's maximum ({@code IndexKernels.extremeAlong}); backward eager's rule, the
     * gradient shared evenly by the values equal to it ({@code extremeBackward}).
     */
    AMAX,
    /** {@code x.amin(dim[, keepDim])}, as {@link #AMAX}. */
    AMIN,
    /** {@code x.argmax(dim[, keepDim])}: each line's maximum's index, ids without gradient (an Embedding looks them up). */
    ARGMAX,
    /** {@code x.argmin(dim[, keepDim])}: each line's minimum's index (a VQ-VAE's nearest code), ids as an argmax's. */
    ARGMIN,
    /**
     * {@code x.topk(k, dim).indices()} ({@link #k} of them, largest first) or {@code x.argsort(dim, true)} (k -1: all):
     * eager's {@code SortKernels.ordered}, ids as an argmax's.
     */
    TOPK,
    /** {@code x.topk(k, dim, false).indices()} (smallest first) or {@code x.argsort(dim)} (k -1: all), as {@link #TOPK}. */
    BOTTOMK
  }

  /** A line kernel without a count ({@link #k} 0). */
  public LineOp(Kind kind, float p, int dim, boolean keepDim) {
    this(kind, p, dim, keepDim, 0);
  }

  /** A line kernel along one dimension. */
  public LineOp(Kind kind, float p, int dim, boolean keepDim, int k) {
    this(kind, p, dim, keepDim, k, List.of());
  }

  public LineOp {
    more = List.copyOf(more);
    if (kind == Kind.NORM && (!(p > 0) || Float.isInfinite(p))) {
      throw new IllegalArgumentException("norm: p must be a finite number above 0, got " + p);
    }
  }

  /** {@code x.logsumexp(dim, keepDim)}. */
  public static LineOp logsumexp(int dim, boolean keepDim) {
    return new LineOp(Kind.LOGSUMEXP, 1f, dim, keepDim);
  }

  /** {@code x.norm(p, dim, keepDim)}. */
  public static LineOp norm(float p, int dim, boolean keepDim) {
    return new LineOp(Kind.NORM, p, dim, keepDim);
  }

  /** {@code x.argmax(dim, keepDim)}. */
  public static LineOp argmax(int dim, boolean keepDim) {
    return new LineOp(Kind.ARGMAX, 1f, dim, keepDim);
  }

  /** {@code x.argmin(dim, keepDim)}. */
  public static LineOp argmin(int dim, boolean keepDim) {
    return new LineOp(Kind.ARGMIN, 1f, dim, keepDim);
  }

  /**
   * {@code x.topk(k, dim, largest).indices()}, or with {@code k} -1 {@code x.argsort(dim, descending)} (every index, in
   * order).
   */
  public static LineOp ranks(int k, int dim, boolean largest) {
    if (k < -1) {
      throw new IllegalArgumentException("topk: k " + k + " is negative");
    }
    return new LineOp(largest ? Kind.TOPK : Kind.BOTTOMK, 1f, dim, false, k);
  }

  /** Whether this makes ids (an argmax, argmin, topk's or argsort's), which take no gradient and which an Embedding alone reads. */
  public boolean makesIds() {
    return kind == Kind.ARGMAX || kind == Kind.ARGMIN || kind == Kind.TOPK || kind == Kind.BOTTOMK;
  }

  /** How many indices a topk or argsort keeps of a line of {@code size} (k, or all for an argsort). */
  public int kept(int size) {
    return k < 0 ? size : k;
  }

  /** {@code x.prod(dim, keepDim)}. */
  public static LineOp prod(int dim, boolean keepDim) {
    return new LineOp(Kind.PROD, 1f, dim, keepDim);
  }

  /** {@code x.amax(dim, keepDim)} ({@code max}) or {@code x.amin(dim, keepDim)}. */
  public static LineOp extreme(boolean max, int dim, boolean keepDim) {
    return new LineOp(max ? Kind.AMAX : Kind.AMIN, 1f, dim, keepDim);
  }

  /**
   * {@code x.amax(dims, keepDim)} ({@code max}) or {@code x.amin} over several dimensions at once, PyTorch's {@code
   * x.amax((1, 2))}: the extreme of all their values together, its gradient shared evenly by every value equal to it.
   */
  public static LineOp extreme(boolean max, int[] dims, boolean keepDim) {
    List<Integer> more = new ArrayList<>();
    for (int i = 1; i < dims.length; i++) {
      more.add(dims[i]);
    }
    return new LineOp(max ? Kind.AMAX : Kind.AMIN, 1f, dims[0], keepDim, 0, more);
  }

  /** Whether this is an amax or amin over several dimensions at once ({@link #more}). */
  public boolean overSeveral() {
    return !more.isEmpty();
  }

  /**
   * Which dimensions of {@code in} (the batch first) an amax or amin over several reduces.
   *
   * @throws ShapeException for a dimension out of range, the batch, or one given twice
   */
  public boolean[] reducedDims(int[] in) {
    boolean[] reduced = new boolean[in.length];
    reduced[dimension(in)] = true;
    for (int m : more) {
      int d = AfterBatch.dimension(this, in, m, "reduce along dimensions after it, or outside forward");
      if (reduced[d]) {
        throw new ShapeException(this + " of " + dev.kiln.runtime.Shapes.toString(in) + ": dimension " + d + " appears multiple"
            + " times in the list of dims");
      }
      reduced[d] = true;
    }
    return reduced;
  }

  /** The dimensions as written, {@code 1, 2}. */
  private String dims() {
    return java.util.stream.Stream.concat(java.util.stream.Stream.of(dim), more.stream()).map(String::valueOf)
        .collect(java.util.stream.Collectors.joining(", "));
  }

  /** {@code x.cumsum(dim)}. */
  public static LineOp cumsum(int dim) {
    return new LineOp(Kind.CUMSUM, 1f, dim, false);
  }

  @Override
  public int[] outputShape(int[] in) {
    int d = dimension(in);
    if (kind == Kind.CUMSUM) {
      return in.clone();
    }
    if (kind == Kind.TOPK || kind == Kind.BOTTOMK) {
      if (kept(in[d]) > in[d]) {
        throw new ShapeException(this + " of " + dev.kiln.runtime.Shapes.toString(in) + ": k " + k + " is out of range for"
            + " dimension " + dim + " of size " + in[d]);
      }
      int[] out = in.clone();
      out[d] = kept(in[d]);
      return out;
    }
    if (overSeveral()) {
      return dev.kiln.runtime.Shapes.reducedShape(in, reducedDims(in), keepDim);
    }
    return AfterBatch.reduced(in, d, keepDim);
  }

  /**
   * The dimension, counted from the front of {@code in} (the batch included).
   *
   * @throws ShapeException when it is out of range or the batch
   */
  public int dimension(int[] in) {
    return AfterBatch.dimension(this, in, dim, (kind == Kind.CUMSUM ? "sum" : "reduce") + " along a dimension after it, or outside"
        + " forward");
  }

  /**
   * {@code x} of {@code in} seen as {@code [outer, size, inner]} around the dimension, per sample: the outer count
   * (times the batch), the dimension's size and the values after it.
   */
  public int[] along(int[] in) {
    return AfterBatch.along(in, dimension(in));
  }

  /** The eager Tensor method after its receiver: {@code logsumexp(1, false)}, {@code norm(2.0f, -1, true)}, {@code cumsum(2)}. */
  public String call() {
    return switch (kind) {
      case LOGSUMEXP -> "logsumexp(" + dim + ", " + keepDim + ")";
      case NORM -> "norm(" + p + "f, " + dim + ", " + keepDim + ")";
      case CUMSUM -> "cumsum(" + dim + ")";
      case PROD -> "prod(" + dim + ", " + keepDim + ")";
      case AMAX, AMIN -> kind.name().toLowerCase(java.util.Locale.ROOT) + "(new int[] {" + dims() + "}, " + keepDim + ")";
      case ARGMAX -> "argmax(" + dim + ", " + keepDim + ")";
      case ARGMIN -> "argmin(" + dim + ", " + keepDim + ")";
      case TOPK, BOTTOMK -> k < 0 ? "argsort(" + dim + ", " + (kind == Kind.TOPK) + ")"
          : "topk(" + k + ", " + dim + ", " + (kind == Kind.TOPK) + ").indices()";
    };
  }

  @Override
  public String toString() {
    return switch (kind) {
      case LOGSUMEXP -> "logsumexp(" + dim + (keepDim ? ", true)" : ")");
      case NORM -> "norm(" + p + ", " + dim + (keepDim ? ", true)" : ")");
      case CUMSUM -> "cumsum(" + dim + ")";
      case PROD -> "prod(" + dim + (keepDim ? ", true)" : ")");
      case AMAX, AMIN -> kind.name().toLowerCase(java.util.Locale.ROOT) + (overSeveral() ? "(new int[] {" + dims() + "}" : "(" + dim)
          + (keepDim ? ", true)" : ")");
      case ARGMAX -> "argmax(" + dim + (keepDim ? ", true)" : ")");
      case ARGMIN -> "argmin(" + dim + (keepDim ? ", true)" : ")");
      case TOPK, BOTTOMK -> k < 0 ? "argsort(" + dim + (kind == Kind.TOPK ? ", true)" : ")")
          : "topk(" + k + ", " + dim + (kind == Kind.TOPK ? ")" : ", false)") + ".indices()";
    };
  }
}
