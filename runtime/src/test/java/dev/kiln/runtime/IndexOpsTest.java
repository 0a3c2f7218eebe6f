package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * pad, flip, repeat, cumsum, logsumexp, norm, normalize, cosine similarity, one-hot, sort, argsort and argmin against PyTorch 1.13's
 * values and gradients on random inputs (index_ops/reference.txt, from make_reference.py), their
 * edges (infinities, NaN, ties, empty results) and their errors.
 */
class IndexOpsTest {
  static final TorchReference TORCH = new TorchReference("/index_ops/reference.txt");

  /** make_reference.py's cases of this class, by name. */
  private static final Map<String, Function<Tensor[], Tensor>> OPS = Map.ofEntries(
      Map.entry("pad_last", in -> Ops.pad(in[0], new int[] {1, 2}, 0f)),
      Map.entry("pad_two_dims_crop", in -> Ops.pad(in[0], new int[] {1, 0, -1, 2}, 1.5f)),
      Map.entry("pad_three_dims", in -> Ops.pad(in[0], new int[] {0, -2, 1, 1, 2, 0}, -0.5f)),
      Map.entry("pad_crop_to_empty", in -> Ops.pad(in[0], new int[] {-2, -2}, 0f)),
      Map.entry("flip_first_last", in -> in[0].flip(0, 2)),
      Map.entry("flip_negative", in -> in[0].flip(-1)),
      Map.entry("repeat_new_dim", in -> in[0].repeat(2, 1, 2)),
      Map.entry("repeat_vector", in -> in[0].repeat(2, 3)),
      Map.entry("repeat_zero", in -> in[0].repeat(1, 0)),
      Map.entry("cumsum_middle", in -> in[0].cumsum(1)),
      Map.entry("cumsum_last", in -> in[0].cumsum(-1)),
      Map.entry("cumsum_long", in -> in[0].cumsum(0)),
      Map.entry("logsumexp_middle", in -> in[0].logsumexp(1)),
      Map.entry("logsumexp_large_keepdim", in -> in[0].logsumexp(-1, true)),
      Map.entry("norm_2", in -> in[0].norm(2, 1)),
      Map.entry("norm_1", in -> in[0].norm(1, 0)),
      Map.entry("norm_3_keepdim", in -> in[0].norm(3, -1, true)),
      Map.entry("normalize", in -> Ops.normalize(in[0], 2, 1, 1e-12f)),
      Map.entry("normalize_p1_dim0", in -> Ops.normalize(in[0], 1, 0, 1e-3f)),
      Map.entry("normalize_tiny_eps", in -> Ops.normalize(in[0], 2, -1, 0.5f)),
      Map.entry("cosine_similarity", in -> Ops.cosineSimilarity(in[0], in[1], 1, 1e-8f)),
      Map.entry("cosine_similarity_broadcast", in -> Ops.cosineSimilarity(in[0], in[1], -1, 1e-8f)),
      Map.entry("cosine_similarity_tiny_norms", in -> Ops.cosineSimilarity(in[0], in[1], 0, 1e-2f)));

  @Test
  void valuesAndGradientsAsPyTorchs() {
    for (Map.Entry<String, Function<Tensor[], Tensor>> e : OPS.entrySet()) {
      TORCH.check(e.getKey(), 1e-6, 2e-6, e.getValue());
    }
  }

  @Test
  void sortAsPyTorchs() {
    TORCH.checkIndexed("sort_ascending", 0, 0, in -> in[0].sort(1));
    TORCH.checkIndexed("sort_descending_dim0", 0, 0, in -> in[0].sort(0, true));
    Tensor x = TORCH.tensor("sort_ascending", "x");
    assertArrayEquals(TORCH.tensor("sort_ascending", "idx").toFloatArray(), x.argsort(1).toFloatArray());
    assertArrayEquals(TORCH.tensor("sort_descending_dim0", "idx").toFloatArray(),
        TORCH.tensor("sort_descending_dim0", "x").argsort(0, true).toFloatArray());
  }

  @Test
  void sortPutsNanAboveEveryNumberAndKeepsTiesInOrder() {
    Tensor x = Tensor.of(new float[] {1, 3, 1, 2, 1, Float.NaN, 2});
    ValuesAndIndices up = x.sort(0);
    assertArrayEquals(new float[] {1, 1, 1, 2, 2, 3, Float.NaN}, up.values().toFloatArray());
    assertArrayEquals(new int[] {0, 2, 4, 3, 6, 1, 5}, up.indices().toIntArray()); // PyTorch's, for these 7
    ValuesAndIndices down = x.sort(0, true);
    assertArrayEquals(new float[] {Float.NaN, 3, 2, 2, 1, 1, 1}, down.values().toFloatArray());
    assertArrayEquals(new int[] {5, 1, 3, 6, 0, 2, 4}, down.indices().toIntArray());
    assertArrayEquals(new int[] {0}, Tensor.scalar(4f).sort(0).indices().reshape(1).toIntArray());
  }

