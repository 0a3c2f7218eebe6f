package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.dsl.AdaptiveAvgPool1d;
import dev.kiln.dsl.AdaptiveAvgPool2d;
import dev.kiln.dsl.BatchNorm2d;
import dev.kiln.dsl.Conv1d;
import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.Dropout;
import dev.kiln.dsl.Flatten;
import dev.kiln.dsl.GroupNorm;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.MaxPool1d;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.ReLU;
import dev.kiln.dsl.Sequential;
import dev.kiln.dsl.TransformerDecoder;
import dev.kiln.dsl.TransformerDecoderLayer;
import dev.kiln.dsl.TransformerEncoder;
import dev.kiln.dsl.TransformerEncoderLayer;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Layers' outputs given back to the array pool inside containers under no grad ({@link Intermediates}): with the pool
 * poisoned (every array it hands out full of NaN first), every value a caller can still reach (the output, the input,
 * views of them, what a user's module kept, what a forward listener saw, an earlier call's output) stays what a run
 * without reuse computes, and the arrays do go back when nothing holds them. The test is in the runtime's package to
 * reach {@link ArrayPool}; the containers are the dsl's.
 */
class IntermediateReuseTest {
  @BeforeEach
  void poison() {
    ArrayPool.clear();
    ArrayPool.poison = true;
  }

  @AfterEach
  void unpoison() {
    ArrayPool.poison = false;
    ArrayPool.clear();
  }

  /** A MobileNet-style net (the benchmark's, smaller): depthwise and pointwise convolutions, evaluation batch norms, ReLUs. */
  private static Sequential mobileNet() {
    return Sequential.of(
        new Conv2d(16, 16, 3).padding(1).groups(16).bias(false), new BatchNorm2d(16), new ReLU(),
        new Conv2d(16, 32, 1).bias(false), new BatchNorm2d(32), new ReLU(),
        new Conv2d(32, 32, 3).stride(2).padding(1).groups(32).bias(false), new BatchNorm2d(32), new ReLU(),
        new Conv2d(32, 32, 7).padding(3).groups(32), new ReLU(),
        new AdaptiveAvgPool2d(1), new Flatten(), new Linear(32, 10));
  }

  /** Batch norms with running statistics other than 0 and 1, so that evaluation normalises something. */
  private static <M extends Module> M trainedStatistics(M net, int... inputShape) {
    net.train();
    try (var g = Kiln.noGrad()) {
      net.forward(Tensor.randn(inputShape).mul(2f).add(0.5f));
    }
    net.eval();
    return net;
  }

  /** The output computed with gradients recorded (no array given back), as a copy. */
  private static float[] withoutReuse(Module net, Tensor x) {
    return net.forward(x).toFloatArray();
  }

  private static float[] noGrad(Supplier<Tensor> f) {
    try (var g = Kiln.noGrad()) {
      return f.get().toFloatArray();
    }
  }

  /** {@code net}'s output under no grad, three calls in a row, is {@code withoutReuse(net, x)}'s. */
  private static void sameEachCall(String what, Module net, Tensor x) {
    float[] expected = withoutReuse(net, x);
    for (int i = 0; i < 3; i++) {
      assertArrayEquals(expected, noGrad(() -> net.forward(x)), what + ", call " + i);
    }
  }

  @Test
  void aMobileNetStyleNetComputesTheSameValuesAndGivesItsMapsBack() {
    Kiln.manualSeed(1);
    Sequential net = trainedStatistics(mobileNet(), 4, 16, 32, 32);
    Tensor x = Tensor.randn(4, 16, 32, 32);
    float[] expected = withoutReuse(net, x);
    ArrayPool.clear();
    assertArrayEquals(expected, noGrad(() -> net.forward(x)));
    assertTrue(ArrayPool.keptBytes() > 0, "the maps went back to the pool");
    for (int i = 0; i < 3; i++) { // and again, now from the pool's arrays (poisoned as handed out)
      assertArrayEquals(expected, noGrad(() -> net.forward(x)), "call " + i);
    }
  }

  @Test
  void aOneDimensionalCnnAndAGroupNormComputeTheSameValues() {
    Kiln.manualSeed(2);
    Sequential cnn = Sequential.of(
        new Conv1d(16, 32, 5).padding(2), new ReLU(), new MaxPool1d(2),
        new Conv1d(32, 64, 3).padding(1), new ReLU(), new MaxPool1d(2),
        new Conv1d(64, 64, 3).padding(1), new ReLU(), new AdaptiveAvgPool1d(1), new Flatten(), new Linear(64, 10)).eval();
    sameEachCall("1-d CNN", cnn, Tensor.randn(16, 16, 256));
    Sequential norms = Sequential.of(new Conv2d(8, 16, 3).padding(1), new GroupNorm(4, 16), new ReLU(),
        new Conv2d(16, 16, 3).padding(1), new GroupNorm(4, 16)).eval();
    sameEachCall("group norms", norms, Tensor.randn(4, 8, 32, 32));
    Sequential trainingMode = Sequential.of(new Conv2d(8, 16, 3).padding(1), new BatchNorm2d(16), new ReLU(),
        new Dropout(0.0), new Conv2d(16, 16, 3).padding(1)).train(); // batch statistics under no grad keep nothing either
    sameEachCall("training mode", trainingMode, Tensor.randn(4, 8, 32, 32));
  }

