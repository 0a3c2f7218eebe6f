package dev.kiln.processor.gen;

import static dev.kiln.processor.gen.Generator.PLAN_CACHE;
import static dev.kiln.processor.gen.Generator.CONV;
import static dev.kiln.processor.gen.Generator.CONV_SHAPE;
import static dev.kiln.processor.gen.Generator.POOL_SHAPE;
import static dev.kiln.processor.gen.Generator.AVG_SHAPE;
import static dev.kiln.processor.gen.Generator.RECURRENT_STACK;
import static dev.kiln.processor.gen.Generator.RECURRENT_MODE;
import static dev.kiln.processor.gen.Generator.FLOATS;
import static dev.kiln.processor.gen.Generator.DOUBLES;

import com.palantir.javapoet.ArrayTypeName;
import com.palantir.javapoet.MethodSpec;
import com.palantir.javapoet.TypeName;
import com.palantir.javapoet.TypeSpec;
import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.ConvTranspose2d;
import dev.kiln.dsl.EmbeddingBag;
import dev.kiln.dsl.GELU;
import dev.kiln.dsl.Recurrent;
import dev.kiln.dsl.GroupNorm;
import dev.kiln.processor.ir.ConstantIds;
import dev.kiln.processor.ir.Cosine;
import dev.kiln.processor.ir.Normalize;
import dev.kiln.processor.ir.Tile;
import java.util.List;
import javax.lang.model.element.Modifier;

/**
 * The generated {@code Plan} class, for {@link Generator}: the buffers of one batch size (activations,
 * gradients, scratch, pooling and broadcast passes), cached by size and handed to one call at a time.
 */
final class PlanEmitter {
  private final Generator gen;

  PlanEmitter(Generator gen) {
    this.gen = gen;
  }

  // ------------------------------------------------------------------ plan

