package dev.kiln.dsl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.kiln.runtime.Device;
import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * ReLU6 ... PixelUnshuffle and KLDivLoss ... PoissonNLLLoss against PyTorch 1.13's values and gradients
 * (more_layers/reference.txt), their reprs, state-dict keys and errors.
 */
class MoreLayersTest {
  private static final TorchReference REF = new TorchReference("/more_layers/reference.txt");

  /** Each case's Kiln module or loss over the inputs x, t, v; a PReLU case's module loads the case's weight. */
  static Map<String, Function<Tensor[], Tensor>> cases(Map<String, Module> modules) {
    Map<String, Function<Tensor[], Tensor>> c = new LinkedHashMap<>();
    c.put("relu6", in -> new ReLU6().apply(in[0]));
    c.put("hardswish", in -> new Hardswish().apply(in[0]));
    c.put("hardsigmoid", in -> new Hardsigmoid().apply(in[0]));
    c.put("mish", in -> new Mish().apply(in[0]));
    c.put("selu", in -> new SELU().apply(in[0]));
    c.put("celu", in -> new CELU().apply(in[0]));
    c.put("celu_alpha", in -> new CELU(0.5).apply(in[0]));
    c.put("softsign", in -> new Softsign().apply(in[0]));
    c.put("logsigmoid", in -> new LogSigmoid().apply(in[0]));
    c.put("tanhshrink", in -> new Tanhshrink().apply(in[0]));
    c.put("glu", in -> new GLU().apply(in[0]));
    c.put("glu_dim1", in -> new GLU(1).apply(in[0]));
    c.put("softmin", in -> new Softmin(1).apply(in[0]));
    modules.put("prelu", new PReLU());
    modules.put("prelu_channels", new PReLU(3));
    modules.put("prelu_channels_2d", new PReLU(3, 0.1));
    for (String p : List.of("prelu", "prelu_channels", "prelu_channels_2d")) {
      c.put(p, in -> ((PReLU) modules.get(p)).apply(in[0]));
    }
    c.put("pixel_shuffle", in -> new PixelShuffle(2).apply(in[0]));
    c.put("pixel_unshuffle", in -> new PixelUnshuffle(2).apply(in[0]));
    c.put("unflatten", in -> new Unflatten(1, 2, -1).apply(in[0]));
    c.put("kl_div", in -> new KLDivLoss().apply(in[0], in[1]));
    c.put("kl_div_batchmean", in -> KLDivLoss.batchMean(false).apply(in[0], in[1]));
    c.put("kl_div_none_zero", in -> new KLDivLoss(Reduction.NONE).apply(in[0], in[1]));
    c.put("kl_div_log_target_sum", in -> new KLDivLoss(Reduction.SUM, true).apply(in[0], in[1]));
    c.put("margin_ranking", in -> new MarginRankingLoss().apply(in[0], in[1], in[2]));
    c.put("margin_ranking_margin_none", in -> new MarginRankingLoss(0.5, Reduction.NONE).apply(in[0], in[1], in[2]));
    c.put("cosine_embedding", in -> new CosineEmbeddingLoss().apply(in[0], in[1], in[2]));
    c.put("cosine_embedding_margin_sum", in -> new CosineEmbeddingLoss(0.2, Reduction.SUM).apply(in[0], in[1], in[2]));
    c.put("triplet", in -> new TripletMarginLoss().apply(in[0], in[1], in[2]));
    c.put("triplet_swap_p1_none", in -> new TripletMarginLoss(0.5, 1, 1e-6, true, Reduction.NONE).apply(in[0], in[1], in[2]));
    c.put("soft_margin", in -> new SoftMarginLoss().apply(in[0], in[1]));
    c.put("multilabel_soft_margin", in -> new MultiLabelSoftMarginLoss().apply(in[0], in[1]));
    c.put("multilabel_soft_margin_weight_none", in -> new MultiLabelSoftMarginLoss(Tensor.of(new float[] {0.5f, 1, 2, 1.5f, 0.25f}),
        Reduction.NONE).apply(in[0], in[1]));
    c.put("gaussian_nll", in -> new GaussianNLLLoss().apply(in[0], in[1], in[2]));
    c.put("gaussian_nll_full_sum_shared", in -> new GaussianNLLLoss(true, 1e-6, Reduction.SUM).apply(in[0], in[1], in[2]));
    c.put("gaussian_nll_none_no_last", in -> new GaussianNLLLoss(false, 1e-6, Reduction.NONE).apply(in[0], in[1], in[2]));
    c.put("poisson_nll", in -> new PoissonNLLLoss().apply(in[0], in[1]));
    c.put("poisson_nll_rate_full_none", in -> new PoissonNLLLoss(false, true, 1e-8, Reduction.NONE).apply(in[0], in[1]));
    return c;
  }

