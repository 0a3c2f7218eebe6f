package dev.kiln.runtime;

import static dev.kiln.runtime.DeferredFusions.deferrable;
import static dev.kiln.runtime.DeferredFusions.deferredPermute;
import static dev.kiln.runtime.DeferredFusions.reachedByPermutes;
import static dev.kiln.runtime.DeferredFusions.selectOfPermute;
import static dev.kiln.runtime.Ops.*;

import dev.kiln.runtime.cpu.CpuKernels;
import dev.kiln.runtime.cpu.MathKernels;
import java.util.Arrays;

/**
 * Shape and indexing ops of eager mode: reshape, permute and transpose, narrow, slice, select, split, chunk
 * and unbind, cat, stack and padSequence, squeeze and unsqueeze, index_select, gather, masked_fill, tril/triu,
 * clone, and the embedding lookups. Their public entries are in {@link Ops}.
 */
final class ShapeOps {
  private ShapeOps() {}

  public static Tensor reshape(Tensor x, int... newShape) {
    int[] to = Shapes.inferReshape(x.shape(), newShape);
    if (!track(x)) {
      return x.viewOf(to, null);
    }
    int[] from = x.shape();
    return x.viewOf(to, new Node(x) {
      @Override protected boolean savesTensors() {
        return false;
      }

      @Override public String name() {
        return "reshape";
      }

      @Override protected Tensor[] backward(Tensor g) {
        // the engine's own gradient stays the engine's: the next backward (a layer norm's, GELU's under a Linear's
        // reshape) may then write over it
        float[] own = takeGradient(g);
        return new Tensor[] {own != null ? Tensor.gradient(own, from) : g.viewOf(from, null)};
      }
    });
  }

  public static Tensor indexSelect(Tensor x, int dim, Tensor index) {
    Devices.onCuda("index_select", x, index);
    requireFloat("index_select", x);
    int[] ids = ScatterOps.indexIds("index_select", index);
    int d = Shapes.normalizeDim(dim, x.dim());
    int[] outShape = x.shape();
    outShape[d] = ids.length;
    // the source element of each output element; an id out of range is its error, the one compiled code gives
    int[] from = dev.kiln.runtime.cpu.ScatterKernels.selectPlaces(x.shape(), d, ids).srcAt();
    return gathered("index_select", x, from, outShape);
  }

  public static Tensor gather(Tensor x, int dim, Tensor index) {
    Devices.onCuda("gather", x, index);
    requireFloat("gather", x);
    int d = Shapes.normalizeDim(dim, x.dim());
    if (index.dtype() != DType.INT32 || index.dim() != x.dim()) {
      throw new IllegalArgumentException("gather: the index must be labels of the input's rank " + x.dim() + ", got " + index.dtype()
          + " " + Shapes.toString(index.shape()));
    }
    int[] shape = index.shape();
    int[] from = dev.kiln.runtime.cpu.ScatterKernels.gatherPlaces(x.shape(), d, index.toIntArray(), shape).srcAt();
    return gathered("gather", x, from, shape);
  }

  /** {@code out[e] = x[from[e]]} with the gradient added back at {@code from}; on the host, the result on x's device. */
  static Tensor gathered(String op, Tensor x, int[] from, int[] outShape) {
    float[] xv = x.toFloatArray();
    float[] out = new float[from.length];
    for (int e = 0; e < out.length; e++) {
      out[e] = xv[from[e]];
    }
    Tensor result = Tensor.wrap(out, outShape).to(x.device());
    if (!track(x)) {
      return result;
    }
    return Tensor.ofNode(result, new Node(x) {
      @Override protected boolean savesInputs() {
        return false;
      }

      @Override public String name() {
        return op;
      }

      @Override protected Tensor[] backward(Tensor g) {
        float[] gv = g.toFloatArray();
        float[] dx = new float[xv.length];
        for (int e = 0; e < gv.length; e++) {
          dx[from[e]] += gv[e];
        }
        return new Tensor[] {Tensor.gradient(dx, x.shape()).to(x.device())};
      }
    });
  }

  public static Tensor maskedFill(Tensor x, Tensor mask, float value) {
    int[] shape = Shapes.broadcast("masked_fill", x.shape(), mask.shape());
    if (!Arrays.equals(shape, x.shape())) {
      throw new IllegalArgumentException("masked_fill: the mask " + Shapes.toString(mask.shape()) + " must broadcast to the tensor's shape "
          + Shapes.toString(x.shape()) + ", not widen it to " + Shapes.toString(shape));
    }
    return where(mask, Tensor.scalar(value).to(x.device()), x);
  }

  public static Tensor tril(Tensor x, int diagonal) {
    return triangle("tril", x, diagonal, true);
  }

  public static Tensor triu(Tensor x, int diagonal) {
    return triangle("triu", x, diagonal, false);
  }

