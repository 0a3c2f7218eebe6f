package dev.kiln.processor.gen;

import dev.kiln.processor.gen.Generator.Ref;
import static dev.kiln.processor.gen.Generator.TENSOR;
import static dev.kiln.processor.gen.Generator.COMPILED;
import static dev.kiln.processor.gen.Generator.BLAS;
import static dev.kiln.processor.gen.Generator.KERNELS;
import static dev.kiln.processor.gen.Generator.MATH_KERNELS;
import static dev.kiln.processor.gen.Generator.ARITHMETIC;
import static dev.kiln.processor.gen.Generator.WHERE_KERNELS;

import com.palantir.javapoet.CodeBlock;
import dev.kiln.processor.ir.Cat;
import dev.kiln.processor.ir.Cosine;
import dev.kiln.processor.ir.Reduce;
import dev.kiln.processor.ir.Repeat;
import dev.kiln.processor.ir.TensorIr;
import dev.kiln.runtime.Shapes;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * The backward of the steps of two operands, for {@link Generator}: joins (add, mul, cat) and their
 * broadcast, where, tensor fields read by a step, quotients, reductions and batched products.
 */
final class StepGradients {
  private final Generator gen;

  StepGradients(Generator gen) {
    this.gen = gen;
  }

  /**
   * The backward of an add, a mul, a cat or a matmul: an add's gradient (masked by its ReLU's output when it
   * has one) goes to both inputs, a mul's times the other input, a cat's slices each to its own, a matmul's
   * through a GEMM with the other operand ({@link #matmulBackward});
   * each written into the first gradient of its value or added to one a later step wrote.
   */
  void joinBackward(CodeBlock.Builder b, Kernel k, int i, Ref d, Ref out, Ref inTarget, Map<String, Ref> grads,
      Map<String, Ref> refs) {
    List<String> inputs = k.inputs();
    CatLayout c = k.kind() == Kernel.Kind.CAT ? new CatLayout(k) : null;
    TensorIr field = gen.parameterCode.fieldOperand(k);
    for (int w : operandOrder(k)) {
      String value = inputs.get(w);
      if (Generator.carriesNoGradient(k, w)) { // where's mask
        continue;
      }
      if (k.kind() == Kernel.Kind.WHERE && gen.ir.tensor(value) != null) { // a tensor field, a or b: a parameter's gradient summed
        whereFieldBackward(b, k, w, gen.ir.tensor(value), d, refs);
        continue;
      }
      if (k.kind() == Kernel.Kind.POINTWISE_PAIR && gen.ir.tensor(value) != null) { // h.maximum(floor): summed back to the field
        gen.elementwise.pairFieldBackward(b, k, gen.ir.tensor(value), d, refs);
        continue;
      }
      if (w == 1 && field != null) { // a tensor field repeated over the batch: a parameter's gradient sums the batch's
        if (field.isParameter()) {
          fieldBackward(b, k, field, d, out, refs);
        }
        continue;
      }
      if (field != null && k.byField()) { // x @ w: x's gradient g @ w^T, one GEMM over all rows (w @ x: w^T @ g per sample)
        Kernel.Product m = k.product();
        boolean accumulate = gen.accumulating.contains(i + ":" + w);
        boolean guarded = !inTarget.array().startsWith("p.");
        if (guarded) {
          b.beginControlFlow("if ($L != null)", inTarget.array());
        }
        if (k.fieldOnLeft()) { // w @ x: each sample's gradient w^T @ g, the field read for each (stride 0), as eager's bmm
          b.addStatement("$T.sgemmBatched($L, true, false, $L, $L, $L, $Lf, $L.readBuffer(), $L, 0, $L, $L, $L, $L, $L, $L, $L)",
              BLAS, m.count(), m.k(), m.n(), m.m(), m.alpha(), gen.parameterCode.readExpression(field),
              gen.parameterCode.fieldOffset(field), d.array(), d.offset(), m.m() * m.n(), accumulate ? "1f" : "0f",
              inTarget.array(), inTarget.offset(), m.k() * m.n());
        } else { // (g @ w of a field read transposed)
          b.addStatement("$T.sgemm(false, $L, $L, $L, $L, $Lf, $L, $L, $L, $L, $L, $L, $L, $L, $L)", BLAS, !m.transB(), ElementwiseEmitter.fieldRows(k),
              m.k(), m.n(), m.alpha(), d.array(), d.offset(), m.n(), gen.parameterCode.gemmOperand(field), m.transB() ? m.k() : m.n(),
              accumulate ? "1f" : "0f", inTarget.array(), inTarget.offset(), m.k());
        }
        if (guarded) {
          b.endControlFlow();
        }
        grads.put(gen.storage.get(value), inTarget);
        continue;
      }
      String st = gen.storage.get(value);
      Ref target = w == 0 ? inTarget
          : Generator.isInput(st) ? new Ref(Generator.inputGradient(st), "0", true)
          : i > 0 ? new Ref("dIn" + i + "_" + w, "0", true) : new Ref("p.d" + st, "0", true);
      boolean accumulate = gen.accumulating.contains(i + ":" + w);
      Repeat r = k.repeat();
      if (k.kind() == Kernel.Kind.SCATTER) { // x's gradient (0 where a value was set), or the source's: a gather
        ScatterEmitter.backward(b, k, i + 1, w, target, accumulate, d);
      } else if (k.kind() == Kernel.Kind.POINTWISE_PAIR) { // the table's gradient of this operand
        gen.elementwise.pointwisePairBackward(b, k, w, target, accumulate, d, refs);
      } else if (k.kind() == Kernel.Kind.WHERE) { // the gradient where this branch was taken, 0 elsewhere
        whereBranchBackward(b, k, target, d, (w == 0) != k.swapped(), accumulate, refs);
      } else if (k.kind() == Kernel.Kind.SUB || k.kind() == Kernel.Kind.DIV) {
        quotientBackward(b, k, w, target, accumulate, d, out, refs);
      } else if (field != null && k.kind() == Kernel.Kind.MUL) { // x's gradient: the incoming one times the field, repeated
        Ref other = gen.ref(inputs.get(1), refs);
        b.addStatement("$T.mulRepeatedBackward($L, $L, $L, $L, $L, $L, $L, $L)", KERNELS, target.array(), target.offset(),
            d.array(), d.offset(), other.array(), other.offset(), ElementwiseEmitter.repeatArgs(k), accumulate);
      } else if (k.kind() == Kernel.Kind.MATMUL) {
        matmulBackward(b, k, w, target, accumulate, d, gen.ref(inputs.get(1 - w), refs));
      } else if (r != null && w == 1) { // the repeated input's gradient: summed over its repeats
        Ref other = k.kind() == Kernel.Kind.MUL ? gen.ref(inputs.get(0), refs) : null;
        b.addStatement("$T.sumRepeatedBackward($L, $L, $L, $L, $L, $L, $L, $L, n * $L, $L, $L, $L)", KERNELS, target.array(),
            target.offset(), d.array(), d.offset(), k.relu() ? out.array() : "null", k.relu() ? out.offset() : "0",
            other != null ? other.array() : "null", other != null ? other.offset() : "0", r.groups(), r.size(), r.inner(), accumulate);
      } else if (r != null && k.kind() == Kernel.Kind.MUL) {
        Ref other = gen.ref(inputs.get(1), refs);
        b.addStatement("$T.mulRepeatedBackward($L, $L, $L, $L, $L, $L, n * $L, $L, $L, $L)", KERNELS, target.array(), target.offset(),
            d.array(), d.offset(), other.array(), other.offset(), r.groups(), r.size(), r.inner(), accumulate);
      } else if (k.kind() == Kernel.Kind.MUL) { // each input's gradient: the incoming one times the other input
        Ref other = gen.ref(inputs.get(1 - w), refs);
        b.addStatement("$T.mulBackward($L, $L, $L, $L, $L, $L, n * $L, $L)", KERNELS, target.array(), target.offset(), d.array(),
            d.offset(), other.array(), other.offset(), k.outPerSample(), accumulate);
      } else if (c != null) {
        b.addStatement("$T.catBackward($L, $L, $L, $L, $L, $L, $L, $L, $L)", KERNELS, target.array(), target.offset(), c.block(w),
            d.array(), d.offset(), c.outBlock, c.at(w), c.blocks(), accumulate);
      } else {
        b.addStatement("$T.addBackward($L, $L, $L, $L, $L, $L, n * $L, $L)", KERNELS, target.array(), target.offset(), d.array(),
            d.offset(), k.relu() ? out.array() : "null", k.relu() ? out.offset() : "0", k.outPerSample(), accumulate);
      }
      grads.put(st, target);
    }
  }