  @Test
  void anEarlierCallsOutputAndTheInputStayWhatTheyWere() {
    Kiln.manualSeed(3);
    Sequential net = trainedStatistics(Sequential.of(
        new Conv2d(16, 16, 3).padding(1), new ReLU(), new Conv2d(16, 16, 3).padding(1), new BatchNorm2d(16)), 4, 16, 32, 32);
    Tensor x1 = Tensor.randn(4, 16, 32, 32);
    Tensor x2 = Tensor.randn(4, 16, 32, 32);
    float[] in1 = x1.toFloatArray();
    float[] expected1 = withoutReuse(net, x1);
    float[] expected2 = withoutReuse(net, x2);
    try (var g = Kiln.noGrad()) {
      Tensor out1 = net.forward(x1); // a batch norm not computed yet: it reads the convolution's map, which stays
      Tensor out2 = net.forward(x2);
      Tensor out3 = net.forward(x1);
      assertArrayEquals(expected2, out2.toFloatArray());
      assertArrayEquals(expected1, out1.toFloatArray());
      assertArrayEquals(expected1, out3.toFloatArray());
      assertArrayEquals(in1, x1.toFloatArray());
    }
  }

  @Test
  void viewsOfTheInputAndTheOutputAndLayersThatReturnTheirInput() {
    Kiln.manualSeed(4);
    // Flatten first: the first output is a view of the input; Flatten last: the output is a view of the last map;
    // Dropout in evaluation returns its input
    Sequential net = Sequential.of(new Flatten(), new Linear(4096, 256), new Dropout(0.5), new ReLU(), new Linear(256, 256),
        new ReLU(), new Dropout(0.5)).eval();
    Sequential maps = Sequential.of(new Conv2d(16, 16, 3).padding(1), new ReLU(), new Dropout(0.2), new Flatten()).eval();
    Tensor x = Tensor.randn(64, 4, 32, 32);
    Tensor m = Tensor.randn(4, 16, 32, 32);
    float[] in = x.toFloatArray();
    float[] expected = withoutReuse(net, x);
    float[] expectedMaps = withoutReuse(maps, m);
    try (var g = Kiln.noGrad()) {
      Tensor out = net.forward(x);
      Tensor flat = maps.forward(m);
      for (int i = 0; i < 3; i++) {
        net.forward(Tensor.randn(64, 4, 32, 32));
        maps.forward(Tensor.randn(4, 16, 32, 32));
      }
      assertArrayEquals(expected, out.toFloatArray());
      assertArrayEquals(expectedMaps, flat.toFloatArray());
      assertArrayEquals(in, x.toFloatArray());
      Tensor alone = Sequential.of(new Dropout(0.5)).eval().forward(x);
      assertArrayEquals(in, alone.toFloatArray());
      assertArrayEquals(in, Sequential.of(new Flatten(), new Dropout(0.1)).eval().forward(x).toFloatArray());
    }
  }

  /** A user's module that keeps what it was given, as a hook or a debugging layer might: nothing in its Sequential is given back. */
  static final class Keeper extends Module {
    final List<Tensor> kept = new ArrayList<>();

    @Override public Tensor forward(Tensor x) {
      kept.add(x);
      kept.add(x.narrow(1, 0, 2)); // a view too
      return x;
    }
  }

  @Test
  void aUsersModuleAnywhereInTheTreeStopsTheReuse() {
    Kiln.manualSeed(5);
    Keeper keeper = new Keeper();
    Sequential net = Sequential.of(new Conv2d(16, 16, 3).padding(1), new ReLU(), keeper,
        new Conv2d(16, 16, 3).padding(1), new ReLU()).eval();
    Sequential nested = Sequential.of(new Conv2d(16, 16, 3).padding(1), Sequential.of(new ReLU(), new Keeper()),
        new Conv2d(16, 16, 3).padding(1)).eval();
    Tensor x = Tensor.randn(4, 16, 32, 32);
    float[] expected;
    try (var g = Kiln.noGrad()) {
      net.forward(x);
      expected = keeper.kept.get(0).toFloatArray();
      float[] narrowed = keeper.kept.get(1).toFloatArray();
      for (int i = 0; i < 3; i++) {
        net.forward(Tensor.randn(4, 16, 32, 32));
        nested.forward(Tensor.randn(4, 16, 32, 32));
      }
      assertArrayEquals(expected, keeper.kept.get(0).toFloatArray());
      assertArrayEquals(narrowed, keeper.kept.get(1).toFloatArray());
    }
    assertEquals(0, ArrayPool.keptBytes(), "no map went back");
  }

