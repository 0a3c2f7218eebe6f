package dev.kiln.dsl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.Tensor;
import org.junit.jupiter.api.Test;

/** The losses against the values the tutorials quote, and their reductions, gradients and errors. */
class LossTest {
  private static final Tensor INPUTS = Tensor.of(new float[] {1, 2, 3});
  private static final Tensor TARGETS = Tensor.of(new float[] {1, 2, 5});

  @Test
  void l1LossReferenceValues() {
    assertEquals(2.0f, new L1Loss(Reduction.SUM).apply(INPUTS, TARGETS).item(), 1e-6f);
    assertEquals(2.0f / 3, new L1Loss().apply(INPUTS, TARGETS).item(), 1e-6f);
    assertEquals(0.6667f, new L1Loss(Reduction.MEAN).apply(INPUTS, TARGETS).item(), 1e-4f);
    assertArrayEquals(new float[] {0, 0, 2}, new L1Loss(Reduction.NONE).apply(INPUTS, TARGETS).toFloatArray());
  }

  @Test
  void mseLossReferenceValues() {
    assertEquals(4.0f / 3, new MSELoss().apply(INPUTS, TARGETS).item(), 1e-6f);
    assertEquals(1.3333f, new MSELoss().apply(INPUTS, TARGETS).item(), 1e-4f);
    assertEquals(4.0f, new MSELoss(Reduction.SUM).apply(INPUTS, TARGETS).item(), 1e-6f);
    assertArrayEquals(new float[] {0, 0, 4}, new MSELoss(Reduction.NONE).apply(INPUTS, TARGETS).toFloatArray());
  }

  @Test
  void crossEntropyReferenceValue() {
    double expected = -0.2 + Math.log(Math.exp(0.1) + Math.exp(0.2) + Math.exp(0.3)); // 1.10194...
    Tensor loss = new CrossEntropyLoss().apply(Tensor.of(new float[] {0.1f, 0.2f, 0.3f}, 1, 3), Tensor.labels(1));
    assertEquals(expected, loss.item(), 1e-6);
    assertEquals(1.1019, loss.item(), 1e-4);
  }

  @Test
  void reductionsKeepTheShapeOfElementWiseLosses() {
    Tensor p = Tensor.randn(2, 3, 4);
    Tensor t = Tensor.randn(2, 3, 4);
    assertArrayEquals(new int[] {2, 3, 4}, new MSELoss(Reduction.NONE).apply(p, t).shape());
    assertEquals(0, new MSELoss().apply(p, t).dim());
    assertEquals(0, new L1Loss(Reduction.SUM).apply(p, t).dim());
  }

  @Test
  void mseGradientIsTwiceTheErrorOverTheCount() {
    Tensor p = Tensor.of(new float[] {1, 2, 3}).requiresGrad(true);
    new MSELoss().apply(p, TARGETS).backward();
    assertArrayEquals(new float[] {0, 0, 2f * (3 - 5) / 3}, p.grad().toFloatArray(), 1e-6f);
    Tensor q = Tensor.of(new float[] {1.5f, 2, 3}).requiresGrad(true);
    new L1Loss(Reduction.SUM).apply(q, TARGETS).backward();
    assertArrayEquals(new float[] {1, 0, -1}, q.grad().toFloatArray(), "sign of the error, 0 at a tie");
  }

  @Test
  void mismatchedShapesAreRejectedNamingBoth() {
    var e = assertThrows(IllegalArgumentException.class, () -> new L1Loss().apply(Tensor.zeros(4, 1), Tensor.zeros(4)));
    assertEquals("l1_loss: input [4, 1] and target [4] must have the same shape", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> new MSELoss(Reduction.NONE).apply(Tensor.zeros(2, 3), Tensor.zeros(3, 2)));
    assertTrue(e.getMessage().contains("[2, 3]") && e.getMessage().contains("[3, 2]"), e.getMessage());
  }

