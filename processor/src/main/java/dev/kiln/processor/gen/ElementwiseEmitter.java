package dev.kiln.processor.gen;

import dev.kiln.processor.gen.Generator.Ref;
import static dev.kiln.processor.gen.Generator.KERNELS;
import static dev.kiln.processor.gen.Generator.MATH_KERNELS;
import static dev.kiln.processor.gen.Generator.NORM;
import static dev.kiln.processor.gen.Generator.ARITHMETIC;
import static dev.kiln.processor.gen.Generator.MATH;
import static dev.kiln.processor.gen.Generator.POINTWISE;
import static dev.kiln.processor.gen.Generator.POINTWISE_UNARY;
import static dev.kiln.processor.gen.Generator.POINTWISE_BINARY;
import static dev.kiln.processor.gen.Generator.INDEX;
import static dev.kiln.processor.gen.Generator.ID_KERNELS;
import static dev.kiln.processor.gen.Generator.SORT;
import static dev.kiln.processor.gen.Generator.FLOATS;

import com.palantir.javapoet.CodeBlock;
import com.palantir.javapoet.MethodSpec;
import com.palantir.javapoet.TypeSpec;
import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.GELU;
import dev.kiln.dsl.SiLU;
import dev.kiln.dsl.Sigmoid;
import dev.kiln.processor.ir.Arithmetic;
import dev.kiln.processor.ir.ConstantIds;
import dev.kiln.processor.ir.IdOp;
import dev.kiln.processor.ir.Cosine;
import dev.kiln.processor.ir.IndexMap;
import dev.kiln.processor.ir.LineOp;
import dev.kiln.processor.ir.Normalize;
import dev.kiln.processor.ir.Pointwise;
import dev.kiln.processor.ir.PointwisePair;
import dev.kiln.processor.ir.Roll;
import dev.kiln.processor.ir.Reorder;
import dev.kiln.processor.ir.Repeat;
import dev.kiln.processor.ir.Scale;
import dev.kiln.processor.ir.TensorIr;
import dev.kiln.runtime.Shapes;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import javax.lang.model.element.Modifier;

/**
 * Element-wise and shape steps, for {@link Generator}: functions of one value or of two ({@code Pointwise},
 * {@code PointwisePair}), normalization along a dimension, index maps (permute, transpose), ids computed and their
 * arithmetic, lines, cosine similarity, and the broadcast passes (spread, sum) they share.
 */
final class ElementwiseEmitter {
  private final Generator gen;

  ElementwiseEmitter(Generator gen) {
    this.gen = gen;
  }

  // ------------------------------------------------------------------ element-wise functions (Pointwise, PointwisePair)

  /**
   * An element-wise function's forward ({@link Pointwise}): the table's entry through {@code PointwiseKernels.forward}, or
   * {@code MathKernels}' kernel ({@code expForward}, {@code clampForward} with its bounds): eager mode's CPU code.
   */
  static void pointwiseForward(CodeBlock.Builder b, Kernel k, Ref out, Ref in) {
    Pointwise f = (Pointwise) k.spec();
    if (f.table() != null) {
      b.addStatement("$T.forward($T.$L, $L, $L, $L, $L, n * $L)", POINTWISE, POINTWISE_UNARY, f.table().name(), out.array(), out.offset(),
          in.array(), in.offset(), k.outPerSample());
    } else {
      b.addStatement("$T.$LForward($L, $L, $L, $L, n * $L$L)", MATH_KERNELS, f.mathKernel(), out.array(), out.offset(), in.array(),
          in.offset(), k.outPerSample(), pointwiseConstants(f));
    }
  }

  /** An element-wise function's backward into {@code target}: the table's gradient (of the input and the output), or MathKernels'. */
  static void pointwiseBackward(CodeBlock.Builder b, Kernel k, Ref target, Ref d, Ref in, Ref out) {
    Pointwise f = (Pointwise) k.spec();
    if (f.table() != null) {
      b.addStatement("$T.backward($T.$L, $L, $L, $L, $L, $L, $L, $L, $L, n * $L)", POINTWISE, POINTWISE_UNARY, f.table().name(),
          target.array(), target.offset(), d.array(), d.offset(), in.array(), in.offset(), out.array(), out.offset(), k.outPerSample());
    } else {
      Ref from = f.backwardFromOutput() ? out : in; // exp and sqrt from the output, as eager mode's
      b.addStatement("$T.$LBackward($L, $L, $L, $L, $L, $L, n * $L$L)", MATH_KERNELS, f.mathKernel(), target.array(), target.offset(),
          d.array(), d.offset(), from.array(), from.offset(), k.outPerSample(), pointwiseConstants(f));
    }
  }

  /** {@code , 2.0f} or {@code , -1.0f, Float.POSITIVE_INFINITY}: a MathKernels function's floats after the count. */
  private static CodeBlock pointwiseConstants(Pointwise f) {
    CodeBlock.Builder c = CodeBlock.builder();
    f.kernelConstants().forEach(v -> c.add(", $L", Generator.floatLiteral(v)));
    return c.build();
  }

