package dev.kiln.dsl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;

/** GroupNorm and InstanceNorm2d against PyTorch 1.13's values, gradients, reprs and state_dict keys (written from it). */
class GroupNormTest {
  private static void set(Tensor t, float... values) {
    System.arraycopy(values, 0, t.buffer(), t.offset(), values.length);
  }

  @Test
  void valuesAndGradientsAsPyTorchs() {
    GroupNorm gn = new GroupNorm(2, 4);
    set(gn.weight(), 1, 2, 3, 4);
    set(gn.bias(), 0, 0.5f, -0.5f, 1);
    Tensor x = Tensor.of(new float[] {1, 2, 3, 4, -1, 0, 5, 2, 0.5f, 1.5f, -2, 3, 7, 1, 2, 2}, 2, 4, 2).requiresGrad(true);
    Tensor y = gn.forward(x);
    assertArrayEquals(new float[] {-1.3416354f, -0.44721186f, 1.3944236f, 3.183271f, -3.7732654f, -2.4639592f, 7.110095f,
        1.8728707f, -0.13736036f, 0.4120811f, -2.521928f, 2.9724865f, 4.616812f, -3.0584064f, -0.7056041f, -0.7056041f},
        y.toFloatArray(), 2e-6f);
    y.mul(Tensor.arange(16).reshape(2, 4, 2)).sum().backward();
    assertArrayEquals(new float[] {0.35774732f, -0.6261039f, 0.17889214f, 0.08946443f, -1.0183535f, -0.65465546f, -1.4547777f,
        3.1277876f, -3.7165046f, -3.1359625f, 2.7990417f, 4.0534267f, -1.1338463f, -5.6691914f, 2.5487156f, 4.2543201f},
        x.grad().toFloatArray(), 2e-5f);
    assertArrayEquals(new float[] {2.162635f, 3.4083662f, 1.7432034f, -1.6729625f}, gn.weight().grad().toFloatArray(), 2e-5f);
    assertArrayEquals(new float[] {18, 26, 34, 42}, gn.bias().grad().toFloatArray(), 1e-5f);
    assertEquals(List.of("weight", "bias"), List.copyOf(gn.stateDict().keySet()));
    assertArrayEquals(new float[] {1, 1, 1, 1, 1, 1}, new GroupNorm(3, 6).weight().toFloatArray());
    assertArrayEquals(new float[] {0, 0, 0, 0, 0, 0}, new GroupNorm(3, 6).bias().toFloatArray());
  }

  @Test
  void sameInTrainingAndEvaluation() {
    GroupNorm gn = new GroupNorm(2, 4);
    Tensor x = Tensor.randn(3, 4, 5, 5);
    float[] trained = gn.forward(x).toFloatArray();
    gn.eval();
    assertArrayEquals(trained, gn.forward(x).toFloatArray());
    assertArrayEquals(new int[] {1, 4}, gn.forward(Tensor.randn(1, 4)).shape()); // one sample, one value a channel: fine
  }

  @Test
  void functionalFormAsTheLayer() {
    Tensor x = Tensor.randn(2, 6, 3, 3);
    assertArrayEquals(new GroupNorm(3, 6, 1e-5, false).forward(x).toFloatArray(), F.groupNorm(x, 3).toFloatArray());
    GroupNorm gn = new GroupNorm(2, 6, 1e-3, true);
    set(gn.weight(), 1, 2, 3, 4, 5, 6);
    set(gn.bias(), -1, 0, 1, 2, 3, 4);
    assertArrayEquals(gn.forward(x).toFloatArray(), F.groupNorm(x, 2, gn.weight(), gn.bias(), 1e-3).toFloatArray());
  }

  @Test
  void reprSummaryAndErrors() {
    assertEquals("GroupNorm(2, 4, eps=1e-05, affine=True)", new GroupNorm(2, 4).toString());
    assertEquals("GroupNorm(3, 6, eps=0.001, affine=False)", new GroupNorm(3, 6, 1e-3, false).toString());
    assertEquals(0, new GroupNorm(3, 6, 1e-3, false).parameters().size());
    String table = Sequential.of(new Conv2d(3, 8, 3), new GroupNorm(4, 8), new SiLU()).summary(3, 10, 10);
    assertTrue(table.contains("         GroupNorm-2              [-1, 8, 8, 8]              16"), table);
    var e = assertThrows(IllegalArgumentException.class, () -> new GroupNorm(4, 6));
    assertEquals("GroupNorm(4, 6): num_channels (6) must be divisible by num_groups (4)", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> new GroupNorm(2, 4).forward(Tensor.zeros(2, 6, 3)));
    assertEquals("GroupNorm(2, 4, eps=1e-05, affine=True) expects [N, 4, *], receives [2, 6, 3]", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> new GroupNorm(2, 4).forward(Tensor.zeros(4)));
    assertEquals("GroupNorm(2, 4, eps=1e-05, affine=True) expects [N, 4, *], receives [4]", e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> new GroupNorm(0, 4));
    assertThrows(IllegalArgumentException.class, () -> new GroupNorm(2, 4, 0, true));
  }

  @Test
  void instanceNorm2dAsPyTorchs() {
    InstanceNorm2d in = new InstanceNorm2d(2);
    assertEquals("InstanceNorm2d(2, eps=1e-05, momentum=0.1, affine=False, track_running_stats=False)", in.toString());
    assertEquals(0, in.parameters().size());
    float[] want = {-1.3416353f, -0.44721174f, 0.44721186f, 1.3416355f, -1.0910884f, -0.65465307f, 1.5275238f, 0.21821767f};
    Tensor x = Tensor.of(new float[] {1, 2, 3, 4, -1, 0, 5, 2}, 2, 2, 2);
    assertArrayEquals(want, in.forward(x).toFloatArray(), 2e-6f); // unbatched [C, H, W]
    assertArrayEquals(want, in.forward(x.reshape(1, 2, 2, 2)).toFloatArray(), 2e-6f);
    InstanceNorm2d affine = new InstanceNorm2d(3, 1e-5, true);
    assertEquals("InstanceNorm2d(3, eps=1e-05, momentum=0.1, affine=True, track_running_stats=False)", affine.toString());
    assertEquals(List.of("weight", "bias"), List.copyOf(affine.stateDict().keySet()));
    var e = assertThrows(IllegalArgumentException.class, () -> in.forward(Tensor.zeros(1, 3, 2, 2)));
    assertEquals("InstanceNorm2d(2, eps=1e-05, momentum=0.1, affine=False, track_running_stats=False) expects [N, 2, H, W], "
        + "receives [1, 3, 2, 2]", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> in.forward(Tensor.zeros(4, 2, 1, 1)));
    assertEquals("InstanceNorm2d(2, eps=1e-05, momentum=0.1, affine=False, track_running_stats=False) expects more than 1 "
        + "spatial element (as PyTorch, in training and evaluation alike), receives [4, 2, 1, 1]", e.getMessage());
  }
}
