package dev.kiln.dsl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.kiln.runtime.Device;
import dev.kiln.runtime.Tensor;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * F.pad's non-constant modes and the padding layers (ReflectionPad1d/2d, ReplicationPad1d/2d, ZeroPad2d): values and
 * gradients against PyTorch 1.13 ({@code pad_modes/make_reference.py}), shapes, reprs and errors as PyTorch's.
 */
class PaddingTest {
  private static final TorchReference REF = new TorchReference("/pad_modes/reference.txt");

  /** Each case of the reference: {@code <mode>_<pads>_of_<shape>}, out and the gradient of sum(out * w) PyTorch's. */
  @ParameterizedTest
  @MethodSource("cases")
  void modesArePyTorchs(String name) {
    agreesWithPyTorch(name, Device.cpu());
  }

  /** Case {@code name} on {@code device}: the padded values and the input's gradient there, PyTorch's. */
  static void agreesWithPyTorch(String name, Device device) {
    String[] parts = name.substring(0, name.indexOf("_of_")).split("_");
    int[] pad = Arrays.stream(parts).skip(1).mapToInt(Integer::parseInt).toArray();
    Tensor x = REF.copy(name + ".x").to(device).requiresGrad(true);
    Tensor out = F.pad(x, pad, parts[0]);
    assertEquals(device, out.device(), name + ": the output's device");
    REF.close(name + ".out", out, 0);
    out.mul(REF.copy(name + ".w").to(device)).sum().backward();
    assertEquals(device, x.grad().device(), name + ": the gradient's device");
    REF.close(name + ".dx", x.grad(), 1e-6);
  }

  static String[] cases() {
    return CASES;
  }

  /** The reference's cases. */
  static final String[] CASES = {"reflect_2_1_3_4_of_2x3x5x6", "reflect_3_2_of_2x3x7", "reflect_1_2_2_1_1_0_of_1x2x3x4x5",
      "replicate_2_1_3_7_of_2x3x5x6", "replicate_0_5_of_2x3x4", "circular_2_1_5_4_of_2x3x5x6", "circular_4_1_of_2x2x4"};

  @Test
  void layersPadTheirTrailingDimensions() {
    Tensor x = Tensor.arange(0, 12, 1).view(1, 1, 3, 4);
    Tensor r = new ReflectionPad2d(1, 2, 0, 1).forward(x);
    assertArrayEquals(new int[] {1, 1, 4, 7}, r.shape());
    // row 0 of [0 1 2 3]: 1 | 0 1 2 3 | 2 1; the extra bottom row mirrors row 1
    assertArrayEquals(new float[] {1, 0, 1, 2, 3, 2, 1}, Arrays.copyOfRange(r.toFloatArray(), 0, 7));
    assertArrayEquals(new float[] {5, 4, 5, 6, 7, 6, 5}, Arrays.copyOfRange(r.toFloatArray(), 21, 28));
    Tensor e = new ReplicationPad2d(2).forward(x);
    assertArrayEquals(new int[] {1, 1, 7, 8}, e.shape());
    assertEquals(0f, e.toFloatArray()[0]);
    assertEquals(11f, e.toFloatArray()[55]);
    assertArrayEquals(new int[] {1, 1, 5, 6}, new ZeroPad2d(1).forward(x).shape());
    assertEquals(0f, new ZeroPad2d(1).forward(x.add(1f)).toFloatArray()[0]);
    assertArrayEquals(new float[] {2, 1, 0, 1, 2, 3, 2}, new ReflectionPad1d(2, 1).forward(Tensor.arange(0, 4, 1).view(1, 4)).toFloatArray());
    assertArrayEquals(new float[] {0, 0, 1, 2, 3, 3, 3}, new ReplicationPad1d(1, 2).forward(Tensor.arange(0, 4, 1).view(1, 1, 4))
        .toFloatArray());
    assertEquals("ReflectionPad2d((4, 4, 4, 4))", new ReflectionPad2d(4).toString());
    assertEquals("ReplicationPad1d((1, 2))", new ReplicationPad1d(1, 2).toString());
    assertArrayEquals(new int[] {-1, 3, 18, 18}, new ReflectionPad2d(1).outputShape(new int[] {-1, 3, 16, 16}));
  }

  @Test
  void errorsNameThePaddingAndTheShape() {
    Tensor x = Tensor.zeros(1, 3, 4, 4);
    assertEquals("ReflectionPad2d((4, 4, 4, 4)) cannot take [1, 3, 4, 4]: pad: padding size should be less than the corresponding"
        + " input dimension in mode \"reflect\", but got padding (4, 4) at dimension 3 of size 4 of shape [1, 3, 4, 4]",
        assertThrows(ShapeException.class, () -> new ReflectionPad2d(4).forward(x)).getMessage());
    assertEquals("ReflectionPad2d((1, 1, 1, 1)) expects a 3D or 4D input ([C, H, W] or [N, C, H, W]), receives [4, 4]",
        assertThrows(ShapeException.class, () -> new ReflectionPad2d(1).forward(Tensor.zeros(4, 4))).getMessage());
    assertEquals("pad: mode must be one of \"constant\", \"reflect\", \"replicate\" or \"circular\", got \"reflection\"",
        assertThrows(IllegalArgumentException.class, () -> F.pad(x, new int[] {1, 1}, "reflection")).getMessage());
    assertEquals("pad: mode \"replicate\" takes no negative padding (only \"constant\" crops), got (-1, 1) at dimension 3 of shape"
        + " [1, 3, 4, 4]", assertThrows(IllegalArgumentException.class, () -> F.pad(x, new int[] {-1, 1}, "replicate")).getMessage());
    assertEquals("pad: mode \"reflect\" pads the dimensions after the first (the batch or the channels), but [1, 1, 1, 1] pads 2"
        + " of the 2 of shape [4, 4]", assertThrows(IllegalArgumentException.class,
            () -> F.pad(Tensor.zeros(4, 4), new int[] {1, 1, 1, 1}, "reflect")).getMessage());
    assertEquals("ReflectionPad2d: padding must not be negative, got [-1, -1, -1, -1]",
        assertThrows(IllegalArgumentException.class, () -> new ReflectionPad2d(-1)).getMessage());
    assertArrayEquals(new int[] {1, 3, 2, 4}, F.pad(x, new int[] {0, 0, -1, -1}, "constant").shape()); // constant crops
  }
}
