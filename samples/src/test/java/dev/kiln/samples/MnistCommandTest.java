package dev.kiln.samples;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.dsl.Module;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.data.DataLoader;
import dev.kiln.runtime.data.TensorDataset;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The tutorial's MNIST MLP and the {@code mnist} command's training loop, without the MNIST files. */
class MnistCommandTest {
  @Test
  void generatedClassMatchesDeclarationInShapeAndStateDictKeys() {
    Kiln.manualSeed(1);
    Module eager = Models.mnistMlp();
    Kiln.manualSeed(1);
    Module compiled = new KilnMnistMlp();
    assertEquals(List.copyOf(eager.stateDict().keySet()), List.copyOf(compiled.stateDict().keySet()));
    assertTrue(eager.stateDict().containsKey("2.running_mean"), eager.stateDict().keySet().toString());

    Tensor x = Tensor.randn(5, 1, 28, 28);
    for (Module net : List.of(eager, compiled)) {
      net.train();
      assertArrayEquals(new int[] {5, 10}, net.forward(x).shape());
      net.eval();
      try (var g = Kiln.noGrad()) {
        assertArrayEquals(new int[] {5, 10}, net.forward(x).shape());
      }
    }
  }

  @Test
  void sgdWithStepLrLowersTheLossOnSyntheticData() {
    Kiln.manualSeed(2);
    int n = 64;
    Tensor x = Tensor.randn(n, 1, 28, 28);
    float[] pixels = x.toFloatArray();
    int[] classes = new int[n];
    for (int i = 0; i < n; i++) { // the label is the brightest of the first 10 pixels
      for (int c = 1; c < 10; c++) {
        if (pixels[i * 784 + c] > pixels[i * 784 + classes[i]]) {
          classes[i] = c;
        }
      }
    }
    var data = new TensorDataset(x, Tensor.labels(classes));

    List<MnistCommand.Epoch> reported = new ArrayList<>();
    List<MnistCommand.Epoch> history = MnistCommand.train(new KilnMnistMlp(), data, new DataLoader<>(data, 32, false),
        6, 16, 0.05, 0.9, reported::add);

    assertEquals(history, reported);
    assertEquals(6, history.size());
    for (int e = 0; e < 5; e++) {
      assertEquals(0.05, history.get(e).lr(), 1e-12);
    }
    assertEquals(0.005, history.get(5).lr(), 1e-12); // StepLR(opt, 5, 0.1) after epoch 5
    double first = history.get(0).trainLoss();
    double last = history.get(5).trainLoss();
    assertTrue(last < first, "train loss went from " + first + " to " + last);
    assertTrue(history.get(5).testAccuracy() > 10, "accuracy " + history.get(5).testAccuracy());
    // The test set is the training set here: in evaluation mode its loss and accuracy are those of a
    // last pass over it, and the training figures (train mode, during the epoch) lag a little behind.
    for (MnistCommand.Epoch e : history) {
      assertTrue(e.trainAccuracy() >= 0 && e.trainAccuracy() <= 100, e.toString());
      assertTrue(e.testLoss() > 0 && Double.isFinite(e.testLoss()), e.toString());
    }
    assertTrue(history.get(5).testLoss() < history.get(0).testLoss(), history.toString());
    assertTrue(history.get(5).trainAccuracy() > history.get(0).trainAccuracy(), history.toString());
  }

  /** The test loss is per sample over the set: batches of 7 (the last one of 1) give the loss of one batch of all 50. */
  @Test
  void evaluationLossIsPerSampleOverTheWholeSet() {
    Kiln.manualSeed(3);
    Tensor x = Tensor.randn(50, 1, 28, 28);
    int[] classes = new int[50];
    for (int i = 0; i < 50; i++) {
      classes[i] = i % 10;
    }
    var data = new TensorDataset(x, Tensor.labels(classes));
    Module net = new KilnMnistMlp();
    var criterion = new dev.kiln.dsl.CrossEntropyLoss();
    TrainingLoop.Evaluation small = TrainingLoop.evaluate(net, new DataLoader<>(data, 7, false), criterion, null);
    TrainingLoop.Evaluation whole = TrainingLoop.evaluate(net, new DataLoader<>(data, 50, false), criterion, null);
    assertEquals(whole.loss(), small.loss(), 1e-5 * whole.loss());
    assertEquals(whole.accuracy(), small.accuracy());
    assertEquals(whole.accuracy(), TrainingLoop.evaluate(net, new DataLoader<>(data, 7, false), null));
    assertTrue(Double.isNaN(TrainingLoop.evaluate(net, new DataLoader<>(data, 7, false), null, null).loss()));
  }
}