  /**
   * How many values a where's input {@code w} (0: a, 1: b, or the other way round where the kernel is swapped; 2: the mask)
   * holds: the batch's, or a tensor field's own ({@code [1, T, D]}, {@code [T, D]} or {@code [D]}), which {@link
   * dev.kiln.runtime.cpu.WhereKernels#forward} repeats over the result.
   */
  String whereCount(Kernel k, int w) {
    TensorIr field = gen.ir.tensor(k.inputs().get(w));
    return field != null && whereExpansion(k, w).length == 0 ? String.valueOf(Shapes.numel(field.shape())) : "n * " + k.outPerSample();
  }

  /**
   * The passes of eager mode's expand of a where's tensor field operand {@code w} that does not repeat over the result as
   * it is ({@code [T, 1]} over {@code [N, T, D]}: {@code Ops.where} expands it to the result's shape first, {@link
   * Cosine#expansion}); none for any other operand.
   */
  int[][] whereExpansion(Kernel k, int w) {
    TensorIr field = gen.ir.tensor(k.inputs().get(w));
    return field == null || Shapes.repeatsOver(k.outShape(), field.shape()) ? new int[0][] : Cosine.expansion(field.shape(), k.outShape());
  }

  /** A where's operand {@code w} as its kernel reads it: expanded into the plan's {@code whereExpandedJ_W} ({@link #whereExpansion}), or itself. */
  Ref whereOperand(Kernel k, int w, Map<String, Ref> refs) {
    return whereExpansion(k, w).length > 0 ? new Ref("p.whereExpanded" + (gen.kernels.indexOf(k) + 1) + "_" + w, "0", true)
        : gen.ref(k.inputs().get(w), refs);
  }

