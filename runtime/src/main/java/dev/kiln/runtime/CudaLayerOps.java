package dev.kiln.runtime;

import dev.kiln.runtime.cpu.Conv2dShape;
import dev.kiln.runtime.cuda.BatchNormKernels;
import dev.kiln.runtime.cuda.CuBlas;
import dev.kiln.runtime.cuda.CuDnn;
import dev.kiln.runtime.cuda.Cuda;
import dev.kiln.runtime.cuda.GroupNormKernels;
import java.lang.ref.Reference;

/**
 * The CUDA side of {@link Ops}' layer operations: matmul and linear through cuBLAS, conv2d
 * through cuDNN, batch norm and group norm by Kiln's kernels ({@link BatchNormKernels}, {@link GroupNormKernels}). {@link Ops} checks the arguments (the same checks, the same messages
 * for both devices) and comes here when they live on the GPU; each method computes the same
 * values as the CPU code and records the same derivative, returning CUDA tensors.
 *
 * <p>One difference in how gradients travel: a leaf parameter's gradient (a weight, a bias) is
 * accumulated where it lives, by the library call itself ({@code beta = 1} into the existing
 * gradient, or written into a new gradient tensor when there is none), and the node returns
 * {@code null} for it, as compiled models do on the CPU. The engine's result, {@code grad +=
 * contribution}, is the same; what is saved is a temporary and an add kernel per parameter and
 * step. Input gradients, and those of non-leaf weights, are returned fresh as on the CPU.
 *
 * <p>Device memory is handled by address ({@code readCuda}/{@code writeCuda}), so a tensor whose
 * address has been taken must stay reachable until its call is queued: were it collected, its block
 * could be handed to an output allocated meanwhile. Each method ends with {@link #keepAlive}.
 */
final class CudaLayerOps {
  private CudaLayerOps() {}

  // ------------------------------------------------------------------ matrix products

  /** {@link Ops#bmm}: one strided-batched cuBLAS call forward, one per needed gradient backward. */
  static Tensor bmm(Tensor a, Tensor b) {
    int count = a.size(0), m = a.size(1), k = a.size(2), n = b.size(2);
    long mk = (long) m * k, kn = (long) k * n, mn = (long) m * n;
    Device dev = a.device();
    Tensor out = Tensor.empty(dev, count, m, n);
    CuBlas.sgemmStridedBatched(false, false, m, n, k, 1f, a.readCuda(), k, mk, b.readCuda(), n, kn, 0f, out.writeCuda(), n, mn, count);
    keepAlive(a, b);
    if (!Ops.track(a, b)) {
      return out;
    }
    return Tensor.ofNode(out, new Node(a, b) {
      @Override public String name() {
        return "bmm";
      }

      @Override protected Tensor[] backward(Tensor gradOutput) {
        Tensor g = onDevice(gradOutput, dev);
        Tensor da = null, db = null;
        if (needsGrad(0)) {
          da = Tensor.empty(dev, count, m, k);
          CuBlas.sgemmStridedBatched(false, true, m, k, n, 1f, g.readCuda(), n, mn, b.readCuda(), n, kn, 0f, da.writeCuda(), k, mk, count);
        }
        if (needsGrad(1)) {
          db = Tensor.empty(dev, count, k, n);
          CuBlas.sgemmStridedBatched(true, false, k, n, m, 1f, a.readCuda(), k, mk, g.readCuda(), n, mn, 0f, db.writeCuda(), n, kn, count);
        }
        keepAlive(g, a, b);
        return new Tensor[] {da, db};
      }
    });
  }