  @Test
  void valuesAndGradientsAsPyTorchs() {
    agreeWithPyTorch(Device.cpu(), 2e-6, 5e-6);
  }

  /**
   * Every case run on {@code device} (inputs, and a PReLU's weight, moved there) against PyTorch's values, within {@code
   * valueTolerance}, and gradients, within {@code gradientTolerance} (relative above 1).
   */
  static void agreeWithPyTorch(Device device, double valueTolerance, double gradientTolerance) {
    Map<String, Module> modules = new LinkedHashMap<>();
    for (Map.Entry<String, Function<Tensor[], Tensor>> e : cases(modules).entrySet()) {
      String name = e.getKey();
      Module m = modules.get(name);
      if (m != null) {
        m.loadStateDict(Map.of("weight", REF.copy(name + ".weight")));
        m.to(device);
      }
      List<Tensor> inputs = new ArrayList<>();
      for (String key : List.of("x", "t", "v")) {
        if (REF.get(name + "." + key) != null) {
          inputs.add(REF.copy(name + "." + key).to(device).requiresGrad(REF.get(name + ".d" + key) != null));
        }
      }
      Tensor out = e.getValue().apply(inputs.toArray(new Tensor[0]));
      assertEquals(device, out.device(), name + ": the result's device");
      Tensor expected = REF.get(name + ".out");
      if (out.shape().length == 0) { // a reduced loss, 0-d as PyTorch's (the reference's reader makes it [1])
        assertEquals(1, expected.numel(), name);
        REF.close(name + ".out", out.reshape(expected.shape()).to(Device.cpu()), valueTolerance);
      } else {
        REF.close(name + ".out", out.to(Device.cpu()), valueTolerance);
      }
      out.mul(REF.copy(name + ".w").reshape(out.shape()).to(device)).sum().backward();
      for (int i = 0; i < inputs.size(); i++) {
        String key = name + ".d" + "xtv".charAt(i);
        if (REF.get(key) != null) {
          assertEquals(device, inputs.get(i).grad().device(), key + ": the gradient's device");
          REF.close(key, inputs.get(i).grad().to(Device.cpu()), gradientTolerance);
        }
      }
      if (m != null) {
        REF.close(name + ".grad.weight", ((PReLU) m).weight().grad().to(Device.cpu()), gradientTolerance);
      }
    }
  }

  @Test
  void printedAsPyTorchPrintsThem() {
    assertEquals("ReLU6() Hardswish() Hardsigmoid() Mish() SELU() CELU(alpha=1.0) CELU(alpha=0.5) Softsign() LogSigmoid() Tanhshrink()"
        + " PReLU(num_parameters=1) PReLU(num_parameters=3) GLU(dim=-1) Softmin(dim=1) Identity()"
        + " Unflatten(dim=1, unflattened_size=(2, 3)) PixelShuffle(upscale_factor=2) PixelUnshuffle(downscale_factor=2)",
        String.join(" ", List.of(new ReLU6(), new Hardswish(), new Hardsigmoid(), new Mish(), new SELU(), new CELU(), new CELU(0.5),
            new Softsign(), new LogSigmoid(), new Tanhshrink(), new PReLU(), new PReLU(3), new GLU(), new Softmin(1), new Identity(),
            new Unflatten(1, 2, 3), new PixelShuffle(2), new PixelUnshuffle(2)).stream().map(Object::toString).toList()));
    assertEquals("KLDivLoss() TripletMarginLoss() GaussianNLLLoss() PoissonNLLLoss()", String.join(" ", List.of(new KLDivLoss(),
        new TripletMarginLoss(), new GaussianNLLLoss(), new PoissonNLLLoss()).stream().map(Object::toString).toList()));
    assertEquals(List.of("weight"), new ArrayList<>(new PReLU(3).stateDict().keySet()));
    assertArrayEquals(new float[] {0.25f, 0.25f, 0.25f}, new PReLU(3).weight().toFloatArray());
  }