  /**
   * A where's gradient to a branch of the result's shape ({@code taken}: a's) into {@code target}: the incoming one where the
   * mask picked it, else 0 ({@code WhereKernels.branchBackward}, over a mask the model holds repeated where it is one).
   */
  private void whereBranchBackward(CodeBlock.Builder b, Kernel k, Ref target, Ref d, boolean taken, boolean accumulate,
      Map<String, Ref> refs) {
    Ref mask = whereOperand(k, 2, refs);
    if (gen.ir.tensor(k.inputs().get(2)) != null && whereExpansion(k, 2).length == 0) { // a mask the model holds, repeated over the result
      b.addStatement("$T.branchBackward($L, $L, $L, $L, $L, $L, $L, $L, n * $L, $L)", WHERE_KERNELS, target.array(), target.offset(),
          d.array(), d.offset(), mask.array(), mask.offset(), whereCount(k, 2), taken, k.outPerSample(), accumulate);
    } else {
      b.addStatement("$T.branchBackward($L, $L, $L, $L, $L, $L, $L, n * $L, $L)", WHERE_KERNELS, target.array(), target.offset(),
          d.array(), d.offset(), mask.array(), mask.offset(), taken, k.outPerSample(), accumulate);
    }
  }

  /**
   * The gradient of a parameter a where reads as its input {@code w} ({@code [T, D]} or {@code [D]}, repeated over
   * the result): eager mode's, the incoming gradient where the branch was taken summed per value in float, rows in
   * order ({@link dev.kiln.runtime.cpu.WhereKernels#backward}), then added to the parameter's gradient.
   */
  private void whereFieldBackward(CodeBlock.Builder b, Kernel k, int w, TensorIr field, Ref d, Map<String, Ref> refs) {
    if (!field.isParameter()) { // a buffer gets no gradient
      return;
    }
    String local = "field" + (gen.kernels.indexOf(k) + 1) + ((w == 0) != k.swapped() ? "A" : "B"); // (a or b)
    int m = Shapes.numel(field.shape());
    Ref mask = whereOperand(k, 2, refs);
    int[][] passes = whereExpansion(k, w);
    gen.parameterCode.declareFieldGradient(b, local + "G", field);
    b.beginControlFlow("if ($LG != null)", local)
        .addStatement("float[] $LSum = new float[$L]", local, m);
    if (passes.length == 0) {
      b.addStatement("$T.backward($LSum, $L, $L, $L, $L, $L, $L, $L, n * $L)", WHERE_KERNELS, local, d.array(), d.offset(),
          mask.array(), mask.offset(), whereCount(k, 2), m, (w == 0) != k.swapped(), k.outPerSample());
    } else { // eager's: the gradient of the expanded operand, then the expand's sums back to the field's shape
      int j = gen.kernels.indexOf(k) + 1;
      Ref expanded = new Ref("p.dwhereExpanded" + j + "_" + w, "0", true);
      whereBranchBackward(b, k, expanded, d, (w == 0) != k.swapped(), false, refs);
      ElementwiseEmitter.sumPasses(b, passes, expanded, new Ref(local + "Sum", "0", true), "p.dwhereExpanding" + j + "_" + w + "_");
    }
    b.addStatement("$T.accumulate($LG, $L, $LSum, 0, $L)", KERNELS, local, ParameterCode.gradOffset(field), local, m);
    gen.parameterCode.scatterFieldGradient(b, local + "G", field);
    b.endControlFlow();
  }

