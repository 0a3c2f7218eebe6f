package dev.kiln.dsl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.optim.SGD;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * EmbeddingBag against PyTorch 1.13's values and gradients (written from {@code F.embedding_bag} on
 * the same weight {@code arange(15).reshape(5, 3)}), its refusals, and a text classifier that learns.
 */
class EmbeddingBagTest {
  private static final Tensor TOKENS = Tensor.labels(0, 2, 2, 4, 1, 0, 3);
  private static final Tensor OFFSETS = Tensor.labels(0, 2, 2, 5); // bags [0, 2), [2, 2) empty, [2, 5), [5, 7)

  /** A bag layer over rows 0..14 in order, its gradient from {@code sum(y * arange)}. */
  private static EmbeddingBag bags(EmbeddingBag.Mode mode, int paddingIdx) {
    EmbeddingBag e = new EmbeddingBag(5, 3, mode);
    if (paddingIdx >= 0) {
      e.paddingIdx(paddingIdx);
    }
    float[] w = e.weight().buffer();
    for (int i = 0; i < 15; i++) {
      w[e.weight().offset() + i] = i;
    }
    return e;
  }

  private static float[] range(int n) {
    float[] r = new float[n];
    for (int i = 0; i < n; i++) {
      r[i] = i;
    }
    return r;
  }

  private static void check(EmbeddingBag.Mode mode, float[] values, float[] gradient) {
    EmbeddingBag e = bags(mode, 1);
    Tensor y = e.forward(TOKENS, OFFSETS);
    assertArrayEquals(new int[] {4, 3}, y.shape());
    assertArrayEquals(values, y.toFloatArray(), mode.toString());
    y.mul(Tensor.of(range(12), 4, 3)).sum().backward();
    assertArrayEquals(gradient, e.weight().grad().toFloatArray(), mode + " gradient");
  }

  @Test
  void sumMeanAndMaxAsPyTorchsWithAPaddingRowAndAnEmptyBag() {
    check(EmbeddingBag.Mode.SUM, new float[] {6, 8, 10, 0, 0, 0, 18, 20, 22, 9, 11, 13},
        new float[] {9, 11, 13, 0, 0, 0, 6, 8, 10, 9, 10, 11, 6, 7, 8});
    check(EmbeddingBag.Mode.MEAN, new float[] {3, 4, 5, 0, 0, 0, 9, 10, 11, 4.5f, 5.5f, 6.5f},
        new float[] {4.5f, 5.5f, 6.5f, 0, 0, 0, 3, 4, 5, 4.5f, 5, 5.5f, 3, 3.5f, 4});
    check(EmbeddingBag.Mode.MAX, new float[] {6, 7, 8, 0, 0, 0, 12, 13, 14, 9, 10, 11},
        new float[] {0, 0, 0, 0, 0, 0, 0, 1, 2, 9, 10, 11, 6, 7, 8});
  }

  @Test
  void rowsOfATwoDimensionalInputAreBagsAndTheLastOffsetCanEndTheLastBag() {
    EmbeddingBag e = bags(EmbeddingBag.Mode.MAX, -1);
    assertArrayEquals(new float[] {6, 7, 8, 12, 13, 14}, e.forward(Tensor.labels(0, 2, 2, 4, 1, 0).reshape(2, 3)).toFloatArray());
    EmbeddingBag last = bags(EmbeddingBag.Mode.SUM, -1).includeLastOffset(true);
    // the 7th token (3) comes after the last offset, 6: in no bag
    assertArrayEquals(new float[] {6, 8, 10, 0, 0, 0, 21, 24, 27, 0, 1, 2},
        last.forward(TOKENS, Tensor.labels(0, 2, 2, 5, 6)).toFloatArray());
    assertArrayEquals(new int[] {4, 3}, e.outputShape(new int[] {4, 9}));
  }