  /**
   * {@code a.maximum(b)}'s forward over its two inputs of the result's shape (expanded before where they broadcast; a tensor
   * field operand expanded here first, into the plan's {@code pairExpandedJ}, as eager mode's expand).
   */
  void pointwisePairForward(CodeBlock.Builder b, Kernel k, Ref out, Map<String, Ref> refs) {
    int[][] passes = pairExpansion(k);
    if (passes.length > 0) {
      int j = gen.kernels.indexOf(k) + 1;
      spreadPasses(b, passes, gen.ref(k.inputs().get(1), refs), new Ref("p.pairExpanded" + j, "0", true), "p.pairExpanding" + j + "_");
    }
    Ref a = pairOperand(k, k.swapped() ? 1 : 0, refs), other = pairOperand(k, k.swapped() ? 0 : 1, refs);
    b.addStatement("$T.forward($T.$L, $L, $L, $L, $L, $L, $L, n * $L)", POINTWISE, POINTWISE_BINARY,
        ((PointwisePair) k.spec()).function().name(), out.array(), out.offset(), a.array(), a.offset(), other.array(), other.offset(),
        k.outPerSample());
  }

  /**
   * The gradient of {@code a.maximum(b)}'s kernel input {@code w} (b's where it is the second operand) by the table's formula,
   * written or added ({@code accumulate}).
   */
  void pointwisePairBackward(CodeBlock.Builder b, Kernel k, int w, Ref target, boolean accumulate, Ref d,
      Map<String, Ref> refs) {
    Ref a = pairOperand(k, k.swapped() ? 1 : 0, refs), other = pairOperand(k, k.swapped() ? 0 : 1, refs);
    b.addStatement("$T.backward($T.$L, $L, $L, $L, $L, $L, $L, $L, $L, $L, n * $L, $L)", POINTWISE, POINTWISE_BINARY,
        ((PointwisePair) k.spec()).function().name(), (w == 1) != k.swapped(), target.array(), target.offset(), d.array(), d.offset(),
        a.array(), a.offset(), other.array(), other.offset(), k.outPerSample(), accumulate);
  }

  /**
   * The passes of eager mode's expand of a pair's tensor field operand (its kernel input 1) to the result's shape ({@code [D]}
   * over {@code [N, S, D]}); none without a field.
   */
  int[][] pairExpansion(Kernel k) {
    return gen.ir.tensor(k.inputs().get(1)) == null ? new int[0][] : Cosine.expansion(k.inShapes().get(1), k.outShape());
  }

  /** A pair's kernel input {@code w} as its kernels read it: a tensor field's expansion ({@link #pairExpansion}), or itself. */
  private Ref pairOperand(Kernel k, int w, Map<String, Ref> refs) {
    return w == 1 && pairExpansion(k).length > 0 ? new Ref("p.pairExpanded" + (gen.kernels.indexOf(k) + 1), "0", true)
        : gen.ref(k.inputs().get(w), refs);
  }

  /**
   * The gradient of a parameter a pair reads (its kernel input 1), eager mode's: the table's gradient of the expanded operand
   * into the plan's {@code dpairExpandedJ}, the expand's sums back to the field's shape, added to the parameter's gradient.
   */
  void pairFieldBackward(CodeBlock.Builder b, Kernel k, TensorIr field, Ref d, Map<String, Ref> refs) {
    if (!field.isParameter()) { // a buffer gets no gradient
      return;
    }
    int j = gen.kernels.indexOf(k) + 1;
    Ref expanded = new Ref("p.dpairExpanded" + j, "0", true);
    gen.stepGradients.summedFieldGradient(b, field, j, pairExpansion(k), expanded, "p.dpairExpanding" + j + "_",
        () -> pointwisePairBackward(b, k, 1, expanded, false, d, refs));
  }

  /**
   * A normalize step's forward, eager mode's three nodes' kernels: the p-norm along the dimension, clamped below at
   * eps, and the quotient by it repeated along the dimension (an elementwise one where the dimension has size 1, as
   * eager mode's division of two values of one shape).
   */
  static void normalizeForward(CodeBlock.Builder b, Kernel k, int j, Ref out, Ref in) {
    Normalize s = (Normalize) k.spec();
    int[] a = s.along(k.inShape());
    String outer = times(a[0]);
    b.addStatement("$T.normForward(p.norm$L, 0, $L, $L, $L, $L, $L, $L)", INDEX, j, in.array(), in.offset(), outer, a[1], a[2],
        (double) s.p());
    b.addStatement("$T.clampForward(p.clamped$L, 0, p.norm$L, 0, $L, $L, $T.POSITIVE_INFINITY)", MATH, j, j, times(a[0] * a[2]),
        Generator.floatLiteral(s.eps()), Float.class);
    if (a[1] == 1) {
      b.addStatement("$T.divForward($L, $L, $L, $L, p.clamped$L, 0, n * $L)", ARITHMETIC, out.array(), out.offset(), in.array(),
          in.offset(), j, k.inPerSample());
    } else {
      b.addStatement("$T.divRepeatedForward($L, $L, $L, $L, p.clamped$L, 0, $L, $L, $L, false)", ARITHMETIC, out.array(),
          out.offset(), in.array(), in.offset(), j, outer, a[1], a[2]);
    }
  }

