package dev.kiln.processor;

import static com.google.testing.compile.CompilationSubject.assertThat;

import com.google.testing.compile.Compilation;
import java.io.IOException;
import javax.tools.JavaFileObject;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The element-wise Tensor methods in a compiled forward ({@code ir.Pointwise}, {@code ir.PointwisePair}): RMSNorm written
 * functionally ({@code x.mul(x.square().mean(-1, true).add(eps).rsqrt())} by a learned weight) and a model of every one
 * (maximum/minimum of one shape and broadcast, the table's functions, the rounding ones, MathKernels' exp, log, sqrt, abs,
 * sin, cos, pow, clamp), one of atan2, lerp by a constant and the logical ops (MathPairs): the golden sources, eager
 * mode's values and gradients bit for bit, and the errors on their lines.
 */
class PointwiseTest {
  /**
   * The golden sources: RMSNorm written functionally, atan2, lerp and the logical ops (MathPairs), InstanceNorm1d and
   * amax/amin along a dimension (ExtremaNorms), neg(), amax/amin over several dimensions and roll (RollExtrema),
   * maximum, minimum and atan2 of tensor fields (FieldPairs).
   */
  @ParameterizedTest(name = "{0}")
  @CsvSource({"RmsNormMlp", "MathPairs", "ExtremaNorms", "RollExtrema", "FieldPairs"})
  void generatesTheGoldenSourceWithoutWarnings(String model) throws IOException {
    Compilation c = ProcessorTest.compile(ProcessorTest.model(model));
    assertThat(c).succeededWithoutWarnings();
    ProcessorTest.assertGolden(c, "Kiln" + model, "Kiln" + model + ".java");
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({"RmsNormMlp, 4:8", "PointwiseOps, 6", "MathPairs, 6", "ExtremaNorms, 3:8", "RollExtrema, 3:4:8",
    "FieldPairs, 4:6"})
  void matchesEagerBitForBit(String model, String sampleShape) {
    ParityTest.matchesEagerBitForBit(model, sampleShape);
  }

  /** Each refused call on its line: shapes that do not broadcast, eager mode's bad constants. */
  @ParameterizedTest(name = "{1}")
  @CsvSource(delimiter = '|', value = {
    "h.maximum(h.narrow(2, 0, 4)) | h.maximum(h.narrow(2, 0, 4)): a compiled maximum broadcasts its two values as PyTorch does, but one is [N, 4, 6] from"
        + " fc.apply(x) and the other [N, 4, 4] from h.narrow(2, 0, 4): sizes 6 and 4 at dimension 2 differ and neither is 1",
    "h.minimum(h.sum(2)) | h.minimum(h.sum(2)): a compiled minimum broadcasts its two values as PyTorch does, but one is [N, 4, 6] from"
        + " fc.apply(x) and the other [N, 4] from h.sum(2): their ranks differ",
    "h.atan2(h.sum(2)) | h.atan2(h.sum(2)): a compiled atan2 broadcasts its two values as PyTorch does, but one is [N, 4, 6] from"
        + " fc.apply(x) and the other [N, 4] from h.sum(2): their ranks differ",
    "h.lerp(h.narrow(2, 0, 4), 0.5f) | h.lerp(h.narrow(2, 0, 4), 0.5F): sub of [N, 4, 4] from h.narrow(2, 0, 4) and [N, 4, 6] from"
        + " fc.apply(x): sizes 4 and 6 at dimension 2 differ and neither is 1",
    "h.gt(0).logicalAnd(h.narrow(2, 0, 4)) | h.gt(0).logicalAnd(h.narrow(2, 0, 4)): a comparison of [N, 4, 6] from h.gt(0) with"
        + " [N, 4, 4] from h.narrow(2, 0, 4): sizes 6 and 4 at dimension 2 differ and neither is 1",
    "h.lerp(h, Float.NaN) | h.lerp(h, Float.NaN): the weight must be a finite float, got NaN",
    "h.prod() | x.prod() is the product of every value of the batch together, and a compiled forward keeps the batch dimension",
    "h.prod(0) | h.prod(0): prod(0) of [N, 4, 6]: dimension 0 is the batch, which a compiled forward keeps",
    "h.amax() | x.amax() is the maximum of every value of the batch together, and a compiled forward keeps the batch dimension",
    "h.amin(1, 1) | amin(new int[] {1, 1}) of [N, 4, 6]: dimension 1 appears multiple times in the list of dims",
    "h.amax(1, 0) | amax(new int[] {1, 0}) of [N, 4, 6]: dimension 0 is the batch, which a compiled forward keeps",
    "h.roll(1) | x.roll(shift) rolls the tensor flattened, the batch's samples into one another",
    "h.roll(1, 0) | roll(1, 0) of [N, 4, 6]: dimension 0 is the batch, which a compiled forward keeps; roll along dimensions after it",
    "h.roll(new int[] {1}, new int[] {1, 2}) | roll: shifts [1] and dims [1, 2] must have the same length",
    "h.amax(0) | h.amax(0): amax(0) of [N, 4, 6]: dimension 0 is the batch, which a compiled forward keeps",
    "h.pow(Float.POSITIVE_INFINITY) | x.pow: the exponent must be finite, got Infinity",
    "h.clamp(Float.NaN, 1f) | x.clamp: the bounds must be numbers, got NaN",
  })
  void aCallThatDoesNotFitIsAnErrorOnItsLine(String call, String message) {
    ProcessorTest.returnIsAnErrorOnItsLine("BadPointwise", call, message);
  }

  /**
   * A tensor field as maximum's operand that would widen the value, and a pair of two fields (no batch), are refused on their
   * line, naming the field.
   */
  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
    "h.sum(2, true).maximum(low) | h.sum(2, true).maximum(low): the buffer low [4, 6] as an operand of a compiled maximum must"
        + " broadcast over the other value without widening it, each of its last sizes the value's or 1 (a [T, D], [T, 1] or [D]"
        + " field over [N, 4, 1])",
    "low.atan2(low) | low.atan2(low): low is the buffer low [4, 6]; a compiled forward adds a tensor field",
  })
  void aTensorFieldOperandThatDoesNotFitIsAnErrorOnItsLine(String call, String message) {
    JavaFileObject f = ProcessorTest.classModel("FieldMaximum",
        "@Model(input = {4, 6})",
        "public class FieldMaximum extends Module {",
        "  final Linear fc = new Linear(6, 6);",
        "  final Tensor low = registerBuffer(\"low\", Tensor.zeros(4, 6));",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor h = fc.apply(x);",
        "    return h.add(" + call + ");",
        "  }",
        "}");
    Compilation c = ProcessorTest.compile(f);
    assertThat(c).hadErrorCount(1);
    assertThat(c).hadErrorContaining(message).inFile(f).onLineContaining("return h.add(" + call + ");");
  }
}
