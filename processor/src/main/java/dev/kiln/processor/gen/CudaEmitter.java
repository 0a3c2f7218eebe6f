package dev.kiln.processor.gen;

import static dev.kiln.processor.gen.Generator.TENSOR;
import static dev.kiln.processor.gen.Generator.COMPILED;
import static dev.kiln.processor.gen.Generator.CONV;
import static dev.kiln.processor.gen.Generator.POINTWISE;
import static dev.kiln.processor.gen.Generator.MASK_TEST;
import static dev.kiln.processor.gen.Generator.RECURRENT_OUTPUT;
import static dev.kiln.processor.gen.Generator.F;
import static dev.kiln.processor.gen.Generator.CUDA_COMPILED;
import static dev.kiln.processor.gen.Generator.CUDA_SOURCE;
import static dev.kiln.processor.gen.Generator.LINEAR;

import com.palantir.javapoet.ArrayTypeName;
import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import com.palantir.javapoet.FieldSpec;
import com.palantir.javapoet.MethodSpec;
import com.palantir.javapoet.TypeSpec;
import dev.kiln.dsl.BatchNorm;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Recurrent;
import dev.kiln.processor.ir.Cat;
import dev.kiln.processor.ir.Compare;
import dev.kiln.processor.ir.MaskedFill;
import dev.kiln.processor.ir.Cosine;
import dev.kiln.processor.ir.InitialStates;
import dev.kiln.processor.ir.PointwisePair;
import dev.kiln.processor.ir.Split;
import dev.kiln.processor.ir.TensorIr;
import dev.kiln.runtime.Shapes;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;
import javax.lang.model.element.Modifier;

/**
 * The CUDA side of the generated class, for {@link Generator}: the guard that sends a call on CUDA to
 * {@code forwardCuda}, that method's calls of the runtime's CUDA ops step by step (recurrent layers, split pieces,
 * masks shared by fills), and the nested class holding the model's CUDA source ({@link CudaSource}).
 */
final class CudaEmitter {
  private final Generator gen;

  CudaEmitter(Generator gen) {
    this.gen = gen;
  }

  /**
   * The fused code works on host arrays; on CUDA, {@link #forwardCuda} runs instead. A forward that
   * returns a component of the several-outputs method runs the declared forward, which calls that
   * method, whose override runs its own CUDA plan.
   */
  CodeBlock cudaGuard(String method) {
    List<String> params = gen.parameterCode.parameterExpressions();
    String args = params.isEmpty() ? "" : ", " + String.join(", ", params);
    CodeBlock.Builder b = CodeBlock.builder().beginControlFlow("if ($T.onCuda($S, x$L$L))", COMPILED, gen.name, gen.inputsMembers.furtherArguments(), args);
    if (gen.outputs == null) {
      b.addStatement("return forwardCuda(x$L)", gen.inputsMembers.furtherArguments());
    } else {
      b.add("// the declared $L calls $L, whose CUDA form runs\n", method, gen.outputs.method())
          .addStatement("return super.$L(x)", method);
    }
    return b.endControlFlow().build();
  }

