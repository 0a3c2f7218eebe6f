package dev.kiln.processor;

import static com.google.testing.compile.CompilationSubject.assertThat;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.testing.compile.Compilation;
import dev.kiln.dsl.MSELoss;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.Map;
import javax.tools.JavaFileObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Writes by index in a compiled forward (the values and gradients: ParityTest {@code writesByIndexMatchEagerBitForBit},
 * CudaCompiledTest's ScatterWrites): the forms that do not compile are one error each, on the call's line, naming what
 * does. The model's h is {@code [N, 4, 6]}.
 */
class ScatterCompileTest {
  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = ';', value = {
    "h.scatter(2, Tensor.labels(0).reshape(1, 1, 1), 0f); Tensor.labels(0).reshape(1, 1, 1) is ids built from constants, the same"
        + " for every sample, where scatter's index has the input's rank, the batch first; a compiled scatter takes ids of the batch",
    "h.indexFill(2, h.argmax(2), 0f); h.argmax(2) is not ids built from constants; a compiled indexFill takes the same slices of"
        + " every sample, ids built from constants in forward",
    "h.indexAdd(2, Tensor.labels(0, 1).view(1, 2), h); is [1, 2], where indexAdd's index is rank-1",
    "h.scatter(0, h.argmax(2, true), 0f); dimension 0 is the batch, which a compiled forward keeps; scatter along a dimension after"
        + " it (each sample's values are written within the sample)",
    "h.scatterAdd(2, h, h); h.scatterAdd(2, h, h): fc.apply(x) is a float value, not ids; a compiled scatterAdd"
        + " takes ids of the batch of the input's rank",
    "h.scatter(2, h.argmax(2), 0f); the index [N, 4] must have the input's rank 3 (input [N, 4, 6])",
    "h.scatterAdd(2, h.argmax(2, true), h.narrow(1, 0, 1)); is larger than the source [N, 1, 6] at dimension 1",
    "h.indexCopy(2, Tensor.labels(0, 1), h); the source must have shape [N, 4, 2] (the input [N, 4, 6] with the index's 2 along"
        + " dimension 2), got [N, 4, 6]",
    "h.indexFill(2, Tensor.labels(6), 0f); index 6 at 0 of Tensor.labels(6) is out of range for dimension 2 of size 6",
    "h.gather(0, h.argmax(2, true)); dimension 0 is the batch, which a compiled forward keeps; gather along a dimension after it",
    "h.gather(2, Tensor.labels(0).reshape(1, 1, 1)); is ids built from constants, the same for every sample, where gather's index"
        + " has the input's rank, the batch first",
    "h.narrow(1, 0, 2).gather(2, h.argmax(2, true)); gather(2, index): index [N, 4, 1] is larger than the input [N, 2, 6] at"
        + " dimension 1",
    "h.indexSelect(0, Tensor.labels(0)); dimension 0 is the batch, which a compiled forward keeps; indexSelect along a dimension"
        + " after it",
    "h.indexSelect(2, h.argmax(2)); h.argmax(2) is not ids built from constants; a compiled indexSelect takes the same slices of"
        + " every sample, ids built from constants in forward",
    "h.indexSelect(2, Tensor.labels(0, 1).view(1, 2)); is [1, 2], where indexSelect's index is rank-1",
    "h.indexSelect(1, Tensor.labels(1, -5)); index -5 at 1 of Tensor.labels(1, -5) is out of range for dimension 1 of size 4"})
  void aFormThatDoesNotCompileIsAnErrorOnItsLine(String call, String message) {
    ProcessorTest.returnIsAnErrorOnItsLine("Writes", call, message);
  }

  /**
   * A further input of ids read only by writes by index ({@code ScatteredTags}): a label tensor, values and every gradient
   * eager mode's bit for bit over batch sizes 5, 3 and 5, none to the ids; a tag past the row fails with eager's message.
   */
  @Test
  void aFurtherInputsIdsScatterAsEager() throws ReflectiveOperationException {
    Compilation c = ProcessorTest.compile(ProcessorTest.model("ScatteredTags"));
    assertThat(c).succeededWithoutWarnings();
    ClassLoader loader = new ParityTest.CompiledClasses(c);
    Kiln.manualSeed(11);
    Module eager = ParityTest.factory(loader, "test.ScatteredTags").get();
    Kiln.manualSeed(11);
    Module compiled = ParityTest.factory(loader, "test.KilnScatteredTags").get();
    Method e = eager.getClass().getMethod("forwardTagged", Tensor.class, Tensor.class);
    Method k = compiled.getClass().getMethod("forwardTagged", Tensor.class, Tensor.class);
    for (int batch : new int[] {5, 3, 5}) {
      Kiln.manualSeed(batch);
      float[] x = Tensor.randn(batch, 6).toFloatArray();
      Tensor tags = ParityTest.ids(batch, 2, 8);
      Tensor xe = Tensor.of(x, batch, 6).requiresGrad(true), xc = Tensor.of(x, batch, 6).requiresGrad(true);
      eager.zeroGrad(true);
      compiled.zeroGrad(true);
      Tensor oe = (Tensor) e.invoke(eager, xe, tags), oc = (Tensor) k.invoke(compiled, xc, tags);
      assertArrayEquals(oe.toFloatArray(), oc.toFloatArray(), "output");
      Tensor target = Tensor.randn(oe.shape());
      new MSELoss().apply(oe, target).backward();
      new MSELoss().apply(oc, target).backward();
      assertArrayEquals(xe.grad().toFloatArray(), xc.grad().toFloatArray(), "x's gradient");
      assertNull(tags.grad());
      Map<String, Tensor> cp = compiled.namedParameters();
      eager.namedParameters().forEach((name, v) -> assertArrayEquals(v.grad().toFloatArray(), cp.get(name).grad().toFloatArray(),
          name + " gradient"));
    }
    Tensor bad = Tensor.labels(1, 8).view(1, 2);
    Throwable thrown = assertThrows(InvocationTargetException.class, () -> k.invoke(compiled, Tensor.randn(1, 6), bad)).getCause();
    assertTrue(thrown.getMessage().contains("scatter_add: index 8 at [0, 1] is out of range for dimension 1 of size 8 (input [1, 8])"),
        thrown.getMessage());
  }
}
