package dev.kiln.dsl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * RNN, LSTM and GRU against PyTorch 1.13 (recurrent/reference.txt from make_reference.py): the
 * same parameters loaded by their PyTorch names, then outputs, last states, and the gradients of
 * the input and of every parameter.
 */
class RecurrentTest {
  private static final TorchReference REF = new TorchReference("/recurrent/reference.txt");

  private static Tensor filled(int[] shape, double scale, double shift, boolean sin) {
    return TorchReference.filled(shape, scale, shift, sin);
  }

  private static void check(String name, Recurrent<?> layer, boolean states) {
    Map<String, Tensor> params = new LinkedHashMap<>();
    layer.namedParameters().keySet().forEach(k -> params.put(k, REF.get(name + "." + k)));
    assertTrue(params.values().stream().allMatch(java.util.Objects::nonNull), name + ": PyTorch's parameter names " + params.keySet());
    layer.loadStateDict(params);
    Tensor x = Tensor.of(REF.get(name + ".x").toFloatArray(), REF.get(name + ".x").shape()).requiresGrad(true);
    Tensor h0 = states ? REF.get(name + ".h0") : null;
    Tensor c0 = states ? REF.get(name + ".c0") : null;
    Recurrent.Output out = layer instanceof LSTM l ? l.forwardWithState(x, h0, c0)
        : layer instanceof GRU g ? g.forwardWithState(x, h0) : ((RNN) layer).forwardWithState(x, h0);
    close(name + ".out", out.output());
    close(name + ".hn", out.h());
    if (layer instanceof LSTM) {
      close(name + ".cn", out.c());
    } else {
      assertNull(out.c());
    }
    Tensor loss = out.output().mul(filled(out.output().shape(), 0.71, 0.3, true)).sum()
        .add(out.h().mul(filled(out.h().shape(), 0.43, 0, false)).sum());
    if (out.c() != null) {
      loss = loss.add(out.c().mul(filled(out.c().shape(), 0.53, 0, true)).sum());
    }
    loss.backward();
    close(name + ".grad.x", x.grad());
    layer.namedParameters().forEach((k, p) -> close(name + ".grad." + k, p.grad()));
  }

  private static void close(String key, Tensor actual) {
    REF.close(key, actual, 2e-6);
  }

  @Test
  void lstmWithInitialStates() {
    check("lstm", new LSTM(3, 4), true);
  }

  @Test
  void twoLayerGruBatchFirst() {
    check("gru2", new GRU(3, 4).numLayers(2).batchFirst(true), true);
  }

  @Test
  void bidirectionalReluRnn() {
    check("rnn_relu_bi", new RNN(3, 4, "relu").bidirectional(true), false);
  }

  @Test
  void twoLayerBidirectionalLstmWithoutBias() {
    check("lstm2_bi", new LSTM(3, 2).numLayers(2).bidirectional(true).batchFirst(true).bias(false), false);
  }

  @Test
  void oneUnbatchedSequence() {
    check("gru_one", new GRU(3, 4), false);
  }

  /** One sequence [T, I] with batchFirst: the batch dimension goes first, as PyTorch's; the states' stays second. */
  @Test
  void oneSequenceWithBatchFirstIsOneBatchOfOne() {
    Kiln.manualSeed(4);
    GRU gru = new GRU(2, 3).batchFirst(true);
    Tensor x = Tensor.randn(4, 2);
    Recurrent.Output one = gru.forwardWithState(x, Tensor.zeros(1, 3));
    Recurrent.Output batched = gru.forwardWithState(x.unsqueeze(0));
    assertArrayEquals(new int[] {4, 3}, one.output().shape());
    assertArrayEquals(new int[] {1, 3}, one.h().shape());
    assertArrayEquals(batched.output().squeeze(0).toFloatArray(), one.output().toFloatArray());
    assertArrayEquals(batched.h().squeeze(1).toFloatArray(), one.h().toFloatArray());
  }

  @Test
  void emptyBatchGivesAnEmptyOutputAndAnEmptySequenceIsRefused() {
    LSTM lstm = new LSTM(3, 4);
    assertArrayEquals(new int[] {5, 0, 4}, lstm.forward(Tensor.zeros(5, 0, 3)).shape());
    var e = assertThrows(ShapeException.class, () -> new GRU(3, 4).forward(Tensor.zeros(0, 2, 3)));
    assertTrue(e.getMessage().contains("the sequence is empty"), e.getMessage());
  }

