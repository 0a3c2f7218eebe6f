package dev.kiln.processor.gen;

import dev.kiln.processor.gen.Generator.Ref;
import static dev.kiln.processor.gen.Generator.TENSOR;
import static dev.kiln.processor.gen.Generator.COMPILED;
import static dev.kiln.processor.gen.Generator.KERNELS;
import static dev.kiln.processor.gen.Generator.CONV;
import static dev.kiln.processor.gen.Generator.MATH;
import static dev.kiln.processor.gen.Generator.PIECEWISE;
import static dev.kiln.processor.gen.Generator.AVG_SHAPE;
import static dev.kiln.processor.gen.Generator.F;

import com.palantir.javapoet.CodeBlock;
import com.palantir.javapoet.MethodSpec;
import dev.kiln.dsl.AdaptiveAvgPool1d;
import dev.kiln.dsl.AdaptiveAvgPool2d;
import dev.kiln.dsl.AvgPool1d;
import dev.kiln.dsl.AvgPool2d;
import dev.kiln.dsl.Conv1d;
import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.ConvTranspose2d;
import dev.kiln.dsl.Dropout;
import dev.kiln.dsl.Dropout2d;
import dev.kiln.dsl.ELU;
import dev.kiln.dsl.Hardtanh;
import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.LogSoftmax;
import dev.kiln.dsl.MaxPool1d;
import dev.kiln.dsl.MaxPool2d;
import dev.kiln.dsl.Softmax;
import dev.kiln.dsl.Softplus;
import dev.kiln.dsl.Upsample;
import dev.kiln.processor.ir.GroupNormOf;
import dev.kiln.processor.ir.IdMove;
import dev.kiln.processor.ir.Narrow;
import dev.kiln.processor.ir.ConstantIds;
import dev.kiln.processor.ir.IdOp;
import dev.kiln.processor.ir.InitialStates;
import dev.kiln.processor.ir.Split;
import dev.kiln.processor.ir.TensorIr;
import dev.kiln.runtime.Shapes;
import java.util.Arrays;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The calls of the runtime's kernels for layer steps, for {@link Generator}: rows of constant ids, eager layer
 * calls, recurrent initial states, convolutions (transposed with a large output padding, functional of tensor fields,
 * 1-d as their 2-d forms), piecewise activations, and the arguments of dropout, upsampling and slices.
 */
final class StepCalls {
  private final Generator gen;

  StepCalls(Generator gen) {
    this.gen = gen;
  }

  /** A recurrent step's arguments after its input's when it starts from initial states ({@code , init, off}), else none. */
  String initialStatesArgs(Kernel k, Map<String, Ref> refs) {
    if (!k.initialStates()) {
      return "";
    }
    Ref init = gen.ref(k.inputs().get(1), refs);
    return ", " + init.array() + ", " + init.offset();
  }

  /**
   * A recurrent step's arguments after its output's gradient when it starts from initial states: where the states'
   * gradient goes ({@code , dInit, off, accumulate}; a further input's gradient, or the value's, null when not needed),
   * else none; the gradient is then the value's in {@code grads}. {@code i} is the step's index.
   */
  String initialStatesGradient(Kernel k, int i, Map<String, Ref> grads) {
    if (!k.initialStates()) {
      return "";
    }
    String st = gen.storage.get(k.inputs().get(1));
    String array = Generator.isInput(st) ? Generator.inputGradient(st) : i > 0 ? "dIn" + i + "_1" : "p.d" + st;
    grads.put(st, new Ref(array, "0", true));
    return ", " + array + ", 0, " + gen.accumulating.contains(i + ":1");
  }

  /**
   * A recurrent step given one initial state and zeros for the other ({@link InitialStates#only}): its stack reads that
   * one alone ({@code RecurrentStack.onlyInitial}).
   */
  static void onlyInitial(MethodSpec.Builder ctor, Kernel k, int j) {
    if (k.spec() instanceof InitialStates s && s.only() >= 0) {
      ctor.addStatement("this.rnn$L.onlyInitial($L)", j, s.only());
    }
  }

