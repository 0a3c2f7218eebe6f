package dev.kiln.runtime;

import static dev.kiln.runtime.CudaLayerOps.keepAlive;
import static dev.kiln.runtime.CudaLayerOps.onDevice;
import static dev.kiln.runtime.CudaLayerOps.read;
import static dev.kiln.runtime.CudaLayerOps.write;

import dev.kiln.runtime.cuda.CuBlas;
import dev.kiln.runtime.cuda.CuBlasLt;
import dev.kiln.runtime.cuda.Cuda;
import dev.kiln.runtime.cuda.CudaBuffer;
import dev.kiln.runtime.cuda.CudaException;
import dev.kiln.runtime.cuda.CudaKernel;
import dev.kiln.runtime.cuda.CudaModule;
import java.lang.ref.Reference;
import java.util.function.Supplier;

/**
 * What a compiled model's generated code calls on CUDA. The processor writes, into each generated
 * class, the CUDA C source of the model's fused element-wise chains (a Linear's bias + ReLU
 * epilogue and its backward, batch norm's statistics, normalising pass with its ReLU and, where
 * the plan fuses it, the 2x2 max pooling that follows), with every size but the batch baked in.
 * The methods here compile that source once with NVRTC for the device's architecture (cached by
 * source text, {@link CudaModule}), run the planned steps with those kernels and cuBLAS, and record
 * one tape node per planned step, whose backward runs the generated backward kernels.
 *
 * <p>The generated kernels of a planned step {@code kJ} (J its position in the plan) are:
 * <ul>
 *   <li>Linear + ReLU: {@code kJ_forward(float* y, const float* bias, long long count)} applied in
 *       place to the GEMM's output, and {@code kJ_backward(float* dy, float* dbias, const float* g,
 *       const float* y, int rows, int accumulate)}, launched over 32-column strips of 256 threads;</li>
 *   <li>batch norm: {@code kJ_statistics(float* mean, float* var, float* factors, float*
 *       runningMean, float* runningVar, const float* weight, const float* bias, const float* x, int
 *       n)} (one block of 256 threads per channel), {@code kJ_factors} (the same factors from the
 *       running statistics, in evaluation), {@code kJ_forward(float* y, const float* x, const float*
 *       factors, long long count)} or, fused with 2x2 pooling, {@code kJ_forward(float* out, int*
 *       argmax, const float* x, const float* factors, long long count)}; backward
 *       {@code kJ_backward_reduce} (one block per channel: the parameter gradients and the three
 *       per-channel coefficients of the input gradient) and {@code kJ_backward}.</li>
 * </ul>
 * The arithmetic is the CPU kernels' ({@code cpu.NormKernels}, {@code cpu.CpuKernels}): factors and
 * reductions in double, the normalising product and sum rounded separately (no fused multiply-add),
 * so that a ReLU's mask recomputed from the input in the backward is exactly the forward's.
 */
public final class CudaCompiled {
  /** Threads per block of the generated kernels that reduce: the generated source assumes 256. */
  public static final int THREADS = 256;
  /** Columns of a Linear's output one block of {@code kJ_backward} covers (its threads: 32 columns x 8 row phases). */
  public static final int STRIP = 32;

  private CudaCompiled() {}

  /**
   * The CUDA C source of one generated class, compiled at the first kernel launched from it.
   *
   * @param name the generated class, for NVRTC's messages and the kernels' names in errors
   * @param text the source
   */
  public record Source(String name, String text) {
    CudaKernel kernel(String function) {
      return CudaModule.of(name + ".cu", text).kernel(function);
    }
  }

