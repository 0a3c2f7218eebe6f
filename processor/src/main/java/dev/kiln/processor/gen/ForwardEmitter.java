package dev.kiln.processor.gen;

import dev.kiln.processor.gen.Generator.Ref;
import static dev.kiln.processor.gen.Generator.TENSOR;
import static dev.kiln.processor.gen.Generator.COMPILED;
import static dev.kiln.processor.gen.Generator.BLAS;
import static dev.kiln.processor.gen.Generator.KERNELS;
import static dev.kiln.processor.gen.Generator.CONV;
import static dev.kiln.processor.gen.Generator.NORM;
import static dev.kiln.processor.gen.Generator.ACTIVATIONS;
import static dev.kiln.processor.gen.Generator.ARITHMETIC;
import static dev.kiln.processor.gen.Generator.MATH;
import static dev.kiln.processor.gen.Generator.POINTWISE;
import static dev.kiln.processor.gen.Generator.INDEX;
import static dev.kiln.processor.gen.Generator.WHERE_KERNELS;
import static dev.kiln.processor.gen.Generator.KILN;
import static dev.kiln.processor.gen.Generator.LINEAR;

import com.palantir.javapoet.CodeBlock;
import com.palantir.javapoet.MethodSpec;
import dev.kiln.dsl.Dropout2d;
import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.EmbeddingBag;
import dev.kiln.dsl.GELU;
import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.LeakyReLU;
import dev.kiln.dsl.LogSoftmax;
import dev.kiln.dsl.Softmax;
import dev.kiln.processor.ir.MaskedFill;
import dev.kiln.processor.ir.ConstantIds;
import dev.kiln.processor.ir.IdMove;
import dev.kiln.processor.ir.Tile;
import dev.kiln.processor.ir.Scale;
import dev.kiln.processor.ir.Shift;
import dev.kiln.processor.ir.TensorIr;
import dev.kiln.runtime.Shapes;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The fused forward method, for {@link Generator}: the plan taken for the batch size, then each kernel's forward
 * call in order (eager layer calls, element-wise code, joins, views), recording what backward reads, and the result
 * returned with its {@code Node}.
 */
final class ForwardEmitter {
  private final Generator gen;

  ForwardEmitter(Generator gen) {
    this.gen = gen;
  }

  // ------------------------------------------------------------------ forward

