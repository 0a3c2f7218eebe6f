package dev.kiln.dsl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.optim.Adam;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Embedding against PyTorch 1.13's values and gradients (written from it), and a bag-of-words classifier that learns. */
class EmbeddingTest {
  @Test
  void rowsAndGradientsAsPyTorchsWithAPaddingRow() {
    Embedding e = new Embedding(5, 3, 1);
    assertEquals("Embedding(5, 3, padding_idx=1)", e.toString());
    assertArrayEquals(new float[] {0, 0, 0}, e.forward(Tensor.labels(1)).toFloatArray(), "the padding row starts at zero");
    float[] w = new float[15];
    for (int i = 0; i < 15; i++) {
      w[i] = i;
    }
    System.arraycopy(w, 0, e.weight().buffer(), e.weight().offset(), 15);
    Tensor idx = Tensor.labels(0, 2, 2, 4, 1, 0).reshape(2, 3);
    Tensor y = e.forward(idx);
    assertArrayEquals(new int[] {2, 3, 3}, y.shape());
    assertArrayEquals(new float[] {0, 1, 2, 6, 7, 8, 6, 7, 8, 12, 13, 14, 3, 4, 5, 0, 1, 2}, y.toFloatArray());
    float[] r = new float[18];
    for (int i = 0; i < 18; i++) {
      r[i] = i;
    }
    y.mul(Tensor.of(r, 2, 3, 3)).sum().backward();
    assertArrayEquals(new float[] {15, 17, 19, 0, 0, 0, 9, 11, 13, 0, 0, 0, 9, 10, 11}, e.weight().grad().toFloatArray());
    assertEquals("Embedding(10, 4)", new Embedding(10, 4).toString());
  }

  @Test
  void badIndicesAreRefused() {
    Embedding e = new Embedding(5, 3);
    assertEquals("embedding: index 5 at flat position 1 of [2] is out of range for 5 embeddings (0..4)",
        assertThrows(IllegalArgumentException.class, () -> e.forward(Tensor.labels(0, 5))).getMessage());
    assertEquals("embedding: the indices must be a label tensor (Tensor.labels(...)), got a float tensor of shape [2]",
        assertThrows(IllegalArgumentException.class, () -> e.forward(Tensor.zeros(2))).getMessage());
    assertEquals("Embedding(5, 3): padding_idx 5 is not a row (0..4, or -5..-1 from the end)",
        assertThrows(IllegalArgumentException.class, () -> new Embedding(5, 3, 5)).getMessage());
    assertEquals("Embedding(5, 3, padding_idx=4)", new Embedding(5, 3, -1).toString(), "-1 is the last row, as PyTorch's");
  }

  @Test
  void aBagOfWordsClassifierLearns() {
    // the class of a 4-token text: whether token 7 is in it; tokens' embeddings averaged, then a Linear
    Kiln.manualSeed(1);
    Embedding words = new Embedding(10, 8);
    Linear head = new Linear(8, 2);
    List<Tensor> params = new ArrayList<>(words.parameters());
    params.addAll(head.parameters());
    Adam opt = new Adam(params, 0.05);
    int[] tokens = new int[64 * 4];
    int[] labels = new int[64];
    Random rnd = new Random(3);
    for (int i = 0; i < 64; i++) {
      for (int t = 0; t < 4; t++) {
        tokens[i * 4 + t] = rnd.nextInt(10);
        labels[i] |= tokens[i * 4 + t] == 7 ? 1 : 0;
      }
    }
    Tensor x = Tensor.labels(tokens).reshape(64, 4), y = Tensor.labels(labels);
    CrossEntropyLoss ce = new CrossEntropyLoss();
    float first = 0, last = 0;
    for (int step = 0; step < 100; step++) {
      opt.zeroGrad();
      Tensor loss = ce.apply(head.forward(words.forward(x).mean(1)), y);
      loss.backward();
      opt.step();
      first = step == 0 ? loss.item() : first;
      last = loss.item();
    }
    assertTrue(last < 0.3f * first, "loss " + first + " -> " + last);
  }
}