  /**
   * The plan on CUDA: one call per planned step, recorded on the tape. Steps with a fused
   * element-wise chain (Linear + ReLU, batch norm with its ReLU and pooling) run the kernels this
   * class's CUDA source defines ({@link CudaSource}); the others (convolution, a Linear alone,
   * pooling, dropout, views) run their layers' eager CUDA kernels (cuDNN, cuBLAS).
   */
  MethodSpec forwardCuda(boolean hasSource) {
    int[] sample = Arrays.copyOfRange(gen.model.inputShape(), 1, gen.model.inputShape().length);
    CodeBlock.Builder b = CodeBlock.builder().addStatement("int n = $T.$L($S, x, $L)", COMPILED, gen.forwardMethods.batchSizeCheck(), gen.name,
        Generator.joined(sample));
    gen.inputsMembers.checkFurtherInputs(b);
    gen.forwardMethods.declareTrainingFlags(b);
    Map<String, String> locals = new LinkedHashMap<>();
    gen.cudaLocals = locals; // (an ids step of two values names its second operand's local: eagerCall)
    locals.put(gen.ir.inputName(), "x");
    for (int j = 1; j <= gen.ir.further().size(); j++) {
      locals.put(gen.ir.further().get(j - 1).name(), "x" + j);
    }
    gen.parameterCode.tensorsRead().forEach(t -> locals.put(t.value(), gen.parameterCode.fieldExpression(t)));
    for (TensorIr t : gen.parameterCode.parameterWheres()) { // one eager where on the tape, read by every step that reads it, as eager's
      b.addStatement("$T $L = $L", TENSOR, gen.parameterCode.whereLocal(t, "Value"), gen.parameterCode.fieldExpression(t));
      locals.put(t.value(), gen.parameterCode.whereLocal(t, "Value"));
    }
    Map<Split, String> splitArrays = new HashMap<>();
    Map<String, String> sharedMasks = sharedCudaMasks();
    String last = "x";
    for (int j = 0; j < gen.kernels.size(); j++) {
      Kernel k = gen.kernels.get(j);
      b.add("// $L: $L -> $L   $L\n", k.label(), ElementwiseEmitter.inShapes(k), Shapes.toString(k.outShape()), k.source().where());
      String in = locals.get(k.in());
      String out = k.out();
      String step = CudaSource.step(j);
      if (ElementwiseEmitter.folded(k)) {
        b.add(ElementwiseEmitter.foldedNote(k));
        continue;
      }
      if (k.spec() instanceof Split.Piece piece) {
        pieceOnCuda(b, piece, in, out, splitArrays);
        locals.put(out, out);
        last = out;
        continue;
      }
      switch (k.kind()) {
        case MATMUL -> {
          Kernel.Product m = k.product();
          if (k.fieldOnLeft()) { // the field repeated over the batch: eager's product on the tape (a strided-batched GEMM)
            b.addStatement("$T $L = $T.matmul($L, $L)", TENSOR, out, F, locals.get(k.inputs().get(1)), in);
            break;
          }
          if (k.byField()) { // every row times the field: one GEMM (count 1) over the batch's rows, its gradient summed over them
            b.addStatement("$T $L = $T.matmul($L, false, $L, $L, $Lf, 1, $L, $L, $L, $L)", TENSOR, out, CUDA_COMPILED, in,
                locals.get(k.inputs().get(1)), m.transB(), m.alpha(), ElementwiseEmitter.fieldRows(k), m.n(), m.k(), Generator.batchShape(k.outShape()));
            break;
          }
          b.addStatement("$T $L = $T.matmul($L, $L, $L, $L, $Lf, $L, $L, $L, $L, $L)", TENSOR, out, CUDA_COMPILED, in, m.transA(),
              locals.get(k.inputs().get(1)), m.transB(), m.alpha(), m.count(), m.m(), m.n(), m.k(), Generator.batchShape(k.outShape()));
        }
        case LINEAR -> {
          if (k.relu()) {
            String layer = gen.layerFields.layerField(k.layer());
            b.addStatement("$T $L = $T.linearRelu(CudaCode.SOURCE, $S, $L, $L.weight(), $L, $L, $L)", TENSOR, out, CUDA_COMPILED, step, in, layer,
                k.linear().bias() ? layer + ".bias()" : "null", NormEmitter.rows(k), Generator.batchShape(k.outShape()));
          } else {
            b.addStatement("$T $L = $L.apply($L)", TENSOR, out, gen.layerFields.layerField(k.layer()), in);
          }
        }
        case BATCHNORM -> {
          BatchNorm.Options o = (BatchNorm.Options) k.spec();
          String bn = gen.layerFields.layerField(k.layer());
          String affine = o.affine() ? bn + ".weight(), " + bn + ".bias()" : "null, null";
          b.beginControlFlow("if (training[$L])", j + 1)
              .addStatement("$T.requireBatchStatistics(n, $L)", COMPILED, Generator.joined(Arrays.copyOfRange(k.inShape(), 1, k.inShape().length)))
              .endControlFlow();
          Integer pool = gen.pooledInOnePass.get(k.out());
          if (pool != null) {
            out = gen.kernels.get(pool).out();
            b.addStatement("$T $L = $T.batchNormReluMaxPool2x2(CudaCode.SOURCE, $S, $L, $L.runningMean(), $L.runningVar(), $L, training[$L], n, $L, $L)",
                TENSOR, out, CUDA_COMPILED, step, in, bn, bn, affine, j + 1, k.channels(), Generator.batchShape(gen.kernels.get(pool).outShape()));
          } else {
            b.addStatement("$T $L = $T.batchNorm(CudaCode.SOURCE, $S, $L, $L.runningMean(), $L.runningVar(), $L, training[$L], n, $L)",
                TENSOR, out, CUDA_COMPILED, step, in, bn, bn, affine, j + 1, k.channels());
          }
          b.beginControlFlow("if (training[$L])", j + 1)
              .addStatement("$T.countBatch($L.numBatchesTracked())", COMPILED, bn)
              .endControlFlow();
        }
        case POOL -> {
          if (gen.pooledInOnePass.containsKey(k.in())) {
            b.add("// computed with the batch norm above, in one pass\n");
            last = out;
            continue;
          }
          b.addStatement("$T $L = $L", TENSOR, out, gen.stepCalls.eagerCall(k, in));
        }
        case ADD -> {
          String other = locals.get(k.inputs().get(1));
          b.addStatement(k.relu() ? "$T $L = $T.relu($T.add($L, $L))" : "$T $L = $T.add($L, $L)",
              k.relu() ? new Object[] {TENSOR, out, F, F, in, other} : new Object[] {TENSOR, out, F, in, other});
        }
        case MUL -> b.addStatement("$T $L = $T.mul($L, $L)", TENSOR, out, F, in, locals.get(k.inputs().get(1)));
        case SUB, DIV -> { // the eager ops on the tape, the operands as written
          String other = locals.get(k.inputs().get(1));
          b.addStatement("$T $L = $T.$L($L, $L)", TENSOR, out, F, k.kind() == Kernel.Kind.SUB ? "sub" : "div",
              k.swapped() ? other : in, k.swapped() ? in : other);
        }
        case MASKED_FILL -> {
          MaskedFill m = (MaskedFill) k.spec();
          String mask = m.byValue() ? locals.get(k.inputs().get(1)) : cudaMaskField(m);
          CodeBlock selects = m.test() == dev.kiln.runtime.cpu.MaskTest.NONZERO ? CodeBlock.of("$L", mask)
              : CodeBlock.of("$L.$L($L)", mask, m.test().name().toLowerCase(java.util.Locale.ROOT), Generator.floatLiteral(m.against()));
          String shared = cudaMaskKey(k);
          if (sharedMasks.containsKey(shared)) { // a mask several fills read: compared once, on its first fill
            if (sharedMasks.get(shared) == null) {
              sharedMasks.put(shared, out + "_1");
              b.addStatement("$T $L = $L", TENSOR, out + "_1", selects);
            }
            selects = CodeBlock.of("$L", sharedMasks.get(shared));
          }
          b.addStatement("$T $L = $T.maskedFill($L, $L, $L)", TENSOR, out, F, in, selects, Generator.floatLiteral(m.value()));
        }
        case CAT -> b.addStatement("$T $L = $T.cat($T.of($L), $L)", TENSOR, out, TENSOR, ClassName.get("java.util", "List"),
            k.inputs().stream().map(locals::get).collect(Collectors.joining(", ")), ((Cat) k.spec()).dim());
        case RECURRENT -> cudaRecurrent(b, k, out, in, k.initialStates() ? locals.get(k.inputs().get(1)) : null);
        case COSINE -> b.addStatement("$T $L = $T.cosineSimilarity($L, $L, $L, $L)", TENSOR, out, F, in, locals.get(k.inputs().get(1)),
            ((Cosine) k.spec()).dim(), Generator.floatLiteral(((Cosine) k.spec()).eps()));
        case WHERE -> b.addStatement("$T $L = $T.where($L, $L, $L)", TENSOR, out, TENSOR, locals.get(k.inputs().get(2)),
            k.swapped() ? locals.get(k.inputs().get(1)) : in, k.swapped() ? in : locals.get(k.inputs().get(1)));
        case COMPARE -> b.addStatement("$T $L = $L", TENSOR, out, k.inputs().size() == 1 ? gen.stepCalls.eagerCall(k, in) // x.lt(y) as written
            : CodeBlock.of("$L.$L($L)", k.swapped() ? locals.get(k.inputs().get(1)) : in, ((Compare) k.spec()).method(),
                k.swapped() ? in : locals.get(k.inputs().get(1))));
        case GROUPNORM -> b.addStatement("$T $L = $L", TENSOR, out, gen.stepCalls.eagerCall(k, in)); // the layer's eager device kernels
        case PRELU -> b.addStatement("$T $L = $L", TENSOR, out, PReluSteps.eagerCall(gen, k, in)); // eager's F.prelu
        case POINTWISE_PAIR -> b.addStatement("$T $L = $L.$L($L)", TENSOR, out, k.swapped() ? locals.get(k.inputs().get(1)) : in,
            ((PointwisePair) k.spec()).method(), k.swapped() ? in : locals.get(k.inputs().get(1)));
        case SCATTER -> b.addStatement("$T $L = $L", TENSOR, out, ScatterEmitter.cudaCall(k, in, locals));
        case VIEW, RELU, ACTIVATION, POINTWISE, CONV, LAYERNORM, DROPOUT, AVGPOOL, UPSAMPLE, PAD, NORMALIZE, LINE, TILE, PERMUTE, SCALE, SHIFT, REDUCE,
            EMBEDDING, SLICE, IDS -> b.addStatement("$T $L = $L", TENSOR,
            out, gen.stepCalls.eagerCall(k, in));
      }
      locals.put(out, out);
      last = out;
    }
    String doc = hasSource
        ? "The plan on CUDA, step by step on the tape: the fused element-wise chains run the kernels of {@link CudaCode},\n"
            + "the other steps their layers' CUDA kernels (cuDNN, cuBLAS)"
        : "The plan on CUDA, step by step on the tape, each step running its layer's CUDA kernels (cuDNN, cuBLAS)";
    if (gen.outputs == null) {
      b.addStatement("return $L", locals.get(last));
      return MethodSpec.methodBuilder("forwardCuda").addModifiers(Modifier.PRIVATE).returns(TENSOR).addParameters(gen.inputsMembers.inputParameters())
          .addJavadoc(doc + ".\n").addCode(b.build()).build();
    }
    b.addStatement("return new $T[] {$L}", TENSOR, gen.outputs.results().stream().map(locals::get).collect(Collectors.joining(", ")));
    return MethodSpec.methodBuilder(cudaOutputsMethod()).addModifiers(Modifier.PRIVATE).returns(ArrayTypeName.of(TENSOR))
        .addParameters(gen.inputsMembers.inputParameters())
        .addJavadoc(doc + "; the outputs of $L in order ($L).\n", gen.outputs.method(), String.join(", ", gen.outputs.components()))
        .addCode(b.build()).build();
  }

