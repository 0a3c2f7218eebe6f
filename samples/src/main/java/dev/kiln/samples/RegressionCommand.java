package dev.kiln.samples;

import dev.kiln.dsl.HuberLoss;
import dev.kiln.dsl.L1Loss;
import dev.kiln.dsl.Loss;
import dev.kiln.dsl.MSELoss;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.SmoothL1Loss;
import dev.kiln.runtime.Device;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.data.Batch;
import dev.kiln.runtime.data.DataLoader;
import dev.kiln.runtime.data.TensorDataset;
import dev.kiln.runtime.optim.SGD;
import dev.kiln.runtime.plot.Plots;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * {@code regression}: the tutorials' first network, which learns to add two numbers, as their
 * Dataset/DataLoader section writes it: x = [[1,2],[3,4],[5,6],[7,8]] and y = the row sums in a
 * dataset, batches of 2 shuffled each epoch, {@code Sequential(Linear(2, 8), ReLU(), Linear(8, 1))}
 * ({@link Models#twoLayerRegression()}), MSE loss and plain SGD at lr 0.001 for 50 epochs, the loss
 * of every step recorded ({@code loss_history}) and plotted; then it predicts
 * [[8,9],[10,11],[1.5,2.5]] (the tutorial got [[16.86],[20.76],[4.16]] from its initialisation).
 * <p>{@code --model by-hand} trains the tutorial's first form of the network instead, its weights as
 * parameters multiplied with {@code @} ({@link ByHandRegression}), compiled ({@code --eager} runs the
 * declaration itself). {@code --loss l1|smooth-l1|huber} trains with {@code nn.L1Loss},
 * {@code nn.SmoothL1Loss} or {@code nn.HuberLoss} (beta and delta 1) instead of the MSE loss.
 */
final class RegressionCommand {
  static final float[][] X = {{1, 2}, {3, 4}, {5, 6}, {7, 8}};
  static final float[][] VALIDATION = {{8, 9}, {10, 11}, {1.5f, 2.5f}};

  private RegressionCommand() {}

  static void run(Args args) {
    String model = args.string("model", "sequential");
    boolean eager = args.flag("eager");
    if (!model.equals("sequential") && !model.equals("by-hand")) {
      throw new Args.UsageException("regression: --model must be sequential or by-hand, got '" + model + "'");
    }
    if (eager && model.equals("sequential")) {
      throw new Args.UsageException("regression: --eager applies to --model by-hand (the sequential model runs eagerly)");
    }
    String lossName = args.string("loss", "mse");
    Loss criterion = criterion(lossName);
    int epochs = args.integer("epochs", 50, 1);
    int batch = args.integer("batch", 2, 1);
    double lr = args.positive("lr", 0.001);
    long seed = args.integer("seed", 0, 0);
    args.rejectUnknown("out", "device");
    Path out = args.outputDirectory("out", "runs/regression");
    Device device = args.device();

    Kiln.manualSeed(seed);
    Module net = (model.equals("by-hand") ? eager ? new ByHandRegression() : new KilnByHandRegression()
        : Models.twoLayerRegression()).to(device);
    System.out.println(net);
    long start = System.nanoTime();
    List<Double> history = train(net, epochs, batch, lr, criterion);
    System.out.printf(Locale.ROOT, "trained %d epochs (%d steps of batch %d) on %s, lr %s, %s, in %.3f s: last loss %.6f%n",
        epochs, history.size(), batch, device, lr, criterion, (System.nanoTime() - start) / 1e9, history.get(history.size() - 1));
    System.out.println(net.stateDict());
    System.out.println(predict(net));
    Path png = out.resolve("loss.png");
    try {
      Plots.lossHistory(png, "add two numbers: " + criterion + " per step", history);
      System.out.println("plot: " + png);
    } catch (NoClassDefFoundError e) { // a jlink'd runtime without AWT, as the GPU recipe's
      System.out.println("plot not written: this Java runtime has no java.desktop module, which drawing it needs ("
          + e.getMessage() + ")");
    }
  }

  /** The loss {@code --loss} names: mse (the tutorial's), l1, smooth-l1 or huber. */
  static Loss criterion(String name) {
    return switch (name) {
      case "mse" -> new MSELoss();
      case "l1" -> new L1Loss();
      case "smooth-l1" -> new SmoothL1Loss();
      case "huber" -> new HuberLoss();
      default -> throw new Args.UsageException("regression: --loss must be mse, l1, smooth-l1 or huber, got '" + name + "'");
    };
  }

  /** {@link #train(Module, int, int, double, Loss)} with the tutorial's MSE loss. */
  static List<Double> train(Module net, int epochs, int batch, double lr) {
    return train(net, epochs, batch, lr, new MSELoss());
  }

  /**
   * Fits {@code net} to the sums of {@link #X}'s rows, on the net's device, in shuffled batches of
   * {@code batch}, by {@code criterion}; returns the loss of every step.
   *
   * @throws TrainingLoop.DivergedException at the first step whose loss is NaN or infinite
   */
  static List<Double> train(Module net, int epochs, int batch, double lr, Loss criterion) {
    Device device = net.parameters().get(0).device();
    var loader = new DataLoader<>(new TensorDataset(matrix(X), rowSums(X)), batch, true);
    var opt = new SGD(net.parameters(), lr);
    List<Double> history = new ArrayList<>();
    for (int epoch = 0; epoch < epochs; epoch++) {
      for (Batch b : loader) {
        opt.zeroGrad();
        Tensor loss = criterion.apply(net.apply(b.x().to(device)), b.y().to(device));
        loss.backward();
        opt.step();
        double value = loss.item();
        history.add(value);
        if (!Double.isFinite(value)) {
          throw new TrainingLoop.DivergedException(String.format(Locale.ROOT,
              "regression: the loss is %s at step %d (epoch %d); training stopped (a smaller learning rate may help)",
              value, history.size(), epoch + 1));
        }
      }
    }
    return history;
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