  private static Tensor triangle(String op, Tensor x, int diagonal, boolean lower) {
    if (x.dim() < 2) {
      throw new IllegalArgumentException(op + ": the tensor needs at least two dimensions, got shape " + Shapes.toString(x.shape()));
    }
    int rows = x.size(-2), cols = x.size(-1);
    float[] keep = new float[rows * cols];
    for (int i = 0; i < rows; i++) {
      for (int j = 0; j < cols; j++) {
        long d = (long) j - i; // no overflow for diagonals near the int range
        keep[i * cols + j] = (lower ? d <= diagonal : d >= diagonal) ? 1f : 0f;
      }
    }
    return where(Tensor.wrap(keep, rows, cols).to(x.device()), x, Tensor.scalar(0f).to(x.device()));
  }

  public static Tensor clone(Tensor x) {
    if (x.dtype() != DType.FLOAT32) {
      return Tensor.labels(x.toIntArray()).reshape(x.shape()).to(x.device());
    }
    if (x.device().isCuda()) {
      return scale(x, 1f); // x * 1 is x, bit for bit; a device copy on the tape
    }
    float[] out = Arrays.copyOfRange(x.readBuffer(), x.offset(), x.offset() + x.numel());
    if (!track(x)) {
      return Tensor.wrap(out, x.shape());
    }
    return Tensor.ofNode(out, x.shape(), new Node(x) {
      @Override protected boolean savesInputs() {
        return false;
      }

      @Override public String name() {
        return "clone";
      }

      @Override protected Tensor[] backward(Tensor g) {
        return new Tensor[] {g};
      }
    });
  }

  public static Tensor narrow(Tensor x, int dim, int start, int length) {
    requireRankAtLeastOne("narrow", x);
    Along a = Along.of("narrow", x, dim);
    int size = a.size();
    if (start < -size || start > size) {
      throw new IllegalArgumentException("narrow: start " + start + " is out of range for dimension " + dim + " of size " + size
          + " in shape " + Shapes.toString(x.shape()) + " (expected " + -size + ".." + size + ")");
    }
    int from = start < 0 ? start + size : start;
    if (length < 0) {
      throw new IllegalArgumentException("narrow: length must be non-negative, got " + length + " for dimension " + dim
          + " of shape " + Shapes.toString(x.shape()));
    }
    if (length > size - from) {
      throw new IllegalArgumentException("narrow: start (" + from + ") + length (" + length + ") exceeds dimension size (" + size
          + ") of dimension " + dim + " in shape " + Shapes.toString(x.shape()));
    }
    int[] outShape = x.shape();
    outShape[Shapes.normalizeDim(dim, x.dim())] = length;
    return block("narrow", x, a, from, length, outShape);
  }

  public static Tensor slice(Tensor x, int dim, int start, int end) {
    requireRankAtLeastOne("slice", x);
    Along a = Along.of("slice", x, dim);
    int size = a.size();
    int from = clampSliceBound(start, size);
    int to = Math.max(from, clampSliceBound(end, size));
    int[] outShape = x.shape();
    outShape[Shapes.normalizeDim(dim, x.dim())] = to - from;
    return block("slice", x, a, from, to - from, outShape);
  }

  /** A slice bound as Python resolves it: negative counts from the end, then clamped to {@code 0..size}. */
  private static int clampSliceBound(int bound, int size) {
    return bound < 0 ? Math.max(bound + size, 0) : Math.min(bound, size);
  }

  public static Tensor select(Tensor x, int dim, int index) {
    requireRankAtLeastOne("select", x);
    Along a = Along.of("select", x, dim);
    int size = a.size();
    if (index < -size || index >= size) {
      throw new IllegalArgumentException("select: index " + index + " out of range for tensor of size " + Shapes.toString(x.shape())
          + " at dimension " + dim + " (expected " + -size + ".." + (size - 1) + ")");
    }
    int d = Shapes.normalizeDim(dim, x.dim());
    Deferred.Permute deferred = x.deferredPermute();
    if (deferred != null && (!x.requiresGrad() || reachedByPermutes(x, deferred.source()))) {
      return selectOfPermute(x, deferred, d, index);
    }
    int[] outShape = removeDim(x.shape(), d);
    return block("select", x, a, index < 0 ? index + size : index, 1, outShape);
  }

  public static Tensor[] unbind(Tensor x, int dim) {
    requireRankAtLeastOne("unbind", x);
    int[] lengths = new int[Along.of("unbind", x, dim).size()];
    Arrays.fill(lengths, 1);
    return pieces("unbind", x, dim, lengths, true);
  }

  public static Tensor[] split(Tensor x, int splitSize, int dim) {
    requireRankAtLeastOne("split", x);
    int size = Along.of("split", x, dim).size();
    if (splitSize < 0 || splitSize == 0 && size != 0) {
      throw new IllegalArgumentException("split: split size " + splitSize + (splitSize < 0 ? " is negative"
          : " is only allowed along an empty dimension, but dimension " + dim + " of " + Shapes.toString(x.shape())
              + " has size " + size));
    }
    int count = size == 0 ? 1 : (size + splitSize - 1) / splitSize;
    int[] lengths = new int[count];
    for (int t = 0; t < count; t++) {
      lengths[t] = Math.min(splitSize, size - t * splitSize);
    }
    return pieces("split", x, dim, lengths, false);
  }