  /** Whether a step is a recurrent layer with dropout between its layers (in training). */
  static boolean dropsBetweenLayers(Kernel k) {
    return k.kind() == Kernel.Kind.RECURRENT && k.recurrent().dropout() > 0 && k.recurrent().numLayers() > 1;
  }

  /**
   * The rows of ids built in forward ({@link ConstantIds}, {@code wpe.apply(pos)}): eager mode's lookup of the ids into
   * the first sample, copied to the others (eager mode's add repeats its {@code [S, D]} over the batch).
   */
  void constantIdsForward(CodeBlock.Builder b, Kernel k, ConstantIds c, int step, Ref out) {
    String local = "rows$" + step;
    b.addStatement("float[] $LIds = $L", local, c.buffer() == null ? constantIds(c) : CodeBlock.of("p.lookedUp$L = $L", step, constantIds(c)))
        .addStatement("$T $LW = $L.weight()", TENSOR, local, gen.layerFields.layerField(k.layer()))
        .addStatement("$T.embeddingForward($L, $L, $LIds, 0, $L, $LW.readBuffer(), $LW.offset(), $L, $L, new int[] {$L})", KERNELS,
            out.array(), out.offset(), local, c.count(), local, local, c.embedding().numEmbeddings(), c.embedding().embeddingDim(),
            Generator.joined(c.shape()))
        .beginControlFlow("for (int s = 1; s < n; s++)")
        .addStatement("System.arraycopy($L, $L, $L, $L + s * $L, $L)", out.array(), out.offset(), out.array(), out.offset(), c.perSample(),
            c.perSample())
        .endControlFlow();
  }

  /**
   * The weight's gradient from the rows of ids built in forward: the incoming gradient summed over the batch as eager
   * mode's broadcast add sums it ({@code biasGradient} for its {@code [S, D]}, {@code sumRepeatedBackward} for {@code [1,
   * S, D]}), then added into each id's row (none into a padding row).
   */
  void constantIdsBackward(CodeBlock.Builder b, Kernel k, ConstantIds c, int step, Ref d) {
    String local = "rows$" + step;
    String layer = gen.layerFields.layerField(k.layer());
    b.addStatement("float[] $LGW = $T.gradBuffer($L.weight(), $L)", local, COMPILED, layer, gen.parameterCode.recordedNeed(layer + ".weight()"))
        .beginControlFlow("if ($LGW != null)", local)
        .addStatement("float[] $LIds = $L", local, c.buffer() == null ? constantIds(c) : CodeBlock.of("p.lookedUp$L", step))
        .addStatement("float[] $LG = new float[$L]", local, c.perSample())
        .addStatement(c.shape().length > c.sampleShape().length // [1, S, D]: repeated over the batch, else a suffix ([S, D])
            ? CodeBlock.of("$T.sumRepeatedBackward($LG, 0, $L, $L, null, 0, null, 0, 1, n, $L, false)", KERNELS, local, d.array(),
                d.offset(), c.perSample())
            : CodeBlock.of("$T.biasGradient($LG, 0, $L, $L, n, $L, false)", KERNELS, local, d.array(), d.offset(), c.perSample()))
        .addStatement("$T.embeddingBackward($LGW, 0, $LG, 0, $LIds, 0, $L, $L, $L)", KERNELS, local, local, local, c.count(),
            c.embedding().embeddingDim(), c.embedding().paddingIdx())
        .endControlFlow();
  }

  /**
   * The ids of the rows built in forward as the lookup reads them: the constants ({@code {0f, 1f, 2f}}), or a buffer's values
   * now, eager's check of an embedding's indices at each call ({@code Compiled.lookedUpIds("positionIds", positionIds, 6)}), kept
   * in the plan for backward (as eager's node keeps the ids it looked up).
   */
  private CodeBlock constantIds(ConstantIds c) {
    if (c.buffer() == null) {
      return CodeBlock.of("{$L}", Arrays.stream(c.ids()).mapToObj(i -> i + "f").collect(Collectors.joining(", ")));
    }
    return CodeBlock.of("$T.lookedUpIds($S, $L, $L)", COMPILED, c.buffer(),
        gen.parameterCode.tensorField(gen.ir.tensor(TensorIr.valueName(c.buffer()))), c.count());
  }

