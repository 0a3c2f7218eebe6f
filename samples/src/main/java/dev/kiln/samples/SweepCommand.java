package dev.kiln.samples;

import dev.kiln.dsl.CrossEntropyLoss;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Device;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.data.DataLoader;
import dev.kiln.runtime.data.Dataset;
import dev.kiln.runtime.data.Example;
import dev.kiln.runtime.data.FashionMnist;
import dev.kiln.runtime.data.Subset;
import dev.kiln.runtime.optim.Adam;
import dev.kiln.runtime.optim.Optimizer;
import dev.kiln.runtime.optim.SGD;
import dev.kiln.runtime.plot.Plots;
import dev.kiln.runtime.util.Progress;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;

/**
 * {@code sweep}: the tutorial's hyper-parameter experiments (section 7.2.3 of the FashionMNIST
 * tutorial) on its MLP or CNN. One setting is varied at a time, the learning rate, the batch size or
 * the optimizer, every other setting staying at the base; each run starts from the same seed, so the
 * runs differ only in what is varied. Prints a table, and writes the loss and accuracy curves of the
 * runs side by side ({@code sweep-<what>.png}) and every point of them ({@code sweep-<what>.csv}).
 */
final class SweepCommand {
  private SweepCommand() {}

  /** What a sweep varies, with the tutorial's values as the default. */
  enum Vary {
    LR("lr", "learning rate", "0.1,0.01,0.001"),
    BATCH("batch", "batch size", "32,64,128"),
    OPTIMIZER("optimizer", "optimizer", "sgd,adam");

    final String option;
    final String title;
    final String defaults;

    Vary(String option, String title, String defaults) {
      this.option = option;
      this.title = title;
      this.defaults = defaults;
    }

    /** The base settings with this setting replaced by {@code value}; names the value when it is not one. */
    Setting apply(Setting base, String value) {
      try {
        return switch (this) {
          case LR -> base.withLr(positive(Args.parseNumber(value), value));
          case BATCH -> base.withBatch((int) positive(Integer.parseInt(value), value));
          case OPTIMIZER -> base.withOptimizer(optimizerName("--values for optimizer", value));
        };
      } catch (NumberFormatException e) {
        throw new Args.UsageException("sweep: --values for " + option + " must be "
            + (this == BATCH ? "whole numbers" : "numbers") + ", got '" + value + "'");
      }
    }

    private double positive(double v, String text) {
      if (!(v > 0) || Double.isInfinite(v)) {
        throw new Args.UsageException("sweep: --values for " + option + " must be positive, got '" + text + "'");
      }
      return v;
    }
  }

  /** One run's settings. Momentum applies to SGD only. */
  record Setting(String optimizer, double lr, double momentum, int batch) {
    Setting withLr(double v) {
      return new Setting(optimizer, v, momentum, batch);
    }

    Setting withBatch(int v) {
      return new Setting(optimizer, lr, momentum, v);
    }

    Setting withOptimizer(String v) {
      return new Setting(v, lr, momentum, batch);
    }

    /** The optimizer over {@code params}: SGD (with this momentum) or Adam. */
    Optimizer optimizer(List<Tensor> params) {
      return optimizer.equals("adam") ? new Adam(params, lr) : new SGD(params, lr).momentum(momentum);
    }

    String describe() {
      return String.format(Locale.ROOT, "%s lr=%s%s batch=%d", optimizer, number(lr),
          optimizer.equals("sgd") ? " momentum=" + number(momentum) : "", batch);
    }
  }

  /**
   * One finished run: the mean training loss over each tenth of an epoch (at fractional epochs),
   * and the test accuracy after each epoch.
   */
  record Run(String label, Setting setting, List<Double> lossEpochs, List<Double> losses, List<Double> accuracies,
      double finalLoss, double seconds) {
    double accuracy() {
      return accuracies.get(accuracies.size() - 1);
    }

    /** The varied setting's value as given: {@code 0.01} of {@code lr=0.01}. */
    String value() {
      return label.substring(label.indexOf('=') + 1);
    }
  }