  public static Tensor[] split(Tensor x, int[] lengths, int dim) {
    requireRankAtLeastOne("split", x);
    int size = Along.of("split", x, dim).size();
    long sum = 0;
    for (int length : lengths) {
      if (length < 0) {
        throw new IllegalArgumentException("split: lengths " + Arrays.toString(lengths) + " include a negative one");
      }
      sum += length;
    }
    if (sum != size) {
      throw new IllegalArgumentException("split: lengths " + Arrays.toString(lengths) + " add up to " + sum
          + ", but dimension " + dim + " of " + Shapes.toString(x.shape()) + " has size " + size);
    }
    return pieces("split", x, dim, lengths.clone(), false);
  }

  public static Tensor[] chunk(Tensor x, int chunks, int dim) {
    requireRankAtLeastOne("chunk", x);
    int size = Along.of("chunk", x, dim).size();
    if (chunks < 1) {
      throw new IllegalArgumentException("chunk: chunks must be at least 1, got " + chunks);
    }
    return size == 0 ? pieces("chunk", x, dim, new int[chunks], false) : split(x, (size + chunks - 1) / chunks, dim);
  }

  /**
   * The pieces of {@code x} of {@code lengths} entries each along {@code dim}, in order (their sum
   * its size), without {@code dim} when {@code drop} (every length then 1): copies, whose gradients
   * reach {@code x} through one node that writes each piece's into its place (zeros for a piece the
   * loss did not use), so a backward costs one {@code x}-sized gradient where a {@code narrow} per
   * piece gives each piece an {@code x}-sized gradient of its own, summed: quadratic in the count
   * (a loop over a sequence's steps written by hand). The mechanism is {@link OutputGradients}':
   * each piece's node stashes its gradient and passes a zero on to a hidden anchor, whose node,
   * run after every piece's, gathers them.
   */
  private static Tensor[] pieces(String name, Tensor x, int dim, int[] lengths, boolean drop) {
    Along a = Along.of(name, x, dim);
    int d = Shapes.normalizeDim(dim, x.dim()), count = lengths.length;
    int[] offsets = new int[count], widths = new int[count];
    Tensor[] slices = new Tensor[count];
    boolean track = track(x);
    try (var off = Kiln.noGrad()) {
      for (int t = 0, from = 0; t < count; from += lengths[t], t++) {
        int[] shape = x.shape();
        shape[d] = lengths[t];
        slices[t] = block(name, x, a, from, lengths[t], drop ? removeDim(shape, d) : shape);
        offsets[t] = from * a.inner();
        widths[t] = lengths[t] * a.inner();
      }
    }
    if (!track) {
      return slices;
    }
    Tensor[] stashed = new Tensor[count];
    long[] sent = {-1}; // the backward round a piece last sent the anchor its zero in (one runs it)
    Thread[] sentBy = {null};
    int rows = a.outer(), pitch = a.size() * a.inner();
    Tensor anchor = Tensor.ofNode(new float[1], new int[0], new Node(x) {
      @Override protected boolean savesTensors() {
        return false;
      }

      @Override public String name() {
        return name;
      }

      @Override protected Tensor[] backward(Tensor ignored) {
        Tensor[] grads = stashed.clone();
        Arrays.fill(stashed, null);
        sentBy[0] = null;
        return new Tensor[] {placePieces(x, grads, rows, pitch, offsets, widths)};
      }
    });
    Tensor[] out = new Tensor[count];
    for (int t = 0; t < count; t++) {
      int index = t;
      out[t] = Tensor.ofNode(slices[t], new Node(anchor) {
        @Override protected boolean savesTensors() {
          return false;
        }

        @Override public String name() {
          return name + "[" + index + "]";
        }

        @Override protected Tensor[] backward(Tensor g) {
          boolean first = sentBy[0] != Thread.currentThread() || sent[0] != Tensor.backwardRound();
          if (first) { // what a backward cut short by an exception left behind goes
            Arrays.fill(stashed, null);
            sent[0] = Tensor.backwardRound();
            sentBy[0] = Thread.currentThread();
          }
          stashed[index] = stashed[index] == null ? g : add(stashed[index], g);
          return new Tensor[] {first ? Tensor.zeros() : null};
        }
      });
    }
    return out;
  }

  /**
   * {@code x}'s gradient from its pieces' ({@link #pieces}): piece {@code t}'s {@code rows} rows of
   * {@code widths[t]} values copied to column {@code offsets[t]} of rows of {@code pitch} values,
   * zeros where a piece has none.
   */
  private static Tensor placePieces(Tensor x, Tensor[] grads, int rows, int pitch, int[] offsets, int[] widths) {
    if (x.device().isCuda()) {
      return CudaOps.placePieces(x.shape(), grads, rows, pitch, offsets, widths);
    }
    float[] dx = new float[x.numel()];
    for (int t = 0; t < grads.length; t++) {
      if (grads[t] != null) {
        MathKernels.copyRows(dx, offsets[t], pitch, grads[t].readBuffer(), grads[t].offset(), widths[t], widths[t], rows);
      }
    }
    return Tensor.wrap(dx, x.shape());
  }

  private static void requireRankAtLeastOne(String op, Tensor x) {
    if (x.dim() == 0) {
      throw new IllegalArgumentException(op + ": cannot be applied to a 0-dim tensor (shape [])");
    }
  }

