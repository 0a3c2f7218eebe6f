package dev.kiln.processor;

import static com.google.testing.compile.CompilationSubject.assertThat;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.testing.compile.Compilation;
import dev.kiln.dsl.MSELoss;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.DType;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import javax.tools.JavaFileObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Buffers of ids as an index in a compiled forward ({@code registerBuffer("perm", Tensor.labels(3, 0, 3, 1))}, then {@code
 * h.indexSelect(2, perm)}): model state, read at each call, so a load or a write in place is seen as eager mode sees it.
 */
class BufferIdsTest {
  /**
   * The index forms of buffers ({@code BufferIndexes}): values and gradients eager mode's bit for bit over SGD steps, then again
   * after a load replaces one buffer and after one replaces them all (the new ids used: the output changes each time; ids are not
   * written in place, which eager refuses for labels), and an id a load put out of range fails with eager's message.
   */
  @Test
  void buffersOfIdsAreReadAtEachCallAsEager() {
    Module compiled = ParityTest.matchesEagerBitForBit("BufferIndexes", "6");
    Kiln.manualSeed(11);
    Module eager = ParityTest.factory(compiled.getClass().getClassLoader(), "test.BufferIndexes").get();
    eager.loadStateDict(compiled.stateDict());
    Kiln.manualSeed(5);
    Tensor x = Tensor.randn(5, 6);
    float[] before = sameAsEager(eager, compiled, x, "as trained");
    Map<String, Tensor> state = new HashMap<>(eager.stateDict());
    state.put("perm", Tensor.labels(0, 1, 2, 3));
    for (Module m : List.of(eager, compiled)) {
      m.loadStateDict(state);
    }
    float[] written = sameAsEager(eager, compiled, x, "perm loaded");
    assertFalse(Arrays.equals(before, written), "the loaded ids are used");
    state.put("perm", Tensor.labels(2, 2, -4, 1));
    state.put("rows", Tensor.labels(1, 1));
    state.put("cols", Tensor.labels(-2, 3));
    state.put("fill", Tensor.labels(-1));
    eager.loadStateDict(state);
    compiled.loadStateDict(state);
    float[] loaded = sameAsEager(eager, compiled, x, "buffers loaded");
    assertFalse(Arrays.equals(written, loaded), "the loaded ids are used");
    state.put("cols", Tensor.labels(0, 4));
    eager.loadStateDict(state);
    compiled.loadStateDict(state);
    String expected = assertThrows(IllegalArgumentException.class, () -> eager.forward(x)).getMessage();
    assertEquals("index_add: index 4 at 1 is out of range for dimension 2 of size 4 (input [5, 2, 4])", expected);
    assertEquals(expected, assertThrows(IllegalArgumentException.class, () -> compiled.forward(x)).getMessage());
  }

  /**
   * Buffers of ids looked up ({@code BufferPositions}: a {@code [1, T]} of positions, a rank-1 buffer with an id repeated): values
   * and gradients eager mode's bit for bit over SGD steps, then after a load replaces them, and an id a load put out of range
   * fails with eager's message.
   */
  @Test
  void buffersOfIdsLookedUpAreReadAtEachCall() {
    Module compiled = ParityTest.matchesEagerBitForBit("BufferPositions", "ids11:6");
    Kiln.manualSeed(11);
    Module eager = ParityTest.factory(compiled.getClass().getClassLoader(), "test.BufferPositions").get();
    eager.loadStateDict(compiled.stateDict());
    Tensor ids = ParityTest.ids(5, 6, 11);
    float[] before = sameAsEager(eager, compiled, ids, "as trained");
    Map<String, Tensor> state = new HashMap<>(eager.stateDict());
    state.put("position_ids", Tensor.labels(4, 5, 6, 7, 8, 9).view(1, 6));
    state.put("slots", Tensor.labels(0, 0, 1, 2, 5, 5));
    eager.loadStateDict(state);
    compiled.loadStateDict(state);
    assertFalse(Arrays.equals(before, sameAsEager(eager, compiled, ids, "buffers loaded")), "the loaded ids are used");
    eager.zeroGrad(true); // a load between forward and backward: the backward adds into the rows the forward looked up, as eager's
    compiled.zeroGrad(true);
    Tensor oe = eager.forward(ids), oc = compiled.forward(ids);
    eager.loadStateDict(Map.of("position_ids", Tensor.labels(0, 0, 0, 0, 0, 0).view(1, 6)), false);
    compiled.loadStateDict(Map.of("position_ids", Tensor.labels(0, 0, 0, 0, 0, 0).view(1, 6)), false);
    oe.sum().backward();
    oc.sum().backward();
    assertArrayEquals(eager.namedParameters().get("wpe.weight").grad().toFloatArray(),
        compiled.namedParameters().get("wpe.weight").grad().toFloatArray(), "wpe's gradient after a load before backward");
    eager.loadStateDict(state);
    compiled.loadStateDict(state);
    state.put("position_ids", Tensor.labels(4, 5, 6, 7, 8, 10).view(1, 6));
    eager.loadStateDict(state);
    compiled.loadStateDict(state);
    String expected = assertThrows(IllegalArgumentException.class, () -> eager.forward(ids)).getMessage();
    assertTrue(expected.contains("10") && expected.contains("[1, 6]"), expected);
    assertEquals(expected, assertThrows(IllegalArgumentException.class, () -> compiled.forward(ids)).getMessage());
  }

