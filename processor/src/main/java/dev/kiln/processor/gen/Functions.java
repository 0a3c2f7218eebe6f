package dev.kiln.processor.gen;

import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import dev.kiln.dsl.AdaptiveAvgPool1d;
import dev.kiln.dsl.AdaptiveAvgPool2d;
import dev.kiln.dsl.AvgPool1d;
import dev.kiln.dsl.AvgPool2d;
import dev.kiln.dsl.ELU;
import dev.kiln.dsl.Flatten;
import dev.kiln.dsl.GELU;
import dev.kiln.dsl.Hardtanh;
import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.LeakyReLU;
import dev.kiln.dsl.LogSoftmax;
import dev.kiln.dsl.MaxPool1d;
import dev.kiln.dsl.MaxPool2d;
import dev.kiln.dsl.ReLU;
import dev.kiln.dsl.SiLU;
import dev.kiln.dsl.Sigmoid;
import dev.kiln.dsl.Softmax;
import dev.kiln.dsl.Softplus;
import dev.kiln.dsl.Tanh;
import dev.kiln.dsl.Upsample;
import dev.kiln.processor.ir.Permute;
import dev.kiln.processor.ir.Compare;
import dev.kiln.processor.ir.Flip;
import dev.kiln.processor.ir.LineOp;
import dev.kiln.processor.ir.Narrow;
import dev.kiln.processor.ir.Tile;
import dev.kiln.processor.ir.Normalize;
import dev.kiln.processor.ir.Pad;
import dev.kiln.processor.ir.Pointwise;
import dev.kiln.processor.ir.Reduce;
import dev.kiln.processor.ir.InitialStates;
import dev.kiln.processor.ir.Reshape;
import dev.kiln.processor.ir.Scale;
import dev.kiln.processor.ir.Shift;
import dev.kiln.processor.ir.Transpose;
import java.util.stream.Collectors;

/** The {@code F} call that computes a functional step, written back from its spec. */
final class Functions {
  private static final ClassName F = ClassName.get("dev.kiln.dsl", "F");

  private Functions() {}