  static void run(Args args) {
    String model = args.string("model", "mlp");
    String vary = args.string("vary", "lr");
    String values = args.string("values", null);
    int epochs = args.integer("epochs", 2, 1);
    String optimizer = optimizerName("--optimizer", args.string("optimizer", "sgd"));
    double lr = args.positive("lr", 0.01);
    double momentum = args.nonNegative("momentum", 0); // the tutorial's sweeps use plain SGD
    int batch = args.integer("batch", 64, 1);
    int trainSize = args.integer("train-size", 0, 0);
    long seed = args.integer("seed", 0, 0);
    boolean eager = args.flag("eager");
    if (!model.equals("mlp") && !model.equals("cnn")) {
      throw new Args.UsageException("sweep: --model must be mlp or cnn, got '" + model + "'");
    }
    List<Vary> sweeps = switch (vary) {
      case "lr" -> List.of(Vary.LR);
      case "batch" -> List.of(Vary.BATCH);
      case "optimizer" -> List.of(Vary.OPTIMIZER);
      case "all" -> List.of(Vary.values());
      default -> throw new Args.UsageException("sweep: --vary must be lr, batch, optimizer or all, got '" + vary + "'");
    };
    if (values != null && sweeps.size() > 1) {
      throw new Args.UsageException("sweep: --values needs one setting to vary (--vary lr, batch or optimizer), not all");
    }
    if (values != null && java.util.Arrays.stream(values.split(",", -1)).anyMatch(String::isBlank)) {
      throw new Args.UsageException("sweep: --values takes comma-separated values, none of them empty, got '" + values + "'");
    }
    Setting base = new Setting(optimizer, lr, momentum, batch);
    for (Vary v : sweeps) { // every value checked before the data are loaded or anything is trained
      settings(v, List.of((values == null ? v.defaults : values).split(",")), base);
    }
    args.rejectUnknown("out", "device");
    Path out = args.outputDirectory("out", "runs/sweep-" + model);
    Device device = args.device();

    Dataset<Example> trainSet = FashionMnist.train();
    if (trainSize > 0) {
      if (trainSize > trainSet.size()) {
        throw new Args.UsageException("sweep: --train-size " + trainSize + " is more than the " + trainSet.size()
            + " training images");
      }
      trainSet = Subset.first(trainSet, trainSize);
    }
    var test = new DataLoader<>(FashionMnist.test(), 1000, false);
    Supplier<Module> models = () -> (model.equals("cnn") ? (eager ? new FashionCnn() : new KilnFashionCnn())
        : eager ? Models.mlp() : new KilnMlp()).to(device);
    System.out.printf(Locale.ROOT, "sweep: %s (%s) on %d FashionMNIST training images, %d epochs a run, seed %d, device %s;"
        + " base: %s%n", model, eager ? "eager" : "compiled", trainSet.size(), epochs, seed, device, base.describe());

    for (Vary v : sweeps) {
      List<Run> runs = sweep(v, List.of((values == null ? v.defaults : values).split(",")), base, models, trainSet, test,
          epochs, seed);
      System.out.println();
      System.out.print(table(v, runs));
      try {
        write(out, v, runs);
      } catch (IOException e) {
        throw new UncheckedIOException("sweep: " + e.getMessage(), e);
      }
      Run best = runs.stream().max((a, b) -> Double.compare(a.accuracy(), b.accuracy())).orElseThrow();
      System.out.printf(Locale.ROOT, "RESULT sweep=%s best=%s test_accuracy=%.2f%n", v.option, best.value(), best.accuracy());
    }
  }

  /**
   * Trains a fresh model for each value of {@code vary}, every run from {@code seed}.
   *
   * @throws Args.UsageException naming a value that is not one (before anything is trained)
   */
  /**
   * The settings the values give, each the base with one thing varied.
   *
   * @throws Args.UsageException naming a value that is not one, or one given twice
   */
  static List<Setting> settings(Vary vary, List<String> values, Setting base) {
    List<Setting> settings = new ArrayList<>();
    List<String> labels = new ArrayList<>();
    for (String value : values) {
      String label = value.strip();
      if (labels.contains(label)) {
        throw new Args.UsageException("sweep: --values names " + vary.option + " '" + label + "' twice");
      }
      settings.add(vary.apply(base, label));
      labels.add(label);
    }
    return settings;
  }

  static List<Run> sweep(Vary vary, List<String> values, Setting base, Supplier<Module> models,
      Dataset<Example> trainSet, DataLoader<Example> test, int epochs, long seed) {
    List<Setting> settings = settings(vary, values, base);
    List<String> labels = values.stream().map(String::strip).toList();
    List<Run> runs = new ArrayList<>();
    for (int i = 0; i < settings.size(); i++) {
      System.out.printf(Locale.ROOT, "%n%s = %s (%s)%n", vary.title, labels.get(i), settings.get(i).describe());
      runs.add(train(vary.option + "=" + labels.get(i), settings.get(i), models, trainSet, test, epochs, seed));
    }
    return runs;
  }

  private static Run train(String label, Setting s, Supplier<Module> models, Dataset<Example> trainSet,
      DataLoader<Example> test, int epochs, long seed) {
    Kiln.manualSeed(seed);
    Module net = models.get();
    Optimizer opt = s.optimizer(net.parameters());
    var loader = new DataLoader<>(trainSet, s.batch(), true);
    var criterion = new CrossEntropyLoss();
    LossCurve curve = new LossCurve(loader.size());
    List<Double> accuracies = new ArrayList<>();
    double seconds = 0;
    double finalLoss = Double.NaN;
    for (int epoch = 1; epoch <= epochs; epoch++) {
      curve.startEpoch(epoch);
      Progress bar;
      long started = System.nanoTime();
      try {
        bar = TrainingLoop.epoch(net, loader, criterion, opt,
            String.format(Locale.ROOT, "%s epoch %d/%d", label, epoch, epochs), curve::add);
      } catch (TrainingLoop.DivergedException diverged) { // the run ends here, marked as diverged
        System.out.println(diverged.getMessage());
        curve.flush(); // the window that held the bad loss
        seconds += (System.nanoTime() - started) / 1e9;
        accuracies.add(TrainingLoop.evaluate(net, test, null));
        return new Run(label, s, curve.epochs, curve.means, accuracies, Double.NaN, seconds);
      }
      seconds += bar.seconds();
      finalLoss = bar.meanLoss();
      accuracies.add(TrainingLoop.evaluate(net, test, null));
      System.out.printf(Locale.ROOT, "%s epoch %d/%d  train_loss %.4f  test_accuracy %.2f%%  seconds %.1f%n",
          label, epoch, epochs, finalLoss, accuracies.get(accuracies.size() - 1), bar.seconds());
    }
    return new Run(label, s, curve.epochs, curve.means, accuracies, finalLoss, seconds);
  }

