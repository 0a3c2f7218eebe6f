package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Arrays;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The CUDA ops of {@link CudaOps} against the CPU backend: each op runs forward and backward on
 * both devices from the same random inputs and the same random output gradient, and the values
 * and every input's gradient must agree to a relative error {@code ||cuda - cpu|| / ||cpu||} of
 * {@value #TOLERANCE} (exactly, bit for bit, where the two compute the same float operations
 * in the same order: ReLU, dropout, max pooling). Needs a GPU: tagged {@code cuda}, run with
 * {@code -Dkiln.excludedGroups= -Dgroups=cuda}.
 */
@Tag("cuda")
class CudaOpsTest {
  private static final double TOLERANCE = 1e-4;
  /** Reseeds the generator before each device's forward, so that ops that draw (dropout) draw the same. */
  private static final long FORWARD_SEED = 99;
  private static Device gpu;

  /** How closely the two devices must agree. */
  enum Match {
    /** Relative norm error below the tolerance, values and gradients. */
    CLOSE,
    /** Bit for bit (NaN matching NaN), values and gradients. */
    EXACT,
    /** Values bit for bit, gradients close (atomic adds in a varying order). */
    EXACT_VALUES
  }

  @BeforeAll
  static void requireGpu() {
    gpu = Device.cuda(); // throws, saying why, where there is no usable GPU
  }

  @BeforeEach
  void seed() {
    Kiln.manualSeed(2024);
  }

  // ------------------------------------------------------------------ the comparison

  /**
   * Runs {@code f} on CPU copies and on GPU copies of {@code inputs} (CPU tensors; float ones get
   * {@code requiresGrad}), backpropagates one random output gradient through both, and compares
   * the outputs and the gradient of every float input. Returns the GPU output.
   */
  static Tensor compare(String op, Match match, Function<Tensor[], Tensor> f, Tensor... inputs) {
    Device gpu = Device.cuda(); // the field's device, for a caller of another class too (CudaMathOpsTest)
    Tensor[] onCpu = new Tensor[inputs.length];
    Tensor[] onGpu = new Tensor[inputs.length];
    for (int i = 0; i < inputs.length; i++) {
      onCpu[i] = Tensor.wrap(inputs[i].toFloatArray(), inputs[i].dtype(), inputs[i].shape());
      onGpu[i] = onCpu[i].to(gpu);
      assertTrue(onGpu[i].device().isCuda(), op + ": input " + i + " did not move to the GPU");
      if (inputs[i].dtype() == DType.FLOAT32) {
        onCpu[i].requiresGrad(true);
        onGpu[i].requiresGrad(true);
      }
    }
    Kiln.manualSeed(FORWARD_SEED);
    Tensor cpuOut = f.apply(onCpu);
    Kiln.manualSeed(FORWARD_SEED);
    Tensor gpuOut = f.apply(onGpu);
    assertTrue(gpuOut.device().isCuda(), op + ": the result is on " + gpuOut.device() + ", expected cuda");
    assertArrayEquals(cpuOut.shape(), gpuOut.shape(),
        op + ": result shape " + Shapes.toString(gpuOut.shape()) + " on cuda, " + Shapes.toString(cpuOut.shape()) + " on cpu");
    agree(op + ": forward values " + Shapes.toString(cpuOut.shape()), match != Match.CLOSE, gpuOut, cpuOut);

    Tensor gradOut = Tensor.randn(cpuOut.shape());
    cpuOut.backward(gradOut);
    gpuOut.backward(gradOut.to(gpu));
    for (int i = 0; i < inputs.length; i++) {
      if (!onCpu[i].requiresGrad()) {
        continue;
      }
      String what = op + ": gradient of input " + i + " " + Shapes.toString(inputs[i].shape());
      Tensor cpuGrad = onCpu[i].grad();
      Tensor gpuGrad = onGpu[i].grad();
      if (cpuGrad == null) {
        assertNull(gpuGrad, what + ": none on the cpu, but one on cuda");
        continue;
      }
      assertNotNull(gpuGrad, what + ": none on cuda");
      assertTrue(gpuGrad.device().isCuda(), what + ": on " + gpuGrad.device() + ", expected cuda");
      assertArrayEquals(cpuGrad.shape(), gpuGrad.shape(), what + ": shape " + Shapes.toString(gpuGrad.shape()) + " on cuda");
      agree(what, match == Match.EXACT, gpuGrad, cpuGrad);
    }
    return gpuOut;
  }

  /** Fails unless {@code cuda}'s values equal {@code cpu}'s (bit for bit, or to the relative tolerance). */
  private static void agree(String what, boolean exact, Tensor cuda, Tensor cpu) {
    float[] a = cuda.toFloatArray();
    float[] b = cpu.toFloatArray();
    assertEquals(b.length, a.length, what + ": element counts differ");
    if (exact) {
      for (int i = 0; i < a.length; i++) {
        if (Float.floatToIntBits(a[i]) != Float.floatToIntBits(b[i])) { // any NaN matches any NaN, 0 and -0 differ
          fail(what + " differ at flat index " + i + ": cuda " + a[i] + ", cpu " + b[i] + " (expected bit-for-bit equality)");
        }
      }
      return;
    }
    double diff = 0, norm = 0;
    int worst = -1;
    double worstAbs = -1;
    for (int i = 0; i < a.length; i++) {
      double d = (double) a[i] - b[i];
      diff += d * d;
      norm += (double) b[i] * b[i];
      if (!(Math.abs(d) <= worstAbs)) {
        worstAbs = Math.abs(d);
        worst = i;
      }
    }
    double rel = norm == 0 ? Math.sqrt(diff) : Math.sqrt(diff / norm);
    if (!(rel < TOLERANCE)) {
      fail(String.format("%s differ: relative error %.3g (tolerance %.1g); largest difference at flat index %d: cuda %s, cpu %s",
          what, rel, TOLERANCE, worst, a[worst], b[worst]));
    }
  }

  private static Tensor randn(float scale, int... shape) {
    float[] d = Tensor.randn(shape).toFloatArray();
    for (int i = 0; i < d.length; i++) {
      d[i] *= scale;
    }
    return Tensor.of(d, shape);
  }

  private static Tensor labels(int rows, int classes) {
    int[] l = new int[rows];
    for (int i = 0; i < rows; i++) {
      l[i] = Kiln.generator().nextInt(classes);
    }
    return Tensor.labels(l);
  }

  // ------------------------------------------------------------------ element-wise

  @Test
  void addSameShapeAndRepeated() {
    compare("add same shape", Match.CLOSE, in -> Ops.add(in[0], in[1]), Tensor.randn(4, 3, 5), Tensor.randn(4, 3, 5));
    compare("add [4,3,5] + [5]", Match.CLOSE, in -> Ops.add(in[0], in[1]), Tensor.randn(4, 3, 5), Tensor.randn(5));
    compare("add [4,3,5] + [3,5]", Match.CLOSE, in -> Ops.add(in[0], in[1]), Tensor.randn(4, 3, 5), Tensor.randn(3, 5));
    compare("add [4,3,5] + rank 0", Match.CLOSE, in -> Ops.add(in[0], in[1]), Tensor.randn(4, 3, 5), Tensor.randn());
    // More than 1024 rows: the bias gradient is summed in chunks, then the chunks' sums.
    compare("add [3000,40] + [40]", Match.CLOSE, in -> Ops.add(in[0], in[1]), Tensor.randn(3000, 40), Tensor.randn(40));
    compare("add [70000,2] + [2]", Match.CLOSE, in -> Ops.add(in[0], in[1]), Tensor.randn(70000, 2), Tensor.randn(2));
  }

  @Test
  void mulSameShapeAndRepeated() {
    compare("mul same shape", Match.CLOSE, in -> Ops.mul(in[0], in[1]), Tensor.randn(4, 3, 5), Tensor.randn(4, 3, 5));
    compare("mul [4,3,5] * [5]", Match.CLOSE, in -> Ops.mul(in[0], in[1]), Tensor.randn(4, 3, 5), Tensor.randn(5));
    compare("mul [4,3,5] * [3,5]", Match.CLOSE, in -> Ops.mul(in[0], in[1]), Tensor.randn(4, 3, 5), Tensor.randn(3, 5));
    compare("mul [4,3,5] * rank 0", Match.CLOSE, in -> Ops.mul(in[0], in[1]), Tensor.randn(4, 3, 5), Tensor.randn());
    compare("mul [2500,33] * [33]", Match.CLOSE, in -> Ops.mul(in[0], in[1]), Tensor.randn(2500, 33), Tensor.randn(33));
  }

  @Test
  void broadcastingAsOnTheCpu() {
    // expanded on the device (one spread kernel per run of stretched dimensions), then the kernels above
    compare("add [4,1] + [1,5]", Match.EXACT_VALUES, in -> Ops.add(in[0], in[1]), Tensor.randn(4, 1), Tensor.randn(1, 5));
    compare("mul [2,3,4,5] * [2,3,1,1]", Match.CLOSE, in -> Ops.mul(in[0], in[1]), Tensor.randn(2, 3, 4, 5), Tensor.randn(2, 3, 1, 1));
    compare("mul [3,1,1] * [2,3,4,5]", Match.CLOSE, in -> Ops.mul(in[0], in[1]), Tensor.randn(3, 1, 1), Tensor.randn(2, 3, 4, 5));
    compare("sub [5] - [3,5]", Match.EXACT_VALUES, in -> Ops.sub(in[0], in[1]), Tensor.randn(5), Tensor.randn(3, 5));
    compare("div [2,1,4] / [1,3,1]", Match.EXACT_VALUES, in -> Ops.div(in[0], in[1]), Tensor.randn(2, 1, 4), Tensor.uniform(0.5f, 2f, 1, 3, 1));
    compare("expand [3,1] to [2,3,4]", Match.EXACT_VALUES, in -> Ops.expand(in[0], 2, 3, 4), Tensor.randn(3, 1));
  }

  @Test
  void binaryCrossEntropyAsOnTheCpu() {
    Tensor target = Tensor.of(new float[] {0, 1, 1, 0, 0.3f, 1, 0, 1}, 8, 1);
    compare("bce with logits", Match.EXACT, in -> Ops.binaryCrossEntropyWithLogits(in[0], in[1], true), Tensor.randn(8, 1), target);
    compare("bce", Match.EXACT, in -> Ops.binaryCrossEntropyPerElement(in[0], in[1]), Tensor.rand(8, 1), target);
  }

  @Test
  void comparisonsAndWhereAsOnTheCpu() {
    compare("where", Match.EXACT, in -> Tensor.where(in[0].gt(in[1]), in[0], in[1]), Tensor.randn(4, 5), Tensor.randn(5));
    Tensor mask = Tensor.randn(3, 4).to(gpu).le(0f);
    assertTrue(mask.device().isCuda());
  }

  @Test
  void geluAsOnTheCpu() {
    compare("gelu", Match.CLOSE, in -> Ops.gelu(in[0]), Tensor.randn(7, 9).mul(3f));
    compare("gelu tanh", Match.CLOSE, in -> Ops.gelu(in[0], "tanh"), Tensor.randn(7, 9).mul(3f));
    Tensor far = Tensor.of(new float[] {Float.NEGATIVE_INFINITY, -1e30f, -20f, 20f, 1e30f, Float.POSITIVE_INFINITY});
    assertArrayEquals(Ops.gelu(far, "tanh").toFloatArray(), Ops.gelu(far.to(gpu), "tanh").toFloatArray(), "gelu tanh far out");
  }

  @Test
  void batchedMatmulAsOnTheCpu() {
    compare("bmm", Match.CLOSE, in -> Ops.bmm(in[0], in[1]), Tensor.randn(3, 4, 5), Tensor.randn(3, 5, 2));
    compare("matmul broadcast", Match.CLOSE, in -> in[0].matmul(in[1]), Tensor.randn(2, 3, 4, 5), Tensor.randn(3, 5, 2));
    compare("matmul rows", Match.CLOSE, in -> in[0].matmul(in[1]), Tensor.randn(2, 3, 5), Tensor.randn(5, 4));
    compare("matmul vector", Match.CLOSE, in -> in[0].matmul(in[1]), Tensor.randn(5), Tensor.randn(2, 5, 3));
  }

  @Test
  void cloneMaskedFillAndTrianglesAsOnTheCpu() {
    compare("clone", Match.EXACT, in -> in[0].clone(), Tensor.randn(3, 4));
    compare("masked_fill", Match.EXACT, in -> in[0].maskedFill(Tensor.ones(4, 4).triu(1).to(in[0].device()), -5f), Tensor.randn(2, 4, 4));
    compare("tril", Match.EXACT, in -> in[0].tril(-1), Tensor.randn(2, 3, 5));
  }

