package dev.kiln.dsl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
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
 * RNN, LSTM and GRU on CUDA (the tape's device ops: linear, the gates, stack, cat) against the same
 * layers on the CPU: outputs, last states and every gradient agree to 1e-4 relative norm error.
 * Needs a GPU: tagged cuda.
 */
@Tag("cuda")
class CudaRecurrentTest {
  private static final Device GPU = Device.cuda();

  @Test
  void recurrentLayersOnTheDeviceAsOnTheCpu() {
    agreeOnDevice(List.of(
        () -> new LSTM(3, 5).numLayers(2).bidirectional(true),
        () -> new GRU(3, 5).batchFirst(true),
        () -> new RNN(3, 5, "relu").numLayers(2)), 6, 2, 3);
  }

  @Test
  void longSequencesOnTheDeviceAsOnTheCpu() { // each step's input one slice of one unbind (linear in the length, was quadratic)
    agreeOnDevice(List.of(
        () -> new LSTM(4, 6).bidirectional(true),
        () -> new GRU(4, 6),
        () -> new RNN(4, 6)), 40, 3, 4);
  }

  private static void agreeOnDevice(List<Supplier<Recurrent<?>>> layers, int... inputShape) {
    for (Supplier<Recurrent<?>> make : layers) {
      Kiln.manualSeed(5);
      Recurrent<?> cpu = make.get();
      Recurrent<?> gpu = make.get();
      gpu.loadStateDict(cpu.stateDict());
      gpu.to(GPU);
      Tensor x = Tensor.randn(inputShape);
      Tensor xc = Tensor.of(x.toFloatArray(), x.shape()).requiresGrad(true);
      Tensor xg = Tensor.of(x.toFloatArray(), x.shape()).to(GPU).requiresGrad(true);
      Recurrent.Output oc = run(cpu, xc);
      Recurrent.Output og = run(gpu, xg);
      String what = cpu.toString();
      assertTrue(og.output().device().isCuda(), what + ": output on " + og.output().device());
      close(what + " output", oc.output(), og.output());
      close(what + " h_n", oc.h(), og.h());
      Tensor gOut = Tensor.randn(oc.output().shape());
      oc.output().backward(gOut);
      og.output().backward(gOut.to(GPU));
      close(what + " input gradient", xc.grad(), xg.grad());
      Map<String, Tensor> pg = gpu.namedParameters();
      cpu.namedParameters().forEach((k, p) -> close(what + " " + k + " gradient", p.grad(), pg.get(k).grad()));
    }
  }

  @Test
  void packedSequencesOnTheDeviceAsOnTheCpu() {
    Kiln.manualSeed(8);
    LSTM cpu = new LSTM(3, 4).bidirectional(true).batchFirst(true);
    LSTM gpu = new LSTM(3, 4).bidirectional(true).batchFirst(true);
    gpu.loadStateDict(cpu.stateDict());
    gpu.to(GPU);
    Tensor x = Tensor.randn(3, 5, 3);
    int[] lengths = {2, 5, 3};
    Tensor xc = Tensor.of(x.toFloatArray(), x.shape()).requiresGrad(true);
    Tensor xg = Tensor.of(x.toFloatArray(), x.shape()).to(GPU).requiresGrad(true);
    Recurrent.PackedOutput oc = cpu.forwardWithState(PackedSequence.pack(xc, lengths, true));
    Recurrent.PackedOutput og = gpu.forwardWithState(PackedSequence.pack(xg, lengths, true));
    assertTrue(og.h().device().isCuda(), "h_n on " + og.h().device());
    close("packed output", oc.output().padded(), og.output().padded());
    close("packed h_n", oc.h(), og.h());
    close("packed c_n", oc.c(), og.c());
    Tensor gOut = Tensor.randn(oc.output().padded().shape());
    oc.output().padded().sum().add(oc.h().sum()).add(oc.output().padded().mul(gOut).sum()).backward();
    og.output().padded().sum().add(og.h().sum()).add(og.output().padded().mul(gOut.to(GPU)).sum()).backward();
    close("packed input gradient", xc.grad(), xg.grad());
    Map<String, Tensor> pg = gpu.namedParameters();
    cpu.namedParameters().forEach((k, p) -> close("packed " + k + " gradient", p.grad(), pg.get(k).grad()));
  }

  @Test
  void gruCellOnTheDeviceAsOnTheCpu() {
    Kiln.manualSeed(7);
    GRUCell cpu = new GRUCell(3, 5);
    GRUCell gpu = new GRUCell(3, 5);
    gpu.loadStateDict(cpu.stateDict());
    gpu.to(GPU);
    Tensor x = Tensor.randn(4, 3);
    Tensor h = Tensor.randn(4, 5);
    Tensor xc = Tensor.of(x.toFloatArray(), 4, 3).requiresGrad(true);
    Tensor xg = x.to(GPU).requiresGrad(true);
    Tensor hc = Tensor.of(h.toFloatArray(), 4, 5).requiresGrad(true);
    Tensor hg = h.to(GPU).requiresGrad(true);
    Tensor oc = cpu.step(xc, hc);
    Tensor og = gpu.step(xg, hg);
    close("GRUCell h", oc, og);
    oc.mul(oc).sum().backward();
    og.mul(og).sum().backward();
    close("GRUCell input gradient", xc.grad(), xg.grad());
    close("GRUCell state gradient", hc.grad(), hg.grad());
    Map<String, Tensor> pg = gpu.namedParameters();
    cpu.namedParameters().forEach((k, p) -> close("GRUCell " + k + " gradient", p.grad(), pg.get(k).grad()));
  }

  @Test
  void cellsOnTheDeviceAsOnTheCpu() {
    Kiln.manualSeed(6);
    LSTMCell cpu = new LSTMCell(3, 5);
    LSTMCell gpu = new LSTMCell(3, 5);
    gpu.loadStateDict(cpu.stateDict());
    gpu.to(GPU);
    Tensor x = Tensor.randn(4, 3);
    Tensor h = Tensor.randn(4, 5);
    Tensor c = Tensor.randn(4, 5);
    Tensor xc = Tensor.of(x.toFloatArray(), 4, 3).requiresGrad(true);
    Tensor xg = x.to(GPU).requiresGrad(true);
    RecurrentCell.State sc = cpu.step(xc, h, c);
    RecurrentCell.State sg = gpu.step(xg, h.to(GPU), c.to(GPU));
    close("LSTMCell h", sc.h(), sg.h());
    close("LSTMCell c", sc.c(), sg.c());
    sc.h().add(sc.c()).sum().backward();
    sg.h().add(sg.c()).sum().backward();
    close("LSTMCell input gradient", xc.grad(), xg.grad());
    close("LSTMCell weight_hh gradient", cpu.weightHh().grad(), gpu.weightHh().grad());
  }

  private static Recurrent.Output run(Recurrent<?> layer, Tensor x) {
    return layer instanceof LSTM l ? l.forwardWithState(x) : layer instanceof GRU g ? g.forwardWithState(x)
        : ((RNN) layer).forwardWithState(x);
  }

  private static void close(String what, Tensor cpu, Tensor gpu) {
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
