package dev.kiln.processor.gen;

import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import dev.kiln.processor.gen.Generator.Ref;
import dev.kiln.processor.ir.PReluOf;
import dev.kiln.processor.ir.TensorIr;

/**
 * A PRELU step's code ({@link PReluOf}): eager mode's {@code cpu.PReluKernels} over x seen as {@code [n, channels, inner]},
 * the slopes the tensor field that is the step's second input, read where it lives; backward the input's gradient and the
 * slopes' added to the field's own (none for a buffer). On CUDA eager's {@code F.prelu}.
 */
final class PReluSteps {
  private static final ClassName KERNELS = ClassName.get("dev.kiln.runtime.cpu", "PReluKernels");

  private PReluSteps() {}

  /** The slopes' tensor field. */
  private static TensorIr slopes(Generator gen, Kernel k) {
    return gen.ir.tensor(k.inputs().get(1));
  }

  /** {@code channels, inner} of the kernels' view of x. */
  private static String along(Kernel k) {
    int[] a = ((PReluOf) k.spec()).along(k.inShape());
    return a[0] + ", " + a[1];
  }

  /** {@code out = x > 0 ? x : w[c] * x}. */
  static void forward(Generator gen, CodeBlock.Builder b, Kernel k, Ref in, Ref out) {
    b.addStatement("$T.forward($L, $L, $L, $L, $L, n, $L)", KERNELS, out.array(), out.offset(), in.array(), in.offset(),
        gen.stepCalls.fieldArguments(slopes(gen, k)), along(k));
  }

  /** The input's gradient into {@code target} (where wanted), the slopes' added to the field's. */
  static void backward(Generator gen, CodeBlock.Builder b, Kernel k, Ref in, Ref d, Ref target) {
    TensorIr w = slopes(gen, k);
    b.addStatement("$T.backward($L, $L, $L, $L, true, $L, $L, $L, $L, $L, n, $L)", KERNELS, target.array(), target.offset(),
        gen.stepCalls.convFieldGradient(w), w.isParameter() ? ParameterCode.gradOffset(w) : "0", d.array(), d.offset(), in.array(),
        in.offset(), gen.stepCalls.fieldArguments(w), along(k));
  }

  /** Eager mode's {@code F.prelu(x, w)} on the device: the CUDA step. */
  static CodeBlock eagerCall(Generator gen, Kernel k, String in) {
    return CodeBlock.of("$T.prelu($L, $L)", Generator.F, in, gen.parameterCode.fieldExpression(slopes(gen, k)));
  }
}