  /**
   * The eager call of a step without generated CUDA code: a convolution's layer's {@code apply}
   * (the fused class keeps fields for the layers with parameters only), else the function.
   */
  CodeBlock eagerCall(Kernel k, String in) {
    if (k.spec() instanceof IdOp op && op.values() != null) { // ids.add(pos): the constant ids on the ids' device
      CodeBlock values = CodeBlock.of("$T.labels($L).reshape($L).to($L.device())", TENSOR,
          Arrays.stream(op.values()).mapToObj(String::valueOf).collect(Collectors.joining(", ")), Generator.joined(op.valuesShape()), in);
      String method = op.valuesMethod();
      return op.valuesFirst() ? CodeBlock.of("$L.$L($L)", values, method, in) : CodeBlock.of("$L.$L($L)", in, method, values);
    }
    if (k.spec() instanceof IdOp op && op.pair()) { // users.mul(V).add(items): eager's ids of two values on the device
      return CodeBlock.of("$L.$L($L)", in, op.valuesMethod(), gen.cudaLocals.get(k.inputs().get(1)));
    }
    if (k.spec() instanceof IdMove) { // ids.flip(1): eager's move of the ids on the device
      return IdMoves.eagerCall(k, in, gen.cudaLocals);
    }
    if (k.spec() instanceof IdOp op) { // ids.add(1): eager's integer arithmetic of the ids on the device
      return CodeBlock.of("$L.$L", in, op.call());
    }
    if (k.spec() instanceof ConstantIds c && c.buffer() != null) { // a buffer of ids: moved with the model, looked up as eager's
      return CodeBlock.of("$L.apply($L)", gen.layerFields.layerField(k.layer()),
          gen.parameterCode.fieldExpression(gen.ir.tensor(TensorIr.valueName(c.buffer()))));
    }
    if (k.spec() instanceof ConstantIds c) { // eager mode's [S, D], which the add that reads it repeats over the batch
      return CodeBlock.of("$L.apply($T.labels($L).reshape($L).to($L.device()))", gen.layerFields.layerField(k.layer()), TENSOR,
          Arrays.stream(c.ids()).mapToObj(String::valueOf).collect(Collectors.joining(", ")), Generator.joined(c.shape()), in);
    }
    if (k.functionalConv()) {
      return functionalConvCall(k, in);
    }
    if (k.spec() instanceof GroupNormOf f) { // eager's F.groupNorm on the device
      TensorIr w = gen.norms.groupNormField(k, true), bias = gen.norms.groupNormField(k, false);
      return CodeBlock.of("$T.groupNorm($L, $L, $L, $L, $L)", F, in, f.groups(), w == null ? "null" : gen.parameterCode.fieldExpression(w),
          bias == null ? "null" : gen.parameterCode.fieldExpression(bias), f.eps());
    }
    if (k.kind() == Kernel.Kind.CONV || k.kind() == Kernel.Kind.LAYERNORM || k.kind() == Kernel.Kind.EMBEDDING
        || k.kind() == Kernel.Kind.RECURRENT || k.kind() == Kernel.Kind.GROUPNORM) {
      return CodeBlock.of("$L.apply($L)", gen.layerFields.layerField(k.layer()), in);
    }
    if (k.kind() == Kernel.Kind.DROPOUT) {
      return CodeBlock.of("$T.$L($L, $L, training[$L])", F, k.spec() instanceof Dropout2d.Spec ? "dropout2d" : "dropout", in, dropoutP(k),
          gen.kernels.indexOf(k) + 1);
    }
    if (k.spec() instanceof Dropout.Spec || k.spec() instanceof Dropout2d.Spec) { // p = 0: planned as a view, the value itself
      return CodeBlock.of("$L", in);
    }
    return Functions.call(k.spec(), in);
  }