  /**
   * A recurrent step on CUDA: the eager layer on the device, its {@code apply}; or, with its last states after the
   * output ({@code forwardWithState} in forward), its {@code forwardWithState}, the output and the states joined into
   * the plan's one value ({@code CudaCompiled.withLastStates}, the CPU plan's layout).
   */
  private void cudaRecurrent(CodeBlock.Builder b, Kernel k, String out, String in, String init) {
    if (!k.lastStates() && init == null) {
      b.addStatement("$T $L = $L", TENSOR, out, gen.stepCalls.eagerCall(k, in));
      return;
    }
    String states = in;
    if (init != null) { // h0 (and c0) [L * D, N, H] on the tape, out of the value holding them (null for zeros)
      Recurrent.Spec r = k.recurrent();
      int only = ((InitialStates) k.spec()).only();
      if (only != 1) {
        b.addStatement("$T $LH0 = $T.initialState($L, false, $L, $L, $L)", TENSOR, out, CUDA_COMPILED, init, r.numLayers(),
            r.directions(), r.hiddenSize());
      }
      states = in + ", " + (only == 1 ? "null" : out + "H0");
      if (r.mode().equals("LSTM")) {
        if (only != 0) {
          b.addStatement("$T $LC0 = $T.initialState($L, true, $L, $L, $L)", TENSOR, out, CUDA_COMPILED, init, r.numLayers(),
              r.directions(), r.hiddenSize());
        }
        states += ", " + (only == 0 ? "null" : out + "C0");
      }
    }
    if (!k.lastStates()) {
      b.addStatement("$T $L = $L.forwardWithState($L).output()", TENSOR, out, gen.layerFields.layerField(k.layer()), states);
      return;
    }
    b.addStatement("$T $LStates = $L.forwardWithState($L)", RECURRENT_OUTPUT, out, gen.layerFields.layerField(k.layer()), states)
        .addStatement("$T $L = $T.withLastStates($LStates.output(), $LStates.h(), $LStates.c())", TENSOR, out, CUDA_COMPILED, out, out,
            out);
  }

