package dev.kiln.samples;

import dev.kiln.runtime.Device;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;
import java.util.List;
import java.util.function.Function;

/**
 * {@code bench --model layers}: the seed CNN's layers one at a time (and the CIFAR-10 net's 5x5
 * convolution, the smooth activations over the CNN's feature maps, and GELU and layer norm over a
 * transformer block's {@code [batch, 128 tokens, 256]}, and the line kernels: log-sum-exp, norm,
 * running sums, maxima, sort and topk over long and short rows; sums, variances, cross-entropy and where's gradient
 * over a few long lines), each as Kiln's eager operation and as PyTorch's functional call in
 * {@code samples/peer/pytorch_layer_peer.py}, which builds the same cases under the same names.
 * This is where a whole-step gap is traced to a kernel: the step times in {@code bench} add these up.
 *
 * <p>Two figures per case: the forward alone (under {@code noGrad}), and a training pass, forward
 * then {@code sum().backward()} into every input that a layer trains (input, weight, bias), the
 * gradients dropped before the next pass. The sum's own backward is a fill of ones, the same on
 * both sides.
 */
final class LayerBench {
  private LayerBench() {}

  /** One case: its name (shared with the peer), the shapes it is built from, and the operation. */
  record Case(String name, String shapes, int[][] inputs, Function<Tensor[], Tensor> op) {}

  /**
   * The cases at a batch size whose name starts with one of {@code only} (all when it is empty); the
   * order is the table's, and the peer's names must match.
   */
  static List<Case> cases(int batch, List<String> only) {
    return all(batch).stream().filter(c -> only.isEmpty() || only.stream().anyMatch(c.name()::startsWith)).toList();
  }

