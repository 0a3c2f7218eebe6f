package dev.kiln.dsl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Recurrent layers over packed sequences against the definition: each sequence run alone, for its
 * own length, from its own initial states (the unpacked path, checked against PyTorch in
 * RecurrentTest). Outputs, last states, and the gradients of the input, the initial states and
 * every parameter must agree, and the output must be zero past each sequence's end.
 */
class PackedSequenceTest {
  private static final double TOLERANCE = 1e-5;

  /** Runs {@code layer} packed over a batch of sequences of {@code lengths} and each sequence alone, and compares. */
  private static void agreesWithOneSequenceAtATime(Recurrent<?> layer, int[] lengths, boolean withStates) {
    Kiln.manualSeed(7);
    Recurrent.Spec s = layer.spec();
    int batch = lengths.length, steps = 0, layers = s.numLayers() * s.directions(), hidden = s.hiddenSize();
    for (int l : lengths) {
      steps = Math.max(steps, l);
    }
    boolean first = s.batchFirst(), lstm = layer instanceof LSTM;
    Tensor x = (first ? Tensor.randn(batch, steps + 1, s.inputSize()) : Tensor.randn(steps + 1, batch, s.inputSize()))
        .requiresGrad(true); // one step more than the longest: dropped by pack
    Tensor h0 = withStates ? Tensor.randn(layers, batch, hidden).requiresGrad(true) : null;
    Tensor c0 = withStates && lstm ? Tensor.randn(layers, batch, hidden).requiresGrad(true) : null;
    int outSize = s.directions() * hidden;
    Tensor wOut = first ? Tensor.randn(batch, steps, outSize) : Tensor.randn(steps, batch, outSize);
    Tensor wH = Tensor.randn(layers, batch, hidden), wC = Tensor.randn(layers, batch, hidden);

    Recurrent.PackedOutput packed = run(layer, PackedSequence.pack(x, lengths, first), h0, c0);
    assertArrayEquals(lengths, packed.output().lengths());
    Tensor out = packed.output().padded();
    assertArrayEquals(first ? new int[] {batch, steps, outSize} : new int[] {steps, batch, outSize}, out.shape());
    Tensor loss = out.mul(wOut).sum().add(packed.h().mul(wH).sum());
    if (lstm) {
      loss = loss.add(packed.c().mul(wC).sum());
    } else {
      assertNull(packed.c());
    }
    loss.backward();
    Map<String, float[]> packedGrads = grads(layer, x, h0, c0);

    List<float[]> outs = new ArrayList<>(), hs = new ArrayList<>(), cs = new ArrayList<>();
    Tensor total = null;
    for (int b = 0; b < batch; b++) {
      Tensor seq = x.select(first ? 0 : 1, b).narrow(0, 0, lengths[b]); // [L, I]
      Recurrent.Output one = runOne(layer, seq, h0 == null ? null : h0.select(1, b), c0 == null ? null : c0.select(1, b));
      outs.add(one.output().toFloatArray());
      hs.add(one.h().toFloatArray());
      cs.add(one.c() == null ? null : one.c().toFloatArray());
      Tensor w = wOut.select(first ? 0 : 1, b).narrow(0, 0, lengths[b]);
      Tensor l = one.output().mul(w).sum().add(one.h().mul(wH.select(1, b)).sum());
      if (lstm) {
        l = l.add(one.c().mul(wC.select(1, b)).sum());
      }
      total = total == null ? l : total.add(l);
    }
    layer.zeroGrad(true);
    x.setGrad(null);
    if (h0 != null) {
      h0.setGrad(null);
    }
    if (c0 != null) {
      c0.setGrad(null);
    }
    total.backward();
    Map<String, float[]> oneGrads = grads(layer, x, h0, c0);

    float[] o = out.toFloatArray(), hn = packed.h().toFloatArray(), cn = lstm ? packed.c().toFloatArray() : null;
    for (int b = 0; b < batch; b++) {
      for (int t = 0; t < steps; t++) {
        for (int j = 0; j < outSize; j++) {
          float got = o[(first ? b * steps + t : t * batch + b) * outSize + j];
          float want = t < lengths[b] ? outs.get(b)[t * outSize + j] : 0f;
          assertEquals(want, got, TOLERANCE, "output of sequence " + b + " at step " + t + " [" + j + "]");
        }
      }
      for (int k = 0; k < layers; k++) {
        for (int j = 0; j < hidden; j++) {
          assertEquals(hs.get(b)[k * hidden + j], hn[(k * batch + b) * hidden + j], TOLERANCE, "h_n of sequence " + b + ", layer " + k);
          if (lstm) {
            assertEquals(cs.get(b)[k * hidden + j], cn[(k * batch + b) * hidden + j], TOLERANCE, "c_n of sequence " + b + ", layer " + k);
          }
        }
      }
    }
    assertEquals(oneGrads.keySet(), packedGrads.keySet());
    oneGrads.forEach((name, want) -> {
      float[] got = packedGrads.get(name);
      for (int i = 0; i < want.length; i++) {
        assertEquals(want[i], got[i], TOLERANCE * Math.max(1, Math.abs(want[i])), "gradient of " + name + " [" + i + "]");
      }
    });
  }

