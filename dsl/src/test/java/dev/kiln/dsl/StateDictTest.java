package dev.kiln.dsl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.DType;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.io.CheckpointFormatException;
import dev.kiln.runtime.io.SafeTensors;
import dev.kiln.runtime.optim.SGD;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link Module#loadStateDict}, {@link Module#save} and {@link Module#load}. */
class StateDictTest {
  @TempDir Path dir;

  private static Sequential mlp() {
    return Sequential.of(new Linear(3, 2), new ReLU(), new Linear(2, 1));
  }

  /** A copy of every value of a module's state, to compare before and after. */
  private static Map<String, float[]> values(Module m) {
    Map<String, float[]> out = new LinkedHashMap<>();
    m.stateDict().forEach((k, t) -> out.put(k, t.toFloatArray()));
    return out;
  }

  private static void assertSameState(Map<String, Tensor> expected, Map<String, Tensor> actual) {
    assertEquals(List.copyOf(expected.keySet()), List.copyOf(actual.keySet()));
    expected.forEach((k, t) -> {
      assertArrayEquals(t.shape(), actual.get(k).shape(), k);
      assertEquals(t.dtype(), actual.get(k).dtype(), k);
      assertArrayEquals(t.toFloatArray(), actual.get(k).toFloatArray(), k);
    });
  }

  /** Training batches through the batch norm, so that its buffers are no longer the initial ones. */
  private static TorchNet trainedNet(int batches) {
    TorchNet net = new TorchNet();
    for (int i = 0; i < batches; i++) {
      net.bn.apply(Tensor.randn(5, 2));
    }
    return net;
  }

  @Test
  void loadCopiesIntoTheSameTensorsSoTheOptimizerKeepsTrainingThem() {
    dev.kiln.runtime.Kiln.manualSeed(12); // the inputs below must reach the first layer through its ReLU
    Sequential target = mlp();
    Sequential source = mlp();
    List<Tensor> params = target.parameters();
    SGD sgd = new SGD(params, 0.1);
    target.loadStateDict(source.stateDict());
    assertSameState(source.stateDict(), target.stateDict());
    List<Tensor> after = target.parameters();
    for (int i = 0; i < params.size(); i++) {
      assertSame(params.get(i), after.get(i));
    }
    source.parameters().get(0).buffer()[0] = 42f; // a copy, not a share
    assertNotEquals(42f, params.get(0).toFloatArray()[0]);

    float[] loaded = params.get(0).toFloatArray();
    target.apply(Tensor.randn(4, 3)).sum().backward();
    sgd.step();
    // some weight of the first layer must move (a single one may sit behind a ReLU that is off for every input)
    assertFalse(java.util.Arrays.equals(loaded, target.stateDict().get("0.weight").toFloatArray()),
        "the optimizer trains the loaded tensor");
  }

  @Test
  void strictLoadReportsEveryProblemAtOnceAndChangesNothing() {
    Sequential m = mlp();
    Map<String, float[]> before = values(m);
    Map<String, Tensor> state = new LinkedHashMap<>(mlp().stateDict());
    state.remove("0.bias");
    state.remove("2.bias");
    state.put("2.weight", Tensor.zeros(2, 2));
    state.put("extra", Tensor.zeros(1));
    var e = assertThrows(IllegalArgumentException.class, () -> m.loadStateDict(state));
    assertEquals("Error(s) in loading state_dict for Sequential:\n"
        + "\tMissing key(s) in state_dict: \"0.bias\", \"2.bias\".\n"
        + "\tUnexpected key(s) in state_dict: \"extra\".\n"
        + "\tsize mismatch for 2.weight: copying a param with shape [2, 2] from checkpoint, the shape in current model is [1, 2].",
        e.getMessage());
    Map<String, float[]> after = values(m);
    before.forEach((k, v) -> assertArrayEquals(v, after.get(k), k + " is untouched, though 0.weight fitted"));
  }

  /**
   * torch 1.13: a state dict read from a file (no version metadata) without num_batches_tracked
   * loads strictly ("All keys matched successfully") and the count is 0.
   */
  @Test
  void aMissingBatchNormCountIsNotAnErrorAndStartsFromZero() {
    Sequential source = Sequential.of(new Linear(3, 4), new BatchNorm1d(4));
    source.train();
    source.forward(Tensor.randn(5, 3));
    Sequential m = Sequential.of(new Linear(3, 4), new BatchNorm1d(4));
    m.train();
    m.forward(Tensor.randn(5, 3));
    m.forward(Tensor.randn(5, 3));
    Map<String, Tensor> state = new LinkedHashMap<>(source.stateDict());
    state.remove("1.num_batches_tracked");
    m.loadStateDict(state);
    assertEquals(0f, m.stateDict().get("1.num_batches_tracked").item());
    assertArrayEquals(source.stateDict().get("1.running_mean").toFloatArray(), m.stateDict().get("1.running_mean").toFloatArray());
    assertEquals(List.of(), m.loadStateDict(state, false).missingKeys());
  }

