package dev.kiln.runtime;

import dev.kiln.runtime.cpu.Blas;
import dev.kiln.runtime.cpu.CpuKernels;
import java.util.Arrays;

/**
 * The differentiable operations of eager mode, each with its derivative next to it: this file is
 * Kiln's derivative table. Each op checks its shapes (the message names both), computes through
 * {@link CpuKernels} or {@link Blas}, and records a {@link Node} when gradients are wanted.
 */
public final class Ops {
  private Ops() {}

  private static boolean track(Tensor... inputs) {
    if (!Kiln.isGradEnabled()) {
      return false;
    }
    for (Tensor t : inputs) {
      if (t != null && t.requiresGrad()) {
        return true;
      }
    }
    return false;
  }

  private static void requireFloat(String op, Tensor t) {
    if (t.dtype() != DType.FLOAT32) {
      throw new IllegalArgumentException(op + ": expected a float tensor, got " + t.dtype() + " of shape " + Shapes.toString(t.shape()));
    }
  }

  private static void requireRank(String op, String what, Tensor t, int rank) {
    if (t.dim() != rank) {
      throw new IllegalArgumentException(
          op + ": " + what + " must have rank " + rank + ", got shape " + Shapes.toString(t.shape()));
    }
  }

  // ------------------------------------------------------------------ reshape

  /** A view with a new shape; the gradient is reshaped back. */
  public static Tensor reshape(Tensor x, int... newShape) {
    int[] to = Shapes.inferReshape(x.shape(), newShape);
    if (!track(x)) {
      return x.viewOf(to, null);
    }
    int[] from = x.shape();
    return x.viewOf(to, new Node(x) {
      @Override public String name() {
        return "reshape";
      }

      @Override protected Tensor[] backward(Tensor g) {
        return new Tensor[] {g.viewOf(from, null)};
      }
    });
  }

  // ------------------------------------------------------------------ matrix products

  /** {@code a[m,k] @ b[k,n]}. d/da = g @ b^T, d/db = a^T @ g. */
  public static Tensor matmul(Tensor a, Tensor b) {
    requireFloat("matmul", a);
    requireFloat("matmul", b);
    requireRank("matmul", "left operand", a, 2);
    requireRank("matmul", "right operand", b, 2);
    int m = a.size(0), k = a.size(1), n = b.size(1);
    if (b.size(0) != k) {
      throw new IllegalArgumentException(
          "matmul: " + Shapes.toString(a.shape()) + " @ " + Shapes.toString(b.shape()) + ": inner dimensions " + k + " and " + b.size(0) + " differ");
    }
    float[] out = new float[m * n];
    Blas.sgemm(false, false, m, n, k, 1f, a.buffer(), a.offset(), k, b.buffer(), b.offset(), n, 0f, out, 0, n);
    if (!track(a, b)) {
      return Tensor.wrap(out, m, n);
    }
    return Tensor.ofNode(out, new int[] {m, n}, new Node(a, b) {
      @Override public String name() {
        return "matmul";
      }

      @Override protected Tensor[] backward(Tensor g) {
        Tensor da = null, db = null;
        if (needsGrad(0)) {
          float[] d = new float[m * k];
          Blas.sgemm(false, true, m, k, n, 1f, g.buffer(), g.offset(), n, b.buffer(), b.offset(), n, 0f, d, 0, k);
          da = Tensor.wrap(d, m, k);
        }
        if (needsGrad(1)) {
          float[] d = new float[k * n];
          Blas.sgemm(true, false, k, n, m, 1f, a.buffer(), a.offset(), k, g.buffer(), g.offset(), n, 0f, d, 0, n);
          db = Tensor.wrap(d, k, n);
        }
        return new Tensor[] {da, db};
      }
    });
  }