  private static List<Case> all(int batch) {
    return List.of(
        new Case("conv2d 1->32 3x3 pad 1", "[" + batch + ", 1, 28, 28]",
            new int[][] {{batch, 1, 28, 28}, {32, 1, 3, 3}, {32}}, in -> Ops.conv2d(in[0], in[1], in[2], 1, 1, 1, 1)),
        new Case("conv2d 32->64 3x3 pad 1", "[" + batch + ", 32, 14, 14]",
            new int[][] {{batch, 32, 14, 14}, {64, 32, 3, 3}, {64}}, in -> Ops.conv2d(in[0], in[1], in[2], 1, 1, 1, 1)),
        new Case("conv2d 64->128 3x3 pad 1", "[" + batch + ", 64, 7, 7]",
            new int[][] {{batch, 64, 7, 7}, {128, 64, 3, 3}, {128}}, in -> Ops.conv2d(in[0], in[1], in[2], 1, 1, 1, 1)),
        new Case("conv2d 64->64 3x3 pad 1", "[" + batch + ", 64, 16, 16]",
            new int[][] {{batch, 64, 16, 16}, {64, 64, 3, 3}, {64}}, in -> Ops.conv2d(in[0], in[1], in[2], 1, 1, 1, 1)),
        new Case("conv2d 3->32 5x5 pad 2", "[" + batch + ", 3, 32, 32]",
            new int[][] {{batch, 3, 32, 32}, {32, 3, 5, 5}, {32}}, in -> Ops.conv2d(in[0], in[1], in[2], 1, 1, 2, 2)),
        new Case("batch_norm 2d, training", "[" + batch + ", 32, 28, 28]",
            new int[][] {{batch, 32, 28, 28}, {32}, {32}},
            in -> Ops.batchNorm(in[0], null, null, in[1], in[2], true, 0.1, 1e-5)),
        new Case("relu", "[" + batch + ", 32, 28, 28]", new int[][] {{batch, 32, 28, 28}}, in -> Ops.relu(in[0])),
        new Case("max_pool2d 2", "[" + batch + ", 32, 28, 28]", new int[][] {{batch, 32, 28, 28}},
            in -> Ops.maxPool2d(in[0], 2, 2, 2, 2, 0, 0, false)),
        new Case("linear 1152->512", "[" + batch + ", 1152]", new int[][] {{batch, 1152}, {512, 1152}, {512}},
            in -> Ops.linear(in[0], in[1], in[2])),
        new Case("sigmoid", "[" + batch + ", 32, 28, 28]", new int[][] {{batch, 32, 28, 28}}, in -> Ops.sigmoid(in[0])),
        new Case("tanh", "[" + batch + ", 32, 28, 28]", new int[][] {{batch, 32, 28, 28}}, in -> Ops.tanh(in[0])),
        new Case("silu", "[" + batch + ", 32, 28, 28]", new int[][] {{batch, 32, 28, 28}}, in -> Ops.silu(in[0])),
        new Case("gelu", "[" + batch + ", 128, 256]", new int[][] {{batch, 128, 256}}, in -> Ops.gelu(in[0])),
        new Case("layer_norm 256", "[" + batch + ", 128, 256]", new int[][] {{batch, 128, 256}, {256}, {256}},
            in -> Ops.layerNorm(in[0], new int[] {256}, in[1], in[2], 1e-5)),
        new Case("softmax(-1), attention scores", "[" + batch + ", 4, 64, 64]", new int[][] {{batch, 4, 64, 64}},
            in -> Ops.softmax(in[0], -1)),
        new Case("mean (2, 3), global average pool", "[" + batch + ", 256, 14, 14]", new int[][] {{batch, 256, 14, 14}},
            in -> Ops.mean(in[0], new int[] {2, 3}, false)),
        new Case("mean 3 then 2, global average pool", "[" + batch + ", 256, 14, 14]", new int[][] {{batch, 256, 14, 14}},
            in -> Ops.mean(Ops.mean(in[0], 3, false), 2, false)),
        new Case("sum (0, 2, 3), per channel", "[" + batch + ", 32, 28, 28]", new int[][] {{batch, 32, 28, 28}},
            in -> Ops.sum(in[0], new int[] {0, 2, 3}, false)),
        new Case("var (0, 2, 3), per channel", "[" + batch + ", 32, 28, 28]", new int[][] {{batch, 32, 28, 28}},
            in -> Ops.var(in[0], new int[] {0, 2, 3}, false, false)),
        new Case("mean (1, 3), two runs", "[" + batch + ", 32, 28, 28]", new int[][] {{batch, 32, 28, 28}},
            in -> Ops.mean(in[0], new int[] {1, 3}, false)),
        // line kernels over a few long rows (a block a row on CUDA) and many short ones; sorts in chunks and merges
        new Case("logsumexp(-1), 50k classes", "[4, 50000]", new int[][] {{4, 50000}}, in -> Ops.logsumexp(in[0], -1, false)),
        new Case("norm 2 (-1), long rows", "[4, 50000]", new int[][] {{4, 50000}}, in -> Ops.norm(in[0], 2, -1, false)),
        new Case("cumsum(-1), long rows", "[4, 50000]", new int[][] {{4, 50000}}, in -> Ops.cumsum(in[0], -1)),
        new Case("max(-1), 50k classes", "[4, 50000]", new int[][] {{4, 50000}}, in -> in[0].max(-1).values()),
        new Case("logsumexp(-1), short rows", "[" + batch + ", 128, 100]", new int[][] {{batch, 128, 100}},
            in -> Ops.logsumexp(in[0], -1, false)),
        new Case("sort(-1), 1000 values", "[" + batch + ", 1000]", new int[][] {{batch, 1000}}, in -> Ops.sort(in[0], -1, false).values()),
        new Case("sort(-1), 50k values", "[4, 50000]", new int[][] {{4, 50000}}, in -> Ops.sort(in[0], -1, false).values()),
        new Case("topk(5, -1), 50k classes", "[4, 50000]", new int[][] {{4, 50000}}, in -> in[0].topk(5, -1, true).values()),
        // sums, variances, cross-entropy and where's gradient over a few long lines (a block a line on CUDA) and many short ones
        new Case("sum(-1), long rows", "[4, 50000]", new int[][] {{4, 50000}}, in -> Ops.sum(in[0], -1, false)),
        new Case("sum(0), long columns", "[50000, 32]", new int[][] {{50000, 32}}, in -> Ops.sum(in[0], 0, false)),
        new Case("var(-1), long rows", "[4, 50000]", new int[][] {{4, 50000}}, in -> Ops.var(in[0], -1, false, false)),
        new Case("cross_entropy, 50k classes", "[4, 50000]", new int[][] {{4, 50000}},
            in -> Ops.crossEntropy(in[0], labelsFor(in[0]), true)),
        new Case("cross_entropy, 1000 classes", "[" + batch + ", 1000]", new int[][] {{batch, 1000}},
            in -> Ops.crossEntropy(in[0], labelsFor(in[0]), true)),
        new Case("where, a row repeated", "[4096, 64], [64]", new int[][] {{4096, 64}, {64}},
            in -> Tensor.where(in[0].gt(0f), in[0], in[1])));
  }

  /** Labels for the rows of {@code logits [rows, classes]}: row r's is {@code 7919 r mod classes} (the peer's), made once a shape and device. */
  private static Tensor labelsFor(Tensor logits) {
    int rows = logits.size(0), classes = logits.size(1);
    return LABELS.computeIfAbsent(rows + "x" + classes + " " + logits.device(), k -> {
      int[] l = new int[rows];
      for (int r = 0; r < rows; r++) {
        l[r] = (int) (7919L * r % classes);
      }
      return Tensor.labels(l).to(logits.device());
    });
  }

  private static final java.util.Map<String, Tensor> LABELS = new java.util.concurrent.ConcurrentHashMap<>();

  /** Median milliseconds of {@code c}'s forward under {@code noGrad} ({@code train == false}) or of a training pass. */
  static double time(Case c, Device device, boolean train, int steps) {
    Kiln.manualSeed(0);
    Tensor[] in = new Tensor[c.inputs().length];
    for (int i = 0; i < in.length; i++) {
      in[i] = Tensor.randn(c.inputs()[i]).to(device).requiresGrad(train);
    }
    if (!train) {
      try (var g = Kiln.noGrad()) {
        return BenchCommand.medianMs(steps, () -> {
          c.op().apply(in);
          BenchCommand.finish(device);
        });
      }
    }
    return BenchCommand.medianMs(steps, () -> {
      for (Tensor t : in) {
        t.setGrad(null);
      }
      c.op().apply(in).sum().backward();
      BenchCommand.finish(device);
    });
  }
}