  /**
   * The gradient of a tensor field expanded over the batch ({@code cls.expand(b, -1, -1)}, a TILE of the field): eager's
   * expand backward, each pass's sum in reverse ({@code MathKernels.sumAlong}, the batch's last), then added to the
   * parameter's gradient; a buffer gets none.
   */
  void expandedFieldBackward(CodeBlock.Builder b, Kernel k, Ref d) {
    TensorIr field = gen.ir.tensor(k.in());
    if (!field.isParameter()) {
      b.add("// a buffer gets no gradient\n");
      return;
    }
    int j = gen.kernels.indexOf(k) + 1;
    summedFieldGradient(b, field, j, k.tilePasses(), d, "p.dtile" + j + "_", () -> { });
  }

  /**
   * A parameter's gradient through eager's expand of it (kernel {@code j}): {@code before} writes the expanded operand's
   * gradient into {@code expanded}, the expand's {@code passes} sum it back to the field's shape ({@code between} naming
   * the plan's buffers between them), and the sum is added to the parameter's gradient, when it needs one.
   */
  void summedFieldGradient(CodeBlock.Builder b, TensorIr field, int j, int[][] passes, Ref expanded, String between,
      Runnable before) {
    String local = "field" + j;
    int m = Shapes.numel(field.shape());
    gen.parameterCode.declareFieldGradient(b, local + "G", field);
    b.beginControlFlow("if ($LG != null)", local)
        .addStatement("float[] $LSum = new float[$L]", local, m);
    before.run();
    ElementwiseEmitter.sumPasses(b, passes, expanded, new Ref(local + "Sum", "0", true), between);
    b.addStatement("$T.accumulate($LG, $L, $LSum, 0, $L)", KERNELS, local, ParameterCode.gradOffset(field), local, m);
    gen.parameterCode.scatterFieldGradient(b, local + "G", field);
    b.endControlFlow();
  }