  /**
   * A piece of a split on CUDA: the eager split, called once for all the pieces forward reads ({@code Tensor[]
   * s1 = v2.split(8, 2)}), so that their gradients reach the source through its one node, as in eager mode.
   */
  private static void pieceOnCuda(CodeBlock.Builder b, Split.Piece piece, String in, String out, Map<Split, String> splitArrays) {
    String array = splitArrays.get(piece.split());
    if (array == null) {
      array = "s" + piece.split().id();
      splitArrays.put(piece.split(), array);
      b.addStatement("$T[] $L = $L.$L", TENSOR, array, in, piece.split().call());
    }
    b.addStatement("$T $L = $L[$L]", TENSOR, out, array, piece.index());
  }

  /** This plan's CUDA source, or null when no step has generated kernels. */
  String cudaSource() {
    return CudaSource.of(gen.name, gen.ir.source().where(), gen.kernels, gen.pooledInOnePass);
  }

  /** The name of the CUDA form of a several-outputs method: {@code forwardWithHiddenCuda}. */
  String cudaOutputsMethod() {
    return gen.outputs.method() + "Cuda";
  }

  /** The nested class holding a plan's CUDA source, named {@code generated} in the kernels' errors. */
  TypeSpec cudaCode(String generated, String source) {
    return TypeSpec.classBuilder("CudaCode")
        .addModifiers(Modifier.PRIVATE, Modifier.STATIC, Modifier.FINAL)
        .addJavadoc("The CUDA C source of the plan's fused element-wise kernels, compiled by NVRTC at first use and cached\n"
            + "by source.\n")
        .addField(FieldSpec.builder(CUDA_SOURCE, "SOURCE", Modifier.STATIC, Modifier.FINAL)
            .initializer("new $T($S, $L)", CUDA_SOURCE, generated, sourceLiteral(source))
            .build())
        .build();
  }