  /**
   * A softmax step's input seen as {@code [outer, size, inner]} around its dimension, as the kernels
   * take it: {@code n * 4, 10, 1} along the last of {@code [N, 4, 10]}; {@code 1, n, 40} along the batch.
   */
  static CodeBlock softmaxAxes(Kernel k) {
    int[] oneSample = k.inShape().clone();
    oneSample[0] = 1;
    int dim = Shapes.normalizeDim(k.spec() instanceof Softmax.Spec s ? s.dim() : ((LogSoftmax.Spec) k.spec()).dim(),
        oneSample.length);
    int[] a = Shapes.along(oneSample, dim); // outer per sample, size, inner
    return dim == 0 ? CodeBlock.of("1, n, $L", a[2])
        : CodeBlock.of("$L, $L, $L", a[0] == 1 ? "n" : "n * " + a[0], a[1], a[2]);
  }

  /** The kernels' name of a softmax or log-softmax step: {@code softmax}, {@code logSoftmax}. */
  static String softmaxName(Kernel k) {
    return k.spec() instanceof Softmax.Spec ? "softmax" : "logSoftmax";
  }

  /** The kernels' name of a convolution step: {@code conv2d}, or {@code convTranspose2d} for a transposed one. */
  static String convName(Kernel k) {
    return k.spec() instanceof ConvTranspose2d.Spec ? "convTranspose2d" : "conv2d";
  }

  /** Whether a convolution step's layer has a bias. */
  static boolean convBias(Kernel k) {
    return k.spec() instanceof ConvTranspose2d.Spec t ? t.bias() : asConv2d(k.spec()).bias();
  }

  // ------------------------------------------------------------------ a transposed convolution's large output padding

  /**
   * The shape of the input a transposed convolution's kernels read when its output padding is at least its stride (below
   * its dilation, as PyTorch allows): the convolution that maps its output back has more rows (columns) than x, so x is read
   * padded with zeros at the bottom and right ({@code p.padded<j>}), as eager mode pads it, and its gradient is the top
   * left of the padded one's ({@code p.dPadded<j>}); null for any other step.
   */
  static int[] paddedInput(Kernel k) {
    if (!(k.spec() instanceof ConvTranspose2d.Spec c)) {
      return null;
    }
    int[] in = k.inShape(), out = k.outShape();
    int h = (out[2] + 2 * c.padH() - c.dilationH() * (c.kernelH() - 1) - 1) / c.strideH() + 1;
    int w = (out[3] + 2 * c.padW() - c.dilationW() * (c.kernelW() - 1) - 1) / c.strideW() + 1;
    return h == in[2] && w == in[3] ? null : new int[] {-1, in[1], h, w};
  }

  // ------------------------------------------------------------------ F.conv2d / F.conv1d of tensor fields

  /** A functional convolution's ({@link Kernel#functionalConv}) weight (input 1) or bias (input 2; null without one). */
  TensorIr convField(Kernel k, int input) {
    return input < k.inputs().size() ? gen.ir.tensor(k.inputs().get(input)) : null;
  }

  /** A tensor field as a kernel's array and offset arguments ({@code w.readBuffer(), w.offset()}), or {@code null, 0} for none. */
  String fieldArguments(TensorIr t) {
    return t == null ? "null, 0" : gen.parameterCode.readExpression(t) + ".readBuffer(), " + gen.parameterCode.fieldOffset(t);
  }

  /**
   * The gradient buffer a functional convolution or group norm adds a field's gradient into: a parameter's own, or null (a
   * buffer, or none given).
   */
  CodeBlock convFieldGradient(TensorIr t) {
    return t == null || !t.isParameter() ? CodeBlock.of("null")
        : CodeBlock.of("$T.gradBuffer($L, $L)", COMPILED, gen.parameterCode.tensorField(t), gen.parameterCode.recordedNeed(gen.parameterCode.tensorField(t)));
  }