  /**
   * A normalize step's backward, eager mode's nodes' kernels in turn: the numerator's gradient {@code g / b} into the
   * input's, the denominator's {@code -sum(g y / b)} along the dimension, through the clamp (0 where the norm was below
   * eps) and the norm ({@code IndexKernels.normBackward}, from the norm before the clamp), added to it.
   */
  static void normalizeBackward(CodeBlock.Builder b, Kernel k, int j, Ref target, Ref d, Ref in, Ref out) {
    Normalize s = (Normalize) k.spec();
    int[] a = s.along(k.inShape());
    String outer = times(a[0]);
    if (a[1] == 1) {
      b.addStatement("$T.numeratorBackward($L, $L, $L, $L, p.clamped$L, 0, n * $L, false)", ARITHMETIC, target.array(), target.offset(),
          d.array(), d.offset(), j, k.inPerSample());
      b.addStatement("$T.denominatorBackward(p.dnorm$L, 0, $L, $L, $L, $L, p.clamped$L, 0, n * $L, false)", ARITHMETIC, j, d.array(),
          d.offset(), out.array(), out.offset(), j, k.inPerSample());
    } else {
      b.addStatement("$T.numeratorRepeatedBackward($L, $L, $L, $L, p.clamped$L, 0, $L, $L, $L, false)", ARITHMETIC, target.array(),
          target.offset(), d.array(), d.offset(), j, outer, a[1], a[2]);
      b.addStatement("$T.denominatorSumBackward(p.dnorm$L, 0, $L, $L, $L, $L, p.clamped$L, 0, $L, $L, $L, false)", ARITHMETIC, j,
          d.array(), d.offset(), out.array(), out.offset(), j, outer, a[1], a[2]);
    }
    b.addStatement("$T.clampBackward(p.dnorm$L, 0, p.dnorm$L, 0, p.norm$L, 0, $L, $L, $T.POSITIVE_INFINITY)", MATH, j, j, j,
        times(a[0] * a[2]), Generator.floatLiteral(s.eps()), Float.class);
    b.addStatement("$T.normBackward(p.dnormIn$L, 0, p.dnorm$L, 0, $L, $L, p.norm$L, 0, $L, $L, $L, $L)", INDEX, j, j, in.array(),
        in.offset(), j, outer, a[1], a[2], (double) s.p());
    b.addStatement("$T.accumulate($L, $L, p.dnormIn$L, 0, n * $L)", KERNELS, target.array(), target.offset(), j, k.inPerSample());
  }

  /** {@code count} per sample over the batch, as generated code: {@code n}, {@code n * 6}. */
  private static String times(int count) {
    return count == 1 ? "n" : "n * " + count;
  }

  /**
   * A constant padding's or a flip's copy, eager mode's coordinate map ({@code IndexKernels.indexMap}) over the batch:
   * forward, {@code to} of the output's shape read from {@code from} at each coordinate minus the padding before it (or
   * reversed along a flipped dimension), the constant outside; backward ({@code inverse}), the input's gradient read
   * from the output's through the inverse map.
   */
  static void indexMap(CodeBlock.Builder b, Kernel k, Ref to, Ref from, boolean inverse) {
    if (k.spec() instanceof Roll roll) { // the entries rotated; backward the gradient rotated back, added to zeros as eager's
      b.addStatement("$T.roll($L, $L, $L, $L, new int[] {$L}, new int[] {$L}, $L)", INDEX, to.array(), to.offset(), from.array(),
          from.offset(), Generator.batchShape(k.inShape()), Generator.joined(roll.places(k.inShape())), inverse);
      return;
    }
    IndexMap map = (IndexMap) k.spec();
    int rank = k.inShape().length;
    boolean[] flips = map.flips(k.inShape());
    long[] offsets = map.offsets(k.inShape());
    if (inverse) {
      offsets = dev.kiln.runtime.cpu.IndexKernels.inverseOffsets(flips, offsets);
    }
    String flipped = IntStream.range(0, rank).anyMatch(d -> flips[d])
        ? "new boolean[] {" + IntStream.range(0, rank).mapToObj(d -> String.valueOf(flips[d])).collect(Collectors.joining(", ")) + "}"
        : "new boolean[" + rank + "]";
    int[] toShape = inverse ? k.inShape() : k.outShape(), fromShape = inverse ? k.outShape() : k.inShape();
    b.addStatement("$T.indexMap($L, $L, $L, $L, new int[] {$L}, new int[] {$L}, $L, new long[] {$L}, $L)", INDEX,
        to.array(), to.offset(), from.array(), from.offset(), Generator.batchShape(toShape), Generator.batchShape(fromShape), flipped,
        Arrays.stream(offsets).mapToObj(Long::toString).collect(Collectors.joining(", ")), Generator.floatLiteral(inverse ? 0f : map.fill()));
  }

  /**
   * An Embedding over ids an argmax computed in forward ({@code emb.apply(logits.argmax(-1))}, in an activation buffer
   * as floats): eager's lookup kernel, which checks each id against the table as eager's does; an id out of range
   * (an argmax along more values than the table has rows) fails with eager's message, the layer and the call before it.
   */
  void computedIdsForward(CodeBlock.Builder b, Kernel k, Embedding.Spec e, String local, Ref out, Ref in) {
    b.beginControlFlow("try")
        .addStatement("$T.embeddingForward($L, $L, $L, $L, n * $L, $LW.readBuffer(), $LW.offset(), $L, $L, new int[] {$L})",
            KERNELS, out.array(), out.offset(), in.array(), in.offset(), k.inPerSample(), local, local, e.numEmbeddings(),
            e.embeddingDim(), Generator.batchShape(k.inShape()))
        .nextControlFlow("catch ($T bad)", IllegalArgumentException.class)
        .addStatement("throw new $T($S + bad.getMessage(), bad)", IllegalArgumentException.class,
            k.label() + " over " + gen.kernels.stream().filter(o -> o.out().equals(k.in())).findFirst().map(Kernel::label)
                .orElse(k.in()) + ": ")
        .endControlFlow();
  }