  /**
   * Group norm's kernels against the CPU's: several ranks and group sizes, rows and channels longer than a block (300
   * values), one channel a group (instance norm), without a weight or a bias or either; PyTorch's own values and
   * gradients (GroupNormTest's reference) on the device; the parameters' gradients accumulated over two backwards.
   */
  @Test
  void groupNormAsOnTheCpu() {
    compare("group_norm [4, 6] in 3", Match.CLOSE, in -> Ops.groupNorm(in[0], 3, in[1], in[2], 1e-5), Tensor.randn(4, 6),
        Tensor.randn(6), Tensor.randn(6));
    compare("group_norm [3, 8, 5, 5] in 4", Match.CLOSE, in -> Ops.groupNorm(in[0], 4, in[1], in[2], 1e-5),
        Tensor.randn(3, 8, 5, 5), Tensor.randn(8), Tensor.randn(8));
    compare("group_norm [2, 4, 300] in 2", Match.CLOSE, in -> Ops.groupNorm(in[0], 2, in[1], in[2], 1e-3),
        Tensor.randn(2, 4, 300).add(Tensor.scalar(50f)), Tensor.randn(4), Tensor.randn(4));
    compare("group_norm instance [2, 6, 2, 2, 2]", Match.CLOSE, in -> Ops.groupNorm(in[0], 6, in[1], in[2], 1e-5),
        Tensor.randn(2, 6, 2, 2, 2), Tensor.randn(6), Tensor.randn(6));
    compare("group_norm without affine", Match.CLOSE, in -> Ops.groupNorm(in[0], 2, null, null, 1e-5), Tensor.randn(3, 4, 7));
    compare("group_norm, weight only", Match.CLOSE, in -> Ops.groupNorm(in[0], 1, in[1], null, 1e-5), Tensor.randn(3, 4, 7),
        Tensor.randn(4));
    compare("group_norm, bias only", Match.CLOSE, in -> Ops.groupNorm(in[0], 4, null, in[1], 1e-5), Tensor.randn(3, 4, 7),
        Tensor.randn(4));
    for (Object[] c : GroupNormTest.CASES) {
      GroupNormTest.checkAgainstTorch((String) c[0], (Integer) c[1], (Double) c[2], gpu);
    }
    Tensor x = Tensor.randn(2, 4, 3, 3);
    Tensor w = Tensor.randn(4), b = Tensor.randn(4), g = Tensor.randn(2, 4, 3, 3);
    Tensor wc = w.clone().requiresGrad(true), bc = b.clone().requiresGrad(true);
    Tensor wg = w.to(gpu).requiresGrad(true), bg = b.to(gpu).requiresGrad(true);
    for (int round = 0; round < 2; round++) {
      Ops.groupNorm(x, 2, wc, bc, 1e-5).backward(g);
      Ops.groupNorm(x.to(gpu), 2, wg, bg, 1e-5).backward(g.to(gpu));
    }
    agree("group_norm weight gradient over two backwards", false, wg.grad(), wc.grad());
    agree("group_norm bias gradient over two backwards", false, bg.grad(), bc.grad());
  }

  @Test
  void layerNormAsOnTheCpu() { // the CPU's fused kernels against CUDA's composed device ops
    compare("layer_norm", Match.CLOSE, in -> Ops.layerNorm(in[0], new int[] {3, 5}, in[1], in[2], 1e-5), Tensor.randn(4, 3, 5),
        Tensor.randn(3, 5), Tensor.randn(3, 5));
  }

  @Test
  void gatherAndIndexSelectAsOnTheCpu() {
    compare("gather", Match.EXACT, in -> in[0].gather(1, in[1]), Tensor.randn(2, 3, 4), Tensor.labels(2, 0, 1, 2, 1, 1, 0, 2).reshape(2, 1, 4));
    compare("index_select", Match.EXACT, in -> in[0].indexSelect(2, in[1]), Tensor.randn(2, 3, 4), Tensor.labels(3, 0, 3));
  }

  @Test
  void sinAndCosAsOnTheCpu() {
    compare("sin", Match.CLOSE, in -> in[0].sin(), Tensor.randn(5, 7).mul(4f));
    compare("cos", Match.CLOSE, in -> in[0].cos(), Tensor.randn(5, 7).mul(4f));
  }

  @Test
  void siluAsOnTheCpu() {
    compare("silu", Match.CLOSE, in -> Ops.silu(in[0]), Tensor.randn(7, 9).mul(4f));
  }

  @Test
  void upsampleAndChannelDropoutAsOnTheCpu() {
    compare("upsample nearest (2, 3)", Match.EXACT_VALUES, in -> Ops.upsampleNearest(in[0], 2, 3), Tensor.randn(2, 3, 4, 5)); // the CPU sums each block in double, CUDA the expand's way
    compare("dropout2d", Match.EXACT, in -> Ops.dropout2d(in[0], 0.4, true), Tensor.randn(4, 6, 3, 3));
  }

  @Test
  void embeddingAsOnTheCpu() {
    compare("embedding", Match.EXACT, in -> onDevice(Ops.embedding(in[1], in[0], 2)), Tensor.randn(6, 4), Tensor.labels(0, 2, 5, 2, 1, 0));
    for (String mode : new String[] {"sum", "mean", "max"}) {
      compare("embedding_bag " + mode, Match.EXACT, in -> onDevice(Ops.embeddingBag(in[1], in[2], in[0], null, mode, false, 2)),
          Tensor.randn(6, 4), Tensor.labels(0, 2, 5, 2, 1, 0, 3), Tensor.labels(0, 3, 3));
    }
  }

  @Test
  void unbindGathersTheSlicesGradientsOnTheDevice() {
    compare("unbind(1), slice 1 unused", Match.EXACT, in -> {
      Tensor[] s = Ops.unbind(in[0], 1);
      return Tensor.cat(List.of(s[2], s[0].mul(s[0])), 0);
    }, Tensor.randn(3, 4, 5));
    compare("unbind(0) of 20 steps stacked back", Match.EXACT, in -> Tensor.stack(List.of(Ops.unbind(in[0], 0)), 0), Tensor.randn(20, 3, 7));
    compare("unbind(-1)", Match.EXACT, in -> Tensor.stack(List.of(Ops.unbind(in[0], -1)), 0), Tensor.randn(2, 3, 4));
    compare("chunk(3, 1), piece 1 unused", Match.EXACT, in -> {
      Tensor[] s = Ops.chunk(in[0], 3, 1);
      return Tensor.cat(List.of(s[2], s[0].mul(s[0])), 1);
    }, Tensor.randn(3, 7, 5));
    compare("split([1, 3], -1)", Match.EXACT, in -> {
      Tensor[] s = Ops.split(in[0], new int[] {1, 3}, -1);
      return Tensor.cat(List.of(s[1], s[0]), -1);
    }, Tensor.randn(2, 3, 4));
  }

  /** {@code count} random ids below {@code num} (few rows, so most repeat), as a label tensor of {@code shape}. */
  private static Tensor randomIds(int num, int... shape) {
    float[] u = Tensor.rand(shape).toFloatArray();
    int[] ids = new int[u.length];
    for (int i = 0; i < u.length; i++) {
      ids[i] = Math.min(num - 1, (int) (u[i] * num));
    }
    return Tensor.labels(ids).reshape(shape);
  }

  @Test
  void embeddingOnFreshRandomIdsIsExact() { // the gradient's sums in the CPU's order: bit for bit, repeats and all
    for (int paddingIdx : new int[] {-1, 0, 3}) {
      compare("embedding [4, 9] ids of 5 rows, padding " + paddingIdx, Match.EXACT,
          in -> onDevice(Ops.embedding(in[1], in[0], paddingIdx)), Tensor.randn(5, 7), randomIds(5, 4, 9));
    }
    compare("embedding of 1000 ids of 3 rows (long segments)", Match.EXACT, in -> onDevice(Ops.embedding(in[1], in[0], -1)),
        Tensor.randn(3, 33), randomIds(3, 1000));
    compare("embedding of a scalar id", Match.EXACT, in -> onDevice(Ops.embedding(in[1], in[0], -1)), Tensor.randn(4, 3),
        Tensor.labels(2).reshape());
    compare("embedding of no ids", Match.EXACT, in -> onDevice(Ops.embedding(in[1], in[0], -1)), Tensor.randn(4, 3),
        Tensor.wrap(new float[0], DType.INT32, 0));
    compare("embedding of a table used twice (the gradient added into the first's)", Match.EXACT,
        in -> Ops.embedding(in[1], in[0], -1).add(Ops.embedding(in[2], in[0], 1)), Tensor.randn(6, 5), randomIds(6, 3, 4),
        randomIds(6, 3, 4));
  }

  @Test
  void embeddingGradientAccumulatesOverStepsAsOnTheCpu() {
    Tensor w = Tensor.randn(7, 6);
    Tensor cpu = Tensor.wrap(w.toFloatArray(), 7, 6).requiresGrad(true);
    Tensor cuda = w.to(gpu).requiresGrad(true);
    for (int step = 0; step < 3; step++) {
      Tensor ids = randomIds(7, 5, 4);
      Tensor g = Tensor.randn(5, 4, 6);
      Ops.embedding(ids, cpu, 1).backward(g);
      Ops.embedding(ids.to(gpu), cuda, 1).backward(g.to(gpu));
    }
    assertTrue(cuda.grad().device().isCuda());
    agree("embedding's gradient after three backwards", true, cuda.grad(), cpu.grad());
  }

  @Test
  void embeddingBagOnFreshRandomIdsIsExact() {
    for (String mode : new String[] {"sum", "mean", "max"}) {
      for (int paddingIdx : new int[] {-1, 2}) {
        String what = "embedding_bag " + mode + " padding " + paddingIdx;
        compare(what + ", 2-D [5, 6]", Match.EXACT, in -> onDevice(Ops.embeddingBag(in[1], null, in[0], null, mode, false, paddingIdx)),
            Tensor.randn(4, 9), randomIds(4, 5, 6));
        // an empty bag (offsets 3, 3), a bag of padding alone where the ids allow, and a long last bag
        compare(what + ", offsets", Match.EXACT, in -> onDevice(Ops.embeddingBag(in[1], in[2], in[0], null, mode, false, paddingIdx)),
            Tensor.randn(4, 9), randomIds(4, 20), Tensor.labels(0, 3, 3, 4, 9));
        compare(what + ", include_last_offset", Match.EXACT,
            in -> onDevice(Ops.embeddingBag(in[1], in[2], in[0], null, mode, true, paddingIdx)),
            Tensor.randn(4, 9), randomIds(4, 20), Tensor.labels(0, 3, 3, 4, 15)); // entries 15.. are in no bag
      }
    }
    float[] ties = {1, 2, 3, 1, 2, 3, 0, 5, 3, Float.NaN, 2, -1}; // rows 0 and 1 equal; a NaN in row 3
    compare("embedding_bag max with ties and a NaN", Match.EXACT,
        in -> onDevice(Ops.embeddingBag(in[1], in[2], in[0], null, "max", false, -1)),
        Tensor.of(ties, 4, 3), Tensor.labels(1, 0, 0, 1, 2, 3, 2, 3), Tensor.labels(0, 2, 4, 6));
  }

  @Test
  void embeddingBagPerSampleWeightsAsOnTheCpu() {
    for (int paddingIdx : new int[] {-1, 1}) {
      compare("embedding_bag sum, per-sample weights, offsets, padding " + paddingIdx, Match.EXACT,
          in -> onDevice(Ops.embeddingBag(in[1], in[2], in[0], in[3], "sum", false, paddingIdx)),
          Tensor.randn(5, 8), randomIds(5, 17), Tensor.labels(0, 4, 4, 10), Tensor.randn(17));
      compare("embedding_bag sum, per-sample weights, 2-D, include_last_offset ignored, padding " + paddingIdx, Match.EXACT,
          in -> onDevice(Ops.embeddingBag(in[1], null, in[0], in[2], "sum", false, paddingIdx)),
          Tensor.randn(5, 8), randomIds(5, 3, 6), Tensor.randn(3, 6));
      compare("embedding_bag sum, per-sample weights, include_last_offset, padding " + paddingIdx, Match.EXACT,
          in -> onDevice(Ops.embeddingBag(in[1], in[2], in[0], in[3], "sum", true, paddingIdx)),
          Tensor.randn(5, 8), randomIds(5, 12), Tensor.labels(0, 5, 9), Tensor.randn(12));
    }
  }

  @Test
  void embeddingsKeepTheTableAndItsGradientOnTheDevice() {
    Tensor w = Tensor.randn(50, 16).to(gpu).requiresGrad(true);
    Tensor ids = randomIds(50, 8, 12).to(gpu);
    Ops.embedding(ids, w, 0).sum().backward();
    Ops.embeddingBag(ids, null, w, null, "mean", false, 0).sum().backward();
    Ops.embeddingBag(ids, null, w, null, "max", false, -1).sum().backward();
    Ops.embeddingBag(ids, null, w, Tensor.randn(8, 12).to(gpu).requiresGrad(true), "sum", false, -1).sum().backward();
    assertTrue(!w.isHeapCurrent(), "the table was read on the host");
    assertTrue(!w.grad().isHeapCurrent(), "the table's gradient was made or read on the host");
  }