  @Test
  void argminTakesTheFirstMinimumOrNan() {
    Tensor x = Tensor.of(new float[] {3, 1, 2, 1, 5, 4, Float.NaN, 0}, 2, 4);
    assertArrayEquals(new int[] {1, 2}, x.argmin(1).toIntArray());
    assertEquals(DType.INT32, x.argmin(1).dtype());
    assertArrayEquals(new int[] {2, 1}, x.argmin(-1, true).shape());
    assertArrayEquals(new int[] {2, 1}, x.argmax(-1, true).shape());
    assertArrayEquals(new int[] {0, 2}, x.argmax(1, true).toIntArray());
    assertArrayEquals(new int[] {0, 0, 1, 1}, x.argmin(0).toIntArray());
    Tensor y = Tensor.of(new float[] {1, 2}).requiresGrad(true);
    assertEquals(false, y.argmin(0).requiresGrad());
  }

  @Test
  void logsumexpIsStableAtInfinitiesAndNan() {
    float inf = Float.POSITIVE_INFINITY;
    Tensor x = Tensor.of(new float[] {-inf, -inf, 1000, 1000, inf, 1, 1, Float.NaN}, 4, 2);
    float[] y = x.logsumexp(1).toFloatArray();
    assertEquals(-inf, y[0]);
    assertEquals(1000 + (float) Math.log(2), y[1], 1e-4);
    assertEquals(inf, y[2]);
    assertEquals(Float.NaN, y[3]);
    assertArrayEquals(new int[] {}, Tensor.scalar(2f).logsumexp(0).shape());
    assertEquals(2f, Tensor.scalar(2f).logsumexp(-1).item());
  }

  @Test
  void normOfAZeroVectorHasAZeroGradient() {
    Tensor x = Tensor.zeros(2, 3).requiresGrad(true);
    x.norm(2, 1).sum().backward();
    assertArrayEquals(new float[6], x.grad().toFloatArray());
    Tensor v = Tensor.of(new float[] {3, 4});
    assertEquals(5f, v.norm().item());
  }

  @Test
  void gradientsMatchFiniteDifferences() {
    Kiln.manualSeed(7);
    GradCheck.check("pad", in -> Ops.pad(in[0], new int[] {2, -1, 0, 1}, 3f), 1e-2, 1e-3, 1e-3, Tensor.randn(2, 3, 4).requiresGrad(true));
    GradCheck.check("flip", in -> in[0].flip(1, -1), 1e-2, 1e-3, 1e-3, Tensor.randn(2, 3, 4).requiresGrad(true));
    GradCheck.check("repeat", in -> in[0].repeat(3, 1, 2), 1e-2, 1e-3, 1e-3, Tensor.randn(2, 3).requiresGrad(true));
    GradCheck.check("cumsum", in -> in[0].cumsum(1), 1e-2, 1e-3, 1e-3, Tensor.randn(2, 5, 3).requiresGrad(true));
    GradCheck.check("logsumexp", in -> in[0].logsumexp(0, true), 1e-2, 1e-3, 1e-3, Tensor.randn(4, 3).requiresGrad(true));
    GradCheck.check("norm", in -> in[0].norm(1.5f, 1), 1e-2, 1e-3, 1e-2, Tensor.randn(3, 4).requiresGrad(true));
    GradCheck.check("sort", in -> in[0].sort(0, true).values(), 1e-2, 1e-3, 1e-3, Tensor.randn(5, 2).requiresGrad(true));
    GradCheck.check("normalize", in -> Ops.normalize(in[0], 2, 0, 1e-12f), 1e-2, 1e-3, 1e-2, Tensor.randn(4, 3).requiresGrad(true));
    GradCheck.check("cosine_similarity", in -> Ops.cosineSimilarity(in[0], in[1], 1, 1e-8f), 1e-2, 1e-3, 1e-2,
        Tensor.randn(3, 4).requiresGrad(true), Tensor.randn(1, 4).requiresGrad(true));
  }

  @Test
  void cosineSimilarityClampsEachNormAsPyTorch113() {
    Tensor a = Tensor.of(new float[] {1e-5f, 0}, 1, 2);
    assertEquals(1f, Ops.cosineSimilarity(a, a, 1, 1e-8f).item(), 1e-6); // the product of the norms is below eps^2
    Tensor zero = Tensor.zeros(1, 2).requiresGrad(true);
    Tensor b = Tensor.of(new float[] {1, 2}, 1, 2).requiresGrad(true);
    assertEquals(0f, Ops.cosineSimilarity(zero, b, 1, 1e-8f).item());
  }