  /** A user's subclass of a dsl layer is a user's module: it may keep what it is given. */
  static final class KeepingReLU extends ReLU {
    Tensor last;

    @Override public Tensor forward(Tensor x) {
      last = x;
      return super.forward(x);
    }
  }

  @Test
  void aSubclassOfADslLayerIsAUsersModule() {
    Kiln.manualSeed(6);
    KeepingReLU relu = new KeepingReLU();
    Sequential net = Sequential.of(new Conv2d(16, 16, 3).padding(1), relu, new Conv2d(16, 16, 3).padding(1)).eval();
    try (var g = Kiln.noGrad()) {
      net.forward(Tensor.randn(4, 16, 32, 32));
      Tensor first = relu.last;
      float[] seen = first.toFloatArray();
      net.forward(Tensor.randn(4, 16, 32, 32)); // would take the first call's maps from the pool
      assertArrayEquals(seen, first.toFloatArray());
    }
    assertEquals(0, ArrayPool.keptBytes());
  }

  @Test
  void withGradientsRecordedNothingIsGivenBackAndTheBackwardIsRight() {
    Kiln.manualSeed(7);
    Sequential net = Sequential.of(new Conv2d(16, 16, 3).padding(1), new ReLU(), new Conv2d(16, 16, 3).padding(1), new ReLU());
    Tensor x = Tensor.randn(4, 16, 32, 32).requiresGrad(true);
    for (boolean training : new boolean[] {true, false}) {
      net.train(training);
      net.zeroGrad(true);
      x.setGrad(null);
      ArrayPool.clear(); // the backward below gives its gradients' arrays back
      Tensor out = net.forward(x);
      assertEquals(0, ArrayPool.keptBytes(), "training " + training + ": the graph holds the maps");
      float[] before = out.toFloatArray();
      out.sum().backward();
      float[] dx = x.grad().toFloatArray();
      // the same by the layers called one by one (no container, so no reuse anywhere)
      x.setGrad(null);
      Tensor h = x;
      for (Module layer : net) {
        h = layer.apply(h);
      }
      assertArrayEquals(before, h.toFloatArray());
      h.sum().backward();
      assertArrayEquals(dx, x.grad().toFloatArray());
    }
  }

  @Test
  void aTransformerEncoderGivesItsLayersOutputsBack() {
    Kiln.manualSeed(8);
    TransformerEncoder enc = new TransformerEncoder(new TransformerEncoderLayer(64, 4, 128, 0.0), 3);
    enc.eval();
    Tensor x = Tensor.randn(32, 40, 64);
    float[] in = x.toFloatArray();
    float[] expected = withoutReuse(enc, x);
    try (var g = Kiln.noGrad()) {
      Tensor first = enc.forward(x);
      for (int i = 0; i < 3; i++) {
        assertArrayEquals(expected, enc.forward(x).toFloatArray(), "call " + i);
      }
      assertArrayEquals(expected, first.toFloatArray());
      assertArrayEquals(in, x.toFloatArray());
    }
    assertTrue(ArrayPool.keptBytes() > 0, "the layers' outputs went back to the pool");
  }

  @Test
  void anEncoderLayerGivesItsMapsBackInsideItself() {
    Kiln.manualSeed(11);
    for (boolean normFirst : new boolean[] {false, true}) {
      for (String activation : new String[] {"relu", "gelu"}) {
        String what = (normFirst ? "pre-norm " : "post-norm ") + activation;
        TransformerEncoderLayer layer = new TransformerEncoderLayer(64, 4, 256, 0.0, activation, 1e-5, true, normFirst);
        layer.eval();
        Tensor x = Tensor.randn(32, 40, 64);
        Tensor mask = Tensor.randn(40, 40);
        float[] in = x.toFloatArray();
        float[] expected = layer.forward(x, mask, null).toFloatArray();
        ArrayPool.clear();
        try (var g = Kiln.noGrad()) {
          Tensor first = layer.forward(x, mask, null);
          assertTrue(ArrayPool.keptBytes() > 0, what + ": the hidden maps went back");
          for (int i = 0; i < 3; i++) {
            assertArrayEquals(expected, layer.forward(x, mask, null).toFloatArray(), what + ", call " + i);
          }
          assertArrayEquals(expected, first.toFloatArray(), what);
          assertArrayEquals(in, x.toFloatArray(), what);
        }
      }
    }
  }

