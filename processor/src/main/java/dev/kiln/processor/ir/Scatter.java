package dev.kiln.processor.ir;

import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.ShapeException;
import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.cpu.ScatterKernels;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * A write by index in a compiled forward, PyTorch's out-of-place {@code x.scatter(dim, index, src)}, {@code x.scatter(dim,
 * index, value)}, {@code x.scatterAdd(dim, index, src)}, {@code x.indexAdd(dim, index, source[, alpha])}, {@code
 * x.indexCopy(dim, index, source)} or {@code x.indexFill(dim, index, value)} along a dimension after the batch: eager
 * mode's placement ({@code cpu.ScatterKernels}), each sample's values written within the sample. The step reads x, then
 * the source (the forms of one), then the index for a scatter: ids of the batch of x's rank (a further input of ids, an
 * argmax's, argmin's, topk's or argsort's indices, views of them), which take no gradient. The index forms' index is
 * ids built from constants ({@code Tensor.labels(0, 2)}), held here as {@code ids}, the same for every sample. A gather
 * ({@code x.gather(dim, index)}, the writes' gradient) is the same step read the other way: x and the index, of the index's
 * shape; an index select ({@code x.indexSelect(dim, Tensor.labels(0, 2))}) the index forms' read, of constant ids. The index
 * forms' index may instead be a buffer of ids ({@code registerBuffer("perm", Tensor.labels(2, 0, 1))}), model state that a load
 * or a write in place changes: its count is folded from the declaration, its values read at each call (the step's last input).
 *
 * @param op the write
 * @param dim the dimension as written
 * @param value the value a scatter or an index fill of a value writes, else 0
 * @param alpha index_add's factor, else 1
 * @param ids the index forms' constant ids, in order, else null
 * @param idsText the index as written, for messages and the CUDA call
 * @param buffer the index forms' buffer of ids (its field, {@code perm}), read at each call, else null
 * @param count the number of ids: the constant ids' or the buffer's declared; 0 for ids of the batch
 */
public record Scatter(Op op, int dim, float value, float alpha, List<Integer> ids, String idsText, String buffer, int count)
    implements LayerSpec {
  /** The writes, by the Tensor method that makes them. */
  public enum Op {
    SCATTER("scatter", "scatter", true, false, true),
    SCATTER_VALUE("scatter", "scatter", true, false, false),
    SCATTER_ADD("scatterAdd", "scatter_add", true, true, true),
    INDEX_ADD("indexAdd", "index_add", false, true, true),
    INDEX_COPY("indexCopy", "index_copy", false, false, true),
    INDEX_FILL("indexFill", "index_fill", false, false, false),
    /** The read by index that is the others' gradient: {@code out[..i..] = x[..index[i]..]}, of the index's shape. */
    GATHER("gather", "gather", true, false, false),
    /** The slices at constant ids, {@code x.indexSelect(dim, Tensor.labels(0, 2))}: the index forms' read, x's shape but the ids' count along dim. */
    INDEX_SELECT("indexSelect", "index_select", false, false, false);

    /** The Tensor method ({@code scatterAdd}) and eager's name in messages ({@code scatter_add}). */
    public final String method, torchName;
    /** Whether the index is ids of the batch of x's rank (else a constant rank-1 index of slices). */
    public final boolean byElement;
    /** Whether the placed values are added (else set, the written places getting no gradient from the result). */
    public final boolean adds;
    /** Whether a source tensor is placed (else a value). */
    public final boolean hasSource;

    /** Whether the step reads by index (gather, indexSelect) rather than writes. */
    public boolean reads() {
      return this == GATHER || this == INDEX_SELECT;
    }

    Op(String method, String torchName, boolean byElement, boolean adds, boolean hasSource) {
      this.method = method;
      this.torchName = torchName;
      this.byElement = byElement;
      this.adds = adds;
      this.hasSource = hasSource;
    }
  }

  public Scatter {
    ids = ids == null ? null : List.copyOf(ids);
    if (op.byElement == (ids != null || buffer != null) || ids != null && buffer != null) {
      throw new IllegalArgumentException(op.method + ": " + (op.byElement ? "takes ids of the batch" : "takes constant ids or a buffer"));
    }
    if (ids != null && count != ids.size()) {
      throw new IllegalArgumentException(op.method + ": " + count + " for " + ids.size() + " ids");
    }
  }

  /** A write of ids of the batch, or an index form of constant ids. */
  public Scatter(Op op, int dim, float value, float alpha, List<Integer> ids, String idsText) {
    this(op, dim, value, alpha, ids, idsText, null, ids == null ? 0 : ids.size());
  }

  /** Whether the index is a buffer of ids, read at each call ({@link #bufferInput}). */
  public boolean readsBuffer() {
    return buffer != null;
  }

  /** The step's input that is the buffer of ids (the last), or -1 where the index is not one. */
  public int bufferInput() {
    return buffer == null ? -1 : op.hasSource ? 2 : 1;
  }

  /** The step's input that is the source (x is 0), or -1 for a write of a value. */
  public int sourceInput() {
    return op.hasSource ? 1 : -1;
  }

  /** The step's input that is the index (ids of the batch), or -1 for the index forms. */
  public int indexInput() {
    return op.byElement ? (op.hasSource ? 2 : 1) : -1;
  }

  /** The dimension written along, of x's shape {@code in} (the batch first), counted from the front. */
  public int along(int[] in) {
    return AfterBatch.dimension(this, in, dim, op.method + " along a dimension after it (each sample's values are written within"
        + " the sample)");
  }

  /** x's shape {@code in} for the writes, an index select's with the ids' count along the dimension; a gather's is its index's, which the checker gives. */
  @Override
  public int[] outputShape(int[] in) {
    int d = along(in);
    int[] out = in.clone();
    if (op == Op.INDEX_SELECT) {
      out[d] = count;
    }
    return out;
  }

  /**
   * Checks the source's ({@code src}, null for a value) and the index's ({@code index}, null for the index forms) shapes against
   * x's, as eager mode checks them, with the batch's sizes equal.
   *
   * @throws ShapeException naming the step and the shapes
   */
  public void checkOperands(int[] x, int[] index, int[] src) {
    int d = along(x);
    if (op.byElement) {
      if (index.length != x.length) {
        throw new ShapeException(this + ": the index " + Shapes.toString(index) + " must have the input's rank " + x.length
            + " (input " + Shapes.toString(x) + ")");
      }
      if (src != null && src.length != x.length) {
        throw new ShapeException(this + ": the source " + Shapes.toString(src) + " must have the input's rank " + x.length
            + " (input " + Shapes.toString(x) + ")");
      }
      for (int k = 1; k < x.length && op == Op.GATHER; k++) {
        if (k != d && index[k] > x[k]) {
          throw new ShapeException(this + ": index " + Shapes.toString(index) + " is larger than the input " + Shapes.toString(x)
              + " at dimension " + k);
        }
      }
      try {
        ScatterKernels.checkScatterShapes(op.torchName, x, d, index, src);
      } catch (IllegalArgumentException e) {
        throw new ShapeException(this + ": " + e.getMessage());
      }
      return;
    }
    if (src != null) {
      try {
        ScatterKernels.checkIndexSource(op.torchName, x, d, count, src);
      } catch (IllegalArgumentException e) {
        throw new ShapeException(this + ": " + e.getMessage());
      }
    }
    for (int i = 0; buffer == null && i < ids.size(); i++) { // (a buffer's ids are checked at each call, as eager's)
      int id = ids.get(i), size = x[d];
      if (id < -size || id >= size) {
        throw new ShapeException(this + ": index " + id + " at " + i + " of " + idsText + " is out of range for dimension " + d
            + " of size " + size + " (input " + Shapes.toString(x) + ")");
      }
    }
  }

  /** The constant ids as Java: {@code 0, 2}. */
  public String idsList() {
    return ids.stream().map(String::valueOf).collect(Collectors.joining(", "));
  }

  @Override
  public String toString() {
    if (op == Op.GATHER) {
      return "gather(" + dim + ", index)";
    }
    String index = op.byElement ? "index" : buffer != null ? buffer : "Tensor.labels(" + idsList() + ")";
    if (op == Op.INDEX_SELECT) {
      return "indexSelect(" + dim + ", " + index + ")";
    }
    String rest = op.hasSource ? ", src" : ", " + value + "f";
    return op.method + "(" + dim + ", " + index + rest + (op == Op.INDEX_ADD && alpha != 1f ? ", " + alpha + "f" : "") + ")";
  }

  /** The op's name for comments: {@code scatter_add}. */
  public String name() {
    return op.torchName.toLowerCase(Locale.ROOT);
  }
}
