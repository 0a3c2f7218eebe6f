package dev.kiln.processor.gen;

import dev.kiln.dsl.AdaptiveAvgPool1d;
import dev.kiln.dsl.AdaptiveAvgPool2d;
import dev.kiln.dsl.AvgPool1d;
import dev.kiln.dsl.AvgPool2d;
import dev.kiln.dsl.BatchNorm;
import dev.kiln.dsl.Conv1d;
import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.ConvTranspose2d;
import dev.kiln.dsl.Dropout;
import dev.kiln.dsl.Dropout2d;
import dev.kiln.dsl.ELU;
import dev.kiln.dsl.Flatten;
import dev.kiln.dsl.GELU;
import dev.kiln.dsl.Hardtanh;
import dev.kiln.dsl.GroupNorm;
import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.LeakyReLU;
import dev.kiln.dsl.LogSoftmax;
import dev.kiln.dsl.MaxPool1d;
import dev.kiln.dsl.MaxPool2d;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.ReLU;
import dev.kiln.dsl.Recurrent;
import dev.kiln.dsl.SiLU;
import dev.kiln.dsl.Sigmoid;
import dev.kiln.dsl.Softmax;
import dev.kiln.dsl.Softplus;
import dev.kiln.dsl.Tanh;
import dev.kiln.dsl.Upsample;
import dev.kiln.processor.check.CheckedModel;
import dev.kiln.processor.ir.Add;
import dev.kiln.processor.ir.Arithmetic;
import dev.kiln.processor.ir.Cat;
import dev.kiln.processor.ir.Compare;
import dev.kiln.processor.ir.Cosine;
import dev.kiln.processor.ir.Div;
import dev.kiln.processor.ir.InitialStates;
import dev.kiln.processor.ir.LastStates;
import dev.kiln.processor.ir.MaskedFill;
import dev.kiln.processor.ir.MatMul;
import dev.kiln.processor.ir.Mul;
import dev.kiln.processor.ir.IndexMap;
import dev.kiln.processor.ir.LineOp;
import dev.kiln.processor.ir.Narrow;
import dev.kiln.processor.ir.Tile;
import dev.kiln.processor.ir.Normalize;
import dev.kiln.processor.ir.Reduce;
import dev.kiln.processor.ir.Reorder;
import dev.kiln.processor.ir.Reshape;
import dev.kiln.processor.ir.Scale;
import dev.kiln.processor.ir.Shift;
import dev.kiln.processor.ir.Split;
import dev.kiln.processor.ir.StepIr;
import dev.kiln.processor.ir.Sub;
import dev.kiln.processor.ir.Pointwise;
import dev.kiln.processor.ir.PointwisePair;
import dev.kiln.processor.ir.PReluOf;
import dev.kiln.processor.ir.Where;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Fusion: turns the checked chain of steps into kernels. A Linear followed by a ReLU becomes one
 * GEMM with a bias+ReLU epilogue (its backward masks and reduces the bias gradient in one pass);
 * Flatten (and dropout with p = 0) becomes a view; batch norm takes a following ReLU into its
 * output pass; sigmoid, tanh, leaky ReLU, ELU, softplus, hardtanh and softmax are passes of their own. A value the method returns (one of several outputs) keeps a pass of its
 * own: a ReLU after it is not fused, since that would overwrite it. Batch norm + ReLU read by a
 * max pooling alone fuses further ({@link #poolFusion}). An add of two values (a residual
 * connection) takes a following ReLU into its pass too; a sub or div of two values is a pass of its own, as are a
 * constant shift and a sum or mean along a dimension. A matmul of two values is one batched GEMM,
 * which takes a transpose of an operand's last two dimensions as a flag and constant scales before
 * or after it as its alpha ({@link #foldedIntoProducts}); other transposes and permutations are a
 * copy, other scales a pass. An add or mul of a tensor field (a position table) repeats it over the
 * batch in one pass; a masked fill is a pass of its own; an embedding of the input ids a copy of rows; a recurrent layer
 * its eager kernels over the plan's buffers, a select or narrow a copy, a constant padding or a flip a copy, a normalize eager mode's norm, clamp and division,
 * a log-sum-exp, norm or running sum eager mode's line kernel, a repeat eager mode's expand passes, a cosine similarity
 * eager mode's norms, quotients, product and sum. A value read by two steps keeps its own pass
 * and buffer (nothing fuses into it).
 */
final class Planner {
  private Planner() {}

  /** The suffixes of a where's operands expanded to its shape ({@code v12_a}, {@code v12_b}, {@code v12_mask}): Java names. */
  private static final List<String> WHERE_OPERANDS = List.of("_a", "_b", "_mask");

  /** The suffixes of a where of ids' operands expanded to its shape ({@code v12_ida}): ids and a mask, without gradient. */
  private static final List<String> IDS_WHERE_OPERANDS = List.of("_ida", "_idb", "_idmask");

  /**
   * Whether {@code k} expands a where's mask, or an operand of a where of ids, to the where's shape: a Tile whose output gets
   * no gradient (its input none).
   */
  static boolean expandsWhereMask(Kernel k) {
    return k.kind() == Kernel.Kind.TILE && (k.out().endsWith(WHERE_OPERANDS.get(2)) || IDS_WHERE_OPERANDS.stream().anyMatch(k.out()::endsWith));
  }

  static List<Kernel> plan(CheckedModel model, Set<String> returned) {
    List<StepIr> steps = model.ir().steps();
    Map<String, Integer> readers = new HashMap<>();
    steps.forEach(s -> s.inputs().forEach(v -> readers.merge(v, 1, Integer::sum)));
    Set<String> folded = foldedIntoProducts(model, returned);
    List<Kernel> kernels = new ArrayList<>();
    for (int i = 0; i < steps.size(); i++) {
      StepIr s = steps.get(i);
      int[] in = model.stepInputs().get(i);
      int[] out = model.stepOutputs().get(i);
      String label = label(s);
      // a following ReLU joins the output pass (GEMM epilogue, the normalising pass, the add) when it alone reads the value
      boolean relu = (s.spec() instanceof Linear.Spec || s.spec() instanceof BatchNorm.Options || s.spec() instanceof Add)
          && i + 1 < steps.size() && steps.get(i + 1).spec() instanceof ReLU.Spec && steps.get(i + 1).input().equals(s.output())
          && readers.get(s.output()) == 1 && !returned.contains(s.output());
      String outValue = s.output();
      if (relu) {
        StepIr r = steps.get(++i);
        label += " + " + label(r);
        outValue = r.output();
      }
      if (s.spec() instanceof dev.kiln.processor.ir.IdMove m && m.where()) { // Tensor.where(mask, ids, other): a, b and the mask
        List<String> inputs = new ArrayList<>(s.inputs()); // each that broadcasts expanded first (ids: no gradient either way)
        for (int w = 0; w < inputs.size(); w++) {
          int[] shape = model.shapeOf(inputs.get(w));
          if (!Arrays.equals(shape, out)) {
            inputs.set(w, expanded(kernels, s, label, inputs.get(w), shape, out, IDS_WHERE_OPERANDS.get(w)));
          }
        }
        kernels.add(new Kernel(Kernel.Kind.IDS, label, s.spec(), null, null, false, inputs.get(0), s.output(), out, out, s.source(),
            inputs, inputs.stream().map(v -> out).toList(), null, false));
      } else if (s.spec() instanceof dev.kiln.processor.ir.IdOp op && op.pair()) { // users.mul(V).add(items): ids of two values, in order
        kernels.add(new Kernel(Kernel.Kind.IDS, label, s.spec(), null, null, false, s.input(), s.output(), in, out, s.source(),
            s.inputs(), s.inputs().stream().map(model::shapeOf).toList(), null, false));
      } else if (s.spec() instanceof dev.kiln.processor.ir.Scatter) { // x.scatter(1, ids, src): x, the source, the index, in that order
        kernels.add(new Kernel(Kernel.Kind.SCATTER, label, s.spec(), null, null, false, s.input(), s.output(), in, out, s.source(),
            s.inputs(), s.inputs().stream().map(model::shapeOf).toList(), null, false));
      } else if (s.spec() instanceof MatMul) {
        Operand a = operand(s.input(), steps, folded), b = operand(s.inputs().get(1), steps, folded);
        float alpha = a.factor() * b.factor();
        boolean onLeft = fieldOnLeft(model, s);
        // a constant scale of the product that alone reads it: the GEMM's alpha (not after w @ x, which is eager's product)
        if (!onLeft && i + 1 < steps.size() && steps.get(i + 1).spec() instanceof Scale scale && steps.get(i + 1).input().equals(s.output())
            && readers.get(s.output()) == 1 && !returned.contains(s.output()) && !folded.contains(steps.get(i + 1).output())) {
          StepIr after = steps.get(++i);
          label += " + " + label(after);
          outValue = after.output();
          alpha *= scale.factor();
        }
        int[] left = in, right = model.shapeOf(s.inputs().get(1));
        int r = out.length;
        Kernel.Product product;
        if (onLeft) { // w @ x: each sample's matrices times the field, a batched GEMM reading the field for each (stride 0)
          int batches = 1;
          for (int d = 1; d < r - 2; d++) {
            batches *= out[d];
          }
          int[] field = model.shapeOf(a.value());
          product = new Kernel.Product(batches, field[0], out[r - 1], field[1], false, false, alpha);
          List<String> inputs = List.of(b.value(), a.value()); // the value first (its gradient is input 0's), the field second
          kernels.add(new Kernel(Kernel.Kind.MATMUL, label, s.spec(), null, null, false, b.value(), outValue, model.shapeOf(b.value()),
              out, s.source(), inputs, inputs.stream().map(model::shapeOf).toList(), product, true));
          continue;
        }
        if (byField(model, s)) { // x @ w: every row of every sample times the field, one GEMM
          int rows = 1;
          for (int d = 1; d < r - 1; d++) {
            rows *= out[d];
          }
          product = ((MatMul) s.spec()).fieldTransposed() // x @ w^T: the field [out, in] read transposed (a GEMM flag)
              ? new Kernel.Product(1, rows, right[0], right[1], false, true, alpha)
              : new Kernel.Product(1, rows, right[1], right[0], false, false, alpha);
        } else {
          int batches = 1;
          for (int d = 1; d < r - 2; d++) {
            batches *= out[d];
          }
          product = new Kernel.Product(batches, left[r - 2], right[r - 1], left[r - 1], a.transposed(), b.transposed(), alpha);
        }
        List<String> inputs = List.of(a.value(), b.value());
        kernels.add(new Kernel(Kernel.Kind.MATMUL, label, s.spec(), null, null, false, a.value(), outValue, model.shapeOf(a.value()),
            out, s.source(), inputs, inputs.stream().map(model::shapeOf).toList(), product, false));
      } else if (folded.contains(s.output())) { // a following matmul applies it: a transposed operand, or alpha
        kernels.add(new Kernel(Kernel.Kind.VIEW, label, s.spec(), null, null, false, s.input(), s.output(), in, out, s.source()));
      } else if (s.spec() instanceof Reorder) {
        kernels.add(new Kernel(Kernel.Kind.PERMUTE, label, s.spec(), null, null, false, s.input(), s.output(), in, out, s.source()));
      } else if (s.spec() instanceof MaskedFill m && m.byValue()) { // the mask a further input: the kernel's second input
        kernels.add(new Kernel(Kernel.Kind.MASKED_FILL, label, s.spec(), null, null, false, s.input(), s.output(), in, out, s.source(),
            s.inputs(), s.inputs().stream().map(model::shapeOf).toList(), null, false));
      } else if (s.spec() instanceof MaskedFill) {
        kernels.add(new Kernel(Kernel.Kind.MASKED_FILL, label, s.spec(), null, null, false, s.input(), s.output(), in, out, s.source()));
      } else if (s.spec() instanceof Where) { // an operand that broadcasts is expanded first, as eager mode's where expands it
        List<String> inputs = new ArrayList<>(s.inputs());
        List<int[]> shapes = new ArrayList<>(List.of(out, out, out));
        for (int w = 0; w < inputs.size(); w++) {
          int[] shape = model.shapeOf(inputs.get(w));
          if (model.ir().tensor(inputs.get(w)) != null) { // a tensor field [T, D] or [D], read where it lives, repeated
            shapes.set(w, shape);
          } else if (!Arrays.equals(shape, out)) {
            inputs.set(w, expanded(kernels, s, label, inputs.get(w), shape, out, WHERE_OPERANDS.get(w)));
          }
        }
        boolean swapped = model.ir().tensor(inputs.get(0)) != null; // a field as a: b first (the kernel's input), a second
        if (swapped) {
          Collections.swap(inputs, 0, 1);
          Collections.swap(shapes, 0, 1);
        }
        kernels.add(new Kernel(Kernel.Kind.WHERE, label, s.spec(), null, null, false, inputs.get(0), s.output(), out, out, s.source(),
            inputs, shapes, null, swapped));
      } else if (s.spec() instanceof PointwisePair) { // a.maximum(b): an operand that broadcasts expanded first, as eager's
        List<String> inputs = new ArrayList<>(s.inputs());
        List<int[]> shapes = new ArrayList<>(List.of(out, out));
        for (int w = 0; w < 2; w++) {
          int[] shape = model.shapeOf(inputs.get(w));
          if (model.ir().tensor(inputs.get(w)) != null) { // a tensor field: expanded by the step itself (its gradient summed back)
            shapes.set(w, shape);
          } else if (!Arrays.equals(shape, out)) {
            inputs.set(w, expanded(kernels, s, label, inputs.get(w), shape, out, WHERE_OPERANDS.get(w)));
          }
        }
        boolean swapped = model.ir().tensor(inputs.get(0)) != null; // a field as a: the value first (the kernel's input), a second
        if (swapped) {
          Collections.swap(inputs, 0, 1);
          Collections.swap(shapes, 0, 1);
        }
        kernels.add(new Kernel(Kernel.Kind.POINTWISE_PAIR, label, s.spec(), null, null, false, inputs.get(0), s.output(), out, out,
            s.source(), inputs, shapes, null, swapped));
      } else if (s.spec() instanceof Pointwise) {
        kernels.add(new Kernel(Kernel.Kind.POINTWISE, label, s.spec(), null, null, false, s.input(), s.output(), in, out, s.source()));
      } else if (s.spec() instanceof Compare && s.inputs().size() == 2) { // x.lt(y): the one repeated goes second, as an add's
        List<String> inputs = s.inputs();
        List<int[]> shapes = inputs.stream().map(model::shapeOf).toList();
        boolean swapped = !Arrays.equals(shapes.get(0), out);
        if (swapped) {
          inputs = List.of(inputs.get(1), inputs.get(0));
          shapes = List.of(shapes.get(1), shapes.get(0));
        }
        kernels.add(new Kernel(Kernel.Kind.COMPARE, label, s.spec(), null, null, false, inputs.get(0), s.output(), shapes.get(0), out,
            s.source(), inputs, shapes, null, swapped));
      } else if (s.spec() instanceof Compare) {
        kernels.add(new Kernel(Kernel.Kind.COMPARE, label, s.spec(), null, null, false, s.input(), s.output(), in, out, s.source()));
      } else if (s.spec() instanceof Scale) {
        kernels.add(new Kernel(Kernel.Kind.SCALE, label, s.spec(), null, null, false, s.input(), s.output(), in, out, s.source()));
      } else if (s.spec() instanceof Shift) {
        kernels.add(new Kernel(Kernel.Kind.SHIFT, label, s.spec(), null, null, false, s.input(), s.output(), in, out, s.source()));
      } else if (s.spec() instanceof Reduce) {
        kernels.add(new Kernel(Kernel.Kind.REDUCE, label, s.spec(), null, null, false, s.input(), s.output(), in, out, s.source()));
      } else if (s.spec() instanceof Cosine) { // two values, one maybe expanded over the other; a tensor field second (the same bits)
        List<String> inputs = model.ir().tensor(s.input()) != null ? List.of(s.inputs().get(1), s.input()) : s.inputs();
        kernels.add(new Kernel(Kernel.Kind.COSINE, label, s.spec(), null, null, false, inputs.get(0), s.output(),
            model.shapeOf(inputs.get(0)), out, s.source(), inputs, inputs.stream().map(model::shapeOf).toList(), null, false));
      } else if (s.spec() instanceof InitialStates) { // a recurrent layer reading its input and its initial states
        kernels.add(new Kernel(Kernel.Kind.RECURRENT, label, s.spec(), s.layer(), null, false, s.input(), s.output(), in, out, s.source(),
            s.inputs(), s.inputs().stream().map(model::shapeOf).toList(), null, false));
      } else if (s.functional()) { // F.conv2d(x, w, b), F.groupNorm(x, g, w, b, eps), a PReLU: x, then the weight (and bias) tensor fields
        Kernel.Kind kind = s.functionalConv() ? Kernel.Kind.CONV : s.spec() instanceof PReluOf ? Kernel.Kind.PRELU : Kernel.Kind.GROUPNORM;
        kernels.add(new Kernel(kind, label, s.spec(), null, null, false,
            s.input(), s.output(), in, out, s.source(), s.inputs(), s.inputs().stream().map(model::shapeOf).toList(), null, false));
      } else if (s.joins() || s.spec() instanceof Cat) {
        List<String> inputs = s.inputs();
        List<int[]> shapes = inputs.stream().map(model::shapeOf).toList();
        Kernel.Kind kind = s.spec() instanceof Add ? Kernel.Kind.ADD : s.spec() instanceof Mul ? Kernel.Kind.MUL
            : s.spec() instanceof Sub ? Kernel.Kind.SUB : s.spec() instanceof Div ? Kernel.Kind.DIV : Kernel.Kind.CAT;
        boolean swapped = kind != Kernel.Kind.CAT && !Arrays.equals(shapes.get(0), out);
        if (swapped) { // the first repeats over the second: it goes second (a SUB or DIV remembers the order)
          inputs = List.of(inputs.get(1), inputs.get(0));
          shapes = List.of(shapes.get(1), shapes.get(0));
        }
        kernels.add(new Kernel(kind, label, s.spec(), null, null, relu, inputs.get(0), outValue, shapes.get(0), out, s.source(),
            inputs, shapes, null, swapped && !((Arithmetic) s.spec()).commutes()));
      } else if (s.spec() instanceof Linear.Spec || s.spec() instanceof BatchNorm.Options) {
        Kernel.Kind kind = s.spec() instanceof Linear.Spec ? Kernel.Kind.LINEAR : Kernel.Kind.BATCHNORM;
        Linear.Spec linear = s.spec() instanceof Linear.Spec l ? l : null;
        kernels.add(new Kernel(kind, label, s.spec(), s.layer(), linear, relu, s.input(), outValue, in, out, s.source()));
      } else if (s.spec() instanceof Conv2d.Spec || s.spec() instanceof Conv1d.Spec || s.spec() instanceof ConvTranspose2d.Spec) {
        kernels.add(new Kernel(Kernel.Kind.CONV, label, s.spec(), s.layer(), null, false, s.input(), s.output(), in, out, s.source()));
      } else if (dev.kiln.processor.ir.ModelIr.looksUp(s.spec()) || s.spec() instanceof dev.kiln.processor.ir.ConstantIds) { // (a bag, ids built in forward: lookups too)
        kernels.add(new Kernel(Kernel.Kind.EMBEDDING, label, s.spec(), s.layer(), null, false, s.input(), s.output(), in, out, s.source()));
      } else if (s.spec() instanceof Recurrent.Spec || s.spec() instanceof LastStates) { // (with its last states after the output)
        kernels.add(new Kernel(Kernel.Kind.RECURRENT, label, s.spec(), s.layer(), null, false, s.input(), s.output(), in, out, s.source()));
      } else if (s.spec() instanceof Narrow || s.spec() instanceof Split.Piece) { // a piece of a split: a narrow of its source
        kernels.add(new Kernel(Kernel.Kind.SLICE, label, s.spec(), null, null, false, s.input(), s.output(), in, out, s.source()));
      } else if (s.spec() instanceof LastStates.Sequence seq) { // a recurrent layer's output before its last states: the narrow of its rows
        kernels.add(new Kernel(Kernel.Kind.SLICE, label, seq.narrow(in), null, null, false, s.input(), s.output(), in, out, s.source()));
      } else if (s.spec() instanceof LayerNorm.Spec) {
        kernels.add(new Kernel(Kernel.Kind.LAYERNORM, label, s.spec(), s.layer(), null, false, s.input(), s.output(), in, out, s.source()));
      } else if (s.spec() instanceof GroupNorm.Options) {
        kernels.add(new Kernel(Kernel.Kind.GROUPNORM, label, s.spec(), s.layer(), null, false, s.input(), s.output(), in, out, s.source()));
      } else if (s.spec() instanceof AvgPool2d.Spec || s.spec() instanceof AdaptiveAvgPool2d.Spec || s.spec() instanceof AvgPool1d.Spec
          || s.spec() instanceof AdaptiveAvgPool1d.Spec) {
        kernels.add(new Kernel(Kernel.Kind.AVGPOOL, label, s.spec(), s.layer(), null, false, s.input(), s.output(), in, out, s.source()));
      } else if (s.spec() instanceof Normalize) {
        kernels.add(new Kernel(Kernel.Kind.NORMALIZE, label, s.spec(), null, null, false, s.input(), s.output(), in, out, s.source()));
      } else if (s.spec() instanceof dev.kiln.processor.ir.IdOp || s.spec() instanceof dev.kiln.processor.ir.IdMove) { // ids.add(1), ids.flip(1): ids of ids, no gradient
        kernels.add(new Kernel(Kernel.Kind.IDS, label, s.spec(), null, null, false, s.input(), s.output(), in, out, s.source()));
      } else if (s.spec() instanceof LineOp) {
        kernels.add(new Kernel(Kernel.Kind.LINE, label, s.spec(), null, null, false, s.input(), s.output(), in, out, s.source()));
      } else if (s.spec() instanceof Tile || s.spec() instanceof dev.kiln.processor.ir.ExpandField) { // (a field over the batch: its input the field)
        kernels.add(new Kernel(Kernel.Kind.TILE, label, s.spec(), null, null, false, s.input(), s.output(), in, out, s.source()));
      } else if (s.spec() instanceof IndexMap || s.spec() instanceof dev.kiln.processor.ir.Roll) { // a padding, a flip or a roll
        kernels.add(new Kernel(Kernel.Kind.PAD, label, s.spec(), null, null, false, s.input(), s.output(), in, out, s.source()));
      } else if (s.spec() instanceof Upsample.Spec) {
        kernels.add(new Kernel(Kernel.Kind.UPSAMPLE, label, s.spec(), null, null, false, s.input(), s.output(), in, out, s.source()));
      } else if (s.spec() instanceof MaxPool2d.Spec || s.spec() instanceof MaxPool1d.Spec) {
        kernels.add(new Kernel(Kernel.Kind.POOL, label, s.spec(), s.layer(), null, false, s.input(), s.output(), in, out, s.source()));
      } else if (s.spec() instanceof Dropout.Spec d && d.p() > 0 || s.spec() instanceof Dropout2d.Spec c && c.p() > 0) {
        kernels.add(new Kernel(Kernel.Kind.DROPOUT, label, s.spec(), s.layer(), null, false, s.input(), s.output(), in, out, s.source()));
      } else if (isActivation(s.spec())) {
        kernels.add(new Kernel(Kernel.Kind.ACTIVATION, label, s.spec(), null, null, false, s.input(), s.output(), in, out, s.source()));
      } else if (s.spec() instanceof ReLU.Spec) {
        kernels.add(new Kernel(Kernel.Kind.RELU, label, s.spec(), null, null, false, s.input(), s.output(), in, out, s.source()));
      } else if (s.spec() instanceof Flatten.Spec || s.spec() instanceof Reshape || s.spec() instanceof InitialStates.State
          || s.spec() instanceof dev.kiln.dsl.Unflatten.Spec || s.spec() instanceof dev.kiln.dsl.Identity.Spec
          || s.spec() instanceof Dropout.Spec
          || s.spec() instanceof Dropout2d.Spec) { // dropout: p = 0
        kernels.add(new Kernel(Kernel.Kind.VIEW, label, s.spec(), null, null, false, s.input(), s.output(), in, out, s.source()));
      } else {
        throw new IllegalStateException("no generated kernel for " + label + " (" + s.source().where() + ")");
      }
    }
    return kernels;
  }

  /**
   * A value of {@code shape} expanded to {@code out} (sizes of 1 stretched, the batch as it is) by a Tile of counts out/in,
   * eager mode's expand's passes each way (its gradient summed back), added to {@code kernels}: a where's or a
   * maximum's operand that broadcasts; returns the expanded value, {@code v12_a} for {@code suffix} {@code _a}.
   */
  private static String expanded(List<Kernel> kernels, StepIr s, String label, String value, int[] shape, int[] out, String suffix) {
    List<Integer> counts = new ArrayList<>();
    counts.add(1);
    for (int d = 1; d < out.length; d++) {
      counts.add(out[d] / shape[d]);
    }
    String expanded = s.output() + suffix;
    kernels.add(new Kernel(Kernel.Kind.TILE, label + " (" + suffix.substring(1) + " expanded)", new Tile(counts), null, null, false,
        value, expanded, shape, out, s.source()));
    return expanded;
  }

  /**
   * The values of transposes of the last two dimensions and constant scales that matmuls apply
   * themselves: each read only by matmuls (or by other such steps on the way to them) and not
   * returned. A matmul then reads the value before them, transposed by a GEMM flag and scaled by
   * its alpha ({@link #operand}), and the step costs nothing: {@code q @ k.transpose(-2, -1)} copies
   * nothing.
   */
  static Set<String> foldedIntoProducts(CheckedModel model, Set<String> returned) {
    List<StepIr> steps = model.ir().steps();
    Set<String> folded = new LinkedHashSet<>();
    Set<String> intoFieldProducts = new HashSet<>(); // folded scales a product by a tensor field reads (through others)
    for (int i = steps.size() - 1; i >= 0; i--) { // readers come later: decided first
      StepIr s = steps.get(i);
      boolean transpose = s.spec() instanceof Reorder r && r.swapsLastTwo(model.stepInputs().get(i).length);
      boolean foldable = s.spec() instanceof Scale || transpose;
      List<StepIr> readers = steps.stream().filter(o -> o.inputs().contains(s.output())).toList();
      // a product by a tensor field is one GEMM over all rows of the batch, which takes no transposed value: it is copied
      boolean fieldReader = readers.stream().anyMatch(o -> o.spec() instanceof MatMul && byField(model, o)
          || intoFieldProducts.contains(o.output()));
      // w @ x is eager mode's product, bit for bit: it reads its value as it is, neither transposed nor scaled
      boolean leftFieldReader = readers.stream().anyMatch(o -> fieldOnLeft(model, o));
      if (foldable && !readers.isEmpty() && !returned.contains(s.output()) && !(transpose && fieldReader) && !leftFieldReader
          && readers.stream().allMatch(o -> o.spec() instanceof MatMul || folded.contains(o.output()))) {
        folded.add(s.output());
        if (fieldReader) {
          intoFieldProducts.add(s.output());
        }
      }
    }
    return folded;
  }

  /** Whether a step is a matmul of a tensor field on the left ({@code w.matmul(x)}). */
  private static boolean fieldOnLeft(CheckedModel model, StepIr step) {
    return step.spec() instanceof MatMul && model.ir().tensor(step.input()) != null;
  }

  /** Whether a matmul step multiplies by a tensor field on its right ({@code x.matmul(w)}). */
  private static boolean byField(CheckedModel model, StepIr matmul) {
    return model.ir().tensor(matmul.inputs().get(1)) != null;
  }

  /** A matmul's operand as its GEMM reads it: the stored value, whether it is transposed, the constant it is scaled by. */
  private record Operand(String value, boolean transposed, float factor) {}

  /** Follows an operand back through the steps folded into the product ({@link #foldedIntoProducts}). */
  private static Operand operand(String value, List<StepIr> steps, Set<String> folded) {
    boolean transposed = false;
    float factor = 1f;
    while (folded.contains(value)) {
      String v = value;
      StepIr producer = steps.stream().filter(o -> o.output().equals(v)).findFirst().orElseThrow();
      if (producer.spec() instanceof Scale scale) {
        factor *= scale.factor();
      } else {
        transposed = !transposed;
      }
      value = producer.input();
    }
    return new Operand(value, transposed, factor);
  }

  /**
   * How batch norm + ReLU fuses with a max pooling that alone reads it.
   *
   * @param maskedByPooling values of BN+ReLU kernels whose ReLU mask moves into the pooling's
   *     backward: the pooling's gradient reaches only the window maxima, which are its outputs, so
   *     masking by {@code pooled > 0} there is the same mask on a quarter of the values, and the
   *     batch norm's passes need none
   * @param pooledInOnePass of those, the ones whose pooling is the plain 2x2 one (stride 2, no
   *     padding, every window inside): the forward computes BN+ReLU and the pooling in one pass
   *     and never writes the normalised map; mapped to the pooling kernel's index
   */
  record PoolFusion(Set<String> maskedByPooling, Map<String, Integer> pooledInOnePass) {}

  /**
   * The {@link PoolFusion} of a plan. Not for a value that is also returned (its gradient arrives
   * unmasked) or read by anything else.
   */
  static PoolFusion poolFusion(List<Kernel> kernels, Set<String> returned) {
    Set<String> masked = new LinkedHashSet<>();
    Map<String, Integer> onePass = new LinkedHashMap<>();
    for (Kernel k : kernels) {
      if (k.kind() != Kernel.Kind.BATCHNORM || !k.relu() || returned.contains(k.out())) {
        continue;
      }
      List<Kernel> readers = kernels.stream().filter(r -> r.inputs().contains(k.out())).toList();
      if (readers.size() != 1 || readers.get(0).kind() != Kernel.Kind.POOL) {
        continue;
      }
      Kernel pool = readers.get(0);
      masked.add(k.out());
      int[] in = pool.inShape();
      // (a 1-d pooling's ReLU mask goes through its backward too, but its windows are never the 2x2 one pass's)
      if (pool.spec() instanceof MaxPool2d.Spec m && m.kernelSize() == 2 && m.stride() == 2 && m.padding() == 0
          && (!m.ceilMode() || (in[2] % 2 == 0 && in[3] % 2 == 0))) {
        onePass.put(k.out(), kernels.indexOf(pool));
      }
    }
    return new PoolFusion(masked, onePass);
  }

  /**
   * Sigmoid, tanh, GELU, SiLU, leaky ReLU, ELU, softplus, hardtanh, softmax and log-softmax: the activations with a kernel of
   * their own each way.
   */
  static boolean isActivation(LayerSpec spec) {
    return spec instanceof Sigmoid.Spec || spec instanceof Tanh.Spec || spec instanceof GELU.Spec || spec instanceof SiLU.Spec
        || spec instanceof LeakyReLU.Spec || isPiecewise(spec) || spec instanceof Softmax.Spec || spec instanceof LogSoftmax.Spec;
  }

  /**
   * ELU, softplus, hardtanh (ReLU6 one of 0 and 6) and {@link CodedActivations}: the activations of eager mode's {@code
   * PiecewiseKernels} and {@code ActivationCodeKernels}, their backward from the input.
   */
  static boolean isPiecewise(LayerSpec spec) {
    return spec instanceof ELU.Spec || spec instanceof Softplus.Spec || spec instanceof Hardtanh.Spec
        || spec instanceof dev.kiln.dsl.ReLU6.Spec || CodedActivations.is(spec);
  }

  /** {@code fc1 Linear(in_features=...)} for a layer, the call as written for a function. */
  private static String label(StepIr s) {
    return s.layer() != null ? s.layer().path() + " " + s.spec() : s.text();
  }
}