  @Test
  void aModelPrintsAndSummarisesThemAsPyTorchAndTorchsummaryDo() {
    Sequential net = Sequential.of(new Linear(2, 3), new PReLU(3), new Identity(), new Mish(), new Unflatten(1, 3, 1));
    assertEquals("Sequential(\n  (0): Linear(in_features=2, out_features=3, bias=True)\n  (1): PReLU(num_parameters=3)\n"
        + "  (2): Identity()\n  (3): Mish()\n  (4): Unflatten(dim=1, unflattened_size=(3, 1))\n)", net.toString());
    String summary = net.summary(2);
    for (String row : List.of("Linear-1                    [-1, 3]               9", "PReLU-2                    [-1, 3]               3",
        "Identity-3                    [-1, 3]               0", "Mish-4                    [-1, 3]               0",
        "Unflatten-5                 [-1, 3, 1]               0", "Total params: 12")) {
      org.junit.jupiter.api.Assertions.assertTrue(summary.contains(row), row + " in\n" + summary);
    }
  }

  @Test
  void identityAndUnflattenAreViews() {
    Tensor x = Tensor.randn(2, 12);
    assertEquals(x, new Identity().apply(x));
    assertArrayEquals(new int[] {2, 3, 2, 2}, new Unflatten(1, 3, -1, 2).apply(x).shape());
    assertArrayEquals(new int[] {-1, 1, 28, 28}, new Unflatten(1, 1, 28, 28).outputShape(new int[] {-1, 784}));
    assertArrayEquals(new int[] {-1, 3, 8, 12}, new PixelShuffle(2).outputShape(new int[] {-1, 12, 4, 6}));
    assertArrayEquals(new int[] {-1, 12, 4, 6}, new PixelUnshuffle(2).outputShape(new int[] {-1, 3, 8, 12}));
  }

  /**
   * PReLU's one kernel each way against the composition it replaced, {@code where(x > 0, x, slope * x)} with the channels
   * moved last: the same values and input gradients to the bit, the slopes' gradients within float rounding (its own
   * order of summation), for one slope per channel of [N, C, H, W] and [N, C, L], one slope, and a 1-d and a 0-d input.
   */
  @Test
  void preluKernelMatchesItsComposition() {
    dev.kiln.runtime.Kiln.manualSeed(7);
    for (int[] shape : List.of(new int[] {2, 3, 4, 5}, new int[] {3, 4, 6}, new int[] {5, 4}, new int[] {7}, new int[0])) {
      for (int slopes : List.of(1, shape.length >= 2 ? shape[1] : 1)) {
        Tensor x0 = Tensor.randn(shape), w0 = Tensor.randn(slopes);
        if (x0.numel() > 1) {
          x0.buffer()[x0.offset()] = 0f; // the gradient at 0 is the slope's
        }
        Tensor x = x0.clone().requiresGrad(true), w = w0.clone().requiresGrad(true);
        Tensor xr = x0.clone().requiresGrad(true), wr = w0.clone().requiresGrad(true);
        Tensor out = F.prelu(x, w), expected = composed(xr, wr);
        String of = Arrays.toString(shape) + " with " + slopes + " slopes";
        assertArrayEquals(expected.toFloatArray(), out.toFloatArray(), of);
        Tensor g = Tensor.randn(shape);
        out.mul(g).sum().backward();
        expected.mul(g).sum().backward();
        assertArrayEquals(xr.grad().toFloatArray(), x.grad().toFloatArray(), of);
        assertArrayEquals(wr.grad().toFloatArray(), w.grad().toFloatArray(), 1e-5f, of);
      }
    }
  }