  /**
   * {@code x[N,in] @ weight[out,in]^T + bias[out]}, checked by {@link Ops#linear}. dx = g @ W,
   * dW = g^T @ x, db = column sums of g.
   */
  static Tensor linear(Tensor x, Tensor weight, Tensor bias) {
    int rows = x.size(0), in = x.size(1), outF = weight.size(0);
    Device dev = x.device();
    Tensor out = Tensor.empty(dev, rows, outF);
    CuBlas.sgemm(false, true, rows, outF, in, 1f, x.readCuda(), in, weight.readCuda(), in, 0f, out.writeCuda(), outF);
    if (bias != null) {
      CuBlas.addBiasRows(out.writeCuda(), bias.readCuda(), rows, outF);
    }
    keepAlive(x, weight, bias);
    if (!Ops.track(x, weight, bias)) {
      return out;
    }
    Tensor[] inputs = Ops.layerInputs(x, weight, bias);
    return Tensor.ofNode(out, new Node(inputs) {
      @Override public String name() {
        return "linear";
      }

      @Override protected Tensor[] backward(Tensor gradOutput) {
        Tensor g = onDevice(gradOutput, dev);
        Tensor[] grads = new Tensor[inputs.length];
        linearGradients(grads, needsGrad(0), needsGrad(1), g, x, weight, rows, in, outF);
        if (bias != null && needsGrad(2)) {
          GradSink db = GradSink.of(bias);
          CuBlas.columnSums(db.address(), g.readCuda(), rows, outF, db.accumulate());
          grads[2] = db.returned();
        }
        keepAlive(g, x, weight);
        return grads;
      }
    });
  }

  /**
   * The gradients of {@code y = x @ weight^T} from {@code dy} ({@code [rows, out]}): into
   * {@code grads[0]} a new input gradient shaped like {@code x} when {@code input}, and the
   * weight's added into its gradient ({@link GradSink}) when {@code weightToo}, with what the node
   * returns for it in {@code grads[1]}.
   */
  static void linearGradients(Tensor[] grads, boolean input, boolean weightToo, Tensor dy, Tensor x, Tensor weight,
      int rows, int in, int outF) {
    if (input) {
      Tensor dx = Tensor.empty(x.device(), x.shape());
      CuBlas.sgemm(false, false, rows, in, outF, 1f, dy.readCuda(), outF, weight.readCuda(), in, 0f, dx.writeCuda(), in);
      grads[0] = dx;
    }
    if (weightToo) {
      GradSink dw = GradSink.of(weight);
      CuBlas.sgemm(true, false, outF, in, rows, 1f, dy.readCuda(), outF, x.readCuda(), in,
          dw.accumulate() ? 1f : 0f, dw.address(), in);
      grads[1] = dw.returned();
    }
    keepAlive(dy, x, weight);
  }

  // ------------------------------------------------------------------ convolution

  /** 2-d convolution of {@code x} by {@code weight} (+ bias), checked and measured by {@link Ops#conv2d}. */
  static Tensor conv2d(Tensor x, Tensor weight, Tensor bias, Conv2dShape s) {
    Device dev = x.device();
    Tensor out = Tensor.empty(dev, s.batch(), s.outChannels(), s.outHeight(), s.outWidth());
    CuDnn.conv2dForward(s, x.readCuda(), weight.readCuda(), out.writeCuda());
    if (bias != null) {
      CuDnn.conv2dAddBias(s, bias.readCuda(), out.writeCuda());
    }
    keepAlive(x, weight, bias);
    if (!Ops.track(x, weight, bias)) {
      return out;
    }
    Tensor[] inputs = Ops.layerInputs(x, weight, bias);
    return Tensor.ofNode(out, new Node(inputs) {
      @Override public String name() {
        return "conv2d";
      }

      @Override protected Tensor[] backward(Tensor gradOutput) {
        Tensor g = onDevice(gradOutput, dev);
        Tensor[] grads = new Tensor[inputs.length];
        if (needsGrad(0)) {
          Tensor dx = Tensor.empty(dev, x.shape());
          CuDnn.conv2dBackwardData(s, weight.readCuda(), g.readCuda(), dx.writeCuda());
          grads[0] = dx;
        }
        if (needsGrad(1)) {
          GradSink dw = GradSink.of(weight);
          CuDnn.conv2dBackwardFilter(s, x.readCuda(), g.readCuda(), dw.address(), dw.accumulate());
          grads[1] = dw.returned();
        }
        if (bias != null && needsGrad(2)) {
          GradSink db = GradSink.of(bias);
          CuDnn.conv2dBiasGradient(s, g.readCuda(), db.address(), db.accumulate());
          grads[2] = db.returned();
        }
        keepAlive(g, x, weight);
        return grads;
      }
    });
  }