  @Test
  void perSampleWeightsScaleTheSumAndGetTheirGradient() {
    EmbeddingBag e = bags(EmbeddingBag.Mode.SUM, 1);
    Tensor psw = Tensor.of(range(7), 7).requiresGrad(true);
    Tensor y = e.forward(TOKENS, Tensor.labels(0, 3), psw);
    assertArrayEquals(new float[] {18, 21, 24, 90, 104, 118}, y.toFloatArray());
    y.mul(Tensor.of(range(6), 2, 3)).sum().backward();
    assertArrayEquals(new float[] {5, 23, 23, 158, 0, 14, 122}, psw.grad().toFloatArray(), "the padding entry gets 0");
    assertArrayEquals(new float[] {15, 20, 25, 0, 0, 0, 0, 3, 6, 18, 24, 30, 9, 12, 15}, e.weight().grad().toFloatArray());
  }

  @Test
  void printsAndLoadsAsPyTorchsModule() {
    assertEquals("EmbeddingBag(10, 3, mode=mean)", new EmbeddingBag(10, 3).toString());
    EmbeddingBag padded = new EmbeddingBag(10, 3, EmbeddingBag.Mode.SUM).paddingIdx(-8).includeLastOffset(true);
    assertEquals("EmbeddingBag(10, 3, mode=sum, padding_idx=2)", padded.toString());
    assertArrayEquals(new float[] {0, 0, 0}, padded.weight().select(0, 2).toFloatArray(), "the padding row starts at zero");
    assertEquals(List.of("weight"), List.copyOf(padded.stateDict().keySet()));
    assertEquals(List.of("max", "mean", "sum"), List.of("max", "mean", "sum").stream()
        .map(m -> EmbeddingBag.Mode.valueOf(m.toUpperCase()).toString()).toList());
  }

  @Test
  void badInputsAreRefusedByName() {
    EmbeddingBag e = new EmbeddingBag(5, 3);
    assertEquals("embedding_bag: 1-D indices [7] need offsets, where each bag starts (Tensor.labels(0, ...))",
        assertThrows(IllegalArgumentException.class, () -> e.forward(TOKENS)).getMessage());
    assertEquals("embedding_bag: 2-D indices [1, 7] are bags of equal length, one per row; offsets are for 1-D indices (pass null)",
        assertThrows(IllegalArgumentException.class, () -> e.forward(TOKENS.reshape(1, 7), Tensor.labels(0))).getMessage());
    assertEquals("embedding_bag: offsets[0] must be 0 (the first bag starts at the first index), got 1",
        assertThrows(IllegalArgumentException.class, () -> e.forward(TOKENS, Tensor.labels(1, 3))).getMessage());
    assertEquals("embedding_bag: offsets[2] = 2 is below offsets[1] = 3 (offsets may not decrease)",
        assertThrows(IllegalArgumentException.class, () -> e.forward(TOKENS, Tensor.labels(0, 3, 2))).getMessage());
    assertEquals("embedding_bag: offsets[2] = 9 is past the end of the 7 indices",
        assertThrows(IllegalArgumentException.class, () -> e.forward(TOKENS, Tensor.labels(0, 3, 9))).getMessage());
    assertEquals("embedding_bag: index 7 at flat position 1 of [2] is out of range for 5 embeddings (0..4)",
        assertThrows(IllegalArgumentException.class, () -> e.forward(Tensor.labels(0, 7), Tensor.labels(0))).getMessage());
    assertEquals("embedding_bag: per-sample weights need mode \"sum\" (as PyTorch's), got \"mean\"",
        assertThrows(IllegalArgumentException.class, () -> e.forward(TOKENS, Tensor.labels(0), Tensor.ones(7))).getMessage());
    assertEquals("embedding_bag: the offsets must be a label tensor (Tensor.labels(...)), got a float tensor of shape [1]",
        assertThrows(IllegalArgumentException.class, () -> e.forward(TOKENS, Tensor.zeros(1))).getMessage());
    assertEquals("embedding_bag: offsets must be 1-D with at least two entries (with includeLastOffset the last only ends the"
            + " last bag), got [1]",
        assertThrows(IllegalArgumentException.class,
            () -> new EmbeddingBag(5, 3).includeLastOffset(true).forward(TOKENS, Tensor.labels(0))).getMessage());
    EmbeddingBag sum = new EmbeddingBag(5, 3, EmbeddingBag.Mode.SUM);
    assertEquals("embedding_bag: per-sample weights [2, 7] must have the indices' shape [7]",
        assertThrows(IllegalArgumentException.class, () -> sum.forward(TOKENS, Tensor.labels(0), Tensor.ones(2, 7))).getMessage());
    assertEquals("EmbeddingBag(5, 3, mode=mean) takes bags as rows [B, N] (or 1-D indices with their offsets: forward(input,"
        + " offsets)), got [7]", assertThrows(ShapeException.class, () -> e.outputShape(new int[] {7})).getMessage());
    assertEquals("EmbeddingBag(5, 3, mode=mean): padding_idx 5 is not a row (0..4, or -5..-1 from the end)",
        assertThrows(IllegalArgumentException.class, () -> e.paddingIdx(5)).getMessage());
    e.forward(TOKENS, OFFSETS);
    assertEquals("EmbeddingBag(5, 3, mode=mean): set include_last_offset before the first forward",
        assertThrows(IllegalStateException.class, () -> e.includeLastOffset(true)).getMessage());
    assertEquals("embedding_bag: mode must be \"sum\", \"mean\" or \"max\", got \"avg\"",
        assertThrows(IllegalArgumentException.class,
            () -> dev.kiln.runtime.Ops.embeddingBag(TOKENS, OFFSETS, e.weight(), null, "avg", false, -1)).getMessage());
  }

