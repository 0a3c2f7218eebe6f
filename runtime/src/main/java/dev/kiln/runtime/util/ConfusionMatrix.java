package dev.kiln.runtime.util;

import java.util.Arrays;
import java.util.Locale;

/**
 * Counts of (true class, predicted class) pairs, as the tutorials tabulate after training.
 * Rows are true classes, columns predictions.
 */
public final class ConfusionMatrix {
  private final long[][] counts;

  public ConfusionMatrix(int classes) {
    if (classes < 1) {
      throw new IllegalArgumentException("a confusion matrix needs at least one class, got " + classes);
    }
    this.counts = new long[classes][classes];
  }

  /** Adds one batch of labels and predictions (same length, values in 0..classes-1). */
  public void add(int[] truth, int[] predicted) {
    if (truth.length != predicted.length) {
      throw new IllegalArgumentException(
          "confusion matrix: " + truth.length + " labels but " + predicted.length + " predictions");
    }
    for (int i = 0; i < truth.length; i++) {
      check(truth[i], "label", i);
      check(predicted[i], "prediction", i);
      counts[truth[i]][predicted[i]]++;
    }
  }

  private void check(int c, String what, int i) {
    if (c < 0 || c >= counts.length) {
      throw new IllegalArgumentException(
          "confusion matrix: " + what + " " + c + " at " + i + " is not a class in 0.." + (counts.length - 1));
    }
  }

  public int classes() {
    return counts.length;
  }

  public long count(int truth, int predicted) {
    return counts[truth][predicted];
  }

  /** Each row divided by its total (0 for a class never seen): the fraction of class i predicted as j. */
  public double[][] normalized() {
    double[][] out = new double[counts.length][counts.length];
    for (int i = 0; i < counts.length; i++) {
      long total = Arrays.stream(counts[i]).sum();
      for (int j = 0; j < counts.length; j++) {
        out[i][j] = total == 0 ? 0 : (double) counts[i][j] / total;
      }
    }
    return out;
  }

  /**
   * The counts as a text table, rows the true classes and columns the predictions, as
   * scikit-learn's {@code confusion_matrix} prints them:
   * <pre>
   * true\pred    0    1
   *         0   48    2
   *         1    5   45
   * </pre>
   */
  @Override
  public String toString() {
    String corner = "true\\pred";
    int cell = Math.max(String.valueOf(counts.length - 1).length(),
        Arrays.stream(counts).flatMapToLong(Arrays::stream).mapToInt(c -> Long.toString(c).length()).max().orElse(1));
    StringBuilder sb = new StringBuilder(corner);
    for (int j = 0; j < counts.length; j++) {
      sb.append(String.format(Locale.ROOT, " %" + cell + "d", j));
    }
    for (int i = 0; i < counts.length; i++) {
      sb.append('\n').append(String.format(Locale.ROOT, "%" + corner.length() + "d", i));
      for (int j = 0; j < counts.length; j++) {
        sb.append(String.format(Locale.ROOT, " %" + cell + "d", counts[i][j]));
      }
    }
    return sb.toString();
  }

  /** Percentage of samples on the diagonal. */
  public double accuracy() {
    long right = 0, all = 0;
    for (int i = 0; i < counts.length; i++) {
      for (int j = 0; j < counts.length; j++) {
        all += counts[i][j];
        right += i == j ? counts[i][j] : 0;
      }
    }
    return all == 0 ? 0 : 100.0 * right / all;
  }
}
