package dev.kiln.samples;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kiln.dsl.Module;
import dev.kiln.runtime.DType;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.data.DataLoader;
import dev.kiln.runtime.data.Dataset;
import dev.kiln.runtime.data.Example;
import dev.kiln.runtime.data.TensorDataset;
import dev.kiln.samples.FashionMnistCommand.Training;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code fashion-mnist --checkpoint/--resume}: a 2-epoch run stopped after epoch 1 and resumed ends
 * with exactly the state of an unbroken 2-epoch run. On random 28x28 images, with the compiled CNN,
 * whose batch norm buffers, dropout and shuffled batches all have to carry over.
 */
class FashionMnistResumeTest {
  private static final long SEED = 7;

  @TempDir Path dir;

  private static Dataset<Example> randomImages(int n) {
    float[] labels = new float[n];
    for (int i = 0; i < n; i++) {
      labels[i] = Kiln.generator().nextInt(10);
    }
    return new TensorDataset(Tensor.randn(n, 1, 28, 28), Tensor.wrap(labels, DType.INT32, n));
  }

  private static Module train(Dataset<Example> trainSet, DataLoader<Example> test, long seed, Training t)
      throws IOException {
    Kiln.manualSeed(seed);
    Module net = new KilnFashionCnn();
    FashionMnistCommand.train(net, trainSet, test, t);
    return net;
  }

  @Test
  void resumedRunEndsWithTheParametersOfAnUnbrokenOne() throws IOException {
    Kiln.manualSeed(100);
    Dataset<Example> trainSet = randomImages(24);
    DataLoader<Example> test = new DataLoader<>(randomImages(8), 8, false);
    Path checkpoint = dir.resolve("fashion.safetensors");

    Module unbroken = train(trainSet, test, SEED, new Training(2, 8, 0.01, 0.9, null, null));
    train(trainSet, test, SEED, new Training(1, 8, 0.01, 0.9, checkpoint, null));
    // Another seed: the resumed run must take the generator's state from the checkpoint.
    Module resumed = train(trainSet, test, SEED + 1, new Training(2, 8, 0.01, 0.9, checkpoint, checkpoint));

    Map<String, Tensor> expected = unbroken.stateDict();
    Map<String, Tensor> actual = resumed.stateDict();
    assertEquals(List.copyOf(expected.keySet()), List.copyOf(actual.keySet()));
    expected.forEach((name, t) -> assertArrayEquals(t.toFloatArray(), actual.get(name).toFloatArray(), name));
  }
}