  /**
   * A Linear followed by a ReLU: {@code y = max(x @ weight^T + bias, 0)} over {@code rows} rows
   * (the batch times any dimensions between it and the features), written by one cuBLASLt call
   * with the bias and ReLU in its epilogue ({@link CuBlasLt}), or where it has no algorithm by a
   * GEMM and the generated epilogue {@code step_forward}; the backward masks the gradient and reduces the bias
   * gradient in one generated pass ({@code step_backward}), then two GEMMs.
   *
   * @param bias may be null (a Linear without bias)
   * @param outShape the output's shape
   */
  public static Tensor linearRelu(Source source, String step, Tensor x, Tensor weight, Tensor bias, int rows, int... outShape) {
    String op = source.name() + " " + step + " (linear + relu)";
    Devices.onCuda(op, x, weight, bias);
    int outF = weight.size(0), in = weight.size(1);
    Device dev = x.device();
    Tensor out = named(op, () -> {
      Tensor y = Tensor.empty(dev, outShape);
      if (!CuBlasLt.linearRelu(y.writeCuda(), x.readCuda(), weight.readCuda(), read(bias), rows, in, outF)) {
        CuBlas.sgemm(false, true, rows, outF, in, 1f, x.readCuda(), in, weight.readCuda(), in, 0f, y.writeCuda(), outF);
        source.kernel(step + "_forward").launch1d((long) rows * outF, y.writeCuda(), read(bias), (long) rows * outF);
      }
      return y;
    });
    keepAlive(x, weight, bias);
    if (!Ops.track(x, weight, bias)) {
      return out;
    }
    Tensor[] inputs = Ops.layerInputs(x, weight, bias);
    return Tensor.ofNode(out, new Node(inputs) {
      @Override public String name() {
        return source.name() + "." + step + ".backward";
      }

      @Override protected Tensor[] backward(Tensor gradOutput) {
        return named(op + " backward", () -> {
          Tensor g = onDevice(gradOutput, dev);
          Tensor[] grads = new Tensor[inputs.length];
          Tensor dy = Tensor.empty(dev, outShape);
          GradSink db = bias != null && needsGrad(2) ? GradSink.of(bias) : null;
          source.kernel(step + "_backward").launch((outF + STRIP - 1) / STRIP, 1, THREADS, 0,
              dy.writeCuda(), db == null ? 0L : db.address(), g.readCuda(), out.readCuda(), rows, db != null && db.accumulate() ? 1 : 0);
          CudaLayerOps.linearGradients(grads, needsGrad(0), needsGrad(1), dy, x, weight, rows, in, outF);
          if (db != null) {
            grads[2] = db.returned();
          }
          keepAlive(g, dy, x, weight, out);
          return grads;
        });
      }
    });
  }

  /**
   * Batch norm of {@code x}, seen as {@code [n, c, l]}, with a ReLU after it when the generated
   * {@code step_forward} has one: training normalises with the batch's statistics and moves the
   * running ones towards them (generated {@code step_statistics}), evaluation with the running
   * statistics ({@code step_factors}). The caller (generated code) has checked the batch and counts
   * it in {@code num_batches_tracked}.
   *
   * @param weight null without an affine transform, as {@code bias}
   */
  public static Tensor batchNorm(Source source, String step, Tensor x, Tensor runningMean, Tensor runningVar,
      Tensor weight, Tensor bias, boolean training, int n, int c) {
    return normalise(source, step, x, runningMean, runningVar, weight, bias, training, n, c, null);
  }

  /**
   * {@link #batchNorm} + ReLU + 2x2 max pooling at stride 2 in one generated pass that never writes
   * the normalised map; the backward gathers each pooled gradient back to its window's maximum
   * (masked by the pooled value being positive) inside the batch-norm passes.
   *
   * @param pooledShape the output's shape, {@code [n, c, H/2, W/2]}
   */
  public static Tensor batchNormReluMaxPool2x2(Source source, String step, Tensor x, Tensor runningMean, Tensor runningVar,
      Tensor weight, Tensor bias, boolean training, int n, int c, int... pooledShape) {
    return normalise(source, step, x, runningMean, runningVar, weight, bias, training, n, c, pooledShape);
  }