  /**
   * {@code x[N,in] @ weight[out,in]^T + bias[out]} (PyTorch's {@code F.linear}); {@code bias} may be
   * null. dx = g @ W, dW = g^T @ x, db = column sums of g.
   */
  public static Tensor linear(Tensor x, Tensor weight, Tensor bias) {
    requireFloat("linear", x);
    requireRank("linear", "input", x, 2);
    requireRank("linear", "weight", weight, 2);
    int rows = x.size(0), in = x.size(1), outF = weight.size(0);
    if (weight.size(1) != in) {
      throw new IllegalArgumentException(
          "linear: input " + Shapes.toString(x.shape()) + " does not match weight " + Shapes.toString(weight.shape())
              + " (expected " + weight.size(1) + " input features, got " + in + ")");
    }
    if (bias != null && (bias.dim() != 1 || bias.size(0) != outF)) {
      throw new IllegalArgumentException(
          "linear: bias " + Shapes.toString(bias.shape()) + " does not match " + outF + " output features");
    }
    float[] out = new float[rows * outF];
    Blas.sgemm(false, true, rows, outF, in, 1f, x.buffer(), x.offset(), in, weight.buffer(), weight.offset(), in, 0f, out, 0, outF);
    if (bias != null) {
      CpuKernels.addBiasRows(out, 0, out, 0, bias.buffer(), bias.offset(), rows, outF);
    }
    if (!track(x, weight, bias)) {
      return Tensor.wrap(out, rows, outF);
    }
    Tensor[] inputs = bias == null ? new Tensor[] {x, weight} : new Tensor[] {x, weight, bias};
    return Tensor.ofNode(out, new int[] {rows, outF}, new Node(inputs) {
      @Override public String name() {
        return "linear";
      }

      @Override protected Tensor[] backward(Tensor g) {
        Tensor[] grads = new Tensor[inputs.length];
        if (needsGrad(0)) {
          float[] dx = new float[rows * in];
          Blas.sgemm(false, false, rows, in, outF, 1f, g.buffer(), g.offset(), outF, weight.buffer(), weight.offset(), in, 0f, dx, 0, in);
          grads[0] = Tensor.wrap(dx, rows, in);
        }
        if (needsGrad(1)) {
          float[] dw = new float[outF * in];
          Blas.sgemm(true, false, outF, in, rows, 1f, g.buffer(), g.offset(), outF, x.buffer(), x.offset(), in, 0f, dw, 0, in);
          grads[1] = Tensor.wrap(dw, outF, in);
        }
        if (bias != null && needsGrad(2)) {
          float[] db = new float[outF];
          CpuKernels.biasGradient(db, 0, g.buffer(), g.offset(), rows, outF, false);
          grads[2] = Tensor.wrap(db, outF);
        }
        return grads;
      }
    });
  }

  // ------------------------------------------------------------------ element-wise

  /** Whether {@code small}'s shape is a suffix of {@code big}'s (b broadcast over leading dimensions). */
  private static int broadcastRepeats(String op, Tensor big, Tensor small) {
    int[] bs = big.shape(), ss = small.shape();
    if (ss.length > bs.length
        || !Arrays.equals(ss, Arrays.copyOfRange(bs, bs.length - ss.length, bs.length))) {
      throw new IllegalArgumentException(
          op + ": shapes " + Shapes.toString(bs) + " and " + Shapes.toString(ss)
              + " do not broadcast (the second must equal the trailing dimensions of the first)");
    }
    return big.numel() / Math.max(1, small.numel());
  }

  /** Sums a gradient of {@code big}'s shape down to {@code small}'s (the inverse of suffix broadcasting). */
  private static Tensor reduceTo(Tensor g, Tensor small, int repeats) {
    if (repeats == 1) {
      return g.viewOf(small.shape(), null);
    }
    int n = small.numel();
    float[] out = new float[n];
    CpuKernels.biasGradient(out, 0, g.buffer(), g.offset(), repeats, n, false);
    return Tensor.wrap(out, small.shape());
  }

  /** {@code a + b}, where b has a's shape or a's trailing dimensions (e.g. a bias row). */
  public static Tensor add(Tensor a, Tensor b) {
    requireFloat("add", a);
    requireFloat("add", b);
    int repeats = broadcastRepeats("add", a, b);
    int n = b.numel();
    float[] out = new float[a.numel()];
    CpuKernels.addBiasRows(out, 0, a.buffer(), a.offset(), b.buffer(), b.offset(), repeats, n);
    if (!track(a, b)) {
      return Tensor.wrap(out, a.shape());
    }
    return Tensor.ofNode(out, a.shape(), new Node(a, b) {
      @Override public String name() {
        return "add";
      }

      @Override protected Tensor[] backward(Tensor g) {
        return new Tensor[] {g, needsGrad(1) ? reduceTo(g, b, repeats) : null};
      }
    });
  }

