package dev.kiln.dsl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.Device;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * RNN, LSTM and GRU on CUDA (per layer and direction one fused node, {@code Ops.recurrent}'s device
 * side: a cuBLAS GEMM and one cell kernel per step) against the same layers on the CPU, on fresh
 * random inputs: outputs, last states and every gradient (input, h0, c0, every weight and bias)
 * agree to 1e-4 relative norm error, over two forward-backward rounds (the parameters' gradients
 * accumulated where they live). Needs a GPU: tagged cuda.
 */
@Tag("cuda")
class CudaRecurrentTest {
  static final Device GPU = Device.cuda();

  @Test
  void everyModeOnTheDeviceAsOnTheCpu() {
    List<Supplier<Recurrent<?>>> layers = List.of(
        () -> new LSTM(3, 5), () -> new GRU(3, 5), () -> new RNN(3, 5), () -> new RNN(3, 5, "relu"));
    agreeOnDevice(layers, false, 6, 2, 3);
    agreeOnDevice(layers, true, 5, 3, 3);
  }

  @Test
  void stackedAndBidirectionalLayersOnTheDeviceAsOnTheCpu() {
    agreeOnDevice(List.of(
        () -> new LSTM(3, 5).numLayers(2).bidirectional(true),
        () -> new GRU(3, 5).numLayers(2).bidirectional(true).batchFirst(true),
        () -> new RNN(3, 5, "relu").numLayers(2).bias(false),
        () -> new RNN(3, 4).bidirectional(true)), true, 6, 2, 3);
    agreeOnDevice(List.of(() -> new LSTM(3, 5).numLayers(2).bidirectional(true), () -> new GRU(3, 4).bidirectional(true)), false,
        4, 3, 3);
  }

  @Test
  void longSequencesOnTheDeviceAsOnTheCpu() {
    agreeOnDevice(List.of(
        () -> new LSTM(4, 6).bidirectional(true),
        () -> new GRU(4, 6),
        () -> new RNN(4, 6),
        () -> new RNN(4, 6, "relu")), true, 40, 3, 4);
  }

  /** One sequence {@code [T, inputSize]} and its states {@code [layers, H]}, as PyTorch 1.13 takes them. */
  @Test
  void oneSequenceOnTheDeviceAsOnTheCpu() {
    agreeOnDevice(List.of(() -> new LSTM(3, 4).numLayers(2), () -> new GRU(3, 4).bidirectional(true)), true, 5, 3);
  }

  /**
   * One fused node per layer and direction: the output of a one-layer RNN or GRU is the node's own
   * output, whose inputs are the projected input, h0 and the parameters (not per-step ops).
   */
  @Test
  void eachLayerDirectionIsOneNodeOnTheDevice() {
    for (Recurrent<?> layer : List.<Recurrent<?>>of(new RNN(3, 4), new RNN(3, 4, "relu"), new GRU(3, 4))) {
      layer.to(GPU);
      Tensor out = layer.forward(Tensor.randn(30, 2, 3).to(GPU));
      assertNotNull(out.gradFn(), layer + ": no node");
      String mode = layer.spec().mode().toLowerCase(java.util.Locale.ROOT);
      assertEquals("recurrent(" + mode + ")", out.gradFn().name(), layer + ": the output of 30 steps is not one recurrent node");
    }
    LSTM lstm = new LSTM(3, 4);
    lstm.to(GPU);
    Tensor out = lstm.forward(Tensor.randn(30, 2, 3).to(GPU));
    assertEquals("narrow", out.gradFn().name(), "LSTM's output: the h half of the node's states");
  }

  /** Layers over packed sequences: per run of steps over the same sequences one node, as on the CPU. */
  @Test
  void packedSequencesOnTheDeviceAsOnTheCpu() {
    int[] lengths = {2, 5, 3, 5, 1};
    agreePacked(() -> new LSTM(3, 4).bidirectional(true).batchFirst(true), lengths, true, true);
    agreePacked(() -> new LSTM(3, 4).numLayers(2), lengths, false, false);
    agreePacked(() -> new GRU(3, 4).numLayers(2).bidirectional(true), lengths, true, false);
    agreePacked(() -> new RNN(3, 4, "relu").bidirectional(true), lengths, true, true);
    agreePacked(() -> new RNN(3, 4), new int[] {4, 4, 4}, true, false); // one run: every sequence full
  }