  private static Tensor normalise(Source source, String step, Tensor x, Tensor runningMean, Tensor runningVar,
      Tensor weight, Tensor bias, boolean training, int n, int c, int[] pooledShape) {
    String op = source.name() + " " + step + (pooledShape == null ? " (batch norm)" : " (batch norm + relu + max pool)");
    Devices.onCuda(op, x, runningMean, runningVar, weight, bias);
    Device dev = x.device();
    boolean pooled = pooledShape != null;
    long count = x.numel();
    long outCount = pooled ? Shapes.numel(pooledShape) : count;
    // kept for the backward: the mean and variance used (batch or running) and per channel the
    // forward's scale and shift (factors[0, c) and factors[c, 2c))
    Tensor mean = Tensor.empty(dev, c);
    Tensor var = Tensor.empty(dev, c);
    Tensor factors = Tensor.empty(dev, 2 * c);
    CudaBuffer argmax = pooled ? named(op, () -> Cuda.get().allocate(outCount)) : null;
    Tensor out = named(op, () -> {
      if (training) {
        source.kernel(step + "_statistics").launch(c, 1, THREADS, 0, mean.writeCuda(), var.writeCuda(), factors.writeCuda(),
            write(runningMean), write(runningVar), read(weight), read(bias), x.readCuda(), n);
      } else {
        Cuda.get().copy(runningMean.readCuda(), mean.writeCuda(), c);
        Cuda.get().copy(runningVar.readCuda(), var.writeCuda(), c);
        source.kernel(step + "_factors").launch1d(c, factors.writeCuda(), mean.readCuda(), var.readCuda(), read(weight), read(bias));
      }
      Tensor y = Tensor.empty(dev, pooled ? pooledShape : x.shape());
      if (pooled) {
        source.kernel(step + "_forward").launch1d(outCount, y.writeCuda(), argmax.address(), x.readCuda(), factors.readCuda(), outCount);
      } else {
        source.kernel(step + "_forward").launch1d(count, y.writeCuda(), x.readCuda(), factors.readCuda(), count);
      }
      return y;
    });
    keepAlive(x, runningMean, runningVar, weight, bias);
    if (!Ops.track(x, weight, bias)) {
      if (argmax != null) {
        argmax.release(); // safe at once: later users of the block are queued after the kernel
      }
      return out;
    }
    boolean affine = weight != null;
    Tensor[] inputs = affine ? new Tensor[] {x, weight, bias} : new Tensor[] {x};
    return Tensor.ofNode(out, new Node(inputs) {
      @Override public String name() {
        return source.name() + "." + step + ".backward";
      }

      @Override protected Tensor[] backward(Tensor gradOutput) {
        return named(op + " backward", () -> {
          Tensor g = onDevice(gradOutput, dev);
          GradSink dw = affine && needsGrad(1) ? GradSink.of(weight) : null;
          GradSink db = affine && needsGrad(2) ? GradSink.of(bias) : null;
          Tensor coefficients = Tensor.empty(dev, 3 * c);
          long outAddress = pooled ? out.readCuda() : 0L;
          long argmaxAddress = pooled ? argmax.address() : 0L;
          source.kernel(step + "_backward_reduce").launch(c, 1, THREADS, 0, coefficients.writeCuda(),
              dw == null ? 0L : dw.address(), db == null ? 0L : db.address(), g.readCuda(), x.readCuda(), outAddress, argmaxAddress,
              mean.readCuda(), var.readCuda(), read(weight), factors.readCuda(), n, training ? 1 : 0,
              dw != null && dw.accumulate() ? 1 : 0, db != null && db.accumulate() ? 1 : 0);
          Tensor dx = null;
          if (needsGrad(0)) {
            dx = Tensor.empty(dev, x.shape());
            source.kernel(step + "_backward").launch1d(count, dx.writeCuda(), g.readCuda(), x.readCuda(), outAddress, argmaxAddress,
                coefficients.readCuda(), factors.readCuda(), count);
          }
          keepAlive(g, x, out, mean, var, factors, coefficients, weight);
          Reference.reachabilityFence(argmax);
          Tensor[] grads = new Tensor[inputs.length];
          grads[0] = dx;
          if (affine) {
            grads[1] = dw == null ? null : dw.returned();
            grads[2] = db == null ? null : db.returned();
          }
          return grads;
        });
      }
    });
  }

  /**
   * A recurrent layer's output and last states as one value of a compiled forward (its {@code forwardWithState}, on
   * the tape): {@code [N, S + L (+ L), D * H]}, the output {@code [N, S, D * H]}, then each layer's {@code h_n} (the
   * layer's {@code [L * D, N, H]} turned batch first, a layer's directions side by side as in the output), then
   * LSTM's {@code c_n} likewise; the layout of {@code cpu.RecurrentStack}'s value with last states.
   *
   * @param c null for RNN and GRU
   */
  public static Tensor withLastStates(Tensor output, Tensor h, Tensor c) {
    java.util.List<Tensor> parts = new java.util.ArrayList<>(java.util.List.of(output, byLayer(h, output.size(2))));
    if (c != null) {
      parts.add(byLayer(c, output.size(2)));
    }
    return Tensor.cat(parts, 1);
  }

