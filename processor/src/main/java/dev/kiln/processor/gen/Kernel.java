package dev.kiln.processor.gen;

import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Recurrent;
import dev.kiln.processor.ir.InitialStates;
import dev.kiln.processor.ir.LastStates;
import dev.kiln.processor.ir.LayerIr;
import dev.kiln.processor.ir.Repeat;
import dev.kiln.processor.ir.Source;
import java.util.List;

/**
 * One planned step of the compiled forward: several source steps fused into one pass.
 *
 * @param kind what runs
 * @param label the source steps it covers, for the comment: {@code 1 Linear(...) + 2 ReLU()}
 * @param spec the (first) step's spec
 * @param layer the layer holding the parameters (LINEAR), else null
 * @param linear its spec (LINEAR), else null
 * @param relu whether a ReLU is fused into the epilogue (LINEAR)
 * @param in the value it reads
 * @param out the value it writes
 * @param inShape shape of {@code in}, -1 for the batch
 * @param outShape shape of {@code out}
 * @param source the source step, for the comment's file and line
 * @param inputs the values it reads, {@code in} first (an ADD's two, a CAT's one or more, a MATMUL's operands
 *     as stored: a transpose it folds is not among them, its input is)
 * @param inShapes their shapes
 * @param product how a MATMUL's GEMMs see its operands, else null
 * @param swapped whether the inputs are the other way round from the call (a value repeated over a bigger one
 *     goes second): a SUB or DIV then computes {@code inputs[1] - inputs[0]}, {@code inputs[1] / inputs[0]}; a MATMUL by a
 *     tensor field {@code inputs[1] @ inputs[0]} ({@link #fieldOnLeft})
 */