  /** The shape of the ids an embedding step reads, for messages: the input's tensor ({@code x1.shape()}), or computed ids' {@code new int[] {n, 6}}. */
  String idsShape(Kernel k) {
    return Generator.isInput(gen.storage.get(k.in())) ? "x" + gen.storage.get(k.in()).substring(2) + ".shape()"
        : "new int[] {n, " + Arrays.stream(k.inShape()).skip(1).mapToObj(String::valueOf).collect(Collectors.joining(", ")) + "}";
  }

  /**
   * Integer arithmetic of ids ({@code ids.add(1)}, {@link IdOp}): eager's kernel over the batch's ids, which checks each
   * result's range (and a division by zero) with eager's message.
   */
  static void idArithmeticForward(CodeBlock.Builder b, Kernel k, Ref out, Ref in, Ref other) {
    IdOp op = (IdOp) k.spec();
    if (op.pair()) { // users.mul(V).add(items): each sample's two operands broadcast to the result's, eager's positions
      idPairForward(b, k, op, out, in, other);
      return;
    }
    if (op.values() != null) { // ids.add(pos): the constant ids repeated over each sample's leading dimensions
      b.addStatement("$T.withValues($T.$L, new int[] {$L}, $L, $L, $L, $L, $L, n * $L)", ID_KERNELS, ID_KERNELS.nestedClass("Op"),
          op.op().name(), Arrays.stream(op.values()).mapToObj(String::valueOf).collect(Collectors.joining(", ")), op.valuesFirst(),
          out.array(), out.offset(), in.array(), in.offset(), k.inPerSample());
      return;
    }
    b.addStatement("$T.withConstant($T.$L, $L, $L, $L, $L, $L, $L, n * $L)", ID_KERNELS, ID_KERNELS.nestedClass("Op"), op.op().name(),
        longLiteral(op.c()), longLiteral(op.c2()), out.array(), out.offset(), in.array(), in.offset(), k.inPerSample());
  }

  /**
   * Ids of two values of the batch ({@link IdOp#ofPair}): {@code IdKernels.ofSamples} over the batch, each operand's place
   * for each position of a result's sample (null where the operand has the result's shape), so values and errors are
   * eager's broadcast.
   */
  private static void idPairForward(CodeBlock.Builder b, Kernel k, IdOp op, Ref out, Ref a, Ref bRef) {
    int[] result = Arrays.copyOfRange(k.outShape(), 1, k.outShape().length);
    int per = Shapes.numel(result);
    String[] places = new String[2];
    int[] pers = new int[2];
    for (int w = 0; w < 2; w++) {
      int[] own = Arrays.copyOfRange(k.inShapes().get(w), 1, k.inShapes().get(w).length);
      pers[w] = Shapes.numel(own);
      places[w] = Arrays.equals(own, result) ? "null" : "new int[] {" + Arrays.stream(samplePlaces(result, own))
          .mapToObj(String::valueOf).collect(Collectors.joining(", ")) + "}";
    }
    b.addStatement("$T.ofSamples($T.$L, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L, n)", ID_KERNELS, ID_KERNELS.nestedClass("Op"),
        op.op().name(), out.array(), out.offset(), a.array(), a.offset(), places[0], pers[0], bRef.array(), bRef.offset(), places[1], pers[1],
        per);
  }

  /** For each position of a sample of shape {@code result}, its place in a sample of shape {@code own} broadcast to it (row-major, sizes of 1 repeated). */
  private static int[] samplePlaces(int[] result, int[] own) {
    int[] places = new int[Shapes.numel(result)];
    int[] pos = new int[result.length];
    for (int i = 0; i < places.length; i++) {
      int at = 0;
      for (int d = 0; d < result.length; d++) {
        at = at * own[d] + (own[d] == 1 ? 0 : pos[d]);
      }
      places[i] = at;
      for (int d = result.length - 1; d >= 0 && ++pos[d] == result[d]; d--) {
        pos[d] = 0;
      }
    }
    return places;
  }

  /** {@code 5L}, or {@code Long.MAX_VALUE} and {@code Long.MIN_VALUE} by name (a clamp's missing bound). */
  private static String longLiteral(long v) {
    return v == Long.MAX_VALUE ? "Long.MAX_VALUE" : v == Long.MIN_VALUE ? "Long.MIN_VALUE" : v + "L";
  }

