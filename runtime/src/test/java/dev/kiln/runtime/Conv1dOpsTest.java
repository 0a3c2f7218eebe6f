package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * conv1d, max_pool1d, avg_pool1d and adaptive_avg_pool1d against PyTorch 1.13's values and gradients (inputs
 * {@code sin(a i + b)}, output gradient {@code cos(j)}, printed by F.conv1d and the pooling functions), one
 * sample {@code [C, L]}, and errors that name the 1-d op and shapes.
 */
class Conv1dOpsTest {
  static Tensor sines(int n, double a, double b, int... shape) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) Math.sin(i * a + b);
    }
    return Tensor.of(v, shape).requiresGrad(true);
  }

  static Tensor cosines(int[] shape) {
    float[] g = new float[Shapes.numel(shape)];
    for (int j = 0; j < g.length; j++) {
      g[j] = (float) Math.cos(j);
    }
    return Tensor.of(g, shape);
  }

  @Test
  void conv1dWithStridePaddingAndBiasMatchesPyTorch() {
    Tensor x = sines(28, 0.37, -3.0, 2, 2, 7);
    Tensor w = sines(18, 0.71, 0.5, 3, 2, 3);
    Tensor b = Tensor.of(new float[] {0.5f, -1f, 0.25f}, 3).requiresGrad(true);
    Tensor y = Ops.conv1d(x, w, b, 2, 1);
    assertArrayEquals(new int[] {2, 3, 4}, y.shape());
    assertArrayEquals(new float[] {0.018048614263534546f, -1.9403855800628662f, -2.3865973949432373f, -0.30171287059783936f,
        -1.2687774896621704f, 1.0167043209075928f, 2.874540328979492f, 1.9283907413482666f, 0.9669249653816223f,
        0.9273204207420349f, -0.2506456971168518f, -1.5083768367767334f, 2.705634355545044f, 0.8356184363365173f,
        -1.209849238395691f, -0.728613018989563f, -3.436518430709839f, -3.2486674785614014f, -0.37154126167297363f,
        1.2835488319396973f, 0.17444559931755066f, 1.8802361488342285f, 1.410431146621704f, -0.5177359580993652f},
        y.toFloatArray(), 1e-5f);
    y.backward(cosines(y.shape()));
    assertArrayEquals(new float[] {1.4541983604431152f, 0.7474662661552429f, 0.5732397437095642f, -0.2364634871482849f,
        -0.8347527980804443f, -1.0029897689819336f, -1.4752774238586426f, -0.7353419065475464f, -0.04934188723564148f,
        0.7594580054283142f, 0.9982224106788635f, 1.5560157299041748f, 1.1280256509780884f, 0.9219797849655151f,
        1.3626127243041992f, 1.039060115814209f, 1.213517665863037f, 0.35855787992477417f, -0.05128001794219017f,
        -0.65160071849823f, -1.2689311504364014f, -1.3581446409225464f, -0.6951642632484436f, -0.0896826907992363f,
        0.4669734239578247f, 1.2612332105636597f, 1.1997779607772827f, 1.4525771141052246f}, x.grad().toFloatArray(), 1e-5f);
    assertArrayEquals(new float[] {2.1096606254577637f, 2.1004092693328857f, -0.3924238383769989f, -2.401683807373047f,
        -3.5244979858398438f, -1.1832295656204224f, -2.7570672035217285f, -3.729705810546875f, -1.8315755128860474f,
        1.6727395057678223f, 3.6955859661102295f, 2.358462333679199f, 1.4946181774139404f, 2.7753875255584717f,
        2.786818742752075f, 0.21493276953697205f, -1.306694507598877f, -1.8999580144882202f}, w.grad().toFloatArray(), 1e-5f);
    assertArrayEquals(new int[] {3, 2, 3}, w.grad().shape());
    assertArrayEquals(new float[] {1.2625129222869873f, 1.7602896690368652f, -3.5637173652648926f}, b.grad().toFloatArray(), 1e-5f);
  }

  @Test
  void conv1dOfOneSampleIsTheBatchOfOnesRow() {
    Tensor x = sines(28, 0.37, -3.0, 2, 2, 7);
    Tensor w = sines(18, 0.71, 0.5, 3, 2, 3);
    Tensor one = Ops.conv1d(Ops.select(x, 0, 1), w, null, 1, 2);
    assertArrayEquals(new int[] {3, 9}, one.shape());
    assertArrayEquals(Ops.select(Ops.conv1d(x, w, null, 1, 2), 0, 1).toFloatArray(), one.toFloatArray());
  }

  /** Pools {@code sin(0.37 i - 3)} over [1, 2, 7] and checks the values and input gradient. */
  private static void checkPool(Function<Tensor, Tensor> f, int[] shape, float[] out, float[] dx) {
    Tensor x = sines(14, 0.37, -3.0, 1, 2, 7);
    Tensor y = f.apply(x);
    assertArrayEquals(shape, y.shape());
    assertArrayEquals(out, y.toFloatArray(), 1e-6f);
    y.backward(cosines(y.shape()));
    assertArrayEquals(dx, x.grad().toFloatArray(), 1e-6f);
  }

  @Test
  void maxPool1dWithPaddingAndCeilModeMatchesPyTorch() {
    checkPool(x -> Ops.maxPool1d(x, 3, 2, 1, true), new int[] {1, 2, 4},
        new float[] {-0.14112000167369843f, -0.4895665943622589f, -0.9127639532089233f, -0.703279435634613f,
            -0.03998933359980583f, 0.6442176699638367f, 0.9914583563804626f, 0.9914583563804626f},
        new float[] {1.0f, 0.5403022766113281f, 0.0f, 0.0f, 0.0f, -0.416146844625473f, -0.9899924993515015f, 0.0f,
            -0.6536436080932617f, 0.0f, 0.28366219997406006f, 0.0f, 1.7140724658966064f, 0.0f});
  }

  /**
   * Max pooling with no gradient to record (no grad mode, or an input that needs none) keeps no argmax; its values are
   * those of the recorded pooling bit for bit, 1-d and 2-d.
   */
  @Test
  void maxPoolingWithoutGradientGivesTheRecordedValues() {
    Tensor x = sines(2 * 3 * 11, 0.37, -3.0, 2, 3, 11).requiresGrad(true);
    Tensor recorded = Ops.maxPool1d(x, 3, 2, 1, true);
    Tensor constant = Ops.maxPool1d(Tensor.wrap(x.toFloatArray(), x.shape()), 3, 2, 1, true);
    Tensor noGrad;
    try (var g = Kiln.noGrad()) {
      noGrad = Ops.maxPool1d(x, 3, 2, 1, true);
    }
    assertArrayEquals(recorded.toFloatArray(), constant.toFloatArray());
    assertArrayEquals(recorded.toFloatArray(), noGrad.toFloatArray());
    Tensor images = sines(2 * 3 * 5 * 6, 0.41, -2.0, 2, 3, 5, 6).requiresGrad(true);
    Tensor pooled = Ops.maxPool2d(images, 2, 2, 2, 2, 0, 0, false), padded = Ops.maxPool2d(images, 3, 3, 2, 1, 1, 1, true);
    try (var g = Kiln.noGrad()) {
      assertArrayEquals(pooled.toFloatArray(), Ops.maxPool2d(images, 2, 2, 2, 2, 0, 0, false).toFloatArray());
      assertArrayEquals(padded.toFloatArray(), Ops.maxPool2d(images, 3, 3, 2, 1, 1, 1, true).toFloatArray());
    }
    assertArrayEquals(padded.toFloatArray(),
        Ops.maxPool2d(Tensor.wrap(images.toFloatArray(), images.shape()), 3, 3, 2, 1, 1, 1, true).toFloatArray());
  }

  @Test
  void avgPool1dWithPaddingLeftOutOfTheDivisorMatchesPyTorch() {
    checkPool(x -> Ops.avgPool1d(x, 3, 2, 1, true, false), new int[] {1, 2, 4},
        new float[] {-0.31534329056739807f, -0.7369349598884583f, -0.9536531567573547f, -0.8080216646194458f,
            -0.2192993313074112f, 0.3094238042831421f, 0.8376255035400391f, 0.9814926385879517f},
        new float[] {0.5f, 0.6801007390022278f, 0.18010075390338898f, 0.041385143995285034f, -0.13871560990810394f,
            -0.6337118744850159f, -0.49499624967575073f, -0.32682180404663086f, -0.23226773738861084f, 0.09455406665802002f,
            0.4146108329296112f, 0.3200567662715912f, 0.6970078945159912f, 0.3769511282444f});
  }

  @Test
  void adaptiveAvgPool1dWithOverlappingWindowsMatchesPyTorch() {
    checkPool(x -> Ops.adaptiveAvgPool1d(x, 3), new int[] {1, 2, 3},
        new float[] {-0.46747973561286926f, -0.9066494107246399f, -0.8715844750404358f, -0.03818520903587341f,
            0.6151537299156189f, 0.946728527545929f},
        new float[] {0.3333333432674408f, 0.3333333432674408f, 0.513434112071991f, 0.18010075390338898f,
            0.041385143995285034f, -0.13871560990810394f, -0.13871560990810394f, -0.3299975097179413f, -0.3299975097179413f,
            -0.5478787422180176f, -0.2178812026977539f, -0.12332713603973389f, 0.09455406665802002f, 0.09455406665802002f});
  }

  @Test
  void poolingOneSample() {
    Tensor x = sines(14, 0.37, -3.0, 1, 2, 7);
    Tensor one = Ops.select(x, 0, 0);
    assertArrayEquals(new int[] {2, 3}, Ops.maxPool1d(one, 2, 2, 0, false).shape());
    assertArrayEquals(Ops.avgPool1d(x, 3, 1, 1, false, true).toFloatArray(), Ops.avgPool1d(one, 3, 1, 1, false, true).toFloatArray());
    assertArrayEquals(Ops.adaptiveAvgPool1d(x, 1).toFloatArray(), Ops.adaptiveAvgPool1d(one, 1).toFloatArray());
  }

  @Test
  void errorsNameTheOneDimensionalOpAndShapes() {
    Tensor x = Tensor.zeros(2, 3, 5);
    var e = assertThrows(IllegalArgumentException.class, () -> Ops.conv1d(x, Tensor.zeros(4, 3, 7), null, 1, 0));
    assertEquals("conv1d: input [2, 3, 5]: the kernel of 7 is longer than the padded input of 5 (5 with padding 0), so the"
        + " output would be empty", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Ops.conv1d(x, Tensor.zeros(4, 2, 3), null, 1, 0));
    assertEquals("conv1d: input [2, 3, 5] has 3 channels, weight [4, 2, 3] expects 2", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Ops.conv1d(Tensor.zeros(2, 3, 5, 5), Tensor.zeros(4, 3, 3), null, 1, 0));
    assertEquals("conv1d: input must be [N, C, L], or [C, L] for one sample, got shape [2, 3, 5, 5]", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Ops.conv1d(x, Tensor.zeros(4, 3, 3, 3), null, 1, 0));
    assertEquals("conv1d: weight must have rank 3, got shape [4, 3, 3, 3]", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Ops.maxPool1d(x, 3, 1, 2, false));
    assertEquals("max_pool1d: input [2, 3, 5]: padding 2 must be at most half of kernel_size 3", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Ops.avgPool1d(x, 0, 1, 0, false, true));
    assertEquals("avg_pool1d: input [2, 3, 5]: kernel_size 0 and stride 1 must be positive and padding 0 non-negative",
        e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Ops.adaptiveAvgPool1d(Tensor.zeros(5), 2));
    assertEquals("adaptive_avg_pool1d: input must be [N, C, L], or [C, L] for one sample, got shape [5]", e.getMessage());
  }
}