  /**
   * The gradient of a tensor field that an add or a mul repeats over the batch: the incoming
   * gradient (masked by a fused ReLU's output; times the other input for a mul) summed over the
   * batch, added to the parameter's own gradient.
   */
  private void fieldBackward(CodeBlock.Builder b, Kernel k, TensorIr field, Ref d, Ref out, Map<String, Ref> refs) {
    Ref other = k.kind() == Kernel.Kind.MUL ? gen.ref(k.in(), refs) : null;
    String f = gen.parameterCode.tensorField(field);
    if (k.fieldOnLeft()) { // w @ x: w's gradient as eager's: each sample's g @ x^T, then their sum over the batch (in double)
      Kernel.Product m = k.product();
      Ref x = gen.ref(k.in(), refs);
      String local = "field" + (gen.kernels.indexOf(k) + 1);
      gen.parameterCode.declareFieldGradient(b, local + "G", field);
      b.beginControlFlow("if ($LG != null)", local)
          .addStatement("float[] $LProducts = new float[$L * $L]", local, m.count(), m.m() * m.k())
          .addStatement("$T.sgemmBatched($L, false, true, $L, $L, $L, $Lf, $L, $L, $L, $L, $L, $L, 0f, $LProducts, 0, $L)", BLAS,
              m.count(), m.m(), m.k(), m.n(), m.alpha(), d.array(), d.offset(), m.m() * m.n(), x.array(), x.offset(), m.k() * m.n(), local,
              m.m() * m.k())
          .addStatement("float[] $LSum = new float[$L]", local, m.m() * m.k())
          .addStatement("$T.sumAlong($LSum, 0, $LProducts, 0, 1, $L, $L, 1f)", MATH_KERNELS, local, local, m.count(), m.m() * m.k())
          .addStatement("$T.accumulate($LG, $L, $LSum, 0, $L)", KERNELS, local, ParameterCode.gradOffset(field), local, m.m() * m.k());
      gen.parameterCode.scatterFieldGradient(b, local + "G", field);
      b.endControlFlow();
      return;
    }
    if (k.byField()) { // x @ w: w's gradient x^T @ g summed over every row of the batch, one GEMM added to the parameter's
      Kernel.Product m = k.product();
      Ref x = gen.ref(k.in(), refs);
      String local = "field" + (gen.kernels.indexOf(k) + 1) + "G";
      if (field.isRegion() || field.isWhere()) { // into the run of the parameter's gradient (a where's own)
        gen.parameterCode.declareFieldGradient(b, local, field);
      } else {
        b.addStatement("$T $L = $T.grad($L, $L)", TENSOR, local, COMPILED, f, gen.parameterCode.recordedNeed(f));
      }
      String target = field.isRegion() || field.isWhere() ? local + ", " + ParameterCode.gradOffset(field) : local;
      b.beginControlFlow("if ($L != null)", local);
      if (m.transB()) { // x @ w^T: w's gradient g^T @ x, [out, in] as the field lies
        b.addStatement("$T.sgemm(true, false, $L, $L, $L, $Lf, $L, $L, $L, $L, $L, $L, 1f, $L, $L)", BLAS, m.n(), m.k(),
            ElementwiseEmitter.fieldRows(k), m.alpha(), d.array(), d.offset(), m.n(), x.array(), x.offset(), m.k(), target, m.k());
      } else {
        b.addStatement("$T.sgemm(true, false, $L, $L, $L, $Lf, $L, $L, $L, $L, $L, $L, 1f, $L, $L)", BLAS, m.k(), m.n(),
            ElementwiseEmitter.fieldRows(k), m.alpha(), x.array(), x.offset(), m.k(), d.array(), d.offset(), m.n(), target, m.n());
      }
      gen.parameterCode.scatterFieldGradient(b, local, field);
      b.endControlFlow();
      return;
    }
    if (k.kind() != Kernel.Kind.DIV && ElementwiseEmitter.fieldIsSuffix(k)) { // [S, D] or [D]: eager's float sums of a suffix operand
      boolean negated = k.kind() == Kernel.Kind.SUB && !k.swapped(); // the field is the right operand of a sub
      String local = "field" + (gen.kernels.indexOf(k) + 1) + "G";
      String accumulate = gen.parameterCode.declareFieldAdds(b, local, field);
      b.addStatement("$T.sumRowsBackward($L, $L, $L, $L, $L, $L, $L, $L, $L, $Lf, $L)", KERNELS, gen.parameterCode.fieldGradient(b, local, field),
          ParameterCode.gradOffset(field), d.array(), d.offset(), k.relu() ? out.array() : "null", k.relu() ? out.offset() : "0",
          other != null ? other.array() : "null", other != null ? other.offset() : "0", ElementwiseEmitter.fieldRowArgs(k), negated ? -1 : 1, accumulate);
      gen.parameterCode.scatterFieldGradient(b, local, field, local + "Adds");
      return;
    }
    if (k.kind() == Kernel.Kind.SUB || k.kind() == Kernel.Kind.DIV) {
      String local = "field" + (gen.kernels.indexOf(k) + 1) + "G";
      gen.parameterCode.declareFieldGradient(b, local, field);
      quotientBackward(b, k, 1, new Ref(local, ParameterCode.gradOffset(field), false), true, d, out, refs);
      gen.parameterCode.scatterFieldGradient(b, local, field);
      return;
    }
    String local = "field" + (gen.kernels.indexOf(k) + 1) + "G";
    b.addStatement("$T.sumRepeatedBackward($L, $L, $L, $L, $L, $L, $L, $L, $L, true)", KERNELS, gen.parameterCode.fieldGradient(b, local, field),
        ParameterCode.gradOffset(field), d.array(), d.offset(), k.relu() ? out.array() : "null", k.relu() ? out.offset() : "0",
        other != null ? other.array() : "null", other != null ? other.offset() : "0", ElementwiseEmitter.repeatArgs(k));
    gen.parameterCode.scatterFieldGradient(b, local, field);
  }