  /** Eager mode's {@code F.conv2d(x, w, b, stride, padding, dilation, groups)} (conv1d) of a functional convolution: the CUDA step. */
  private CodeBlock functionalConvCall(Kernel k, String in) {
    TensorIr w = convField(k, 1), bias = convField(k, 2);
    String b = bias == null ? "null" : gen.parameterCode.fieldExpression(bias);
    if (k.spec() instanceof Conv1d.Spec c) {
      return CodeBlock.of("$T.conv1d($L, $L, $L, $L, $L, $L, $L)", F, in, gen.parameterCode.fieldExpression(w), b, c.stride(), c.padding(), c.dilation(),
          c.groups());
    }
    Conv2d.Spec c = (Conv2d.Spec) k.spec();
    return CodeBlock.of("$T.conv2d($L, $L, $L, $L, $L, $L, $L)", F, in, gen.parameterCode.fieldExpression(w), b, c.strideH(), c.padH(), c.dilationH(),
        c.groups());
  }

  // ------------------------------------------------------------------ 1-d layers as their 2-d forms

  /*
   * A Conv1d, MaxPool1d, AvgPool1d or AdaptiveAvgPool1d step runs the 2-d kernels over [N, C, 1, L] (the same
   * values in the same order as [N, C, L]) with windows of height 1, as eager mode's Ops.conv1d and its siblings.
   */

  /** A shape {@code [N, C, L]} as the 2-d kernels see it, {@code [N, C, 1, L]}; an image's as it is. */
  static int[] asImage(int[] shape) {
    return shape.length == 3 ? new int[] {shape[0], shape[1], 1, shape[2]} : shape;
  }

  /** A convolution step's Conv2d: its own, or the one over {@code [N, C, 1, L]} of a Conv1d. */
  static Conv2d.Spec asConv2d(LayerSpec spec) {
    return spec instanceof Conv1d.Spec c ? c.asConv2d() : (Conv2d.Spec) spec;
  }

  /** A max pooling's {@code Pool2dShape} window: kernel, stride and padding along height and width, and the ceil mode. */
  static CodeBlock maxPoolWindow(LayerSpec spec) {
    if (spec instanceof MaxPool1d.Spec m) {
      return CodeBlock.of("1, $L, 1, $L, 0, $L, $L", m.kernelSize(), m.stride(), m.padding(), m.ceilMode());
    }
    MaxPool2d.Spec m = (MaxPool2d.Spec) spec;
    return CodeBlock.of("$L, $L, $L, $L, $L, $L, $L", m.kernelSize(), m.kernelSize(), m.stride(), m.stride(), m.padding(),
        m.padding(), m.ceilMode());
  }

  /** An average pooling's {@code AvgPool2dShape} for an input of {@code image}'s height and width. */
  static CodeBlock avgPoolShape(LayerSpec spec, int[] image) {
    int h = image[2], w = image[3];
    if (spec instanceof AvgPool2d.Spec a) {
      return CodeBlock.of("$T.fixed($L, $L, $L, $L, $L, $L, $L, $L, $L, $L)", AVG_SHAPE, h, w, a.kernelSize(), a.kernelSize(),
          a.stride(), a.stride(), a.padding(), a.padding(), a.ceilMode(), a.countIncludePad());
    }
    if (spec instanceof AvgPool1d.Spec a) {
      return CodeBlock.of("$T.fixed($L, $L, 1, $L, 1, $L, 0, $L, $L, $L)", AVG_SHAPE, h, w, a.kernelSize(), a.stride(), a.padding(),
          a.ceilMode(), a.countIncludePad());
    }
    if (spec instanceof AdaptiveAvgPool1d.Spec a) {
      return CodeBlock.of("$T.adaptive($L, $L, 1, $L)", AVG_SHAPE, h, w, a.size());
    }
    AdaptiveAvgPool2d.Spec a = (AdaptiveAvgPool2d.Spec) spec;
    return CodeBlock.of("$T.adaptive($L, $L, $L, $L)", AVG_SHAPE, h, w, a.outH(), a.outW());
  }

