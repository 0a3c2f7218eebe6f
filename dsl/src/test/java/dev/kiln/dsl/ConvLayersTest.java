package dev.kiln.dsl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class ConvLayersTest {
  @BeforeEach
  void seed() {
    Kiln.manualSeed(7);
  }

  // ------------------------------------------------------------------ Conv2d

  @Test
  void conv2dParametersAndInitialisation() {
    Conv2d conv = new Conv2d(3, 8, 3, 5);
    assertEquals(List.of("weight", "bias"), List.copyOf(conv.namedParameters().keySet()));
    assertArrayEquals(new int[] {8, 3, 3, 5}, conv.weight().shape());
    assertArrayEquals(new int[] {8}, conv.bias().shape());
    double bound = 1 / Math.sqrt(3 * 3 * 5);
    for (Tensor p : conv.parameters()) {
      for (float v : p.toFloatArray()) {
        assertTrue(Math.abs(v) <= bound, v + " is outside ±" + bound);
      }
    }
    assertEquals(8 * 3 * 3 * 5 + 8, conv.parameterCount());
  }

  @Test
  void biasFalseDropsTheBiasAndKeepsTheWeight() {
    Conv2d conv = new Conv2d(1, 4, 3);
    Tensor weight = conv.weight();
    assertSame(conv, conv.bias(false));
    assertSame(weight, conv.weight());
    assertNull(conv.bias());
    assertEquals(List.of("weight"), List.copyOf(conv.namedParameters().keySet()));
    assertEquals("Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1), bias=False)", conv.toString());
    conv.bias(true);
    assertNotNull(conv.bias());
    assertEquals(List.of("weight", "bias"), List.copyOf(conv.namedParameters().keySet()));
  }

  @Test
  void conv2dReprLikePyTorch() {
    assertEquals("Conv2d(1, 32, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))",
        new Conv2d(1, 32, 3).padding(1).toString());
    assertEquals("Conv2d(32, 64, kernel_size=(3, 3), stride=(2, 2), bias=False)",
        new Conv2d(32, 64, 3).stride(2).bias(false).toString());
    assertEquals("Conv2d(3, 8, kernel_size=(3, 5), stride=(1, 2), padding=(0, 2))",
        new Conv2d(3, 8, 3, 5).stride(1, 2).padding(0, 2).toString());
    assertEquals("Sequential(\n  (0): Conv2d(1, 2, kernel_size=(3, 3), stride=(1, 1))\n"
            + "  (1): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)\n)",
        Sequential.of(new Conv2d(1, 2, 3), new MaxPool2d(2)).toString());
  }

  @Test
  void conv2dShapeRule() {
    assertArrayEquals(new int[] {-1, 32, 28, 28}, new Conv2d(1, 32, 3).padding(1).outputShape(new int[] {-1, 1, 28, 28}));
    assertArrayEquals(new int[] {-1, 32, 26, 26}, new Conv2d(1, 32, 3).outputShape(new int[] {-1, 1, 28, 28}));
    assertArrayEquals(new int[] {5, 8, 14, 7}, new Conv2d(3, 8, 3).stride(2, 4).padding(1).outputShape(new int[] {5, 3, 28, 28}));
  }

  @Test
  void conv2dShapeErrorsNameLayerAndInput() {
    Conv2d conv = new Conv2d(3, 32, 3);
    var e = assertThrows(ShapeException.class, () -> conv.outputShape(new int[] {-1, 1, 28, 28}));
    assertEquals("Conv2d(3, 32, kernel_size=(3, 3), stride=(1, 1)) expects [N, 3, H, W], receives [N, 1, 28, 28]", e.getMessage());
    e = assertThrows(ShapeException.class, () -> conv.outputShape(new int[] {-1, 3, 784}));
    assertEquals("Conv2d(3, 32, kernel_size=(3, 3), stride=(1, 1)) expects [N, 3, H, W], receives [N, 3, 784]", e.getMessage());
    assertArrayEquals(new int[] {32, 3, 2}, conv.forward(Tensor.zeros(3, 5, 4)).shape()); // one sample [C, H, W]
    e = assertThrows(ShapeException.class, () -> new Conv2d(1, 8, 3).forward(Tensor.zeros(64, 28, 28)));
    assertEquals("Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1)) expects [N, 1, H, W], or [1, H, W] for one sample, "
        + "receives [64, 28, 28]; images without a channel dimension take one with x.unsqueeze(1)", e.getMessage());
    e = assertThrows(ShapeException.class, () -> conv.forward(Tensor.zeros(2, 3, 2, 5)));
    assertEquals("Conv2d(3, 32, kernel_size=(3, 3), stride=(1, 1)) expects an input of at least 3x3 after padding,"
        + " receives [2, 3, 2, 5]", e.getMessage());
  }

  @Test
  void conv2dBadHyperParameters() {
    var e = assertThrows(IllegalArgumentException.class, () -> new Conv2d(0, 4, 3));
    assertEquals("Conv2d(0, 4): channel counts must be positive", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> new Conv2d(1, 4, 3).stride(0));
    assertEquals("Conv2d(1, 4): kernel_size (3, 3) and stride (0, 0) must be positive and padding (0, 0) non-negative",
        e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> new Conv2d(1, 4, 3).padding(-1));
  }

  @Test
  void conv2dIsConfiguredBeforeFirstUse() {
    Conv2d conv = new Conv2d(1, 2, 3);
    conv.forward(Tensor.randn(1, 1, 5, 5));
    var e = assertThrows(IllegalStateException.class, () -> conv.padding(1));
    assertTrue(e.getMessage().contains("before the first forward"), e.getMessage());
  }

  @Test
  void conv2dForwardMatchesTheFunctionalForm() {
    Conv2d conv = new Conv2d(2, 3, 3).stride(2).padding(1);
    Tensor x = Tensor.randn(4, 2, 9, 9);
    Tensor y = conv.forward(x);
    assertArrayEquals(new int[] {4, 3, 5, 5}, y.shape());
    assertArrayEquals(F.conv2d(x, conv.weight(), conv.bias(), 2, 1).toFloatArray(), y.toFloatArray());
    Conv2d plain = new Conv2d(2, 3, 3).bias(false);
    assertArrayEquals(F.conv2d(x, plain.weight(), null).toFloatArray(), plain.forward(x).toFloatArray());
  }

  // ------------------------------------------------------------------ MaxPool2d

  /** PyTorch 1.13's reprs; the layers are F.avgPool2d / F.adaptiveAvgPool2d (AvgPoolTest checks their values). */
  @Test
  void averagePoolingLayersReprAndForward() {
    AvgPool2d pool = new AvgPool2d(2);
    assertEquals("AvgPool2d(kernel_size=2, stride=2, padding=0)", pool.toString());
    assertTrue(pool.namedParameters().isEmpty());
    assertSame(pool, pool.stride(1).padding(1).ceilMode(true).countIncludePad(false));
    assertEquals("AvgPool2d(kernel_size=2, stride=1, padding=1)", pool.toString());
    assertEquals("AdaptiveAvgPool2d(output_size=1)", new AdaptiveAvgPool2d(1).toString());
    assertEquals("AdaptiveAvgPool2d(output_size=(2, 2))", new AdaptiveAvgPool2d(2, 2).toString());
    assertEquals("AdaptiveAvgPool2d(output_size=(2, 3))", new AdaptiveAvgPool2d(2, 3).toString());
    Tensor x = Tensor.randn(2, 3, 5, 7);
    assertArrayEquals(Ops.avgPool2d(x, 2, 1, 1, true, false).toFloatArray(), pool.forward(x).toFloatArray());
    assertArrayEquals(Ops.adaptiveAvgPool2d(x, 2, 3).toFloatArray(), new AdaptiveAvgPool2d(2, 3).forward(x).toFloatArray());
    assertArrayEquals(new int[] {3, 1, 1}, new AdaptiveAvgPool2d(1).forward(Tensor.randn(3, 4, 4)).shape()); // one sample
    var small = assertThrows(ShapeException.class, () -> new AvgPool2d(9).forward(x));
    assertTrue(small.getMessage().startsWith("AvgPool2d(kernel_size=9, stride=9, padding=0) expects an input of at least 9x9"),
        small.getMessage());
    var oneSample = assertThrows(IllegalArgumentException.class, () -> new AvgPool2d(9).forward(Tensor.randn(3, 4, 4)));
    assertTrue(oneSample.getMessage().startsWith("avg_pool2d: input [3, 4, 4]:"), oneSample.getMessage());
  }

  @Test
  void maxPool2dReprAndNoParameters() {
    MaxPool2d pool = new MaxPool2d(2);
    assertEquals("MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)", pool.toString());
    assertTrue(pool.namedParameters().isEmpty());
    assertSame(pool, pool.stride(1).padding(1).ceilMode(true));
    assertEquals("MaxPool2d(kernel_size=2, stride=1, padding=1, dilation=1, ceil_mode=True)", pool.toString());
  }

  @Test
  void maxPool2dShapeRule() {
    assertArrayEquals(new int[] {-1, 32, 14, 14}, new MaxPool2d(2).outputShape(new int[] {-1, 32, 28, 28}));
    assertArrayEquals(new int[] {-1, 128, 3, 3}, new MaxPool2d(2).outputShape(new int[] {-1, 128, 7, 7}));
    assertArrayEquals(new int[] {-1, 128, 4, 4}, new MaxPool2d(2).ceilMode(true).outputShape(new int[] {-1, 128, 7, 7}));
    assertArrayEquals(new int[] {2, 3, 4, 3}, new MaxPool2d(3).stride(2).padding(1).outputShape(new int[] {2, 3, 8, 6}));
  }

  @Test
  void maxPool2dErrors() {
    IllegalArgumentException e = assertThrows(ShapeException.class, () -> new MaxPool2d(3).outputShape(new int[] {-1, 8, 2, 2}));
    assertEquals("MaxPool2d(kernel_size=3, stride=3, padding=0, dilation=1, ceil_mode=False) expects an input of at"
        + " least 3x3 after padding, receives [N, 8, 2, 2]", e.getMessage());
    assertArrayEquals(new int[] {8, 1, 1}, new MaxPool2d(3).forward(Tensor.zeros(8, 3, 3)).shape()); // one sample [C, H, W]
    e = assertThrows(ShapeException.class, () -> new MaxPool2d(2).forward(Tensor.zeros(4, 784)));
    assertEquals("MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False) expects [N, C, H, W],"
        + " receives [4, 784]", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> new MaxPool2d(3).padding(2));
    assertEquals("MaxPool2d: padding (2, 2) must be at most half of kernel_size (3, 3)", e.getMessage());
  }

  @Test
  void maxPool2dForwardMatchesTheFunctionalForm() {
    Tensor x = Tensor.randn(2, 3, 7, 7);
    Tensor y = new MaxPool2d(3).stride(2).padding(1).ceilMode(true).forward(x);
    assertArrayEquals(F.maxPool2d(x, 3, 2, 1, true).toFloatArray(), y.toFloatArray());
    assertArrayEquals(F.maxPool2d(x, 2, 2).toFloatArray(), F.maxPool2d(x, 2).toFloatArray());
    assertArrayEquals(new int[] {2, 3, 3, 3}, F.maxPool2d(x, 2).shape());
  }

  // ------------------------------------------------------------------ together

  @Test
  void smallCnnShapesParametersAndGradients() {
    Sequential net = Sequential.of(
        new Conv2d(1, 4, 3).padding(1), new ReLU(), new MaxPool2d(2),
        new Conv2d(4, 8, 3).padding(1).bias(false), new ReLU(), new MaxPool2d(2),
        new Flatten(), new Linear(8 * 7 * 7, 10));
    assertEquals(List.of("0.weight", "0.bias", "3.weight", "7.weight", "7.bias"),
        List.copyOf(net.namedParameters().keySet()));
    assertArrayEquals(new int[] {-1, 10}, net.outputShape(new int[] {-1, 1, 28, 28}));
    Tensor loss = Ops.crossEntropy(net.forward(Tensor.randn(3, 1, 28, 28)), Tensor.labels(1, 5, 9), true);
    loss.backward();
    for (Tensor p : net.parameters()) {
      assertNotNull(p.grad());
      assertArrayEquals(p.shape(), p.grad().shape());
    }
  }
}