  /** Two rounds of forward and backward on both devices; everything compared after each. */
  private static void agreeOnDevice(List<Supplier<Recurrent<?>>> layers, boolean withStates, int... inputShape) {
    for (Supplier<Recurrent<?>> make : layers) {
      Kiln.manualSeed(5);
      Recurrent<?> cpu = make.get();
      Recurrent<?> gpu = make.get();
      gpu.loadStateDict(cpu.stateDict());
      gpu.to(GPU);
      Recurrent.Spec s = cpu.spec();
      boolean lstm = s.mode().equals("LSTM");
      boolean one = inputShape.length == 2;
      int batch = one ? 0 : inputShape[s.batchFirst() ? 0 : 1];
      int[] stateShape = one ? new int[] {s.numLayers() * s.directions(), s.hiddenSize()}
          : new int[] {s.numLayers() * s.directions(), batch, s.hiddenSize()};
      String what = cpu + (withStates ? " from h0" + (lstm ? ", c0" : "") : "") + " over " + java.util.Arrays.toString(inputShape);
      for (int round = 0; round < 2; round++) {
        Pair x = Pair.of(Tensor.randn(inputShape));
        Pair h0 = withStates ? Pair.of(Tensor.randn(stateShape)) : null;
        Pair c0 = withStates && lstm ? Pair.of(Tensor.randn(stateShape)) : null;
        Recurrent.Output oc = cpu.run(x.cpu, h0 == null ? null : h0.cpu, c0 == null ? null : c0.cpu);
        Recurrent.Output og = gpu.run(x.gpu, h0 == null ? null : h0.gpu, c0 == null ? null : c0.gpu);
        String at = what + ", round " + round;
        assertTrue(og.output().device().isCuda(), at + ": output on " + og.output().device());
        close(at + " output", oc.output(), og.output());
        close(at + " h_n", oc.h(), og.h());
        if (lstm) {
          close(at + " c_n", oc.c(), og.c());
        }
        backward(oc.output(), oc.h(), oc.c(), og.output(), og.h(), og.c());
        close(at + " input gradient", x.cpu.grad(), x.gpu.grad());
        if (h0 != null) {
          close(at + " h0 gradient", h0.cpu.grad(), h0.gpu.grad());
        }
        if (c0 != null) {
          close(at + " c0 gradient", c0.cpu.grad(), c0.gpu.grad());
        }
        parametersAgree(at, cpu, gpu);
      }
    }
  }

  private static void agreePacked(Supplier<Recurrent<?>> make, int[] lengths, boolean withStates, boolean twoRounds) {
    Kiln.manualSeed(8);
    Recurrent<?> cpu = make.get();
    Recurrent<?> gpu = make.get();
    gpu.loadStateDict(cpu.stateDict());
    gpu.to(GPU);
    Recurrent.Spec s = cpu.spec();
    boolean lstm = s.mode().equals("LSTM");
    int longest = java.util.Arrays.stream(lengths).max().orElseThrow(), batch = lengths.length;
    int[] stateShape = {s.numLayers() * s.directions(), batch, s.hiddenSize()};
    String what = "packed " + cpu + (withStates ? " from states" : "") + " over lengths " + java.util.Arrays.toString(lengths);
    for (int round = 0; round < (twoRounds ? 2 : 1); round++) {
      Pair x = Pair.of(s.batchFirst() ? Tensor.randn(batch, longest, s.inputSize()) : Tensor.randn(longest, batch, s.inputSize()));
      Pair h0 = withStates ? Pair.of(Tensor.randn(stateShape)) : null;
      Pair c0 = withStates && lstm ? Pair.of(Tensor.randn(stateShape)) : null;
      Recurrent.PackedOutput oc = cpu.run(PackedSequence.pack(x.cpu, lengths, s.batchFirst()), h0 == null ? null : h0.cpu,
          c0 == null ? null : c0.cpu);
      Recurrent.PackedOutput og = gpu.run(PackedSequence.pack(x.gpu, lengths, s.batchFirst()), h0 == null ? null : h0.gpu,
          c0 == null ? null : c0.gpu);
      String at = what + ", round " + round;
      assertTrue(og.h().device().isCuda(), at + ": h_n on " + og.h().device());
      close(at + " output", oc.output().padded(), og.output().padded());
      close(at + " h_n", oc.h(), og.h());
      if (lstm) {
        close(at + " c_n", oc.c(), og.c());
      }
      backward(oc.output().padded(), oc.h(), oc.c(), og.output().padded(), og.h(), og.c());
      close(at + " input gradient", x.cpu.grad(), x.gpu.grad());
      if (h0 != null) {
        close(at + " h0 gradient", h0.cpu.grad(), h0.gpu.grad());
      }
      if (c0 != null) {
        close(at + " c0 gradient", c0.cpu.grad(), c0.gpu.grad());
      }
      parametersAgree(at, cpu, gpu);
    }
  }

  /** A tensor and its copy on the GPU, both leaves that require a gradient. */
  record Pair(Tensor cpu, Tensor gpu) {
    static Pair of(Tensor t) {
      return new Pair(Tensor.of(t.toFloatArray(), t.shape()).requiresGrad(true), Tensor.of(t.toFloatArray(), t.shape()).to(GPU)
          .requiresGrad(true));
    }
  }