  @Test
  void embeddingIdsOutOfRangeFailAsOnTheCpu() {
    Tensor w = Tensor.randn(5, 3);
    for (Tensor ids : new Tensor[] {Tensor.labels(0, 4, 5, 1), Tensor.labels(2, -1), Tensor.labels(1, 2, 3, 7, 0, 0).reshape(2, 3)}) {
      String cpu = assertThrows(IllegalArgumentException.class, () -> Ops.embedding(ids, w, -1)).getMessage();
      String cuda = assertThrows(IllegalArgumentException.class, () -> Ops.embedding(ids.to(gpu), w.to(gpu), -1)).getMessage();
      assertEquals(cpu, cuda);
      assertTrue(cuda.startsWith("embedding: index "), cuda);
      Tensor flat = ids.reshape(ids.numel());
      String bagCpu = assertThrows(IllegalArgumentException.class,
          () -> Ops.embeddingBag(flat, Tensor.labels(0, 1), w, null, "sum", false, -1)).getMessage();
      String bagCuda = assertThrows(IllegalArgumentException.class,
          () -> Ops.embeddingBag(flat.to(gpu), Tensor.labels(0, 1).to(gpu), w.to(gpu), null, "sum", false, -1)).getMessage();
      assertEquals(bagCpu, bagCuda);
      assertTrue(bagCuda.startsWith("embedding_bag: index "), bagCuda);
    }
    assertEquals("embedding: index 5 at flat position 2 of [4] is out of range for 5 embeddings (0..4)",
        assertThrows(IllegalArgumentException.class, () -> Ops.embedding(Tensor.labels(0, 4, 5, 1).to(gpu), w.to(gpu), -1)).getMessage());
  }

  @Test
  void clampAsOnTheCpu() {
    float[] edges = {-3, -1, -0.5f, 0, 0.5f, 1, 2, Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY};
    compare("clamp(-1, 1) edges", Match.EXACT, in -> in[0].clamp(-1, 1), Tensor.of(edges, edges.length));
    compare("clampMin(0)", Match.EXACT, in -> in[0].clampMin(0), Tensor.randn(5, 7));
    compare("clamp(2, 1)", Match.EXACT, in -> in[0].clamp(2, 1), Tensor.randn(33));
  }

  @Test
  void permuteAsOnTheCpu() {
    compare("permute(0, 2, 3, 1)", Match.EXACT, in -> onDevice(in[0].permute(0, 2, 3, 1)), Tensor.randn(2, 3, 4, 5));
    compare("transpose(0, 2)", Match.EXACT, in -> onDevice(in[0].transpose(0, 2)), Tensor.randn(3, 4, 5));
  }

  @Test
  void permuteIsOneDeviceKernelAtEveryRankUpToSix() {
    compare("heads' split permute(0, 2, 1, 3)", Match.EXACT, in -> onDevice(in[0].permute(0, 2, 1, 3)), Tensor.randn(2, 7, 3, 8));
    compare("heads' join transpose(1, 2)", Match.EXACT, in -> onDevice(in[0].transpose(1, 2)), Tensor.randn(2, 3, 7, 8));
    compare("transpose(-2, -1)", Match.EXACT, in -> onDevice(in[0].transpose(-2, -1)), Tensor.randn(2, 3, 5, 4));
    compare("permute(0) of a vector", Match.EXACT, in -> onDevice(in[0].permute(0)), Tensor.randn(9));
    compare("permute(1, 0)", Match.EXACT, in -> onDevice(in[0].permute(1, 0)), Tensor.randn(33, 17));
    compare("permute(2, 0, 1)", Match.EXACT, in -> onDevice(in[0].permute(2, 0, 1)), Tensor.randn(4, 5, 6));
    compare("permute(4, 2, 0, 3, 1)", Match.EXACT, in -> onDevice(in[0].permute(4, 2, 0, 3, 1)), Tensor.randn(2, 3, 4, 5, 3));
    compare("permute(5, 3, 1, 0, 4, 2) rank 6", Match.EXACT, in -> onDevice(in[0].permute(5, 3, 1, 0, 4, 2)), Tensor.randn(2, 3, 2, 4, 3, 5));
    compare("permute(-1, 0, 1) with ones", Match.EXACT, in -> onDevice(in[0].permute(-1, 0, 1)), Tensor.randn(1, 5, 1));
    compare("permute of an empty tensor", Match.EXACT, in -> onDevice(in[0].permute(2, 0, 1)), Tensor.randn(3, 0, 4));
    compare("permute of a permute", Match.EXACT, in -> in[0].permute(0, 2, 1, 3).permute(3, 1, 2, 0), Tensor.randn(2, 3, 4, 5));
    float[] edges = {Float.NaN, -0f, 0f, Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, Float.MIN_VALUE};
    compare("permute keeps NaN, -0 and infinities", Match.EXACT, in -> in[0].permute(1, 0), Tensor.of(edges, 2, 3));
  }

  @Test
  void permuteAboveRankSixAndOfLabelsStaysOnTheHost() {
    compare("permute rank 7", Match.EXACT, in -> in[0].permute(6, 5, 4, 3, 2, 1, 0), Tensor.randn(2, 1, 2, 3, 1, 2, 3));
    Tensor labels = Tensor.labels(0, 1, 2, 3, 4, 5).reshape(2, 3);
    Tensor permuted = labels.to(gpu).permute(1, 0);
    assertTrue(permuted.device().isCuda());
    assertEquals(DType.INT32, permuted.dtype());
    assertArrayEquals(labels.permute(1, 0).toIntArray(), permuted.toIntArray());
  }

  @Test
  void maskedFillOverHeadsIsOneDeviceKernel() {
    int s = 5;
    Tensor causal = Tensor.ones(s, s).triu(1);
    compare("masked_fill [S, S] over [N, H, S, S], -inf", Match.EXACT,
        in -> onDevice(in[0].maskedFill(causal.to(in[0].device()), Float.NEGATIVE_INFINITY)), Tensor.randn(2, 3, s, s));
    compare("masked_fill [1, 1, S, S] over [N, H, S, S]", Match.EXACT,
        in -> onDevice(in[0].maskedFill(causal.reshape(1, 1, s, s).to(in[0].device()), -1e9f)), Tensor.randn(2, 3, s, s));
    compare("masked_fill by labels, NaN", Match.EXACT,
        in -> onDevice(in[0].maskedFill(Tensor.labels(1, 0, 0, 3).reshape(4).to(in[0].device()), Float.NaN)), Tensor.randn(3, 4));
    float[] odd = {Float.NaN, -0f, 0f, 2f, Float.NEGATIVE_INFINITY, Float.MIN_VALUE}; // nonzero fills: NaN and -inf do, -0 does not
    compare("masked_fill by NaN, -0 and tiny mask values", Match.EXACT,
        in -> onDevice(in[0].maskedFill(Tensor.of(odd, 6).to(in[0].device()), 7f)), Tensor.randn(4, 6));
    compare("masked_fill then softmax (causal attention)", Match.CLOSE,
        in -> Ops.softmax(in[0].maskedFill(causal.to(in[0].device()), Float.NEGATIVE_INFINITY), -1), Tensor.randn(2, 3, s, s));
    compare("tril", Match.EXACT, in -> onDevice(in[0].tril(0)), Tensor.randn(2, 4, 4));
  }

  @Test
  void whereRepeatingOverLeadingDimensionsIsOneDeviceKernel() {
    compare("where [4,5] ? [4,5] : [5]", Match.EXACT, in -> onDevice(Tensor.where(in[0].gt(in[1]), in[0], in[1])), Tensor.randn(4, 5), Tensor.randn(5));
    compare("where [5] ? [3,4,5] : [1,4,5]", Match.EXACT, in -> onDevice(Tensor.where(in[2], in[0], in[1])),
        Tensor.randn(3, 4, 5), Tensor.randn(1, 4, 5), Tensor.labels(1, 0, 0, 2, 0));
    compare("where [2,3] ? scalar : scalar", Match.EXACT, in -> onDevice(Tensor.where(in[2], in[0], in[1])),
        Tensor.scalar(1.5f), Tensor.scalar(-2f), Tensor.of(new float[] {1, 0, 0, 1, 1, 0}, 2, 3));
    compare("where over an empty result", Match.EXACT, in -> onDevice(Tensor.where(in[0].gt(0f), in[0], in[1])), Tensor.randn(0, 3), Tensor.randn(3));
  }

  @Test
  void comparisonsRepeatingOverLeadingDimensionsAsOnTheCpu() {
    float[] odd = {Float.NaN, -0f, 0f, 1f, -1f, Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, 2f, 1f, 0.5f, 0f, -3f};
    Tensor x = Tensor.of(odd, 2, 6), row = Tensor.of(new float[] {0f, 0f, -0f, 1f, Float.NaN, Float.NEGATIVE_INFINITY}, 6);
    List<java.util.function.BiFunction<Tensor, Tensor, Tensor>> ops = List.of(Tensor::eq, Tensor::ne, Tensor::gt, Tensor::ge,
        Tensor::lt, Tensor::le);
    for (int k = 0; k < ops.size(); k++) {
      var op = ops.get(k);
      sameMask("comparison " + k + " with a row", op, x, row);
      sameMask("comparison " + k + " with a scalar", op, x, Tensor.scalar(0f));
      sameMask("comparison " + k + " of [3, 2, 6] with [2, 6]", op, Tensor.randn(3, 2, 6), Tensor.randn(2, 6));
      sameMask("comparison " + k + " of [4, 1] with [1, 5] (on the host)", op, Tensor.randn(4, 1), Tensor.randn(1, 5));
    }
    compare("mask.eq(0) of a causal mask, then masked_fill", Match.EXACT,
        in -> onDevice(in[0].maskedFill(Tensor.ones(4, 4).tril(0).to(in[0].device()).eq(0f), Float.NEGATIVE_INFINITY)),
        Tensor.randn(2, 4, 4));
  }

  /** A comparison's 0/1 mask on the GPU, bit for bit the CPU's, on the GPU and without gradient. */
  private static void sameMask(String what, java.util.function.BiFunction<Tensor, Tensor, Tensor> op, Tensor a, Tensor b) {
    Tensor onCpu = op.apply(a, b);
    Tensor onGpu = op.apply(a.to(gpu), b.to(gpu));
    assertTrue(onGpu.device().isCuda(), what + ": on " + onGpu.device());
    assertTrue(!onGpu.requiresGrad(), what + ": a mask has no gradient");
    assertArrayEquals(onCpu.shape(), onGpu.shape(), what + ": shape");
    agree(what, true, onGpu, onCpu);
  }

  @Test
  void whereWithOtherBroadcastsExpandsOnTheDevice() {
    compare("where [4,1] ? [4,5] : [1,5]", Match.EXACT, in -> onDevice(Tensor.where(in[2], in[0], in[1])),
        Tensor.randn(4, 5), Tensor.randn(1, 5), Tensor.of(new float[] {1, 0, 1, 0}, 4, 1));
    // a padding mask [N, S] as attention reads it, [N, 1, 1, S] over the scores [N, H, S, S]
    compare("masked_fill of scores by a padding mask", Match.EXACT,
        in -> onDevice(in[0].maskedFill(in[1].reshape(-1, 1, 1, 5).eq(0f), Float.NEGATIVE_INFINITY)),
        Tensor.randn(2, 3, 5, 5), Tensor.of(new float[] {1, 1, 1, 0, 0, 1, 1, 1, 1, 0}, 2, 5));
    // a branch stretched mid-shape: its gradient sums back through the expansion (in double, the host in float)
    compare("where [3,4] ? [3,1] : [3,4]", Match.EXACT_VALUES, in -> onDevice(Tensor.where(in[2], in[0], in[1])),
        Tensor.randn(3, 1), Tensor.randn(3, 4), Tensor.of(new float[] {1, 0, 1, 0, 0, 1, 1, 0, 1, 1, 0, 0}, 3, 4));
    // a label condition that does not repeat: on the host, as before
    compare("where labels [4,1] ? [4,5] : [4,5]", Match.EXACT, in -> Tensor.where(in[2], in[0], in[1]),
        Tensor.randn(4, 5), Tensor.randn(4, 5), Tensor.labels(1, 0, 2, 0).reshape(4, 1));
  }

  /** {@code t}, checked to have come from a CUDA kernel's node rather than the host path's. */
  private static Tensor onDevice(Tensor t) {
    if (t.device().isCuda() && t.gradFn() != null) {
      assertSame(CudaOps.class, t.gradFn().getClass().getEnclosingClass(), t.gradFn().name() + " was computed on the host");
    }
    return t;
  }

  /** out, after checking that a device op read none of {@code read} on the host nor made out there. */
  private static Tensor keptOnDevice(Tensor out, Tensor... read) {
    if (out.device().isCuda()) {
      assertTrue(!out.isHeapCurrent(), "the result was computed on the host");
      for (Tensor t : read) {
        assertTrue(!t.isHeapCurrent(), "an input " + Shapes.toString(t.shape()) + " was read on the host");
      }
    }
    return out;
  }

