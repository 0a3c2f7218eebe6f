package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/**
 * {@link TensorFormat#values} against what PyTorch 1.13 prints for the same tensors. The expected
 * strings come from {@code src/test/resources/tensor_format/make_expected.py}, which builds each
 * case the same way and prints it as a text block; rerun it to regenerate them.
 */
class TensorFormatTest {

  // --- modes of the float formatter ---

  @Test
  void fixedMixed() {
    assertEquals("""
        [ 1.5000, -0.2500,  3.1416, 10.0625, -7.7500,  0.0000,  0.0312,  2.0001]""",
        floats(new float[] {1.5f, -0.25f, 3.14159f, 10.0625f, -7.75f, 0f, 0.03125f, 2.00005f}, 8));
  }

  @Test
  void intModeFloats() {
    assertEquals("""
        [  1.,   2.,  -3.,   0.,  10., 250.]""",
        floats(new float[] {1f, 2f, -3f, 0f, 10f, 250f}, 6));
  }

  @Test
  void sciTiny() {
    assertEquals("""
        [ 1.0000e-05,  2.5000e-05, -3.0000e-06,  1.2346e-04]""",
        floats(new float[] {0.00001f, 2.5e-5f, -3e-6f, 0.000123456f}, 4));
  }

  @Test
  void sciHugeIntegers() {
    assertEquals("""
        [ 1.5000e+09, -2.0000e+08,  3.0000e+08]""",
        floats(new float[] {1.5e9f, -2e8f, 300000000f}, 3));
  }

  @Test
  void sciRatio() {
    assertEquals("""
        [ 1.0000e-03,  2.0000e+00, -5.5000e+00,  0.0000e+00]""",
        floats(new float[] {0.001f, 2f, -5.5f, 0f}, 4));
  }

  @Test
  void sciTies() {
    assertEquals("""
        [ 1.0512e+02,  6.2500e-02, -1.9531e-03]""",
        floats(new float[] {105.125f, 0.0625f, -0.001953125f}, 3));
  }

  @Test
  void sciRatioIntegers() {
    assertEquals("""
        [ 1.0000e+00,  2.0000e+03, -3.0000e+00]""",
        floats(new float[] {1f, 2000f, -3f}, 3));
  }

  // --- nan, inf and signed zero ---