  private static Recurrent.PackedOutput run(Recurrent<?> layer, PackedSequence x, Tensor h0, Tensor c0) {
    return layer instanceof LSTM l ? l.forwardWithState(x, h0, c0)
        : layer instanceof GRU g ? g.forwardWithState(x, h0) : ((RNN) layer).forwardWithState(x, h0);
  }

  private static Recurrent.Output runOne(Recurrent<?> layer, Tensor x, Tensor h0, Tensor c0) {
    return layer instanceof LSTM l ? l.forwardWithState(x, h0, c0)
        : layer instanceof GRU g ? g.forwardWithState(x, h0) : ((RNN) layer).forwardWithState(x, h0);
  }

  private static Map<String, float[]> grads(Recurrent<?> layer, Tensor x, Tensor h0, Tensor c0) {
    Map<String, float[]> g = new LinkedHashMap<>();
    g.put("x", x.grad().toFloatArray());
    if (h0 != null) {
      g.put("h0", h0.grad().toFloatArray());
    }
    if (c0 != null) {
      g.put("c0", c0.grad().toFloatArray());
    }
    layer.namedParameters().forEach((k, p) -> g.put(k, p.grad().toFloatArray()));
    return g;
  }

  @Test
  void twoLayerBidirectionalLstmBatchFirstWithStatesAndUnsortedLengths() {
    agreesWithOneSequenceAtATime(new LSTM(3, 4).numLayers(2).bidirectional(true).batchFirst(true), new int[] {3, 5, 1, 5, 2}, true);
  }

  @Test
  void lstmTimeFirstFromZeroStates() {
    agreesWithOneSequenceAtATime(new LSTM(2, 3), new int[] {4, 2, 6}, false);
  }

  @Test
  void gruWithInitialStates() {
    agreesWithOneSequenceAtATime(new GRU(3, 5).batchFirst(true), new int[] {2, 7, 7, 1}, true);
  }

  @Test
  void bidirectionalReluRnnAndSortedLengths() {
    agreesWithOneSequenceAtATime(new RNN(3, 4, "relu").bidirectional(true), new int[] {6, 4, 4, 1}, false);
  }

  @Test
  void equalLengthsGiveThePaddedLayersResult() {
    agreesWithOneSequenceAtATime(new GRU(2, 3).numLayers(2).bidirectional(true), new int[] {4, 4, 4}, true);
    Kiln.manualSeed(3);
    LSTM lstm = new LSTM(2, 3).batchFirst(true);
    Tensor x = Tensor.randn(2, 5, 2);
    assertArrayEquals(lstm.forward(x).toFloatArray(), lstm.forward(PackedSequence.pack(x, new int[] {5, 5}, true)).padded().toFloatArray());
  }

  @Test
  void packPadsAndRefusesBadLengths() {
    Tensor x = Tensor.ones(3, 4, 2); // [B, T, F]
    PackedSequence p = PackedSequence.pack(x, Tensor.labels(2, 3, 1), true);
    assertEquals("PackedSequence([3, 3, 2], batch first, lengths=[2, 3, 1])", p.toString());
    assertArrayEquals(new float[] {1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0}, p.padded().toFloatArray(), "zero past each end");
    PackedSequence of = PackedSequence.of(List.of(Tensor.ones(2, 2), Tensor.ones(1, 2)), false);
    assertArrayEquals(new int[] {2, 1}, of.lengths());
    assertArrayEquals(new int[] {2, 2, 2}, of.padded().shape());
    assertEquals("pack: the length of sequence 1 is 5, not in 1..4 (the padded batch [3, 4, 2] has 4 steps; PyTorch refuses an empty"
        + " sequence too)", assertThrows(IllegalArgumentException.class, () -> PackedSequence.pack(x, new int[] {1, 5, 1}, true)).getMessage());
    assertEquals("pack: the length of sequence 0 is 0, not in 1..3 (the padded batch [3, 4, 2] has 3 steps; PyTorch refuses an empty"
        + " sequence too)", assertThrows(IllegalArgumentException.class, () -> PackedSequence.pack(x, new int[] {0, 1, 1, 1}, false)).getMessage());
    assertEquals("pack: 2 lengths for a batch of 3 sequences ([3, 4, 2], batch first)",
        assertThrows(IllegalArgumentException.class, () -> PackedSequence.pack(x, new int[] {1, 1}, true)).getMessage());
    assertEquals("LSTM(3, 4) expects packed sequences of 3 features, got PackedSequence([3, 3, 2], batch first, lengths=[2, 3, 1])",
        assertThrows(ShapeException.class, () -> new LSTM(3, 4).forward(p)).getMessage());
    assertEquals("LSTM(2, 4): h0 must have shape [1, 3, 4] (num_layers * directions, batch, hidden_size), got [1, 2, 4]",
        assertThrows(ShapeException.class, () -> new LSTM(2, 4).forwardWithState(p, Tensor.zeros(1, 2, 4), null)).getMessage());
    assertEquals("pack: the batch [0, 4, 2] has no sequences",
        assertThrows(IllegalArgumentException.class, () -> PackedSequence.pack(Tensor.zeros(0, 4, 2), new int[0], true)).getMessage());
    assertEquals(Shapes.toString(3, 3, 4), Shapes.toString(new LSTM(2, 4).forward(p).padded().shape()));
  }
}
