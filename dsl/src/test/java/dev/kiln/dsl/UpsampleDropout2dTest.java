package dev.kiln.dsl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import org.junit.jupiter.api.Test;

/** Upsample (nearest) and Dropout2d against PyTorch 1.13 (values written from it). */
class UpsampleDropout2dTest {
  @Test
  void upsampleRepeatsBlocksAndSumsTheGradientBack() {
    Tensor x = Tensor.of(new float[] {0, 1, 2, 3, 4, 5, 6, 7}, 1, 2, 2, 2).requiresGrad(true);
    Tensor y = new Upsample(2).forward(x);
    assertArrayEquals(new int[] {1, 2, 4, 4}, y.shape());
    assertArrayEquals(new float[] {0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3, 2, 2, 3, 3}, y.reshape(2, 16).select(0, 0).toFloatArray());
    float[] r = new float[32];
    for (int i = 0; i < 32; i++) {
      r[i] = i;
    }
    y.mul(Tensor.of(r, 1, 2, 4, 4)).sum().backward();
    assertArrayEquals(new float[] {10, 18, 42, 50, 74, 82, 106, 114}, x.grad().toFloatArray());
    assertArrayEquals(new int[] {1, 2, 4, 6}, new Upsample(2, 3).forward(x).shape());
    assertEquals("Upsample(scale_factor=2.0, mode=nearest)", new Upsample(2).toString());
    assertEquals("Upsample(scale_factor=(2.0, 3.0), mode=nearest)", new Upsample(2, 3).toString());
    assertThrows(IllegalArgumentException.class, () -> new Upsample(0));
    assertThrows(IllegalArgumentException.class, () -> new Upsample(2).forward(Tensor.zeros(2, 3)));
  }

  @Test
  void dropout2dZeroesWholeChannelsInTrainingOnly() {
    Kiln.manualSeed(4);
    Dropout2d drop = new Dropout2d(0.5);
    assertEquals("Dropout2d(p=0.5, inplace=False)", drop.toString());
    Tensor x = Tensor.ones(8, 16, 3, 3).requiresGrad(true);
    Tensor y = drop.forward(x);
    float[] v = y.toFloatArray();
    int dropped = 0;
    for (int map = 0; map < 8 * 16; map++) {
      float first = v[map * 9];
      assertTrue(first == 0f || first == 2f, "a channel is dropped or scaled by 1 / (1 - p): " + first);
      for (int i = 1; i < 9; i++) {
        assertEquals(first, v[map * 9 + i], "one value across a channel's map");
      }
      dropped += first == 0f ? 1 : 0;
    }
    assertTrue(dropped > 40 && dropped < 88, dropped + " of 128 channels dropped");
    y.sum().backward();
    assertArrayEquals(v, x.grad().toFloatArray(), "the gradient masked alike");
    drop.eval();
    assertSame(x, drop.forward(x), "evaluation passes the input");
    assertThrows(IllegalArgumentException.class, () -> new Dropout2d(1.5));
  }

  /**
   * PyTorch 1.13 takes [N, C, L] (whole channels of length L) and [N, C] (single values: mnist_rnn's Dropout2d after a
   * BatchNorm1d) with a deprecation warning: one draw per sample and channel, the draws of a 4-d input of those channels
   * (the same generator state gives the same mask); 1-d and 5-d inputs are refused naming the shapes taken.
   */
  @Test
  void dropout2dTakesPyTorchsThreeAndTwoDimensionalInputs() {
    Dropout2d drop = new Dropout2d(0.5);
    Kiln.manualSeed(4);
    float[] maps = drop.forward(Tensor.ones(3, 5, 1, 1)).toFloatArray();
    Kiln.manualSeed(4);
    Tensor x = Tensor.ones(3, 5).requiresGrad(true);
    Tensor y = drop.forward(x);
    assertArrayEquals(maps, y.toFloatArray(), "[N, C]: a value per sample and channel, drawn as for [N, C, 1, 1]");
    y.sum().backward();
    assertArrayEquals(maps, x.grad().toFloatArray());
    Kiln.manualSeed(4);
    float[] lines = drop.forward(Tensor.ones(3, 5, 4)).toFloatArray();
    for (int i = 0; i < lines.length; i++) {
      assertEquals(maps[i / 4], lines[i], "[N, C, L]: each channel of length L dropped or kept whole");
    }
    var e = assertThrows(ShapeException.class, () -> drop.forward(Tensor.ones(6)));
    assertEquals("Dropout2d(p=0.5, inplace=False) expects [N, C, H, W] (or [N, C, L], [N, C]), receives [6]", e.getMessage());
    assertThrows(ShapeException.class, () -> drop.forward(Tensor.ones(1, 2, 3, 4, 5)));
  }
}
