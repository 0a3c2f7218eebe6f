package dev.kiln.samples;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.MSELoss;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Device;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.optim.SGD;
import java.util.Locale;

/**
 * {@code regression}: the tutorials' first network, which learns to add two numbers. A {@code
 * Linear(2, 1)} is fitted to x = [[1,2],[3,4],[5,6],[7,8]], y = the row sums, with MSE loss and
 * plain SGD on the whole batch, then predicts [[8,9],[10,11],[1.5,2.5]], about [[17],[21],[4]].
 */
final class RegressionCommand {
  static final float[][] X = {{1, 2}, {3, 4}, {5, 6}, {7, 8}};
  static final float[][] VALIDATION = {{8, 9}, {10, 11}, {1.5f, 2.5f}};

  private RegressionCommand() {}

  static void run(Args args) {
    int epochs = args.integer("epochs", 2000, 1);
    double lr = args.number("lr", 0.01);
    long seed = args.integer("seed", 0, 0);
    Device device = args.device();
    args.rejectUnknown();

    Kiln.manualSeed(seed);
    Module net = new Linear(2, 1).to(device);
    double loss = train(net, epochs, lr);
    System.out.printf(Locale.ROOT, "trained %d epochs on %s, lr %s: final loss %.6f%n", epochs, device, lr, loss);
    System.out.println(net.stateDict());
    System.out.println(predict(net));
  }

  /** Fits {@code net} to the sums of {@link #X}'s rows, on the net's device; returns the last epoch's loss. */
  static double train(Module net, int epochs, double lr) {
    Device device = net.parameters().get(0).device();
    Tensor x = matrix(X).to(device);
    Tensor y = rowSums(X).to(device);
    var criterion = new MSELoss();
    var opt = new SGD(net.parameters(), lr);
    double loss = Double.NaN;
    for (int epoch = 0; epoch < epochs; epoch++) {
      opt.zeroGrad();
      Tensor value = criterion.apply(net.apply(x), y);
      value.backward();
      opt.step();
      loss = value.item();
    }
    return loss;
  }

  /** The predictions for {@link #VALIDATION}, {@code [3, 1]}, on the net's device. */
  static Tensor predict(Module net) {
    try (var g = Kiln.noGrad()) {
      return net.apply(matrix(VALIDATION).to(net.parameters().get(0).device()));
    }
  }

  /** The rows as an {@code [n, 2]} tensor. */
  static Tensor matrix(float[][] rows) {
    float[] data = new float[rows.length * 2];
    for (int i = 0; i < rows.length; i++) {
      System.arraycopy(rows[i], 0, data, 2 * i, 2);
    }
    return Tensor.of(data, rows.length, 2);
  }

  /** Each row's sum, as an {@code [n, 1]} tensor. */
  static Tensor rowSums(float[][] rows) {
    float[] sums = new float[rows.length];
    for (int i = 0; i < rows.length; i++) {
      sums[i] = rows[i][0] + rows[i][1];
    }
    return Tensor.of(sums, rows.length, 1);
  }
}