  MethodSpec forward() {
    int[] sample = Arrays.copyOfRange(gen.model.inputShape(), 1, gen.model.inputShape().length);
    int[] outShape = gen.model.outputShape();
    CodeBlock.Builder b = CodeBlock.builder()
        .addStatement("int n = $T.$L($S, x, $L)", COMPILED, gen.forwardMethods.batchSizeCheck(), gen.name, Generator.joined(sample));
    gen.inputsMembers.checkFurtherInputs(b);
    b.add("// the plan (buffers) for this batch size, this call's alone until released: another thread's call gets another\n")
        .addStatement("Plan p = plans.acquire(n, $T.isGradEnabled())", KILN)
        .beginControlFlow("try")
        .addStatement("float[] in = x.readBuffer()")
        .addStatement("int inOff = x.offset()");
    gen.inputsMembers.readFurtherInputs(b);
    // (the last computed value's size: with several outputs the last statement may be a view of another)
    b.addStatement("float[] out = new float[n * $L]", gen.sizes.getOrDefault("out", Generator.perSample(outShape)));
    gen.forwardMethods.declareTrainingFlags(b);
    Map<String, Ref> refs = new LinkedHashMap<>();
    for (int j = 0; j < gen.kernels.size(); j++) {
      Kernel k = gen.kernels.get(j);
      b.add("// $L: $L -> $L   $L\n", k.label(), ElementwiseEmitter.inShapes(k), Shapes.toString(k.outShape()), k.source().where());
      Ref in = gen.ref(k.in(), refs);
      Ref out = gen.ref(k.out(), refs);
      switch (k.kind()) {
        case VIEW -> b.add(ElementwiseEmitter.foldedNote(k));
        case MATMUL -> {
          Kernel.Product m = k.product();
          if (k.fieldOnLeft()) { // each sample's matrices times the field [M, K], read for each (stride 0): eager's bmm
            TensorIr w = gen.parameterCode.fieldOperand(k);
            b.addStatement("$T.sgemmBatched($L, false, false, $L, $L, $L, $Lf, $L.readBuffer(), $L, 0, $L, $L, $L, 0f, $L, $L, $L)",
                BLAS, m.count(), m.m(), m.n(), m.k(), m.alpha(), gen.parameterCode.readExpression(w),
                gen.parameterCode.fieldOffset(w), in.array(), in.offset(), m.k() * m.n(), out.array(), out.offset(),
                m.m() * m.n());
            break;
          }
          if (k.byField()) { // every row times the field [K, M] (or [M, K] transposed), read where it lives (its native copy, kept current)
            b.addStatement("$T.sgemm(false, $L, $L, $L, $L, $Lf, $L, $L, $L, $L, $L, 0f, $L, $L, $L)", BLAS, m.transB(), ElementwiseEmitter.fieldRows(k),
                m.n(), m.k(), m.alpha(), in.array(), in.offset(), m.k(), gen.parameterCode.gemmOperand(gen.parameterCode.fieldOperand(k)), m.transB() ? m.k() : m.n(),
                out.array(), out.offset(), m.n());
            break;
          }
          Ref other = gen.ref(k.inputs().get(1), refs);
          b.addStatement("$T.sgemmBatched($L, $L, $L, $L, $L, $L, $Lf, $L, $L, $L, $L, $L, $L, 0f, $L, $L, $L)", BLAS, m.count(),
              m.transA(), m.transB(), m.m(), m.n(), m.k(), m.alpha(), in.array(), in.offset(), m.m() * m.k(), other.array(),
              other.offset(), m.k() * m.n(), out.array(), out.offset(), m.m() * m.n());
        }
        case PERMUTE -> b.addStatement("$T.permute($L, $L, $L, $L, new int[] {$L}, new int[] {$L}, false)", KERNELS, out.array(),
            out.offset(), in.array(), in.offset(), Generator.batchShape(k.inShape()), Generator.joined(Generator.order(k)));
        case SCALE -> b.addStatement("$T.scale($L, $L, $L, $L, n * $L, $Lf, false)", KERNELS, out.array(), out.offset(), in.array(),
            in.offset(), k.outPerSample(), ((Scale) k.spec()).factor());
        case COMPARE -> gen.inputsMembers.compareForward(b, k, out, in, refs);
        case WHERE -> { // a where the mask (the third input) is nonzero, b elsewhere (swapped: b the first input, a the second)
          for (int w = 0; w < 3; w++) { // a tensor field eager mode expands first ([T, 1] over [N, T, D]): the expand's passes
            int[][] passes = gen.stepGradients.whereExpansion(k, w);
            if (passes.length > 0) {
              ElementwiseEmitter.spreadPasses(b, passes, gen.ref(k.inputs().get(w), refs),
                  gen.stepGradients.whereOperand(k, w, refs), "p.whereExpanding" + (j + 1) + "_" + w + "_");
            }
          }
          Ref first = gen.stepGradients.whereOperand(k, 0, refs);
          Ref other = gen.stepGradients.whereOperand(k, 1, refs);
          Ref mask = gen.stepGradients.whereOperand(k, 2, refs);
          Ref a = k.swapped() ? other : first;
          Ref bRef = k.swapped() ? first : other;
          b.addStatement("$T.forward($L, $L, $L, $L, $L, $L, $L, $L, $L, $L, n * $L)", WHERE_KERNELS, out.array(),
              mask.array(), mask.offset(), gen.stepGradients.whereCount(k, 2), a.array(), a.offset(), gen.stepGradients.whereCount(k, k.swapped() ? 1 : 0), bRef.array(),
              bRef.offset(), gen.stepGradients.whereCount(k, k.swapped() ? 0 : 1), k.outPerSample());
        }
        case MUL -> {
          Ref other = gen.ref(k.inputs().get(1), refs);
          String repeat = ElementwiseEmitter.repeatArgs(k);
          if (repeat != null) {
            b.addStatement("$T.mulRepeatedForward($L, $L, $L, $L, $L, $L, $L)", KERNELS, out.array(), out.offset(), in.array(),
                in.offset(), other.array(), other.offset(), repeat);
          } else {
            b.addStatement("$T.mulForward($L, $L, $L, $L, $L, $L, n * $L)", KERNELS, out.array(), out.offset(), in.array(), in.offset(),
                other.array(), other.offset(), k.outPerSample());
          }
        }
        case SUB, DIV -> { // (inputs[1] - inputs[0] when swapped: the repeated value is the left operand)
          Ref other = gen.ref(k.inputs().get(1), refs);
          String op = k.kind() == Kernel.Kind.SUB ? "sub" : "div";
          String repeat = ElementwiseEmitter.repeatArgs(k);
          if (repeat != null) {
            b.addStatement("$T.$LRepeatedForward($L, $L, $L, $L, $L, $L, $L, $L)", ARITHMETIC, op, out.array(), out.offset(),
                in.array(), in.offset(), other.array(), other.offset(), repeat, k.swapped());
          } else {
            b.addStatement("$T.$LForward($L, $L, $L, $L, $L, $L, n * $L)", ARITHMETIC, op, out.array(), out.offset(), in.array(),
                in.offset(), other.array(), other.offset(), k.outPerSample());
          }
        }
        case SHIFT -> b.addStatement("$T.shift($L, $L, $L, $L, n * $L, $L)", ARITHMETIC, out.array(), out.offset(), in.array(),
            in.offset(), k.outPerSample(), Generator.floatLiteral(((Shift) k.spec()).amount()));
        case REDUCE -> b.addStatement("$T.$L($L, $L, $L, $L, $L, $L)", MATH, StepGradients.reducesOver(k) ? "sumOver" : "sumAlong", out.array(),
            out.offset(), in.array(), in.offset(), StepGradients.reduceAxes(k), StepGradients.reduceFactor(k));
        case ADD -> {
          Ref other = gen.ref(k.inputs().get(1), refs);
          String repeat = ElementwiseEmitter.repeatArgs(k);
          if (repeat != null) {
            b.addStatement("$T.addRepeatedForward($L, $L, $L, $L, $L, $L, $L, $L)", KERNELS, out.array(), out.offset(),
                in.array(), in.offset(), other.array(), other.offset(), repeat, k.relu());
          } else {
            b.addStatement("$T.addForward($L, $L, $L, $L, $L, $L, n * $L, $L)", KERNELS, out.array(), out.offset(), in.array(),
                in.offset(), other.array(), other.offset(), k.outPerSample(), k.relu());
          }
        }
        case RELU -> b.addStatement("$T.reluForward($L, $L, $L, $L, n * $L)", KERNELS, out.array(), out.offset(), in.array(), in.offset(), k.outPerSample());
        case MASKED_FILL -> {
          MaskedFill m = (MaskedFill) k.spec();
          if (m.byValue()) { // each sample's own mask (an input), repeated along a run of the value's dimensions
            b.addStatement("$T.maskedFillRepeatedForward($L, $L, $L, $L, $L, $L)", KERNELS, out.array(), out.offset(), in.array(),
                in.offset(), gen.inputsMembers.maskInputArgs(k, refs), Generator.floatLiteral(m.value()));
          } else {
            b.addStatement("$T.maskedFillForward($L, $L, $L, $L, $L, $L, $L)", KERNELS, out.array(), out.offset(), in.array(), in.offset(),
                CudaEmitter.maskBlocks(k), gen.cudaEmitter.maskArgs(k), Generator.floatLiteral(m.value()));
          }
        }
        case CAT -> {
          StepGradients.CatLayout c = new StepGradients.CatLayout(k);
          for (int w = 0; w < k.inputs().size(); w++) {
            Ref src = gen.ref(k.inputs().get(w), refs);
            b.addStatement("$T.catForward($L, $L, $L, $L, $L, $L, $L, $L)", KERNELS, out.array(), out.offset(), c.outBlock,
                src.array(), src.offset(), c.block(w), c.at(w), c.blocks());
          }
        }
        case POINTWISE -> ElementwiseEmitter.pointwiseForward(b, k, out, in);
        case POINTWISE_PAIR -> gen.elementwise.pointwisePairForward(b, k, out, refs);
        case SCATTER -> ScatterEmitter.forward(b, gen, k, j + 1, out, refs);
        case ACTIVATION -> {
          if (Planner.isPiecewise(k.spec())) {
            StepCalls.piecewiseForward(b, k, out, in);
          } else if (k.spec() instanceof LeakyReLU.Spec l) {
            b.addStatement("$T.leakyReluForward($L, $L, $L, $L, n * $L, $Lf)", ACTIVATIONS, out.array(), out.offset(), in.array(),
                in.offset(), k.outPerSample(), (float) l.negativeSlope());
          } else if (k.spec() instanceof Softmax.Spec || k.spec() instanceof LogSoftmax.Spec) {
            b.addStatement("$T.$LForward($L, $L, $L, $L, $L)", ACTIVATIONS, StepCalls.softmaxName(k), out.array(), out.offset(), in.array(),
                in.offset(), StepCalls.softmaxAxes(k));
          } else if (k.spec() instanceof GELU.Spec) { // with grad on, its slope too: the backward is then one product
            b.addStatement("$T.$LForward($L, $L, $L, $L, n * $L, $T.isGradEnabled() ? p.slope$L : null, 0)", ACTIVATIONS,
                ElementwiseEmitter.activationName(k), out.array(), out.offset(), in.array(), in.offset(), k.outPerSample(), KILN, j + 1);
          } else {
            b.addStatement("$T.$LForward($L, $L, $L, $L, n * $L)", ACTIVATIONS, ElementwiseEmitter.activationName(k), out.array(), out.offset(),
                in.array(), in.offset(), k.outPerSample());
          }
        }
        case LINEAR -> {
          String layer = gen.layerFields.layerField(k.layer());
          String local = gen.layerFields.localPrefix(k, j + 1);
          String rows = NormEmitter.rows(k);
          if (k.linear().bias() && !k.relu()) { // the bias folded into the product, as eager linear does
            b.addStatement("$T $LB = $L.bias()", TENSOR, local, layer);
            b.addStatement("$T.linear($L, $L, $L, $L, $L, $L.weight(), $LB.readBuffer(), $LB.offset(), $L, $L)", BLAS, rows,
                k.linear().outFeatures(), k.linear().inFeatures(), in.array(), in.offset(), layer, local, local, out.array(), out.offset());
          } else {
            b.addStatement("$T.sgemm(false, true, $L, $L, $L, 1f, $L, $L, $L, $L.weight(), $L, 0f, $L, $L, $L)",
                BLAS, rows, k.linear().outFeatures(), k.linear().inFeatures(), in.array(), in.offset(), k.linear().inFeatures(),
                layer, k.linear().inFeatures(), out.array(), out.offset(), k.linear().outFeatures());
            if (k.linear().bias()) { // with the ReLU: one pass for both
              b.addStatement("$T $LB = $L.bias()", TENSOR, local, layer);
              b.addStatement("$T.addBiasRelu($L, $L, $L, $L, $LB.readBuffer(), $LB.offset(), $L, $L)", KERNELS,
                  out.array(), out.offset(), out.array(), out.offset(), local, local, rows, k.linear().outFeatures());
            } else if (k.relu()) {
              b.addStatement("$T.reluForward($L, $L, $L, $L, n * $L)", KERNELS, out.array(), out.offset(), out.array(), out.offset(),
                  k.outPerSample());
            }
          }
        }
        case CONV -> {
          if (k.functionalConv()) { // F.conv2d(x, w, b): the layer's kernel, the weight and bias read where the fields live
            TensorIr w = gen.stepCalls.convField(k, 1), bias = gen.stepCalls.convField(k, 2);
            b.addStatement("$T.$LForward($L, $L, $L, $L, $L.readBuffer(), $L, $L, p.shape$L)", CONV, StepCalls.convName(k), out.array(), out.offset(),
                in.array(), in.offset(), gen.parameterCode.readExpression(w), gen.parameterCode.fieldOffset(w), gen.stepCalls.fieldArguments(bias), j + 1);
            break;
          }
          String layer = gen.layerFields.layerField(k.layer());
          String local = gen.layerFields.localPrefix(k, j + 1);
          boolean bias = StepCalls.convBias(k);
          b.addStatement("$T $LW = $L.weight()", TENSOR, local, layer);
          if (bias) {
            b.addStatement("$T $LB = $L.bias()", TENSOR, local, layer);
          }
          Ref read = in;
          if (StepCalls.paddedInput(k) != null) { // an output padding of at least the stride: x padded with zeros, as eager mode pads it
            b.addStatement("$T.indexMap(p.padded$L, 0, $L, $L, new int[] {$L}, new int[] {$L}, new boolean[4], new long[4], 0f)", INDEX,
                j + 1, in.array(), in.offset(), Generator.batchShape(StepCalls.paddedInput(k)), Generator.batchShape(k.inShape()));
            read = new Ref("p.padded" + (j + 1), "0", true);
          }
          b.addStatement("$T.$LForward($L, $L, $L, $L, $LW.readBuffer(), $LW.offset(), $L, p.shape$L)", CONV, StepCalls.convName(k),
              out.array(), out.offset(), read.array(), read.offset(), local, local,
              bias ? local + "B.readBuffer(), " + local + "B.offset()" : "null, 0", j + 1);
        }
        case EMBEDDING -> {
          if (k.spec() instanceof ConstantIds c) { // wpe.apply(pos): the ids' rows, once per sample
            gen.stepCalls.constantIdsForward(b, k, c, j + 1, out);
            break;
          }
          if (k.spec() instanceof EmbeddingBag.Spec bag) { // each sample's ids one bag, reduced as eager's
            String local = gen.layerFields.localPrefix(k, j + 1);
            b.addStatement("$T $LW = $L.weight()", TENSOR, local, gen.layerFields.layerField(k.layer()))
                .addStatement("$T.embeddingBagForward($L, $L, $L, $L, null, n, $L, $LW.readBuffer(), $LW.offset(), $L, $L, $L, $L, null, $L,"
                    + " $L)", KERNELS, out.array(), out.offset(), in.array(), in.offset(), k.inPerSample(), local, local, bag.numEmbeddings(),
                    bag.embeddingDim(), bag.mode().ordinal(), bag.paddingIdx(), bag.mode() == EmbeddingBag.Mode.MAX ? "p.bagArgmax" + (j + 1) : "null",
                    gen.elementwise.idsShape(k)); // (the ids' tensor's shape, or ids computed in forward: theirs)
            break;
          }
          Embedding.Spec e = (Embedding.Spec) k.spec();
          String local = gen.layerFields.localPrefix(k, j + 1);
          b.addStatement("$T $LW = $L.weight()", TENSOR, local, gen.layerFields.layerField(k.layer()));
          if (!Generator.isInput(gen.storage.get(k.in()))) { // ids an argmax made in forward: their range checked per call, the layer named
            gen.elementwise.computedIdsForward(b, k, e, local, out, in);
            break;
          }
          b.addStatement("$T.embeddingForward($L, $L, $L, $L, n * $L, $LW.readBuffer(), $LW.offset(), $L, $L, x$L.shape())", KERNELS,
                  out.array(), out.offset(), in.array(), in.offset(), k.inPerSample(), local, local, e.numEmbeddings(), e.embeddingDim(),
                  gen.storage.get(k.in()).substring(2)); // the ids' tensor: x, or a further input's x1, x2, ...
        }
        case PAD -> ElementwiseEmitter.indexMap(b, k, out, in, false);
        case NORMALIZE -> ElementwiseEmitter.normalizeForward(b, k, j + 1, out, in);
        case LINE -> ElementwiseEmitter.lineForward(b, k, out, in);
        case IDS -> {
          if (k.spec() instanceof IdMove) { // ids.flip(1): the float move of the ids
            IdMoves.forward(b, k, out, in, k.inputs().size() > 1 ? gen.ref(k.inputs().get(1), refs) : null,
                k.inputs().size() > 2 ? gen.ref(k.inputs().get(2), refs) : null);
          } else {
            ElementwiseEmitter.idArithmeticForward(b, k, out, in, k.inputs().size() > 1 ? gen.ref(k.inputs().get(1), refs) : null);
          }
        }
        case TILE -> ElementwiseEmitter.spreadPasses(b, k.tilePasses(), in, out, "p.tile" + (j + 1) + "_");
        case COSINE -> ElementwiseEmitter.cosineForward(b, k, j + 1, out, in, gen.ref(k.inputs().get(1), refs));
        case UPSAMPLE -> b.addStatement("$T.upsampleNearestForward($L, $L, $L, $L, $L)", CONV, out.array(), out.offset(), in.array(),
            in.offset(), StepCalls.upsampleArgs(k));
        case RECURRENT -> b.add("// the eager layer's kernels over the plan's buffers, time-major inside (keeping what a backward needs when it may run)\n")
            .addStatement("p.rnn$L.forward($L, $L, $L, $L$L, $L.flatWeights(), $L, $T.generator(), $T.isGradEnabled())", j + 1, out.array(),
                out.offset(), in.array(), in.offset(), gen.stepCalls.initialStatesArgs(k, refs), gen.layerFields.layerField(k.layer()),
                StepCalls.dropsBetweenLayers(k) ? "training[" + (j + 1) + "]" : "false", KILN, KILN);
        case SLICE -> IdMoves.sliceForward(b, k, out, in);
        case AVGPOOL -> b.addStatement("p.shape$L.forward($L, $L, $L, $L, n * $L)", j + 1, out.array(), out.offset(), in.array(), in.offset(),
            k.channels());
        case POOL -> {
          if (gen.pooledInOnePass.containsKey(k.in())) {
            b.add("// computed with the batch norm above, in one pass\n");
          } else {
            // no grad mode (inference): the values alone, as PyTorch's pooling keeps no indices there
            b.addStatement("$T.maxPool2dForward($L, $L, $T.isGradEnabled() ? p.argmax$L : null, $L, $L, p.shape$L)", CONV,
                out.array(), out.offset(), KILN, j + 1, in.array(), in.offset(), j + 1);
          }
        }
        case BATCHNORM -> {
          Integer pool = gen.pooledInOnePass.get(k.out());
          gen.norms.batchNormForward(b, k, j + 1, in, pool == null ? out : gen.ref(gen.kernels.get(pool).out(), refs), pool == null ? -1 : pool + 1);
        }
        case LAYERNORM -> {
          LayerNorm.Spec s = (LayerNorm.Spec) k.spec();
          b.addStatement("$T.layerNormForward($L, $L, $L, $L, $L, p.mean$L, p.rstd$L, n * $L, $L, $L)", NORM, out.array(), out.offset(),
              in.array(), in.offset(), NormEmitter.affineArguments(gen.layerFields.layerField(k.layer()), s.elementwiseAffine()), j + 1, j + 1, NormEmitter.layerNormRows(k),
              NormEmitter.layerNormInner(k), s.eps());
        }
        case GROUPNORM -> gen.norms.groupNormForward(b, k, j + 1, in, out);
        case PRELU -> PReluSteps.forward(gen, b, k, in, out);
        case DROPOUT -> {
          b.beginControlFlow("if (training[$L])", j + 1);
          if (k.spec() instanceof Dropout2d.Spec) { // each channel's mask value over its map
            b.addStatement("$T.dropoutMask(p.mask$L, 0, n * $L, $L, $T.generator())", ACTIVATIONS, j + 1, StepCalls.maskPerSample(k),
                StepCalls.dropoutP(k), KILN);
            b.addStatement("$T.mulRepeatedForward($L, $L, $L, $L, p.mask$L, 0, n * $L, $L, 1)", KERNELS, out.array(), out.offset(),
                in.array(), in.offset(), j + 1, k.channels(), k.spatial());
          } else { // drawn and applied in one pass, the mask kept for the backward
            b.addStatement("$T.dropoutForward($L, $L, $L, $L, p.mask$L, 0, n * $L, $L, $T.generator())", ACTIVATIONS, out.array(),
                out.offset(), in.array(), in.offset(), j + 1, k.outPerSample(), StepCalls.dropoutP(k), KILN);
          }
          b.nextControlFlow("else")
              .addStatement("System.arraycopy($L, $L, $L, $L, n * $L)", in.array(), in.offset(), out.array(), out.offset(), k.outPerSample())
              .endControlFlow();
        }
      }
    }
    if (gen.kernels.stream().allMatch(k -> k.kind() == Kernel.Kind.VIEW)) {
      b.addStatement("System.arraycopy(in, inOff, out, 0, out.length)");
    }
    if (gen.outputs != null) {
      return gen.outputsMembers.outputsMethod(b);
    }
    List<String> params = gen.parameterCode.parameterExpressions();
    String shapeArgs = "n" + (outShape.length > 1 ? ", " + Generator.joined(Arrays.copyOfRange(outShape, 1, outShape.length)) : "");
    b.beginControlFlow("if (!$T.recording(x$L$L))", COMPILED, gen.inputsMembers.furtherArguments(), params.isEmpty() ? ""
        : ", " + params.stream().map(gen.parameterCode::recordingInput).collect(Collectors.joining(", ")))
        .addStatement("return $T.wrap(out, $L)", TENSOR, shapeArgs)
        .endControlFlow()
        .addStatement("return $T.ofNode(out, new int[] {$L}, new Backward(x$L, p, out$L))", TENSOR, shapeArgs, gen.inputsMembers.furtherArguments(),
            gen.forwardMethods.usesTrainingMode() ? ", training" : "");
    if (gen.ir.isInputsGraph()) {
      return MethodSpec.methodBuilder("forward")
          .addJavadoc("The fused $L: x and the further inputs $L, in order.\n", gen.ir.inputs().method(), gen.inputsMembers.furtherLabels())
          .returns(TENSOR).addParameters(gen.inputsMembers.inputParameters()).addCode(gen.cudaEmitter.cudaGuard("forward")).addCode(OutputsMembers.releasing(b).build()).build();
    }
    if (gen.modeGraph) {
      return MethodSpec.methodBuilder("forward").addJavadoc("The fused forward in this mode.\n").returns(TENSOR)
          .addParameter(TENSOR, "x").addCode(gen.cudaEmitter.cudaGuard("forward")).addCode(OutputsMembers.releasing(b).build()).build();
    }
    return gen.forwardMethods.forwardMethod(OutputsMembers.releasing(b).build());
  }
}