  /**
   * Entries {@code from .. from + length} of {@code x} along the middle of {@code a}, as
   * {@code outShape}: {@code a.outer()} rows of {@code length * inner} values, one from each slab of
   * {@code size * inner}. The backward writes the gradient's rows back into zeros.
   */
  private static Tensor block(String name, Tensor x, Along a, int from, int length, int[] outShape) {
    int rows = a.outer(), pitch = a.size() * a.inner(), skip = from * a.inner(), width = length * a.inner();
    if (x.dtype() != DType.FLOAT32) { // labels: a plain copy of the same type (such tensors take no gradient)
      if (x.device().isCuda()) { // the float block of the ids on the device, typed as ids (IntOps)
        return IntOps.keepingIds(x, f -> block(name, f, a, from, length, outShape));
      }
      float[] out = new float[Shapes.numel(outShape)];
      MathKernels.copyRows(out, 0, width, x.readBuffer(), x.offset() + skip, pitch, width, rows);
      return Tensor.wrap(out, x.dtype(), outShape);
    }
    if (Devices.onCuda(name, x)) {
      return CudaOps.block(name, x, rows, pitch, skip, width, outShape);
    }
    return reshaping(name, x, outShape,
        (out, in, inOff) -> MathKernels.copyRows(out, 0, width, in, inOff + skip, pitch, width, rows),
        (dx, g, gOff) -> MathKernels.copyRows(dx, skip, pitch, g, gOff, width, width, rows));
  }

  public static Tensor cat(java.util.List<Tensor> tensors, int dim) {
    Tensor[] xs = joinable("cat", tensors);
    int firstIndex = -1; // the first tensor that is not a [0] one: the others must fit it
    for (int i = 0; i < xs.length; i++) {
      if (xs[i].dim() == 0) {
        throw new IllegalArgumentException("cat: zero-dimensional tensor (at position " + i + ") cannot be concatenated");
      }
      if (firstIndex < 0 && !isLegacyEmpty(xs[i])) {
        firstIndex = i;
      }
    }
    firstIndex = Math.max(firstIndex, 0); // all of shape [0]
    Tensor first = xs[firstIndex];
    Along a = Along.of("cat", first, dim);
    int d = Shapes.normalizeDim(dim, first.dim());
    int[] sizes = new int[xs.length];
    int[] starts = new int[xs.length];
    long total = 0;
    for (int i = 0; i < xs.length; i++) {
      int[] s = xs[i].shape();
      if (isLegacyEmpty(xs[i]) && first.dim() != 1) { // joins as nothing
        starts[i] = (int) Math.min(total, Integer.MAX_VALUE);
        continue;
      }
      if (s.length != first.dim()) {
        throw new IllegalArgumentException("cat: tensors must have the same number of dimensions: got " + first.dim() + " and "
            + s.length + " (tensor " + firstIndex + " of shape " + Shapes.toString(first.shape()) + ", tensor " + i + " of shape "
            + Shapes.toString(s) + ")");
      }
      for (int k = 0; k < s.length; k++) {
        if (k != d && s[k] != first.size(k)) {
          throw new IllegalArgumentException("cat: sizes of tensors must match except in dimension " + d + ". Expected size "
              + first.size(k) + " but got size " + s[k] + " for tensor number " + i + " in the list: shapes "
              + Shapes.toString(first.shape()) + " and " + Shapes.toString(s) + " differ in dimension " + k);
        }
      }
      sizes[i] = s[d];
      starts[i] = (int) Math.min(total, Integer.MAX_VALUE);
      total += s[d];
    }
    int[] outShape = first.shape();
    outShape[d] = (int) Math.min(total, Integer.MAX_VALUE);
    if (total > Integer.MAX_VALUE || (long) a.outer() * total * a.inner() > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("cat: the result along dimension " + d + " would have " + total * a.outer() * a.inner()
          + " elements, more than 2^31-1");
    }
    int rows = a.outer(), inner = a.inner(), pitch = outShape[d] * inner;
    if (Devices.onCuda("cat", xs)) {
      return CudaOps.cat(xs, rows, pitch, starts, sizes, inner, outShape);
    }
    float[] out = new float[Shapes.numel(outShape)];
    for (int i = 0; i < xs.length; i++) {
      int width = sizes[i] * inner;
      MathKernels.copyRows(out, starts[i] * inner, pitch, xs[i].readBuffer(), xs[i].offset(), width, width, rows);
    }
    if (!track(xs)) {
      return Tensor.wrap(out, outShape);
    }
    return Tensor.ofNode(out, outShape, new Node(xs) {
      @Override protected boolean savesTensors() {
        return false;
      }

      @Override public String name() {
        return "cat";
      }

      @Override protected Tensor[] backward(Tensor g) {
        Tensor[] grads = new Tensor[xs.length];
        for (int i = 0; i < xs.length; i++) {
          if (needsGrad(i)) {
            int width = sizes[i] * inner;
            float[] dx = new float[xs[i].numel()];
            MathKernels.copyRows(dx, 0, width, g.readBuffer(), g.offset() + starts[i] * inner, pitch, width, rows);
            grads[i] = Tensor.gradient(dx, xs[i].shape());
          }
        }
        return grads;
      }
    });
  }