  /**
   * {@link Ops#convTranspose2d} without its bias: cuDNN's backward-data of the convolution {@code
   * s} (output to x) forward, its forward and backward-filter for the gradients.
   */
  static Tensor convTranspose2d(Tensor x, Tensor weight, Conv2dShape s) {
    Device dev = x.device();
    Tensor out = Tensor.empty(dev, s.batch(), s.inChannels(), s.height(), s.width());
    CuDnn.conv2dBackwardData(s, weight.readCuda(), x.readCuda(), out.writeCuda());
    keepAlive(x, weight);
    if (!Ops.track(x, weight)) {
      return out;
    }
    return Tensor.ofNode(out, new Node(x, weight) {
      @Override public String name() {
        return "conv_transpose2d";
      }

      @Override protected Tensor[] backward(Tensor gradOutput) {
        Tensor g = onDevice(gradOutput, dev);
        Tensor[] grads = new Tensor[2];
        if (needsGrad(0)) {
          Tensor dx = Tensor.empty(dev, x.shape());
          CuDnn.conv2dForward(s, g.readCuda(), weight.readCuda(), dx.writeCuda());
          grads[0] = dx;
        }
        if (needsGrad(1)) {
          GradSink dw = GradSink.of(weight);
          CuDnn.conv2dBackwardFilter(s, g.readCuda(), x.readCuda(), dw.address(), dw.accumulate());
          grads[1] = dw.returned();
        }
        keepAlive(g, x, weight);
        return grads;
      }
    });
  }

  // ------------------------------------------------------------------ normalisation

  /**
   * Batch normalisation of {@code x}, seen as {@code [n, c, l]}, checked by {@link Ops#batchNorm}
   * (which also refuses training on one value per channel and evaluation without running
   * statistics), by Kiln's own kernels ({@link BatchNormKernels}, the CPU's arithmetic). Training
   * normalises with the batch's statistics and moves the running ones towards them in place (with
   * the unbiased variance); evaluation normalises with the running statistics, and copies them for
   * the backward, as the CPU does.
   */
  static Tensor batchNorm(Tensor x, Tensor runningMean, Tensor runningVar, Tensor weight, Tensor bias,
      boolean training, double momentum, double eps, int n, int c, int l) {
    Device dev = x.device();
    long count = (long) n * c * l;
    // kept for the backward: the mean and variance used (the batch's, or copies of the running
    // ones: a later training step may update those in place)
    Tensor mean = Tensor.empty(dev, c);
    Tensor var = Tensor.empty(dev, c);
    Tensor factors = Tensor.empty(dev, 2 * c);
    if (training) {
      BatchNormKernels.statistics(mean.writeCuda(), var.writeCuda(), factors.writeCuda(), write(runningMean), write(runningVar),
          read(weight), read(bias), x.readCuda(), n, c, l, eps, momentum);
    } else {
      Cuda.get().copy(runningMean.readCuda(), mean.writeCuda(), c);
      Cuda.get().copy(runningVar.readCuda(), var.writeCuda(), c);
      BatchNormKernels.factors(factors.writeCuda(), mean.readCuda(), var.readCuda(), read(weight), read(bias), c, eps);
    }
    Tensor out = Tensor.empty(dev, x.shape());
    BatchNormKernels.forward(out.writeCuda(), x.readCuda(), factors.readCuda(), c, l, count);
    keepAlive(x, runningMean, runningVar, weight, bias, factors);
    if (!Ops.track(x, weight, bias)) {
      return out;
    }
    boolean affine = weight != null;
    Tensor[] inputs = affine ? new Tensor[] {x, weight, bias} : new Tensor[] {x};
    return Tensor.ofNode(out, new Node(inputs) {
      @Override public String name() {
        return "batch_norm";
      }

      @Override protected Tensor[] backward(Tensor gradOutput) {
        Tensor g = onDevice(gradOutput, dev);
        GradSink dw = affine && needsGrad(1) ? GradSink.of(weight) : null;
        GradSink db = affine && needsGrad(2) ? GradSink.of(bias) : null;
        Tensor coefficients = Tensor.empty(dev, 3 * c);
        BatchNormKernels.backwardReduce(coefficients.writeCuda(), GradSink.address(dw), GradSink.address(db), g.readCuda(),
            x.readCuda(), mean.readCuda(), var.readCuda(), read(weight), n, c, l, eps, training,
            dw != null && dw.accumulate(), db != null && db.accumulate());
        Tensor dx = null;
        if (needsGrad(0)) {
          dx = Tensor.empty(dev, x.shape());
          BatchNormKernels.backward(dx.writeCuda(), g.readCuda(), x.readCuda(), coefficients.readCuda(), c, l, count);
        }
        keepAlive(g, x, weight, mean, var, coefficients);
        Tensor[] grads = new Tensor[inputs.length];
        grads[0] = dx;
        if (affine) {
          grads[1] = dw == null ? null : dw.returned();
          grads[2] = db == null ? null : db.returned();
        }
        return grads;
      }
    });
  }