  /**
   * The gradient of a sub's or a div's input {@code w} (0: the big one, {@code inputs[0]}; 1: the other, of one shape
   * or repeated over it, summed over its repeats), the left operand being {@code inputs[1]} when the kernel is
   * swapped: a sub sends the gradient to its left operand and its negation to its right one; a div {@code y = a / b}
   * sends {@code g / b} to a and {@code -g * (y / b)} to b, PyTorch's.
   */
  private void quotientBackward(CodeBlock.Builder b, Kernel k, int w, Ref target, boolean accumulate, Ref d, Ref out,
      Map<String, Ref> refs) {
    Ref big = gen.ref(k.inputs().get(0), refs), small = gen.ref(k.inputs().get(1), refs);
    String repeat = ElementwiseEmitter.repeatArgs(k);
    int values = k.outPerSample();
    boolean left = w == 0 ? !k.swapped() : k.swapped(); // whether input w is the left operand (a, the numerator)
    if (k.kind() == Kernel.Kind.SUB && left && w == 0) {
      b.addStatement("$T.addBackward($L, $L, $L, $L, null, 0, n * $L, $L)", KERNELS, target.array(), target.offset(), d.array(),
          d.offset(), values, accumulate);
    } else if (k.kind() == Kernel.Kind.SUB && left) { // the repeated left operand: the gradient summed over its repeats
      b.addStatement("$T.sumRepeatedBackward($L, $L, $L, $L, null, 0, null, 0, $L, $L)", KERNELS, target.array(), target.offset(),
          d.array(), d.offset(), repeat, accumulate);
    } else if (k.kind() == Kernel.Kind.SUB && (w == 0 || repeat == null)) {
      b.addStatement("$T.subtrahendBackward($L, $L, $L, $L, n * $L, $L)", ARITHMETIC, target.array(), target.offset(), d.array(),
          d.offset(), values, accumulate);
    } else if (k.kind() == Kernel.Kind.SUB) {
      b.addStatement("$T.subtrahendSumBackward($L, $L, $L, $L, $L, $L)", ARITHMETIC, target.array(), target.offset(), d.array(),
          d.offset(), repeat, accumulate);
    } else if (left && w == 0 && repeat == null) { // the numerator: g / b
      b.addStatement("$T.numeratorBackward($L, $L, $L, $L, $L, $L, n * $L, $L)", ARITHMETIC, target.array(), target.offset(),
          d.array(), d.offset(), small.array(), small.offset(), values, accumulate);
    } else if (left && w == 0) {
      b.addStatement("$T.numeratorRepeatedBackward($L, $L, $L, $L, $L, $L, $L, $L)", ARITHMETIC, target.array(), target.offset(),
          d.array(), d.offset(), small.array(), small.offset(), repeat, accumulate);
    } else if (left) {
      b.addStatement("$T.numeratorSumBackward($L, $L, $L, $L, $L, $L, $L, $L)", ARITHMETIC, target.array(), target.offset(),
          d.array(), d.offset(), big.array(), big.offset(), repeat, accumulate);
    } else if (w == 0 || repeat == null) { // the denominator: -g * (y / b)
      Ref denominator = w == 0 ? big : small;
      b.addStatement("$T.denominatorBackward($L, $L, $L, $L, $L, $L, $L, $L, n * $L, $L)", ARITHMETIC, target.array(),
          target.offset(), d.array(), d.offset(), out.array(), out.offset(), denominator.array(), denominator.offset(), values, accumulate);
    } else {
      b.addStatement("$T.denominatorSumBackward($L, $L, $L, $L, $L, $L, $L, $L, $L, $L)", ARITHMETIC, target.array(),
          target.offset(), d.array(), d.offset(), out.array(), out.offset(), small.array(), small.offset(), repeat, accumulate);
    }
  }