  TypeSpec plan() {
    TypeSpec.Builder t = TypeSpec.classBuilder("Plan")
        .addModifiers(Modifier.PRIVATE, Modifier.STATIC, Modifier.FINAL)
        .superclass(PLAN_CACHE.nestedClass("Entry"))
        .addJavadoc("Buffers for one batch size: activations kept for backward, allocated with the plan; gradients, allocated\n"
            + "by the first backward (inference never needs them).\n");
    MethodSpec.Builder ctor = MethodSpec.constructorBuilder().addParameter(TypeName.INT, "n").addStatement("super(n)");
    for (String a : gen.activationBuffers) {
      t.addField(FLOATS, a, Modifier.FINAL);
      ctor.addStatement("this.$L = new float[n * $L]", a, gen.sizes.get(a));
    }
    MethodSpec.Builder gradients = MethodSpec.methodBuilder("gradients")
        .addJavadoc("Allocates the gradient buffers once, at the first backward.\n");
    if (!gen.gradientBuffers.isEmpty()) {
      gradients.beginControlFlow("if (d$L != null)", gen.gradientBuffers.iterator().next()).addStatement("return").endControlFlow();
    }
    for (String d : gen.gradientBuffers) {
      t.addField(FLOATS, "d" + d);
      gradients.addStatement("d$L = new float[n * $L]", d, gen.sizes.get(d));
    }
    for (String d : gen.scratchBuffers) {
      t.addField(FLOATS, "t" + d);
      gradients.addStatement("t$L = new float[n * $L]", d, gen.sizes.get(d));
    }
    t.addMethod(gradients.build());
    for (int j = 1; j <= gen.kernels.size(); j++) {
      Kernel k = gen.kernels.get(j - 1);
      int[] in = k.inShape();
      switch (k.kind()) {
        case CONV -> {
          t.addField(CONV_SHAPE, "shape" + j, Modifier.FINAL);
          if (StepCalls.paddedInput(k) != null) { // x padded as eager pads it, and its gradient (a transposed convolution's output padding)
            t.addField(FLOATS, "padded" + j, Modifier.FINAL).addField(FLOATS, "dPadded" + j, Modifier.FINAL);
            ctor.addStatement("this.padded$L = new float[n * $L]", j, Generator.perSample(StepCalls.paddedInput(k)))
                .addStatement("this.dPadded$L = new float[n * $L]", j, Generator.perSample(StepCalls.paddedInput(k)));
          }
          if (k.spec() instanceof ConvTranspose2d.Spec c) { // the convolution that maps the output back to the input
            int[] out = k.outShape();
            if (c.dilationH() == 1 && c.dilationW() == 1 && c.groups() == 1) {
              ctor.addStatement("this.shape$L = new $T(n, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L)", j, CONV_SHAPE, out[1], out[2],
                  out[3], in[1], c.kernelH(), c.kernelW(), c.strideH(), c.strideW(), c.padH(), c.padW());
            } else { // dilation and groups: the convolution's with the same ones (GroupedConv's kernels)
              ctor.addStatement("this.shape$L = new $T(n, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L)", j, CONV_SHAPE, out[1],
                  out[2], out[3], in[1], c.kernelH(), c.kernelW(), c.strideH(), c.strideW(), c.padH(), c.padW(), c.dilationH(),
                  c.dilationW(), c.groups());
            }
          } else {
            Conv2d.Spec c = StepCalls.asConv2d(k.spec());
            int[] image = StepCalls.asImage(in);
            if (c.dilationH() == 1 && c.dilationW() == 1 && c.groups() == 1) {
              ctor.addStatement("this.shape$L = new $T(n, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L)", j, CONV_SHAPE, image[1], image[2],
                  image[3], c.outChannels(), c.kernelH(), c.kernelW(), c.strideH(), c.strideW(), c.padH(), c.padW());
            } else { // dilation and groups: GroupedConv's kernels
              ctor.addStatement("this.shape$L = new $T(n, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L)", j, CONV_SHAPE, image[1],
                  image[2], image[3], c.outChannels(), c.kernelH(), c.kernelW(), c.strideH(), c.strideW(), c.padH(), c.padW(),
                  c.dilationH(), c.dilationW(), c.groups());
            }
          }
        }
        case POOL -> {
          int[] image = StepCalls.asImage(in);
          t.addField(POOL_SHAPE, "shape" + j, Modifier.FINAL);
          ctor.addStatement("this.shape$L = new $T(n, $L, $L, $L, $L)", j, POOL_SHAPE, image[1], image[2], image[3],
              StepCalls.maxPoolWindow(k.spec()));
          t.addField(ArrayTypeName.of(TypeName.INT), "argmax" + j, Modifier.FINAL);
          ctor.addStatement("this.argmax$L = new int[n * $L]", j, k.outPerSample());
        }
        case EMBEDDING -> {
          if (k.spec() instanceof EmbeddingBag.Spec bag && bag.mode() == EmbeddingBag.Mode.MAX) { // where each maximum came from
            t.addField(ArrayTypeName.of(TypeName.INT), "bagArgmax" + j, Modifier.FINAL);
            ctor.addStatement("this.bagArgmax$L = new int[n * $L]", j, bag.embeddingDim());
          }
          if (k.spec() instanceof ConstantIds c && c.buffer() != null) { // a buffer's ids as the forward read them, for backward
            t.addField(FLOATS, "lookedUp" + j);
          }
        }
        case NORMALIZE -> { // the norm and its clamp kept for backward; the denominator's gradient and the norm's input gradient
          int[] a = ((Normalize) k.spec()).along(k.inShape());
          for (String f : List.of("norm", "clamped", "dnorm")) {
            t.addField(FLOATS, f + j, Modifier.FINAL);
            ctor.addStatement("this.$L$L = new float[n * $L]", f, j, a[0] * a[2]);
          }
          t.addField(FLOATS, "dnormIn" + j, Modifier.FINAL);
          ctor.addStatement("this.dnormIn$L = new float[n * $L]", j, k.inPerSample());
        }
        case COSINE -> { // each operand's expansion, raised norm and quotient, their product; backward's gradients of those
          int[] shape = ElementwiseEmitter.cosineShape(k);
          int[] a = ((Cosine) k.spec()).along(shape);
          for (int w = 0; w < 2; w++) {
            int[][] passes = ElementwiseEmitter.cosineExpansion(k, w);
            for (String f : List.of("norm", "dnorm")) {
              t.addField(FLOATS, f + j + "_" + w, Modifier.FINAL);
              ctor.addStatement("this.$L$L_$L = new float[n * $L]", f, j, w, a[0] * a[2]);
            }
            for (String f : passes.length > 0 ? List.of("quotient", "dquotient", "expanded", "dexpanded") : List.of("quotient", "dquotient")) {
              t.addField(FLOATS, f + j + "_" + w, Modifier.FINAL);
              ctor.addStatement("this.$L$L_$L = new float[n * $L]", f, j, w, Generator.perSample(shape));
            }
            if (passes.length > 0) {
              t.addField(FLOATS, "dsmall" + j + "_" + w, Modifier.FINAL);
              ctor.addStatement("this.dsmall$L_$L = new float[$L]", j, w, ElementwiseEmitter.operandValues(k, w));
              ElementwiseEmitter.passBuffers(t, ctor, passes, List.of("expanding" + j + "_" + w + "_", "dexpanding" + j + "_" + w + "_"));
            }
          }
          for (String f : List.of("product", "dproduct", "dnormIn")) {
            t.addField(FLOATS, f + j, Modifier.FINAL);
            ctor.addStatement("this.$L$L = new float[n * $L]", f, j, Generator.perSample(shape));
          }
        }
        case POINTWISE_PAIR -> { // a tensor field expanded to the result's shape first, its gradient summed back through the passes
          int[][] passes = gen.elementwise.pairExpansion(k);
          if (passes.length > 0) {
            boolean trained = gen.ir.tensor(k.inputs().get(1)).isParameter();
            for (String f : trained ? List.of("pairExpanded", "dpairExpanded") : List.of("pairExpanded")) {
              t.addField(FLOATS, f + j, Modifier.FINAL);
              ctor.addStatement("this.$L$L = new float[n * $L]", f, j, k.outPerSample());
            }
            ElementwiseEmitter.passBuffers(t, ctor, passes, trained ? List.of("pairExpanding" + j + "_", "dpairExpanding" + j + "_")
                : List.of("pairExpanding" + j + "_"));
          }
        }
        case SCATTER -> t.addField(ScatterEmitter.PLACEMENT, "placed" + j); // the forward's placement, for backward
        case TILE -> ElementwiseEmitter.passBuffers(t, ctor, k.tilePasses(), List.of("tile" + j + "_", "dtile" + j + "_"));
        case WHERE -> { // a tensor field expanded to the result's shape first, its gradient summed back through the passes
          for (int w = 0; w < 3; w++) {
            int[][] passes = gen.stepGradients.whereExpansion(k, w);
            if (passes.length > 0) { // (a field: a gradient buffer for a parameter's, not a mask's or a buffer's)
              boolean trained = w < 2 && gen.ir.tensor(k.inputs().get(w)).isParameter();
              for (String f : trained ? List.of("whereExpanded", "dwhereExpanded") : List.of("whereExpanded")) {
                t.addField(FLOATS, f + j + "_" + w, Modifier.FINAL);
                ctor.addStatement("this.$L$L_$L = new float[n * $L]", f, j, w, k.outPerSample());
              }
              ElementwiseEmitter.passBuffers(t, ctor, passes, trained ? List.of("whereExpanding" + j + "_" + w + "_", "dwhereExpanding" + j + "_" + w + "_")
                  : List.of("whereExpanding" + j + "_" + w + "_"));
            }
          }
        }
        case LAYERNORM, GROUPNORM -> {
          for (String f : List.of("mean", "rstd")) {
            t.addField(DOUBLES, f + j, Modifier.FINAL);
            ctor.addStatement("this.$L$L = new double[n * $L]", f, j,
                k.kind() == Kernel.Kind.LAYERNORM ? NormEmitter.layerNormRows(k) : NormEmitter.groupCount(k));
          }
          if (NormEmitter.tracksRunningStats(k)) { // evaluation's running statistics as read, and the affine gradients
            boolean affine = ((GroupNorm.Options) k.spec()).affine();
            for (String f : affine ? List.of("runningMean", "runningVar", "dweight", "dbias") : List.of("runningMean", "runningVar")) {
              t.addField(FLOATS, f + j, Modifier.FINAL);
              ctor.addStatement("this.$L$L = new float[$L]", f, j, k.channels());
            }
          }
        }
        case BATCHNORM -> {
          for (String f : List.of("mean", "var", "dweight", "dbias")) {
            t.addField(FLOATS, f + j, Modifier.FINAL);
            ctor.addStatement("this.$L$L = new float[$L]", f, j, k.channels());
          }
        }
        case AVGPOOL -> {
          t.addField(AVG_SHAPE, "shape" + j, Modifier.FINAL);
          ctor.addStatement("this.shape$L = $L", j, StepCalls.avgPoolShape(k.spec(), StepCalls.asImage(in)));
        }
        case RECURRENT -> {
          Recurrent.Spec r = k.recurrent();
          t.addField(RECURRENT_STACK, "rnn" + j, Modifier.FINAL);
          ctor.addStatement("this.rnn$L = new $T($T.$L, n, $L, $L, $L, $L, $L, $L, $L$L)", j, RECURRENT_STACK, RECURRENT_MODE, r.mode(),
              in[1], r.inputSize(), r.hiddenSize(), r.numLayers(), r.bidirectional(), r.bias(), r.dropout(),
              k.lastStates() ? ", true /* the last states after the output */" : "");
          StepCalls.onlyInitial(ctor, k, j);
        }
        case DROPOUT -> {
          t.addField(FLOATS, "mask" + j, Modifier.FINAL);
          ctor.addStatement("this.mask$L = new float[n * $L]", j, StepCalls.maskPerSample(k));
        }
        case ACTIVATION -> {
          if (k.spec() instanceof GELU.Spec) { // GELU's slope, written by a forward with grad on for its backward
            t.addField(FLOATS, "slope" + j, Modifier.FINAL);
            ctor.addStatement("this.slope$L = new float[n * $L]", j, k.outPerSample());
          }
        }
        default -> { }
      }
    }
    return t.addMethod(ctor.build()).build();
  }
}
