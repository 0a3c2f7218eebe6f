package dev.kiln.runtime.util;

import java.io.PrintStream;
import java.util.Locale;

/**
 * A progress bar for training loops, like tqdm in the tutorials: on a terminal it redraws one line
 * with the bar, rate, ETA and running loss; elsewhere (a log file, CI) it prints nothing per step,
 * so the caller's per-epoch lines stay readable.
 *
 * <pre>{@code
 * Progress bar = Progress.start("epoch 1/5", loader.size());
 * for (Batch b : loader) { ...; bar.step(loss.item()); }
 * bar.finish();
 * }</pre>
 */
public final class Progress {
  private static final int WIDTH = 30;
  private final String label;
  private final int total;
  private final PrintStream out;
  private final boolean interactive;
  private final long startNanos = System.nanoTime();
  private long lastDrawNanos;
  private long finishNanos;
  private int done;
  private int losses;
  private double lossSum;

  private Progress(String label, int total, PrintStream out, boolean interactive) {
    this.label = label;
    this.total = total;
    this.out = out;
    this.interactive = interactive;
  }

  /** A bar on standard output, drawn only when it is a terminal. */
  public static Progress start(String label, int total) {
    return new Progress(label, total, System.out, System.console() != null);
  }

  /** A bar on any stream, drawn or not as told (for tests and embedding). */
  public static Progress start(String label, int total, PrintStream out, boolean interactive) {
    return new Progress(label, total, out, interactive);
  }

  /** One step done, with its loss (averaged into the running loss shown). */
  public void step(double loss) {
    losses++;
    lossSum += loss;
    step();
  }

  /** One step done, without a loss (a bar that was never given one shows none). */
  public void step() {
    done++;
    long now = System.nanoTime();
    if (interactive && (now - lastDrawNanos > 100_000_000L || done == total)) {
      lastDrawNanos = now;
      out.print('\r' + line(now));
      out.flush();
    }
  }

  /** Mean of the losses given so far (NaN before the first). */
  public double meanLoss() {
    return losses == 0 ? Double.NaN : lossSum / losses;
  }

  /** Seconds from the bar's start to {@link #finish()}, or to now while it runs. */
  public double seconds() {
    return ((finishNanos != 0 ? finishNanos : System.nanoTime()) - startNanos) / 1e9;
  }

  /** Ends the bar (its {@link #seconds()} stop counting) and its line on a terminal. */
  public void finish() {
    if (finishNanos == 0) {
      finishNanos = System.nanoTime();
    }
    if (interactive) {
      out.print("\r" + " ".repeat(line(System.nanoTime()).length()) + "\r");
      out.flush();
    }
  }

  String line(long now) {
    double secs = (now - startNanos) / 1e9;
    double rate = secs > 0 ? done / secs : 0;
    int filled = total > 0 ? (int) ((long) WIDTH * done / total) : WIDTH;
    double eta = rate > 0 ? (total - done) / rate : 0;
    return String.format(Locale.ROOT, "%s |%s%s| %d/%d [%s<%s, %.1f it/s%s]",
        label, "#".repeat(filled), " ".repeat(WIDTH - filled), done, total, clock(secs), clock(eta), rate,
        losses == 0 ? "" : String.format(Locale.ROOT, ", loss %.4f", meanLoss()));
  }

  private static String clock(double seconds) {
    long s = Math.round(seconds);
    return String.format(Locale.ROOT, "%02d:%02d", s / 60, s % 60);
  }
}
