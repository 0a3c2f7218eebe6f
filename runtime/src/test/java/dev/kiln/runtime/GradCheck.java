package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.function.Function;

/**
 * Finite-difference gradient check. The scalar checked is {@code L = sum(f(inputs) * R)} for a
 * fixed random {@code R}, accumulated in double. Analytic gradients come from {@code backward()};
 * numeric ones from central differences {@code (L(x+eps) - L(x-eps)) / 2eps} with the op itself
 * run in float32, so the tolerance is stated per call: {@code |analytic - numeric| <= atol + rtol * |numeric|}.
 */
final class GradCheck {
  private GradCheck() {}

  static void check(String name, Function<Tensor[], Tensor> f, double eps, double atol, double rtol, Tensor... inputs) {
    Tensor out0;
    try (var g = Kiln.noGrad()) {
      out0 = f.apply(inputs);
    }
    Tensor r = Tensor.randn(out0.shape());
    for (Tensor in : inputs) {
      if (in.requiresGrad()) {
        in.setGrad(null);
      }
    }
    Tensor out = f.apply(inputs);
    Ops.sum(Ops.mul(out, r)).backward();
    for (int k = 0; k < inputs.length; k++) {
      Tensor in = inputs[k];
      if (!in.requiresGrad()) {
        continue;
      }
      assertNotNull(in.grad(), name + ": input " + k + " got no gradient");
      float[] analytic = in.grad().toFloatArray();
      for (int i = 0; i < in.numel(); i++) {
        int at = in.offset() + i;
        // buffer() again before each write: a native kernel may have read (copied) the values since
        float saved = in.buffer()[at];
        in.buffer()[at] = (float) (saved + eps);
        double plus = weighted(f, inputs, r);
        in.buffer()[at] = (float) (saved - eps);
        double minus = weighted(f, inputs, r);
        in.buffer()[at] = saved;
        double numeric = (plus - minus) / (2 * eps);
        if (Math.abs(analytic[i] - numeric) > atol + rtol * Math.abs(numeric)) {
          fail(String.format("%s: d/d input %d [%d]: analytic %.6g, numeric %.6g (eps %g, atol %g, rtol %g)",
              name, k, i, analytic[i], numeric, eps, atol, rtol));
        }
      }
    }
  }

  private static double weighted(Function<Tensor[], Tensor> f, Tensor[] inputs, Tensor r) {
    try (var g = Kiln.noGrad()) {
      float[] out = f.apply(inputs).toFloatArray();
      float[] w = r.toFloatArray();
      double s = 0;
      for (int i = 0; i < out.length; i++) {
        s += (double) out[i] * w[i];
      }
      return s;
    }
  }

  /** Random values kept at least {@code margin} away from zero, for ops with a kink there (ReLU). */
  static Tensor awayFromZero(float margin, int... shape) {
    float[] d = Tensor.randn(shape).toFloatArray();
    for (int i = 0; i < d.length; i++) {
      if (Math.abs(d[i]) < margin) {
        d[i] = d[i] < 0 ? d[i] - margin : d[i] + margin;
      }
    }
    return Tensor.of(d, shape);
  }
}
