package dev.kiln.processor.gen;

import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import dev.kiln.dsl.CELU;
import dev.kiln.dsl.Hardsigmoid;
import dev.kiln.dsl.Hardswish;
import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.LogSigmoid;
import dev.kiln.dsl.Mish;
import dev.kiln.dsl.SELU;
import dev.kiln.dsl.Softsign;
import dev.kiln.dsl.Tanhshrink;

/**
 * The activations of eager mode's {@code ActivationCodeKernels} in a compiled forward (hardswish, hardsigmoid, Mish,
 * SELU, CELU, softsign, log-sigmoid, tanhshrink): piecewise activation steps whose kernels are eager mode's, picked by
 * the code eager mode passes ({@code ActivationCodeKernels.MISH}), with CELU's alpha the float eager mode rounds it to.
 */
final class CodedActivations {
  static final ClassName KERNELS = ClassName.get("dev.kiln.runtime.cpu", "ActivationCodeKernels");

  private CodedActivations() {}

  /** The kernels' code name of {@code spec} ({@code "MISH"}), or null when it is not one of these activations. */
  static String code(LayerSpec spec) {
    return spec instanceof Hardswish.Spec ? "HARDSWISH" : spec instanceof Hardsigmoid.Spec ? "HARDSIGMOID"
        : spec instanceof Mish.Spec ? "MISH" : spec instanceof SELU.Spec ? "SELU" : spec instanceof CELU.Spec ? "CELU"
        : spec instanceof Softsign.Spec ? "SOFTSIGN" : spec instanceof LogSigmoid.Spec ? "LOGSIGMOID"
        : spec instanceof Tanhshrink.Spec ? "TANHSHRINK" : null;
  }

  static boolean is(LayerSpec spec) {
    return code(spec) != null;
  }

  /** The step's forward: {@code ActivationCodeKernels.forward(ActivationCodeKernels.MISH, out, 0, in, 0, n * 40, 0f)}. */
  static void forward(CodeBlock.Builder b, Kernel k, Generator.Ref out, Generator.Ref in) {
    b.addStatement("$T.forward($T.$L, $L, $L, $L, $L, n * $L, $L)", KERNELS, KERNELS, code(k.spec()), out.array(), out.offset(),
        in.array(), in.offset(), k.outPerSample(), parameter(k.spec()));
  }

  /** The step's backward, from its input. */
  static void backward(CodeBlock.Builder b, Kernel k, Generator.Ref target, Generator.Ref d, Generator.Ref in) {
    b.addStatement("$T.backward($T.$L, $L, $L, $L, $L, $L, $L, n * $L, $L)", KERNELS, KERNELS, code(k.spec()), target.array(),
        target.offset(), d.array(), d.offset(), in.array(), in.offset(), k.outPerSample(), parameter(k.spec()));
  }

  /** Eager mode's call on the CUDA plan: {@code F.mish(h)}, {@code F.celu(h, 0.5)}. */
  static CodeBlock eagerCall(LayerSpec spec, String input) {
    if (spec instanceof CELU.Spec c) {
      return CodeBlock.of("$T.celu($L, $L)", Generator.F, input, c.alpha());
    }
    return CodeBlock.of("$T.$L($L)", Generator.F, functionName(spec), input);
  }

  /** The {@code F} function of a parameterless one: {@code hardswish}, ..., {@code logsigmoid}, {@code tanhshrink}. */
  private static String functionName(LayerSpec spec) {
    return code(spec).toLowerCase(java.util.Locale.ROOT);
  }

  private static CodeBlock parameter(LayerSpec spec) {
    return Generator.floatLiteral(spec instanceof CELU.Spec c ? (float) c.alpha() : 0f);
  }
}