  public static Tensor stack(java.util.List<Tensor> tensors, int dim) {
    Tensor[] xs = joinable("stack", tensors);
    for (int i = 1; i < xs.length; i++) {
      if (!Arrays.equals(xs[i].shape(), xs[0].shape())) {
        throw new IllegalArgumentException("stack: expects each tensor to be equal size, but got " + Shapes.toString(xs[0].shape())
            + " at entry 0 and " + Shapes.toString(xs[i].shape()) + " at entry " + i);
      }
    }
    int d = newDim("stack", xs[0].shape(), dim);
    java.util.List<Tensor> unsqueezed = new java.util.ArrayList<>(xs.length);
    for (Tensor x : xs) {
      unsqueezed.add(unsqueeze(x, d));
    }
    return cat(unsqueezed, d);
  }

  /** A 1-d tensor of no elements, which PyTorch's {@code cat} skips whatever the other tensors' shapes. */
  private static boolean isLegacyEmpty(Tensor x) {
    return x.dim() == 1 && x.size(0) == 0;
  }

  public static Tensor padSequence(java.util.List<Tensor> sequences, boolean batchFirst, float paddingValue) {
    if (sequences == null || sequences.isEmpty()) {
      throw new IllegalArgumentException("pad_sequence: expected a non-empty list of sequences");
    }
    Tensor first = sequences.get(0);
    int longest = 0;
    for (int i = 0; i < sequences.size(); i++) {
      Tensor s = sequences.get(i);
      if (s == null || s.dim() == 0) {
        throw new IllegalArgumentException("pad_sequence: sequence " + i + " is " + (s == null ? "null" : "a scalar")
            + "; each must be [length, *]");
      }
      if (s.dtype() != first.dtype()) {
        throw new IllegalArgumentException("pad_sequence: sequence " + i + " is " + s.dtype() + ", sequence 0 " + first.dtype()
            + ": pad float sequences and class-index sequences separately");
      }
      if (!Arrays.equals(Arrays.copyOfRange(s.shape(), 1, s.dim()), Arrays.copyOfRange(first.shape(), 1, first.dim()))) {
        throw new IllegalArgumentException("pad_sequence: sequence " + i + " " + Shapes.toString(s.shape())
            + " does not match sequence 0 " + Shapes.toString(first.shape()) + " after its length");
      }
      Devices.onCuda("pad_sequence", first, s);
      longest = Math.max(longest, s.size(0));
    }
    int[] rest = Arrays.copyOfRange(first.shape(), 1, first.dim());
    if (first.dtype() != DType.FLOAT32) { // labels: padded on the host, no gradient
      int row = Shapes.numel(rest);
      int[] ids = new int[sequences.size() * longest * row];
      if (!(Math.abs(paddingValue) <= DType.MAX_EXACT_INT)) {
        throw new IllegalArgumentException("pad_sequence: a class-index padding value must be a number within +-2^24, got "
            + paddingValue);
      }
      Arrays.fill(ids, (int) paddingValue); // toward zero, as PyTorch converts it
      for (int b = 0; b < sequences.size(); b++) {
        int[] v = sequences.get(b).toIntArray();
        for (int t = 0; t < v.length / Math.max(row, 1); t++) {
          for (int r = 0; r < row; r++) {
            int at = batchFirst ? (b * longest + t) * row + r : (t * sequences.size() + b) * row + r;
            ids[at] = v[t * row + r];
          }
        }
      }
      int[] shape = Shapes.concat(batchFirst ? new int[] {sequences.size(), longest} : new int[] {longest, sequences.size()}, rest);
      return Tensor.labels(ids).reshape(shape).to(first.device());
    }
    java.util.List<Tensor> padded = new java.util.ArrayList<>();
    for (Tensor s : sequences) {
      int missing = longest - s.size(0);
      padded.add(missing == 0 ? s
          : cat(java.util.List.of(s, Tensor.full(paddingValue, Shapes.concat(new int[] {missing}, rest)).to(s.device())), 0));
    }
    return stack(padded, batchFirst ? 0 : 1);
  }

  private static Tensor[] joinable(String op, java.util.List<Tensor> tensors) {
    if (tensors == null || tensors.isEmpty()) {
      throw new IllegalArgumentException(op + ": expected a non-empty list of tensors");
    }
    Tensor[] xs = tensors.toArray(new Tensor[0]);
    for (int i = 0; i < xs.length; i++) {
      if (xs[i] == null) {
        throw new IllegalArgumentException(op + ": tensor " + i + " in the list is null");
      }
      if (xs[i].dtype() != DType.FLOAT32) {
        throw new IllegalArgumentException(op + ": expected float tensors, got " + xs[i].dtype() + " of shape "
            + Shapes.toString(xs[i].shape()) + " at position " + i);
      }
    }
    return xs;
  }

  public static Tensor unsqueeze(Tensor x, int dim) {
    int[] shape = x.shape();
    int d = newDim("unsqueeze", shape, dim);
    int[] to = new int[shape.length + 1];
    System.arraycopy(shape, 0, to, 0, d);
    to[d] = 1;
    System.arraycopy(shape, d, to, d + 1, shape.length - d);
    return reshape(x, to);
  }

