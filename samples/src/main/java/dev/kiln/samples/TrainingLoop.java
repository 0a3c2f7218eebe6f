package dev.kiln.samples;

import dev.kiln.dsl.Loss;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Device;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.data.Batch;
import dev.kiln.runtime.data.DataLoader;
import dev.kiln.runtime.data.Example;
import dev.kiln.runtime.optim.Optimizer;
import dev.kiln.runtime.util.ConfusionMatrix;
import dev.kiln.runtime.util.Progress;
import java.util.Locale;
import java.util.function.DoubleConsumer;

/** The tutorials' training and evaluation loops, written once for every sample command. */
final class TrainingLoop {
  private TrainingLoop() {}

  /** Training stopped because the loss became NaN or infinite: the message names the epoch and the step. */
  static final class DivergedException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    DivergedException(String message) {
      super(message);
    }
  }

  /**
   * One epoch the way a PyTorch user writes it: zero the gradients, forward, loss, backward,
   * step, with a progress bar.
   *
   * @return the finished bar, which knows the epoch's mean loss and seconds
   * @throws DivergedException at the first step whose loss is NaN or infinite (after its step's
   *     loss reached {@code perStep}): nothing trains usefully from there
   */
  static Progress epoch(Module net, DataLoader<Example> train, Loss criterion, Optimizer opt, String label) {
    return epoch(net, train, criterion, opt, label, loss -> {});
  }

  /** {@link #epoch(Module, DataLoader, Loss, Optimizer, String)}, handing each step's loss to {@code perStep} too. */
  static Progress epoch(Module net, DataLoader<Example> train, Loss criterion, Optimizer opt, String label,
      DoubleConsumer perStep) {
    return epoch(net, train, criterion, opt, label, perStep, null);
  }

  /**
   * {@link #epoch(Module, DataLoader, Loss, Optimizer, String, DoubleConsumer)}, counting into
   * {@code trainAccuracy} (when not null) the training outputs whose arg-max is the label, as the
   * tutorial's loop does ({@code _, pred = output.max(1)}).
   */
  static Progress epoch(Module net, DataLoader<Example> train, Loss criterion, Optimizer opt, String label,
      DoubleConsumer perStep, Tally trainAccuracy) {
    net.train();
    Device device = deviceOf(net);
    Progress bar = Progress.start(label, train.size());
    int step = 0;
    for (Batch b : train) {
      step++;
      opt.zeroGrad();
      Tensor output = net.forward(b.x().to(device));
      Tensor loss = criterion.apply(output, b.y().to(device));
      loss.backward();
      opt.step();
      double value = loss.item();
      if (trainAccuracy != null) {
        trainAccuracy.add(output.argmax(1).toIntArray(), b.y().toIntArray());
      }
      bar.step(value);
      perStep.accept(value);
      if (!Double.isFinite(value)) {
        bar.finish();
        throw new DivergedException(String.format(Locale.ROOT,
            "%s: the loss is %s at step %d of %d; training stopped (a smaller learning rate may help)",
            label, value, step, train.size()));
      }
    }
    bar.finish();
    return bar;
  }

  /** Correct predictions counted over batches: a percentage of the samples seen. */
  static final class Tally {
    private long correct;
    private long total;

    /** Counts the samples whose predicted class is their label. */
    void add(int[] predicted, int[] labels) {
      for (int i = 0; i < labels.length; i++) {
        correct += predicted[i] == labels[i] ? 1 : 0;
      }
      total += labels.length;
    }

    /** Percentage correct (NaN before any sample). */
    double percent() {
      return total == 0 ? Double.NaN : 100.0 * correct / total;
    }
  }

  /** The test loss (per sample, over the whole set) and accuracy in percent. */
  record Evaluation(double loss, double accuracy) {}

  /** Percentage of test images whose arg-max class equals the label; fills {@code matrix} when given. */
  static double evaluate(Module net, DataLoader<Example> test, ConfusionMatrix matrix) {
    return evaluate(net, test, null, matrix).accuracy();
  }

  /**
   * In evaluation mode without gradients: the accuracy, and with a {@code criterion} the mean loss
   * per sample over the samples seen (each batch's loss summed over its samples, whatever the
   * criterion's reduction; NaN without a criterion).
   */
  static Evaluation evaluate(Module net, DataLoader<Example> test, Loss criterion, ConfusionMatrix matrix) {
    net.eval();
    Device device = deviceOf(net);
    Tally tally = new Tally();
    double lossSum = 0;
    try (var g = Kiln.noGrad()) {
      for (Batch b : test) {
        Tensor output = net.forward(b.x().to(device));
        int[] predicted = output.argmax(1).toIntArray();
        int[] labels = b.y().toIntArray();
        tally.add(predicted, labels);
        if (criterion != null) {
          Tensor loss = criterion.apply(output, b.y().to(device));
          lossSum += switch (criterion.reduction()) {
            case MEAN -> loss.item() * labels.length;
            case SUM -> loss.item();
            case NONE -> loss.sum().item();
          };
        }
        if (matrix != null) {
          matrix.add(labels, predicted);
        }
      }
    }
    return new Evaluation(criterion == null ? Double.NaN : lossSum / tally.total, tally.percent());
  }

  /** Where the model's parameters live, as PyTorch's {@code next(model.parameters()).device}: batches go there. */
  static Device deviceOf(Module net) {
    var params = net.parameters();
    return params.isEmpty() ? Device.cpu() : params.get(0).device();
  }
}