  @Test
  void nonStrictLoadSkipsKeysButStillChecksShapes() {
    Sequential m = mlp();
    Sequential source = mlp();
    Map<String, Tensor> state = new LinkedHashMap<>(source.stateDict());
    state.remove("0.bias");
    state.put("extra", Tensor.zeros(1));
    Module.IncompatibleKeys skipped = m.loadStateDict(state, false);
    assertEquals(List.of("0.bias"), skipped.missingKeys());
    assertEquals(List.of("extra"), skipped.unexpectedKeys());
    assertArrayEquals(source.stateDict().get("0.weight").toFloatArray(), m.stateDict().get("0.weight").toFloatArray());
    assertEquals(new Module.IncompatibleKeys(List.of(), List.of()), m.loadStateDict(source.stateDict(), false));

    state.put("2.weight", Tensor.zeros(1, 3));
    var e = assertThrows(IllegalArgumentException.class, () -> m.loadStateDict(state, false));
    assertTrue(e.getMessage().contains("size mismatch for 2.weight"), e.getMessage());
    assertTrue(!e.getMessage().contains("Missing") && !e.getMessage().contains("Unexpected"), e.getMessage());
  }

  /** A layer held by two fields (self.b = self.a in PyTorch). */
  static class SharedFields extends Module {
    final Tensor scale = Tensor.ones(1).requiresGrad(true);
    final Linear a = new Linear(2, 2);
    final Linear b = a;

    @Override
    public Tensor forward(Tensor x) {
      return b.apply(a.apply(x)).mul(scale);
    }
  }

  /**
   * As PyTorch 1.13: the state dict and the repr name a shared layer under each of its names;
   * named_parameters, named_children and parameters() list it once, under its first.
   */
  @Test
  void aSharedLayerIsInTheStateDictUnderEachName() {
    SharedFields m = new SharedFields();
    assertEquals(List.of("scale", "a.weight", "a.bias", "b.weight", "b.bias"), List.copyOf(m.stateDict().keySet()));
    assertEquals(List.of("scale", "a.weight", "a.bias"), List.copyOf(m.namedParameters().keySet()));
    assertEquals(List.of("a"), List.copyOf(m.namedChildren().keySet()));
    assertEquals(3, m.parameters().size());
    assertEquals("SharedFields(\n  (a): Linear(in_features=2, out_features=2, bias=True)\n"
        + "  (b): Linear(in_features=2, out_features=2, bias=True)\n)", m.toString());
    assertSame(m.a, m.getSubmodule("b"));
    SharedFields other = new SharedFields();
    other.loadStateDict(m.stateDict()); // strict: b.* are expected keys
    assertArrayEquals(m.a.weight().toFloatArray(), other.b.weight().toFloatArray());

    Linear lin = new Linear(2, 2);
    Sequential seq = Sequential.of(lin, new ReLU(), lin);
    assertEquals(List.of("0.weight", "0.bias", "2.weight", "2.bias"), List.copyOf(seq.stateDict().keySet()));
    assertEquals(List.of("0.weight", "0.bias"), List.copyOf(seq.namedParameters().keySet()));
    assertSame(lin, seq.get("2"));
    assertEquals(2, seq.parameters().size());
  }

  static class OwnWeight extends Module {
    final Tensor w = Tensor.ones(2).requiresGrad(true);

    @Override
    public Tensor forward(Tensor x) {
      return x.mul(w);
    }
  }

  /**
   * Frozen parameters (requiresGrad(false), for fine-tuning) stay parameters, in the state dict and
   * in parameters(), as in PyTorch: a frozen Conv2d's weight vanished from both, so a saved model
   * did not load back.
   */
  @Test
  void frozenParametersStayInTheStateDict(@TempDir Path tmp) throws IOException {
    Sequential net = Sequential.of(new Conv2d(1, 2, 3), new Flatten(), new Linear(8, 3), new BatchNorm1d(3));
    List<String> keys = List.copyOf(net.stateDict().keySet());
    net.getSubmodule("0").parameters().forEach(p -> p.requiresGrad(false));
    net.getSubmodule("2").parameters().forEach(p -> p.requiresGrad(false));
    assertEquals(keys, List.copyOf(net.stateDict().keySet()));
    assertEquals(6, net.parameters().size());
    net.save(tmp.resolve("frozen.safetensors"));
    Sequential fresh = Sequential.of(new Conv2d(1, 2, 3), new Flatten(), new Linear(8, 3), new BatchNorm1d(3));
    fresh.load(tmp.resolve("frozen.safetensors"));
    assertArrayEquals(((Conv2d) net.getSubmodule("0")).weight().toFloatArray(),
        ((Conv2d) fresh.getSubmodule("0")).weight().toFloatArray());

    Conv2d noBias = new Conv2d(1, 2, 3).bias(false);
    assertEquals(List.of("weight"), List.copyOf(noBias.stateDict().keySet()));
    assertEquals(List.of("weight", "bias"), List.copyOf(noBias.bias(true).stateDict().keySet()));

    OwnWeight own = new OwnWeight();
    own.w.requiresGrad(false); // a field parameter frozen before anything looked at the module stays one
    assertEquals(List.of("w"), List.copyOf(own.stateDict().keySet()));
    assertEquals(1, own.parameters().size());
    own.save(tmp.resolve("own.safetensors"));
    OwnWeight frozenFirst = new OwnWeight();
    frozenFirst.w.requiresGrad(false);
    frozenFirst.load(tmp.resolve("own.safetensors"));
  }