  /**
   * Group normalisation of {@code x}, seen as {@code [n, c, l]} in {@code groups} groups, checked by {@link
   * Ops#groupNorm}, by Kiln's own kernels ({@link GroupNormKernels}, the CPU's arithmetic): the rows' statistics kept
   * for the backward, which sums per (sample, channel) once for both the parameters' gradients and the input's.
   */
  static Tensor groupNorm(Tensor x, int groups, Tensor weight, Tensor bias, double eps, int n, int c, int l) {
    Device dev = x.device();
    int per = c / groups, inner = per * l, rows = n * groups;
    long count = (long) n * c * l;
    Tensor stats = Tensor.empty(dev, 3 * rows);
    GroupNormKernels.statistics(stats.writeCuda(), x.readCuda(), rows, inner, eps);
    Tensor out = Tensor.empty(dev, x.shape());
    GroupNormKernels.forward(out.writeCuda(), x.readCuda(), stats.readCuda(), read(weight), read(bias), c, l, inner, count);
    keepAlive(x, weight, bias, stats);
    if (!Ops.track(x, weight, bias)) {
      return out;
    }
    Tensor[] inputs = LayerOps.given(x, weight, bias);
    int wAt = weight == null ? -1 : 1, bAt = bias == null ? -1 : weight == null ? 1 : 2;
    return Tensor.ofNode(out, new Node(inputs) {
      @Override public String name() {
        return "group_norm";
      }

      @Override protected Tensor[] backward(Tensor gradOutput) {
        Tensor g = onDevice(gradOutput, dev);
        GradSink dw = wAt >= 0 && needsGrad(wAt) ? GradSink.of(weight) : null;
        GradSink db = bAt >= 0 && needsGrad(bAt) ? GradSink.of(bias) : null;
        Tensor sums = Tensor.zeros(dev, 4 * n * c); // 2 n c doubles; zeros for l = 0
        GroupNormKernels.channelSums(sums.writeCuda(), g.readCuda(), x.readCuda(), stats.readCuda(), n, c, l, per);
        if (dw != null || db != null) {
          GroupNormKernels.parameterGradients(GradSink.address(dw), GradSink.address(db), sums.readCuda(), n, c,
              dw != null && dw.accumulate(), db != null && db.accumulate());
        }
        Tensor dx = null, coef = null;
        if (needsGrad(0)) {
          coef = Tensor.empty(dev, 2 * rows);
          GroupNormKernels.rowCoefficients(coef.writeCuda(), sums.readCuda(), read(weight), rows, groups, per, inner);
          dx = Tensor.empty(dev, x.shape());
          GroupNormKernels.backward(dx.writeCuda(), g.readCuda(), x.readCuda(), stats.readCuda(), coef.readCuda(), read(weight),
              c, l, inner, count);
        }
        keepAlive(g, x, weight, stats, sums, coef);
        Tensor[] grads = new Tensor[inputs.length];
        grads[0] = dx;
        if (wAt >= 0) {
          grads[wAt] = dw == null ? null : dw.returned();
        }
        if (bAt >= 0) {
          grads[bAt] = db == null ? null : db.returned();
        }
        return grads;
      }
    });
  }

  // ------------------------------------------------------------------ helpers

  /** The gradient arriving at a node, on the node's device (it is already, unless an op mixed devices). */
  static Tensor onDevice(Tensor g, Device dev) {
    return g.device() == dev ? g : g.to(dev);
  }

  /** A tensor's device address for reading, 0 for none. */
  static long read(Tensor t) {
    return t == null ? 0 : t.readCuda();
  }

  /** A tensor's device address for writing, 0 for none. */
  static long write(Tensor t) {
    return t == null ? 0 : t.writeCuda();
  }

  /** Keeps tensors whose addresses were passed to queued calls reachable until here (see the class comment). */
  static void keepAlive(Tensor... tensors) {
    Reference.reachabilityFence(tensors);
  }
}
