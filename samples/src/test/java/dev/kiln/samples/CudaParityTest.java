package dev.kiln.samples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.dsl.CrossEntropyLoss;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Device;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.optim.SGD;
import java.util.Map;
import java.util.function.Supplier;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The seeds' MLP and CNN (and the residual FashionResNet, the attention FashionTransformer, the recurrent FashionLstm) trained for a few steps on CUDA, compiled and eager, against the same
 * model eager on the CPU: losses, every parameter and every buffer (running statistics) agree to
 * 1e-4 relative. Dropout draws its masks on the host from the same generator on both devices.
 * Needs a GPU: tagged cuda.
 */
@Tag("cuda")
class CudaParityTest {
  @Test
  void bestIsTheGpu() {
    assertSame(Device.cuda(), Device.best());
  }

  @Test
  void mlpCompiledAndEagerOnCudaMatchTheCpu() {
    check("mlp eager", Models::mlp);
    check("mlp compiled", KilnMlp::new);
  }

  @Test
  void cnnCompiledAndEagerOnCudaMatchTheCpu() {
    check("cnn eager", FashionCnn::new);
    check("cnn compiled", KilnFashionCnn::new);
  }

  @Test
  void resnetCompiledAndEagerOnCudaMatchTheCpu() {
    check("resnet eager", FashionResNet::new);
    check("resnet compiled", KilnFashionResNet::new);
  }

  @Test
  void transformerCompiledAndEagerOnCudaMatchTheCpu() {
    check("transformer eager", FashionTransformer::new);
    check("transformer compiled", KilnFashionTransformer::new);
  }

  @Test
  void lstmCompiledAndEagerOnCudaMatchTheCpu() {
    check("lstm eager", FashionLstm::new);
    check("lstm compiled", KilnFashionLstm::new);
  }

  private static void check(String what, Supplier<Module> model) {
    float[] cpuLosses = train(model, Device.cpu());
    Map<String, Tensor> cpuState = last;
    float[] gpuLosses = train(model, Device.cuda());
    Map<String, Tensor> gpuState = last;
    for (int i = 0; i < cpuLosses.length; i++) {
      assertEquals(cpuLosses[i], gpuLosses[i], 1e-4f * Math.max(1f, Math.abs(cpuLosses[i])), what + ": loss of step " + i);
    }
    assertEquals(cpuState.keySet(), gpuState.keySet(), what + ": state dict keys");
    for (String key : cpuState.keySet()) {
      float[] c = cpuState.get(key).toFloatArray();
      float[] g = gpuState.get(key).toFloatArray();
      double diff = 0, norm = 0;
      for (int i = 0; i < c.length; i++) {
        diff += (g[i] - c[i]) * (double) (g[i] - c[i]);
        norm += c[i] * (double) c[i];
      }
      double err = Math.sqrt(diff / Math.max(norm, 1e-30));
      assertTrue(err < 1e-4, what + ": " + key + " after training differs between CUDA and CPU, relative error " + err);
    }
  }

  private static Map<String, Tensor> last;

  private static float[] train(Supplier<Module> model, Device device) {
    Kiln.manualSeed(3);
    Module net = model.get().to(device);
    var opt = new SGD(net.parameters(), 0.01).momentum(0.9);
    var criterion = new CrossEntropyLoss();
    float[] losses = new float[4];
    net.train();
    for (int step = 0; step < losses.length; step++) {
      Tensor x = Tensor.randn(32, 1, 28, 28).to(device);
      int[] labels = new int[32];
      for (int i = 0; i < labels.length; i++) {
        labels[i] = Kiln.generator().nextInt(10);
      }
      opt.zeroGrad();
      Tensor loss = criterion.apply(net.forward(x), Tensor.labels(labels).to(device));
      loss.backward();
      opt.step();
      losses[step] = loss.item();
    }
    net.eval();
    last = net.stateDict();
    return losses;
  }
}
