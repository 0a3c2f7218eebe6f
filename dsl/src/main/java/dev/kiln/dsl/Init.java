package dev.kiln.dsl;

import dev.kiln.runtime.DType;
import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;
import java.util.Locale;

/**
 * Initialisers that overwrite a tensor's values in place, as PyTorch's {@code torch.nn.init}:
 * {@code Init.kaimingNormal(conv.weight(), 0, Init.FanMode.FAN_OUT, Init.Nonlinearity.RELU)},
 * {@code Init.zeros(fc.bias())}. Each returns the tensor. Draws come from {@link
 * dev.kiln.runtime.Kiln#manualSeed Kiln's generator}, so a seeded run is reproducible (the values
 * are not PyTorch's, whose generator differs). Writing bumps the tensor's version as an optimizer
 * step does: initialise before a forward, not between a forward and its backward.
 */
public final class Init {
  private Init() {}

  /** The activation a layer's output goes through, for {@link #calculateGain}. */
  public enum Nonlinearity {
    LINEAR, CONV, SIGMOID, TANH, RELU, LEAKY_RELU, SELU
  }

  /** Which fan keeps the variance: the forward's ({@code FAN_IN}, PyTorch's default) or the backward's. */
  public enum FanMode {
    FAN_IN, FAN_OUT
  }

  /**
   * PyTorch's {@code calculate_gain}: 1 for linear, convolutions and sigmoid, 5/3 for tanh,
   * sqrt(2) for ReLU, sqrt(2 / (1 + slope^2)) for leaky ReLU (slope {@code param}), 3/4 for SELU.
   */
  public static double calculateGain(Nonlinearity nonlinearity, double param) {
    return switch (nonlinearity) {
      case LINEAR, CONV, SIGMOID -> 1;
      case TANH -> 5.0 / 3;
      case RELU -> Math.sqrt(2);
      case LEAKY_RELU -> Math.sqrt(2 / (1 + param * param));
      case SELU -> 0.75;
    };
  }

  /** {@link #calculateGain(Nonlinearity, double)} with leaky ReLU's default slope, 0.01. */
  public static double calculateGain(Nonlinearity nonlinearity) {
    return calculateGain(nonlinearity, 0.01);
  }

  /** Values drawn uniformly from {@code [a, b)}. */
  public static Tensor uniform(Tensor t, double a, double b) {
    if (!(a <= b)) {
      throw new IllegalArgumentException("Init.uniform: a " + a + " is above b " + b);
    }
    return write(t, Tensor.uniform((float) a, (float) b, t.shape()));
  }

  /** Values drawn from a normal distribution. */
  public static Tensor normal(Tensor t, double mean, double std) {
    if (!(std >= 0)) {
      throw new IllegalArgumentException("Init.normal: std must be >= 0, got " + std);
    }
    return write(t, Tensor.randn(t.shape()).mul((float) std).add((float) mean));
  }

  /** Every value {@code value}. */
  public static Tensor constant(Tensor t, double value) {
    return write(t, Tensor.full((float) value, t.shape()));
  }

  public static Tensor zeros(Tensor t) {
    return constant(t, 0);
  }

  public static Tensor ones(Tensor t) {
    return constant(t, 1);
  }

  /** Glorot's uniform: bound {@code gain * sqrt(6 / (fanIn + fanOut))}. */
  public static Tensor xavierUniform(Tensor t, double gain) {
    if (t.numel() == 0) {
      return t; // nothing to initialise, as PyTorch's no-op
    }
    int[] fans = fans("xavierUniform", t);
    double bound = Math.sqrt(3) * gain * Math.sqrt(2.0 / (fans[0] + fans[1]));
    return uniform(t, -bound, bound);
  }

  public static Tensor xavierUniform(Tensor t) {
    return xavierUniform(t, 1);
  }

  /** Glorot's normal: std {@code gain * sqrt(2 / (fanIn + fanOut))}. */
  public static Tensor xavierNormal(Tensor t, double gain) {
    if (t.numel() == 0) {
      return t;
    }
    int[] fans = fans("xavierNormal", t);
    return normal(t, 0, gain * Math.sqrt(2.0 / (fans[0] + fans[1])));
  }

  public static Tensor xavierNormal(Tensor t) {
    return xavierNormal(t, 1);
  }

  /**
   * He's uniform: bound {@code sqrt(3) * gain / sqrt(fan)}, the gain {@link #calculateGain} of
   * {@code nonlinearity} with slope {@code a} (PyTorch's defaults: a = 0, fan in, leaky ReLU).
   */
  public static Tensor kaimingUniform(Tensor t, double a, FanMode mode, Nonlinearity nonlinearity) {
    if (t.numel() == 0) {
      return t;
    }
    double bound = Math.sqrt(3) * kaimingStd("kaimingUniform", t, a, mode, nonlinearity);
    return uniform(t, -bound, bound);
  }

