package dev.kiln.runtime.optim;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.cpu.Blas;
import dev.kiln.runtime.cuda.ElementwiseKernels;
import java.util.List;
import java.util.Objects;

/**
 * Gradient clipping, as PyTorch's {@code torch.nn.utils.clip_grad_norm_} ({@link #norm}) and
 * {@code clip_grad_value_} ({@link #value}): call it between {@code backward()} and {@code opt.step()}.
 *
 * <pre>{@code
 * loss.backward();
 * double norm = ClipGrad.norm(net.parameters(), 1.0);   // the norm before clipping, to log
 * opt.step();
 * }</pre>
 */
public final class ClipGrad {
  private ClipGrad() {}

  /**
   * Scales the gradients of {@code params} in place so that their total 2-norm (of all gradients
   * as one vector) is at most {@code maxNorm}: each is multiplied by {@code maxNorm / (total +
   * 1e-6)} when that is below 1, and left alone otherwise. Parameters without a gradient are
   * skipped. A gradient kept in native memory by a compiled model (or on the GPU) is scaled there.
   * A total that is NaN or infinite leaves the gradients as they are (they hold the NaN or the
   * infinity already).
   *
   * A {@code maxNorm} of 0 zeroes the gradients, as PyTorch's.
   *
   * @return the total norm before clipping
   * @throws IllegalArgumentException when {@code maxNorm} is negative, NaN or infinite
   */
  public static double norm(List<Tensor> params, double maxNorm) {
    Objects.requireNonNull(params, "ClipGrad.norm: params is null");
    if (!(maxNorm >= 0) || Double.isInfinite(maxNorm)) {
      throw new IllegalArgumentException("ClipGrad.norm: maxNorm must be finite and >= 0, got " + maxNorm);
    }
    double squares = 0;
    for (Tensor p : params) {
      Tensor g = p.grad();
      if (g != null) {
        squares += sumOfSquares(g);
      }
    }
    double total = Math.sqrt(squares);
    double coef = maxNorm / (total + 1e-6);
    if (coef < 1 && Double.isFinite(total)) {
      for (Tensor p : params) {
        if (p.grad() != null) {
          scaleInPlace(p.grad(), (float) coef);
        }
      }
    }
    return total;
  }

  /**
   * Clamps every gradient value of {@code params} to {@code [-clipValue, clipValue]} in place, as
   * PyTorch's {@code clip_grad_value_} (a NaN stays NaN); parameters without a gradient are skipped.
   *
   * @throws IllegalArgumentException when {@code clipValue} is negative or NaN
   */
  public static void value(List<Tensor> params, double clipValue) {
    Objects.requireNonNull(params, "ClipGrad.value: params is null");
    if (!(clipValue >= 0)) {
      throw new IllegalArgumentException("ClipGrad.value: clipValue must be >= 0, got " + clipValue);
    }
    float v = (float) clipValue;
    for (Tensor p : params) {
      Tensor g = p.grad();
      if (g != null) {
        g.copyFrom(Ops.clamp(g.detach(), -v, v));
      }
    }
  }

  /**
   * The sum of the squared values, in double. On the GPU the squares are summed there in float
   * first; only when that overflows (values above ~1e19, an exploding step, exactly when clipping
   * matters) is the gradient read back and summed in double.
   */
  private static double sumOfSquares(Tensor g) {
    if (g.device().isCuda()) {
      double onDevice = Ops.sum(Ops.mul(g, g)).item();
      if (Double.isFinite(onDevice) || Float.isNaN((float) onDevice)) {
        return onDevice;
      }
    }
    float[] v = g.device().isCuda() ? g.toFloatArray() : g.readBuffer();
    int from = g.device().isCuda() ? 0 : g.offset();
    double s = 0;
    for (int i = from, end = from + g.numel(); i < end; i++) {
      s += (double) v[i] * v[i];
    }
    return s;
  }

  private static void scaleInPlace(Tensor g, float coef) {
    int n = g.numel();
    if (g.device().isCuda()) {
      long at = g.writeCuda();
      ElementwiseKernels.scale(at, at, coef, n);
    } else if (g.isNativeCurrent() && Blas.isNative()) {
      Blas.scale(n, coef, g.writeNative().getPointer(g.offset()));
    } else {
      float[] v = g.buffer();
      for (int i = g.offset(), end = g.offset() + n; i < end; i++) {
        v[i] *= coef;
      }
    }
  }
}