record Kernel(
    Kind kind, String label, LayerSpec spec, LayerIr layer, Linear.Spec linear, boolean relu,
    String in, String out, int[] inShape, int[] outShape, Source source, List<String> inputs, List<int[]> inShapes,
    Product product, boolean swapped) {

  /** A kernel of one input. */
  Kernel(Kind kind, String label, LayerSpec spec, LayerIr layer, Linear.Spec linear, boolean relu,
      String in, String out, int[] inShape, int[] outShape, Source source) {
    this(kind, label, spec, layer, linear, relu, in, out, inShape, outShape, source, List.of(in), List.of(inShape), null, false);
  }

  /**
   * A batched matrix product as its GEMMs take it: per sample {@code batches} products
   * {@code alpha * op(A) @ op(B)} of {@code m x k} by {@code k x n}, contiguous matrices one after
   * the other; {@code transA}/{@code transB} when the operand is stored transposed (a
   * {@code transpose(-2, -1)} folded into the product), {@code alpha} the constant scales folded
   * before or after it (1 without).
   */
  record Product(int batches, int m, int n, int k, boolean transA, boolean transB, float alpha) {
    /** {@code n} or {@code n * 4}: the matrices of a batch, as generated code. */
    String count() {
      return batches == 1 ? "n" : "n * " + batches;
    }
  }

  enum Kind {
    /**
     * A reshape (Flatten, {@code reshape(x, -1, ...)}): no work, the output aliases the input; or a transpose or
     * constant scale that the matmuls reading it apply themselves (a GEMM flag, alpha), no work either.
     */
    VIEW,
    /** GEMM + bias (+ ReLU) epilogue; backward: ReLU mask + bias gradient in one pass, then two GEMMs. */
    LINEAR,
    /** A ReLU on its own. */
    RELU,
    /**
     * Sigmoid, tanh, GELU, SiLU, leaky ReLU, ELU, softplus, hardtanh, softmax or log-softmax: one pass each way
     * (backward from the output, or from the input for GELU, SiLU, leaky ReLU, ELU, softplus and hardtanh); softmax's
     * passes go along its dimension.
     */
    ACTIVATION,
    /**
     * Convolution (im2col + GEMM), bias in the same pass; or a transposed convolution (its spec a {@code
     * ConvTranspose2d.Spec}): the convolution's backward-data kernel forward, its forward and backward-filter backward.
     */
    CONV,
    /**
     * Constant padding ({@code F.pad}, a {@link dev.kiln.processor.ir.Pad}; negative counts crop) or a flip ({@code
     * x.flip(dims)}, a {@link dev.kiln.processor.ir.Flip}): a copy through eager mode's coordinate map ({@link
     * dev.kiln.processor.ir.IndexMap}), the constant where it falls outside the input; backward: the inverse map of the
     * gradient.
     */
    PAD,
    /**
     * {@code x.logsumexp(dim)}, {@code x.norm(p, dim)} or {@code x.cumsum(dim)} ({@link dev.kiln.processor.ir.LineOp}):
     * eager mode's line kernel along the dimension; backward its backward kernel (from the input and the output, or
     * the running sum from the end).
     */
    LINE,
    /**
     * {@code x.repeat(1, r1, ...)} ({@link dev.kiln.processor.ir.Tile}): eager mode's expand passes, each value spread
     * along a run of dimensions, the passes between them kept in the plan; backward each pass's sum, in reverse.
     */
    TILE,
    /**
     * {@code F.cosineSimilarity(a, b, dim, eps)} ({@link dev.kiln.processor.ir.Cosine}) of its two inputs: eager mode's
     * nodes in one step, an operand that broadcasts expanded first (eager mode's expand passes), each operand's norm
     * (raised to eps in place) and quotient kept, their product summed along the dimension; backward the sum spread, the
     * product's, quotients' and norms' backward kernels, an expanded operand's gradient summed back.
     */
    COSINE,
    /**
     * {@code F.normalize} ({@link dev.kiln.processor.ir.Normalize}): eager mode's three nodes in one step, the norm along
     * the dimension and its clamp kept for backward, the quotient; backward: the numerator's gradient, the
     * denominator's through the clamp and the norm added to it, each by eager mode's kernel.
     */
    NORMALIZE,
    /** Nearest upsampling by whole factors: each value repeated over its block; backward sums each block. */
    UPSAMPLE,
    /** Max pooling, argmax kept for backward. */
    POOL,
    /** Average pooling, fixed or adaptive windows ({@code AvgPool2dShape}); nothing kept for backward. */
    AVGPOOL,
    /** Batch norm (+ ReLU fused into its output pass); statistics kept for backward. */
    BATCHNORM,
    /** Layer norm over each sample's last dimensions: one pass each way, each row's mean and 1/std kept for backward. */
    LAYERNORM,
    /**
     * Group norm (and instance norm, one channel a group) of {@code [N, C, *]}: each sample's group normalised as a layer
     * norm row, then scaled and shifted per channel; one pass forward, two backward, each row's mean and 1/std kept.
     */
    GROUPNORM,
    /**
     * A PReLU ({@link dev.kiln.processor.ir.PReluOf}: a layer's, or {@code F.prelu(x, w)}), its slopes a tensor field, the
     * input after x: eager mode's kernels, one pass each way ({@code cpu.PReluKernels}), the slopes' gradient added to
     * theirs.
     */
    PRELU,
    /**
     * Inverted dropout with a mask drawn per forward in training; identity in evaluation. Channel dropout
     * (a {@code Dropout2d.Spec}) draws one mask value per sample and channel, applied over the channel's map.
     */
    DROPOUT,
    /**
     * {@code in + other} (+ ReLU), a residual connection, {@code other} of {@code in}'s shape or repeated over it
     * ({@link #repeat}); backward: the (masked) gradient goes to both inputs, summed over the repeats for {@code other}.
     */
    ADD,
    /**
     * {@code in * other}, a gate or a channel scale ({@code other} repeated, {@link #repeat}); backward: each input's
     * gradient is the incoming one times the other input (summed over the repeats for {@code other}).
     */
    MUL,
    /**
     * {@code in - other}, or {@code other - in} when {link Planner#swapped} ({@code other} repeated, {@link #repeat});
     * backward: the gradient to the left operand, its negation to the right one (summed over the repeats for {@code other}).
     */
    SUB,
    /**
     * {@code in / other}, or {@code other / in} when {link Planner#swapped} ({@code other} repeated, {@link #repeat}), a true
     * quotient; backward: {@code g / b} to the numerator, {@code -g * (y / b)} to the denominator (y the quotient),
     * summed over the repeats for {@code other}.
     */
    DIV,
    /** Every value plus a constant ({@code x.add(0.5)}, {@code x.sub(1)}), one pass; backward: the gradient as it is. */
    SHIFT,
    /**
     * A sum or mean along one dimension after the batch, in double; backward: the gradient (times {@code 1 / size}
     * for a mean) spread along it.
     */
    REDUCE,
    /** Its inputs side by side along one dimension (after the batch); backward: each input's slice of the gradient. */
    CAT,
    /**
     * A batched matmul of two values ({link Planner#product}), transposed operands as GEMM flags and constant scales as its
     * alpha; backward: one batched GEMM per operand's gradient, each in the operand's stored layout.
     */
    MATMUL,
    /** A transpose or permutation of dimensions after the batch, as a copy; backward: the gradient permuted back. */
    PERMUTE,
    /** Every value times a constant, one pass; backward: the gradient times the same constant. */
    SCALE,
    /**
     * {@code x.maskedFill(mask.eq(0), value)}: the constant where the model's buffer selects, x elsewhere, the mask
     * repeated over x's leading dimensions; or the mask a further input, the kernel's second input, of each sample's own
     * ({@link #maskRepeat}); backward: the gradient, zero where the mask selects (none to a mask input).
     */
    MASKED_FILL,
    /**
     * An embedding over the model's input ids: each id's row of the weight copied into the output (a padding row as it
     * is); backward: each position's gradient added into its id's row of the weight's gradient (none into the padding
     * row), and none to the ids.
     */
    EMBEDDING,
    /**
     * A recurrent layer (RNN, LSTM, GRU; stacked, bidirectional) over {@code [N, S, in]}, batch first: its plan's {@code
     * RecurrentStack} runs each layer direction's projection GEMM and fused sequence (the eager layer's kernels), with
     * dropout between layers in training; backward: back-propagation through time by the same kernels.
     */
    RECURRENT,
    /** {@code x.narrow(dim, start, length)} or {@code x.select(dim, index)}: a strided copy; backward: the gradient into the slice, zero elsewhere. */
    SLICE,
    /**
     * A mask used as a float value ({@code ids.ne(0)}, {@link dev.kiln.processor.ir.Compare}): 1 where the comparison
     * selects, else 0, one pass; backward: nothing (a comparison has no gradient).
     */
    COMPARE,
    /** {@code Tensor.where(mask, a, b)} ({@link dev.kiln.processor.ir.Where}): inputs a, b, the mask's 0/1 values, one shape. */
    WHERE,
    /**
     * An element-wise function ({@link dev.kiln.processor.ir.Pointwise}: {@code x.rsqrt()}, {@code x.floor()}, {@code
     * x.exp()}, {@code x.clamp(-1, 1)}): eager mode's kernel, from {@code cpu.PointwiseKernels}' table or {@code
     * cpu.MathKernels}, one pass each way (backward from the input and the output, by the same table or kernel).
     */
    POINTWISE,
    /**
     * {@code a.maximum(b)} or {@code a.minimum(b)} ({@link dev.kiln.processor.ir.PointwisePair}) of two inputs of the result's
     * shape (an operand that broadcasts is expanded by a TILE before it, as eager mode expands it): the table's forward;
     * backward each input's gradient by the table's formula, written or added to one already there.
     */
    POINTWISE_PAIR,
    /**
     * Integer arithmetic of ids with constants ({@code ids.add(1)}, {@link dev.kiln.processor.ir.IdOp}): eager's {@code
     * IdKernels.withConstant}, its range check included; backward: nothing (ids take no gradient).
     */
    IDS,
    /**
     * A write by index ({@link dev.kiln.processor.ir.Scatter}: {@code x.scatter(1, ids, src)}, {@code x.indexAdd(2,
     * Tensor.labels(0, 2), src)}) of inputs x, the source (the forms of one), the index (ids of the batch, a scatter's): x
     * copied, eager's placement built from the ids (kept in the plan) and applied by {@code cpu.ScatterKernels}; backward x's
     * gradient (0 where a value was set) and the source's, a gather; the index none.
     */
    SCATTER
  }

  /**
   * How an ADD's, SUB's, MUL's or DIV's second input repeats over its first (which has the output's shape), as
   * PyTorch broadcasts it; null when the two have one shape.
   */
  Repeat repeat() {
    return arithmetic() && !overBatch() ? Repeat.of(inShapes.get(0), inShapes.get(1)) : null;
  }

  /**
   * How a MASKED_FILL's mask input (a further input, its second) repeats over the value, {@code [groups, size, inner]}
   * per sample, size 1 when the two have one shape; null for a buffer mask.
   */
  Repeat maskRepeat() {
    if (kind != Kind.MASKED_FILL || inputs.size() < 2) {
      return null;
    }
    Repeat r = Repeat.of(inShapes.get(0), inShapes.get(1));
    return r != null ? r : new Repeat(1, 1, perSample(inShapes.get(0)));
  }

  /**
   * A TILE's expand passes per sample ({@code {outer, size, inner, start, end}}): a repeat's ({@link
   * dev.kiln.processor.ir.Tile#passes}), or a tensor field's expanded over the batch ({@link
   * dev.kiln.processor.ir.ExpandField#passes}), whose first pass stretches it over the batch.
   */
  int[][] tilePasses() {
    return spec instanceof dev.kiln.processor.ir.ExpandField e ? e.passes(inShape, outShape)
        : ((dev.kiln.processor.ir.Tile) spec).passes(inShape);
  }

  /** Whether it is a TILE of a tensor field, {@code cls.expand(b, -1, -1)}: its gradient is summed into the field's. */
  boolean expandsField() {
    return spec instanceof dev.kiln.processor.ir.ExpandField;
  }

  /** Whether it is an element-wise operation of two values: an ADD, SUB, MUL or DIV. */
  boolean arithmetic() {
    return kind == Kind.ADD || kind == Kind.SUB || kind == Kind.MUL || kind == Kind.DIV;
  }

  /**
   * Whether an ADD's, SUB's, MUL's or DIV's second input is a tensor field of the model (a position table), which
   * has no batch dimension and repeats over the batch ({@link Repeat#overBatch}).
   */
  boolean overBatch() {
    return arithmetic() && inShapes.get(1)[0] != -1;
  }

  /**
   * Whether a MATMUL's right operand is a tensor field of the model ({@code x.matmul(w)}): one matrix {@code [K, M]}
   * multiplying every row of the left, one GEMM over the batch's {@code n * product.m()} rows ({link Planner#product}: m the
   * rows per sample, n and k the field's M and K).
   */
  boolean byField() {
    return kind == Kind.MATMUL && inShapes.get(1)[0] != -1;
  }

  /**
   * Whether a product by a tensor field has the field on the left ({@code w.matmul(x)}: {@code [M, K] @ [N, K, T]}), its
   * inputs then the value and the field, in that order, as for {@code x.matmul(w)}.
   */
  boolean fieldOnLeft() {
    return byField() && swapped;
  }

  /**
   * Whether a CONV is {@code F.conv2d(x, w, b, ...)} ({@code F.conv1d}) of no layer: its inputs x, then the weight and the bias
   * (when it has one), tensor fields of the model read where they live.
   */
  boolean functionalConv() {
    return kind == Kind.CONV && layer == null;
  }

  /**
   * Whether it is a CONV or a GROUPNORM of no layer ({@code F.conv2d}, {@code F.conv1d}, {@code F.groupNorm}), or a PRELU: its weight and bias,
   * when it has them, tensor fields of the model, its inputs after x.
   */
  boolean functional() {
    return (kind == Kind.CONV || kind == Kind.GROUPNORM || kind == Kind.PRELU) && layer == null;
  }

  /** A RECURRENT step's layer spec: its own, or the one a run with the last states wraps ({@link LastStates}). */
  Recurrent.Spec recurrent() {
    return spec instanceof InitialStates i ? i.layer() : spec instanceof LastStates s ? s.layer() : (Recurrent.Spec) spec;
  }

  /** Whether a RECURRENT step's value holds the last states after the output ({@link LastStates}). */
  boolean lastStates() {
    return spec instanceof LastStates || spec instanceof InitialStates i && i.lastStates();
  }

  /** Whether a RECURRENT step starts from initial states, its second input ({@link InitialStates}), rather than zeros. */
  boolean initialStates() {
    return spec instanceof InitialStates;
  }

  /** Whether the step reads parameters of its layer (a weight, a bias); a {@link #functional} step reads tensor fields instead. */
  boolean hasParameters() {
    return !functional() && (kind == Kind.LINEAR || kind == Kind.CONV || kind == Kind.BATCHNORM || kind == Kind.LAYERNORM || kind == Kind.EMBEDDING
        || kind == Kind.RECURRENT || kind == Kind.GROUPNORM);
  }

  /** Values per sample of the output (all dimensions after the batch). */
  int outPerSample() {
    return perSample(outShape);
  }

  int inPerSample() {
    return perSample(inShape);
  }

  /** Rows per sample seen by a GEMM over the last dimension: 1 for [N, F], C for [N, C, F]. */
  int rowsPerSample() {
    int r = 1;
    for (int i = 1; i < inShape.length - 1; i++) {
      r *= inShape[i];
    }
    return r;
  }

  /** Channels (dimension 1) of the input. */
  int channels() {
    return inShape[1];
  }

  /** Values per channel and sample of the input: 1 for [N, C], H*W for [N, C, H, W]. */
  int spatial() {
    int l = 1;
    for (int i = 2; i < inShape.length; i++) {
      l *= inShape[i];
    }
    return l;
  }

  private static int perSample(int[] shape) {
    int n = 1;
    for (int i = 1; i < shape.length; i++) {
      n *= shape[i];
    }
    return n;
  }
}