  /** The cells against PyTorch's: the new states and the gradients of the input, the initial hidden state and every parameter. */
  /**
   * Stacked, bidirectional and packed layers without a gradient (each direction one {@code Ops.recurrentLayer} or
   * {@code Ops.recurrentRun} writing the hidden states alone) give the bits of the same layers recording one.
   */
  @Test
  void withoutAGradientTheSameBits() {
    Kiln.manualSeed(4);
    LSTM lstm = new LSTM(5, 6).numLayers(2).bidirectional(true);
    GRU gru = new GRU(5, 6).batchFirst(true);
    Tensor x = Tensor.randn(7, 3, 5), h0 = Tensor.randn(4, 3, 6), c0 = Tensor.randn(4, 3, 6);
    Tensor xb = Tensor.randn(3, 7, 5), g0 = Tensor.randn(1, 3, 6);
    PackedSequence packed = PackedSequence.ofPadded(x, new int[] {7, 4, 6}, false);
    List<Tensor> recorded = outputs(lstm, gru, x, h0, c0, xb, g0, packed);
    List<Tensor> plain;
    try (var g = Kiln.noGrad()) {
      plain = outputs(lstm, gru, x, h0, c0, xb, g0, packed);
    }
    assertTrue(recorded.get(0).requiresGrad());
    for (int i = 0; i < recorded.size(); i++) {
      assertArrayEquals(recorded.get(i).shape(), plain.get(i).shape(), "entry " + i);
      assertArrayEquals(recorded.get(i).toFloatArray(), plain.get(i).toFloatArray(), "entry " + i);
    }
  }

  private static List<Tensor> outputs(LSTM lstm, GRU gru, Tensor x, Tensor h0, Tensor c0, Tensor xb, Tensor g0, PackedSequence packed) {
    Recurrent.Output a = lstm.forwardWithState(x, h0, c0), b = gru.forwardWithState(xb, g0);
    Recurrent.PackedOutput p = lstm.forwardWithState(packed);
    return List.of(a.output(), a.h(), a.c(), b.output(), b.h(), p.output().timeMajor(), p.h(), p.c());
  }

  @Test
  void cellsAsPyTorchs() {
    checkCell("lstmcell", new LSTMCell(3, 4), true);
    checkCell("grucell", new GRUCell(3, 4), false);
    checkCell("rnncell_one", new RNNCell(3, 4, true, "relu"), true);
    assertEquals("LSTMCell(3, 4)", new LSTMCell(3, 4).toString());
    assertEquals("RNNCell(3, 4, bias=False)", new RNNCell(3, 4, false, "tanh").toString());
    assertEquals(List.of("weight_ih", "weight_hh", "bias_ih", "bias_hh"), List.copyOf(new GRUCell(2, 3).namedParameters().keySet()));
  }

  private static void checkCell(String name, RecurrentCell cell, boolean states) {
    Map<String, Tensor> params = new LinkedHashMap<>();
    cell.namedParameters().keySet().forEach(k -> params.put(k, REF.get(name + "." + k)));
    cell.loadStateDict(params);
    Tensor x = copy(REF.get(name + ".x"));
    Tensor h0 = states ? copy(REF.get(name + ".h0")) : null;
    Tensor c0 = states && cell instanceof LSTMCell ? copy(REF.get(name + ".c0")) : null;
    Tensor h1;
    Tensor c1 = null;
    if (cell instanceof LSTMCell l) {
      RecurrentCell.State s = l.step(x, h0, c0);
      h1 = s.h();
      c1 = s.c();
    } else {
      h1 = cell instanceof GRUCell g ? g.step(x, h0) : ((RNNCell) cell).step(x, h0);
    }
    close(name + ".h1", h1);
    Tensor loss = h1.mul(filled(h1.shape(), 0.71, 0.3, true)).sum();
    if (c1 != null) {
      close(name + ".c1", c1);
      loss = loss.add(c1.mul(filled(c1.shape(), 0.53, 0, true)).sum());
    }
    loss.backward();
    close(name + ".grad.x", x.grad());
    if (h0 != null) {
      close(name + ".grad.h0", h0.grad());
    }
    cell.namedParameters().forEach((k, p) -> close(name + ".grad." + k, p.grad()));
  }

