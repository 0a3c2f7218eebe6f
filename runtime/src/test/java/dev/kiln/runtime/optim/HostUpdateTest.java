package dev.kiln.runtime.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The host update loops split a large parameter over the cores: the result must be exactly what
 * one plain loop over the elements gives (the rules are element-wise, so no rounding may change).
 */
class HostUpdateTest {
  private static final int N = 100_003; // above the split threshold, not a multiple of the part count

  private static float[] random(long seed) {
    Kiln.manualSeed(seed);
    return Tensor.randn(N).toFloatArray();
  }

  private static Tensor param(float[] values) {
    return Tensor.of(values.clone(), N).requiresGrad(true);
  }

  @Test
  void sgdWithMomentumWeightDecayAndNesterov() {
    float[] p0 = random(1);
    float[][] grads = {random(2), random(3), random(4)};
    Tensor p = param(p0);
    SGD opt = new SGD(List.of(p), 0.05).momentum(0.9).weightDecay(0.01).nesterov(true);
    float[] expected = p0.clone();
    float[] buf = new float[N];
    for (int step = 0; step < grads.length; step++) {
      p.setGrad(Tensor.of(grads[step].clone(), N));
      opt.step();
      for (int i = 0; i < N; i++) { // PyTorch's ops, each x.add(y, alpha=a) one fused multiply-add as in ATen
        float d = Math.fma(expected[i], 0.01f, grads[step][i]); // d_p.add(param, alpha=weight_decay)
        buf[i] = step == 0 ? d : Math.fma(d, 1f, 0.9f * buf[i]); // buf.mul_(momentum).add_(d_p, alpha=1 - dampening)
        expected[i] = Math.fma(Math.fma(buf[i], 0.9f, d), -0.05f, expected[i]); // param.add_(d_p.add(buf, alpha=m), alpha=-lr)
      }
    }
    assertArrayEquals(expected, p.toFloatArray());
  }

  @Test
  void adamWithAmsgrad() {
    float[] p0 = random(5);
    float[][] grads = {random(6), random(7)};
    Tensor p = param(p0);
    Adam opt = new Adam(List.of(p), 0.01).amsgrad(true).weightDecay(0.1);
    float[] expected = p0.clone();
    float[] m = new float[N], v = new float[N], vMax = new float[N];
    for (int step = 0; step < grads.length; step++) {
      p.setGrad(Tensor.of(grads[step].clone(), N));
      opt.step();
      int t = step + 1;
      float stepSize = (float) (0.01 / (1 - Math.pow(0.9, t)));
      float bc2Sqrt = (float) Math.sqrt(1 - Math.pow(0.999, t));
      for (int i = 0; i < N; i++) {
        // PyTorch's ops: grad.add(param, alpha=wd), exp_avg.mul_(b1).add_(g, alpha=1 - b1) and
        // exp_avg_sq.mul_(b2).addcmul_(g, g, value=1 - b2), each a fused multiply-add as in ATen
        float g = Math.fma(expected[i], 0.1f, grads[step][i]);
        m[i] = Math.fma(g, (float) (1 - 0.9), m[i] * 0.9f);
        v[i] = Math.fma((float) (1 - 0.999) * g, g, v[i] * 0.999f);
        vMax[i] = Math.max(vMax[i], v[i]);
        expected[i] -= stepSize * m[i] / ((float) Math.sqrt(vMax[i]) / bc2Sqrt + 1e-8f);
      }
    }
    assertArrayEquals(expected, p.toFloatArray());
  }
}