  @Test
  void integerBuffersStayIntegers() {
    BatchNorm1d bn = new BatchNorm1d(2);
    Tensor count = bn.numBatchesTracked();
    Map<String, Tensor> state = new LinkedHashMap<>(bn.stateDict());
    state.put("num_batches_tracked", Tensor.wrap(new float[] {12}, DType.INT32));
    bn.loadStateDict(state);
    assertSame(count, bn.numBatchesTracked());
    assertEquals(12f, count.item());
    state.put("num_batches_tracked", Tensor.scalar(7.9f)); // float to int truncates, as PyTorch's copy_
    bn.loadStateDict(state);
    assertEquals(7f, count.item());
    assertEquals(DType.INT32, count.dtype());
    // a float an int32 tensor cannot hold is refused, not stored (it was written back as 2^31-1)
    state.put("num_batches_tracked", Tensor.scalar(16777216f)); // 2^24 itself is an int32 tensor's
    bn.loadStateDict(state);
    assertEquals(16777216f, count.item());
    state.put("num_batches_tracked", Tensor.scalar(7f));
    bn.loadStateDict(state);
    for (float bad : new float[] {1e30f, Float.NaN, Float.NEGATIVE_INFINITY, 16777218f}) {
      state.put("num_batches_tracked", Tensor.scalar(bad));
      var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> bn.loadStateDict(state));
      org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("value " + bad + " for num_batches_tracked (an "
          + "int32 buffer) is not a number within +-2^24"), e.getMessage());
      assertEquals(7f, count.item());
    }
  }

  @Test
  void saveAndLoadRoundTripEveryParameterAndBuffer() throws IOException {
    TorchNet saved = trainedNet(3);
    Path f = dir.resolve("net.safetensors");
    saved.save(f);
    TorchNet loaded = new TorchNet();
    loaded.load(f);
    assertSameState(saved.stateDict(), loaded.stateDict());
    assertEquals(3f, loaded.bn.numBatchesTracked().item());
    Map<String, Tensor> file = SafeTensors.read(f);
    assertSameState(saved.stateDict(), file);
    assertEquals(DType.INT32, file.get("bn.num_batches_tracked").dtype());
  }

  @Test
  void loadNamesTheFileWhenItDoesNotFit() throws IOException {
    Path f = dir.resolve("mlp.safetensors");
    mlp().save(f);
    var e = assertThrows(IllegalArgumentException.class, () -> new TorchNet().load(f));
    assertTrue(e.getMessage().startsWith("Error(s) in loading state_dict for TorchNet from " + f + ":\n"), e.getMessage());
    assertTrue(e.getMessage().contains("Missing key(s) in state_dict: \"mlp.0.weight\""), e.getMessage());
    assertTrue(e.getMessage().contains("Unexpected key(s) in state_dict: \"0.weight\""), e.getMessage());
  }

  @Test
  void loadRejectsAFileThatIsNotSafetensors() throws IOException {
    Path f = Files.writeString(dir.resolve("notes.txt"), "not a checkpoint");
    var e = assertThrows(CheckpointFormatException.class, () -> mlp().load(f));
    assertTrue(e.getMessage().startsWith(f + ": "), e.getMessage());
  }

  /** A training checkpoint given to loadStateDict is recognised, with the way to resume from it. */
  @Test
  void aTrainingCheckpointIsRecognised(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
    Sequential net = Sequential.of(new Linear(2, 3));
    var opt = new dev.kiln.runtime.optim.SGD(net.parameters(), 0.1);
    java.nio.file.Path file = dir.resolve("ckpt.safetensors");
    dev.kiln.runtime.io.Checkpoint.save(file, net.stateDict(), opt, null, 1);
    var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> net.load(file));
    org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("This looks like a training checkpoint"),
        e.getMessage());
    org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("loadStateDict(Checkpoint.modelState(file))"),
        e.getMessage());
    Sequential fresh = Sequential.of(new Linear(2, 3)); // the weights alone, as the message says
    fresh.loadStateDict(dev.kiln.runtime.io.Checkpoint.modelState(file));
    assertSameState(net.stateDict(), fresh.stateDict());
    java.nio.file.Path plain = dir.resolve("plain.safetensors");
    net.save(plain);
    var notCheckpoint = org.junit.jupiter.api.Assertions.assertThrows(CheckpointFormatException.class,
        () -> dev.kiln.runtime.io.Checkpoint.modelState(plain));
    org.junit.jupiter.api.Assertions.assertTrue(notCheckpoint.getMessage().startsWith(plain + ": not a Kiln training "
        + "checkpoint: missing epoch"), notCheckpoint.getMessage());
  }
}