  @Test
  void maskedSelectNonzeroAndRollOnTheDeviceAsOnTheCpu() {
    Tensor odd = Tensor.of(new float[] {Float.NaN, -0f, 0f, 2f, Float.NEGATIVE_INFINITY, Float.MIN_VALUE, 0f, -1f}, 8);
    compare("masked_select [37,61] (three chunks)", Match.EXACT, in -> keptOnDevice(in[0].maskedSelect(in[0].gt(0.3f)), in[0]),
        Tensor.randn(37, 61));
    compare("masked_select by NaN, -0 and tiny mask values", Match.EXACT, in -> keptOnDevice(in[0].maskedSelect(in[1]), in[0]),
        Tensor.randn(3, 8), odd);
    compare("masked_select [5,1,300] by [4,300] broadcast", Match.CLOSE, in -> keptOnDevice(in[0].maskedSelect(in[1].lt(0)), in[0]),
        Tensor.randn(5, 1, 300), Tensor.randn(4, 300));
    compare("masked_select by labels [1,7] over [3,1]", Match.EXACT, in -> in[0].maskedSelect(in[1]), Tensor.randn(3, 1),
        Tensor.labels(1, 0, 0, 3, 1, 0, 1).reshape(1, 7));
    compare("masked_select of 300001 values (294 chunks: the offsets' scan in stretches)", Match.EXACT,
        in -> keptOnDevice(in[0].maskedSelect(in[0].gt(1f)), in[0]), Tensor.randn(300001));
    Tensor none = compare("masked_select of nothing", Match.EXACT, in -> in[0].maskedSelect(in[0].gt(100f)), Tensor.randn(5, 7));
    assertArrayEquals(new int[] {0}, none.shape());
    compare("masked_select of everything", Match.EXACT, in -> in[0].maskedSelect(in[0].gt(-100f)), Tensor.randn(1025));

    for (Tensor x : new Tensor[] {Tensor.randn(7, 11, 13).gt(0.5f), Tensor.of(odd.toFloatArray(), 2, 2, 2), Tensor.randn(300001).gt(2.5f),
        Tensor.randn(1025).gt(-9f), Tensor.zeros(4, 5), Tensor.labels(0, 3, 0, -2, 7), Tensor.scalar(0f).reshape(1)}) {
      Tensor cpu = x.nonzero(), onGpu = x.to(gpu), dev = onGpu.nonzero();
      assertTrue(dev.device().isCuda());
      assertEquals(DType.INT32, dev.dtype());
      keptOnDevice(dev, x.dtype() == DType.FLOAT32 ? new Tensor[] {onGpu} : new Tensor[0]);
      assertArrayEquals(cpu.shape(), dev.shape(), "nonzero of " + Shapes.toString(x.shape()));
      assertArrayEquals(cpu.toFloatArray(), dev.toFloatArray(), "nonzero of " + Shapes.toString(x.shape()));
    }

    compare("roll [3,5,7] over two dimensions", Match.EXACT, in -> keptOnDevice(in[0].roll(new int[] {2, -3}, new int[] {0, 2}), in[0]),
        Tensor.randn(3, 5, 7));
    compare("roll by more than the size, a dimension twice", Match.EXACT,
        in -> keptOnDevice(in[0].roll(new int[] {12, -1, 3}, new int[] {1, -1, 1}), in[0]), Tensor.randn(4, 5, 3));
    compare("roll flattened", Match.EXACT, in -> keptOnDevice(in[0].roll(-7), in[0]), Tensor.randn(3, 1031));
    compare("roll by 0 and a whole turn", Match.EXACT, in -> keptOnDevice(in[0].roll(new int[] {0, 6}, new int[] {0, 1}), in[0]),
        Tensor.randn(2, 6));
    compare("roll of nothing", Match.EXACT, in -> in[0].roll(new int[] {1}, new int[] {1}), Tensor.randn(0, 3));
    // a gradient of -0 reaches x as +0 on both devices (the CPU adds it into zeros)
    Tensor g = Tensor.of(new float[] {-0f, 1f, -0f, 2f, -0f, 3f}, 2, 3);
    for (Function<Tensor, Tensor> op : List.<Function<Tensor, Tensor>>of(x -> x.roll(new int[] {1, 2}, new int[] {0, 1}),
        x -> x.maskedSelect(Tensor.ones(2, 3).to(x.device())).reshape(2, 3))) {
      float[][] grads = new float[2][];
      for (int k = 0; k < 2; k++) {
        Tensor x = Tensor.randn(2, 3).to(k == 0 ? Device.cpu() : gpu).requiresGrad(true);
        op.apply(x).backward(g.to(x.device()));
        grads[k] = x.grad().toFloatArray();
      }
      for (int i = 0; i < 6; i++) {
        assertEquals(Float.floatToRawIntBits(grads[0][i]), Float.floatToRawIntBits(grads[1][i]), "gradient " + i + ": cpu " + grads[0][i]
            + ", cuda " + grads[1][i]);
      }
    }
  }

  @Test
  void maxAndMinAsOnTheCpu() {
    compare("max(1) values", Match.EXACT, in -> in[0].max(1).values(), Tensor.randn(4, 5, 3));
    compare("min(-1, keepDim) values", Match.EXACT, in -> in[0].min(-1, true).values(), Tensor.randn(4, 5));
    compare("max()", Match.EXACT, in -> in[0].max(), Tensor.randn(3, 7));
    compare("topk(3, 1) values", Match.EXACT, in -> in[0].topk(3, 1).values(), Tensor.randn(4, 6));
    Tensor x = Tensor.randn(6, 4);
    Tensor onGpu = x.to(gpu);
    assertTrue(onGpu.max(1).indices().device().isCuda());
    assertArrayEquals(x.max(1).indices().toIntArray(), onGpu.max(1).indices().toIntArray());
  }

