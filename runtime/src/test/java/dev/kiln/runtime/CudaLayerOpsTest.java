package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.cuda.CuDnn;
import java.util.Locale;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The CUDA layer ops (cuBLAS, cuDNN, Kiln's batch-norm kernels) against the CPU ones on the same random inputs: outputs,
 * running statistics and every gradient, over two training steps so that the second step's
 * gradients test accumulation into existing ones. Needs a GPU: {@code -Dgroups=cuda}.
 */
@Tag("cuda")
class CudaLayerOpsTest {
  /** ||cuda - cpu|| / ||cpu||: FP32 on both sides, summed in different orders. */
  private static final double TOLERANCE = 1e-4;
  private static final double BN_EPS = 1e-5;

  private Device cuda;

  @BeforeEach
  void setUp() {
    cuda = Device.cuda();
    Kiln.manualSeed(20240601);
  }

  /** The same values as a CPU tensor and as a CUDA tensor, both leaves. */
  private record Pair(String name, Tensor cpu, Tensor gpu) {
    Tensor on(boolean onGpu) {
      return onGpu ? gpu : cpu;
    }
  }

  /** Standard normal values (never zeros), on both devices; parameters and inputs require grad when asked. */
  private Pair randn(String name, boolean requiresGrad, int... shape) {
    return pair(name, Tensor.randn(shape), requiresGrad);
  }

  private Pair pair(String name, Tensor cpu, boolean requiresGrad) {
    Tensor gpu = Tensor.of(cpu.toFloatArray(), cpu.shape()).to(cuda);
    if (requiresGrad) {
      cpu.requiresGrad(true);
      gpu.requiresGrad(true);
    }
    return new Pair(name, cpu, gpu);
  }

  /** A positive running variance, 0.5 to 1.5. */
  private Pair variance(String name, int c) {
    return pair(name, Tensor.uniform(0.5f, 1.5f, c), false);
  }

  @FunctionalInterface
  private interface Op {
    Tensor apply(Tensor[] inputs);
  }

  /**
   * Runs {@code op} on both devices for {@code steps} steps, each with a fresh random output
   * gradient, and compares the outputs, every input's values afterwards (running statistics are
   * updated in place) and the gradients of the inputs that require them. A null entry of
   * {@code inputs} is passed as null.
   */
  private void compare(String opName, Op op, int steps, Pair... inputs) {
    for (int step = 1; step <= steps; step++) {
      Tensor[] cpuIn = new Tensor[inputs.length];
      Tensor[] gpuIn = new Tensor[inputs.length];
      for (int i = 0; i < inputs.length; i++) {
        cpuIn[i] = inputs[i] == null ? null : inputs[i].cpu();
        gpuIn[i] = inputs[i] == null ? null : inputs[i].gpu();
      }
      Tensor yCpu = op.apply(cpuIn);
      Tensor yGpu = op.apply(gpuIn);
      assertClose(opName, "output (step " + step + ")", yGpu, yCpu);
      Pair g = randn("output gradient", false, yCpu.shape());
      yCpu.backward(g.cpu());
      yGpu.backward(g.gpu());
      for (Pair in : inputs) {
        if (in == null) {
          continue;
        }
        assertClose(opName, in.name() + " after step " + step, in.gpu(), in.cpu());
        if (in.cpu().requiresGrad()) {
          assertNotNull(in.cpu().grad(), opName + ": the CPU gave " + in.name() + " no gradient");
          assertNotNull(in.gpu().grad(), opName + ": CUDA gave " + in.name() + " no gradient (step " + step + ")");
          assertClose(opName, "gradient of " + in.name() + " (step " + step + (step > 1 ? ", accumulated" : "") + ")",
              in.gpu().grad(), in.cpu().grad());
        }
      }
    }
  }

  private static void assertClose(String op, String what, Tensor gpu, Tensor cpu) {
    assertTrue(gpu.device().isCuda(), op + ": " + what + " is on " + gpu.device() + ", expected cuda");
    assertArrayEquals(cpu.shape(), gpu.shape(), op + ": " + what + " has shape " + Shapes.toString(gpu.shape())
        + " on CUDA, " + Shapes.toString(cpu.shape()) + " on the CPU");
    float[] a = gpu.toFloatArray(), b = cpu.toFloatArray();
    double diff = 0, norm = 0;
    for (int i = 0; i < a.length; i++) {
      diff += (a[i] - (double) b[i]) * (a[i] - (double) b[i]);
      norm += (double) b[i] * b[i];
    }
    double error = norm == 0 ? Math.sqrt(diff) : Math.sqrt(diff / norm);
    assertTrue(error < TOLERANCE, String.format(Locale.ROOT,
        "%s: %s differs between CUDA and the CPU: relative error %.3g (tolerance %.0e); first values %s vs %s",
        op, what, error, TOLERANCE, head(a), head(b)));
  }

  private static String head(float[] v) {
    StringBuilder sb = new StringBuilder("[");
    for (int i = 0; i < Math.min(4, v.length); i++) {
      sb.append(i == 0 ? "" : ", ").append(String.format(Locale.ROOT, "%.5g", v[i]));
    }
    return sb.append(v.length > 4 ? ", ...]" : "]").toString();
  }

  // ------------------------------------------------------------------ matmul and linear

  @Test
  void matmulMatchesTheCpu() {
    int[][] shapes = {{5, 7, 3}, {33, 65, 17}, {1, 128, 1}, {64, 64, 64}};
    for (int[] s : shapes) {
      String name = "matmul [" + s[0] + ", " + s[1] + "] @ [" + s[1] + ", " + s[2] + "]";
      compare(name, in -> Ops.matmul(in[0], in[1]), 1, randn("a", true, s[0], s[1]), randn("b", true, s[1], s[2]));
    }
  }

  @Test
  void matmulGivesGradientsOnlyWhereWanted() {
    Pair a = randn("a", false, 6, 4);
    Pair b = randn("b", true, 4, 5);
    compare("matmul, only b requires grad", in -> Ops.matmul(in[0], in[1]), 1, a, b);
    assertNull(a.gpu().grad(), "matmul: a does not require grad and must get none");
  }

  @Test
  void linearMatchesTheCpuWithAndWithoutBias() {
    int[][] shapes = {{4, 7, 3}, {64, 130, 33}, {1, 5, 9}};
    for (int[] s : shapes) {
      String name = "linear [" + s[0] + ", " + s[1] + "] -> " + s[2];
      compare(name + " with bias", in -> Ops.linear(in[0], in[1], in[2]), 2,
          randn("x", true, s[0], s[1]), randn("weight", true, s[2], s[1]), randn("bias", true, s[2]));
      compare(name + " without bias", in -> Ops.linear(in[0], in[1], null), 2,
          randn("x", true, s[0], s[1]), randn("weight", true, s[2], s[1]));
    }
  }

  @Test
  void linearWithFrozenWeightStillGivesTheBiasAndInputGradients() {
    compare("linear, weight frozen", in -> Ops.linear(in[0], in[1], in[2]), 2,
        randn("x", true, 8, 6), randn("weight", false, 3, 6), randn("bias", true, 3));
  }

  // ------------------------------------------------------------------ conv2d

  @Test
  void conv2dMatchesTheCpu() {
    // {N, C, H, W, O, kH, kW, strideH, strideW, padH, padW, bias}
    int[][] cases = {
        {2, 3, 8, 8, 4, 3, 3, 1, 1, 0, 0, 1},
        {2, 3, 8, 8, 4, 3, 3, 2, 2, 1, 1, 0},
        {4, 16, 12, 12, 32, 3, 3, 1, 1, 1, 1, 1},
        {3, 1, 9, 7, 8, 3, 2, 2, 1, 1, 0, 1}, // non-square everything: catches a swapped height and width
        {2, 8, 10, 10, 6, 5, 5, 2, 2, 2, 2, 0},
        {2, 32, 7, 7, 16, 1, 1, 1, 1, 0, 0, 1},
        {8, 64, 16, 16, 64, 3, 3, 2, 2, 1, 1, 1},
    };
    for (int[] c : cases) {
      int sh = c[7], sw = c[8], ph = c[9], pw = c[10];
      boolean bias = c[11] == 1;
      String name = String.format(Locale.ROOT, "conv2d [%d, %d, %d, %d] * [%d, %d, %d, %d] stride (%d, %d) padding (%d, %d) %s",
          c[0], c[1], c[2], c[3], c[4], c[1], c[5], c[6], sh, sw, ph, pw, bias ? "with bias" : "without bias");
      Pair x = randn("x", true, c[0], c[1], c[2], c[3]);
      Pair w = randn("weight", true, c[4], c[1], c[5], c[6]);
      Pair b = bias ? randn("bias", true, c[4]) : null;
      compare(name, in -> Ops.conv2d(in[0], in[1], in[2], sh, sw, ph, pw), 2, x, w, b);
    }
  }

  @Test
  void groupedAndDilatedConvMatchTheCpu() {
    // {N, C, H, W, O, kH, kW, strideH, strideW, padH, padW, dilationH, dilationW, groups}: cuDNN's group count and
    // dilation against the CPU's depthwise and per-group kernels
    int[][] cases = {
        {2, 6, 9, 8, 6, 3, 3, 1, 1, 1, 1, 1, 1, 6}, // depthwise
        {2, 4, 11, 10, 8, 3, 3, 2, 1, 2, 1, 2, 1, 4}, // depthwise with multiplier 2, dilated on one axis
        {2, 8, 7, 9, 6, 3, 2, 1, 2, 1, 0, 1, 1, 2}, // two groups, non-square
        {1, 3, 12, 12, 5, 3, 3, 1, 1, 2, 2, 2, 2, 1}, // dilation alone
    };
    for (int[] c : cases) {
      int sh = c[7], sw = c[8], ph = c[9], pw = c[10], dh = c[11], dw = c[12], g = c[13];
      String name = "conv2d " + java.util.Arrays.toString(c);
      Pair x = randn("x", true, c[0], c[1], c[2], c[3]);
      Pair w = randn("weight", true, c[4], c[1] / g, c[5], c[6]);
      Pair b = randn("bias", true, c[4]);
      compare(name, in -> Ops.conv2d(in[0], in[1], in[2], sh, sw, ph, pw, dh, dw, g), 2, x, w, b);
    }
    Pair x = randn("x", true, 2, 6, 17);
    Pair w = randn("weight", true, 6, 2, 3);
    compare("conv1d groups 3 dilation 2", in -> Ops.conv1d(in[0], in[1], null, 1, 2, 2, 3), 2, x, w);
  }

  @Test
  void convTranspose2dMatchesTheCpu() {
    // {N, inC, H, W, outC, k, stride, pad, outputPad, bias}
    int[][] cases = {
        {2, 3, 4, 4, 5, 3, 2, 1, 1, 1},
        {2, 4, 5, 3, 2, 2, 2, 0, 0, 0},
        {3, 8, 6, 6, 8, 3, 1, 1, 0, 1},
    };
    for (int[] c : cases) {
      int k = c[5], st = c[6], pad = c[7], op = c[8];
      boolean bias = c[9] == 1;
      String name = String.format(Locale.ROOT, "conv_transpose2d [%d, %d, %d, %d] k %d stride %d padding %d output_padding %d",
          c[0], c[1], c[2], c[3], k, st, pad, op);
      Pair x = randn("x", true, c[0], c[1], c[2], c[3]);
      Pair w = randn("weight", true, c[1], c[4], k, k);
      Pair b = bias ? randn("bias", true, c[4]) : null;
      compare(name, in -> Ops.convTranspose2d(in[0], in[1], in[2], st, st, pad, pad, op, op), 2, x, w, b);
    }
  }

  @Test
  void groupedDilatedConvTranspose2dMatchesPyTorch() {
    // cuDNN's backward-data with the group count and dilation in the descriptor (an output padding of at least the
    // stride: x padded first); ConvTranspose2dOpsTest's PyTorch 1.13 cases
    for (Object[] c : ConvTranspose2dOpsTest.CASES) {
      ConvTranspose2dOpsTest.checkAgainstTorch((String) c[0], (int[]) c[1], cuda);
    }
    Pair x = randn("x", true, 2, 6, 5, 4);
    Pair w = randn("weight", true, 6, 1, 3, 3);
    Pair b = randn("bias", true, 6);
    compare("conv_transpose2d depthwise stride 2", in -> Ops.convTranspose2d(in[0], in[1], in[2], 2, 2, 1, 1, 1, 1, 1, 1, 6), 2,
        x, w, b);
  }

  @Test
  void conv2dCachesDescriptorsAndAlgorithmsPerShape() {
    // A shape no other test uses, so that its first call is the one that plans it.
    Pair x = randn("x", false, 3, 5, 11, 13);
    Pair w = randn("weight", false, 7, 5, 3, 3);
    long before = CuDnn.plansCreated();
    Ops.conv2d(x.gpu(), w.gpu(), null, 1, 1, 1, 1);
    assertEquals(before + 1, CuDnn.plansCreated(), "conv2d: the first call of a new shape makes one plan");
    Tensor again = Ops.conv2d(x.gpu(), w.gpu(), null, 1, 1, 1, 1);
    assertEquals(before + 1, CuDnn.plansCreated(), "conv2d: the second call of the same shape must hit the cache");
    assertClose("conv2d (cached plan)", "output", again, Ops.conv2d(x.cpu(), w.cpu(), null, 1, 1, 1, 1));
  }

  // ------------------------------------------------------------------ batch norm

  /** [N, C] (BatchNorm1d), [N, C, L] and [N, C, H, W] (BatchNorm2d). */
  private static final int[][] NORM_SHAPES = {{16, 5}, {4, 3, 6}, {4, 6, 5, 5}, {8, 32, 7, 7}};

  @Test
  void batchNormTrainingMatchesTheCpu() {
    for (int[] shape : NORM_SHAPES) {
      int c = shape[1];
      for (boolean affine : new boolean[] {true, false}) {
        String name = "batch_norm train " + Shapes.toString(shape) + (affine ? "" : " without affine");
        Pair x = randn("x", true, shape);
        Pair mean = randn("running_mean", false, c);
        Pair var = variance("running_var", c);
        Pair w = affine ? randn("weight", true, c) : null;
        Pair b = affine ? randn("bias", true, c) : null;
        compare(name, in -> Ops.batchNorm(in[0], in[1], in[2], in[3], in[4], true, 0.1, BN_EPS), 2, x, mean, var, w, b);
      }
    }
  }

  @Test
  void batchNormTrainingWithoutRunningStatisticsMatchesTheCpu() {
    compare("batch_norm train, no running statistics", in -> Ops.batchNorm(in[0], null, null, in[1], in[2], true, 0.1, BN_EPS), 2,
        randn("x", true, 6, 4, 3, 3), randn("weight", true, 4), randn("bias", true, 4));
  }

  @Test
  void batchNormTrainingWithMomentumOneKeepsTheUnbiasedBatchVariance() {
    // momentum 1 replaces the running statistics by the batch's: the variance must be the unbiased one, as on the CPU.
    compare("batch_norm train, momentum 1", in -> Ops.batchNorm(in[0], in[1], in[2], null, null, true, 1.0, BN_EPS), 1,
        randn("x", true, 3, 2, 2, 2), randn("running_mean", false, 2), variance("running_var", 2));
  }

  @Test
  void batchNormEvalMatchesTheCpu() {
    for (int[] shape : NORM_SHAPES) {
      int c = shape[1];
      for (boolean affine : new boolean[] {true, false}) {
        String name = "batch_norm eval " + Shapes.toString(shape) + (affine ? "" : " without affine");
        Pair x = randn("x", true, shape);
        Pair mean = randn("running_mean", false, c);
        Pair var = variance("running_var", c);
        Pair w = affine ? randn("weight", true, c) : null;
        Pair b = affine ? randn("bias", true, c) : null;
        float[] meanBefore = mean.cpu().toFloatArray();
        compare(name, in -> Ops.batchNorm(in[0], in[1], in[2], in[3], in[4], false, 0.1, BN_EPS), 2, x, mean, var, w, b);
        assertArrayEquals(meanBefore, mean.gpu().toFloatArray(), name + ": evaluation must leave the running mean as it was");
      }
    }
  }

  @Test
  void batchNormTakesAnyEpsilonTheCpuTakes() {
    // Kiln's kernels, not cuDNN's (whose minimum is 1e-5): a smaller eps works as on the CPU.
    compare("batch_norm train, eps 1e-8", in -> Ops.batchNorm(in[0], in[1], in[2], in[3], in[4], true, 0.1, 1e-8), 2,
        randn("x", true, 5, 3, 4), randn("running_mean", false, 3), variance("running_var", 3),
        randn("weight", true, 3), randn("bias", true, 3));
  }

  /**
   * The cuBLASLt product with bias + ReLU in its epilogue (what compiled models' Linear + ReLU
   * steps use) against relu(linear) on the CPU: with and without bias, batch sizes 1, 64 and an odd
   * one, feature counts that are and are not multiples of 4. cuBLASLt must have an algorithm for
   * the tutorials' MLP shape; for the others it may decline (the caller then runs its own kernels).
   */
  @Test
  void cublasLtLinearReluMatchesTheCpu() {
    int[][] shapes = {{64, 784, 512}, {1, 784, 512}, {37, 512, 10}, {5, 7, 3}};
    for (int[] s : shapes) {
      for (boolean withBias : new boolean[] {true, false}) {
        int rows = s[0], in = s[1], out = s[2];
        String name = "cuBLASLt relu(linear) " + rows + "x" + in + " -> " + out + (withBias ? "" : " without bias");
        Pair x = randn("x", false, rows, in);
        Pair w = randn("weight", false, out, in);
        Pair b = withBias ? randn("bias", false, out) : null;
        Tensor y = Tensor.empty(cuda, rows, out);
        boolean ran = dev.kiln.runtime.cuda.CuBlasLt.linearRelu(y.writeCuda(), x.gpu().readCuda(), w.gpu().readCuda(),
            withBias ? b.gpu().readCuda() : 0L, rows, in, out);
        if (!ran) {
          assertTrue(rows != 64 || in != 784, name + ": cuBLASLt offered no algorithm for the MLP's shape");
          continue;
        }
        assertClose(name, "output", y, Ops.relu(Ops.linear(x.cpu(), w.cpu(), withBias ? b.cpu() : null)));
      }
    }
  }
}