  /** Resolves the position of a new dimension in a shape of rank {@code shape.length + 1}, as PyTorch does. */
  private static int newDim(String op, int[] shape, int dim) {
    int rank = shape.length + 1;
    if (dim < -rank || dim >= rank) {
      throw new IllegalArgumentException(op + " of shape " + Shapes.toString(shape) + ": dimension " + dim
          + " is out of range for the result's rank " + rank + " (expected " + -rank + ".." + (rank - 1) + ")");
    }
    return dim < 0 ? dim + rank : dim;
  }

  public static Tensor squeeze(Tensor x, int dim) {
    int[] shape = x.shape();
    if (shape.length == 0) {
      if (dim != 0 && dim != -1) {
        throw new IllegalArgumentException("squeeze of shape []: dimension " + dim + " is out of range (expected -1..0)");
      }
      return reshape(x);
    }
    int d;
    try {
      d = Shapes.normalizeDim(dim, shape.length);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("squeeze of shape " + Shapes.toString(shape) + ": " + e.getMessage(), e);
    }
    return reshape(x, shape[d] == 1 ? removeDim(shape, d) : shape);
  }

  public static Tensor squeeze(Tensor x) {
    return reshape(x, Arrays.stream(x.shape()).filter(s -> s != 1).toArray());
  }

  /** {@code shape} without dimension {@code d}. */
  static int[] removeDim(int[] shape, int d) {
    int[] out = new int[shape.length - 1];
    System.arraycopy(shape, 0, out, 0, d);
    System.arraycopy(shape, d + 1, out, d, shape.length - d - 1);
    return out;
  }

  public static Tensor embedding(Tensor indices, Tensor weight, int paddingIdx) {
    boolean cuda = Devices.onCuda("embedding", indices, weight);
    requireFloat("embedding", weight);
    requireRank("embedding", "weight", weight, 2);
    requireLabels("embedding", "indices", indices);
    if (cuda) {
      return CudaOps.embedding(indices, weight, checkedIds("embedding", indices, weight.size(0)), paddingIdx);
    }
    int num = weight.size(0), dim = weight.size(1), count = indices.numel();
    float[] ids = indices.toFloatArray(); // kept for the backward (a batch's ids, few)
    float[] out = new float[count * dim];
    // the kernels a compiled model's embedding runs too: one message for an id out of range; the table
    // read in place, not copied (a vocabulary's table is large, a batch's rows few)
    CpuKernels.embeddingForward(out, 0, ids, 0, count, weight.readBuffer(), weight.offset(), num, dim, indices.shape());
    int[] shape = Arrays.copyOf(indices.shape(), indices.dim() + 1);
    shape[indices.dim()] = dim;
    Tensor result = Tensor.wrap(out, shape).to(weight.device());
    if (!track(weight)) {
      return result;
    }
    return Tensor.ofNode(result, new Node(weight) {
      @Override protected boolean savesInputs() { // the indices, not the weight
        return false;
      }

      @Override public String name() {
        return "embedding";
      }

      @Override protected Tensor[] backward(Tensor g) {
        float[] dw = new float[num * dim];
        CpuKernels.embeddingBackward(dw, 0, g.readBuffer(), g.offset(), ids, 0, count, dim, paddingIdx);
        return new Tensor[] {Tensor.gradient(dw, num, dim).to(weight.device())};
      }
    });
  }