  /**
   * A sum's or mean's input seen as {@code [outer, size, inner]} around its dimension, as the kernels take
   * it: {@code n, 6, 8} for {@code mean(1)} of {@code [N, 6, 8]}, {@code n * 4, 6, 1} for {@code sum(-1)} of
   * {@code [N, 4, 6]}; over several dimensions the same of their one run ({@code n * 8, 36, 1} for
   * {@code mean(new int[] {2, 3})} of {@code [N, 8, 6, 6]}), or the runs in an array for {@code sumOver}
   * ({@code new int[] {n, 8, 6, 6, 1}} for {@code (1, 3)}).
   */
  static String reduceAxes(Kernel k) {
    Reduce r = (Reduce) k.spec();
    int[] a = r.several() ? r.runs(k.inShape()) : r.along(k.inShape());
    if (a.length == 1) { // only dimensions of size 1 reduced: a copy
      a = new int[] {a[0], 1, 1};
    }
    String runs = (a[0] == 1 ? "n" : "n * " + a[0]) + Arrays.stream(a, 1, a.length).mapToObj(v -> ", " + v).collect(Collectors.joining());
    return a.length > 3 ? "new int[] {" + runs + "}" : runs;
  }

  /** Whether a sum or mean reduces several runs of dimensions ({@code (1, 3)} of {@code [N, C, H, W]}): one pass of {@code sumOver}. */
  static boolean reducesOver(Kernel k) {
    Reduce r = (Reduce) k.spec();
    return r.several() && r.runs(k.inShape()).length > 3;
  }

  /** What a sum or mean multiplies its sum by: {@code 1f}, or {@code 1f / 6} for a mean over 6 values (eager's float). */
  static String reduceFactor(Kernel k) {
    Reduce r = (Reduce) k.spec();
    return r.mean() ? "1f / " + r.count(k.inShape()) : "1f";
  }

  /**
   * The order in which the backward reaches a kernel's inputs, the order their gradients are added in: index order, but
   * for a product whose two operands are one value ({@code h @ h^T}, {@code h @ h}) the right's first. Eager's matmul
   * reads each operand through a reshape of its own (and the right one through its transpose), and its engine runs nodes
   * in the reverse of a depth-first order that went down the left first: the right's path reaches the value first (the
   * in-place product of a deferred permute, {@code ProductOps.stridedMatmul}, lists its inputs right first for the same order).
   * With a later reader's gradient already there ({@code att @ h} after {@code att = h @ h^T}) the order of the three
   * sums shows in the last bit.
   */
  int[] operandOrder(Kernel k) {
    int count = k.inputs().size();
    if (k.kind() == Kernel.Kind.MATMUL && count == 2 && gen.storage.get(k.inputs().get(0)) != null
        && gen.storage.get(k.inputs().get(0)).equals(gen.storage.get(k.inputs().get(1)))) {
      return new int[] {1, 0};
    }
    return IntStream.range(0, count).toArray();
  }