  static CodeBlock call(LayerSpec spec, String input) {
    if (spec instanceof ReLU.Spec) {
      return CodeBlock.of("$T.relu($L)", F, input);
    }
    if (spec instanceof Sigmoid.Spec) {
      return CodeBlock.of("$T.sigmoid($L)", F, input);
    }
    if (spec instanceof Tanh.Spec) {
      return CodeBlock.of("$T.tanh($L)", F, input);
    }
    if (spec instanceof GELU.Spec g) { // F.gelu(x, "tanh") for the tanh approximation
      return g.tanh() ? CodeBlock.of("$T.gelu($L, $S)", F, input, g.approximate()) : CodeBlock.of("$T.gelu($L)", F, input);
    }
    if (spec instanceof SiLU.Spec) {
      return CodeBlock.of("$T.silu($L)", F, input);
    }
    if (spec instanceof LeakyReLU.Spec s) {
      return CodeBlock.of("$T.leakyRelu($L, $L)", F, input, s.negativeSlope());
    }
    if (spec instanceof ELU.Spec s) {
      return CodeBlock.of("$T.elu($L, $L)", F, input, s.alpha());
    }
    if (spec instanceof Softplus.Spec s) {
      return CodeBlock.of("$T.softplus($L, $L, $L)", F, input, s.beta(), s.threshold());
    }
    if (spec instanceof Hardtanh.Spec s) {
      return CodeBlock.of("$T.hardtanh($L, $L, $L)", F, input, s.minVal(), s.maxVal());
    }
    if (spec instanceof dev.kiln.dsl.ReLU6.Spec) {
      return CodeBlock.of("$T.relu6($L)", F, input);
    }
    if (CodedActivations.is(spec)) {
      return CodedActivations.eagerCall(spec, input);
    }
    if (spec instanceof dev.kiln.dsl.Identity.Spec) {
      return CodeBlock.of("$L", input);
    }
    if (spec instanceof dev.kiln.dsl.Unflatten.Spec s) {
      return CodeBlock.of("$T.unflatten($L, $L, $L)", F, input, s.dim(), java.util.Arrays.stream(s.sizes()).mapToObj(String::valueOf)
          .collect(Collectors.joining(", ")));
    }
    if (spec instanceof Normalize s) {
      return CodeBlock.of("$T.normalize($L, $L, $L, $L)", F, input, s.p(), s.dim(), s.eps() + "f");
    }
    if (spec instanceof LineOp s) { // x.logsumexp(1, false): Tensor's own methods, F has none
      return CodeBlock.of("$L.$L", input, s.call());
    }
    if (spec instanceof Pointwise s) { // x.rsqrt(), x.clamp(-1.0f, 1.0f): Tensor's own methods
      return CodeBlock.of("$L.$L", input, s.call());
    }
    if (spec instanceof Flip s) {
      return CodeBlock.of("$L.flip($L)", input, s.arguments());
    }
    if (spec instanceof dev.kiln.processor.ir.Roll s) {
      return CodeBlock.of("$L.roll($L)", input, s.arguments());
    }
    if (spec instanceof dev.kiln.processor.ir.ExpandField s) { // cls.expand(n, -1, -1): eager's expand on the tape
      return CodeBlock.of("$L.expand($L)", input, s.arguments());
    }
    if (spec instanceof Tile s) {
      return CodeBlock.of("$L.repeat($L)", input, s.arguments());
    }
    if (spec instanceof Pad s) {
      return CodeBlock.of("$T.pad($L, $L, $L)", F, input, s.array(), Generator.floatLiteral(s.value()));
    }
    if (spec instanceof Softmax.Spec s) {
      return CodeBlock.of("$T.softmax($L, $L)", F, input, s.dim());
    }
    if (spec instanceof LogSoftmax.Spec s) {
      return CodeBlock.of("$T.logSoftmax($L, $L)", F, input, s.dim());
    }
    if (spec instanceof Flatten.Spec s) {
      return CodeBlock.of("$T.flatten($L, $L, $L)", F, input, s.startDim(), s.endDim());
    }
    if (spec instanceof InitialStates.State s) { // [N, L * D, H]'s values as [N, L, D * H]: a view
      return CodeBlock.of("$L.reshape($L.size(0), $L, $L)", input, input, s.layer().numLayers(), s.layer().directions() * s.layer().hiddenSize());
    }
    if (spec instanceof Reshape s) {
      return CodeBlock.of("$T.reshape($L, $L)", F, input, s.shape().stream().map(String::valueOf).collect(Collectors.joining(", ")));
    }
    if (spec instanceof MaxPool2d.Spec s) {
      return CodeBlock.of("$T.maxPool2d($L, $L, $L, $L, $L)", F, input, s.kernelSize(), s.stride(), s.padding(), s.ceilMode());
    }
    if (spec instanceof AvgPool2d.Spec s) {
      return CodeBlock.of("$T.avgPool2d($L, $L, $L, $L, $L, $L)", F, input, s.kernelSize(), s.stride(), s.padding(), s.ceilMode(),
          s.countIncludePad());
    }
    if (spec instanceof MaxPool1d.Spec s) {
      return CodeBlock.of("$T.maxPool1d($L, $L, $L, $L, $L)", F, input, s.kernelSize(), s.stride(), s.padding(), s.ceilMode());
    }
    if (spec instanceof AvgPool1d.Spec s) {
      return CodeBlock.of("$T.avgPool1d($L, $L, $L, $L, $L, $L)", F, input, s.kernelSize(), s.stride(), s.padding(), s.ceilMode(),
          s.countIncludePad());
    }
    if (spec instanceof AdaptiveAvgPool1d.Spec s) {
      return CodeBlock.of("$T.adaptiveAvgPool1d($L, $L)", F, input, s.size());
    }
    if (spec instanceof Upsample.Spec s) {
      return CodeBlock.of("$T.interpolate($L, $L, $L)", F, input, s.scaleH(), s.scaleW());
    }
    if (spec instanceof AdaptiveAvgPool2d.Spec s) {
      return CodeBlock.of("$T.adaptiveAvgPool2d($L, $L, $L)", F, input, s.outH(), s.outW());
    }
    if (spec instanceof Transpose s) {
      return CodeBlock.of("$T.transpose($L, $L, $L)", F, input, s.d0(), s.d1());
    }
    if (spec instanceof Permute s) {
      return CodeBlock.of("$T.permute($L, $L)", F, input, s.dims().stream().map(String::valueOf).collect(Collectors.joining(", ")));
    }
    if (spec instanceof Scale s) {
      return CodeBlock.of("$T.mul($L, $Lf)", F, input, s.factor());
    }
    if (spec instanceof Shift s) { // Tensor.add(float): F has no shift of its own
      return CodeBlock.of("$L.add($Lf)", input, s.amount());
    }
    if (spec instanceof Reduce r) {
      String dims = r.dims().stream().map(String::valueOf).collect(Collectors.joining(", "));
      return CodeBlock.of("$T.$L($L, $L, $L)", F, r.mean() ? "mean" : "sum", input, r.several() ? "new int[] {" + dims + "}" : dims,
          r.keepDim());
    }
    if (spec instanceof Compare c) { // Tensor.ne(float): a 0/1 value without gradient
      return CodeBlock.of("$L.$L($Lf)", input, c.method(), c.against());
    }
    if (spec instanceof Narrow s) {
      return s.select() ? CodeBlock.of("$T.select($L, $L, $L)", F, input, s.dim(), s.start())
          : CodeBlock.of("$T.narrow($L, $L, $L, $L)", F, input, s.dim(), s.start(), s.length());
    }
    throw new IllegalStateException("no F function for " + spec); // LayerCatalog.function admits only these
  }
}