  @Test
  void addAndMulCheckShapesAsOnTheCpu() {
    Tensor a = Tensor.randn(4, 3).to(gpu);
    Tensor b = Tensor.randn(4).to(gpu);
    var e = assertThrows(IllegalArgumentException.class, () -> Ops.add(a, b));
    assertTrue(e.getMessage().startsWith("add: shapes [4, 3] and [4] do not broadcast"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Ops.mul(a, b));
    assertTrue(e.getMessage().startsWith("mul: shapes [4, 3] and [4] do not broadcast"), e.getMessage());
  }

  @Test
  void scale() {
    compare("scale", Match.CLOSE, in -> Ops.scale(in[0], -0.37f), Tensor.randn(6, 7));
  }

  @Test
  void addAConstant() {
    compare("shift", Match.EXACT, in -> Ops.shift(in[0], 1.25f), Tensor.randn(6, 7));
  }

  // ------------------------------------------------------------------ activations

  @Test
  void reluIsExact() {
    compare("relu", Match.EXACT, in -> Ops.relu(in[0]), Tensor.randn(5, 301));
  }

  @Test
  void elementwiseMath() {
    compare("exp", Match.CLOSE, in -> Ops.exp(in[0]), randn(2f, 7, 33));
    compare("log", Match.CLOSE, in -> Ops.log(in[0]), Tensor.uniform(0.1f, 5f, 7, 33));
    compare("sqrt", Match.CLOSE, in -> Ops.sqrt(in[0]), Tensor.uniform(0.1f, 5f, 7, 33));
    compare("abs", Match.EXACT, in -> Ops.abs(in[0]), Tensor.randn(7, 33));
    compare("neg", Match.EXACT, in -> Ops.neg(in[0]), Tensor.randn(7, 33));
    compare("pow 3", Match.CLOSE, in -> Ops.pow(in[0], 3f), Tensor.randn(7, 33));
    compare("pow -1.5", Match.CLOSE, in -> Ops.pow(in[0], -1.5f), Tensor.uniform(0.5f, 3f, 7, 33));
    // bit for bit: a + (-b) is a - b, and the CPU sums a bias row's gradient as add's (float, row by row)
    compare("sub", Match.EXACT, in -> Ops.sub(in[0], in[1]), Tensor.randn(7, 33), Tensor.randn(33));
    // bit for bit: a true quotient both ways, and the gradients g / b and -g * (y / b) by one formula
    compare("div", Match.EXACT, in -> Ops.div(in[0], in[1]), Tensor.randn(7, 33), Tensor.uniform(0.5f, 3f, 7, 33));
    // a repeated divisor or dividend: the CPU sums its gradient over the repeats in one pass, the GPU through the expansion
    compare("div by a row", Match.EXACT_VALUES, in -> Ops.div(in[0], in[1]), Tensor.randn(7, 33), Tensor.uniform(0.5f, 3f, 33));
    compare("div by a column", Match.EXACT_VALUES, in -> Ops.div(in[0], in[1]), Tensor.randn(7, 33), Tensor.uniform(0.5f, 3f, 7, 1));
    compare("div of a column", Match.EXACT_VALUES, in -> Ops.div(in[0], in[1]), Tensor.randn(7, 1), Tensor.uniform(0.5f, 3f, 7, 33));
    compare("sum dim 1", Match.EXACT, in -> Ops.sum(in[0], 1, false), Tensor.randn(5, 7, 33));
    compare("mean dim -1 keepdim", Match.EXACT, in -> Ops.mean(in[0], -1, true), Tensor.randn(5, 7, 33));
    compare("sum dim 0", Match.EXACT, in -> Ops.sum(in[0], 0, false), Tensor.randn(1000, 3));
    compare("transpose", Match.EXACT, in -> Ops.transpose(in[0]), Tensor.randn(37, 301));
  }

  @Test
  void sigmoidAndTanh() {
    compare("sigmoid", Match.CLOSE, in -> Ops.sigmoid(in[0]), randn(4f, 7, 33));
    compare("tanh", Match.CLOSE, in -> Ops.tanh(in[0]), randn(2f, 7, 33));
    Tensor extreme = Tensor.of(new float[] {-1000f, -30f, -1f, 0.5f, 30f, 1000f});
    compare("sigmoid of large values", Match.CLOSE, in -> Ops.sigmoid(in[0]), extreme);
    compare("tanh of large values", Match.CLOSE, in -> Ops.tanh(in[0]), extreme);
  }

  @Test
  void leakyReluWithPositiveAndNegativeSlopes() {
    compare("leaky_relu 0.01", Match.CLOSE, in -> Ops.leakyRelu(in[0], 0.01), Tensor.randn(9, 40));
    compare("leaky_relu -0.3", Match.CLOSE, in -> Ops.leakyRelu(in[0], -0.3), Tensor.randn(9, 40));
  }

  @Test
  void softmaxAndLogSoftmaxAlongEveryDimension() {
    for (int dim : new int[] {0, 1, 2, -1}) {
      compare("softmax [3,4,5] dim " + dim, Match.CLOSE, in -> Ops.softmax(in[0], dim), randn(3f, 3, 4, 5));
      compare("log_softmax [3,4,5] dim " + dim, Match.CLOSE, in -> Ops.logSoftmax(in[0], dim), randn(3f, 3, 4, 5));
    }
    // Rows longer than a warp, rows of one value, and a long strided dimension.
    compare("softmax [8,1000] dim 1", Match.CLOSE, in -> Ops.softmax(in[0], 1), randn(3f, 8, 1000));
    compare("log_softmax [8,1000] dim 1", Match.CLOSE, in -> Ops.logSoftmax(in[0], 1), randn(3f, 8, 1000));
    compare("softmax [8,1000] dim 0", Match.CLOSE, in -> Ops.softmax(in[0], 0), randn(3f, 8, 1000));
    compare("log_softmax [700,6] dim 0", Match.CLOSE, in -> Ops.logSoftmax(in[0], 0), randn(3f, 700, 6));
    compare("softmax [50,1] dim 1", Match.CLOSE, in -> Ops.softmax(in[0], 1), Tensor.randn(50, 1));
    // a group of threads a line (IndexKernels.softmaxByLines): a block a long row or a long strided line, a warp a
    // strided line of 32 values or more
    compare("softmax [3,3000] dim 1", Match.CLOSE, in -> Ops.softmax(in[0], 1), randn(3f, 3, 3000));
    compare("log_softmax [3,3000] dim 1", Match.CLOSE, in -> Ops.logSoftmax(in[0], 1), randn(3f, 3, 3000));
    compare("log_softmax [2,1500,3] dim 1", Match.CLOSE, in -> Ops.logSoftmax(in[0], 1), randn(3f, 2, 1500, 3));
    compare("softmax [4,100,5] dim 1", Match.CLOSE, in -> Ops.softmax(in[0], 1), randn(3f, 4, 100, 5));
    compare("softmax rank 1", Match.CLOSE, in -> Ops.softmax(in[0], 0), Tensor.randn(37));
    var e = assertThrows(IllegalArgumentException.class, () -> Ops.softmax(Tensor.randn(2, 3).to(gpu), 2));
    assertTrue(e.getMessage().startsWith("softmax of shape [2, 3]: dimension 2 is out of range"), e.getMessage());
  }

  @Test
  void dropoutDrawsTheSameMaskOnBothDevices() {
    // compare() reseeds before each device's forward: the masks match only if both draw the same.
    Tensor gpuOut = compare("dropout p=0.3", Match.EXACT, in -> Ops.dropout(in[0], 0.3, true), Tensor.randn(13, 77));
    float[] values = gpuOut.toFloatArray();
    long zeros = 0;
    for (float v : values) {
      zeros += v == 0f ? 1 : 0;
    }
    assertTrue(zeros > 0.2 * values.length && zeros < 0.4 * values.length, "dropout p=0.3 zeroed " + zeros + " of " + values.length);
    compare("dropout p=1", Match.EXACT, in -> Ops.dropout(in[0], 1.0, true), Tensor.randn(4, 5));
    Tensor x = Tensor.randn(3, 4).to(gpu);
    assertSame(x, Ops.dropout(x, 0.0, true), "dropout with p = 0 returns its input");
    assertSame(x, Ops.dropout(x, 0.5, false), "dropout outside training returns its input");
    assertThrows(IllegalArgumentException.class, () -> Ops.dropout(x, 1.5, true));
  }

  // ------------------------------------------------------------------ reductions

  @Test
  void sumAndMean() {
    compare("sum [1000]", Match.CLOSE, in -> Ops.sum(in[0]), Tensor.randn(1000));
    compare("mean [1000]", Match.CLOSE, in -> Ops.mean(in[0]), Tensor.randn(1000));
    // More elements than one pass of 1024 blocks of 256 threads covers at once.
    compare("sum [300,1000]", Match.CLOSE, in -> Ops.sum(in[0]), Tensor.randn(300, 1000));
    compare("mean [300,1000]", Match.CLOSE, in -> Ops.mean(in[0]), Tensor.randn(300, 1000));
    compare("sum rank 0", Match.CLOSE, in -> Ops.sum(in[0]), Tensor.randn());
    assertEquals(0f, Ops.sum(Tensor.zeros(gpu, 0, 3)).item(), "sum of an empty tensor");
    assertThrows(IllegalArgumentException.class, () -> Ops.mean(Tensor.zeros(gpu, 0)));
  }

  // ------------------------------------------------------------------ slicing, joining, variance

  @Test
  void narrowSliceSelectCatAndStackAreExact() {
    compare("narrow [4,6,5] dim 1", Match.EXACT, in -> Ops.narrow(in[0], 1, 2, 3), Tensor.randn(4, 6, 5));
    compare("narrow dim 0 (one row)", Match.EXACT, in -> Ops.narrow(in[0], 0, -2, 2), Tensor.randn(5, 7));
    compare("narrow last dim", Match.EXACT, in -> Ops.narrow(in[0], -1, 1, 3), Tensor.randn(3, 4, 301));
    compare("narrow the whole dim", Match.EXACT, in -> Ops.narrow(in[0], 1, 0, 6), Tensor.randn(4, 6, 5));
    compare("narrow to size 0", Match.EXACT, in -> Ops.narrow(in[0], 1, 6, 0), Tensor.randn(4, 6, 5));
    compare("slice clamped", Match.EXACT, in -> Ops.slice(in[0], 2, -3, 100), Tensor.randn(2, 3, 8));
    compare("select", Match.EXACT, in -> Ops.select(in[0], 1, -1), Tensor.randn(4, 6, 5));
    compare("select of a vector", Match.EXACT, in -> Ops.select(in[0], 0, 3), Tensor.randn(7));
    compare("cat dim 1", Match.EXACT, in -> Ops.cat(List.of(in[0], in[1], in[2]), 1),
        Tensor.randn(3, 2, 5), Tensor.randn(3, 4, 5), Tensor.randn(3, 1, 5));
    compare("cat dim 0", Match.EXACT, in -> Ops.cat(List.of(in[0], in[1]), 0), Tensor.randn(2, 5), Tensor.randn(3, 5));
    compare("cat dim -1", Match.EXACT, in -> Ops.cat(List.of(in[0], in[1]), -1), Tensor.randn(40, 3), Tensor.randn(40, 1));
    compare("cat of one tensor twice", Match.EXACT, in -> Ops.cat(List.of(in[0], in[0]), 1), Tensor.randn(3, 4));
    compare("stack dim 1", Match.EXACT, in -> Ops.stack(List.of(in[0], in[1]), 1), Tensor.randn(3, 4), Tensor.randn(3, 4));
    compare("unsqueeze, squeeze", Match.EXACT, in -> Ops.squeeze(Ops.unsqueeze(in[0], -1)), Tensor.randn(3, 1, 4));
    compare("narrow of a cat", Match.EXACT, in -> Ops.narrow(Ops.cat(List.of(in[0], in[1]), 0), 1, 1, 2),
        Tensor.randn(2, 4), Tensor.randn(3, 4));
  }

  @Test
  void slicesAndCatCheckAsOnTheCpu() {
    Tensor x = Tensor.randn(3, 4);
    var cpu = assertThrows(IllegalArgumentException.class, () -> Ops.narrow(x, 1, 2, 3));
    var cuda = assertThrows(IllegalArgumentException.class, () -> Ops.narrow(x.to(gpu), 1, 2, 3));
    assertEquals(cpu.getMessage(), cuda.getMessage());
    cpu = assertThrows(IllegalArgumentException.class, () -> Ops.cat(List.of(x, Tensor.randn(3, 5)), 0));
    cuda = assertThrows(IllegalArgumentException.class, () -> Ops.cat(List.of(x.to(gpu), Tensor.randn(3, 5).to(gpu)), 0));
    assertEquals(cpu.getMessage(), cuda.getMessage());
    var e = assertThrows(IllegalArgumentException.class, () -> Ops.cat(List.of(x, x.to(gpu)), 0));
    assertTrue(e.getMessage().startsWith("cat: expected all tensors on one device"), e.getMessage());
  }

  @Test
  void catGivesAGradientOnlyToTheInputsThatRequireIt() {
    Tensor frozen = Tensor.randn(2, 3).to(gpu);
    Tensor w = Tensor.randn(1, 3).to(gpu).requiresGrad(true);
    Tensor y = Ops.cat(List.of(frozen, w), 0);
    y.backward(Tensor.of(new float[] {1, 2, 3, 4, 5, 6, 7, 8, 9}, 3, 3).to(gpu));
    assertNull(frozen.grad(), "an input that does not require grad gets no gradient");
    assertTrue(w.grad().device().isCuda(), "the gradient is on " + w.grad().device());
    assertArrayEquals(new float[] {7, 8, 9}, w.grad().toFloatArray());
  }

  @Test
  void varAndStdAgreeWithTheCpu() {
    // One dimension or several: under 32 values an output, the device's kiln_variance_over adds in the CPU's order
    // (MathKernels.varianceOver), so bit for bit, values and gradients; from 32 a warp or a block an output
    // (kiln_variance_lines), to rounding.
    compare("var dim 1", Match.EXACT, in -> Ops.var(in[0], 1, true, false), Tensor.randn(3, 4, 5));
    compare("var dim 0 biased keepdim", Match.EXACT, in -> Ops.var(in[0], 0, false, true), Tensor.randn(30, 6));
    compare("var dim 0 biased keepdim, a warp a column", Match.CLOSE, in -> Ops.var(in[0], 0, false, true), Tensor.randn(700, 6));
    compare("std dim -1, a warp a row", Match.CLOSE, in -> Ops.std(in[0], -1, true, false), randn(3f, 8, 1000));
    compare("std dim 1 keepdim", Match.EXACT, in -> Ops.std(in[0], 1, false, true), Tensor.randn(3, 4, 5));
    compare("var of all values", Match.CLOSE, in -> Ops.var(in[0], true), Tensor.randn(30, 40));
    compare("std of all values", Match.CLOSE, in -> Ops.std(in[0], false), Tensor.randn(30, 40));
    // A constant row has std 0 and, as in PyTorch, a zero gradient; one value per row gives NaN everywhere.
    compare("std with a constant row", Match.CLOSE, in -> Ops.std(in[0], 1, true, false),
        Tensor.of(new float[] {3, 3, 3, 1, 2, 4}, 2, 3));
    compare("std of a constant", Match.CLOSE, in -> Ops.std(in[0], true), Tensor.full(2.5f, 4, 3));
    compare("var of one value", Match.EXACT, in -> Ops.var(in[0], 1, true, false), Tensor.randn(3, 1));
    compare("std of one value", Match.EXACT, in -> Ops.std(in[0], 1, true, false), Tensor.randn(3, 1));
  }

  @Test
  void reductionsOverSeveralDimensionsAgreeWithTheCpu() {
    // One run of adjacent dimensions is the reduce-along kernel, bit for bit under 32 values a line (a thread a line),
    // to rounding from 32 (a warp or a block a line); several runs are one pass on the CPU (in double) and a pass per run
    // on CUDA (each rounded to float), so close.
    compare("mean (2, 3)", Match.EXACT, in -> Ops.mean(in[0], new int[] {2, 3}, false), Tensor.randn(4, 6, 3, 5));
    compare("sum (-1, -2) keepdim", Match.EXACT, in -> Ops.sum(in[0], new int[] {-1, -2}, true), Tensor.randn(4, 6, 3, 5));
    compare("mean (2, 3), a warp a line", Match.CLOSE, in -> Ops.mean(in[0], new int[] {2, 3}, false), Tensor.randn(4, 6, 7, 9));
    // Random values almost never round differently in another order; these do: 2^60 + 1 loses the 1 in double, so
    // index order gives 0.25 where the CPU's eight lanes (value 8 with value 0 in lane 0, 1 + r alone in lane 1) give
    // 1.25 + r. Bit for bit only if kiln_sum_along adds in the CPU's order.
    float[] lanes = new float[3 * 17];
    for (int r = 0; r < 3; r++) {
      lanes[r * 17] = 0x1p60f;
      lanes[r * 17 + 1] = 1 + r;
      lanes[r * 17 + 8] = -0x1p60f;
      lanes[r * 17 + 16] = 0.25f;
    }
    assertArrayEquals(new float[] {1.25f, 2.25f, 3.25f}, Ops.sum(Tensor.of(lanes, 3, 17), -1, false).toFloatArray());
    compare("sum dim -1, eight lanes", Match.EXACT, in -> Ops.sum(in[0], -1, false), Tensor.of(lanes, 3, 17));
    compare("mean (1, 2), eight lanes", Match.EXACT, in -> Ops.mean(in[0], new int[] {1, 2}, false), Tensor.of(lanes, 3, 1, 17));
    compare("sum (0, 2)", Match.CLOSE, in -> Ops.sum(in[0], new int[] {0, 2}, false), Tensor.randn(5, 6, 7, 9));
    compare("mean (3, 1) keepdim", Match.CLOSE, in -> Ops.mean(in[0], new int[] {3, 1}, true), Tensor.randn(4, 6, 7, 9));
    compare("sum (0, 2, 3)", Match.CLOSE, in -> Ops.sum(in[0], new int[] {0, 2, 3}, false), Tensor.randn(8, 3, 5, 5));
    compare("mean of every dimension", Match.CLOSE, in -> Ops.mean(in[0], new int[0], true), Tensor.randn(8, 3, 5));
    compare("var (0, 2, 3)", Match.EXACT, in -> Ops.var(in[0], new int[] {0, 2, 3}, true, false), Tensor.randn(2, 3, 3, 5));
    compare("var (0, 2, 3), a warp a channel", Match.CLOSE, in -> Ops.var(in[0], new int[] {0, 2, 3}, true, false),
        Tensor.randn(8, 3, 5, 5));
    compare("std (1, 3) keepdim", Match.EXACT, in -> Ops.std(in[0], new int[] {1, 3}, false, true), Tensor.randn(4, 6, 7, 5));
    compare("var (1, 3) of rows of 11 (values one by one)", Match.EXACT, in -> Ops.var(in[0], new int[] {1, 3}, true, false),
        Tensor.randn(5, 6, 7, 3, 11).add(100f));
    compare("var (0, 2, 4), four kept runs", Match.EXACT, in -> Ops.var(in[0], new int[] {0, 2, 4}, false, true),
        Tensor.randn(3, 4, 5, 2, 2, 3));
    compare("var (0, 2, 4), four kept runs, a warp an output", Match.CLOSE, in -> Ops.var(in[0], new int[] {0, 2, 4}, false, true),
        Tensor.randn(3, 4, 5, 2, 17, 3));
    // Eleven runs are more than the kernel's nine: composed on the device (mean, sub, mul, a sum per run), close.
    compare("var over five of nine dimensions", Match.CLOSE, in -> Ops.var(in[0], new int[] {0, 2, 4, 6, 8}, true, false),
        Tensor.randn(2, 3, 2, 3, 2, 3, 2, 3, 2));
    Tensor x = Tensor.randn(2, 3, 4);
    var cpu = assertThrows(IllegalArgumentException.class, () -> Ops.mean(x, new int[] {1, -2}, false));
    var cuda = assertThrows(IllegalArgumentException.class, () -> Ops.mean(x.to(gpu), new int[] {1, -2}, false));
    assertEquals(cpu.getMessage(), cuda.getMessage());
  }

  // ------------------------------------------------------------------ losses

  @Test
  void crossEntropyPerSampleMeanAndSum() {
    Tensor logits = randn(2f, 32, 10);
    Tensor target = labels(32, 10);
    compare("cross_entropy per sample", Match.CLOSE, in -> Ops.crossEntropyPerSample(in[0], in[1]), logits, target);
    compare("cross_entropy mean", Match.CLOSE, in -> Ops.crossEntropy(in[0], in[1], true), logits, target);
    compare("cross_entropy sum", Match.CLOSE, in -> Ops.crossEntropy(in[0], in[1], false), logits, target);
    // Many classes (each warp walks its row in steps of 32), one class, and a last partial block of rows.
    compare("cross_entropy mean [19,1000]", Match.CLOSE, in -> Ops.crossEntropy(in[0], in[1], true), randn(3f, 19, 1000), labels(19, 1000));
    compare("cross_entropy [5,1]", Match.CLOSE, in -> Ops.crossEntropyPerSample(in[0], in[1]), Tensor.randn(5, 1), labels(5, 1));
  }

  @Test
  void crossEntropyChecksLabelsOnTheHostAsTheCpuDoes() {
    Tensor logits = Tensor.randn(3, 4);
    Tensor bad = Tensor.labels(0, 4, 1);
    var cpu = assertThrows(IllegalArgumentException.class, () -> Ops.crossEntropyPerSample(logits, bad));
    var cuda = assertThrows(IllegalArgumentException.class, () -> Ops.crossEntropyPerSample(logits.to(gpu), bad.to(gpu)));
    assertEquals(cpu.getMessage(), cuda.getMessage(), "cross_entropy: the message for an out-of-range label");
    assertThrows(IllegalArgumentException.class, () -> Ops.crossEntropy(logits.to(gpu), bad.to(gpu), true));
    Tensor floatTarget = Tensor.zeros(3).to(gpu);
    var e = assertThrows(IllegalArgumentException.class, () -> Ops.crossEntropy(logits.to(gpu), floatTarget, true));
    assertTrue(e.getMessage().startsWith("cross_entropy: target must hold class indices"), e.getMessage());
  }

  @Test
  void l1AndMseLosses() {
    Tensor input = Tensor.randn(6, 35);
    Tensor target = Tensor.randn(6, 35);
    compare("l1_loss per element", Match.CLOSE, in -> Ops.l1LossPerElement(in[0], in[1]), input, target);
    compare("mse_loss per element", Match.CLOSE, in -> Ops.mseLossPerElement(in[0], in[1]), input, target);
    compare("l1_loss mean", Match.CLOSE, in -> Ops.l1Loss(in[0], in[1], true), input, target);
    compare("mse_loss sum", Match.CLOSE, in -> Ops.mseLoss(in[0], in[1], false), input, target);
    var e = assertThrows(IllegalArgumentException.class, () -> Ops.mseLoss(Tensor.randn(2, 3).to(gpu), Tensor.randn(3, 2).to(gpu), true));
    assertTrue(e.getMessage().startsWith("mse_loss: input [2, 3] and target [3, 2] must have the same shape"), e.getMessage());
  }

  @Test
  void padFlipAndRepeatAreExact() { // an index map (or expand's copies) each way: the same floats moved
    Tensor x = Tensor.randn(2, 3, 5);
    compare("pad", Match.EXACT, in -> Ops.pad(in[0], new int[] {2, -1, 0, 3, 1, 1}, -1.5f), x);
    compare("pad crop to empty", Match.EXACT, in -> Ops.pad(in[0], new int[] {-3, -2}, 0f), x);
    compare("flip", Match.EXACT, in -> in[0].flip(0, -1), x);
    compare("repeat", Match.EXACT_VALUES, in -> in[0].repeat(2, 1, 3, 2), x); // the gradient's sums in expand's order
    Tensor big = Tensor.randn(3, 4, 5, 6, 2, 3, 2); // rank 7
    compare("flip of rank 7", Match.EXACT, in -> in[0].flip(1, 4, 6), big);
  }

  @Test
  void cumsumLogsumexpNormsAndSortAsOnTheCpu() {
    Tensor x = Tensor.randn(3, 70, 4);
    compare("cumsum", Match.EXACT, in -> in[0].cumsum(1), x); // the same double sums in the same order
    compare("cumsum last", Match.EXACT, in -> in[0].cumsum(-1), x);
    compare("logsumexp", Match.CLOSE, in -> in[0].logsumexp(1), randn(30f, 3, 70, 4));
    compare("logsumexp keepDim", Match.CLOSE, in -> in[0].logsumexp(-1, true), x);
    compare("norm 2", Match.CLOSE, in -> in[0].norm(2, 1), x);
    compare("norm 1.5 keepDim", Match.CLOSE, in -> in[0].norm(1.5f, 0, true), x);
    compare("sort", Match.EXACT, in -> in[0].sort(1, true).values(), x);
    compare("normalize", Match.CLOSE, in -> Ops.normalize(in[0], 2, 1, 1e-12f), x);
    compare("cosine_similarity broadcast, tiny norms clamped", Match.CLOSE, in -> Ops.cosineSimilarity(in[0], in[1], -1, 0.5f),
        randn(0.1f, 3, 5, 4), randn(0.1f, 5, 4));
    Tensor hot = Ops.oneHot(Tensor.labels(2, 0, 1).to(gpu), 4);
    assertTrue(hot.device().isCuda());
    assertArrayEquals(new float[] {0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0}, hot.toFloatArray());
    Tensor g = x.to(gpu);
    assertArrayEquals(x.argsort(1).toIntArray(), g.argsort(1).toIntArray());
    assertArrayEquals(x.argmin(2).toIntArray(), g.argmin(2).toIntArray());
    assertTrue(g.argmin(2).device().isCuda());
  }

  /**
   * Values of {@code shape} with many ties (halves in [-2, 2], 0 and -0 among them) and, every 37th
   * from {@code from}, NaN, +inf or -inf in turn: the cases where an order or a reduction could
   * part from the CPU's.
   */
  private static Tensor tiesAndSpecials(int from, int... shape) {
    float[] d = Tensor.randn(shape).toFloatArray();
    float[] special = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, -0f, 0f};
    for (int i = 0; i < d.length; i++) {
      d[i] = Math.max(-2f, Math.min(2f, Math.round(d[i] * 2) / 2f));
      if (i >= from && (i - from) % 37 == 0) {
        d[i] = special[(i - from) / 37 % special.length];
      }
    }
    return Tensor.of(d, shape);
  }