  @Test
  void noGradientIsRecordedForAFrozenTable() {
    EmbeddingBag e = bags(EmbeddingBag.Mode.MEAN, -1);
    e.requiresGrad(false);
    Tensor y = e.forward(TOKENS, OFFSETS);
    assertTrue(!y.requiresGrad());
    assertNull(e.weight().grad());
  }

  @Test
  void aTextClassifierOverBagsOfDifferentLengthsLearns() {
    // as the text-classification tutorial: texts of 2..9 tokens back to back, offsets, EmbeddingBag + Linear;
    // the class: whether token 7 occurs
    Kiln.manualSeed(4);
    EmbeddingBag words = new EmbeddingBag(20, 8);
    Linear head = new Linear(8, 2);
    List<Tensor> params = new ArrayList<>(words.parameters());
    params.addAll(head.parameters());
    SGD opt = new SGD(params, 0.5);
    Random rnd = new Random(3);
    List<Integer> tokens = new ArrayList<>();
    int[] starts = new int[64];
    int[] labels = new int[64];
    for (int i = 0; i < 64; i++) {
      starts[i] = tokens.size();
      int length = 2 + rnd.nextInt(8);
      for (int t = 0; t < length; t++) {
        int token = rnd.nextInt(20);
        tokens.add(token);
        labels[i] |= token == 7 ? 1 : 0;
      }
    }
    Tensor text = Tensor.labels(tokens.stream().mapToInt(Integer::intValue).toArray());
    Tensor offsets = Tensor.labels(starts), y = Tensor.labels(labels);
    CrossEntropyLoss ce = new CrossEntropyLoss();
    float first = 0, last = 0;
    for (int step = 0; step < 200; step++) {
      opt.zeroGrad();
      Tensor loss = ce.apply(head.forward(words.forward(text, offsets)), y);
      loss.backward();
      opt.step();
      first = step == 0 ? loss.item() : first;
      last = loss.item();
    }
    assertTrue(last < 0.2 * first, "loss " + first + " -> " + last);
  }
}
