package dev.kiln.processor.gen;

import dev.kiln.processor.gen.Generator.Ref;
import static dev.kiln.processor.gen.Generator.COMPILED;
import static dev.kiln.processor.gen.Generator.KERNELS;
import static dev.kiln.processor.gen.Generator.NORM;
import static dev.kiln.processor.gen.Generator.F;
import static dev.kiln.processor.gen.Generator.TENSOR;

import com.palantir.javapoet.CodeBlock;
import dev.kiln.dsl.BatchNorm;
import dev.kiln.dsl.GroupNorm;
import dev.kiln.dsl.InstanceNorm;
import dev.kiln.dsl.LayerNorm;
import dev.kiln.processor.ir.GroupNormOf;
import dev.kiln.processor.ir.TensorIr;
import dev.kiln.runtime.Shapes;
import java.util.Arrays;

/**
 * Batch, group and layer norm steps, for {@link Generator}: their forward and backward calls with their
 * affine parameters and gradients, and the rows and sizes they run over.
 */
final class NormEmitter {
  private final Generator gen;

  NormEmitter(Generator gen) {
    this.gen = gen;
  }

  /** The batch-norm gradients (through the fused ReLU's mask); parameter gradients are added to the parameters'. */
  void batchNormBackward(CodeBlock.Builder b, Kernel k, int j, Ref in, Ref d, Ref target) {
    BatchNorm.Options o = (BatchNorm.Options) k.spec();
    String bn = gen.layerFields.layerField(k.layer());
    int c = k.channels(), l = k.spatial();
    String gradsOut = o.affine() ? "p.dweight" + j + ", 0, p.dbias" + j + ", 0" : "null, 0, null, 0";
    String weight = o.affine() ? bn + ".weight().readBuffer(), " + bn + ".weight().offset()" : "null, 0";
    if (k.relu() && !gen.maskedByPooling.contains(k.out())) { // the ReLU's mask is recomputed from the input as the gradient is read
      String bias = o.affine() ? bn + ".bias().readBuffer(), " + bn + ".bias().offset()" : "null, 0";
      b.addStatement("$T.batchNormReluBackward($L, $L, $L, $L, $L, $L, $L, p.mean$L, 0, p.var$L, 0, $L, $L, n, $L, $L, $L, training[$L])",
          NORM, target.array(), target.offset(), gradsOut, d.array(), d.offset(), in.array(), in.offset(), j, j,
          weight, bias, c, l, o.eps(), j);
    } else {
      b.addStatement("$T.batchNormBackward($L, $L, $L, $L, $L, $L, $L, p.mean$L, 0, p.var$L, 0, $L, n, $L, $L, $L, training[$L])", NORM,
          target.array(), target.offset(), gradsOut, d.array(), d.offset(), in.array(), in.offset(), j, j, weight, c, l, o.eps(), j);
    }
    if (o.affine()) {
      accumulateAffine(b, bn, j, c);
    }
  }

  /** A norm's weight and bias gradients of this backward ({@code p.dweightJ}, {@code p.dbiasJ}) added to the parameters' own. */
  private void accumulateAffine(CodeBlock.Builder b, String layer, int j, int c) {
    b.addStatement("$T.accumulate($T.gradBuffer($L.weight(), $L), 0, p.dweight$L, 0, $L)", KERNELS, COMPILED, layer,
            gen.parameterCode.recordedNeed(layer + ".weight()"), j, c)
        .addStatement("$T.accumulate($T.gradBuffer($L.bias(), $L), 0, p.dbias$L, 0, $L)", KERNELS, COMPILED, layer,
            gen.parameterCode.recordedNeed(layer + ".bias()"), j, c);
  }

  /** Whether a step is an instance norm keeping running statistics ({@code track_running_stats}): its mode picks its pass. */
  static boolean tracksRunningStats(Kernel k) {
    return k.spec() instanceof InstanceNorm.Options o && o.trackRunningStats();
  }