  /** Runs {@code f} twice on the GPU: a reduction's order is fixed by the sizes, so the results are the same bits. */
  private static void repeatsBitForBit(String what, Function<Tensor, Tensor> f, Tensor x) {
    Tensor g = x.to(gpu);
    assertArrayEquals(f.apply(g).toFloatArray(), f.apply(g).toFloatArray(), what + ": two runs differ");
  }

  @Test
  void cumsumLogsumexpAndNormsOverLongAndShortLines() { // a block a line from 1024 values, a warp from 32, else a thread
    int[][] shapes = {{2, 5000}, {3, 1500, 2}, {5, 100}, {4, 40, 3}, {6, 7}, {3, 5, 4}};
    for (int[] shape : shapes) {
      Tensor x = randn(4f, shape);
      String s = " " + Shapes.toString(shape);
      compare("logsumexp" + s, Match.CLOSE, in -> in[0].logsumexp(1), x);
      compare("logsumexp of large values" + s, Match.CLOSE, in -> in[0].logsumexp(1, true), randn(60f, shape));
      compare("norm 2" + s, Match.CLOSE, in -> in[0].norm(2, 1), x);
      compare("norm 1" + s, Match.CLOSE, in -> in[0].norm(1, 1, true), x);
      compare("norm 3" + s, Match.CLOSE, in -> in[0].norm(3, 1), x);
      compare("cumsum" + s, Match.CLOSE, in -> in[0].cumsum(1), x); // a long line a block: to rounding
      repeatsBitForBit("cumsum" + s, t -> t.cumsum(1), x);
      repeatsBitForBit("logsumexp" + s, t -> t.logsumexp(1), x);
      repeatsBitForBit("norm 1.5" + s, t -> t.norm(1.5f, 1), x);
    }
    compare("logsumexp along the first dimension", Match.CLOSE, in -> in[0].logsumexp(0), randn(3f, 1200, 3));
    compare("logsumexp of 16384 strided lines (a thread each)", Match.CLOSE, in -> in[0].logsumexp(1), randn(3f, 2, 40, 8192));
    Tensor empty = Tensor.randn(2, 0, 3).to(gpu); // empty lines: log(0) and a norm of 0, as on the CPU
    assertArrayEquals(Tensor.randn(2, 0, 3).logsumexp(1).toFloatArray(), empty.logsumexp(1).toFloatArray());
    assertArrayEquals(new float[6], empty.norm(2, 1).toFloatArray());
    // a line holding NaN gives NaN, one of -inf gives -inf, one holding +inf gives +inf (the maximum shifted by 0)
    float[] special = randn(2f, 4, 2000).toFloatArray();
    special[1500] = Float.NaN;
    Arrays.fill(special, 2000, 4000, Float.NEGATIVE_INFINITY);
    special[4321] = Float.POSITIVE_INFINITY;
    Tensor sx = Tensor.of(special, 4, 2000);
    for (float[] lse : List.of(sx.logsumexp(1).toFloatArray(), sx.to(gpu).logsumexp(1).toFloatArray())) {
      assertTrue(Float.isNaN(lse[0]) && lse[1] == Float.NEGATIVE_INFINITY && lse[2] == Float.POSITIVE_INFINITY, Arrays.toString(lse));
    }
    assertEquals(sx.logsumexp(1).toFloatArray()[3], sx.to(gpu).logsumexp(1).toFloatArray()[3], 1e-5);
    float[] norms = Tensor.of(new float[] {1, Float.NaN, 2, 3, 4, 5}, 2, 3).to(gpu).norm(2, 1).toFloatArray();
    assertTrue(Float.isNaN(norms[0]), Arrays.toString(norms));
    assertEquals((float) Math.sqrt(50), norms[1], 1e-6);
  }

  /** Line lengths around the groups' thresholds (a thread below 32 values, a warp from 32, a block from 1024), and a long one. */
  private static final int[] LINE_LENGTHS = {1, 31, 33, 1025, 50001};

  @Test
  void sumsAndVariancesOverFewLongAndManyShortLines() { // kiln_sum_lines and kiln_variance_lines, or a thread a line
    for (int n : LINE_LENGTHS) {
      Tensor rows = randn(2f, 3, n); // few rows: contiguous lines
      Tensor columns = Tensor.randn(n, 5).add(3f); // five columns of n values, 5 apart
      Tensor strided = Tensor.randn(2, n, 3);
      String s = " of " + n;
      compare("sum(-1), 3 rows" + s, Match.CLOSE, in -> Ops.sum(in[0], -1, false), rows);
      compare("mean(0), 5 columns" + s, Match.CLOSE, in -> Ops.mean(in[0], 0, false), columns);
      compare("sum(1) keepdim, [2, n, 3]" + s, Match.CLOSE, in -> Ops.sum(in[0], 1, true), strided);
      boolean unbiased = n > 1; // one value's unbiased variance is NaN (as on the CPU: the tests with one value say so)
      compare("var(-1), 3 rows" + s, Match.CLOSE, in -> Ops.var(in[0], -1, unbiased, false), rows);
      compare("std(0) biased, 5 columns" + s, Match.CLOSE, in -> Ops.std(in[0], 0, false, false), columns);
      compare("var (0, 2), [2, n, 3] over n's neighbours" + s, Match.CLOSE,
          in -> Ops.var(in[0], new int[] {0, 2}, true, false), strided.permute(1, 0, 2));
      repeatsBitForBit("sum(-1)" + s, t -> Ops.sum(t, -1, false), rows);
      repeatsBitForBit("mean(0)" + s, t -> Ops.mean(t, 0, false), columns);
      repeatsBitForBit("var(-1)" + s, t -> Ops.var(t, -1, unbiased, false), rows);
      repeatsBitForBit("std(0)" + s, t -> Ops.std(t, 0, false, false), columns);
    }
    // batch norm's statistics: 8 channels of 4 * 40 * 40 = 6400 values, a block each, the runs [1, 4, 8, 1600, 1]
    Tensor maps = Tensor.randn(4, 8, 40, 40).add(5f);
    compare("var (0, 2, 3), per channel", Match.CLOSE, in -> Ops.var(in[0], new int[] {0, 2, 3}, false, false), maps);
    compare("mean (0, 2, 3), per channel", Match.CLOSE, in -> Ops.mean(in[0], new int[] {0, 2, 3}, false), maps);
    repeatsBitForBit("var (0, 2, 3)", t -> Ops.var(t, new int[] {0, 2, 3}, false, false), maps);
    // many short lines: a thread each, the CPU's order (bit for bit); many strided lines of 33 values (16384 on: a thread each)
    compare("sum(-1), 3000 rows of 7", Match.EXACT, in -> Ops.sum(in[0], -1, false), Tensor.randn(3000, 7));
    compare("var(-1), 3000 rows of 7", Match.EXACT, in -> Ops.var(in[0], -1, true, false), Tensor.randn(3000, 7));
    compare("sum(1), 16384 strided lines of 33", Match.EXACT, in -> Ops.sum(in[0], 1, false), Tensor.randn(2, 33, 8192));
    compare("var(1), 16384 strided lines of 33", Match.EXACT, in -> Ops.var(in[0], 1, true, false), Tensor.randn(2, 33, 8192));
    compare("sum(-1), 600 rows of 40 (a warp each)", Match.CLOSE, in -> Ops.sum(in[0], -1, false), Tensor.randn(600, 40));
    compare("var(-1), 600 rows of 40 (a warp each)", Match.CLOSE, in -> Ops.var(in[0], -1, true, false), Tensor.randn(600, 40));
    // a long line whose terms cancel: the tree must add every lane's share once (an exact sum of whole numbers)
    float[] whole = new float[3 * 50001];
    for (int i = 0; i < whole.length; i++) {
      whole[i] = (i % 7) - 3;
    }
    float[] sums = Ops.sum(Tensor.of(whole, 3, 50001).to(gpu), -1, false).toFloatArray();
    assertArrayEquals(Ops.sum(Tensor.of(whole, 3, 50001), -1, false).toFloatArray(), sums);
  }

