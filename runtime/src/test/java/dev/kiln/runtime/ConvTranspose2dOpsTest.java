package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/**
 * conv_transpose2d with groups, dilation, stride and output padding against PyTorch 1.13's values and gradients
 * (conv_transpose/reference.txt, from make_reference.py), finite-difference gradients, and errors that name the shapes.
 */
class ConvTranspose2dOpsTest {
  static final TorchReference TORCH = new TorchReference("/conv_transpose/reference.txt");

  /** make_reference.py's cases: name, stride h w, padding h w, output padding h w, dilation h w, groups. */
  static final Object[][] CASES = {
      {"grouped_dilated", new int[] {2, 1, 1, 2, 1, 0, 2, 1, 2}},
      {"grouped_stride2", new int[] {2, 2, 1, 0, 1, 1, 1, 1, 3}},
      {"depthwise", new int[] {2, 2, 1, 1, 1, 1, 1, 1, 6}},
      {"depthwise_multiplier_dilated", new int[] {1, 1, 2, 2, 0, 0, 2, 2, 4}},
      {"output_padding_above_stride", new int[] {1, 2, 1, 1, 2, 1, 3, 2, 2}},
      {"dilated_one_group", new int[] {3, 2, 0, 1, 2, 1, 2, 3, 1}}};

  /** Runs make_reference.py's case on {@code device}, comparing output and gradients with PyTorch's. */
  static void checkAgainstTorch(String name, int[] a, Device device) {
    Tensor x = TORCH.tensor(name, "x").to(device).requiresGrad(true);
    Tensor weight = TORCH.tensor(name, "weight").to(device).requiresGrad(true);
    Tensor bias = TORCH.has(name, "bias") ? TORCH.tensor(name, "bias").to(device).requiresGrad(true) : null;
    Tensor out = Ops.convTranspose2d(x, weight, bias, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8]);
    assertArrayEquals(TORCH.tensor(name, "out").shape(), out.shape(), name + ": shape");
    TorchReference.close(name + ": values", TORCH.tensor(name, "out").toFloatArray(), out.toFloatArray(), 1e-4, 1e-4);
    out.mul(TORCH.tensor(name, "w").to(device)).sum().backward();
    TorchReference.close(name + ": dx", TORCH.tensor(name, "dx").toFloatArray(), x.grad().toFloatArray(), 1e-4, 1e-4);
    TorchReference.close(name + ": dweight", TORCH.tensor(name, "dweight").toFloatArray(), weight.grad().toFloatArray(), 2e-4,
        1e-4);
    if (bias != null) {
      TorchReference.close(name + ": dbias", TORCH.tensor(name, "dbias").toFloatArray(), bias.grad().toFloatArray(), 2e-4, 1e-4);
    }
  }

  @Test
  void valuesAndGradientsMatchPyTorch() {
    for (Object[] c : CASES) {
      checkAgainstTorch((String) c[0], (int[]) c[1], Device.cpu());
    }
  }

  @Test
  void gradientsMatchFiniteDifferences() {
    Kiln.manualSeed(7);
    GradCheck.check("grouped dilated stride 2", in -> Ops.convTranspose2d(in[0], in[1], in[2], 2, 2, 1, 1, 1, 1, 2, 2, 2), 1e-2,
        2e-3, 5e-3, Tensor.randn(2, 4, 3, 4).requiresGrad(true), Tensor.randn(4, 3, 3, 3).requiresGrad(true),
        Tensor.randn(6).requiresGrad(true));
    GradCheck.check("depthwise", in -> Ops.convTranspose2d(in[0], in[1], in[2], 2, 1, 1, 0, 1, 0, 1, 1, 3), 1e-2, 2e-3, 5e-3,
        Tensor.randn(2, 3, 4, 3).requiresGrad(true), Tensor.randn(3, 1, 3, 2).requiresGrad(true), Tensor.randn(3).requiresGrad(true));
    GradCheck.check("output padding above the stride", in -> Ops.convTranspose2d(in[0], in[1], null, 1, 1, 0, 0, 2, 1, 3, 2, 2),
        1e-2, 2e-3, 5e-3, Tensor.randn(1, 2, 3, 3).requiresGrad(true), Tensor.randn(2, 2, 2, 2).requiresGrad(true));
  }

  @Test
  void oneSampleIsTheBatchsRow() {
    Tensor x = TORCH.tensor("grouped_dilated", "x");
    Tensor w = TORCH.tensor("grouped_dilated", "weight");
    Tensor one = Ops.convTranspose2d(Ops.select(x, 0, 1), w, null, 2, 1, 1, 2, 1, 0, 2, 1, 2);
    assertArrayEquals(new int[] {6, 12, 4}, one.shape());
    assertArrayEquals(Ops.select(Ops.convTranspose2d(x, w, null, 2, 1, 1, 2, 1, 0, 2, 1, 2), 0, 1).toFloatArray(),
        one.toFloatArray());
  }

  @Test
  void errorsNameTheShapesAndGroups() {
    Tensor x = Tensor.randn(1, 6, 4, 4);
    assertEquals("conv_transpose2d: input [1, 6, 4, 4], weight [6, 2, 3, 3]: in_channels 6 must be divisible by groups 4",
        assertThrows(IllegalArgumentException.class,
            () -> Ops.convTranspose2d(x, Tensor.randn(6, 2, 3, 3), null, 1, 1, 0, 0, 0, 0, 1, 1, 4)).getMessage());
    assertEquals("conv_transpose2d: input [1, 6, 4, 4], weight [4, 2, 3, 3]: the input has 6 channels, the weight"
        + " [in, out / groups, kH, kW] expects 4",
        assertThrows(IllegalArgumentException.class,
            () -> Ops.convTranspose2d(x, Tensor.randn(4, 2, 3, 3), null, 1, 1, 0, 0, 0, 0, 1, 1, 2)).getMessage());
    assertEquals("conv_transpose2d: output padding (2, 0) must be non-negative and smaller than either the stride (2, 2)"
        + " or the dilation (2, 1)",
        assertThrows(IllegalArgumentException.class,
            () -> Ops.convTranspose2d(x, Tensor.randn(6, 1, 3, 3), null, 2, 2, 0, 0, 2, 0, 2, 1, 6)).getMessage());
    assertEquals("conv_transpose2d: bias [6] does not match weight [6, 2, 3, 3] with groups 2 (expected [4])",
        assertThrows(IllegalArgumentException.class,
            () -> Ops.convTranspose2d(x, Tensor.randn(6, 2, 3, 3), Tensor.randn(6), 1, 1, 0, 0, 0, 0, 1, 1, 2)).getMessage());
    assertEquals("conv_transpose2d: input [1, 6, 4, 4], weight [6, 1, 3, 3]: dilation (0, 1) must be positive",
        assertThrows(IllegalArgumentException.class,
            () -> Ops.convTranspose2d(x, Tensor.randn(6, 1, 3, 3), null, 1, 1, 0, 0, 0, 0, 0, 1, 6)).getMessage());
  }
}
