package dev.kiln.processor.gen;

import dev.kiln.processor.gen.Generator.Ref;
import static dev.kiln.processor.gen.Generator.TENSOR;
import static dev.kiln.processor.gen.Generator.NODE;
import static dev.kiln.processor.gen.Generator.COMPILED;
import static dev.kiln.processor.gen.Generator.OUTPUT_GRADIENTS;
import static dev.kiln.processor.gen.Generator.BLAS;
import static dev.kiln.processor.gen.Generator.KERNELS;
import static dev.kiln.processor.gen.Generator.CONV;
import static dev.kiln.processor.gen.Generator.NORM;
import static dev.kiln.processor.gen.Generator.ACTIVATIONS;
import static dev.kiln.processor.gen.Generator.MATH;
import static dev.kiln.processor.gen.Generator.POINTWISE;
import static dev.kiln.processor.gen.Generator.INDEX;
import static dev.kiln.processor.gen.Generator.SLICES;
import static dev.kiln.processor.gen.Generator.FLOATS;

import com.palantir.javapoet.ArrayTypeName;
import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import com.palantir.javapoet.FieldSpec;
import com.palantir.javapoet.MethodSpec;
import com.palantir.javapoet.TypeName;
import com.palantir.javapoet.TypeSpec;
import dev.kiln.dsl.Dropout2d;
import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.EmbeddingBag;
import dev.kiln.dsl.GELU;
import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.LeakyReLU;
import dev.kiln.dsl.LogSoftmax;
import dev.kiln.dsl.SiLU;
import dev.kiln.dsl.Softmax;
import dev.kiln.processor.ir.MaskedFill;
import dev.kiln.processor.ir.ConstantIds;
import dev.kiln.processor.ir.LineOp;
import dev.kiln.processor.ir.Tile;
import dev.kiln.processor.ir.Scale;
import dev.kiln.processor.ir.TensorIr;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import javax.lang.model.element.Modifier;

/**
 * The fused backward, for {@link Generator}: the {@code Node} whose backward runs the kernels in eager
 * mode's order, each one's gradient written or added, parameter gradients added, and the input's gradient returned.
 */
final class BackwardEmitter {
  private final Generator gen;

  BackwardEmitter(Generator gen) {
    this.gen = gen;
  }

  // ------------------------------------------------------------------ backward