  /**
   * A log-sum-exp's, norm's or running sum's forward: eager mode's line kernel over the input seen as {@code [outer,
   * size, inner]} around the dimension ({@code IndexKernels}).
   */
  static void lineForward(CodeBlock.Builder b, Kernel k, Ref out, Ref in) {
    LineOp s = (LineOp) k.spec();
    if (s.overSeveral()) { // x.amax(1, 2): over the dimensions together
      b.addStatement("$T.extremeOver($L, $L, $L, $L, new int[] {$L}, $L, $L)", INDEX, out.array(), out.offset(), in.array(), in.offset(),
          Generator.batchShape(k.inShape()), reducedLiteral(s, k.inShape()), s.kind() == LineOp.Kind.AMAX);
      return;
    }
    int[] a = s.along(k.inShape());
    switch (s.kind()) {
      case LOGSUMEXP -> b.addStatement("$T.logsumexpForward($L, $L, $L, $L, $L, $L, $L)", INDEX, out.array(), out.offset(), in.array(),
          in.offset(), times(a[0]), a[1], a[2]);
      case NORM -> b.addStatement("$T.normForward($L, $L, $L, $L, $L, $L, $L, $L)", INDEX, out.array(), out.offset(), in.array(),
          in.offset(), times(a[0]), a[1], a[2], (double) s.p());
      case CUMSUM -> b.addStatement("$T.cumsum($L, $L, $L, $L, $L, $L, $L, false)", INDEX, out.array(), out.offset(), in.array(),
          in.offset(), times(a[0]), a[1], a[2]);
      case PROD -> b.addStatement("$T.prodForward($L, $L, $L, $L, $L, $L, $L)", INDEX, out.array(), out.offset(), in.array(), in.offset(),
          times(a[0]), a[1], a[2]);
      case AMAX, AMIN -> b.addStatement("$T.extremeAlong($L, $L, $L, $L, $L, $L, $L, $L)", INDEX, out.array(), out.offset(), in.array(),
          in.offset(), times(a[0]), a[1], a[2], s.kind() == LineOp.Kind.AMAX);
      case ARGMAX, ARGMIN -> b.addStatement("$T.$L($L, $L, $L, $L, $L, $L, $L)", INDEX,
          s.kind() == LineOp.Kind.ARGMAX ? "argmaxAlong" : "argminAlong", out.array(), out.offset(), in.array(), in.offset(), times(a[0]),
          a[1], a[2]);
      case TOPK, BOTTOMK -> { // eager's topk (argsort) kernel: values and positions into scratch, the indices into the plan
        int count = a[0] * s.kept(a[1]) * a[2];
        b.add("{\n").indent()
            .addStatement("float[] rankedIds = new float[n * $L]", count)
            .addStatement("$T.ordered($L, $L, $L, $L, $L, $L, $L, new float[n * $L], rankedIds, new int[n * $L])", SORT, in.array(),
                in.offset(), times(a[0]), a[1], a[2], s.kept(a[1]), s.kind() == LineOp.Kind.TOPK, count, count)
            .addStatement("System.arraycopy(rankedIds, 0, $L, $L, n * $L)", out.array(), out.offset(), count)
            .unindent().add("}\n");
      }
    }
  }

  /**
   * A log-sum-exp's, norm's or running sum's backward, eager mode's: {@code g exp(x - y)}, the norm's gradient from the
   * input and the norm, or the running sum of the gradient from the end.
   */
  static void lineBackward(CodeBlock.Builder b, Kernel k, Ref target, Ref d, Ref in, Ref out) {
    LineOp s = (LineOp) k.spec();
    if (s.overSeveral()) {
      b.addStatement("$T.extremeOverBackward($L, $L, $L, $L, $L, $L, $L, $L, new int[] {$L}, $L)", INDEX, target.array(),
          target.offset(), d.array(), d.offset(), in.array(), in.offset(), out.array(), out.offset(), Generator.batchShape(k.inShape()),
          reducedLiteral(s, k.inShape()));
      return;
    }
    int[] a = s.along(k.inShape());
    switch (s.kind()) {
      case LOGSUMEXP -> b.addStatement("$T.logsumexpBackward($L, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L)", INDEX, target.array(),
          target.offset(), d.array(), d.offset(), in.array(), in.offset(), out.array(), out.offset(), times(a[0]), a[1], a[2]);
      case NORM -> b.addStatement("$T.normBackward($L, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L)", INDEX, target.array(),
          target.offset(), d.array(), d.offset(), in.array(), in.offset(), out.array(), out.offset(), times(a[0]), a[1], a[2], (double) s.p());
      case CUMSUM -> b.addStatement("$T.cumsum($L, $L, $L, $L, $L, $L, $L, true)", INDEX, target.array(), target.offset(), d.array(),
          d.offset(), times(a[0]), a[1], a[2]);
      case PROD -> b.addStatement("$T.prodBackward($L, $L, $L, $L, $L, $L, $L, $L, $L)", INDEX, target.array(), target.offset(), d.array(),
          d.offset(), in.array(), in.offset(), times(a[0]), a[1], a[2]);
      case AMAX, AMIN -> b.addStatement("$T.extremeBackward($L, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L)", INDEX, target.array(),
          target.offset(), d.array(), d.offset(), in.array(), in.offset(), out.array(), out.offset(), times(a[0]), a[1], a[2]);
      case ARGMAX, ARGMIN, TOPK, BOTTOMK -> throw new IllegalStateException("an argmax has no gradient"); // (carriesNoGradient)
    }
  }

  /** {@code new boolean[] {false, true, true}}: the dimensions an amax over several reduces, the batch first. */
  private static String reducedLiteral(LineOp s, int[] in) {
    boolean[] reduced = s.reducedDims(in);
    return "new boolean[] {" + IntStream.range(0, in.length).mapToObj(d -> String.valueOf(reduced[d])).collect(Collectors.joining(", "))
        + "}";
  }

  /** A cosine similarity's broadcast shape: both operands' sizes, each 1 stretched to the other's. */
  static int[] cosineShape(Kernel k) {
    return ((Cosine) k.spec()).broadcast(k.inShapes().get(0), k.inShapes().get(1));
  }

  /** The passes of eager mode's expand of a cosine similarity's operand {@code w} to the broadcast shape; none when it has it. */
  static int[][] cosineExpansion(Kernel k, int w) {
    return Cosine.expansion(k.inShapes().get(w), cosineShape(k));
  }