  public static Tensor embeddingBag(Tensor indices, Tensor offsets, Tensor weight, Tensor perSampleWeights, String mode,
      boolean includeLastOffset, int paddingIdx) {
    boolean cuda = Devices.onCuda("embedding_bag", indices, offsets, weight, perSampleWeights);
    requireFloat("embedding_bag", weight);
    requireRank("embedding_bag", "weight", weight, 2);
    int reduce = switch (mode) {
      case "sum" -> 0;
      case "mean" -> 1;
      case "max" -> 2;
      default -> throw new IllegalArgumentException("embedding_bag: mode must be \"sum\", \"mean\" or \"max\", got \"" + mode + "\"");
    };
    requireLabels("embedding_bag", "indices", indices);
    int[] starts = bagStarts(indices, offsets, includeLastOffset);
    int bags = starts.length - 1, num = weight.size(0), dim = weight.size(1);
    int[] idx = checkedIds("embedding_bag", indices, num);
    if (perSampleWeights != null) {
      if (reduce != 0) {
        throw new IllegalArgumentException("embedding_bag: per-sample weights need mode \"sum\" (as PyTorch's), got \"" + mode + "\"");
      }
      requireFloat("embedding_bag", perSampleWeights);
      if (!Arrays.equals(perSampleWeights.shape(), indices.shape())) {
        throw new IllegalArgumentException("embedding_bag: per-sample weights " + Shapes.toString(perSampleWeights.shape())
            + " must have the indices' shape " + Shapes.toString(indices.shape()));
      }
    }
    if (cuda) {
      return CudaOps.embeddingBag(indices, weight, perSampleWeights, idx, starts, reduce, paddingIdx);
    }
    float[] scale = perSampleWeights == null ? null : perSampleWeights.toFloatArray();
    float[] ids = indices.toFloatArray(); // (checked above; the kernels compiled models run too)
    float[] out = new float[bags * dim];
    int[] argmax = reduce == 2 ? new int[bags * dim] : null; // the entry each maximum came from, -1 for an empty bag
    CpuKernels.embeddingBagForward(out, 0, ids, 0, starts, bags, 0, weight.readBuffer(), weight.offset(), num, dim, reduce, paddingIdx,
        scale, argmax, indices.shape());
    Tensor result = Tensor.wrap(out, bags, dim).to(weight.device());
    if (!track(weight, perSampleWeights)) {
      return result;
    }
    float[] scales = scale;
    Tensor[] inputs = perSampleWeights == null ? new Tensor[] {weight} : new Tensor[] {weight, perSampleWeights};
    return Tensor.ofNode(result, new Node(inputs) {
      @Override public String name() {
        return "embedding_bag";
      }

      @Override protected Tensor[] backward(Tensor g) {
        float[] gd = g.toFloatArray();
        float[] dw = needsGrad(0) ? new float[num * dim] : null;
        float[] ds = inputs.length > 1 && needsGrad(1) ? new float[idx.length] : null;
        if (dw != null) {
          CpuKernels.embeddingBagBackward(dw, 0, gd, 0, ids, 0, starts, bags, 0, dim, reduce, paddingIdx, scales, argmax);
        }
        if (ds != null) { // each entry's weight: its bag's gradient dotted with its row
          float[] wv = weight.readBuffer(); // read in place: the table is unchanged since (savesInputs)
          int wo = weight.offset();
          for (int b = 0; b < bags; b++) {
            for (int e = starts[b]; e < starts[b + 1]; e++) {
              if (idx[e] == paddingIdx) {
                continue;
              }
              double dot = 0;
              for (int j = 0; j < dim; j++) {
                dot += (double) gd[b * dim + j] * wv[wo + idx[e] * dim + j];
              }
              ds[e] = (float) dot;
            }
          }
        }
        Tensor dWeight = dw == null ? null : Tensor.gradient(dw, num, dim).to(weight.device());
        return inputs.length == 1 ? new Tensor[] {dWeight}
            : new Tensor[] {dWeight, ds == null ? null : Tensor.gradient(ds, indices.shape()).to(weight.device())};
      }
    });
  }

  /**
   * The ids of an embedding's label tensor, read on the host (a label tensor moved to CUDA keeps its
   * values there: no download), each checked to pick one of the table's {@code num} rows.
   *
   * @throws IllegalArgumentException naming the first id out of range, its position and the table's size
   */
  static int[] checkedIds(String op, Tensor indices, int num) {
    int[] idx = indices.toIntArray();
    for (int i = 0; i < idx.length; i++) {
      if (idx[i] < 0 || idx[i] >= num) {
        throw new IllegalArgumentException(CpuKernels.idOutOfRange(op, idx[i], i, indices.shape(), num));
      }
    }
    return idx;
  }

  /**
   * Where each bag of {@link #embeddingBag} starts, one more entry than there are bags (the last
   * the end of the last bag), from a 2-D {@code indices} (rows) or a 1-D one and its offsets.
   */
  private static int[] bagStarts(Tensor indices, Tensor offsets, boolean includeLastOffset) {
    if (indices.dim() == 2) {
      if (offsets != null) {
        throw new IllegalArgumentException("embedding_bag: 2-D indices " + Shapes.toString(indices.shape())
            + " are bags of equal length, one per row; offsets are for 1-D indices (pass null)");
      }
      int rows = indices.size(0), length = indices.size(1);
      int[] starts = new int[rows + 1];
      for (int b = 0; b <= rows; b++) {
        starts[b] = b * length;
      }
      return starts;
    }
    if (indices.dim() != 1) {
      throw new IllegalArgumentException("embedding_bag: indices must be 1-D (with offsets) or 2-D (one bag per row), got "
          + Shapes.toString(indices.shape()));
    }
    if (offsets == null) {
      throw new IllegalArgumentException("embedding_bag: 1-D indices " + Shapes.toString(indices.shape())
          + " need offsets, where each bag starts (Tensor.labels(0, ...))");
    }
    requireLabels("embedding_bag", "offsets", offsets);
    if (offsets.dim() != 1 || offsets.numel() < (includeLastOffset ? 2 : 1)) {
      throw new IllegalArgumentException("embedding_bag: offsets must be 1-D with at least " + (includeLastOffset ? "two entries"
          + " (with includeLastOffset the last only ends the last bag)" : "one entry") + ", got " + Shapes.toString(offsets.shape()));
    }
    int[] at = offsets.toIntArray();
    int length = indices.numel();
    if (at[0] != 0) {
      throw new IllegalArgumentException("embedding_bag: offsets[0] must be 0 (the first bag starts at the first index), got " + at[0]);
    }
    for (int i = 1; i < at.length; i++) {
      if (at[i] < at[i - 1] || at[i] > length) {
        throw new IllegalArgumentException("embedding_bag: offsets[" + i + "] = " + at[i] + (at[i] < at[i - 1]
            ? " is below offsets[" + (i - 1) + "] = " + at[i - 1] + " (offsets may not decrease)"
            : " is past the end of the " + length + " indices"));
      }
    }
    if (includeLastOffset) {
      return at;
    }
    int[] starts = Arrays.copyOf(at, at.length + 1);
    starts[at.length] = length;
    return starts;
  }