  /** PReLU as it was computed before its kernel: the channels moved last, {@code where(x > 0, x, slope * x)}, moved back. */
  private static Tensor composed(Tensor x, Tensor w) {
    int n = x.dim();
    if (w.numel() > 1 && n > 2) {
      int[] last = new int[n], back = new int[n];
      for (int d = 1; d < n; d++) {
        last[d] = d == n - 1 ? 1 : d + 1;
        back[d] = d == 1 ? n - 1 : d - 1;
      }
      Tensor p = x.permute(last);
      return Ops.where(p.gt(0f), p, Ops.mul(w, p)).permute(back);
    }
    return Ops.where(x.gt(0f), x, Ops.mul(w.numel() > 1 ? w : w.reshape(ones(Math.max(n, 1))), x));
  }

  private static int[] ones(int n) {
    int[] s = new int[n];
    Arrays.fill(s, 1);
    return s;
  }

  @Test
  void errorsNameWhatIsWrong() {
    assertMessage("GLU(dim=1) cannot take [2, 5]: halving dimension must be even, but dimension 1 is size 5",
        () -> new GLU(1).apply(Tensor.zeros(2, 5)));
    assertMessage("PReLU(num_parameters=3) cannot take [2, 4]: mismatch of parameter numbers and input channel size, found parameter"
        + " numbers = 3 and channel size = 4", () -> new PReLU(3).apply(Tensor.zeros(2, 4)));
    assertMessage("PixelShuffle(upscale_factor=2) cannot take [2, 5, 3, 3]: pixel_shuffle expects its input's 'channel' dimension to be"
        + " divisible by the square of upscale_factor, but input.size(-3)=5 is not divisible by 4",
        () -> new PixelShuffle(2).apply(Tensor.zeros(2, 5, 3, 3)));
    assertMessage("PixelUnshuffle(downscale_factor=2) cannot take [2, 4, 3, 4]: pixel_unshuffle expects height to be divisible by"
        + " downscale_factor, but input.size(-2)=3 is not divisible by 2", () -> new PixelUnshuffle(2).apply(Tensor.zeros(2, 4, 3, 4)));
    assertMessage("Unflatten(dim=1, unflattened_size=(2, 4)) cannot take [2, 6]: provided sizes [2, 4] don't multiply up to the size"
        + " of dim 1 (6)", () -> new Unflatten(1, 2, 4).apply(Tensor.zeros(2, 6)));
    assertMessage("CELU: alpha must be a finite float other than 0, got 0.0", () -> new CELU(0));
    assertMessage("MarginRankingLoss takes three tensors: call apply(input1, input2, target)",
        () -> new MarginRankingLoss().apply(Tensor.zeros(2), Tensor.zeros(2)));
    assertMessage("gaussian_nll_loss: var has negative entry/entries",
        () -> new GaussianNLLLoss().apply(Tensor.zeros(2), Tensor.zeros(2), Tensor.of(new float[] {1, -1})));
    assertMessage("gaussian_nll_loss: var is of incorrect size: [3] for input [2, 3] (the input's shape, or it without its last dimension"
        + " or with that 1)", () -> new GaussianNLLLoss().apply(Tensor.zeros(2, 3), Tensor.zeros(2, 3), Tensor.ones(3)));
    assertMessage("kl_div: input [2, 3] and target [3, 2] must have the same shape",
        () -> new KLDivLoss().apply(Tensor.zeros(2, 3), Tensor.zeros(3, 2)));
  }

  private static void assertMessage(String expected, org.junit.jupiter.api.function.Executable call) {
    assertEquals(expected, assertThrows(IllegalArgumentException.class, call).getMessage());
  }
}