  /**
   * Batch statistics (training) or running statistics (evaluation), then one normalising pass (+ ReLU), or, with
   * {@code pool > 0}, one pass that also max-pools into that pooling kernel's output ({@code out}).
   */
  void batchNormForward(CodeBlock.Builder b, Kernel k, int j, Ref in, Ref out, int pool) {
    BatchNorm.Options o = (BatchNorm.Options) k.spec();
    String bn = gen.layerFields.layerField(k.layer());
    int c = k.channels(), l = k.spatial();
    b.beginControlFlow("if (training[$L])", j)
        .addStatement("$T.requireBatchStatistics(n, $L)", COMPILED, Generator.joined(Arrays.copyOfRange(k.inShape(), 1, k.inShape().length)))
        .addStatement("$T.batchStatistics(p.mean$L, 0, p.var$L, 0, $L, $L, n, $L, $L)", NORM, j, j, in.array(), in.offset(), c, l)
        .addStatement("$T.updateRunningStatistics($L.runningMean().buffer(), $L.runningMean().offset(), $L.runningVar().buffer(), "
            + "$L.runningVar().offset(), p.mean$L, 0, p.var$L, 0, $L, n * $L, $L)", NORM, bn, bn, bn, bn, j, j, c, l, o.momentum())
        .addStatement("$T.countBatch($L.numBatchesTracked())", COMPILED, bn)
        .nextControlFlow("else")
        .addStatement("System.arraycopy($L.runningMean().readBuffer(), $L.runningMean().offset(), p.mean$L, 0, $L)", bn, bn, j, c)
        .addStatement("System.arraycopy($L.runningVar().readBuffer(), $L.runningVar().offset(), p.var$L, 0, $L)", bn, bn, j, c)
        .endControlFlow();
    String affine = o.affine()
        ? bn + ".weight().readBuffer(), " + bn + ".weight().offset(), " + bn + ".bias().readBuffer(), " + bn + ".bias().offset()"
        : "null, 0, null, 0";
    if (pool > 0) { // BN + ReLU + 2x2 max pooling: out is the pooling's output
      b.addStatement("$T.batchNormReluMaxPool2x2($L, $L, p.argmax$L, $L, $L, p.mean$L, 0, p.var$L, 0, $L, $L, p.shape$L)", NORM,
          out.array(), out.offset(), pool, in.array(), in.offset(), j, j, affine, o.eps(), pool);
      return;
    }
    b.addStatement("$T.$L($L, $L, $L, $L, p.mean$L, 0, p.var$L, 0, $L, n, $L, $L, $L)", NORM,
        k.relu() ? "batchNormReluForward" : "batchNormForward", out.array(), out.offset(), in.array(), in.offset(), j, j, affine, c, l, o.eps());
  }

  /**
   * A group norm's (or instance norm's) forward: one pass, each sample's groups' mean and 1/std kept in {@code
   * p.mean}, {@code p.rstd}; the same in training and evaluation.
   */
  void groupNormForward(CodeBlock.Builder b, Kernel k, int j, Ref in, Ref out) {
    if (k.spec() instanceof GroupNormOf f) { // F.groupNorm(x, groups, w, b, eps): the weight and bias fields, where given
      b.addStatement("$T.groupNormForward($L, $L, $L, $L, $L, $L, p.mean$L, p.rstd$L, n, $L, $L, $L, $L)", NORM, out.array(), out.offset(),
          in.array(), in.offset(), gen.stepCalls.fieldArguments(groupNormField(k, true)), gen.stepCalls.fieldArguments(groupNormField(k, false)), j, j, k.channels(),
          f.groups(), k.spatial(), f.eps());
      return;
    }
    GroupNorm.Options o = (GroupNorm.Options) k.spec();
    String layer = gen.layerFields.layerField(k.layer());
    if (tracksRunningStats(k)) { // training: the instance statistics, and eager's update of the running ones from the input
      b.beginControlFlow("if (training[$L])", j);
    }
    b.addStatement("$T.groupNormForward($L, $L, $L, $L, $L, p.mean$L, p.rstd$L, n, $L, $L, $L, $L)", NORM, out.array(), out.offset(),
        in.array(), in.offset(), affineArguments(layer, o.affine()), j, j, k.channels(), o.numGroups(), k.spatial(),
        o.eps());
    if (tracksRunningStats(k)) { // evaluation: eager's batch norm by the running statistics, copied for the backward
      b.addStatement("$L.updateRunningStats($T.wrap($T.copyOfRange($L, $L, $L + n * $L), $L))", layer, TENSOR, Arrays.class, in.array(),
              in.offset(), in.offset(), k.inPerSample(), Generator.batchShape(k.inShape()))
          .nextControlFlow("else")
          .addStatement("System.arraycopy($L.runningMean().readBuffer(), $L.runningMean().offset(), p.runningMean$L, 0, $L)", layer, layer,
              j, k.channels())
          .addStatement("System.arraycopy($L.runningVar().readBuffer(), $L.runningVar().offset(), p.runningVar$L, 0, $L)", layer, layer, j,
              k.channels())
          .addStatement("$T.batchNormForward($L, $L, $L, $L, p.runningMean$L, 0, p.runningVar$L, 0, $L, n, $L, $L, $L)", NORM, out.array(),
              out.offset(), in.array(), in.offset(), j, j, affineArguments(layer, o.affine()), k.channels(), k.spatial(), o.eps())
          .endControlFlow();
    }
  }