  /**
   * A recurrent layer's initial state, PyTorch's {@code h0} ({@code cell} false) or LSTM's {@code c0}, {@code [L * D, N,
   * H]} on the tape, out of the compiled value holding them ({@code [N, L (+ L), D * H]}, the layout of the last states
   * in {@link #withLastStates}: h0's rows, then c0's), so that the eager layer's {@code forwardWithState(x, h0, c0)}
   * starts from them and their gradient flows back to the value.
   */
  public static Tensor initialState(Tensor init, boolean cell, int layers, int directions, int hidden) {
    int batch = init.size(0);
    Tensor rows = init.size(1) == layers ? init : init.narrow(1, cell ? layers : 0, layers); // LSTM's: h0's rows, then c0's
    return rows.reshape(batch, layers, directions, hidden).permute(1, 2, 0, 3).reshape(layers * directions, batch, hidden);
  }

  /** A last state {@code [L * D, N, H]} as {@code [N, L, D * H]} ({@code width} = D * H): each layer's directions side by side. */
  private static Tensor byLayer(Tensor state, int width) {
    int hidden = state.size(2), directions = width / hidden, layers = state.size(0) / directions, batch = state.size(1);
    return state.reshape(layers, directions, batch, hidden).permute(2, 0, 1, 3).reshape(batch, layers, width);
  }

  /**
   * A compiled model's batched matrix product: {@code out[i] = alpha * op(a[i]) @ op(b[i])} over
   * {@code count} contiguous matrices (the batch times the dimensions between it and the last two),
   * {@code out[i]} of {@code m x n}, the product over {@code k}; a transposed operand ({@code
   * q @ k.transpose(-2, -1)}) is a cuBLAS flag, not a copy, and a constant scale folded into the
   * product is {@code alpha}. One strided-batched cuBLAS call forward, one per needed gradient
   * backward, each gradient in its operand's own layout (the CPU plan's {@code Blas.sgemmBatched}
   * calls, the same products).
   *
   * @param outShape the output's shape
   */
  public static Tensor matmul(Tensor a, boolean transA, Tensor b, boolean transB, float alpha, int count, int m, int n, int k,
      int... outShape) {
    String op = "matmul";
    Devices.onCuda(op, a, b);
    Device dev = a.device();
    long mk = (long) m * k, kn = (long) k * n, mn = (long) m * n;
    int lda = transA ? m : k, ldb = transB ? k : n;
    Tensor out = named(op, () -> {
      Tensor y = Tensor.empty(dev, outShape);
      CuBlas.sgemmStridedBatched(transA, transB, m, n, k, alpha, a.readCuda(), lda, mk, b.readCuda(), ldb, kn, 0f, y.writeCuda(),
          n, mn, count);
      return y;
    });
    keepAlive(a, b);
    if (!Ops.track(a, b)) {
      return out;
    }
    return Tensor.ofNode(out, new Node(a, b) {
      @Override public String name() {
        return "matmul";
      }

      @Override protected Tensor[] backward(Tensor gradOutput) {
        return named(op + " backward", () -> {
          Tensor g = onDevice(gradOutput, dev);
          Tensor da = null, db = null;
          if (needsGrad(0)) { // d op(A) = g @ op(B)^T; a transposed A takes its transpose, op(B) @ g^T
            da = Tensor.empty(dev, a.shape());
            if (transA) {
              CuBlas.sgemmStridedBatched(transB, true, k, m, n, alpha, b.readCuda(), ldb, kn, g.readCuda(), n, mn, 0f,
                  da.writeCuda(), m, mk, count);
            } else {
              CuBlas.sgemmStridedBatched(false, !transB, m, k, n, alpha, g.readCuda(), n, mn, b.readCuda(), ldb, kn, 0f,
                  da.writeCuda(), k, mk, count);
            }
          }
          if (needsGrad(1)) { // d op(B) = op(A)^T @ g; a transposed B takes its transpose, g^T @ op(A)
            db = Tensor.empty(dev, b.shape());
            if (transB) {
              CuBlas.sgemmStridedBatched(true, transA, n, k, m, alpha, g.readCuda(), n, mn, a.readCuda(), lda, mk, 0f,
                  db.writeCuda(), k, kn, count);
            } else {
              CuBlas.sgemmStridedBatched(!transA, false, k, n, m, alpha, a.readCuda(), lda, mk, g.readCuda(), n, mn, 0f,
                  db.writeCuda(), n, kn, count);
            }
          }
          keepAlive(g, a, b);
          return new Tensor[] {da, db};
        });
      }
    });
  }

  /** Runs {@code body}, naming the step in a {@link CudaException} it throws. */
  private static <T> T named(String op, Supplier<T> body) {
    try {
      return body.get();
    } catch (CudaException e) {
      throw new CudaException(op + ": " + e.getMessage(), e);
    }
  }
}