  @Test
  void reprsAndReduction() {
    assertEquals("L1Loss()", new L1Loss().toString());
    assertEquals("MSELoss()", new MSELoss(Reduction.SUM).toString());
    assertEquals(Reduction.MEAN, new MSELoss().reduction());
    assertThrows(IllegalArgumentException.class, () -> new L1Loss(null));
  }

  /** The functional forms (F.mse_loss, F.l1_loss, F.cross_entropy with reduction=) give the classes' values. */
  @Test
  void functionalFormsMatchTheClasses() {
    assertEquals(4.0f / 3, F.mseLoss(INPUTS, TARGETS).item(), 1e-6f);
    assertEquals(4.0f, F.mseLoss(INPUTS, TARGETS, Reduction.SUM).item(), 1e-6f);
    assertArrayEquals(new float[] {0, 0, 4}, F.mseLoss(INPUTS, TARGETS, Reduction.NONE).toFloatArray());
    assertEquals(2.0f / 3, F.l1Loss(INPUTS, TARGETS).item(), 1e-6f);
    assertEquals(2.0f, F.l1Loss(INPUTS, TARGETS, Reduction.SUM).item(), 1e-6f);
    Tensor logits = Tensor.of(new float[] {0.1f, 0.2f, 0.3f, 1f, 0f, -1f}, 2, 3);
    Tensor labels = Tensor.labels(1, 0);
    float mean = new CrossEntropyLoss().apply(logits, labels).item();
    assertEquals(mean, F.crossEntropy(logits, labels).item());
    assertEquals(2 * mean, F.crossEntropy(logits, labels, Reduction.SUM).item(), 1e-6f);
    assertArrayEquals(new CrossEntropyLoss(Reduction.NONE).apply(logits, labels).toFloatArray(),
        F.crossEntropy(logits, labels, Reduction.NONE).toFloatArray());
  }

