package dev.kiln.dsl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;
import org.junit.jupiter.api.Test;

/** ConvTranspose2d against PyTorch 1.13's values, gradients and repr (written from it). */
class ConvTranspose2dTest {
  private static float[] ramp(int n, float scale, float shift) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = i / scale + shift;
    }
    return v;
  }

  @Test
  void stridedWithOutputPaddingAsPyTorchs() {
    ConvTranspose2d up = new ConvTranspose2d(2, 3, 3).stride(2).padding(1).outputPadding(1);
    assertEquals("ConvTranspose2d(2, 3, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), output_padding=(1, 1))",
        up.toString());
    System.arraycopy(ramp(54, 50, -0.5f), 0, up.weight().buffer(), up.weight().offset(), 54);
    System.arraycopy(new float[] {0.1f, -0.2f, 0.3f}, 0, up.bias().buffer(), up.bias().offset(), 3);
    Tensor x = Tensor.of(ramp(16, 10, -0.4f), 2, 2, 2, 2).requiresGrad(true);
    Tensor y = up.forward(x);
    assertArrayEquals(new int[] {2, 3, 4, 4}, y.shape());
    float[] want = {0.268f, 0.402f, 0.238f, 0.234f, 0.352f, 0.536f, 0.292f, 0.292f, 0.208f, 0.282f, 0.178f, 0.182f, 0.208f,
        0.294f, 0.19f, 0.194f, -0.104f, -0.006f, -0.098f, -0.102f};
    float[] got = y.toFloatArray();
    for (int i = 0; i < want.length; i++) {
      assertEquals(want[i], got[i], 2e-6f, "y at " + i);
    }
    y.mul(Tensor.of(ramp(y.numel(), 100, 0), y.shape())).sum().backward();
    assertArrayEquals(new float[] {-0.2058f, -0.3972f, -0.639f, -1.1196f, 0.993f, 1.5468f, 1.7424f, 2.6712f, -1.3578f,
        -2.2116f, -2.6262f, -4.23f, 2.9514f, 4.398f, 4.4208f, 6.5592f}, x.grad().toFloatArray(), 2e-5f);
    float[] dw = up.weight().grad().toFloatArray();
    float[] wantDw = {0.366f, 0.676f, 0.686f, 0.632f, 1.152f, 1.164f, 0.664f, 1.2f, 1.212f, 0.462f, 0.836f, 0.846f};
    for (int i = 0; i < wantDw.length; i++) {
      assertEquals(wantDw[i], dw[i], 2e-5f, "dw at " + i);
    }
    assertArrayEquals(new float[] {10.08f, 15.2f, 20.32f}, up.bias().grad().toFloatArray(), 2e-5f);
  }

  @Test
  void itUndoesAConvolutionsShapeAndIsItsAdjoint() {
    Kiln.manualSeed(3);
    Conv2d down = new Conv2d(4, 6, 3).stride(2).padding(1).bias(false);
    ConvTranspose2d up = new ConvTranspose2d(6, 4, 3).stride(2).padding(1).outputPadding(1).bias(false);
    System.arraycopy(down.weight().toFloatArray(), 0, up.weight().buffer(), up.weight().offset(), down.weight().numel());
    Tensor a = Tensor.randn(2, 4, 8, 8), b = Tensor.randn(2, 6, 4, 4);
    assertArrayEquals(new int[] {2, 6, 4, 4}, down.forward(a).shape());
    assertArrayEquals(new int[] {2, 4, 8, 8}, up.forward(b).shape());
    // <conv(a), b> = <a, conv_transpose(b)> with the same weight
    assertEquals(down.forward(a).mul(b).sum().item(), a.mul(up.forward(b)).sum().item(), 1e-4f);
    // stride 1 with 16 channels on 14x14 maps, a batch of 64: the backward-data kernel is Winograd's there
    Conv2d same = new Conv2d(16, 16, 3).padding(1).bias(false);
    ConvTranspose2d back = new ConvTranspose2d(16, 16, 3).padding(1).bias(false);
    System.arraycopy(same.weight().toFloatArray(), 0, back.weight().buffer(), back.weight().offset(), same.weight().numel());
    Tensor c = Tensor.randn(64, 16, 14, 14), d = Tensor.randn(64, 16, 14, 14);
    double lhs = same.forward(c).mul(d).sum().item(), rhs = c.mul(back.forward(d)).sum().item();
    assertEquals(lhs, rhs, 1e-4 * Math.abs(lhs) + 1e-2);
    assertEquals("ConvTranspose2d(16, 8, kernel_size=(3, 3), stride=(1, 1), bias=False)",
        new ConvTranspose2d(16, 8, 3).bias(false).toString());
    assertArrayEquals(new int[] {4, 8, 8}, up.forward(Tensor.randn(6, 4, 4)).shape(), "one sample");
  }

  @Test
  void groupedAndDilatedAsPyTorchs() {
    Kiln.manualSeed(5);
    ConvTranspose2d up = new ConvTranspose2d(4, 6, 3).stride(2).padding(1).dilation(2).outputPadding(1).groups(2).bias(false);
    assertEquals("ConvTranspose2d(4, 6, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), dilation=(2, 2),"
        + " output_padding=(1, 1), groups=2, bias=False)", up.toString());
    assertArrayEquals(new int[] {4, 3, 3, 3}, up.weight().shape());
    assertEquals(null, up.bias());
    // PyTorch's bound: fan_in = weight.size(1) * kH * kW = 3 * 9
    float bound = (float) (1 / Math.sqrt(27));
    ConvTranspose2d wide = new ConvTranspose2d(4, 6, 3).groups(2);
    for (float v : wide.weight().toFloatArray()) {
      assertTrue(Math.abs(v) <= bound, "weight " + v);
    }
    for (float v : wide.bias().toFloatArray()) {
      assertTrue(Math.abs(v) <= bound, "bias " + v);
    }
    assertEquals(2, wide.parameters().size());
    // (5 - 1) 2 - 2 + 2 (3 - 1) + 1 + 1 = 12, the same values as the functional form
    Tensor x = Tensor.randn(2, 4, 5, 5);
    Tensor y = up.forward(x);
    assertArrayEquals(new int[] {2, 6, 12, 12}, y.shape());
    assertArrayEquals(Ops.convTranspose2d(x, up.weight(), null, 2, 2, 1, 1, 1, 1, 2, 2, 2).toFloatArray(), y.toFloatArray());
    ConvTranspose2d depthwise = new ConvTranspose2d(8, 8, 3).stride(2).padding(1).outputPadding(1).groups(8);
    assertArrayEquals(new int[] {8, 1, 3, 3}, depthwise.weight().shape());
    assertArrayEquals(new int[] {1, 8, 14, 14}, depthwise.forward(Tensor.randn(1, 8, 7, 7)).shape());
  }

  @Test
  void badConfigurationsAreRefused() {
    ConvTranspose2d wide = new ConvTranspose2d(2, 3, 3).stride(2).outputPadding(2);
    var e = assertThrows(IllegalArgumentException.class, () -> wide.forward(Tensor.zeros(1, 2, 4, 4)));
    assertEquals("ConvTranspose2d(2, 3, kernel_size=(3, 3), stride=(2, 2), output_padding=(2, 2)): output padding (2, 2)"
        + " must be smaller than either the stride (2, 2) or the dilation (1, 1)", e.getMessage());
    // below the dilation is enough (PyTorch's rule): 4 -> (4 - 1) + 3 (3 - 1) + 2 + 1 = 12
    assertArrayEquals(new int[] {1, 3, 12, 12},
        new ConvTranspose2d(2, 3, 3).dilation(3).outputPadding(2).forward(Tensor.zeros(1, 2, 4, 4)).shape());
    ConvTranspose2d dilated = new ConvTranspose2d(2, 3, 3).dilation(2, 1).outputPadding(1);
    e = assertThrows(IllegalArgumentException.class, () -> dilated.forward(Tensor.zeros(1, 2, 4, 4)));
    assertEquals("ConvTranspose2d(2, 3, kernel_size=(3, 3), stride=(1, 1), dilation=(2, 1), output_padding=(1, 1)): output"
        + " padding (1, 1) must be smaller than either the stride (1, 1) or the dilation (2, 1)", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> new ConvTranspose2d(4, 6, 3).groups(4));
    assertEquals("ConvTranspose2d(4, 6): out_channels 6 must be divisible by groups 4", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> new ConvTranspose2d(4, 6, 3).groups(3));
    assertEquals("ConvTranspose2d(4, 6): in_channels 4 must be divisible by groups 3", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> new ConvTranspose2d(4, 6, 3).dilation(0));
    assertEquals("ConvTranspose2d(4, 6): dilation (0, 0) must be positive", e.getMessage());
    // the builder's calls in any order, as PyTorch's keyword arguments
    assertArrayEquals(new int[] {1, 3, 8, 8},
        new ConvTranspose2d(2, 3, 3).outputPadding(1).stride(2).padding(1).forward(Tensor.zeros(1, 2, 4, 4)).shape());
    e = assertThrows(IllegalArgumentException.class,
        () -> Ops.convTranspose2d(Tensor.zeros(1, 2, 4, 4), Tensor.zeros(2, 3, 3, 3), null, 0, 1, 0, 0, 0, 0));
    assertTrue(e.getMessage().contains("stride (0, 1) must be positive"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> new ConvTranspose2d(2, 3, 3).forward(Tensor.zeros(1, 4, 5, 5)));
    ConvTranspose2d used = new ConvTranspose2d(2, 3, 3);
    used.forward(Tensor.zeros(1, 2, 4, 4));
    assertThrows(IllegalStateException.class, () -> used.stride(2));
  }
}