  @Test
  void oneHotAsPyTorchs() {
    Tensor labels = Tensor.labels(0, 2, 1, 2).reshape(2, 2);
    Tensor h = Ops.oneHot(labels, 3);
    assertArrayEquals(new int[] {2, 2, 3}, h.shape());
    assertEquals(DType.FLOAT32, h.dtype());
    assertArrayEquals(new float[] {1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1}, h.toFloatArray());
    assertArrayEquals(new int[] {4, 3}, Ops.oneHot(Tensor.labels(0, 2, 1, 2), -1).shape());
    assertArrayEquals(new int[] {0, 5}, Ops.oneHot(Tensor.labels(), 5).shape());
    assertMessage("one_hot: class value 3 at flat index 1 of labels [2] must be smaller than num_classes 3",
        () -> Ops.oneHot(Tensor.labels(0, 3), 3));
    assertMessage("one_hot: class value -1 at flat index 1 of labels [2] is negative: class values must be non-negative",
        () -> Ops.oneHot(Tensor.labels(0, -1), 3));
    assertMessage("one_hot: can not infer the total number of classes from empty labels of shape [0]; give num_classes",
        () -> Ops.oneHot(Tensor.labels(), -1));
    assertMessage("one_hot: num_classes must be -1 (from the labels) or at least 0, got -2", () -> Ops.oneHot(Tensor.labels(1), -2));
    assertMessage("one_hot: the input must be a label tensor (Tensor.labels(...)), got a float tensor of shape [2]",
        () -> Ops.oneHot(Tensor.zeros(2), 3));
  }

  @Test
  void badArgumentsNameTheArgumentAndTheShape() {
    Tensor x = Tensor.zeros(2, 3);
    assertMessage("pad: padding length must be divisible by 2, got [1] for shape [2, 3]", () -> Ops.pad(x, new int[] {1}, 0));
    assertMessage("pad: padding length too large: [1, 1, 1, 1, 1, 1] pads 3 dimensions, the tensor of shape [2, 3] has 2",
        () -> Ops.pad(x, new int[] {1, 1, 1, 1, 1, 1}, 0));
    assertMessage("pad: the input size 3, plus padding -2 and -2 gives an output size of -1 at dimension 1 of shape [2, 3]"
        + " (negative padding crops, at most the whole size)", () -> Ops.pad(x, new int[] {-2, -2}, 0));
    assertMessage("flip of shape [2, 3] along [0, 0]: dimension 0 appears multiple times in the list of dims", () -> x.flip(0, 0));
    assertMessage("flip of shape [2, 3] along [2]: dimension 2 is out of range for a tensor of rank 2 (expected -2..1)", () -> x.flip(2));
    assertMessage("repeat: number of dimensions of repeat dims [2] can not be smaller than number of dimensions of tensor [2, 3]",
        () -> x.repeat(2));
    assertMessage("repeat: repeats [2, -3] of shape [2, 3]: repeat -3 at dimension 1 is negative", () -> x.repeat(2, -3));
    assertMessage("cumsum of shape [2, 3]: dimension 2 is out of range for a tensor of rank 2 (expected -2..1)", () -> x.cumsum(2));
    assertMessage("logsumexp of shape [2, 3]: dimension -3 is out of range for a tensor of rank 2 (expected -2..1)",
        () -> x.logsumexp(-3));
    assertMessage("norm: p must be a finite number above 0, got 0.0 (shape [2, 3])", () -> x.norm(0, 1));
    assertMessage("sort of shape [2, 3]: dimension 2 is out of range for a tensor of rank 2 (expected -2..1)", () -> x.sort(2));
    assertMessage("pad: the value NaN pads ids (int32, PyTorch's int64), which hold whole numbers of at most 2^24 in magnitude;"
        + " got shape [2]", () -> Ops.pad(Tensor.labels(1, 2), new int[] {1, 1}, Float.NaN)); // (ids pad with an id: IdMovesTest)
    assertMessage("cosine_similarity of [2, 3] and [2, 3]: dimension 2 is out of range for a tensor of rank 2 (expected -2..1)",
        () -> Ops.cosineSimilarity(x, x, 2, 1e-8f));
    assertMessage("normalize: eps must be a finite number of 0 or more, got -1.0 (shape [2, 3])", () -> Ops.normalize(x, 2, 1, -1));
  }

  static void assertMessage(String expected, Executable call) {
    assertEquals(expected, assertThrows(IllegalArgumentException.class, call).getMessage());
  }
}