  /** The mean training loss over each tenth of an epoch, at fractional epochs (the end of each window). */
  private static final class LossCurve {
    final List<Double> epochs = new ArrayList<>();
    final List<Double> means = new ArrayList<>();
    private final int steps;
    private final int window;
    private int epoch;
    private int inEpoch;
    private int inWindow;
    private double sum;

    LossCurve(int steps) {
      this.steps = steps;
      this.window = Math.max(1, steps / 10);
    }

    void startEpoch(int epoch) {
      this.epoch = epoch;
      inEpoch = 0;
      inWindow = 0;
      sum = 0;
    }

    void add(double loss) {
      sum += loss;
      inEpoch++;
      if (++inWindow == window || inEpoch == steps) {
        flush();
      }
    }

    /** Closes the current window, if it holds a step, as one point. */
    void flush() {
      if (inWindow > 0) {
        epochs.add(epoch - 1 + (double) inEpoch / steps);
        means.add(sum / inWindow);
        sum = 0;
        inWindow = 0;
      }
    }
  }

  /** The runs as a Markdown table: settings, last epoch's mean training loss, test accuracy, seconds. */
  static String table(Vary vary, List<Run> runs) {
    StringBuilder t = new StringBuilder();
    t.append("| ").append(vary.title).append(" | optimizer | lr | momentum | batch | last epoch's train loss | test accuracy % | train seconds |\n");
    t.append("|---|---|---:|---:|---:|---:|---:|---:|\n");
    for (Run r : runs) {
      Setting s = r.setting();
      t.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %d | %.4f | %.2f | %.1f |%n", r.value(),
          s.optimizer(), number(s.lr()), s.optimizer().equals("sgd") ? number(s.momentum()) : "-", s.batch(),
          r.finalLoss(), r.accuracy(), r.seconds()));
    }
    return t.toString();
  }

  /** {@code sweep-<what>.csv} with every point of every curve, and the curves as {@code sweep-<what>.png}. */
  private static void write(Path dir, Vary vary, List<Run> runs) throws IOException {
    Files.createDirectories(dir);
    Path csv = dir.resolve("sweep-" + vary.option + ".csv");
    Files.writeString(csv, csv(runs));
    try {
      Path png = dir.resolve("sweep-" + vary.option + ".png");
      Plots.compareRuns(png, vary.title,
          runs.stream().map(r -> new Plots.Series(legend(r), r.lossEpochs(), r.losses())).toList(),
          runs.stream().map(r -> new Plots.Series(legend(r), epochs(r.accuracies().size()), r.accuracies())).toList());
      System.out.println("written: " + png + ", " + csv);
    } catch (NoClassDefFoundError e) { // a jlink'd runtime without AWT, as the GPU recipe's
      System.out.println("written: " + csv + "; plot not drawn: this Java runtime has no java.desktop module ("
          + e.getMessage() + ")");
    }
  }

  private static String legend(Run r) {
    return Double.isFinite(r.finalLoss()) ? r.label() : r.label() + " (diverged)";
  }

  /** One row per point: run, what (train_loss or test_accuracy), epoch, value. */
  static String csv(List<Run> runs) {
    StringBuilder b = new StringBuilder("run,series,epoch,value\n");
    for (Run r : runs) {
      for (int i = 0; i < r.losses().size(); i++) {
        b.append(String.format(Locale.ROOT, "%s,train_loss,%.4f,%.6f%n", r.label(), r.lossEpochs().get(i), r.losses().get(i)));
      }
      for (int i = 0; i < r.accuracies().size(); i++) {
        b.append(String.format(Locale.ROOT, "%s,test_accuracy,%d,%.4f%n", r.label(), i + 1, r.accuracies().get(i)));
      }
    }
    return b.toString();
  }

  private static List<Double> epochs(int n) {
    Double[] e = new Double[n];
    Arrays.setAll(e, i -> (double) (i + 1));
    return List.of(e);
  }

  private static String optimizerName(String option, String name) {
    if (!name.equals("sgd") && !name.equals("adam")) {
      throw new Args.UsageException("sweep: " + option + " must be sgd or adam, got '" + name + "'");
    }
    return name;
  }

  /** 0.01 rather than 1.0E-2: as a user would type it. */
  private static String number(double v) {
    return BigDecimal.valueOf(v).stripTrailingZeros().toPlainString();
  }
}