  /** One random weighting of the output and the last states on both devices, backpropagated. */
  private static void backward(Tensor outC, Tensor hC, Tensor cC, Tensor outG, Tensor hG, Tensor cG) {
    Tensor gOut = Tensor.randn(outC.shape()), gH = Tensor.randn(hC.shape());
    Tensor gC = cC == null ? null : Tensor.randn(cC.shape());
    Tensor lossC = outC.mul(gOut).sum().add(hC.mul(gH).sum());
    Tensor lossG = outG.mul(gOut.to(GPU)).sum().add(hG.mul(gH.to(GPU)).sum());
    if (gC != null) {
      lossC = lossC.add(cC.mul(gC).sum());
      lossG = lossG.add(cG.mul(gC.to(GPU)).sum());
    }
    lossC.backward();
    lossG.backward();
  }

  static void parametersAgree(String what, Module cpu, Module gpu) {
    Map<String, Tensor> pg = gpu.namedParameters();
    cpu.namedParameters().forEach((k, p) -> {
      assertNotNull(pg.get(k).grad(), what + ": no " + k + " gradient on the device");
      assertTrue(pg.get(k).grad().device().isCuda(), what + ": " + k + " gradient on " + pg.get(k).grad().device());
      close(what + " " + k + " gradient", p.grad(), pg.get(k).grad());
    });
  }

  @Test
  void cellsOnTheDeviceAsOnTheCpu() {
    Kiln.manualSeed(6);
    LSTMCell cpu = new LSTMCell(3, 5);
    LSTMCell gpu = new LSTMCell(3, 5);
    gpu.loadStateDict(cpu.stateDict());
    gpu.to(GPU);
    Pair x = Pair.of(Tensor.randn(4, 3)), h = Pair.of(Tensor.randn(4, 5)), c = Pair.of(Tensor.randn(4, 5));
    RecurrentCell.State sc = cpu.step(x.cpu, h.cpu, c.cpu);
    RecurrentCell.State sg = gpu.step(x.gpu, h.gpu, c.gpu);
    close("LSTMCell h", sc.h(), sg.h());
    close("LSTMCell c", sc.c(), sg.c());
    backward(sc.h(), sc.c(), null, sg.h(), sg.c(), null);
    close("LSTMCell input gradient", x.cpu.grad(), x.gpu.grad());
    close("LSTMCell h gradient", h.cpu.grad(), h.gpu.grad());
    close("LSTMCell c gradient", c.cpu.grad(), c.gpu.grad());
    parametersAgree("LSTMCell", cpu, gpu);
  }

  @Test
  void gruAndRnnCellsOnTheDeviceAsOnTheCpu() {
    for (Supplier<RecurrentCell> make : List.<Supplier<RecurrentCell>>of(() -> new GRUCell(3, 5), () -> new RNNCell(3, 5, true, "relu"),
        () -> new RNNCell(3, 5, false, "tanh"))) {
      Kiln.manualSeed(7);
      RecurrentCell cpu = make.get();
      RecurrentCell gpu = make.get();
      gpu.loadStateDict(cpu.stateDict());
      gpu.to(GPU);
      Pair x = Pair.of(Tensor.randn(4, 3)), h = Pair.of(Tensor.randn(4, 5));
      Tensor oc = cpu.run(x.cpu, h.cpu, null).h();
      Tensor og = gpu.run(x.gpu, h.gpu, null).h();
      close(cpu + " h", oc, og);
      oc.mul(oc).sum().backward();
      og.mul(og).sum().backward();
      close(cpu + " input gradient", x.cpu.grad(), x.gpu.grad());
      close(cpu + " state gradient", h.cpu.grad(), h.gpu.grad());
      parametersAgree(cpu.toString(), cpu, gpu);
    }
  }

  static void close(String what, Tensor cpu, Tensor gpu) {
    assertNotNull(cpu, what + ": none on the cpu");
    assertNotNull(gpu, what + ": none on the device");
    assertArrayEquals(cpu.shape(), gpu.shape(), what + ": shape");
    float[] a = cpu.toFloatArray(), b = gpu.toFloatArray();
    double diff = 0, norm = 0;
    for (int i = 0; i < a.length; i++) {
      diff += (a[i] - b[i]) * (double) (a[i] - b[i]);
      norm += a[i] * (double) a[i];
    }
    assertTrue(Math.sqrt(diff) <= 1e-4 * Math.max(1e-6, Math.sqrt(norm)), what + ": relative norm error " + Math.sqrt(diff / Math.max(norm, 1e-30)));
  }
}