  @Test
  void crossEntropyOverFewLongAndManyShortRows() { // a block a row from 1024 classes (kiln_cross_entropy_lines_forward)
    for (int classes : LINE_LENGTHS) {
      String s = " [3, " + classes + "]";
      Tensor logits = randn(3f, 3, classes);
      Tensor target = labels(3, classes);
      compare("cross_entropy per sample" + s, Match.CLOSE, in -> Ops.crossEntropyPerSample(in[0], in[1]), logits, target);
      compare("cross_entropy mean" + s, Match.CLOSE, in -> Ops.crossEntropy(in[0], in[1], true), logits, target);
      compare("cross_entropy sum of large logits" + s, Match.CLOSE, in -> Ops.crossEntropy(in[0], in[1], false),
          randn(40f, 3, classes), target);
      repeatsBitForBit("cross_entropy" + s, t -> Ops.crossEntropyPerSample(t, target.to(gpu)), logits);
    }
    compare("cross_entropy mean [700, 10]", Match.CLOSE, in -> Ops.crossEntropy(in[0], in[1], true), randn(2f, 700, 10), labels(700, 10));
    compare("cross_entropy mean [40, 2000]", Match.CLOSE, in -> Ops.crossEntropy(in[0], in[1], true), randn(2f, 40, 2000), labels(40, 2000));
  }

  @Test
  void whereGradientsOverLongRepeats() { // kiln_where_lines_backward where a branch value repeats 32 times or more
    for (int n : LINE_LENGTHS) {
      String s = " over " + n + " repeats";
      Tensor a = Tensor.randn(n, 4);
      Tensor b = Tensor.randn(4);
      compare("where [n,4] ? [n,4] : [4]" + s, n < 32 ? Match.EXACT : Match.EXACT_VALUES,
          in -> onDevice(Tensor.where(in[0].gt(in[1]), in[0], in[1])), a, b);
      compare("where [n,4] ? scalar : [n,4]" + s, n < 8 ? Match.EXACT : Match.EXACT_VALUES,
          in -> onDevice(Tensor.where(in[2], in[0], in[1])), Tensor.scalar(1.5f), a, a.gt(0f));
      repeatsBitForBit("where's gradient" + s, t -> {
        Kiln.manualSeed(7);
        Tensor leaf = Tensor.randn(4).to(gpu).requiresGrad(true);
        Tensor.where(t.gt(0f), t, leaf).backward(Tensor.randn(n, 4).to(gpu));
        return leaf.grad();
      }, a);
    }
  }

  @Test
  void sortAndArgsortOnTheDeviceAsOnTheCpu() {
    // chunks in shared memory: short lines many to a block, strided lines, a line of one chunk; longer lines merged
    // (5000: one pass, 9000: two), ties, 0 and -0, NaN and infinities in every case
    int[][] shapes = {{300, 5}, {1100, 7}, {3, 70, 4}, {2, 4096}, {2, 5000}, {9000}, {2, 1500, 3}, {4, 1}, {1, 0}};
    for (int[] shape : shapes) {
      int dim = shape.length == 3 ? 1 : -1;
      Tensor x = tiesAndSpecials(3, shape);
      for (boolean descending : new boolean[] {false, true}) {
        String s = " " + Shapes.toString(shape) + (descending ? " descending" : " ascending");
        compare("sort" + s, Match.EXACT, in -> in[0].sort(dim, descending).values(), x);
        assertArrayEquals(x.sort(dim, descending).indices().toIntArray(), x.to(gpu).sort(dim, descending).indices().toIntArray(),
            "sort indices" + s);
        Tensor order = x.to(gpu).argsort(dim, descending);
        assertTrue(order.device().isCuda() && order.dtype() == DType.INT32, "argsort" + s);
        assertArrayEquals(x.argsort(dim, descending).toIntArray(), order.toIntArray(), "argsort" + s);
      }
    }
    Tensor x = tiesAndSpecials(5, 3, 5000);
    for (boolean largest : new boolean[] {false, true}) {
      compare("topk(7) of 5000" + (largest ? " largest" : " smallest"), Match.EXACT, in -> in[0].topk(7, 1, largest).values(), x);
      assertArrayEquals(x.topk(7, 1, largest).indices().toIntArray(), x.to(gpu).topk(7, 1, largest).indices().toIntArray());
    }
    compare("topk(2, 0) of strided lines", Match.EXACT, in -> in[0].topk(2, 0, true).values(), tiesAndSpecials(0, 6, 4));
    compare("topk of the whole line", Match.EXACT, in -> in[0].topk(6, 0, false).values(), tiesAndSpecials(0, 6, 4));
    compare("sort of a scalar", Match.EXACT, in -> in[0].sort(0, false).values(), Tensor.scalar(3f));
  }

  @Test
  void maxMinArgmaxAndArgminOnTheDeviceAsOnTheCpu() {
    int[][] shapes = {{2, 5000}, {3, 1500, 2}, {5, 100}, {4, 40, 3}, {6, 7}, {3, 5, 4}};
    for (int[] shape : shapes) {
      Tensor x = tiesAndSpecials(shape[0] * 7, shape);
      Tensor g = x.to(gpu);
      for (boolean max : new boolean[] {false, true}) {
        String s = (max ? " max " : " min ") + Shapes.toString(shape);
        compare("values" + s, Match.EXACT, in -> Ops.extremaAlong(in[0], 1, false, max).values(), x);
        Tensor indices = Ops.extremaAlong(g, 1, true, max).indices();
        assertTrue(indices.device().isCuda() && indices.dtype() == DType.INT32, "indices" + s);
        assertArrayEquals(Ops.extremaAlong(x, 1, true, max).indices().toIntArray(), indices.toIntArray(), "indices" + s);
      }
      assertArrayEquals(x.argmax(1).toIntArray(), g.argmax(1).toIntArray(), "argmax " + Shapes.toString(shape));
      assertArrayEquals(x.argmin(-1).toIntArray(), g.argmin(-1).toIntArray(), "argmin " + Shapes.toString(shape));
      assertTrue(g.argmax(1).device().isCuda());
    }
    // max() and min() of all values: the gradient shared among the ties (many here: halves clipped to 2), or the NaNs
    compare("max() with ties", Match.EXACT, in -> in[0].max(), tiesAndSpecials(1 << 20, 3, 1700));
    compare("min() with ties", Match.EXACT, in -> in[0].min(), tiesAndSpecials(1 << 20, 5, 7));
    compare("max() with NaN", Match.EXACT, in -> in[0].max(), tiesAndSpecials(100, 3, 1700));
    compare("min() of -0 and 0", Match.EXACT, in -> in[0].min(), Tensor.of(new float[] {0f, -0f, 1f, 0f}, 4));
    // a NaN wins wherever it is; ties go to the first; -0 and 0 tie
    Tensor x = Tensor.of(new float[] {1, 3, 3, Float.NaN, 3, Float.NaN, -0f, 0f, -0f, 0f, 0f, -0f}, 2, 6);
    assertArrayEquals(new int[] {3, 0}, x.to(gpu).argmax(1).toIntArray());
    assertArrayEquals(new int[] {3, 0}, x.to(gpu).argmin(1).toIntArray());
    var e = assertThrows(IllegalArgumentException.class, () -> Tensor.randn(2, 0).to(gpu).max(1));
    assertTrue(e.getMessage().startsWith("max along dimension 1 of size 0"), e.getMessage());
  }

  @Test
  void oneHotIsWrittenOnTheDevice() {
    Tensor labels = labels(60, 1000);
    Tensor hot = Ops.oneHot(labels.to(gpu), 1000);
    assertTrue(hot.device().isCuda());
    assertArrayEquals(Ops.oneHot(labels, 1000).toFloatArray(), hot.toFloatArray());
    assertArrayEquals(new int[] {60, 1000}, hot.shape());
    var e = assertThrows(IllegalArgumentException.class, () -> Ops.oneHot(Tensor.labels(1, 5).to(gpu), 4));
    assertTrue(e.getMessage().startsWith("one_hot: class value 5 at flat index 1"), e.getMessage());
  }

  @Test
  void piecewiseActivationsAndLossesAsOnTheCpu() {
    Tensor x = randn(3f, 7, 40);
    Tensor t = randn(3f, 7, 40);
    compare("softplus", Match.CLOSE, in -> Ops.softplus(in[0], 1, 20), x);
    compare("softplus beta threshold", Match.CLOSE, in -> Ops.softplus(in[0], 2, 3), x);
    compare("elu", Match.CLOSE, in -> Ops.elu(in[0], 0.5), x);
    compare("hardtanh", Match.EXACT, in -> Ops.hardtanh(in[0], -1, 2), x);
    compare("relu6", Match.EXACT, in -> Ops.relu6(in[0]), x.mul(2f));
    compare("hardswish", Match.CLOSE, in -> Ops.hardswish(in[0]), x);
    compare("hardsigmoid", Match.CLOSE, in -> Ops.hardsigmoid(in[0]), x);
    compare("mish", Match.CLOSE, in -> Ops.mish(in[0]), x);
    compare("selu", Match.CLOSE, in -> Ops.selu(in[0]), x);
    compare("celu", Match.CLOSE, in -> Ops.celu(in[0], 0.7), x);
    compare("softsign", Match.CLOSE, in -> Ops.softsign(in[0]), x);
    compare("log_sigmoid", Match.CLOSE, in -> Ops.logSigmoid(in[0]), x);
    compare("tanhshrink", Match.CLOSE, in -> Ops.tanhshrink(in[0]), x);
    compare("smooth_l1_loss", Match.CLOSE, in -> Ops.smoothL1LossPerElement(in[0], in[1], 0.7), x, t);
    compare("smooth_l1_loss beta 0, mean", Match.CLOSE, in -> Ops.smoothL1Loss(in[0], in[1], 0, true), x, t);
    compare("huber_loss", Match.CLOSE, in -> Ops.huberLossPerElement(in[0], in[1], 1.3), x, t);
    compare("huber_loss sum", Match.CLOSE, in -> Ops.huberLoss(in[0], in[1], 0.4, false), x, t);
    expectMixed("huber_loss", () -> Ops.huberLoss(x, t.to(gpu), 1, true));
    expectMixed("smooth_l1_loss", () -> Ops.smoothL1LossPerElement(x.to(gpu), t, 1));
    expectMixed("cosine_similarity", () -> Ops.cosineSimilarity(x, t.to(gpu), 1, 1e-8f));
  }

  // ------------------------------------------------------------------ max pooling

  /** {@code {N, C, H, W, kernelH, kernelW, strideH, strideW, padH, padW, ceilMode (0/1)}}. */
  private static final int[][] POOLS = {
    {2, 3, 8, 8, 2, 2, 2, 2, 0, 0, 0}, // the tutorials' 2x2 (the CPU's fast path)
    {2, 3, 7, 9, 3, 3, 2, 2, 1, 1, 1}, // ceil mode with padding, overlapping windows
    {2, 3, 7, 9, 3, 3, 2, 2, 1, 1, 0},
    {2, 3, 10, 10, 3, 3, 3, 3, 1, 1, 1}, // ceil mode with padding, disjoint windows
    {1, 2, 9, 10, 2, 3, 2, 1, 1, 1, 1}, // unequal kernel and stride
    {2, 2, 5, 5, 5, 5, 1, 1, 2, 2, 0},
    {2, 2, 6, 7, 4, 2, 3, 2, 2, 1, 1},
  };

  private static Tensor maxPool(Tensor x, int[] p) {
    return Ops.maxPool2d(x, p[4], p[5], p[6], p[7], p[8], p[9], p[10] == 1);
  }

  /** Disjoint windows: every input element gets at most one gradient, so the backward is exact too. */
  private static Match poolMatch(int[] p) {
    return p[4] <= p[6] && p[5] <= p[7] ? Match.EXACT : Match.EXACT_VALUES;
  }