  /** Swapped arguments and an out-of-range label are named in the user's terms. */
  @Test
  void crossEntropyMistakesAreNamed() {
    Tensor logits = Tensor.randn(2, 3);
    var swapped = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
        () -> new CrossEntropyLoss().apply(Tensor.labels(0, 2), logits));
    org.junit.jupiter.api.Assertions.assertTrue(swapped.getMessage().contains("are the input and the target swapped?"),
        swapped.getMessage());
    var range = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
        () -> new CrossEntropyLoss().apply(logits, Tensor.labels(0, 3)));
    org.junit.jupiter.api.Assertions.assertTrue(range.getMessage().contains("target 3 in row 1 is not a class index in 0..2"),
        range.getMessage());
  }

  /**
   * Label smoothing and class-probability targets against PyTorch 1.13's nn.CrossEntropyLoss
   * (values and input gradients printed by torch for these inputs).
   */
  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.CsvSource(delimiter = '|', value = {
    "indices | 0.1 | MEAN | 0.759473 | -0.0575048, 0.0154625, 0.0420424, 0.0202155, -0.0223847, 0.0021692, 0.1081256, 0.082365, -0.1904905, 0.013464, 0.0588073, -0.0722713",
    "indices | 0.2 | SUM | 3.3503921 | -0.1633527, 0.0285165, 0.1348361, 0.0475285, -0.022872, -0.0246566, 0.3991689, 0.2961265, -0.6952953, 0.0205228, 0.2018959, -0.2224187",
    "probabilities | 0 | MEAN | 0.9625979 | 0.0508285, -0.0387042, -0.0121243, 0.0285488, -0.0390513, 0.0105025, 0.0852089, -0.0030517, -0.0821572, -0.0407026, 0.0046406, 0.036062",
    "probabilities | 0.3 | NONE | 1.245702, 0.6698461, 1.3045474, 1.2302965 | 0.253314, -0.1798168, -0.0734972, 0.0141952, 0.0437947, -0.0579899, 0.2783356, 0.0002931, -0.2786286, -0.1878105, -0.0064375, 0.194248",
  })
  void smoothingAndSoftTargetsMatchPyTorch(String target, double smoothing, Reduction reduction, String loss, String grad) {
    Tensor x = Tensor.of(new float[] {1.5f, -0.5f, 0.25f, 0, 2, -1, 0.75f, 0.5f, -0.25f, -1, 0.125f, 1}, 4, 3).requiresGrad(true);
    Tensor t = target.equals("indices") ? Tensor.labels(0, 1, 2, 2)
        : Tensor.of(new float[] {0.5f, 0.25f, 0.25f, 0, 1, 0, 0.125f, 0.375f, 0.5f, 0.25f, 0.25f, 0.5f}, 4, 3);
    Tensor l = new CrossEntropyLoss(reduction).labelSmoothing(smoothing).apply(x, t);
    l.sum().backward();
    assertClose(floats(loss), l.toFloatArray(), 2e-6f);
    assertClose(floats(grad), x.grad().toFloatArray(), 2e-6f);
  }

  private static float[] floats(String csv) {
    String[] parts = csv.split(",");
    float[] out = new float[parts.length];
    for (int i = 0; i < parts.length; i++) {
      out[i] = Float.parseFloat(parts[i].strip());
    }
    return out;
  }

  /**
   * One sample, as PyTorch 1.13 takes it: logits [C] with a class index [] or probabilities [C]
   * give the batch of one's loss (reduction none: a 0-d tensor) and gradient.
   * torch: F.cross_entropy(torch.tensor([1., 2., 0.5]), torch.tensor(1)) = 0.4644.
   */
  @Test
  void oneSampleWithoutABatchDimension() {
    for (Reduction r : Reduction.values()) {
      for (boolean soft : new boolean[] {false, true}) {
        Tensor target = soft ? Tensor.of(new float[] {0.2f, 0.7f, 0.1f}, 3)
            : Tensor.wrap(new float[] {1}, dev.kiln.runtime.DType.INT32);
        Tensor batchTarget = soft ? Tensor.of(target.toFloatArray(), 1, 3) : Tensor.labels(1);
        Tensor one = Tensor.of(new float[] {1, 2, 0.5f}, 3).requiresGrad(true);
        Tensor batch = Tensor.of(new float[] {1, 2, 0.5f}, 1, 3).requiresGrad(true);
        CrossEntropyLoss ce = new CrossEntropyLoss(r).labelSmoothing(0.1);
        Tensor loss = ce.apply(one, target);
        Tensor batchLoss = ce.apply(batch, batchTarget);
        assertEquals(0, loss.dim(), r + " gives a 0-d loss");
        assertEquals(batchLoss.toFloatArray()[0], loss.item(), 1e-6);
        loss.backward();
        batchLoss.sum().backward();
        assertArrayEquals(batch.grad().toFloatArray(), one.grad().toFloatArray(), 1e-6f);
      }
    }
    assertEquals(0.4644f, new CrossEntropyLoss().apply(Tensor.of(new float[] {1, 2, 0.5f}, 3),
        Tensor.wrap(new float[] {1}, dev.kiln.runtime.DType.INT32)).item(), 1e-4);
  }

  private static void assertClose(float[] expected, float[] actual, float tolerance) {
    org.junit.jupiter.api.Assertions.assertEquals(expected.length, actual.length);
    for (int i = 0; i < expected.length; i++) {
      org.junit.jupiter.api.Assertions.assertEquals(expected[i], actual[i], tolerance, "at " + i);
    }
  }

  @Test
  void badSmoothingAndSoftTargetShapesAreNamed() {
    var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
        () -> new CrossEntropyLoss().labelSmoothing(1.5));
    org.junit.jupiter.api.Assertions.assertEquals("CrossEntropyLoss: label smoothing must be in [0, 1], got 1.5", e.getMessage());
    var shape = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
        () -> new CrossEntropyLoss().apply(Tensor.zeros(2, 3), Tensor.zeros(2, 4)));
    org.junit.jupiter.api.Assertions.assertTrue(shape.getMessage().startsWith("cross_entropy: class-probability targets must have"),
        shape.getMessage());
    org.junit.jupiter.api.Assertions.assertEquals("CrossEntropyLoss(label_smoothing=0.1)",
        new CrossEntropyLoss().labelSmoothing(0.1).toString());
  }
}