  /** {@code a * b} element-wise, where b has a's shape or a's trailing dimensions. */
  public static Tensor mul(Tensor a, Tensor b) {
    requireFloat("mul", a);
    requireFloat("mul", b);
    int repeats = broadcastRepeats("mul", a, b);
    int n = b.numel();
    float[] ad = a.buffer(), bd = b.buffer();
    int ao = a.offset(), bo = b.offset();
    float[] out = new float[a.numel()];
    for (int r = 0; r < repeats; r++) {
      for (int j = 0; j < n; j++) {
        out[r * n + j] = ad[ao + r * n + j] * bd[bo + j];
      }
    }
    if (!track(a, b)) {
      return Tensor.wrap(out, a.shape());
    }
    return Tensor.ofNode(out, a.shape(), new Node(a, b) {
      @Override public String name() {
        return "mul";
      }

      @Override protected Tensor[] backward(Tensor g) {
        float[] gd = g.buffer();
        int go = g.offset();
        Tensor da = null, db = null;
        if (needsGrad(0)) {
          float[] d = new float[a.numel()];
          for (int r = 0; r < repeats; r++) {
            for (int j = 0; j < n; j++) {
              d[r * n + j] = gd[go + r * n + j] * bd[bo + j];
            }
          }
          da = Tensor.wrap(d, a.shape());
        }
        if (needsGrad(1)) {
          float[] d = new float[n];
          for (int r = 0; r < repeats; r++) {
            for (int j = 0; j < n; j++) {
              d[j] += gd[go + r * n + j] * ad[ao + r * n + j];
            }
          }
          db = Tensor.wrap(d, b.shape());
        }
        return new Tensor[] {da, db};
      }
    });
  }

  /** {@code a * s} for a constant {@code s}. */
  public static Tensor scale(Tensor a, float s) {
    requireFloat("scale", a);
    float[] out = a.toFloatArray();
    for (int i = 0; i < out.length; i++) {
      out[i] *= s;
    }
    if (!track(a)) {
      return Tensor.wrap(out, a.shape());
    }
    return Tensor.ofNode(out, a.shape(), new Node(a) {
      @Override public String name() {
        return "scale";
      }

      @Override protected Tensor[] backward(Tensor g) {
        return new Tensor[] {scale(g, s)};
      }
    });
  }

  /** {@code max(0, x)}. The gradient passes where the output is positive. */
  public static Tensor relu(Tensor x) {
    requireFloat("relu", x);
    int n = x.numel();
    float[] out = new float[n];
    CpuKernels.reluForward(out, 0, x.buffer(), x.offset(), n);
    if (!track(x)) {
      return Tensor.wrap(out, x.shape());
    }
    return Tensor.ofNode(out, x.shape(), new Node(x) {
      @Override public String name() {
        return "relu";
      }

      @Override protected Tensor[] backward(Tensor g) {
        float[] dx = new float[n];
        CpuKernels.reluBackward(dx, 0, g.buffer(), g.offset(), out, 0, n);
        return new Tensor[] {Tensor.wrap(dx, x.shape())};
      }
    });
  }

  // ------------------------------------------------------------------ reductions

  /** Sum of all elements, as a rank-0 tensor. */
  public static Tensor sum(Tensor x) {
    return reduceAll(x, 1f, "sum");
  }

  /** Mean of all elements, as a rank-0 tensor. */
  public static Tensor mean(Tensor x) {
    if (x.numel() == 0) {
      throw new IllegalArgumentException("mean of an empty tensor of shape " + Shapes.toString(x.shape()));
    }
    return reduceAll(x, 1f / x.numel(), "mean");
  }

  private static Tensor reduceAll(Tensor x, float factor, String name) {
    requireFloat(name, x);
    float[] d = x.buffer();
    int o = x.offset();
    double s = 0;
    for (int i = 0; i < x.numel(); i++) {
      s += d[o + i];
    }
    float[] out = {(float) (s * factor)};
    if (!track(x)) {
      return Tensor.wrap(out);
    }
    return Tensor.ofNode(out, new int[0], new Node(x) {
      @Override public String name() {
        return name;
      }

      @Override protected Tensor[] backward(Tensor g) {
        return new Tensor[] {Tensor.full(g.item() * factor, x.shape())};
      }
    });
  }

  // ------------------------------------------------------------------ losses

