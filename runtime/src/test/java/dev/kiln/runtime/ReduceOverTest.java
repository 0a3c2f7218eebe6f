package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.kiln.runtime.cpu.MathKernels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * Sums, means, variances and standard deviations over several dimensions at once ({@code x.mean(new
 * int[] {2, 3})}, PyTorch's {@code x.mean(dim=(2, 3))}) on the CPU: values and gradients against
 * PyTorch 1.13's, finite differences, the one-pass kernel against sums along one dimension at a
 * time, and the errors.
 */
class ReduceOverTest {
  private static final double EPS = 1e-2;
  private static final double ATOL = 2e-3;
  private static final double RTOL = 2e-3;

  /** The scripts' input: {@code ((i * 37) % 23 - 11) * 0.25} for {@code i} in order, exact in float. */
  private static Tensor data(int... shape) {
    float[] v = new float[Shapes.numel(shape)];
    for (int i = 0; i < v.length; i++) {
      v[i] = ((i * 37) % 23 - 11) * 0.25f;
    }
    return Tensor.of(v, shape).requiresGrad(true);
  }

  /** {@code x}'s gradient after {@code y.backward(torch.arange(1., y.numel() + 1).reshape(y.shape))}. */
  private static Tensor gradient(Tensor x, Tensor y) {
    float[] ramp = new float[y.numel()];
    for (int i = 0; i < ramp.length; i++) {
      ramp[i] = i + 1;
    }
    x.setGrad(null);
    y.backward(Tensor.wrap(ramp, y.shape()));
    return x.grad();
  }

  /** The shape exactly, each value within {@code 1e-6} relative (absolute near 0) of torch's. */
  private static void check(String what, int[] shape, float[] expected, Tensor actual) {
    assertArrayEquals(shape, actual.shape(), what + ": shape " + Shapes.toString(actual.shape()));
    float[] a = actual.toFloatArray();
    for (int i = 0; i < a.length; i++) {
      assertEquals(expected[i], a[i], 1e-6 * Math.max(1, Math.abs(expected[i])), what + " at " + i);
    }
  }

  private static void assertMessage(String expected, Executable call) {
    var e = assertThrows(IllegalArgumentException.class, call);
    assertEquals(expected, e.getMessage());
  }

  @Test
  void valuesAndGradientsAreTorchs() {
    // torch 1.13: x = data as above, y = x.op(dim=..., ...); y.backward(torch.arange(1., y.numel() + 1).reshape(y.shape))
    Tensor x;
    Tensor y;
    x = data(2, 3, 4);
    y = x.sum(new int[] {0, 2}); // torch: x.sum(dim=(0, 2))
    check("x.sum(dim=(0, 2))", new int[] {3}, new float[] {-1.75f, 1.0f, -2.0f}, y);
    check("x.sum(dim=(0, 2)) grad", new int[] {2, 3, 4},
        new float[] {1.0f, 1.0f, 1.0f, 1.0f, 2.0f, 2.0f, 2.0f, 2.0f,
        3.0f, 3.0f, 3.0f, 3.0f, 1.0f, 1.0f, 1.0f, 1.0f,
        2.0f, 2.0f, 2.0f, 2.0f, 3.0f, 3.0f, 3.0f, 3.0f},
        gradient(x, y));

    x = data(2, 3, 4);
    y = x.sum(new int[] {2, 1}, true); // torch: x.sum(dim=(2, 1), keepdim=True)
    check("x.sum(dim=(2, 1), keepdim=True)", new int[] {2, 1, 1}, new float[] {-3.25f, 0.5f}, y);
    check("x.sum(dim=(2, 1), keepdim=True) grad", new int[] {2, 3, 4},
        new float[] {1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f,
        1.0f, 1.0f, 1.0f, 1.0f, 2.0f, 2.0f, 2.0f, 2.0f,
        2.0f, 2.0f, 2.0f, 2.0f, 2.0f, 2.0f, 2.0f, 2.0f},
        gradient(x, y));

    x = data(2, 3, 4);
    y = x.mean(new int[] {-1, 0}); // torch: x.mean(dim=(-1, 0))
    check("x.mean(dim=(-1, 0))", new int[] {3}, new float[] {-0.21875f, 0.125f, -0.25f}, y);
    check("x.mean(dim=(-1, 0)) grad", new int[] {2, 3, 4},
        new float[] {0.125f, 0.125f, 0.125f, 0.125f, 0.25f, 0.25f, 0.25f, 0.25f,
        0.375f, 0.375f, 0.375f, 0.375f, 0.125f, 0.125f, 0.125f, 0.125f,
        0.25f, 0.25f, 0.25f, 0.25f, 0.375f, 0.375f, 0.375f, 0.375f},
        gradient(x, y));

    x = data(2, 3, 2, 4);
    y = x.mean(new int[] {2, 3}); // torch: x.mean(dim=(2, 3))
    check("x.mean(dim=(2, 3))", new int[] {2, 3}, new float[] {-0.5625f, 0.125f, 0.09375f, 0.0625f, 0.03125f, 0.0f}, y);
    check("x.mean(dim=(2, 3)) grad", new int[] {2, 3, 2, 4},
        new float[] {0.125f, 0.125f, 0.125f, 0.125f, 0.125f, 0.125f, 0.125f, 0.125f,
        0.25f, 0.25f, 0.25f, 0.25f, 0.25f, 0.25f, 0.25f, 0.25f,
        0.375f, 0.375f, 0.375f, 0.375f, 0.375f, 0.375f, 0.375f, 0.375f,
        0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f,
        0.625f, 0.625f, 0.625f, 0.625f, 0.625f, 0.625f, 0.625f, 0.625f,
        0.75f, 0.75f, 0.75f, 0.75f, 0.75f, 0.75f, 0.75f, 0.75f},
        gradient(x, y));

    x = data(2, 3, 2, 4);
    y = x.mean(new int[] {3, 1}, true); // torch: x.mean(dim=(3, 1), keepdim=True)
    check("x.mean(dim=(3, 1), keepdim=True)", new int[] {2, 1, 2, 1}, new float[] {0.3125f, -0.5416666865348816f, -0.02083333395421505f, 0.0833333358168602f}, y);
    check("x.mean(dim=(3, 1), keepdim=True) grad", new int[] {2, 3, 2, 4},
        new float[] {0.0833333358168602f, 0.0833333358168602f, 0.0833333358168602f, 0.0833333358168602f, 0.1666666716337204f, 0.1666666716337204f, 0.1666666716337204f, 0.1666666716337204f,
        0.0833333358168602f, 0.0833333358168602f, 0.0833333358168602f, 0.0833333358168602f, 0.1666666716337204f, 0.1666666716337204f, 0.1666666716337204f, 0.1666666716337204f,
        0.0833333358168602f, 0.0833333358168602f, 0.0833333358168602f, 0.0833333358168602f, 0.1666666716337204f, 0.1666666716337204f, 0.1666666716337204f, 0.1666666716337204f,
        0.25f, 0.25f, 0.25f, 0.25f, 0.3333333432674408f, 0.3333333432674408f, 0.3333333432674408f, 0.3333333432674408f,
        0.25f, 0.25f, 0.25f, 0.25f, 0.3333333432674408f, 0.3333333432674408f, 0.3333333432674408f, 0.3333333432674408f,
        0.25f, 0.25f, 0.25f, 0.25f, 0.3333333432674408f, 0.3333333432674408f, 0.3333333432674408f, 0.3333333432674408f},
        gradient(x, y));

    x = data(2, 3, 2, 4);
    y = x.sum(new int[] {0, 2, 3}); // torch: x.sum(dim=(0, 2, 3))
    check("x.sum(dim=(0, 2, 3))", new int[] {3}, new float[] {-4.0f, 1.25f, 0.75f}, y);
    check("x.sum(dim=(0, 2, 3)) grad", new int[] {2, 3, 2, 4},
        new float[] {1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f,
        2.0f, 2.0f, 2.0f, 2.0f, 2.0f, 2.0f, 2.0f, 2.0f,
        3.0f, 3.0f, 3.0f, 3.0f, 3.0f, 3.0f, 3.0f, 3.0f,
        1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f,
        2.0f, 2.0f, 2.0f, 2.0f, 2.0f, 2.0f, 2.0f, 2.0f,
        3.0f, 3.0f, 3.0f, 3.0f, 3.0f, 3.0f, 3.0f, 3.0f},
        gradient(x, y));

    x = data(2, 3, 4);
    y = x.sum(new int[] {}); // torch: x.sum(dim=())
    check("x.sum(dim=())", new int[] {}, new float[] {-2.75f}, y);
    check("x.sum(dim=()) grad", new int[] {2, 3, 4},
        new float[] {1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f,
        1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f,
        1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f},
        gradient(x, y));

    x = data(2, 3, 4);
    y = x.mean(new int[] {}, true); // torch: x.mean(dim=(), keepdim=True)
    check("x.mean(dim=(), keepdim=True)", new int[] {1, 1, 1}, new float[] {-0.1145833358168602f}, y);
    check("x.mean(dim=(), keepdim=True) grad", new int[] {2, 3, 4},
        new float[] {0.0416666679084301f, 0.0416666679084301f, 0.0416666679084301f, 0.0416666679084301f, 0.0416666679084301f, 0.0416666679084301f, 0.0416666679084301f, 0.0416666679084301f,
        0.0416666679084301f, 0.0416666679084301f, 0.0416666679084301f, 0.0416666679084301f, 0.0416666679084301f, 0.0416666679084301f, 0.0416666679084301f, 0.0416666679084301f,
        0.0416666679084301f, 0.0416666679084301f, 0.0416666679084301f, 0.0416666679084301f, 0.0416666679084301f, 0.0416666679084301f, 0.0416666679084301f, 0.0416666679084301f},
        gradient(x, y));

    x = data(2, 3, 2, 4);
    y = x.var(new int[] {0, 2, 3}, true, false); // torch: x.var(dim=(0, 2, 3), unbiased=True, keepdim=False)
    check("x.var(dim=(0, 2, 3), unbiased=True, keepdim=False)", new int[] {3}, new float[] {2.866666555404663f, 2.8726563453674316f, 3.16015625f}, y);
    check("x.var(dim=(0, 2, 3), unbiased=True, keepdim=False) grad", new int[] {2, 3, 2, 4},
        new float[] {-0.3333333432674408f, 0.13333334028720856f, -0.1666666716337204f, 0.30000001192092896f, 0.0f, -0.30000001192092896f, 0.1666666716337204f, -0.13333334028720856f,
        0.5791667103767395f, -0.02083333395421505f, -0.6208333373069763f, 0.3125000298023224f, -0.2875000238418579f, 0.6458333730697632f, 0.04583333432674408f, -0.5541666746139526f,
        0.5812500715255737f, -0.3187500238418579f, 1.0812500715255737f, 0.18125002086162567f, -0.7187500596046448f, 0.6812500357627869f, -0.2187500149011612f, -1.1187500953674316f,
        0.13333334028720856f, -0.1666666716337204f, 0.30000001192092896f, 0.0f, -0.30000001192092896f, 0.1666666716337204f, -0.13333334028720856f, 0.3333333432674408f,
        -0.02083333395421505f, -0.6208333373069763f, 0.3125000298023224f, -0.2875000238418579f, 0.6458333730697632f, 0.04583333432674408f, -0.5541666746139526f, 0.37916669249534607f,
        -0.3187500238418579f, 1.0812500715255737f, 0.18125002086162567f, -0.7187500596046448f, 0.6812500357627869f, -0.2187500149011612f, -1.1187500953674316f, 0.2812500298023224f},
        gradient(x, y));

    x = data(2, 3, 4);
    y = x.var(new int[] {1, 2}, false, true); // torch: x.var(dim=(1, 2), unbiased=False, keepdim=True)
    check("x.var(dim=(1, 2), unbiased=False, keepdim=True)", new int[] {2, 1, 1}, new float[] {2.8381075859069824f, 2.987847328186035f}, y);
    check("x.var(dim=(1, 2), unbiased=False, keepdim=True) grad", new int[] {2, 3, 4},
        new float[] {-0.413194477558136f, 0.1701388955116272f, -0.2048611044883728f, 0.3784722089767456f, 0.0034722238779067993f, -0.3715277910232544f, 0.2118055671453476f, -0.1631944477558136f,
        0.4201388955116272f, 0.0451388917863369f, -0.3298611044883728f, 0.253472238779068f, -0.3472222089767456f, 0.8194444179534912f, 0.0694444477558136f, -0.6805555820465088f,
        0.4861111342906952f, -0.2638888955116272f, 0.9027777910232544f, 0.1527777910232544f, -0.5972222089767456f, 0.569444477558136f, -0.1805555671453476f, -0.9305555820465088f},
        gradient(x, y));

    x = data(2, 3, 2, 4);
    y = x.std(new int[] {1, 3}, true, false); // torch: x.std(dim=(1, 3), unbiased=True, keepdim=False)
    check("x.std(dim=(1, 3), unbiased=True, keepdim=False)", new int[] {2, 2}, new float[] {1.7968565225601196f, 1.6679918766021729f, 1.5354090929031372f, 1.8535387516021729f}, y);
    check("x.std(dim=(1, 3), unbiased=True, keepdim=False) grad", new int[] {2, 3, 2, 4},
        new float[] {-0.15494230389595032f, 0.02213461510837078f, -0.09170054644346237f, 0.08537637442350388f, 0.03179290518164635f, -0.21346662938594818f, 0.1680482178926468f, -0.07721133530139923f,
        0.09802472591400146f, -0.015810439363121986f, -0.12964560091495514f, 0.04743131995201111f, -0.04996027797460556f, 0.3315545916557312f, 0.08629503101110458f, -0.15896451473236084f,
        0.0600796714425087f, -0.053755491971969604f, 0.12332142889499664f, 0.009486263617873192f, -0.13171344995498657f, 0.2498013973236084f, 0.00454184552654624f, -0.24071769416332245f,
        0.13691937923431396f, -0.2627371847629547f, 0.35895082354545593f, -0.040705762803554535f, -0.5068110227584839f, 0.1798361837863922f, -0.2615799009799957f, 0.42506733536720276f,
        0.003700524102896452f, -0.3959560692310333f, 0.2257319688796997f, -0.17392462491989136f, 0.4741135537624359f, 0.03269748389720917f, -0.4087185561656952f, 0.2779286205768585f,
        -0.12951834499835968f, 0.49216967821121216f, 0.09251309186220169f, -0.3071434795856476f, 0.32697486877441406f, -0.11444120109081268f, -0.555857241153717f, 0.13078995048999786f},
        gradient(x, y));

    x = data(2, 3, 4);
    y = x.std(new int[] {-1, -3}, false, true); // torch: x.std(dim=(-1, -3), unbiased=False, keepdim=True)
    check("x.std(dim=(-1, -3), unbiased=False, keepdim=True)", new int[] {1, 3, 1}, new float[] {1.7785066366195679f, 1.5562374591827393f, 1.7721809148788452f}, y);
    check("x.std(dim=(-1, -3), unbiased=False, keepdim=True) grad", new int[] {2, 3, 4},
        new float[] {-0.17790557444095612f, 0.06808731704950333f, -0.09005096554756165f, 0.1559419184923172f, -0.060241445899009705f, -0.4216901361942291f, 0.14056338369846344f, -0.22088530659675598f,
        0.5290091633796692f, 0.05290091782808304f, -0.4232073426246643f, 0.3174055218696594f, -0.054909124970436096f, 0.19108375906944275f, 0.03294547647237778f, -0.1251928061246872f,
        0.22088530659675598f, -0.14056338369846344f, 0.4216901361942291f, 0.060241445899009705f, -0.3174055218696594f, 0.4232073426246643f, -0.05290091782808304f, -0.5290091633796692f},
        gradient(x, y));
  }

  @Test
  void finiteDifferences() {
    GradCheck.check("sum (1, 3)", in -> Ops.sum(in[0], new int[] {1, 3}, false), EPS, ATOL, RTOL, in(2, 3, 4, 5));
    GradCheck.check("mean (-1, -2) keepdim", in -> Ops.mean(in[0], new int[] {-1, -2}, true), EPS, ATOL, RTOL, in(2, 3, 4, 5));
    GradCheck.check("mean (0, 2)", in -> Ops.mean(in[0], new int[] {0, 2}, false), EPS, ATOL, RTOL, in(3, 2, 4, 2));
    GradCheck.check("var (0, 3)", in -> Ops.var(in[0], new int[] {0, 3}, true, false), EPS, ATOL, RTOL, in(3, 2, 2, 4));
    GradCheck.check("std (1, 2) keepdim", in -> Ops.std(in[0], new int[] {1, 2}, false, true), EPS, ATOL, RTOL, in(2, 3, 4));
  }

  private static Tensor in(int... shape) {
    return Tensor.uniform(-1, 2, shape).requiresGrad(true);
  }

  @Test
  void oneDimensionAtATimeGivesTheSameValues() {
    Tensor x = Tensor.randn(3, 4, 5, 6, 7);
    int[][] sets = {{1, 2}, {2, 3, 4}, {0, 2, 4}, {1, 3}, {0, 4}, {4, 0, 2, 1}};
    for (int[] dims : sets) {
      Tensor slow = x;
      int[] sorted = dims.clone();
      java.util.Arrays.sort(sorted);
      for (int k = sorted.length - 1; k >= 0; k--) {
        slow = slow.sum(sorted[k], true);
      }
      float[] want = slow.toFloatArray();
      float[] got = x.sum(dims, true).toFloatArray();
      assertArrayEquals(slow.shape(), x.sum(dims, true).shape());
      for (int i = 0; i < want.length; i++) {
        assertEquals(want[i], got[i], 1e-5 * Math.max(1, Math.abs(want[i])), java.util.Arrays.toString(dims) + " at " + i);
      }
    }
  }

  @Test
  void aDimensionOfSizeOneJoinsEitherRun() {
    boolean[] reduced = {false, true, false, true};
    assertArrayEquals(new int[] {2, 12, 1}, Shapes.reductionRuns(new int[] {2, 3, 1, 4}, reduced));
    assertArrayEquals(new int[] {2, 3, 5, 4, 1}, Shapes.reductionRuns(new int[] {2, 3, 5, 4}, reduced));
    assertArrayEquals(new int[] {1, 6, 20}, Shapes.reductionRuns(new int[] {2, 3, 5, 4}, new boolean[] {true, true, false, false}));
    assertArrayEquals(new int[] {120}, Shapes.reductionRuns(new int[] {2, 3, 5, 4}, new boolean[4]));
    Tensor x = Tensor.randn(2, 3, 1, 4); // one run: the sum along one dimension, added in double and rounded once
    float[] v = x.toFloatArray();
    float[] got = x.sum(new int[] {1, 3}).toFloatArray();
    for (int a = 0; a < 2; a++) {
      assertEquals((float) eightLanes(v, a * 12, 12), got[a]);
      assertEquals(sequential(v, a * 12, 12), got[a], 1e-6 * 12, "within float error of the sum in index order");
    }
  }

  /**
   * The sum of {@code v[off .. off + len)} in the kernels' order, written apart from them: value
   * {@code k} of the first {@code 8 * (len / 8)} into lane {@code k % 8}, the rest into lane 0, the
   * lanes combined as {@code ((0 + 1) + (2 + 3)) + ((4 + 5) + (6 + 7))}.
   */
  static double eightLanes(float[] v, int off, int len) {
    double[] lane = new double[8];
    int whole = len / 8 * 8;
    for (int k = 0; k < len; k++) {
      lane[k < whole ? k % 8 : 0] += v[off + k];
    }
    return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
  }

  /** The sum of {@code v[off .. off + len)} in index order, in double. */
  static double sequential(float[] v, int off, int len) {
    double s = 0;
    for (int k = 0; k < len; k++) {
      s += v[off + k];
    }
    return s;
  }

  @Test
  void rowsAddInEightLanesInAnOrderFixedByTheSizes() {
    // global average pooling ([N, C, H*W], one-value columns) and a sum over (1, 3) whose innermost run is reduced
    Tensor x = Tensor.randn(3, 5, 7, 9);
    float[] v = x.toFloatArray();
    float[] pool = x.mean(new int[] {2, 3}).toFloatArray();
    float[] kernel = new float[15];
    MathKernels.sumAlong(kernel, 0, v, 0, 15, 63, 1, 1f / 63);
    for (int r = 0; r < 15; r++) {
      float want = (float) (eightLanes(v, r * 63, 63) * (1f / 63));
      assertEquals(want, pool[r], "mean (2, 3) row " + r);
      assertEquals(want, kernel[r], "the kernel, row " + r);
      assertEquals(sequential(v, r * 63, 63) / 63, pool[r], 1e-6, "within float error of index order, row " + r);
    }
    // runs [3, 5, 7, 9, 1]: per output, nine lanes (one per w) each adding its c in order, then the lanes as eightLanes
    float[] over = x.sum(new int[] {1, 3}).toFloatArray();
    for (int a = 0; a < 3; a++) {
      for (int h = 0; h < 7; h++) {
        double[] lanes = new double[9];
        for (int c = 0; c < 5; c++) {
          for (int w = 0; w < 9; w++) {
            lanes[w] += v[((a * 5 + c) * 7 + h) * 9 + w];
          }
        }
        double[] lane = new double[8];
        for (int w = 0; w < 9; w++) {
          lane[w < 8 ? w : 0] += lanes[w];
        }
        double s = ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
        assertEquals((float) s, over[a * 7 + h], a + ", " + h);
      }
    }
    float[] wide = Tensor.randn(4, 4099).toFloatArray(); // a long row, and a sum over several: the same bits each call
    float[] w1 = new float[4];
    float[] w2 = new float[4];
    MathKernels.sumAlong(w1, 0, wide, 0, 4, 4099, 1, 1f);
    MathKernels.sumAlong(w2, 0, wide, 0, 4, 4099, 1, 1f);
    for (int r = 0; r < 4; r++) {
      assertEquals((float) eightLanes(wide, r * 4099, 4099), w1[r], "row " + r);
      assertEquals(w1[r], w2[r]);
    }
    float big = 0x1p60f; // 2^60 + 1 loses the 1 in double: index order gives 0, lane 1 keeps it apart from the cancellation
    float[] row = {big, 1, 0, 0, 0, 0, 0, 0, -big};
    assertEquals(0, sequential(row, 0, 9));
    assertEquals(1, eightLanes(row, 0, 9));
    assertArrayEquals(new float[] {1}, Tensor.of(row, 1, 9).sum(1).toFloatArray(), "the ninth value joins lane 0");
  }

  @Test
  void theKernelRunsOverBothCoresInDouble() {
    int[] runs = {300, 7, 5, 11, 1}; // [300, 7, 5, 11] over (1, 3)
    float[] x = Tensor.randn(300 * 7 * 5 * 11).toFloatArray();
    float[] out = new float[300 * 5];
    MathKernels.sumOver(out, 0, x, 0, runs, 0.5f);
    for (int o = 0; o < 300; o++) {
      for (int c = 0; c < 5; c++) {
        double s = 0;
        for (int k = 0; k < 7; k++) {
          for (int w = 0; w < 11; w++) {
            s += x[((o * 7 + k) * 5 + c) * 11 + w];
          }
        }
        assertEquals((float) (s * 0.5f), out[o * 5 + c], 1e-6 * Math.max(1, Math.abs(s)), o + ", " + c);
      }
    }
    float[] dx = new float[x.length];
    java.util.Arrays.fill(dx, 1);
    MathKernels.spreadOver(dx, 0, out, 0, runs, 2f, true);
    assertEquals(1 + 2 * out[3 * 5 + 4], dx[((3 * 7 + 6) * 5 + 4) * 11 + 10]);

    int[] first = {1, 60, 50, 40, 3}; // [60, 50, 40, 3] over (0, 2): the kept 50 split over the cores
    float[] y = Tensor.randn(60 * 50 * 40 * 3).toFloatArray();
    float[] sums = new float[50 * 3];
    MathKernels.sumOver(sums, 0, y, 0, first, 1f);
    for (int c = 0; c < 50; c++) {
      for (int w = 0; w < 3; w++) {
        double s = 0;
        for (int b = 0; b < 60; b++) {
          for (int h = 0; h < 40; h++) {
            s += y[((b * 50 + c) * 40 + h) * 3 + w];
          }
        }
        assertEquals((float) s, sums[c * 3 + w], "in index order, rounded once: " + c + ", " + w);
      }
    }
    float[] dy = new float[y.length];
    MathKernels.spreadOver(dy, 0, sums, 0, first, 0.5f, false);
    for (int i = 0; i < y.length; i++) {
      int c = i / 120 % 50, w = i % 3;
      assertEquals(sums[c * 3 + w] * 0.5f, dy[i], "spread at " + i);
    }
  }

  @Test
  void theVarianceIsTwoPassesInDoubleWithTorchsGradient() {
    // Values 1e4 apart from a spread of 1: a float composition (mean, x - mean, squares) loses digits; two passes
    // in double keep the variance within a float rounding of the exact one, for every layout of the runs.
    int[][] shapes = {{6, 3, 5, 7}, {6, 3, 5, 7}, {6, 3, 5, 7}, {300, 4}, {2, 9, 1}};
    int[][] dimSets = {{0, 2, 3}, {1, 3}, {1}, {0}, {1, -1}};
    for (int s = 0; s < shapes.length; s++) {
      int[] shape = shapes[s], dims = dimSets[s];
      Tensor x = Tensor.randn(shape).add(10000f).requiresGrad(true);
      float[] v = x.toFloatArray();
      boolean[] reduced = Shapes.reducedDims(dims, shape.length);
      int[] outShape = Shapes.reducedShape(shape, reduced, true);
      int outs = Shapes.numel(outShape);
      int[] owner = new int[v.length]; // each value's output, by its coordinates in the kept dimensions
      int[] count = new int[outs];
      for (int i = 0; i < v.length; i++) {
        int rest = i, o = 0, stride = 1;
        for (int d = shape.length - 1; d >= 0; d--) {
          int c = rest % shape[d];
          rest /= shape[d];
          if (!reduced[d]) {
            o += c * stride;
            stride *= shape[d];
          }
        }
        owner[i] = o;
        count[o]++;
      }
      double[] mean = new double[outs], sq = new double[outs];
      for (int i = 0; i < v.length; i++) {
        mean[owner[i]] += v[i];
      }
      for (int o = 0; o < outs; o++) {
        mean[o] /= count[o];
      }
      for (int i = 0; i < v.length; i++) {
        sq[owner[i]] += (v[i] - mean[owner[i]]) * (v[i] - mean[owner[i]]);
      }
      Tensor y = dims.length == 1 ? x.var(dims[0], true, true) : x.var(dims, true, true);
      assertArrayEquals(outShape, y.shape());
      float[] got = y.toFloatArray();
      for (int o = 0; o < outs; o++) {
        assertEquals((float) (sq[o] / (count[o] - 1)), got[o], Math.ulp(got[o]), java.util.Arrays.toString(dims) + " output " + o);
      }
      float[] g = Tensor.randn(outShape).toFloatArray();
      y.backward(Tensor.of(g, outShape));
      float[] dx = x.grad().toFloatArray();
      for (int i = 0; i < v.length; i++) { // PyTorch's var_backward: (2 / (n - 1)) * grad * (x - mean), in float
        int o = owner[i];
        assertEquals((2f / (count[o] - 1)) * g[o] * (v[i] - (float) mean[o]), dx[i], java.util.Arrays.toString(dims) + " gradient " + i);
      }
    }
  }

  @Test
  void errorsNameTheDimensionAndTheShape() {
    Tensor x = Tensor.zeros(2, 3, 4);
    assertMessage("sum over dimensions [1, 3] of shape [2, 3, 4]: dimension 3 is out of range for a tensor of rank 3"
        + " (expected -3..2)", () -> x.sum(new int[] {1, 3}));
    assertMessage("mean over dimensions [2, -1] of shape [2, 3, 4]: dimension -1 repeats dimension 2 (each dimension is"
        + " reduced once)", () -> x.mean(new int[] {2, -1}, true));
    assertMessage("var over dimensions [0, 0] of shape [2, 3, 4]: dimension 0 is given twice (each dimension is reduced once)",
        () -> x.var(new int[] {0, 0}));
    assertMessage("std over dimensions [-4] of shape [2, 3, 4]: dimension -4 is out of range for a tensor of rank 3"
        + " (expected -3..2)", () -> x.std(new int[] {-4}));
    assertMessage("mean over dimensions [1, 2] of shape [2, 0, 4]: a reduced dimension has size 0, so there are no values"
        + " to average", () -> Tensor.zeros(2, 0, 4).mean(new int[] {1, 2}));
    assertArrayEquals(new int[] {0}, Tensor.zeros(2, 0, 4).mean(new int[] {0, 2}).shape(), "no outputs, none empty");
    assertArrayEquals(new float[] {0, 0, 0, 0}, Tensor.zeros(2, 0, 4).sum(new int[] {0, 1}).toFloatArray(), "an empty sum is 0");
    assertArrayEquals(new int[] {0}, Tensor.zeros(2, 0, 4).sum(new int[] {0, 2}).shape());
    assertArrayEquals(new int[] {4, 0}, Tensor.zeros(4, 3, 0).sum(1).shape(), "rows of no columns: no outputs");
    assertArrayEquals(new int[] {1, 0}, Tensor.zeros(1, 3, 0).mean(1).shape());
    var e = assertThrows(IllegalArgumentException.class, () -> Tensor.labels(1, 2).mean(new int[] {0})); // (a sum of ids is ids: IdMovesTest)
    assertEquals("mean: expected a float tensor, got INT32 of shape [2]", e.getMessage());
    assertArrayEquals(new float[] {3}, Tensor.labels(1, 2).sum(new int[] {0}).toFloatArray());
  }
}