  /**
   * An ELU, softplus or hardtanh step's forward: eager mode's kernels ({@code PiecewiseKernels}; hardtanh's values are
   * clamp's, {@code MathKernels.clampForward}), its hyper-parameters the floats eager mode rounds them to.
   */
  static void piecewiseForward(CodeBlock.Builder b, Kernel k, Ref out, Ref in) {
    if (CodedActivations.is(k.spec())) {
      CodedActivations.forward(b, k, out, in);
    } else if (k.spec() instanceof Hardtanh.Spec || k.spec() instanceof dev.kiln.dsl.ReLU6.Spec) {
      b.addStatement("$T.clampForward($L, $L, $L, $L, n * $L, $L)", MATH, out.array(), out.offset(), in.array(), in.offset(),
          k.outPerSample(), piecewiseParameters(k));
    } else {
      b.addStatement("$T.$LForward($L, $L, $L, $L, n * $L, $L)", PIECEWISE, piecewiseName(k), out.array(), out.offset(), in.array(),
          in.offset(), k.outPerSample(), piecewiseParameters(k));
    }
  }

  /** An ELU, softplus or hardtanh step's backward, from its input: eager mode's {@code PiecewiseKernels}. */
  static void piecewiseBackward(CodeBlock.Builder b, Kernel k, Ref target, Ref d, Ref in) {
    if (CodedActivations.is(k.spec())) {
      CodedActivations.backward(b, k, target, d, in);
      return;
    }
    b.addStatement("$T.$LBackward($L, $L, $L, $L, $L, $L, n * $L, $L)", PIECEWISE, piecewiseName(k), target.array(), target.offset(),
        d.array(), d.offset(), in.array(), in.offset(), k.outPerSample(), piecewiseParameters(k));
  }

  private static String piecewiseName(Kernel k) {
    return k.spec() instanceof ELU.Spec ? "elu" : k.spec() instanceof Softplus.Spec ? "softplus" : "hardtanh";
  }

  /** The floats after the count: {@code alpha}, {@code beta, threshold} or {@code min, max} (ReLU6's 0 and 6). */
  private static CodeBlock piecewiseParameters(Kernel k) {
    if (k.spec() instanceof ELU.Spec e) {
      return Generator.floatLiteral((float) e.alpha());
    }
    if (k.spec() instanceof Softplus.Spec s) {
      return CodeBlock.of("$L, $L", Generator.floatLiteral((float) s.beta()), Generator.floatLiteral((float) s.threshold()));
    }
    if (k.spec() instanceof dev.kiln.dsl.ReLU6.Spec) { // eager mode's relu6: hardtanh between 0 and 6
      return CodeBlock.of("$L, $L", Generator.floatLiteral(0f), Generator.floatLiteral(6f));
    }
    Hardtanh.Spec h = (Hardtanh.Spec) k.spec();
    return CodeBlock.of("$L, $L", Generator.floatLiteral((float) h.minVal()), Generator.floatLiteral((float) h.maxVal()));
  }

  /** A dropout step's probability (element-wise or channel dropout). */
  static double dropoutP(Kernel k) {
    return k.spec() instanceof Dropout2d.Spec c ? c.p() : ((Dropout.Spec) k.spec()).p();
  }

  /** Mask values per sample of a dropout step: one per value, or one per channel for channel dropout. */
  static int maskPerSample(Kernel k) {
    return k.spec() instanceof Dropout2d.Spec ? k.channels() : k.outPerSample();
  }

  /** An upsampling step's planes and sizes, as the kernels take them: {@code n * 3, 4, 4, 2, 2}. */
  static String upsampleArgs(Kernel k) {
    Upsample.Spec s = (Upsample.Spec) k.spec();
    return "n * " + k.channels() + ", " + k.inShape()[2] + ", " + k.inShape()[3] + ", " + s.scaleH() + ", " + s.scaleW();
  }

  /** A select's or narrow's slabs, as {@code SliceKernels} takes them: {@code n * rows, pitch, skip, width}. */
  static String sliceArgs(Kernel k) {
    int[] s = (k.spec() instanceof Split.Piece piece ? piece.narrow(k.inShape()) : (Narrow) k.spec()).slabs(k.inShape());
    return (s[0] == 1 ? "n" : "n * " + s[0]) + ", " + s[1] + ", " + s[2] + ", " + s[3];
  }
}
