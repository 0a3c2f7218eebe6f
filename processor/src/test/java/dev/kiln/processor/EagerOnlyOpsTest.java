package dev.kiln.processor;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The eager Tensor ops without a compiled form (masked_select, nonzero; the writes by index compile, ScatterCompileTest; the
 * element-wise math functions, atan2, lerp, the logical ops, prod, amax and amin, neg and roll compile,
 * PointwiseTest): a compiled forward that calls one gets one error, on its line, naming the op and saying that it runs in
 * eager mode only.
 */
class EagerOnlyOpsTest {
  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = ';', value = {
    "h.maskedSelect(h.gt(0f)); maskedSelect", "h.nonzero(); nonzero"})
  void aCompiledForwardNamesTheOpOnItsLine(String call, String op) {
    ProcessorTest.returnIsAnErrorOnItsLine("Uses" + Character.toUpperCase(op.charAt(0)) + op.substring(1), call,
        "forward: Tensor." + op + " has no compiled form yet (");
    ProcessorTest.returnIsAnErrorOnItsLine("Uses" + Character.toUpperCase(op.charAt(0)) + op.substring(1), call,
        "): it runs in eager mode only (docs/guide.md, \"What does not compile yet\"); leave out @Model and the model runs eagerly");
  }
}
