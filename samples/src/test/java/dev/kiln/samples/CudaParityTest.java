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
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import java.util.function.Supplier;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The seeds' MLP and CNN (and the residual FashionResNet, the attention FashionTransformer, the recurrent FashionLstm,
 * char-gpt's CharGpt, the seq2seq sample's nn.Transformer) trained for a few steps on CUDA, compiled and eager, against the same
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

  /**
   * The char-gpt sample's GPT (token ids, the fused c_attn split, the causal mask buffer, logits over every position),
   * a few steps on CharGptCommand's windows. SGD, not the sample's AdamW: the key part of c_attn's bias gets a gradient
   * of zero up to rounding (softmax ignores a shift of a row of scores), which Adam's normalisation turns into steps of
   * the full learning rate in a direction each device's rounding picks.
   */
  @Test
  void charGptCompiledAndEagerOnCudaMatchTheCpu() {
    check("char-gpt eager", CharGpt::new, CudaParityTest::trainCharGpt);
    check("char-gpt compiled", KilnCharGpt::new, CudaParityTest::trainCharGpt);
  }

  /** char-gpt's sampling on the device: the compiled model's logits read back per step give the CPU's characters. */
  @Test
  void charGptGeneratesOnCudaAsOnTheCpu() {
    Kiln.manualSeed(5);
    CharGpt cpu = new KilnCharGpt();
    Kiln.manualSeed(5);
    CharGpt gpu = new KilnCharGpt();
    gpu.to(Device.cuda());
    int[] prompt = {3, 1, 4, 1, 5};
    int[] a = CharGptCommand.generate(cpu, prompt, 40, 1.0, 10, 60, new java.util.Random(7), Device.cpu());
    int[] b = CharGptCommand.generate(gpu, prompt, 40, 1.0, 10, 60, new java.util.Random(7), Device.cuda());
    assertEquals(java.util.Arrays.toString(a), java.util.Arrays.toString(b));
  }

  /**
   * The seq2seq sample's nn.Transformer: four teacher-forced steps (dropout on, the causal mask) on the device give the
   * CPU's losses and weights, and its greedy decoding then gives the CPU's digits. SGD rather than the sample's Adam:
   * the keys' share of in_proj_bias gets no gradient but rounding noise (softmax ignores a shift of every score), which
   * Adam (eps 1e-9) scales up to whole steps of either sign, so the two devices' biases differ there by design. Eager on
   * sequences of 6 digits, and compiled ({@code KilnSeq2SeqTransformer}, its CUDA code) on sequences of 8.
   */
  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void seq2seqTrainsAndDecodesOnCudaAsOnTheCpu(boolean compiled) {
    int length = compiled ? Seq2SeqTransformer.LENGTH : 6;
    int[][] decoded = new int[2][];
    check("seq2seq" + (compiled ? " compiled" : ""), () -> Seq2SeqCommand.model(compiled), (model, device) -> {
      Kiln.manualSeed(3);
      Seq2SeqTransformer net = (Seq2SeqTransformer) model.get();
      net.to(device);
      var opt = new SGD(net.parameters(), 0.01).momentum(0.9);
      var criterion = new CrossEntropyLoss();
      java.util.Random digits = new java.util.Random(0);
      float[] losses = new float[4];
      for (int step = 0; step < losses.length; step++) {
        var b = Seq2SeqCommand.Batch.draw(Seq2SeqCommand.Task.SORT, 16, length, digits, device);
        losses[step] = Seq2SeqCommand.trainStep(net, opt, criterion, b);
      }
      decoded[device.isCuda() ? 1 : 0] = net.greedyDecode(Seq2SeqCommand.Batch.draw(Seq2SeqCommand.Task.SORT, 16, length,
          new java.util.Random(1), device).src());
      last = net.stateDict();
      return losses;
    });
    assertEquals(java.util.Arrays.toString(decoded[0]), java.util.Arrays.toString(decoded[1]));
  }

  private static void check(String what, Supplier<Module> model) {
    check(what, model, CudaParityTest::train);
  }

  private static void check(String what, Supplier<Module> model, BiFunction<Supplier<Module>, Device, float[]> train) {
    float[] cpuLosses = train.apply(model, Device.cpu());
    Map<String, Tensor> cpuState = last;
    float[] gpuLosses = train.apply(model, Device.cuda());
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

  private static float[] trainCharGpt(Supplier<Module> model, Device device) {
    int[] text = new int[500];
    for (int i = 0; i < text.length; i++) {
      text[i] = (i * 7 + i / 13) % 40;               // a text of 40 ids
    }
    java.util.Random windows = new java.util.Random(0);
    return train(model, device, 0.1, d -> {
      CharGptCommand.Window w = CharGptCommand.window(text, 8, CharGpt.S, windows, d);
      return new Tensor[] {w.x(), w.y()};
    }, logits -> logits.view(-1, CharGpt.V));
  }

  private static float[] train(Supplier<Module> model, Device device) {
    return train(model, device, 0.01, d -> {
      Tensor x = Tensor.randn(32, 1, 28, 28).to(d);
      int[] labels = new int[32];
      for (int i = 0; i < labels.length; i++) {
        labels[i] = Kiln.generator().nextInt(10);
      }
      return new Tensor[] {x, Tensor.labels(labels).to(d)};
    }, UnaryOperator.identity());
  }

  /** Four steps of SGD (momentum 0.9) from seed 3 on {@code batches}' inputs and labels; the state dict left in {@code last}. */
  private static float[] train(Supplier<Module> model, Device device, double lr, Function<Device, Tensor[]> batches,
      UnaryOperator<Tensor> scores) {
    Kiln.manualSeed(3);
    Module net = model.get().to(device);
    var opt = new SGD(net.parameters(), lr).momentum(0.9);
    var criterion = new CrossEntropyLoss();
    float[] losses = new float[4];
    net.train();
    for (int step = 0; step < losses.length; step++) {
      Tensor[] xy = batches.apply(device);
      opt.zeroGrad();
      Tensor loss = criterion.apply(scores.apply(net.forward(xy[0])), xy[1]);
      loss.backward();
      opt.step();
      losses[step] = loss.item();
    }
    net.eval();
    last = net.stateDict();
    return losses;
  }
}