  /** Average pooling, fixed and adaptive: the same windows and float sums in the same order, so bit for bit. */
  @Test
  void avgPool2dAndAdaptiveAvgPool2dAreExact() {
    Tensor x = Tensor.randn(2, 3, 7, 9);
    compare("avg_pool2d 3/2/1 ceil", Match.EXACT, in -> Ops.avgPool2d(in[0], 3, 2, 1, true, true), x);
    compare("avg_pool2d 3/2/1 ceil without the padding", Match.EXACT, in -> Ops.avgPool2d(in[0], 3, 2, 1, true, false), x);
    compare("avg_pool2d 2", Match.EXACT, in -> Ops.avgPool2d(in[0], 2, 2, 0, false, true), x);
    compare("avg_pool2d 3/1/1", Match.EXACT, in -> Ops.avgPool2d(in[0], 3, 1, 1, false, true), x);
    for (int[] size : new int[][] {{1, 1}, {3, 4}, {7, 9}, {10, 13}, {2, 5}}) {
      compare("adaptive_avg_pool2d " + Arrays.toString(size), Match.EXACT, in -> Ops.adaptiveAvgPool2d(in[0], size[0], size[1]), x);
    }
  }

  @Test
  void maxPool2dWithStridePaddingAndCeilMode() {
    for (int[] p : POOLS) {
      compare("max_pool2d " + Arrays.toString(p), poolMatch(p), in -> maxPool(in[0], p), Tensor.randn(p[0], p[1], p[2], p[3]));
    }
  }

  @Test
  void maxPool2dTiesAndNaNFollowTheCpuRule() {
    for (int[] p : POOLS) {
      int[] shape = {p[0], p[1], p[2], p[3]};
      // Rounded values: many ties, where the first maximum in row-major window order wins.
      float[] ties = Tensor.randn(shape).toFloatArray();
      for (int i = 0; i < ties.length; i++) {
        ties[i] = Math.round(ties[i]);
      }
      // A NaN makes its windows' values NaN; the recorded element is the largest before the first NaN.
      float[] nans = Tensor.randn(shape).toFloatArray();
      for (int i = 0; i < nans.length; i += 7) {
        nans[i] = Float.NaN;
      }
      compare("max_pool2d ties " + Arrays.toString(p), poolMatch(p), in -> maxPool(in[0], p), Tensor.of(ties, shape));
      compare("max_pool2d NaN " + Arrays.toString(p), poolMatch(p), in -> maxPool(in[0], p), Tensor.of(nans, shape));
    }
  }

  @Test
  void maxPool2dChecksItsWindowAsTheCpuDoes() {
    Tensor x = Tensor.randn(1, 1, 4, 4);
    var cpu = assertThrows(IllegalArgumentException.class, () -> Ops.maxPool2d(x, 2, 2, 2, 2, 2, 2, false));
    var cuda = assertThrows(IllegalArgumentException.class, () -> Ops.maxPool2d(x.to(gpu), 2, 2, 2, 2, 2, 2, false));
    assertEquals(cpu.getMessage(), cuda.getMessage());
  }

  // ------------------------------------------------------------------ 1-d layers (their 2-d forms over one row)

  @Test
  void oneDimensionalConvolutionAndPoolingAsOnTheCpu() {
    Tensor x = Tensor.randn(3, 4, 19);
    compare("conv1d stride 2 padding 1", Match.CLOSE, in -> Ops.conv1d(in[0], in[1], in[2], 2, 1), x, Tensor.randn(5, 4, 3),
        Tensor.randn(5));
    compare("conv1d one sample, no bias", Match.CLOSE, in -> Ops.conv1d(in[0], in[1], null, 1, 0), Tensor.randn(4, 9),
        Tensor.randn(2, 4, 5));
    compare("max_pool1d 3/2/1 ceil", Match.EXACT_VALUES, in -> Ops.maxPool1d(in[0], 3, 2, 1, true), x);
    compare("max_pool1d 2", Match.EXACT, in -> Ops.maxPool1d(in[0], 2, 2, 0, false), x);
    compare("avg_pool1d 3/2/1 ceil without the padding", Match.EXACT, in -> Ops.avgPool1d(in[0], 3, 2, 1, true, false), x);
    compare("adaptive_avg_pool1d 5", Match.EXACT, in -> Ops.adaptiveAvgPool1d(in[0], 5), x);
  }

  // ------------------------------------------------------------------ autograd on the device

  @Test
  void aChainOfOpsWithSharedInputs() {
    // x feeds two branches (two gradients summed into a leaf) and h is used twice (summed inside the graph).
    compare("chain", Match.CLOSE, in -> {
      Tensor h = Ops.tanh(Ops.add(Ops.mul(in[0], in[1]), in[2]));
      Tensor y = Ops.add(Ops.mul(h, h), Ops.leakyRelu(h, 0.1));
      Tensor loss = Ops.mseLoss(Ops.sigmoid(y), in[3], true);
      return Ops.add(loss, Ops.scale(Ops.sum(Ops.relu(in[0])), 0.01f));
    }, Tensor.randn(16, 8), Tensor.randn(8), Tensor.randn(8), Tensor.rand(16, 8));
  }

  @Test
  void backwardFromAScalarLossOnTheGpu() {
    Tensor w = Tensor.randn(10, 5).to(gpu).requiresGrad(true);
    Tensor loss = Ops.crossEntropy(Ops.relu(w), labels(10, 5).to(gpu), true);
    loss.backward();
    assertNotNull(w.grad(), "no gradient reached the leaf");
    assertTrue(w.grad().device().isCuda(), "the gradient is on " + w.grad().device());
    float[] g = w.grad().toFloatArray();
    assertTrue(Arrays.stream(toDoubles(g)).allMatch(Double::isFinite), "gradient " + Arrays.toString(g));
  }

  private static double[] toDoubles(float[] f) {
    double[] d = new double[f.length];
    for (int i = 0; i < f.length; i++) {
      d[i] = f[i];
    }
    return d;
  }

  @Test
  void withoutGradientsNothingIsRecorded() {
    Tensor x = Tensor.randn(2, 3, 6, 6).to(gpu).requiresGrad(true);
    try (var g = Kiln.noGrad()) {
      Tensor[] outs = {
        Ops.relu(x), Ops.maxPool2d(x, 2, 2, 2, 2, 0, 0, false), Ops.sum(x), Ops.softmax(x, 1),
        Ops.crossEntropyPerSample(Ops.reshape(x, 6, 36), labels(6, 36).to(gpu)),
      };
      for (Tensor out : outs) {
        assertTrue(out.isLeaf() && !out.requiresGrad(), "recorded under noGrad: " + out);
        assertTrue(out.device().isCuda(), "on " + out.device());
      }
    }
  }

  // ------------------------------------------------------------------ recurrent

  /**
   * {@link Ops#recurrent} on the device (a GEMM and one cell kernel per step, each way) against the
   * CPU's fused kernels: every mode both ways, from given states with {@code b_hh} and from zeros
   * without, and 23 steps (odd, past the slots' parity); states and every gradient (xProj, h0, c0,
   * W_hh, b_hh) close. Each is one node whose inputs are the leaves themselves.
   */
  @Test
  void recurrentSequenceIsOneNodeAsOnTheCpu() {
    for (dev.kiln.runtime.cpu.RecurrentKernels.Mode mode : dev.kiln.runtime.cpu.RecurrentKernels.Mode.values()) {
      boolean lstm = mode == dev.kiln.runtime.cpu.RecurrentKernels.Mode.LSTM;
      int hidden = 5, gh = mode.gates * hidden;
      for (boolean reverse : new boolean[] {false, true}) {
        String name = "recurrent " + mode + (reverse ? " reverse" : "");
        Tensor out = compare(name + " from h0" + (lstm ? " and c0" : "") + ", b_hh", Match.CLOSE,
            in -> Ops.recurrent(mode, in[0], in[1], lstm ? in[2] : null, in[3], in[4], reverse),
            Tensor.randn(7, 3, gh), Tensor.randn(3, hidden), Tensor.randn(3, hidden), randn(0.5f, gh, hidden), randn(0.5f, gh));
        assertOneRecurrentNode(name, out, lstm ? 5 : 4);
        out = compare(name + " from zeros, no b_hh", Match.CLOSE, in -> Ops.recurrent(mode, in[0], null, null, in[1], null, reverse),
            Tensor.randn(23, 2, gh), randn(0.5f, gh, hidden));
        assertOneRecurrentNode(name, out, 2);
        compare(name + " one step (a cell)", Match.CLOSE, in -> Ops.recurrent(mode, in[0], in[1], null, in[2], in[3], reverse),
            Tensor.randn(1, 4, gh), Tensor.randn(4, hidden), randn(0.5f, gh, hidden), randn(0.5f, gh));
      }
    }
  }

  private static void assertOneRecurrentNode(String what, Tensor out, int inputs) {
    Node node = out.gradFn();
    assertSame(CudaRecurrent.class, node.getClass().getEnclosingClass(), what + ": " + node.name() + " is not the device's recurrent node");
    assertEquals(inputs, node.inputs.length, what + ": the node's inputs");
    for (Tensor in : node.inputs) {
      assertTrue(in.isLeaf(), () -> what + ": the node reads " + in.gradFn().name() + "'s output, not a leaf: more than one node");
    }
  }

  /** Without a gradient the states take two slots in turn and nothing is kept: even and odd lengths, both ways, as on the CPU. */
  @Test
  void recurrentWithoutGradientAsOnTheCpu() {
    for (dev.kiln.runtime.cpu.RecurrentKernels.Mode mode : dev.kiln.runtime.cpu.RecurrentKernels.Mode.values()) {
      int hidden = 4, gh = mode.gates * hidden;
      Tensor w = randn(0.5f, gh, hidden), b = randn(0.5f, gh), h0 = Tensor.randn(3, hidden);
      Tensor c0 = mode == dev.kiln.runtime.cpu.RecurrentKernels.Mode.LSTM ? Tensor.randn(3, hidden) : null;
      for (int steps : new int[] {6, 7}) {
        Tensor x = Tensor.randn(steps, 3, gh);
        for (boolean reverse : new boolean[] {false, true}) {
          Tensor cpu = Ops.recurrent(mode, x, h0, c0, w, b, reverse);
          Tensor cuda;
          try (var g = Kiln.noGrad()) {
            cuda = Ops.recurrent(mode, x.to(gpu), h0.to(gpu), c0 == null ? null : c0.to(gpu), w.to(gpu).requiresGrad(true), b.to(gpu),
                reverse);
          }
          assertTrue(cuda.isLeaf() && !cuda.requiresGrad(), "recorded under noGrad");
          agree("recurrent " + mode + " without gradient, " + steps + " steps" + (reverse ? ", reverse" : ""), false, cuda, cpu);
        }
      }
    }
  }

  @Test
  void recurrentChecksItsArgumentsAsOnTheCpu() {
    var lstm = dev.kiln.runtime.cpu.RecurrentKernels.Mode.LSTM;
    Tensor w = Tensor.randn(8, 2).to(gpu);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Ops.recurrent(lstm, Tensor.randn(3, 2, 6).to(gpu), null, null, w, null, false));
    assertTrue(e.getMessage().contains("needs gates [8, 2] and xProj [T, B, 8], got [3, 2, 6]"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> Ops.recurrent(lstm, Tensor.randn(3, 2, 8).to(gpu), Tensor.randn(2, 2), null, w, null, false));
    assertTrue(e.getMessage().startsWith("recurrent: expected all tensors on one device"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> Ops.recurrent(dev.kiln.runtime.cpu.RecurrentKernels.Mode.RNN_TANH, Tensor.randn(3, 2, 2).to(gpu), null,
            Tensor.randn(2, 2).to(gpu), Tensor.randn(2, 2).to(gpu), null, false));
    assertEquals("recurrent: only LSTM has a cell state", e.getMessage());
  }

  // ------------------------------------------------------------------ the device rule

  @Test
  void mixingDevicesThrowsNamingTheOpAndBothDevices() {
    Tensor cpu = Tensor.randn(4, 3);
    Tensor cuda = Tensor.randn(4, 3).to(gpu);
    Tensor labelsOnCpu = Tensor.labels(0, 1, 2, 0);
    expectMixed("add", () -> Ops.add(cpu, cuda));
    expectMixed("add", () -> Ops.add(cuda, Tensor.randn(3)));
    expectMixed("mul", () -> Ops.mul(cuda, cpu));
    expectMixed("cross_entropy", () -> Ops.crossEntropyPerSample(cuda, labelsOnCpu));
    expectMixed("cross_entropy", () -> Ops.crossEntropy(cuda, labelsOnCpu, true));
    expectMixed("l1_loss", () -> Ops.l1LossPerElement(cpu, cuda));
    expectMixed("mse_loss", () -> Ops.mseLoss(cuda, cpu, true));
  }

  private static void expectMixed(String op, Runnable call) {
    var e = assertThrows(IllegalArgumentException.class, call::run, op + " on a cpu and a cuda tensor");
    String m = e.getMessage();
    assertTrue(m.startsWith(op + ": ") && m.contains(" on cpu") && m.contains(" on cuda"), "message should name " + op + " and both devices: " + m);
  }
}