  /**
   * A cell is a one-layer recurrent layer over a sequence of one: its {@code forwardWithState} and the compiled plan's
   * {@code RecurrentStack} reading its {@code flatWeights()} (one step, initial states given, last states after the
   * output) give the eager step's states and, back through the stack, its parameters' and its states' gradients.
   */
  @Test
  void cellsRunAsTheRecurrentPlanOverOneStep() {
    checkCellAsPlan(new LSTMCell(3, 4));
    checkCellAsPlan(new GRUCell(3, 4));
    checkCellAsPlan(new RNNCell(3, 4, false, "relu"));
    assertThrows(IndexOutOfBoundsException.class, () -> new LSTMCell(3, 4).weightIh(1, 0));
    assertThrows(ShapeException.class, () -> new GRUCell(3, 4).forwardWithState(Tensor.zeros(2, 2, 3), null));
  }

  private static void checkCellAsPlan(RecurrentCell cell) {
    Kiln.manualSeed(5);
    int n = 2, hidden = 4, in = 3;
    boolean lstm = cell instanceof LSTMCell;
    int states = lstm ? 2 : 1;
    Tensor x = Tensor.randn(n, in).requiresGrad(true);
    Tensor h = Tensor.randn(n, hidden).requiresGrad(true);
    Tensor c = lstm ? Tensor.randn(n, hidden).requiresGrad(true) : null;
    Tensor a = filled(new int[] {n, hidden}, 0.71, 0.3, true), b = filled(new int[] {n, hidden}, 0.53, 0, true);
    RecurrentCell.State s = cell.run(x, h, c);
    Tensor loss = s.h().mul(a).sum();
    if (lstm) {
      loss = loss.add(s.c().mul(b).sum());
    }
    loss.backward();
    List<Tensor> eagerGrads = cell.flatWeights().stream().map(p -> Tensor.of(p.grad().toFloatArray(), p.shape())).toList();

    Recurrent.Output o;
    try (var g = Kiln.noGrad()) {
      o = cell.forwardWithState(x.unsqueeze(1), h.unsqueeze(0), lstm ? c.unsqueeze(0) : null);
    }
    assertArrayEquals(new int[] {n, 1, hidden}, o.output().shape());
    assertArrayEquals(s.h().toFloatArray(), o.h().toFloatArray());
    if (lstm) {
      assertArrayEquals(s.c().toFloatArray(), o.c().toFloatArray());
    }

    // the plan's value per sample: the output row, then h_n's (and c_n's); its initial states likewise, h's then c's
    dev.kiln.runtime.cpu.RecurrentStack stack = new dev.kiln.runtime.cpu.RecurrentStack(
        dev.kiln.runtime.cpu.RecurrentKernels.Mode.valueOf(cell.spec().mode()), n, 1, in, hidden, 1, false, cell.spec().bias(), 0, true);
    float[] out = new float[n * stack.perSample()], init = new float[n * stack.initialPerSample()], dOut = new float[out.length];
    float[] hv = h.toFloatArray(), cv = lstm ? c.toFloatArray() : null, av = a.toFloatArray(), bv = b.toFloatArray();
    for (int i = 0; i < n; i++) {
      System.arraycopy(hv, i * hidden, init, i * states * hidden, hidden);
      System.arraycopy(av, i * hidden, dOut, (i * (1 + states) + 1) * hidden, hidden);
      if (lstm) {
        System.arraycopy(cv, i * hidden, init, (i * states + 1) * hidden, hidden);
        System.arraycopy(bv, i * hidden, dOut, (i * (1 + states) + 2) * hidden, hidden);
      }
    }
    stack.forward(out, 0, x.toFloatArray(), 0, init, 0, cell.flatWeights(), false, null, true);
    float[] sh = s.h().toFloatArray(), sc = lstm ? s.c().toFloatArray() : null;
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < hidden; j++) {
        assertEquals(sh[i * hidden + j], out[i * (1 + states) * hidden + j], 1e-6f, "output");
        assertEquals(sh[i * hidden + j], out[(i * (1 + states) + 1) * hidden + j], 1e-6f, "h_n");
        if (lstm) {
          assertEquals(sc[i * hidden + j], out[(i * (1 + states) + 2) * hidden + j], 1e-6f, "c_n");
        }
      }
    }
    Tensor[] grads = cell.flatWeights().stream().map(p -> Tensor.zeros(p.shape())).toArray(Tensor[]::new);
    float[] dx = new float[n * in], dInit = new float[init.length];
    stack.backward(dx, 0, false, dOut, 0, dInit, 0, false, cell.flatWeights(), grads);
    assertClose(x.grad().toFloatArray(), dx, "x");
    float[] dh = h.grad().toFloatArray(), dc = lstm ? c.grad().toFloatArray() : null;
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < hidden; j++) {
        assertEquals(dh[i * hidden + j], dInit[i * states * hidden + j], 1e-5f, "h0's gradient");
        if (lstm) {
          assertEquals(dc[i * hidden + j], dInit[(i * states + 1) * hidden + j], 1e-5f, "c0's gradient");
        }
      }
    }
    for (int k = 0; k < grads.length; k++) {
      assertClose(eagerGrads.get(k).toFloatArray(), grads[k].toFloatArray(), cell + " parameter " + k);
    }
  }

  private static void assertClose(float[] expected, float[] actual, String what) {
    assertEquals(expected.length, actual.length, what);
    for (int i = 0; i < expected.length; i++) {
      assertEquals(expected[i], actual[i], 1e-5f * (1 + Math.abs(expected[i])), what + " [" + i + "]");
    }
  }

  private static Tensor copy(Tensor t) {
    return Tensor.of(t.toFloatArray(), t.shape()).requiresGrad(true);
  }

  /** The fused node reads its states in the backward: an output written in place refuses it rather than give a wrong gradient. */
  @Test
  void anOutputWrittenInPlaceRefusesTheBackward() {
    Kiln.manualSeed(2);
    RNN rnn = new RNN(2, 3);
    Tensor out = rnn.forward(Tensor.randn(4, 1, 2));
    Tensor loss = out.mul(2f).sum();
    try (var g = Kiln.noGrad()) {
      out.mulInPlace(0.5f);
    }
    assertThrows(IllegalStateException.class, loss::backward);
  }

  /** A ReLU RNN's NaN output passes its gradient on, as PyTorch's threshold backward (and Kiln's eager relu) does. */
  @Test
  void reluRnnPassesTheGradientWhereItsOutputIsNaN() {
    Tensor xProj = Tensor.of(new float[] {Float.NaN}, 1, 1, 1).requiresGrad(true);
    Tensor w = Tensor.zeros(1, 1).requiresGrad(true);
    dev.kiln.runtime.Ops.recurrent(dev.kiln.runtime.cpu.RecurrentKernels.Mode.RNN_RELU, xProj, null, null, w, null, false).sum().backward();
    assertEquals(1f, xProj.grad().item());
  }

  @Test
  void namesReprAndParameterShapesAsPyTorchs() {
    LSTM lstm = new LSTM(3, 4).numLayers(2).bidirectional(true);
    assertEquals(List.of("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_ih_l0_reverse", "weight_hh_l0_reverse",
        "bias_ih_l0_reverse", "bias_hh_l0_reverse", "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1", "weight_ih_l1_reverse",
        "weight_hh_l1_reverse", "bias_ih_l1_reverse", "bias_hh_l1_reverse"), List.copyOf(lstm.namedParameters().keySet()));
    assertArrayEquals(new int[] {16, 8}, lstm.weightIh(1, 1).shape(), "the second layer reads both directions");
    assertEquals("LSTM(3, 4, num_layers=2, bidirectional=True)", lstm.toString());
    assertEquals("LSTM(10, 20, num_layers=2, bias=False, batch_first=True, dropout=0.1, bidirectional=True)",
        new LSTM(10, 20).numLayers(2).bias(false).batchFirst(true).dropout(0.1).bidirectional(true).toString());
    assertEquals("GRU(3, 4, num_layers=2)", new GRU(3, 4).numLayers(2).toString());
    assertEquals("RNN(10, 20)", new RNN(10, 20, "relu").toString()); // PyTorch 1.13's repr leaves the nonlinearity out
    assertArrayEquals(new int[] {7, 2, 8}, new LSTM(5, 4).bidirectional(true).outputShape(new int[] {7, 2, 5}));
    for (Tensor p : new GRU(3, 16).parameters()) { // U(-1/sqrt(H), 1/sqrt(H)) as PyTorch's
      for (float v : p.toFloatArray()) {
        assertTrue(Math.abs(v) <= 0.25f, "initial value " + v);
      }
    }
  }

  @Test
  void dropoutBetweenLayersOnlyInTraining() {
    Kiln.manualSeed(3);
    GRU gru = new GRU(3, 4).numLayers(2).dropout(0.5);
    Tensor x = Tensor.randn(5, 2, 3);
    gru.eval();
    Tensor a = gru.forward(x);
    Tensor b = gru.forward(x);
    assertArrayEquals(a.toFloatArray(), b.toFloatArray(), "evaluation: no dropout, the same output");
    gru.train();
    Kiln.manualSeed(1);
    Tensor c = gru.forward(x);
    Kiln.manualSeed(2);
    Tensor d = gru.forward(x);
    assertTrue(!Arrays.equals(c.toFloatArray(), d.toFloatArray()), "training: dropout between the layers");
  }

  @Test
  void badShapesAndLateConfigurationAreNamed() {
    LSTM lstm = new LSTM(3, 4);
    var e = assertThrows(ShapeException.class, () -> lstm.forward(Tensor.zeros(5, 2, 4)));
    assertEquals("LSTM(3, 4) expects [T, B, 3] (or one sequence [T, 3]), receives [5, 2, 4]", e.getMessage());
    var h = assertThrows(ShapeException.class, () -> lstm.forwardWithState(Tensor.zeros(5, 2, 3), Tensor.zeros(1, 3, 4), null));
    assertEquals("LSTM(3, 4): h0 must have shape [1, 2, 4] (num_layers * directions, batch, hidden_size), got [1, 3, 4]",
        h.getMessage());
    Supplier<LSTM> late = () -> lstm.numLayers(2);
    var s = assertThrows(IllegalStateException.class, late::get);
    assertTrue(s.getMessage().endsWith("before the first forward"), s.getMessage());
    assertThrows(IllegalArgumentException.class, () -> new RNN(3, 4, "sigmoid"));
    assertThrows(IllegalArgumentException.class, () -> new GRU(3, 0));
    assertThrows(IllegalArgumentException.class, () -> new LSTM(3, 4).dropout(1.5));
  }

  /**
   * The layout a compiled forward holds a layer's output and last states in ({@code CudaCompiled.withLastStates}, the
   * CPU plan's {@code RecurrentStack} with last states): {@code [N, S + 2L, D * H]} for a bidirectional two-layer LSTM,
   * the output's rows, then row {@code S + l} columns {@code d * H..} holding {@code h_n[l * D + d]}, then c_n's rows.
   */
  @Test
  void lastStatesJoinTheOutputBatchFirst() {
    Kiln.manualSeed(2);
    LSTM lstm = new LSTM(3, 4).numLayers(2).bidirectional(true).batchFirst(true);
    var o = lstm.forwardWithState(Tensor.randn(5, 6, 3));
    Tensor joined = dev.kiln.runtime.CudaCompiled.withLastStates(o.output(), o.h(), o.c());
    assertArrayEquals(new int[] {5, 10, 8}, joined.shape());
    assertArrayEquals(o.output().toFloatArray(), joined.narrow(1, 0, 6).toFloatArray());
    for (int k = 0; k < 4; k++) {
      int l = k / 2, d = k % 2;
      assertArrayEquals(o.h().select(0, k).toFloatArray(), joined.select(1, 6 + l).narrow(1, d * 4, 4).toFloatArray(), "h_n[" + k + "]");
      assertArrayEquals(o.c().select(0, k).toFloatArray(), joined.select(1, 8 + l).narrow(1, d * 4, 4).toFloatArray(), "c_n[" + k + "]");
    }
  }
}