  /** Most characters of one string literal of a CUDA source: a class file's constant holds 65535 bytes of UTF-8. */
  static final int LITERAL_CHARS = 16000;

  /**
   * {@code source} as Java: one string literal, or, where it is too long for one constant (a ResNet's many kernels),
   * {@code String.join("", ...)} of literals of at most {@link #LITERAL_CHARS} characters each, cut after a line, which
   * javac does not fold into one constant.
   */
  static CodeBlock sourceLiteral(String source) {
    if (source.getBytes(java.nio.charset.StandardCharsets.UTF_8).length <= 65535) { // one constant holds it
      return CodeBlock.of("$S", source);
    }
    List<CodeBlock> pieces = new ArrayList<>();
    for (int start = 0; start < source.length(); ) {
      int end = Math.min(source.length(), start + LITERAL_CHARS);
      int line = source.lastIndexOf('\n', end - 1);
      if (end < source.length() && line >= start) {
        end = line + 1;
      }
      pieces.add(CodeBlock.of("$S", source.substring(start, end)));
      start = end;
    }
    return CodeBlock.of("$T.join(\"\",\n$L)", String.class, CodeBlock.join(pieces, ",\n"));
  }

  /**
   * The masks (a comparison of one buffer or value with one constant) that several masked fills read, each mapped to null:
   * the CUDA form compares such a mask once ({@code Tensor v9_1 = v1.eq(0.0f)}, named after its first fill's value) and
   * every fill reads that tensor; a mask one fill reads stays in its call.
   */
  private Map<String, String> sharedCudaMasks() {
    Map<String, Integer> uses = new HashMap<>();
    gen.kernels.stream().filter(k -> k.kind() == Kernel.Kind.MASKED_FILL && ((MaskedFill) k.spec()).test() != dev.kiln.runtime.cpu.MaskTest.NONZERO)
        .forEach(k -> uses.merge(cudaMaskKey(k), 1, Integer::sum));
    Map<String, String> shared = new HashMap<>();
    uses.forEach((key, count) -> {
      if (count > 1) {
        shared.put(key, null);
      }
    });
    return shared;
  }