  /**
   * The gradient of a matmul's operand {@code w} (0: A, 1: B) from {@code d}, the output's, and the
   * other operand: {@code d op(A) = d @ op(B)^T} and {@code d op(B) = op(A)^T @ d}, written in the
   * operand's stored layout (a transposed operand gets the transpose of those, {@code op(B) @ d^T}
   * and {@code d^T @ op(A)}), times the product's alpha; one batched GEMM, whose beta adds to a
   * gradient a later step wrote.
   */
  private void matmulBackward(CodeBlock.Builder b, Kernel k, int w, Ref target, boolean accumulate, Ref d, Ref other) {
    Kernel.Product m = k.product();
    // X @ Y over `inner`, each operand with its flag and the matrices' size (strides): rows x cols per product
    boolean transX, transY;
    int rows, cols, inner, xSize, ySize;
    Ref x, y;
    if (w == 0 && !m.transA()) { // dA = d @ op(B)^T
      x = d; y = other; transX = false; transY = !m.transB(); rows = m.m(); cols = m.k(); inner = m.n();
    } else if (w == 0) { // dA = op(B) @ d^T
      x = other; y = d; transX = m.transB(); transY = true; rows = m.k(); cols = m.m(); inner = m.n();
    } else if (!m.transB()) { // dB = op(A)^T @ d
      x = other; y = d; transX = !m.transA(); transY = false; rows = m.k(); cols = m.n(); inner = m.m();
    } else { // dB = d^T @ op(A)
      x = d; y = other; transX = true; transY = m.transA(); rows = m.n(); cols = m.k(); inner = m.m();
    }
    xSize = x == d ? m.m() * m.n() : w == 0 ? m.k() * m.n() : m.m() * m.k();
    ySize = y == d ? m.m() * m.n() : w == 0 ? m.k() * m.n() : m.m() * m.k();
    boolean guarded = !target.array().startsWith("p.");
    if (guarded) {
      b.beginControlFlow("if ($L != null)", target.array());
    }
    b.addStatement("$T.sgemmBatched($L, $L, $L, $L, $L, $L, $Lf, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L)", BLAS, m.count(), transX,
        transY, rows, cols, inner, m.alpha(), x.array(), x.offset(), xSize, y.array(), y.offset(), ySize, accumulate ? "1f" : "0f",
        target.array(), target.offset(), rows * cols);
    if (guarded) {
      b.endControlFlow();
    }
  }

  /**
   * Where a cat's inputs go: per sample, the dimensions before the joined one make {@code outer}
   * blocks; in each, input w's {@code block(w)} values land at {@code at(w)} of the output's
   * {@code outBlock}.
   */
  static final class CatLayout {
    final int outer;
    final int inner;
    final int outBlock;
    final int[] sizes;
    final int dim;

    CatLayout(Kernel k) {
      int[] out = k.outShape();
      dim = ((Cat) k.spec()).dimension(out.length);
      int o = 1;
      for (int i = 1; i < dim; i++) {
        o *= out[i];
      }
      int in = 1;
      for (int i = dim + 1; i < out.length; i++) {
        in *= out[i];
      }
      outer = o;
      inner = in;
      outBlock = out[dim] * inner;
      sizes = k.inShapes().stream().mapToInt(s -> s[dim]).toArray();
    }

    int block(int w) {
      return sizes[w] * inner;
    }

    int at(int w) {
      int a = 0;
      for (int i = 0; i < w; i++) {
        a += block(i);
      }
      return a;
    }

    /** {@code n * outer}, as generated code. */
    String blocks() {
      return outer == 1 ? "n" : "n * " + outer;
    }
  }
}
