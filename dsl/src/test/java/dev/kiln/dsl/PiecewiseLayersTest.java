package dev.kiln.dsl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * The layers Softplus, ELU and Hardtanh, the losses SmoothL1Loss and HuberLoss, and F's pad,
 * normalize, cosineSimilarity, oneHot and activations: PyTorch 1.13's defaults, values (written
 * from it) and reprs; the ops themselves are checked against PyTorch in runtime's IndexOpsTest and
 * PiecewiseOpsTest.
 */
class PiecewiseLayersTest {
  private static final Tensor X = Tensor.of(new float[] {0.5f, -1.5f, 2, 3, 0.25f, -0.75f}, 2, 3);
  private static final Tensor Y = Tensor.of(new float[] {1, -1, 0.5f, -2, 0.5f, 1.5f}, 2, 3);

  @Test
  void layersPrintAsPyTorchAndKeepTheShape() {
    Sequential seq = Sequential.of(new Linear(3, 4), new ELU(), new Softplus(), new Hardtanh(-2.5, 3.0));
    assertEquals("Sequential(\n"
        + "  (0): Linear(in_features=3, out_features=4, bias=True)\n"
        + "  (1): ELU(alpha=1.0)\n"
        + "  (2): Softplus(beta=1, threshold=20)\n"
        + "  (3): Hardtanh(min_val=-2.5, max_val=3.0)\n"
        + ")", seq.toString());
    assertEquals("Softplus(beta=0.5, threshold=10)", new Softplus(0.5, 10).toString());
    assertEquals("ELU(alpha=0.3)", new ELU(0.3).toString());
    assertEquals("Hardtanh(min_val=-1.0, max_val=1.0)", new Hardtanh().toString());
    assertArrayEquals(new int[] {-1, 4}, seq.outputShape(new int[] {-1, 3}));
    assertArrayEquals(new int[] {-1, 2, 5}, new Softplus().outputShape(new int[] {-1, 2, 5}));
  }

  @Test
  void layersAndFunctionsGivePyTorchsValues() {
    float[] softplus = {0.9740769863128662f, 0.20141328871250153f, 2.1269280910491943f, 3.0485873222351074f, 0.825939416885376f,
        0.38687101006507874f};
    float[] elu = {0.5f, -0.7768698334693909f, 2, 3, 0.25f, -0.5276334285736084f};
    float[] hardtanh = {0.5f, -1, 1, 1, 0.25f, -0.75f};
    close(softplus, new Softplus().forward(X));
    close(softplus, F.softplus(X));
    close(elu, new ELU().forward(X));
    close(elu, F.elu(X));
    close(hardtanh, new Hardtanh().forward(X));
    close(hardtanh, F.hardtanh(X));
    close(Ops.softplus(X, 2, 1).toFloatArray(), F.softplus(X, 2, 1));
    close(Ops.elu(X, 0.4).toFloatArray(), F.elu(X, 0.4));
    close(Ops.hardtanh(X, -0.5, 0.5).toFloatArray(), F.hardtanh(X, -0.5, 0.5));
    close(new float[] {0.1961161345243454f, -0.588348388671875f, 0.7844645380973816f, 0.9669875502586365f, 0.08058229833841324f,
        -0.24174688756465912f}, F.normalize(X));
    close(new float[] {0.7844645977020264f, -0.8849953413009644f}, F.cosineSimilarity(X, Y));
    close(Ops.normalize(X, 1, 0, 0.1f).toFloatArray(), F.normalize(X, 1, 0, 0.1));
    close(Ops.cosineSimilarity(X, Y, 0, 0.5f).toFloatArray(), F.cosineSimilarity(X, Y, 0, 0.5));
  }

  @Test
  void padAndOneHot() {
    Tensor images = Tensor.randn(2, 3, 4, 5);
    assertArrayEquals(new int[] {2, 3, 8, 7}, F.pad(images, new int[] {1, 1, 2, 2}).shape());
    Tensor padded = F.pad(Tensor.ones(1, 2), new int[] {1, 0}, 7f);
    assertArrayEquals(new float[] {7, 1, 1}, padded.toFloatArray());
    assertArrayEquals(new float[] {0, 1, 0, 0, 0, 1}, F.oneHot(Tensor.labels(1, 2), 3).toFloatArray());
  }

  @Test
  void lossesReduceAsPyTorchs() {
    assertEquals(1.2552083730697632f, new SmoothL1Loss().apply(X, Y).item(), 1e-6);
    assertEquals(1.2552083730697632f, F.smoothL1Loss(X, Y).item(), 1e-6);
    assertEquals(1.2552083730697632f, new HuberLoss().apply(X, Y).item(), 1e-6);
    assertEquals(1.2552083730697632f, F.huberLoss(X, Y).item(), 1e-6);
    assertEquals(5.953125f, new SmoothL1Loss(Reduction.SUM, 2.0).apply(X, Y).item(), 1e-6);
    assertEquals(5.953125f, F.smoothL1Loss(X, Y, Reduction.SUM, 2.0).item(), 1e-6);
    close(new float[] {0.125f, 0.125f, 0.625f, 2.375f, 0.03125f, 1}, new HuberLoss(Reduction.NONE, 0.5).apply(X, Y));
    close(new float[] {0.125f, 0.125f, 0.625f, 2.375f, 0.03125f, 1}, F.huberLoss(X, Y, Reduction.NONE, 0.5));
    assertEquals(Ops.smoothL1Loss(X, Y, 0.3, true).item(), new SmoothL1Loss(0.3).apply(X, Y).item());
    assertEquals(Ops.huberLoss(X, Y, 0.3, true).item(), new HuberLoss(0.3).apply(X, Y).item());
    assertEquals("SmoothL1Loss()", new SmoothL1Loss().toString());
    assertEquals("HuberLoss()", new HuberLoss(Reduction.SUM).toString());
    Tensor p = X.clone().requiresGrad(true);
    new HuberLoss().apply(p, Y).backward();
    assertArrayEquals(new float[] {-1 / 12f, -1 / 12f, 1 / 6f, 1 / 6f, -1 / 24f, -1 / 6f}, p.grad().toFloatArray(), 1e-7f);
  }

  @Test
  void badHyperParametersNameThemselves() {
    message("Softplus: beta must be a finite float other than 0, got 0.0", () -> new Softplus(0, 20));
    message("ELU: alpha must be a finite float, got Infinity", () -> new ELU(Double.POSITIVE_INFINITY));
    message("Hardtanh: max_val 1.0 must be above min_val 1.0", () -> new Hardtanh(1, 1));
    message("SmoothL1Loss: beta must be a finite float of 0 or more, got -1.0", () -> new SmoothL1Loss(-1));
    message("HuberLoss: delta must be a finite float above 0, got 0.0", () -> new HuberLoss(0));
    message("smooth_l1_loss: input [2, 3] and target [3] must have the same shape", () -> new SmoothL1Loss().apply(X, Tensor.zeros(3)));
  }

  private static void message(String expected, Executable call) {
    assertEquals(expected, assertThrows(IllegalArgumentException.class, call).getMessage());
  }

  private static void close(float[] expected, Tensor actual) {
    assertArrayEquals(expected, actual.toFloatArray(), 1e-6f);
  }
}