  @Test
  void nonFiniteFixed() {
    assertEquals("""
        [    nan,     inf,    -inf,  1.2500, -2.5000]""",
        floats(new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 1.25f, -2.5f}, 5));
  }

  @Test
  void nonFiniteIntMode() {
    assertEquals("""
        [1., nan, -inf, 3.]""",
        floats(new float[] {1f, Float.NaN, Float.NEGATIVE_INFINITY, 3f}, 4));
  }

  @Test
  void nonFiniteSci() {
    assertEquals("""
        [1.0000e-05,        inf,        nan,       -inf]""",
        floats(new float[] {0.00001f, Float.POSITIVE_INFINITY, Float.NaN, Float.NEGATIVE_INFINITY}, 4));
  }

  @Test
  void onlyZerosAndNonFinite() {
    assertEquals("""
        [nan, 0., -0., inf]""",
        floats(new float[] {Float.NaN, 0f, -0f, Float.POSITIVE_INFINITY}, 4));
  }

  @Test
  void negativeZeroFixed() {
    assertEquals("""
        [-0.0000, 0.0000, 1.5000]""",
        floats(new float[] {-0f, 0f, 1.5f}, 3));
  }

  @Test
  void negativeZeroSci() {
    assertEquals("""
        [-0.0000e+00, 1.0000e-05]""",
        floats(new float[] {-0f, 0.00001f}, 2));
  }

  // --- higher ranks and wrapping ---

  @Test
  void matrix() {
    assertEquals("""
        [[-0.7500, -0.6250, -0.5000, -0.3750],
                [-0.2500, -0.1250,  0.0000,  0.1250],
                [ 0.2500,  0.3750,  0.5000,  0.6250]]""",
        floats(ramp(12, 0.125f, -0.75f), 3, 4));
  }

  @Test
  void rank3() {
    assertEquals("""
        [[[-5.2500, -4.7500, -4.2500, -3.7500],
                 [-3.2500, -2.7500, -2.2500, -1.7500],
                 [-1.2500, -0.7500, -0.2500,  0.2500]],

                [[ 0.7500,  1.2500,  1.7500,  2.2500],
                 [ 2.7500,  3.2500,  3.7500,  4.2500],
                 [ 4.7500,  5.2500,  5.7500,  6.2500]]]""",
        floats(ramp(24, 0.5f, -5.25f), 2, 3, 4));
  }

  @Test
  void rank4Integers() {
    assertEquals("""
        [[[[-8., -7.],
                  [-6., -5.]],

                 [[-4., -3.],
                  [-2., -1.]]],


                [[[ 0.,  1.],
                  [ 2.,  3.]],

                 [[ 4.,  5.],
                  [ 6.,  7.]]]]""",
        floats(ramp(16, 1f, -8f), 2, 2, 2, 2));
  }

  @Test
  void wrappedVector() {
    assertEquals("""
        [-7.2500, -6.7500, -6.2500, -5.7500, -5.2500, -4.7500, -4.2500, -3.7500,
                -3.2500, -2.7500, -2.2500, -1.7500, -1.2500, -0.7500, -0.2500,  0.2500,
                 0.7500,  1.2500,  1.7500,  2.2500,  2.7500,  3.2500,  3.7500,  4.2500,
                 4.7500,  5.2500,  5.7500,  6.2500,  6.7500,  7.2500]""",
        floats(ramp(30, 0.5f, -7.25f), 30));
  }

  @Test
  void wrappedRows() {
    assertEquals("""
        [[-4.1250, -3.8750, -3.6250, -3.3750, -3.1250, -2.8750, -2.6250, -2.3750,
                 -2.1250, -1.8750, -1.6250, -1.3750, -1.1250, -0.8750, -0.6250, -0.3750,
                 -0.1250,  0.1250,  0.3750,  0.6250],
                [ 0.8750,  1.1250,  1.3750,  1.6250,  1.8750,  2.1250,  2.3750,  2.6250,
                  2.8750,  3.1250,  3.3750,  3.6250,  3.8750,  4.1250,  4.3750,  4.6250,
                  4.8750,  5.1250,  5.3750,  5.6250]]""",
        floats(ramp(40, 0.25f, -4.125f), 2, 20));
  }

  // --- more than 1000 elements: summarized ---

  @Test
  void summarizedMatrix() {
    float[] data = ramp(1600, 0.25f, -200f);
    data[20 * 40 + 20] = 1e9f; // elided: neither shown nor seen by the formatter
    assertEquals("""
        [[-200.0000, -199.7500, -199.5000,  ..., -190.7500, -190.5000,
                 -190.2500],
                [-190.0000, -189.7500, -189.5000,  ..., -180.7500, -180.5000,
                 -180.2500],
                [-180.0000, -179.7500, -179.5000,  ..., -170.7500, -170.5000,
                 -170.2500],
                ...,
                [ 170.0000,  170.2500,  170.5000,  ...,  179.2500,  179.5000,
                  179.7500],
                [ 180.0000,  180.2500,  180.5000,  ...,  189.2500,  189.5000,
                  189.7500],
                [ 190.0000,  190.2500,  190.5000,  ...,  199.2500,  199.5000,
                  199.7500]]""",
        floats(data, 40, 40));
  }

  @Test
  void summarizedVector() {
    assertEquals("""
        [0.0000e+00, 5.0000e-01, 1.0000e+00,  ..., 9.9850e+02, 9.9900e+02,
                9.9950e+02]""",
        floats(ramp(2000, 0.5f, 0f), 2000));
  }

  @Test
  void summarizedRank3() {
    assertEquals("""
        [[[-500., -499., -498.,  ..., -482., -481., -480.],
                 [-479., -478., -477.,  ..., -461., -460., -459.],
                 [-458., -457., -456.,  ..., -440., -439., -438.],
                 ...,
                 [-416., -415., -414.,  ..., -398., -397., -396.],
                 [-395., -394., -393.,  ..., -377., -376., -375.],
                 [-374., -373., -372.,  ..., -356., -355., -354.]],

                [[-353., -352., -351.,  ..., -335., -334., -333.],
                 [-332., -331., -330.,  ..., -314., -313., -312.],
                 [-311., -310., -309.,  ..., -293., -292., -291.],
                 ...,
                 [-269., -268., -267.,  ..., -251., -250., -249.],
                 [-248., -247., -246.,  ..., -230., -229., -228.],
                 [-227., -226., -225.,  ..., -209., -208., -207.]],

                [[-206., -205., -204.,  ..., -188., -187., -186.],
                 [-185., -184., -183.,  ..., -167., -166., -165.],
                 [-164., -163., -162.,  ..., -146., -145., -144.],
                 ...,
                 [-122., -121., -120.,  ..., -104., -103., -102.],
                 [-101., -100.,  -99.,  ...,  -83.,  -82.,  -81.],
                 [ -80.,  -79.,  -78.,  ...,  -62.,  -61.,  -60.]],

                ...,

                [[  88.,   89.,   90.,  ...,  106.,  107.,  108.],
                 [ 109.,  110.,  111.,  ...,  127.,  128.,  129.],
                 [ 130.,  131.,  132.,  ...,  148.,  149.,  150.],
                 ...,
                 [ 172.,  173.,  174.,  ...,  190.,  191.,  192.],
                 [ 193.,  194.,  195.,  ...,  211.,  212.,  213.],
                 [ 214.,  215.,  216.,  ...,  232.,  233.,  234.]],

                [[ 235.,  236.,  237.,  ...,  253.,  254.,  255.],
                 [ 256.,  257.,  258.,  ...,  274.,  275.,  276.],
                 [ 277.,  278.,  279.,  ...,  295.,  296.,  297.],
                 ...,
                 [ 319.,  320.,  321.,  ...,  337.,  338.,  339.],
                 [ 340.,  341.,  342.,  ...,  358.,  359.,  360.],
                 [ 361.,  362.,  363.,  ...,  379.,  380.,  381.]],

                [[ 382.,  383.,  384.,  ...,  400.,  401.,  402.],
                 [ 403.,  404.,  405.,  ...,  421.,  422.,  423.],
                 [ 424.,  425.,  426.,  ...,  442.,  443.,  444.],
                 ...,
                 [ 466.,  467.,  468.,  ...,  484.,  485.,  486.],
                 [ 487.,  488.,  489.,  ...,  505.,  506.,  507.],
                 [ 508.,  509.,  510.,  ...,  526.,  527.,  528.]]]""",
        floats(ramp(1029, 1f, -500f), 7, 7, 21));
  }

  // --- rank 0 and empty ---

  @Test
  void scalar() {
    assertEquals("""
        3.5000""", floats(new float[] {3.5f}));
  }

  @Test
  void scalarInteger() {
    assertEquals("""
        3.""", floats(new float[] {3f}));
  }

  @Test
  void scalarNegativeSci() {
    assertEquals("""
        -2.0000e-05""", floats(new float[] {-0.00002f}));
  }

  @Test
  void scalarInt32() {
    assertEquals("""
        7""", ints(new float[] {7f}));
  }

  @Test
  void empty() {
    assertEquals("""
        []""", floats(new float[0], 0));
  }

  @Test
  void emptyMatrix() {
    assertEquals("""
        []""", floats(new float[0], 2, 0));
  }

  // --- int32 ---

  @Test
  void int32Vector() {
    assertEquals("""
        [  -5,   12,    0, 1234,   -1]""",
        ints(new float[] {-5f, 12f, 0f, 1234f, -1f}, 5));
  }

  @Test
  void int32Matrix() {
    assertEquals("""
        [[-40, -33, -26, -19],
                [-12,  -5,   2,   9],
                [ 16,  23,  30,  37]]""",
        ints(ramp(12, 7f, -40f), 3, 4));
  }

  @Test
  void int32Wrapped() {
    assertEquals("""
        [-60, -57, -54, -51, -48, -45, -42, -39, -36, -33, -30, -27, -24, -21,
                -18, -15, -12,  -9,  -6,  -3,   0,   3,   6,   9,  12,  15,  18,  21,
                 24,  27,  30,  33,  36,  39,  42,  45,  48,  51,  54,  57]""",
        ints(ramp(40, 3f, -60f), 40));
  }

  @Test
  void int32Summarized() {
    assertEquals("""
        [[-600, -599, -598,  ..., -203, -202, -201],
                [-200, -199, -198,  ...,  197,  198,  199],
                [ 200,  201,  202,  ...,  597,  598,  599]]""",
        ints(ramp(1200, 1f, -600f), 3, 400));
  }

  // --- layout ---

  @Test
  void transposedView() {
    // The transpose of a 3x4 matrix stored from offset 2 of a 14-element buffer.
    float[] base = ramp(14, 0.25f, -1f);
    assertEquals("""
        [[-0.5000,  0.5000,  1.5000],
                [-0.2500,  0.7500,  1.7500],
                [ 0.0000,  1.0000,  2.0000],
                [ 0.2500,  1.2500,  2.2500]]""",
        TensorFormat.values(base, 2, new int[] {4, 3}, new int[] {1, 4}, false));
  }

  private static String floats(float[] data, int... shape) {
    return TensorFormat.values(data, 0, shape, Shapes.contiguousStrides(shape), false);
  }

  private static String ints(float[] data, int... shape) {
    return TensorFormat.values(data, 0, shape, Shapes.contiguousStrides(shape), true);
  }

  /** {@code i * step + start} for i in [0, n): like the script's {@code torch.arange(n) * step + start}, exact here. */
  private static float[] ramp(int n, float step, float start) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = i * step + start;
    }
    return v;
  }
}
