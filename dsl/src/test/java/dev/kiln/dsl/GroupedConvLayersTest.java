package dev.kiln.dsl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Conv2d and Conv1d with {@code dilation} and {@code groups}: weight shapes and initialisation bounds as PyTorch's,
 * reprs, output sizes, errors naming the layer, the layer against F, and a depthwise-separable block's training step.
 * (Values against PyTorch: runtime's GroupedConvOpsTest.)
 */
class GroupedConvLayersTest {
  @BeforeEach
  void seed() {
    Kiln.manualSeed(3);
  }

  private static void assertWithin(Tensor t, double bound) {
    float largest = 0;
    for (float v : t.toFloatArray()) {
      assertTrue(Math.abs(v) <= bound, v + " is outside ±" + bound);
      largest = Math.max(largest, Math.abs(v));
    }
    assertTrue(largest > 0.8 * bound, "uniform over the whole range: largest " + largest);
  }

  @Test
  void groupsReshapeTheWeightAndItsBound() {
    Conv2d dw = new Conv2d(32, 32, 3).padding(1).groups(32).bias(false);
    assertArrayEquals(new int[] {32, 1, 3, 3}, dw.weight().shape());
    assertNull(dw.bias());
    assertEquals(List.of("weight"), List.copyOf(dw.stateDict().keySet()));
    assertWithin(dw.weight(), 1 / Math.sqrt(9));
    Conv2d grouped = new Conv2d(8, 8, 3, 5).groups(2);
    assertArrayEquals(new int[] {8, 4, 3, 5}, grouped.weight().shape());
    assertEquals(List.of("weight", "bias"), List.copyOf(grouped.namedParameters().keySet()));
    assertWithin(grouped.bias(), 1 / Math.sqrt(4 * 15));
    assertEquals(8 * 4 * 15 + 8, grouped.parameterCount());
    Conv1d c1 = new Conv1d(32, 64, 7).groups(32);
    assertArrayEquals(new int[] {64, 1, 7}, c1.weight().shape());
    assertWithin(c1.weight(), 1 / Math.sqrt(7));
  }

  @Test
  void reprsAsPyTorch() {
    assertEquals("Conv2d(32, 32, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), groups=32, bias=False)",
        new Conv2d(32, 32, 3).padding(1).groups(32).bias(false).toString());
    assertEquals("Conv2d(64, 64, kernel_size=(3, 3), stride=(1, 1), padding=(2, 2), dilation=(2, 2))",
        new Conv2d(64, 64, 3).padding(2).dilation(2).toString());
    assertEquals("Conv1d(32, 32, kernel_size=(2,), stride=(1,), dilation=(4,))", new Conv1d(32, 32, 2).dilation(4).toString());
    assertEquals("Conv1d(32, 64, kernel_size=(7,), stride=(1,), padding=(3,), groups=32)",
        new Conv1d(32, 64, 7).padding(3).groups(32).toString());
  }

  @Test
  void dilatedOutputSizes() {
    assertArrayEquals(new int[] {2, 4, 6, 9}, new Conv2d(3, 4, 3).dilation(3, 1).outputShape(new int[] {2, 3, 12, 11}));
    assertArrayEquals(new int[] {2, 8, 20}, new Conv1d(8, 8, 2).dilation(4).outputShape(new int[] {2, 8, 24}));
    assertArrayEquals(new int[] {2, 8, 24}, new Conv1d(8, 8, 3).dilation(4).padding(4).groups(8).forward(Tensor.randn(2, 8, 24)).shape());
  }

  @Test
  void errorsNameTheLayer() {
    assertEquals("Conv2d(6, 4): in_channels 6 must be divisible by groups 4",
        assertThrows(IllegalArgumentException.class, () -> new Conv2d(6, 4, 3).groups(4)).getMessage());
    assertEquals("Conv2d(6, 4): out_channels 4 must be divisible by groups 3",
        assertThrows(IllegalArgumentException.class, () -> new Conv2d(6, 4, 3).groups(3)).getMessage());
    assertEquals("Conv1d(6, 4): dilation 0 must be positive",
        assertThrows(IllegalArgumentException.class, () -> new Conv1d(6, 4, 3).dilation(0)).getMessage());
    assertEquals("Conv2d(6, 6, kernel_size=(3, 3), stride=(1, 1), dilation=(3, 3), groups=6) expects an input of at least 7x7"
        + " after padding, receives [1, 6, 6, 6]",
        assertThrows(ShapeException.class, () -> new Conv2d(6, 6, 3).dilation(3).groups(6).forward(Tensor.randn(1, 6, 6, 6)))
            .getMessage());
    Conv2d used = new Conv2d(4, 4, 3);
    used.forward(Tensor.randn(1, 4, 5, 5));
    assertTrue(assertThrows(IllegalStateException.class, () -> used.groups(2)).getMessage().contains("before the first forward"));
  }

  @Test
  void layersAreTheirFunctionalForms() {
    Tensor x = Tensor.randn(2, 6, 9, 8);
    Conv2d conv = new Conv2d(6, 12, 3).stride(2).padding(2).dilation(2).groups(3);
    assertArrayEquals(F.conv2d(x, conv.weight(), conv.bias(), 2, 2, 2, 3).toFloatArray(), conv.forward(x).toFloatArray());
    Tensor s = Tensor.randn(2, 6, 17);
    Conv1d c1 = new Conv1d(6, 6, 3).padding(2).dilation(2).groups(6);
    assertArrayEquals(F.conv1d(s, c1.weight(), c1.bias(), 1, 2, 2, 6).toFloatArray(), c1.forward(s).toFloatArray());
    assertArrayEquals(new int[] {6, 17}, c1.forward(Ops.select(s, 0, 0)).shape());
  }

  @Test
  void groupsAfterConstructionDrawsFreshParameters() {
    Conv2d conv = new Conv2d(4, 4, 3);
    Tensor before = conv.weight();
    conv.groups(4);
    assertNotSame(before, conv.weight());
    assertEquals(List.of(conv.weight(), conv.bias()), conv.parameters());
  }

  /** A MobileNet block (depthwise 3x3, BN, ReLU, pointwise 1x1) trains: the loss falls on a fixed batch. */
  @Test
  void depthwiseSeparableBlockTrains() {
    Sequential net = Sequential.of(
        new Conv2d(8, 8, 3).padding(1).groups(8).bias(false), new BatchNorm2d(8), new ReLU(),
        new Conv2d(8, 16, 1), new AdaptiveAvgPool2d(1), new Flatten(), new Linear(16, 3));
    int[] classes = {0, 1, 2, 0, 1, 2, 0, 1};
    Tensor y = Tensor.labels(classes);
    float[] v = Tensor.randn(8, 8, 10, 10).toFloatArray();
    for (int i = 0; i < v.length; i++) { // class c brightens channel c
      int n = i / 800, c = i / 100 % 8;
      v[i] += c == classes[n] ? 1f : 0f;
    }
    Tensor x = Tensor.of(v, 8, 8, 10, 10);
    dev.kiln.runtime.optim.SGD opt = new dev.kiln.runtime.optim.SGD(net.parameters(), 0.1);
    float first = 0, last = 0;
    for (int step = 0; step < 30; step++) {
      opt.zeroGrad();
      Tensor loss = F.crossEntropy(net.forward(x), y);
      loss.backward();
      opt.step();
      if (step == 0) {
        first = loss.item();
      }
      last = loss.item();
    }
    assertTrue(last < 0.8 * first, "loss " + first + " -> " + last);
  }
}