  public static Tensor kaimingUniform(Tensor t) {
    return kaimingUniform(t, 0, FanMode.FAN_IN, Nonlinearity.LEAKY_RELU);
  }

  /** He's normal: std {@code gain / sqrt(fan)}, as {@link #kaimingUniform}. */
  public static Tensor kaimingNormal(Tensor t, double a, FanMode mode, Nonlinearity nonlinearity) {
    if (t.numel() == 0) {
      return t;
    }
    return normal(t, 0, kaimingStd("kaimingNormal", t, a, mode, nonlinearity));
  }

  public static Tensor kaimingNormal(Tensor t) {
    return kaimingNormal(t, 0, FanMode.FAN_IN, Nonlinearity.LEAKY_RELU);
  }

  /**
   * Saxe's orthogonal initialisation, PyTorch's {@code orthogonal_(t, gain)}: the tensor viewed as a matrix of {@code
   * t.size(0)} rows (the rest flattened) gets orthonormal rows or columns (whichever are fewer), times {@code gain}. As
   * PyTorch draws it: a normal matrix (transposed when it has fewer rows than columns), the Q of its QR decomposition with
   * each column signed as R's diagonal (so that Q is uniformly distributed), transposed back. The QR is computed in double
   * (Gram-Schmidt, twice).
   *
   * @throws IllegalArgumentException for a tensor of fewer than 2 dimensions
   */
  public static Tensor orthogonal(Tensor t, double gain) {
    if (t.dim() < 2) {
      throw new IllegalArgumentException("Init.orthogonal: only tensors with 2 or more dimensions are supported, got "
          + Shapes.toString(t.shape()));
    }
    if (t.numel() == 0) {
      return t;
    }
    int rows = t.size(0), cols = t.numel() / rows;
    boolean transposed = rows < cols;
    int m = Math.max(rows, cols), n = Math.min(rows, cols);
    float[] drawn = Tensor.randn(rows, cols).toFloatArray();
    double[][] q = new double[n][m]; // the columns of the m x n matrix
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < cols; c++) {
        if (transposed) {
          q[r][c] = drawn[r * cols + c];
        } else {
          q[c][r] = drawn[r * cols + c];
        }
      }
    }
    for (int j = 0; j < n; j++) {
      for (int pass = 0; pass < 2; pass++) { // (the second pass restores what rounding lost)
        for (int i = 0; i < j; i++) {
          double dot = 0;
          for (int k = 0; k < m; k++) {
            dot += q[i][k] * q[j][k];
          }
          for (int k = 0; k < m; k++) {
            q[j][k] -= dot * q[i][k];
          }
        }
      }
      double norm = 0;
      for (int k = 0; k < m; k++) {
        norm += q[j][k] * q[j][k];
      }
      norm = Math.sqrt(norm); // R's diagonal, positive: Q's column signed as PyTorch signs it
      for (int k = 0; k < m; k++) {
        q[j][k] /= norm;
      }
    }
    float[] out = new float[rows * cols];
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < cols; c++) {
        out[r * cols + c] = (float) (gain * (transposed ? q[r][c] : q[c][r]));
      }
    }
    return write(t, Tensor.of(out, t.shape()));
  }

  /** {@link #orthogonal(Tensor, double)} with gain 1. */
  public static Tensor orthogonal(Tensor t) {
    return orthogonal(t, 1);
  }

  private static double kaimingStd(String name, Tensor t, double a, FanMode mode, Nonlinearity nonlinearity) {
    int[] fans = fans(name, t);
    int fan = mode == FanMode.FAN_IN ? fans[0] : fans[1];
    return calculateGain(nonlinearity, a) / Math.sqrt(fan);
  }

  /**
   * PyTorch's fans: {@code fanIn = size(1) * receptive field}, {@code fanOut = size(0) * receptive
   * field}, the receptive field the product of the dimensions after the second.
   */
  private static int[] fans(String name, Tensor t) {
    int[] shape = t.shape();
    if (shape.length < 2) {
      throw new IllegalArgumentException(String.format(Locale.ROOT, "Init.%s: fan in and fan out can not be computed for a"
          + " tensor with fewer than 2 dimensions, shape %s (a bias: use uniform, normal or zeros)", name,
          Shapes.toString(shape)));
    }
    int receptive = 1;
    for (int i = 2; i < shape.length; i++) {
      receptive *= shape[i];
    }
    return new int[] {shape[1] * receptive, shape[0] * receptive};
  }

  /** Copies {@code values} into {@code t} in place (on its device: the next use uploads them). */
  private static Tensor write(Tensor t, Tensor values) {
    if (t.dtype() != DType.FLOAT32) {
      throw new IllegalArgumentException("Init: expected a float tensor, got " + t.dtype() + " of shape "
          + Shapes.toString(t.shape()));
    }
    float[] v = values.toFloatArray();
    System.arraycopy(v, 0, t.buffer(), t.offset(), v.length);
    return t;
  }
}