  @Test
  void aDecoderStackGivesItsMapsBackAndLeavesTheMemoryAlone() {
    Kiln.manualSeed(13);
    for (boolean normFirst : new boolean[] {false, true}) {
      String what = normFirst ? "pre-norm" : "post-norm";
      TransformerDecoder dec = new TransformerDecoder(
          new TransformerDecoderLayer(64, 4, 256, 0.0, "relu", 1e-5, true, normFirst), 2);
      dec.eval();
      Tensor tgt = Tensor.randn(32, 40, 64);
      Tensor memory = Tensor.randn(32, 40, 64);
      Tensor causal = Tensor.randn(40, 40);
      float[] tgtValues = tgt.toFloatArray();
      float[] memoryValues = memory.toFloatArray();
      float[] expected = dec.forward(tgt, memory, causal, null, null, null).toFloatArray();
      ArrayPool.clear();
      try (var g = Kiln.noGrad()) {
        Tensor first = dec.forward(tgt, memory, causal, null, null, null);
        assertTrue(ArrayPool.keptBytes() > 0, what + ": the maps went back");
        for (int i = 0; i < 3; i++) {
          assertArrayEquals(expected, dec.forward(tgt, memory, causal, null, null, null).toFloatArray(), what + ", call " + i);
        }
        assertArrayEquals(expected, first.toFloatArray(), what);
        assertArrayEquals(tgtValues, tgt.toFloatArray(), what);
        assertArrayEquals(memoryValues, memory.toFloatArray(), what);
      }
    }
  }

  @Test
  void anOptimizerStepAfterAnEvaluationWritesWeightsThatDeadDeferredValuesRead() {
    Kiln.manualSeed(12);
    for (boolean normFirst : new boolean[] {false, true}) {
      TransformerEncoder enc = new TransformerEncoder(
          new TransformerEncoderLayer(64, 4, 128, 0.0, "relu", 1e-5, true, normFirst), 2);
      var opt = new dev.kiln.runtime.optim.Adam(enc.parameters(), 1e-3);
      Tensor x = Tensor.randn(32, 40, 64);
      enc.eval();
      try (var g = Kiln.noGrad()) {
        enc.forward(x); // the attention's projections, read once into scratch, stay deferred readers of the weights
      }
      enc.train();
      opt.zeroGrad();
      enc.forward(x).sum().backward();
      opt.step(); // writes the weights: their dead readers, whose maps went back, are dropped, not computed
      enc.eval();
      float[] expected = enc.forward(x).toFloatArray();
      assertArrayEquals(expected, noGrad(() -> enc.forward(x)));
    }
  }

  @Test
  void writingAWeightDropsItsDeadReadersWhoseInputWentBack() {
    Tensor x = Tensor.randn(512, 256);
    Tensor w = Tensor.randn(256, 256).requiresGrad(true);
    Tensor lin;
    try (var g = Kiln.noGrad()) {
      Intermediates run = Intermediates.track(x);
      Tensor a = Ops.relu(x);
      run.next(a);
      lin = Ops.linear(a, w, null); // deferred: reads a and w when first read
      assertTrue(lin.pendingValues() instanceof Deferred.Linear, "a deferred linear");
      run.next(Ops.relu(a)); // a goes back; lin, as inside an attention read once into scratch, is dead
    }
    try (var g = Kiln.noGrad()) {
      w.buffer()[0] = 1f; // an optimizer step: lin is not computed from a's given-back array, and nothing throws
    }
    IllegalStateException e = assertThrows(IllegalStateException.class, lin::toFloatArray);
    assertTrue(e.getMessage().contains("given back for reuse"), e.getMessage());
  }

  @Test
  void aGivenBackTensorThrowsAtAnyUse() {
    Tensor x = Tensor.randn(4, 16, 32, 32);
    try (var g = Kiln.noGrad()) {
      Intermediates run = Intermediates.track(x);
      Tensor a = Ops.relu(x);
      run.next(a);
      Tensor b = Ops.relu(a);
      run.next(b);
      assertEquals(4L * a.numel(), ArrayPool.keptBytes(), "a's array went back");
      Tensor view = a.reshape(4, -1);
      IllegalStateException e = assertThrows(IllegalStateException.class, a::toFloatArray);
      assertTrue(e.getMessage().contains("given back for reuse"), e.getMessage());
      assertThrows(IllegalStateException.class, view::readBuffer);
      assertThrows(IllegalStateException.class, a::buffer);
      assertThrows(IllegalStateException.class, () -> Ops.relu(a));
      assertFalse(b.storage().isReleased());
    }
    assertEquals(null, Intermediates.track(x), "gradients recorded: nothing tracked");
  }
}
