import dev.kiln.dsl.F;
import dev.kiln.dsl.TransformerEncoder;
import dev.kiln.dsl.TransformerEncoderLayer;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.optim.SGD;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;

/**
 * An eager {@code TransformerEncoderLayer(128, 4, 256, 0.1, batch_first)} training step over {@code [64, 28, 128]}
 * (FashionTransformer's token count, d_model 128), its inference alone and as a two-layer {@code TransformerEncoder} (eval,
 * no grad), and the attention core alone ({@code [64, 4, 28, 32]}, forward and
 * backward) as {@code F.scaledDotProductAttention} and written by hand: thread CPU time, the median of 100 after 50.
 * PyTorch's twin: encoder_layer_step_peer.py. Run by scripts/speed/encoder-layer.
 */
public class EncoderLayerStep {
  private static final ThreadMXBean MX = ManagementFactory.getThreadMXBean();

  interface Step {
    void run();
  }

  static String median(Step step) {
    double[] t = new double[150];
    for (int i = 0; i < t.length; i++) {
      long t0 = MX.getCurrentThreadCpuTime();
      step.run();
      t[i] = (MX.getCurrentThreadCpuTime() - t0) / 1e6;
    }
    double[] kept = Arrays.copyOfRange(t, 50, 150);
    Arrays.sort(kept);
    return String.format("%.2f ms (quartiles %.2f, %.2f)", kept[50], kept[25], kept[75]);
  }

  public static void main(String[] args) {
    Kiln.manualSeed(0);
    TransformerEncoderLayer layer = new TransformerEncoderLayer(128, 4, 256, 0.1, "relu", 1e-5, true, false);
    layer.train();
    SGD opt = new SGD(layer.parameters(), 0.01);
    Tensor x = Tensor.randn(64, 28, 128);
    Tensor w = Tensor.randn(64, 28, 128);
    System.out.println("kiln encoder layer train step: " + median(() -> {
      opt.zeroGrad();
      layer.forward(x).mul(w).mean().backward();
      opt.step();
    }));
    // inference (evaluation, no grad; reuse session): the layer alone, and a two-layer nn.TransformerEncoder of it
    layer.eval();
    System.out.println("kiln encoder layer inference:   " + median(() -> {
      try (var off = Kiln.noGrad()) {
        layer.forward(x);
      }
    }));
    TransformerEncoder encoder = new TransformerEncoder(layer, 2);
    encoder.eval();
    System.out.println("kiln 2-layer encoder inference: " + median(() -> {
      try (var off = Kiln.noGrad()) {
        encoder.forward(x);
      }
    }));
    Tensor q = Tensor.randn(64, 4, 28, 32).requiresGrad(true);
    Tensor k = Tensor.randn(64, 4, 28, 32).requiresGrad(true);
    Tensor v = Tensor.randn(64, 4, 28, 32).requiresGrad(true);
    Tensor g = Tensor.randn(64, 4, 28, 32);
    System.out.println("kiln sdpa forward+backward:     " + median(() -> {
      F.scaledDotProductAttention(q, k, v).mul(g).sum().backward();
    }));
    System.out.println("kiln by hand forward+backward:  " + median(() -> {
      q.matmul(k.transpose(-2, -1)).div(Math.sqrt(32)).softmax(-1).matmul(v).mul(g).sum().backward();
    }));
    System.out.println("kiln sdpa again (order check):  " + median(() -> {
      F.scaledDotProductAttention(q, k, v).mul(g).sum().backward();
    }));
  }
}