  /**
   * Cross-entropy of {@code logits[N, C]} against class indices {@code target[N]}, averaged over
   * the batch ({@code mean}) or summed. Log-softmax and NLL run as one kernel; the saved softmax
   * gives the backward {@code (softmax - onehot) / N} in one pass.
   */
  public static Tensor crossEntropy(Tensor logits, Tensor target, boolean mean) {
    CrossEntropy ce = CrossEntropy.forward(logits, target);
    double s = 0;
    for (float l : ce.losses) {
      s += l;
    }
    float factor = mean ? 1f / ce.rows : 1f;
    float[] out = {(float) (s * factor)};
    if (!track(logits)) {
      return Tensor.wrap(out);
    }
    return Tensor.ofNode(out, new int[0], new Node(logits) {
      @Override public String name() {
        return "cross_entropy";
      }

      @Override protected Tensor[] backward(Tensor g) {
        return new Tensor[] {ce.backward(new float[] {g.item() * factor}, true)};
      }
    });
  }

  /** Cross-entropy per sample ({@code reduction='none'}): a tensor of shape {@code [N]}. */
  public static Tensor crossEntropyPerSample(Tensor logits, Tensor target) {
    CrossEntropy ce = CrossEntropy.forward(logits, target);
    if (!track(logits)) {
      return Tensor.wrap(ce.losses, ce.rows);
    }
    return Tensor.ofNode(ce.losses, new int[] {ce.rows}, new Node(logits) {
      @Override public String name() {
        return "cross_entropy";
      }

      @Override protected Tensor[] backward(Tensor g) {
        return new Tensor[] {ce.backward(g.toFloatArray(), false)};
      }
    });
  }

  /** Forward state of one cross-entropy call, kept for its backward. */
  private static final class CrossEntropy {
    final int rows;
    final int classes;
    final float[] losses;
    final float[] probs;
    final Tensor target;

    private CrossEntropy(int rows, int classes, Tensor target) {
      this.rows = rows;
      this.classes = classes;
      this.losses = new float[rows];
      this.probs = new float[rows * classes];
      this.target = target;
    }

    static CrossEntropy forward(Tensor logits, Tensor target) {
      requireFloat("cross_entropy", logits);
      requireRank("cross_entropy", "input (logits)", logits, 2);
      if (target.dtype() != DType.INT32) {
        throw new IllegalArgumentException(
            "cross_entropy: target must hold class indices (Tensor.labels(...)), got a float tensor of shape "
                + Shapes.toString(target.shape()));
      }
      if (target.dim() != 1 || target.size(0) != logits.size(0)) {
        throw new IllegalArgumentException(
            "cross_entropy: input " + Shapes.toString(logits.shape()) + " needs a target of shape ["
                + logits.size(0) + "], got " + Shapes.toString(target.shape()));
      }
      CrossEntropy ce = new CrossEntropy(logits.size(0), logits.size(1), target);
      CpuKernels.crossEntropyForward(
          ce.losses, ce.probs, logits.buffer(), logits.offset(), target.buffer(), target.offset(), ce.rows, ce.classes);
      return ce;
    }

    Tensor backward(float[] scale, boolean uniform) {
      float[] d = new float[rows * classes];
      CpuKernels.crossEntropyBackward(d, scale, uniform, probs, target.buffer(), target.offset(), rows, classes);
      return Tensor.wrap(d, rows, classes);
    }
  }

  // ------------------------------------------------------------------ convolution and pooling

