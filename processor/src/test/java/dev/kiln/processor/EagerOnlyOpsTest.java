package dev.kiln.processor;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The eager Tensor ops without a compiled form (writes by index,
 * masked_select, nonzero; the element-wise math functions, atan2, lerp, the logical ops, prod, amax and amin, neg and roll compile,
 * PointwiseTest): a compiled forward that calls one gets one error, on its line, naming the op and saying that it runs in
 * eager mode only.
 */
class EagerOnlyOpsTest {
  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = ';', value = {
    "h.scatter(2, Tensor.labels(0).reshape(1, 1, 1), 0f); scatter",
    "h.indexFill(2, Tensor.labels(0), 0f); indexFill", "h.scatterAdd(2, Tensor.labels(0).reshape(1, 1, 1), h); scatterAdd"})
  void aCompiledForwardNamesTheOpOnItsLine(String call, String op) {
    ProcessorTest.returnIsAnErrorOnItsLine("Uses" + Character.toUpperCase(op.charAt(0)) + op.substring(1), call,
        "forward: Tensor." + op + " has no compiled form yet (");
    ProcessorTest.returnIsAnErrorOnItsLine("Uses" + Character.toUpperCase(op.charAt(0)) + op.substring(1), call,
        "): it runs in eager mode only (docs/guide.md, \"What does not compile yet\"); leave out @Model and the model runs eagerly");
  }
}