  /** A group norm's gradients: the input's into {@code target} (when wanted), the weight's and bias's added to theirs. */
  void groupNormBackward(CodeBlock.Builder b, Kernel k, int j, Ref in, Ref d, Ref target) {
    if (k.spec() instanceof GroupNormOf f) { // the fields' gradients added to their own (none for a buffer)
      TensorIr w = groupNormField(k, true), bias = groupNormField(k, false);
      b.addStatement("$T.groupNormBackward($L, $L, $L, $L, $L, $L, true, $L, $L, $L, $L, $L, p.mean$L, p.rstd$L, n, $L, $L, $L)", NORM,
          target.array(), target.offset(), gen.stepCalls.convFieldGradient(w), w == null ? "0" : ParameterCode.gradOffset(w), gen.stepCalls.convFieldGradient(bias),
          bias == null ? "0" : ParameterCode.gradOffset(bias), d.array(), d.offset(), in.array(), in.offset(), gen.stepCalls.fieldArguments(w), j, j, k.channels(),
          f.groups(), k.spatial());
      return;
    }
    GroupNorm.Options o = (GroupNorm.Options) k.spec();
    String gn = gen.layerFields.layerField(k.layer());
    if (tracksRunningStats(k)) {
      b.beginControlFlow("if (training[$L])", j);
    }
    b.addStatement("$T.groupNormBackward($L, $L, $L, true, $L, $L, $L, $L, $L, p.mean$L, p.rstd$L, n, $L, $L, $L)", NORM,
        target.array(), target.offset(), affineGradients(gn, o.affine()), d.array(), d.offset(), in.array(), in.offset(),
        weightArguments(gn, o.affine()), j, j, k.channels(), o.numGroups(), k.spatial());
    if (tracksRunningStats(k)) { // evaluation: eager's batch norm backward by the running statistics the forward read
      b.nextControlFlow("else")
          .addStatement("$T.batchNormBackward($L, $L, $L, $L, $L, $L, $L, p.runningMean$L, 0, p.runningVar$L, 0, $L, n, $L, $L, $L, false)",
              NORM, target.array(), target.offset(), o.affine() ? "p.dweight" + j + ", 0, p.dbias" + j + ", 0" : "null, 0, null, 0",
              d.array(), d.offset(), in.array(), in.offset(), j, j, weightArguments(gn, o.affine()), k.channels(), k.spatial(), o.eps());
      if (o.affine()) {
        accumulateAffine(b, gn, j, k.channels());
      }
      b.endControlFlow();
    }
  }

  /** A group norm step's number of groups: its layer's, or {@code F.groupNorm}'s. */
  static int groupCount(Kernel k) {
    return k.spec() instanceof GroupNormOf f ? f.groups() : ((GroupNorm.Options) k.spec()).numGroups();
  }

  /** {@code F.groupNorm}'s weight field ({@code weight}) or bias field, null where not given: its inputs after x, in that order. */
  TensorIr groupNormField(Kernel k, boolean weight) {
    GroupNormOf f = (GroupNormOf) k.spec();
    return weight ? (f.weight() ? gen.ir.tensor(k.inputs().get(1)) : null) : f.bias() ? gen.ir.tensor(k.inputs().get(f.weight() ? 2 : 1)) : null;
  }

  /** A norm layer's weight and bias as kernel arguments (array, offset each), or {@code null, 0, null, 0} without. */
  static String affineArguments(String layer, boolean affine) {
    return affine ? weightArguments(layer, true) + ", " + layer + ".bias().readBuffer(), " + layer + ".bias().offset()"
        : "null, 0, null, 0";
  }

  /** A norm layer's weight as kernel arguments (array, offset), or {@code null, 0} without. */
  static String weightArguments(String layer, boolean affine) {
    return affine ? layer + ".weight().readBuffer(), " + layer + ".weight().offset()" : "null, 0";
  }

  /** Where a norm layer's backward adds its weight's and bias's gradients (null where not wanted), or nowhere. */
  CodeBlock affineGradients(String layer, boolean affine) {
    return affine
        ? CodeBlock.of("$T.gradBuffer($L.weight(), $L), 0, $T.gradBuffer($L.bias(), $L), 0", COMPILED, layer,
            gen.parameterCode.recordedNeed(layer + ".weight()"), COMPILED, layer, gen.parameterCode.recordedNeed(layer + ".bias()"))
        : CodeBlock.of("null, 0, null, 0");
  }

  /** Values a layer norm step normalises together: the product of its normalized shape. */
  static int layerNormInner(Kernel k) {
    return Shapes.numel(((LayerNorm.Spec) k.spec()).normalizedShape());
  }

  /** Rows per sample a layer norm step normalises: [N, S, D] over D has S. */
  static int layerNormRows(Kernel k) {
    return k.outPerSample() / layerNormInner(k);
  }

  static String rows(Kernel k) {
    return k.rowsPerSample() == 1 ? "n" : "n * " + k.rowsPerSample();
  }
}