  /** What a masked fill's mask compares, with what: {@code v1 EQ 0.0} for a value, {@code tril [1, 1, 6, 6] EQ 0.0} for a buffer. */
  private static String cudaMaskKey(Kernel k) {
    MaskedFill m = (MaskedFill) k.spec();
    return (m.byValue() ? k.inputs().get(1) : m.mask() + " " + Shapes.toString(m.maskShape())) + " " + m.test() + " " + m.against();
  }

  /** A buffer mask in the CUDA form: the field, viewed as forward views it ({@code mask.view(S, S)}). */
  private String cudaMaskField(MaskedFill m) {
    if (m.causal()) { // made here, as eager's isCausal makes it
      return "Tensor.ones(" + Generator.joined(m.maskShape()) + ").triu(1).to(x.device())";
    }
    String field = gen.fieldNames.get(TensorIr.valueName(m.mask()));
    TensorIr t = gen.ir.tensor(TensorIr.valueName(m.mask()));
    return t == null || Arrays.equals(t.shape(), m.maskShape()) ? field : field + ".reshape(" + Generator.joined(m.maskShape()) + ")";
  }

  /** The blocks a masked fill repeats its mask over: {@code n * 2} for a {@code [S, S]} mask over {@code [N, 2, S, S]}. */
  static String maskBlocks(Kernel k) {
    int per = k.outPerSample() / ((MaskedFill) k.spec()).maskSize();
    return per == 1 ? "n" : "n * " + per;
  }

  /** A masked fill's mask as the kernels take it: {@code mask.readBuffer(), mask.offset(), 36, MaskTest.EQ, 0f}. */
  CodeBlock maskArgs(Kernel k) {
    MaskedFill m = (MaskedFill) k.spec();
    if (m.causal()) { // 1 above the diagonal of [L, S], as eager's isCausal makes it
      return CodeBlock.of("$T.ones($L).triu(1).readBuffer(), 0, $L, $T.$L, $L", TENSOR, Generator.joined(m.maskShape()), m.maskSize(), MASK_TEST,
          m.test(), Generator.floatLiteral(m.against()));
    }
    String mask = gen.fieldNames.get(TensorIr.valueName(m.mask()));
    return CodeBlock.of("$L.readBuffer(), $L.offset(), $L, $T.$L, $L", mask, mask, m.maskSize(), MASK_TEST, m.test(),
        Generator.floatLiteral(m.against()));
  }
}