  public static Tensor transpose(Tensor x) {
    requireRank("transpose", "input", x, 2);
    requireFloat("transpose", x);
    int rows = x.size(0), cols = x.size(1);
    if (Devices.onCuda("transpose", x)) {
      return CudaOps.transpose(x, rows, cols);
    }
    return reshaping("transpose", x, new int[] {cols, rows},
        (out, in, inOff) -> MathKernels.transpose(out, 0, in, inOff, rows, cols),
        (dx, g, gOff) -> MathKernels.transpose(dx, 0, g, gOff, cols, rows));
  }

  public static Tensor permute(Tensor x, int... dims) {
    return permute("permute", x, dims);
  }

  static Tensor permute(String name, Tensor x, int... dims) {
    int[] shape = x.shape();
    int rank = shape.length;
    int[] order = new int[rank];
    boolean[] seen = new boolean[rank];
    String bad = dims.length != rank ? "it names " + dims.length + " dimensions, the tensor has " + rank : null;
    for (int i = 0; bad == null && i < rank; i++) {
      int d = dims[i] < 0 ? dims[i] + rank : dims[i];
      if (d < 0 || d >= rank) {
        bad = "dimension " + dims[i] + " is out of range (expected " + -rank + ".." + (rank - 1) + ")";
      } else if (seen[d]) {
        bad = "dimension " + dims[i] + " appears twice";
      } else {
        seen[d] = true;
        order[i] = d;
      }
    }
    if (bad != null) {
      throw new IllegalArgumentException(name + " of shape " + Shapes.toString(shape) + " by " + Arrays.toString(dims) + ": " + bad);
    }
    int[] outShape = new int[rank];
    int[] inverse = new int[rank];
    for (int i = 0; i < rank; i++) {
      outShape[i] = shape[order[i]];
      inverse[order[i]] = i;
    }
    if (x.device().isCuda() && x.dtype() == DType.FLOAT32 && rank <= CudaOps.PERMUTE_RANK) {
      return CudaOps.permute(name, x, order, inverse, outShape);
    }
    Tensor out = deferrable(x) ? deferredPermute(x, order, outShape)
        : Tensor.wrap(permuted(x.readBuffer(), x.offset(), shape, order), x.dtype(), outShape).to(x.device()); // labels stay labels
    if (!track(x)) {
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
        float[] d = permuted(g.readBuffer(), g.offset(), outShape, inverse);
        recycle(g); // read: the pool's when only the engine held it
        return new Tensor[] {Tensor.gradient(d, shape).to(x.device())};
      }
    });
  }

  public static Tensor transpose(Tensor x, int d0, int d1) {
    int rank = x.dim();
    if (rank == 0 && (d0 == 0 || d0 == -1) && (d1 == 0 || d1 == -1)) { // PyTorch takes a scalar's one value as a dimension
      return permute("transpose", x);
    }
    int a, b;
    try {
      a = Shapes.normalizeDim(d0, rank);
      b = Shapes.normalizeDim(d1, rank);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("transpose of shape " + Shapes.toString(x.shape()) + ": " + e.getMessage(), e);
    }
    int[] dims = new int[rank];
    for (int i = 0; i < rank; i++) {
      dims[i] = i == a ? b : i == b ? a : i;
    }
    return permute("transpose", x, dims);
  }

  /** The values of a row-major {@code shape} reordered so that result dimension i is dimension {@code order[i]}. */
  private static float[] permuted(float[] in, int inOff, int[] shape, int[] order) {
    float[] out = ArrayPool.floats(Shapes.numel(shape)); // overwritten
    CpuKernels.permute(out, 0, in, inOff, shape, order, false);
    return out;
  }

  /** A kernel writing a new array from another at an offset. */
  @FunctionalInterface
  interface ArrayKernel {
    void run(float[] out, float[] in, int inOff);
  }

  /**
   * Runs a one-input op whose output has a shape of its own ({@code outShape}), and records its
   * backward, which writes the input's gradient from the output's alone.
   */
  static Tensor reshaping(String name, Tensor x, int[] outShape, ArrayKernel forward, ArrayKernel backward) {
    float[] out = new float[Shapes.numel(outShape)];
    forward.run(out, x.readBuffer(), x.offset());
    if (!track(x)) {
      return Tensor.wrap(out, outShape);
    }
    return Tensor.ofNode(out, outShape, new Node(x) {
      @Override protected boolean savesTensors() {
        return false;
      }

      @Override public String name() {
        return name;
      }

      @Override protected Tensor[] backward(Tensor g) {
        float[] dx = new float[x.numel()];
        backward.run(dx, g.readBuffer(), g.offset());
        return new Tensor[] {Tensor.gradient(dx, x.shape())};
      }
    });
  }
}