  /**
   * 2-d convolution (cross-correlation) as PyTorch's {@code F.conv2d}: input {@code [N, C, H, W]},
   * weight {@code [O, C, kH, kW]}, bias {@code [O]} or null; output {@code [N, O, outH, outW]} with
   * {@code outH = (H + 2 padH - kH) / strideH + 1} (rounded down), likewise outW. Padding is zeros.
   */
  public static Tensor conv2d(Tensor x, Tensor weight, Tensor bias, int strideH, int strideW, int padH, int padW) {
    requireFloat("conv2d", x);
    requireFloat("conv2d", weight);
    requireRank("conv2d", "input", x, 4);
    requireRank("conv2d", "weight", weight, 4);
    int outC = weight.size(0);
    if (x.size(1) != weight.size(1)) {
      throw new IllegalArgumentException(
          "conv2d: input " + Shapes.toString(x.shape()) + " has " + x.size(1) + " channels, weight "
              + Shapes.toString(weight.shape()) + " expects " + weight.size(1));
    }
    if (bias != null && (bias.dim() != 1 || bias.size(0) != outC)) {
      throw new IllegalArgumentException(
          "conv2d: bias " + Shapes.toString(bias.shape()) + " does not match weight " + Shapes.toString(weight.shape())
              + " (expected [" + outC + "])");
    }
    dev.kiln.runtime.cpu.Conv2dShape s;
    try {
      s = new dev.kiln.runtime.cpu.Conv2dShape(x.size(0), x.size(1), x.size(2), x.size(3),
          outC, weight.size(2), weight.size(3), strideH, strideW, padH, padW);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "conv2d: input " + Shapes.toString(x.shape()) + ", weight " + Shapes.toString(weight.shape()) + ": "
              + e.getMessage(), e);
    }
    int[] outShape = {s.batch(), outC, s.outHeight(), s.outWidth()};
    float[] out = new float[Shapes.numel(outShape)];
    dev.kiln.runtime.cpu.ConvKernels.conv2dForward(out, 0, x.buffer(), x.offset(),
        weight.buffer(), weight.offset(), bias == null ? null : bias.buffer(), bias == null ? 0 : bias.offset(), s);
    if (!track(x, weight, bias)) {
      return Tensor.wrap(out, outShape);
    }
    Tensor[] inputs = bias == null ? new Tensor[] {x, weight} : new Tensor[] {x, weight, bias};
    return Tensor.ofNode(out, outShape, new Node(inputs) {
      @Override public String name() {
        return "conv2d";
      }

      @Override protected Tensor[] backward(Tensor g) {
        float[] dx = needsGrad(0) ? new float[x.numel()] : null;
        float[] dw = needsGrad(1) ? new float[weight.numel()] : null;
        float[] db = bias != null && needsGrad(2) ? new float[outC] : null;
        dev.kiln.runtime.cpu.ConvKernels.conv2dBackward(dx, 0, dw, 0, db, 0, false, g.buffer(), g.offset(),
            x.buffer(), x.offset(), weight.buffer(), weight.offset(), s);
        Tensor[] grads = new Tensor[inputs.length];
        grads[0] = dx == null ? null : Tensor.wrap(dx, x.shape());
        grads[1] = dw == null ? null : Tensor.wrap(dw, weight.shape());
        if (db != null) {
          grads[2] = Tensor.wrap(db, outC);
        }
        return grads;
      }
    });
  }

  /**
   * 2-d max pooling as PyTorch's {@code F.max_pool2d}: input {@code [N, C, H, W]}, output
   * {@code [N, C, outH, outW]}, each the maximum of a {@code kernelH x kernelW} window (padding
   * counts as minus infinity, and may be at most half the kernel). {@code ceilMode} rounds the
   * output size up, keeping a last partial window that starts inside the input. The gradient goes
   * to the element each maximum came from.
   */
  public static Tensor maxPool2d(
      Tensor x, int kernelH, int kernelW, int strideH, int strideW, int padH, int padW, boolean ceilMode) {
    requireFloat("max_pool2d", x);
    requireRank("max_pool2d", "input", x, 4);
    dev.kiln.runtime.cpu.Pool2dShape s;
    try {
      s = new dev.kiln.runtime.cpu.Pool2dShape(x.size(0), x.size(1), x.size(2), x.size(3),
          kernelH, kernelW, strideH, strideW, padH, padW, ceilMode);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("max_pool2d: input " + Shapes.toString(x.shape()) + ": " + e.getMessage(), e);
    }
    int[] outShape = {s.batch(), s.channels(), s.outHeight(), s.outWidth()};
    int n = Shapes.numel(outShape);
    float[] out = new float[n];
    int[] argmax = new int[n];
    dev.kiln.runtime.cpu.ConvKernels.maxPool2dForward(out, 0, argmax, x.buffer(), x.offset(), s);
    if (!track(x)) {
      return Tensor.wrap(out, outShape);
    }
    return Tensor.ofNode(out, outShape, new Node(x) {
      @Override public String name() {
        return "max_pool2d";
      }

      @Override protected Tensor[] backward(Tensor g) {
        float[] dx = new float[x.numel()];
        dev.kiln.runtime.cpu.ConvKernels.maxPool2dBackward(dx, 0, g.buffer(), g.offset(), argmax, s);
        return new Tensor[] {Tensor.wrap(dx, x.shape())};
      }
    });
  }

  // (end of convolution and pooling)

  // ------------------------------------------------------------------ normalisation, dropout, activations, regression losses

  // (end of normalisation, dropout, activations, regression losses)
}