  /** What stays refused of a tensor field looked up: each one error on its line. */
  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = ';', value = {
    "emb.apply(w); emb.apply(w): w is the parameter w [2], not ids",
    "emb.apply(grid); emb.apply(grid): grid is the buffer grid [2, 3], of more than one row"})
  void whatStaysRefusedOfALookupIsAnErrorOnItsLine(String call, String message) {
    JavaFileObject f = ProcessorTest.classModel("BufferLookup",
        "@Model(input = {3})",
        "public class BufferLookup extends Module {",
        "  final Embedding emb = new Embedding(6, 4);",
        "  final Tensor grid = registerBuffer(\"grid\", Tensor.labels(0, 1, 2, 3, 4, 5).view(2, 3));",
        "  final Tensor w = registerParameter(\"w\", Tensor.zeros(2).requiresGrad(true));",
        "  @Override public Tensor forward(Tensor x) {",
        "    return x.view(-1, 3, 1).add(" + call + ");",
        "  }",
        "}");
    Compilation c = ProcessorTest.compile(f);
    assertThat(c).hadErrorContaining(message).inFile(f).onLineContaining(call);
  }

  /**
   * Wheres of ids that broadcast and masks compared from moved ids ({@code BroadcastIds}): values and every gradient eager
   * mode's bit for bit over SGD steps.
   */
  @Test
  void idsWhereBroadcastsAndMasksFromMovedIdsMatchEager() {
    ParityTest.matchesEagerBitForBit("BroadcastIds", "ids11:8");
  }

  /**
   * Sums of ids ({@code SummedIds}: lengths looked up and gathering the last real token's score, a total looked up after
   * arithmetic): values and every gradient eager mode's bit for bit over SGD steps; a sum past 2^24 fails with eager's message.
   */
  @Test
  void sumsOfIdsMatchEager() {
    Module compiled = ParityTest.matchesEagerBitForBit("SummedIds", "ids11:8");
    Kiln.manualSeed(11);
    Module eager = ParityTest.factory(compiled.getClass().getClassLoader(), "test.SummedIds").get();
    Tensor big = Tensor.labels(10, 10, 10, 10, 10, 10, 10, 10); // 8 * 10 * 210000 = 16800000 > 2^24 in the total
    String expected = assertThrows(IllegalArgumentException.class, () -> eager.forward(big.view(1, 8))).getMessage();
    assertTrue(expected.startsWith("sum: "), expected);
    assertEquals(expected, assertThrows(IllegalArgumentException.class, () -> compiled.forward(big.view(1, 8))).getMessage());
  }

  /**
   * Output, input gradient (none for ids) and every parameter's gradient of one forward and backward, equal in both; the
   * output.
   */
  private static float[] sameAsEager(Module eager, Module compiled, Tensor x, String when) {
    boolean ids = x.dtype() == DType.INT32;
    Tensor xe = ids ? x : x.detach().requiresGrad(true), xc = ids ? x : x.detach().requiresGrad(true);
    eager.zeroGrad(true);
    compiled.zeroGrad(true);
    Tensor oe = eager.forward(xe), oc = compiled.forward(xc);
    assertArrayEquals(oe.toFloatArray(), oc.toFloatArray(), when + ": output");
    Tensor target = Tensor.ones(oe.shape());
    new MSELoss().apply(oe, target).backward();
    new MSELoss().apply(oc, target).backward();
    if (!ids) {
      assertArrayEquals(xe.grad().toFloatArray(), xc.grad().toFloatArray(), when + ": input gradient");
    }
    Map<String, Tensor> cp = compiled.namedParameters();
    eager.namedParameters().forEach((name, v) -> assertArrayEquals(v.grad().toFloatArray(), cp.get(name).grad().toFloatArray(),
        when + ": " + name + " gradient"));
    return oc.toFloatArray();
  }

  /** What stays refused of a tensor field as an index: each one error on its line. The model's h is {@code [N, 4, 6]}. */
  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = ';', value = {
    "h.indexSelect(2, w); w is the parameter w [2], not ids; a compiled indexSelect takes the same slices of every sample",
    "h.indexFill(2, grid, 0f); grid is the buffer grid [1, 2], where indexFill's index is rank-1",
    "h.gather(2, idx); idx is a tensor field of the model, the same for every sample, not ids of the batch; a compiled gather"
        + " takes ids of the batch",
    "h.scatter(2, idx, 0f); idx is a tensor field of the model, the same for every sample, not ids of the batch",
    "h.indexCopy(2, idx, h); the source must have shape [N, 4, 2] (the input [N, 4, 6] with the index's 2 along dimension 2),"
        + " got [N, 4, 6]"})
  void whatStaysRefusedIsAnErrorOnItsLine(String call, String message) {
    JavaFileObject f = ProcessorTest.classModel("BufferIndex",
        "@Model(input = {4, 6})",
        "public class BufferIndex extends Module {",
        "  final Linear fc = new Linear(6, 6);",
        "  final Tensor idx = registerBuffer(\"idx\", Tensor.labels(0, 2));",
        "  final Tensor grid = registerBuffer(\"grid\", Tensor.labels(0, 2).view(1, 2));",
        "  final Tensor w = registerParameter(\"w\", Tensor.zeros(2).requiresGrad(true));",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor h = fc.apply(x);",
        "    return " + call + ";",
        "  }",
        "}");
    Compilation c = ProcessorTest.compile(f);
    assertThat(c).hadErrorContaining(message).inFile(f).onLineContaining("return " + call + ";");
  }

  /** A buffer of float values as the index: compiled, and at the call eager's error (the index must be labels). */
  @Test
  void aBufferOfFloatsFailsAtTheCallAsEager() throws ReflectiveOperationException {
    JavaFileObject f = ProcessorTest.classModel("FloatIndex",
        "@Model(input = {4, 6})",
        "public class FloatIndex extends Module {",
        "  final Linear fc = new Linear(6, 6);",
        "  final Tensor idx = registerBuffer(\"idx\", Tensor.zeros(2));",
        "  @Override public Tensor forward(Tensor x) {",
        "    return fc.apply(x).indexSelect(2, idx);",
        "  }",
        "}");
    Compilation c = ProcessorTest.compile(f);
    assertThat(c).succeededWithoutWarnings();
    ClassLoader loader = new ParityTest.CompiledClasses(c);
    Tensor x = Tensor.randn(3, 4, 6);
    String expected = assertThrows(IllegalArgumentException.class, () -> ParityTest.factory(loader, "test.FloatIndex").get().forward(x))
        .getMessage();
    assertEquals("index_select: the index must be rank-1 labels (Tensor.labels(...)), got FLOAT32 [2]", expected);
    assertEquals(expected, assertThrows(IllegalArgumentException.class,
        () -> ParityTest.factory(loader, "test.KilnFloatIndex").get().forward(x)).getMessage());
  }
}
