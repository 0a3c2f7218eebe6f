package dev.kiln.samples;

import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.AdaptiveAvgPool1d;
import dev.kiln.dsl.BatchNorm1d;
import dev.kiln.dsl.Conv1d;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.MaxPool1d;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;

/**
 * A small 1-d CNN over one-channel signals of 64 samples, as a PyTorch user writes one for audio or sensor data:
 * conv-BN-ReLU-pool, a second convolution, global average pooling, a linear head. Compiled as {@code KilnWaveformCnn};
 * {@link #batch} draws its synthetic data (noisy sine waves, the class their frequency), so no dataset is downloaded.
 */
@Model(input = {1, 64})
public class WaveformCnn extends Module {
  /** Periods per 64 samples of each class's wave. */
  static final int[] FREQUENCIES = {2, 5, 9};
  static final int CLASSES = 3;

  final Conv1d conv1 = new Conv1d(1, 8, 5).padding(2);
  final BatchNorm1d bn1 = new BatchNorm1d(8);
  final MaxPool1d pool = new MaxPool1d(2);
  final Conv1d conv2 = new Conv1d(8, 16, 5).padding(2);
  final AdaptiveAvgPool1d global = new AdaptiveAvgPool1d(1);
  final Linear head = new Linear(16, CLASSES);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = pool.apply(relu(bn1.apply(conv1.apply(x))));    // [N, 8, 32]
    h = global.apply(relu(conv2.apply(h)));                    // [N, 16, 1]
    return head.apply(flatten(h));
  }

  /**
   * {@code n} signals {@code [n, 1, 64]} and their classes: a sine of the class's frequency with a random phase and
   * amplitude in [0.5, 1.5), plus Gaussian noise of standard deviation {@code noise}, from {@link Kiln#generator()}.
   */
  public static Tensor[] batch(int n, double noise) {
    float[] x = Tensor.randn(n * 64).toFloatArray(); // the noise, scaled below
    int[] y = new int[n];
    var random = Kiln.generator();
    for (int i = 0; i < n; i++) {
      y[i] = random.nextInt(CLASSES);
      double phase = random.nextDouble() * 2 * Math.PI, amplitude = 0.5 + random.nextDouble();
      for (int t = 0; t < 64; t++) {
        x[i * 64 + t] = (float) (amplitude * Math.sin(2 * Math.PI * FREQUENCIES[y[i]] * t / 64 + phase) + noise * x[i * 64 + t]);
      }
    }
    return new Tensor[] {Tensor.of(x, n, 1, 64), Tensor.labels(y)};
  }
}