  /**
   * A cosine similarity's forward, eager mode's nodes' kernels: an operand of another shape expanded to the broadcast
   * one (eager mode's expand passes, into the plan's {@code expandedJ_W}); for each operand its 2-norm along the
   * dimension, raised to eps in place (PyTorch 1.13 clamps the norm in place), and the quotient by it repeated along the
   * dimension (an elementwise one where the dimension has size 1); the quotients' product, summed along the dimension.
   */
  static void cosineForward(CodeBlock.Builder b, Kernel k, int j, Ref out, Ref in, Ref other) {
    Cosine s = (Cosine) k.spec();
    int[] shape = cosineShape(k);
    int[] a = s.along(shape);
    int per = Generator.perSample(shape);
    List<Ref> operands = List.of(in, other);
    for (int w = 0; w < 2; w++) {
      Ref x = operands.get(w);
      int[][] passes = cosineExpansion(k, w);
      if (passes.length > 0) {
        Ref expanded = new Ref("p.expanded" + j + "_" + w, "0", true);
        spreadPasses(b, passes, x, expanded, "p.expanding" + j + "_" + w + "_");
        x = expanded;
      }
      b.addStatement("$T.normForward(p.norm$L_$L, 0, $L, $L, $L, $L, $L, 2.0)", INDEX, j, w, x.array(), x.offset(), times(a[0]), a[1], a[2]);
      b.addStatement("$T.clampForward(p.norm$L_$L, 0, p.norm$L_$L, 0, $L, $L, $T.POSITIVE_INFINITY)", MATH, j, w, j, w,
          times(a[0] * a[2]), Generator.floatLiteral(s.eps()), Float.class);
      if (a[1] == 1) {
        b.addStatement("$T.divForward(p.quotient$L_$L, 0, $L, $L, p.norm$L_$L, 0, n * $L)", ARITHMETIC, j, w, x.array(), x.offset(), j, w,
            per);
      } else {
        b.addStatement("$T.divRepeatedForward(p.quotient$L_$L, 0, $L, $L, p.norm$L_$L, 0, $L, $L, $L, false)", ARITHMETIC, j, w,
            x.array(), x.offset(), j, w, times(a[0]), a[1], a[2]);
      }
    }
    b.addStatement("$T.mulForward(p.product$L, 0, p.quotient$L_0, 0, p.quotient$L_1, 0, n * $L)", KERNELS, j, j, j, per);
    b.addStatement("$T.sumAlong($L, $L, p.product$L, 0, $L, $L, $L, 1f)", MATH, out.array(), out.offset(), j, times(a[0]), a[1], a[2]);
  }

  /**
   * A cosine similarity's backward, eager mode's nodes' kernels in turn: the sum's gradient spread along the dimension,
   * the product's into each quotient's, then for each operand the quotient's numerator gradient and its denominator's
   * summed along the dimension, through the norm ({@code normBackward} from the raised norm, as PyTorch's in-place clamp
   * makes it), added to it; an expanded operand's gradient then summed back over the expand's passes.
   */
  void cosineBackward(CodeBlock.Builder b, Kernel k, int i, Ref d, Ref inTarget, Map<String, Ref> grads, Map<String, Ref> refs) {
    Cosine s = (Cosine) k.spec();
    int[] shape = cosineShape(k);
    int[] a = s.along(shape);
    int per = Generator.perSample(shape);
    int j = i + 1;
    b.addStatement("$T.spreadAlong(p.dproduct$L, 0, $L, $L, $L, $L, $L, 1f)", MATH, j, d.array(), d.offset(), times(a[0]), a[1], a[2]);
    for (int w = 0; w < 2; w++) {
      b.addStatement("$T.mulBackward(p.dquotient$L_$L, 0, p.dproduct$L, 0, p.quotient$L_$L, 0, n * $L, false)", KERNELS, j, w, j, j,
          1 - w, per);
    }
    for (int w = 0; w < 2; w++) {
      String value = k.inputs().get(w);
      String st = gen.storage.get(value);
      TensorIr field = gen.ir.tensor(value); // (second, when it is one): its gradient summed over the batch into the parameter's
      if (field != null && !field.isParameter()) {
        continue; // a buffer: no gradient
      }
      Ref target = field != null ? new Ref("field" + j + "G", ParameterCode.gradOffset(field), true) : w == 0 ? inTarget
          : Generator.isInput(st) ? new Ref(Generator.inputGradient(st), "0", true)
          : i > 0 ? new Ref("dIn" + i + "_" + w, "0", true) : new Ref("p.d" + st, "0", true);
      if (field != null) {
        gen.parameterCode.declareFieldGradient(b, target.array(), field);
      }
      boolean accumulate = field != null || gen.accumulating.contains(i + ":" + w);
      int[][] passes = cosineExpansion(k, w);
      boolean expanded = passes.length > 0;
      Ref x = expanded ? new Ref("p.expanded" + j + "_" + w, "0", true) : gen.ref(value, refs);
      Ref dx = expanded ? new Ref("p.dexpanded" + j + "_" + w, "0", true) : target; // the gradient of the operand as divided
      b.beginControlFlow("if ($L != null)", target.array());
      if (a[1] == 1) {
        b.addStatement("$T.numeratorBackward($L, $L, p.dquotient$L_$L, 0, p.norm$L_$L, 0, n * $L, $L)", ARITHMETIC, dx.array(),
            dx.offset(), j, w, j, w, per, accumulate && !expanded);
        b.addStatement("$T.denominatorBackward(p.dnorm$L_$L, 0, p.dquotient$L_$L, 0, p.quotient$L_$L, 0, p.norm$L_$L, 0, n * $L, false)",
            ARITHMETIC, j, w, j, w, j, w, j, w, per);
      } else {
        b.addStatement("$T.numeratorRepeatedBackward($L, $L, p.dquotient$L_$L, 0, p.norm$L_$L, 0, $L, $L, $L, $L)", ARITHMETIC,
            dx.array(), dx.offset(), j, w, j, w, times(a[0]), a[1], a[2], accumulate && !expanded);
        b.addStatement("$T.denominatorSumBackward(p.dnorm$L_$L, 0, p.dquotient$L_$L, 0, p.quotient$L_$L, 0, p.norm$L_$L, 0, $L, $L, $L,"
            + " false)", ARITHMETIC, j, w, j, w, j, w, j, w, times(a[0]), a[1], a[2]);
      }
      b.addStatement("$T.normBackward(p.dnormIn$L, 0, p.dnorm$L_$L, 0, $L, $L, p.norm$L_$L, 0, $L, $L, $L, 2.0)", INDEX, j, j, w,
          x.array(), x.offset(), j, w, times(a[0]), a[1], a[2]);
      b.addStatement("$T.accumulate($L, $L, p.dnormIn$L, 0, n * $L)", KERNELS, dx.array(), dx.offset(), j, per);
      if (expanded && accumulate) { // summed back into a buffer of the operand's, added to the gradient already there
        Ref own = new Ref("p.dsmall" + j + "_" + w, "0", true);
        sumPasses(b, passes, dx, own, "p.dexpanding" + j + "_" + w + "_");
        b.addStatement("$T.accumulate($L, $L, $L, 0, $L)", KERNELS, target.array(), target.offset(), own.array(), operandValues(k, w));
      } else if (expanded) {
        sumPasses(b, passes, dx, target, "p.dexpanding" + j + "_" + w + "_");
      }
      b.endControlFlow();
      if (field == null) {
        grads.put(st, target);
      } else {
        gen.parameterCode.scatterFieldGradient(b, target.array(), field);
      }
    }
  }