  TypeSpec backward() {
    List<String> params = gen.parameterCode.parameterExpressions();
    MethodSpec.Builder ctorBuilder = MethodSpec.constructorBuilder()
        .addParameters(gen.inputsMembers.inputParameters()).addParameter(ClassName.get("", "Plan"), "p").addParameter(FLOATS, "out");
    if (gen.outputs != null) {
      ctorBuilder.addParameter(OUTPUT_GRADIENTS, "outputGradients");
    }
    if (gen.forwardMethods.usesTrainingMode()) {
      ctorBuilder.addParameter(ArrayTypeName.of(TypeName.BOOLEAN), "training");
    }
    ctorBuilder.addStatement("super(x$L$L)", gen.inputsMembers.furtherArguments(), params.isEmpty() ? "" : ", "
        + params.stream().map(gen.parameterCode::nodeInput).collect(Collectors.joining(", ")))
        .addStatement("this.x = x");
    for (int j = 1; j <= gen.ir.further().size(); j++) {
      ctorBuilder.addStatement("this.x$L = x$L", j, j);
    }
    ctorBuilder
        .addStatement("this.p = p")
        .addStatement("this.out = out")
        .addStatement("this.generation = p.holdForBackward()");
    if (gen.outputs != null) {
      ctorBuilder.addStatement("this.outputGradients = outputGradients");
    }
    if (gen.forwardMethods.usesTrainingMode()) {
      ctorBuilder.addStatement("this.training = training");
    }
    MethodSpec ctor = ctorBuilder.build();

    CodeBlock.Builder b = CodeBlock.builder()
        .addStatement("p.enterBackward($S, generation, lastBackward())", gen.name)
        .beginControlFlow("try")
        .addStatement("p.gradients()")
        .addStatement("int n = p.n")
        .addStatement("float[] in = x.readBuffer()")
        .addStatement("int inOff = x.offset()")
        .addStatement("float[] dx = needsGrad(0) ? new float[n * $L] : null", gen.sizes.get("in"));
    gen.inputsMembers.readFurtherInputs(b);
    for (int j = 1; j <= gen.ir.further().size(); j++) {
      if (gen.inputGradients.contains("in" + j)) {
        b.addStatement("float[] dx$L = needsGrad($L) ? new float[n * $L] : null", j, j, gen.sizes.get("in" + j));
      } else {
        b.add(gen.ir.furtherIsIds(gen.ir.further().get(j - 1)) ? "// $L is ids, which an Embedding looks up: it gets no gradient\n"
            : "// $L is read as a mask only: it gets no gradient\n", gen.ir.further().get(j - 1).name());
      }
    }
    for (TensorIr t : gen.parameterCode.parameterWheres()) { // each reader's gradient summed here, returned for eager's where backward
      b.addStatement("float[] $L = null", gen.parameterCode.whereGradient(t));
    }
    if (!gen.zeroedGradients.isEmpty()) {
      b.add("// gradients of values several steps read: each adds its own, and a step no gradient reaches is skipped\n");
      gen.zeroedGradients.forEach(st -> b.addStatement("$T.fill(p.d$L, 0f)", Arrays.class, st));
    }
    Map<String, Ref> refs = new LinkedHashMap<>();
    String finalStorage = gen.kernels.isEmpty() ? "in" : gen.storage.get(gen.kernels.get(gen.kernels.size() - 1).out());
    Map<String, Ref> grads = new LinkedHashMap<>();
    grads.put(finalStorage, new Ref("g.readBuffer()", "g.offset()", false));
    OutputsMembers.OutputGradientFlow flow = gen.outputs == null ? null : gen.outputsMembers.new OutputGradientFlow(b, grads);
    // A step's input gradient is needed only when a step before it has a parameter that requires grad, or
    // x does (fine-tuning with frozen layers): below the last such step the backward stops.
    b.add("// needK: whether step K's input gradient is needed (a parameter before it, or x, requires grad); dInK\n"
        + "// is its buffer then, else null. Each step returns first when its output's gradient is not needed, so\n"
        + "// frozen early layers cost nothing\n");
    String below = "dx != null" + gen.inputGradients.stream().map(st -> " || " + Generator.inputGradient(st) + " != null").collect(Collectors.joining());
    for (int i = 0; i < gen.kernels.size(); i++) {
      Kernel k = gen.kernels.get(i);
      if (k.kind() == Kernel.Kind.VIEW) {
        continue;
      }
      if (i > 0) {
        b.addStatement("boolean need$L = $L", i, below);
        below = "need" + i;
        String inStorage = gen.storage.get(k.in());
        if (inStorage != null && !Generator.isInput(inStorage)) { // (none for a tensor field: a where of two, Planner.plan)
          b.addStatement("float[] dIn$L = need$L ? p.d$L : null", i, i, inStorage);
        }
        for (int w = 1; w < k.inputs().size(); w++) {
          String joined = gen.storage.get(k.inputs().get(w));
          if (joined != null && !Generator.isInput(joined)) { // (a tensor field's gradient, if any, is its own; an input's is dxK)
            b.addStatement("float[] dIn$L_$L = need$L ? p.d$L : null", i, w, i, joined);
          }
        }
      }
      List<String> own = gen.parameterCode.trainable(k);
      if (!own.isEmpty()) {
        below = below + " || " + String.join(" || ", own);
      }
    }
    String needAbove = null; // the needK of the step after this one: whether this step's output gradient is needed
    for (int at = 0; at < gen.backwardOrder.size(); at++) {
      int i = gen.backwardOrder.get(at);
      Kernel k = gen.kernels.get(i);
      if (k.kind() == Kernel.Kind.VIEW) {
        continue;
      }
      if (flow != null) {
        flow.enter(gen.storage.get(k.out()));
      }
      b.add("// $L: gradient of $L   $L\n", k.label(), ElementwiseEmitter.inShapes(k), k.source().where());
      // needAbove: the needK of the step after this one in program order (none for the last)
      needAbove = IntStream.range(i + 1, gen.kernels.size()).filter(j -> gen.kernels.get(j).kind() != Kernel.Kind.VIEW)
          .mapToObj(j -> "need" + j).findFirst().orElse(null);
      // in eager's order a step after this one in program order may still come (one of another branch): skip this one
      boolean skips = needAbove != null && gen.backwardOrder.subList(at + 1, gen.backwardOrder.size()).stream().anyMatch(j -> j > i);
      if (needAbove != null && !skips) { // at each step (after an output's gradient joined, too): nothing left to do, return
        b.beginControlFlow("if (!$L)", needAbove);
        gen.parameterCode.returnGradients(b, null, params.size() + 1 + gen.ir.further().size()); // x needs no gradient: dx is null
        b.endControlFlow();
      }
      String runs = gen.runIf.get(i);
      if (runs != null) {
        b.add("// only when an output this step leads to received a gradient\n").beginControlFlow("if ($L)", runs);
      } else if (skips) {
        runs = needAbove;
        b.add("// only when a step before it needs its gradient (a later one in program order still comes: no return)\n")
            .beginControlFlow("if ($L)", runs);
      }
      if (Generator.sendsNoGradient(k)) { // (its values read only as a mask got no gradient either)
        b.add(k.kind() == Kernel.Kind.COMPARE ? "// a comparison has no gradient\n"
            : k.spec() instanceof LineOp l ? "// an " + l.kind().name().toLowerCase(Locale.ROOT) + " has no gradient\n"
            : k.spec() instanceof dev.kiln.processor.ir.IdMove ? "// ids moved have no gradient\n"
            : k.kind() == Kernel.Kind.IDS ? "// integer arithmetic of ids has no gradient\n"
            : k.label().endsWith("mask expanded)") ? "// a where's mask has no gradient\n" : "// ids have no gradient\n");
        if (runs != null) {
          b.endControlFlow();
        }
        continue;
      }
      Ref in = gen.ref(k.in(), refs);
      Ref out = gen.ref(k.out(), refs);
      // (a returned value no step reads has the gradient the loss sent it alone)
      Ref d = grads.computeIfAbsent(gen.storage.get(k.out()), st -> flow.gradient(st));
      String inStorage = gen.storage.get(k.in());
      Ref target = inStorage == null ? null // a tensor field (a where of two), whose gradient is its own
          : Generator.isInput(inStorage) ? new Ref(Generator.inputGradient(inStorage), "0", true) : new Ref("p.d" + inStorage, "0", true);
      boolean conditional = inStorage != null && !Generator.isInput(inStorage) && i > 0;
      if (conditional) { // null when nothing before this step needs its input's gradient
        target = new Ref("dIn" + i, target.offset(), true);
      }
      if (Generator.masksInPlace(k) && !d.owned()) { // work on a copy of the incoming gradient
        b.addStatement("System.arraycopy($L, $L, p.dout, 0, n * $L)", d.array(), d.offset(), k.outPerSample());
        d = new Ref("p.dout", "0", true);
      }
      int j = i + 1;
      if (k.kind() == Kernel.Kind.EMBEDDING && k.spec() instanceof ConstantIds c) { // summed over the batch, then by id
        gen.stepCalls.constantIdsBackward(b, k, c, j, d);
        if (runs != null) {
          b.endControlFlow();
        }
        continue;
      }
      if (k.kind() == Kernel.Kind.EMBEDDING && k.spec() instanceof EmbeddingBag.Spec bag) { // each bag's gradient into its rows
        String layer = gen.layerFields.layerField(k.layer());
        String local = gen.layerFields.localPrefix(k, j);
        b.addStatement("float[] $LGW = $T.gradBuffer($L.weight(), $L)", local, COMPILED, layer, gen.parameterCode.recordedNeed(layer + ".weight()"))
            .beginControlFlow("if ($LGW != null)", local)
            .addStatement("$T.embeddingBagBackward($LGW, 0, $L, $L, $L, $L, null, n, $L, $L, $L, $L, null, $L)", KERNELS, local, d.array(),
                d.offset(), in.array(), in.offset(), k.inPerSample(), bag.embeddingDim(), bag.mode().ordinal(), bag.paddingIdx(),
                bag.mode() == EmbeddingBag.Mode.MAX ? "p.bagArgmax" + j : "null")
            .endControlFlow();
        if (runs != null) {
          b.endControlFlow();
        }
        continue;
      }
      if (k.kind() == Kernel.Kind.EMBEDDING) { // the weight's rows, by id; the ids get no gradient
        Embedding.Spec e = (Embedding.Spec) k.spec();
        String layer = gen.layerFields.layerField(k.layer());
        b.addStatement("$T.embeddingBackward($L.weight(), $L, $L, $L, $L, $L, n * $L, $L, $L)", COMPILED, layer,
            gen.parameterCode.recordedNeed(layer + ".weight()"), d.array(), d.offset(), in.array(), in.offset(), k.inPerSample(), e.embeddingDim(), e.paddingIdx());
        if (runs != null) {
          b.endControlFlow();
        }
        continue;
      }
      if (k.kind() == Kernel.Kind.COSINE) {
        gen.elementwise.cosineBackward(b, k, i, d, target, grads, refs);
        if (runs != null) {
          b.endControlFlow();
        }
        continue;
      }
      if (k.arithmetic() || k.kind() == Kernel.Kind.CAT || k.kind() == Kernel.Kind.MATMUL || k.kind() == Kernel.Kind.WHERE
          || k.kind() == Kernel.Kind.POINTWISE_PAIR || k.kind() == Kernel.Kind.SCATTER) {
        gen.stepGradients.joinBackward(b, k, i, d, out, target, grads, refs);
        if (runs != null) {
          b.endControlFlow();
        }
        continue;
      }
      // the input's gradient is already written by a step after this one: this step's is added to it
      boolean accumulate = gen.accumulating.contains(i + ":0");
      Ref written = target;
      if (accumulate && !Generator.addsItself(k)) {
        b.add("// $L is read by a later step too, whose gradient is there already: this one's is added\n", k.in().equals(gen.ir.inputName())
                ? "the input" : "this step's input")
            .addStatement("float[] t$L = $L != null ? p.t$L : null", j, target.array(), inStorage);
        target = new Ref("t" + j, "0", true);
      }
      if (k.functionalConv()) { // the weight's and bias's gradients added to the fields' own (none for a buffer)
        TensorIr w = gen.stepCalls.convField(k, 1), bias = gen.stepCalls.convField(k, 2);
        b.addStatement("$T.$LBackward($L, $L, $L, $L, $L, $L, true, $L, $L, $L, $L, $L.readBuffer(), $L, p.shape$L)", CONV, StepCalls.convName(k),
            target.array(), target.offset(), gen.stepCalls.convFieldGradient(w), ParameterCode.gradOffset(w),
            gen.stepCalls.convFieldGradient(bias), bias == null ? "0" : ParameterCode.gradOffset(bias),
            d.array(), d.offset(), in.array(), in.offset(), gen.parameterCode.readExpression(w), gen.parameterCode.fieldOffset(w), j);
      } else if (k.kind() == Kernel.Kind.CONV) {
        String layer = gen.layerFields.layerField(k.layer());
        String local = gen.layerFields.localPrefix(k, j);
        int[] padded = StepCalls.paddedInput(k);
        // an output padding of at least the stride: the padded x's gradient, of which x's is the top left (pad's backward)
        String dx = padded == null ? target.array() : target.array() + " == null ? null : p.dPadded" + j;
        b.addStatement("$T $LW = $L.weight()", TENSOR, local, layer)
            .addStatement("$T.$LBackward($L, $L, $T.gradBuffer($L.weight(), $L), 0, $L, 0, true, $L, $L, $L, $L, $LW.readBuffer(), $LW.offset(), p.shape$L)",
                CONV, StepCalls.convName(k), dx, padded == null ? target.offset() : "0", COMPILED, layer, gen.parameterCode.recordedNeed(layer + ".weight()"),
                StepCalls.convBias(k)
                    ? CodeBlock.of("$T.gradBuffer($L.bias(), $L)", COMPILED, layer, gen.parameterCode.recordedNeed(layer + ".bias()")) : "null",
                d.array(), d.offset(), padded == null ? in.array() : "p.padded" + j, padded == null ? in.offset() : "0", local, local, j);
        if (padded != null) {
          b.beginControlFlow("if ($L != null)", target.array())
              .addStatement("$T.indexMap($L, $L, p.dPadded$L, 0, new int[] {$L}, new int[] {$L}, new boolean[4], new long[4], 0f)", INDEX,
                  target.array(), target.offset(), j, Generator.batchShape(k.inShape()), Generator.batchShape(padded))
              .endControlFlow();
        }
      } else if (k.kind() == Kernel.Kind.PERMUTE) { // the gradient permuted back
        b.addStatement("$T.permute($L, $L, $L, $L, new int[] {$L}, new int[] {$L}, $L)", KERNELS, target.array(), target.offset(),
            d.array(), d.offset(), Generator.batchShape(k.outShape()), Generator.joined(Generator.inverseOrder(k)), accumulate);
      } else if (k.kind() == Kernel.Kind.SCALE) {
        b.addStatement("$T.scale($L, $L, $L, $L, n * $L, $Lf, $L)", KERNELS, target.array(), target.offset(), d.array(), d.offset(),
            k.outPerSample(), ((Scale) k.spec()).factor(), accumulate);
      } else if (k.kind() == Kernel.Kind.SHIFT) { // the gradient as it is
        b.addStatement("$T.addBackward($L, $L, $L, $L, null, 0, n * $L, $L)", KERNELS, target.array(), target.offset(), d.array(),
            d.offset(), k.outPerSample(), accumulate);
      } else if (k.kind() == Kernel.Kind.REDUCE) { // the gradient (over the size, for a mean) along the dimension
        b.addStatement("$T.$L($L, $L, $L, $L, $L, $L, $L)", MATH, StepGradients.reducesOver(k) ? "spreadOver" : "spreadAlong", target.array(),
            target.offset(), d.array(), d.offset(), StepGradients.reduceAxes(k), StepGradients.reduceFactor(k), accumulate);
      } else if (k.kind() == Kernel.Kind.MASKED_FILL && ((MaskedFill) k.spec()).byValue()) { // zero where the mask input filled
        b.addStatement("$T.maskedFillRepeatedBackward($L, $L, $L, $L, $L, $L)", KERNELS, target.array(), target.offset(), d.array(),
            d.offset(), gen.inputsMembers.maskInputArgs(k, refs), accumulate);
      } else if (k.kind() == Kernel.Kind.MASKED_FILL) { // the gradient, zero where the mask filled
        b.addStatement("$T.maskedFillBackward($L, $L, $L, $L, $L, $L, $L)", KERNELS, target.array(), target.offset(), d.array(),
            d.offset(), CudaEmitter.maskBlocks(k), gen.cudaEmitter.maskArgs(k), accumulate);
      } else if (gen.placing.contains(i)) { // a piece of a split, whose pieces write their slices of its input's gradient
        b.add("// the split's pieces write its input's gradient between them: this piece's is copied into its slice\n")
            .addStatement("$T.pieceBackward($L, $L, $L, $L, $L)", SLICES, target.array(), target.offset(), d.array(), d.offset(), StepCalls.sliceArgs(k));
      } else if (k.kind() == Kernel.Kind.SLICE) { // the gradient into the slice, zero elsewhere
        b.addStatement("$T.narrowBackward($L, $L, $L, $L, $L, $L)", SLICES, target.array(), target.offset(), d.array(), d.offset(),
            StepCalls.sliceArgs(k), accumulate);
      } else if (k.kind() == Kernel.Kind.RECURRENT) { // back through time; each parameter's gradient added to its own
        String layer = gen.layerFields.layerField(k.layer());
        List<CodeBlock> parameterGrads = gen.parameterCode.parametersOf(k.layer()).stream()
            .map(param -> CodeBlock.of("$T.grad($L, $L)", COMPILED, param, gen.parameterCode.recordedNeed(param))).toList();
        b.addStatement("p.rnn$L.backward($L, $L, $L, $L, $L$L, $L.flatWeights(), new $T[] {\n$>$>$L$<$<})", j, target.array(),
            target.offset(), accumulate, d.array(), d.offset(), gen.stepCalls.initialStatesGradient(k, i, grads), layer, TENSOR, CodeBlock.join(parameterGrads, ",\n"));
      } else if (k.kind() == Kernel.Kind.NORMALIZE) {
        b.beginControlFlow("if ($L != null)", target.array());
        ElementwiseEmitter.normalizeBackward(b, k, j, target, d, in, out);
        b.endControlFlow();
      } else if (k.kind() == Kernel.Kind.PAD) { // the inverse map: each input entry's gradient read where the forward wrote it
        b.beginControlFlow("if ($L != null)", target.array());
        ElementwiseEmitter.indexMap(b, k, target, d, true);
        b.endControlFlow();
      } else if (k.kind() == Kernel.Kind.LINE) {
        b.beginControlFlow("if ($L != null)", target.array());
        ElementwiseEmitter.lineBackward(b, k, target, d, in, out);
        b.endControlFlow();
      } else if (k.kind() == Kernel.Kind.TILE && k.expandsField()) { // the field's gradient: summed over the batch, added to its own
        gen.stepGradients.expandedFieldBackward(b, k, d);
      } else if (k.kind() == Kernel.Kind.TILE) {
        b.beginControlFlow("if ($L != null)", target.array());
        ElementwiseEmitter.sumPasses(b, k.tilePasses(), d, target, "p.dtile" + j + "_");
        b.endControlFlow();
      } else if (k.kind() == Kernel.Kind.UPSAMPLE) {
        b.beginControlFlow("if ($L != null)", target.array())
            .addStatement("$T.upsampleNearestBackward($L, $L, $L, $L, $L)", CONV, target.array(), target.offset(), d.array(), d.offset(),
                StepCalls.upsampleArgs(k))
            .endControlFlow();
      } else if (k.kind() == Kernel.Kind.AVGPOOL) {
        b.beginControlFlow("if ($L != null)", target.array())
            .addStatement("p.shape$L.backward($L, $L, $L, $L, n * $L)", j, target.array(), target.offset(), d.array(), d.offset(), k.channels())
            .endControlFlow();
      } else if (k.kind() == Kernel.Kind.POOL) {
        b.beginControlFlow("if ($L != null)", target.array());
        if (gen.maskedByPooling.contains(k.in())) { // the preceding ReLU's mask, applied to the pooled values
          b.addStatement("$T.maxPool2dReluBackward($L, $L, $L, $L, $L, $L, p.argmax$L, p.shape$L)", CONV, target.array(),
              target.offset(), d.array(), d.offset(), out.array(), out.offset(), j, j);
        } else {
          b.addStatement("$T.maxPool2dBackward($L, $L, $L, $L, p.argmax$L, p.shape$L)", CONV, target.array(), target.offset(),
              d.array(), d.offset(), j, j);
        }
        b.endControlFlow();
      } else if (k.kind() == Kernel.Kind.DROPOUT) {
        b.beginControlFlow("if ($L != null && training[$L])", target.array(), j);
        if (k.spec() instanceof Dropout2d.Spec) {
          b.addStatement("$T.mulRepeatedBackward($L, $L, $L, $L, p.mask$L, 0, n * $L, $L, 1, false)", KERNELS, target.array(),
              target.offset(), d.array(), d.offset(), j, k.channels(), k.spatial());
        } else {
          b.addStatement("$T.applyMask($L, $L, $L, $L, p.mask$L, 0, n * $L)", ACTIVATIONS, target.array(), target.offset(),
              d.array(), d.offset(), j, k.outPerSample());
        }
        b.nextControlFlow("else if ($L != null)", target.array())
            .addStatement("System.arraycopy($L, $L, $L, $L, n * $L)", d.array(), d.offset(), target.array(), target.offset(), k.outPerSample())
            .endControlFlow();
      } else if (k.kind() == Kernel.Kind.BATCHNORM) {
        gen.norms.batchNormBackward(b, k, j, in, d, target);
      } else if (k.kind() == Kernel.Kind.GROUPNORM) {
        gen.norms.groupNormBackward(b, k, j, in, d, target);
      } else if (k.kind() == Kernel.Kind.PRELU) {
        PReluSteps.backward(gen, b, k, in, d, target);
      } else if (k.kind() == Kernel.Kind.LAYERNORM) {
        LayerNorm.Spec s = (LayerNorm.Spec) k.spec();
        String ln = gen.layerFields.layerField(k.layer());
        b.addStatement("$T.layerNormBackward($L, $L, $L, true, $L, $L, $L, $L, $L, p.mean$L, p.rstd$L, n * $L, $L)", NORM,
            target.array(), target.offset(), gen.norms.affineGradients(ln, s.elementwiseAffine()), d.array(), d.offset(), in.array(), in.offset(),
            NormEmitter.weightArguments(ln, s.elementwiseAffine()), j, j, NormEmitter.layerNormRows(k), NormEmitter.layerNormInner(k));
      } else if (k.kind() == Kernel.Kind.RELU) {
        b.beginControlFlow("if ($L != null)", target.array())
            .addStatement("$T.reluBackward($L, $L, $L, $L, $L, $L, n * $L)", KERNELS, target.array(), target.offset(),
                d.array(), d.offset(), out.array(), out.offset(), k.outPerSample())
            .endControlFlow();
      } else if (k.kind() == Kernel.Kind.POINTWISE) {
        b.beginControlFlow("if ($L != null)", target.array());
        ElementwiseEmitter.pointwiseBackward(b, k, target, d, in, out);
        b.endControlFlow();
      } else if (k.kind() == Kernel.Kind.ACTIVATION) {
        b.beginControlFlow("if ($L != null)", target.array());
        if (Planner.isPiecewise(k.spec())) { // from the input, as eager mode's
          StepCalls.piecewiseBackward(b, k, target, d, in);
        } else if (k.spec() instanceof LeakyReLU.Spec l) { // from the input: its sign picks the slope
          b.addStatement("$T.leakyReluBackward($L, $L, $L, $L, $L, $L, n * $L, $Lf)", ACTIVATIONS, target.array(),
              target.offset(), d.array(), d.offset(), in.array(), in.offset(), k.outPerSample(), (float) l.negativeSlope());
        } else if (k.spec() instanceof GELU.Spec) { // the slope the forward kept (Phi(x) + x phi(x), or the tanh form's): the backward kernel's bits
          b.addStatement("$T.applyMask($L, $L, $L, $L, p.slope$L, 0, n * $L)", ACTIVATIONS, target.array(), target.offset(),
              d.array(), d.offset(), j, k.outPerSample());
        } else if (k.spec() instanceof SiLU.Spec) { // from the input: s (1 + x (1 - s))
          b.addStatement("$T.$LBackward($L, $L, $L, $L, $L, $L, n * $L)", ACTIVATIONS, ElementwiseEmitter.activationName(k), target.array(),
              target.offset(), d.array(), d.offset(), in.array(), in.offset(), k.outPerSample());
        } else if (k.spec() instanceof Softmax.Spec || k.spec() instanceof LogSoftmax.Spec) {
          // from the output: y (g - sum(g y)) along the dimension, or g - exp(y) sum(g) for log-softmax
          b.addStatement("$T.$LBackward($L, $L, $L, $L, $L, $L, $L)", ACTIVATIONS, StepCalls.softmaxName(k), target.array(), target.offset(),
              d.array(), d.offset(), out.array(), out.offset(), StepCalls.softmaxAxes(k));
        } else { // from the output: y (1 - y) for sigmoid, 1 - y^2 for tanh
          b.addStatement("$T.$LBackward($L, $L, $L, $L, $L, $L, n * $L)", ACTIVATIONS, ElementwiseEmitter.activationName(k), target.array(),
              target.offset(), d.array(), d.offset(), out.array(), out.offset(), k.outPerSample());
        }
        b.endControlFlow();
      } else {
        String layer = gen.layerFields.layerField(k.layer());
        String rows = NormEmitter.rows(k);
        int inF = k.linear().inFeatures(), outF = k.linear().outFeatures();
        String gb = k.linear().bias() ? "$T.gradBuffer(" + layer + ".bias(), " + gen.parameterCode.recordedNeed(layer + ".bias()") + ")" : "null";
        if (k.relu()) {
          b.addStatement("$T.reluBackwardBiasGradient(" + gb + ", 0, $L, $L, $L, $L, $L, $L, true)",
              k.linear().bias() ? new Object[] {KERNELS, COMPILED, d.array(), d.offset(), out.array(), out.offset(), rows, outF}
                  : new Object[] {KERNELS, d.array(), d.offset(), out.array(), out.offset(), rows, outF});
        } else if (k.linear().bias()) {
          b.addStatement("$T.biasGradient($T.gradBuffer($L.bias(), $L), 0, $L, $L, $L, $L, true)", KERNELS, COMPILED, layer,
              gen.parameterCode.recordedNeed(layer + ".bias()"), d.array(), d.offset(), rows, outF);
        }
        String local = gen.layerFields.localPrefix(k, j);
        // both products from the gradient staged once: the weight's (none when its GW is null), the input's (none when
        // its buffer is null; beta 1 where a later step's gradient of the same input is there already)
        b.addStatement("$T $LGW = $T.grad($L.weight(), $L)", TENSOR, local, COMPILED, layer, gen.parameterCode.recordedNeed(layer + ".weight()"))
            .addStatement("$T.linearBackward($L, $L, $L, $L, $L, $L, $L, $LGW, $L.weight(), $L, $L, $L)", BLAS, rows, outF, inF,
                d.array(), d.offset(), in.array(), in.offset(), local, layer, accumulate ? "1f" : "0f", target.array(), target.offset());
      }
      if (accumulate && !Generator.addsItself(k)) {
        b.addStatement("$T.accumulate($L, $L, $L, 0, n * $L)", KERNELS, written.array(), written.offset(), target.array(), k.inPerSample());
      }
      if (runs != null) {
        b.endControlFlow();
      }
      grads.put(inStorage, written);
    }
    if (flow != null) {
      flow.enter("in");
      flow.close();
    } else if (gen.kernels.stream().allMatch(k -> k.kind() == Kernel.Kind.VIEW)) {
      b.beginControlFlow("if (dx != null)").addStatement("System.arraycopy(g.readBuffer(), g.offset(), dx, 0, dx.length)").endControlFlow();
    }
    b.addStatement("$T[] grads = new $T[$L]", TENSOR, TENSOR, params.size() + 1 + gen.ir.further().size())
        .addStatement("grads[0] = dx == null$L ? null : $T.wrap(dx, x.shape())", gen.reachedOrNot("in"), TENSOR);
    for (int j = 1; j <= gen.ir.further().size(); j++) {
      if (gen.inputGradients.contains("in" + j)) {
        b.addStatement("grads[$L] = dx$L == null$L ? null : $T.wrap(dx$L, x$L.shape())", j, j, gen.reachedOrNot("in" + j), TENSOR, j, j);
      }
    }
    gen.parameterCode.returnGradients(b, "grads", 0);
    OutputsMembers.releasing(b);

    return TypeSpec.classBuilder("Backward")
        .addModifiers(Modifier.PRIVATE, Modifier.FINAL)
        .superclass(NODE)
        .addJavadoc("Backward of one forward call; parameter gradients are accumulated in place, the input's is returned.\n")
        .addField(TENSOR, "x", Modifier.PRIVATE, Modifier.FINAL)
        .addFields(java.util.stream.IntStream.rangeClosed(1, gen.ir.further().size())
            .mapToObj(j -> FieldSpec.builder(TENSOR, "x" + j, Modifier.PRIVATE, Modifier.FINAL).build()).toList())
        .addField(ClassName.get("", "Plan"), "p", Modifier.PRIVATE, Modifier.FINAL)
        .addField(FLOATS, "out", Modifier.PRIVATE, Modifier.FINAL)
        .addField(TypeName.INT, "generation", Modifier.PRIVATE, Modifier.FINAL)
        .addFields(gen.outputs != null
            ? List.of(FieldSpec.builder(OUTPUT_GRADIENTS, "outputGradients", Modifier.PRIVATE, Modifier.FINAL).build()) : List.of())
        .addFields(gen.forwardMethods.usesTrainingMode()
            ? List.of(FieldSpec.builder(ArrayTypeName.of(TypeName.BOOLEAN), "training", Modifier.PRIVATE, Modifier.FINAL).build()) : List.of())
        .addMethod(ctor)
        .addMethod(MethodSpec.methodBuilder("name").addAnnotation(Override.class).addModifiers(Modifier.PUBLIC)
            .returns(String.class).addStatement("return $S", gen.name + ".backward").build())
        .addMethod(MethodSpec.methodBuilder("checkIntact").addAnnotation(Override.class).addModifiers(Modifier.PROTECTED)
            .addStatement("p.checkIntact($S, generation)", gen.name).build())
        .addMethod(MethodSpec.methodBuilder("backward").addAnnotation(Override.class).addModifiers(Modifier.PROTECTED)
            .returns(ArrayTypeName.of(TENSOR)).addParameter(TENSOR, "g").addCode(b.build()).build())
        .build();
  }
}