  /** The values of a cosine similarity's operand {@code w} as generated code: {@code n * 24}, or a tensor field's count. */
  static String operandValues(Kernel k, int w) {
    int[] own = k.inShapes().get(w);
    return Cosine.isField(own) ? String.valueOf(Shapes.numel(own)) : "n * " + Generator.perSample(own);
  }

  /**
   * Eager mode's expand ({@code Shapes.expandRuns}' passes, {@code {outer, size, inner, ...}} per sample) of {@code from}
   * into {@code to}: each pass spreads its input along a run of dimensions ({@code MathKernels.spreadAlong}), into the
   * plan's {@code <between>P} buffers between passes ({@link #passBuffers}).
   */
  static void spreadPasses(CodeBlock.Builder b, int[][] passes, Ref from, Ref to, String between) {
    for (int q = 0; q < passes.length; q++) {
      Ref src = q == 0 ? from : new Ref(between + (q - 1), "0", true);
      Ref dst = q == passes.length - 1 ? to : new Ref(between + q, "0", true);
      b.addStatement("$T.spreadAlong($L, $L, $L, $L, $L, 1f)", MATH, dst.array(), dst.offset(), src.array(), src.offset(), passAxes(passes[q]));
    }
  }

  /**
   * A pass's {@code outer, size, inner} as generated code: the outer count times the batch ({@code n * 4, 6, 1}), or the
   * size for the pass that stretches a tensor field over the batch itself, which starts at dimension 0 ({@code 1, n, 24}).
   */
  private static String passAxes(int[] pass) {
    return pass[3] == 0 ? "1, " + times(pass[1]) + ", " + pass[2] : times(pass[0]) + ", " + pass[1] + ", " + pass[2];
  }

  /** The expand's backward, eager mode's: each pass's gradient summed along its run ({@code MathKernels.sumAlong}), last pass first. */
  static void sumPasses(CodeBlock.Builder b, int[][] passes, Ref from, Ref to, String between) {
    for (int q = passes.length - 1; q >= 0; q--) {
      Ref src = q == passes.length - 1 ? from : new Ref(between + q, "0", true);
      Ref dst = q == 0 ? to : new Ref(between + (q - 1), "0", true);
      b.addStatement("$T.sumAlong($L, $L, $L, $L, $L, 1f)", MATH, dst.array(), dst.offset(), src.array(), src.offset(), passAxes(passes[q]));
    }
  }

  /** The plan's buffers between an expand's passes, {@code <name>P} for each prefix ({@code tile5_}: {@code tile5_0}, ...). */
  static void passBuffers(TypeSpec.Builder t, MethodSpec.Builder ctor, int[][] passes, List<String> prefixes) {
    for (int q = 0; q < passes.length - 1; q++) {
      for (String f : prefixes) {
        t.addField(FLOATS, f + q, Modifier.FINAL);
        ctor.addStatement("this.$L$L = new float[n * $L]", f, q, passes[q][0] * passes[q][1] * passes[q][2]);
      }
    }
  }

  /**
   * The kernels' name of a sigmoid, GELU, SiLU or tanh step: {@code sigmoid}, {@code gelu} ({@code geluTanh} for its tanh
   * approximation), {@code silu}, {@code tanh}.
   */
  static String activationName(Kernel k) {
    if (k.spec() instanceof GELU.Spec g) {
      return g.tanh() ? "geluTanh" : "gelu";
    }
    return k.spec() instanceof Sigmoid.Spec ? "sigmoid" : k.spec() instanceof SiLU.Spec ? "silu" : "tanh";
  }

  /**
   * The shapes a step reads, for its comment: its input's, a matmul's two operands as it multiplies
   * them ({@code [N, 6, 8] @ [N, 8, 6]}, a transposed operand as the transpose gives it), or a value and
   * the tensor field repeated over its batch ({@code [N, 6, 8] + [1, 6, 8]}).
   */
  static String inShapes(Kernel k) {
    if (k.spec() instanceof ConstantIds c) { // the ids' own shape (the input only places the rows in the batch)
      return "ids " + Shapes.toString(c.shape());
    }
    if (k.overBatch()) { // x + pos: the tensor field's own shape (pos - x: the field first)
      String value = Shapes.toString(k.inShape()), field = Shapes.toString(k.inShapes().get(1));
      String op = " " + ((Arithmetic) k.spec()).symbol() + " ";
      return k.swapped() ? field + op + value : value + op + field;
    }
    if (k.kind() == Kernel.Kind.COSINE) { // both operands: one may broadcast over the other
      return Shapes.toString(k.inShape()) + ", " + Shapes.toString(k.inShapes().get(1));
    }
    if (k.kind() != Kernel.Kind.MATMUL) {
      return Shapes.toString(k.inShape());
    }
    if (k.fieldOnLeft()) { // w @ x: the field's own shape first
      return Shapes.toString(k.inShapes().get(1)) + " @ " + Shapes.toString(k.inShape());
    }
    if (k.byField()) { // x @ w: the field's own shape
      return Shapes.toString(k.inShape()) + " @ " + Shapes.toString(k.inShapes().get(1));
    }
    Kernel.Product m = k.product();
    int[] out = k.outShape();
    int[] a = out.clone(), b = out.clone();
    a[out.length - 1] = m.k();
    b[out.length - 2] = m.k();
    return Shapes.toString(a) + " @ " + Shapes.toString(b);
  }

  /** Whether a step is a transpose or scale that a matmul applies itself (planned as a view). */
  static boolean folded(Kernel k) {
    return k.kind() == Kernel.Kind.VIEW && (k.spec() instanceof Reorder || k.spec() instanceof Scale);
  }

  /** The comment of a view: no work, or a step a matmul applies. */
  static CodeBlock foldedNote(Kernel k) {
    if (!folded(k)) {
      return CodeBlock.of("// a view: no work\n");
    }
    return CodeBlock.of(k.spec() instanceof Scale ? "// the matmul below multiplies by it (its alpha): no work\n"
        : "// the matmul below reads it transposed (a GEMM flag): no copy\n");
  }

  /**
   * How an add's or a mul's second input repeats over its first, as the repeated kernels take it
   * ({@code [outer, size, inner]}): {@code n * 4, 36, 1} within each sample, or {@code 1, n, 48} for a
   * tensor field repeated over the batch; null when the two have one shape.
   */
  static String repeatArgs(Kernel k) {
    if (k.overBatch()) {
      return fieldRepeatArgs(k);
    }
    Repeat r = k.repeat();
    return r == null ? null : "n * " + r.groups() + ", " + r.size() + ", " + r.inner();
  }

  /**
   * A tensor field (the kernel's second input) repeated over the batch, as the repeated kernels take it: {@code [1, N *
   * repeats per sample, the field's values]} (a bias {@code [D]} repeats over the {@code N * S} rows of {@code [N, S, D]}).
   */
  static String fieldRepeatArgs(Kernel k) {
    int repeats = Repeat.fieldRepeats(k.outShape(), k.inShapes().get(1));
    return "1, " + (repeats == 1 ? "n" : "n * " + repeats) + ", " + k.outPerSample() / repeats;
  }

  /**
   * Whether a tensor field repeated over the batch has a suffix of the value's shape ({@code [S, D]} or {@code [D]} over
   * {@code [N, S, D]}, not {@code [1, S, D]}): eager mode's add, sub and mul then sum its gradient in float row by row
   * ({@code CpuKernels.sumRowsBackward}), a field with the batch's dimension in double ({@code sumRepeatedBackward}).
   */
  static boolean fieldIsSuffix(Kernel k) {
    int[] value = k.outShape(), field = k.inShapes().get(1);
    return field.length < value.length
        && Arrays.equals(field, Arrays.copyOfRange(value, value.length - field.length, value.length));
  }

  /** A tensor field's rows as {@code sumRowsBackward} takes them: {@code n * 6, 8} for {@code [D]} over {@code [N, 6, D]}. */
  static String fieldRowArgs(Kernel k) {
    int repeats = Repeat.fieldRepeats(k.outShape(), k.inShapes().get(1));
    return (repeats == 1 ? "n" : "n * " + repeats) + ", " + k.outPerSample() / repeats;
  }

  /** The rows a product by a tensor field multiplies, as generated code: {@code n}, or {@code n * 6} for {@code [N, 6, D]}. */
  static String fieldRows(Kernel k) {
    return k.product().m() == 1 ? "n" : "n * " + k.product().m();
  }
}
