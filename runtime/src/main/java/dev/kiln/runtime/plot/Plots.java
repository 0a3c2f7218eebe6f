package dev.kiln.runtime.plot;

import dev.kiln.runtime.util.ConfusionMatrix;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.IntStream;
import javax.imageio.ImageIO;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.HeatMapChart;
import org.knowm.xchart.HeatMapChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * The tutorials' matplotlib figures as PNG files: training curves, a normalised confusion matrix
 * with class names, and a grid of images with predicted and true labels. Charts are drawn by
 * XChart; works headless.
 */
public final class Plots {
  private Plots() {}

  static {
    if (System.getProperty("java.awt.headless") == null) {
      System.setProperty("java.awt.headless", "true");
    }
  }

  /** Train loss and test accuracy per epoch, side by side. */
  public static void trainingCurves(Path png, List<Double> trainLoss, List<Double> testAccuracy) {
    if (trainLoss.isEmpty() || trainLoss.size() != testAccuracy.size()) {
      throw new IllegalArgumentException(
          "training curves need one loss and one accuracy per epoch, got " + trainLoss.size() + " and " + testAccuracy.size());
    }
    List<Integer> epochs = IntStream.rangeClosed(1, trainLoss.size()).boxed().toList();
    XYChart loss = new XYChartBuilder().width(560).height(400).title("Training loss").xAxisTitle("epoch").yAxisTitle("loss").build();
    loss.addSeries("train loss", epochs, trainLoss).setMarker(SeriesMarkers.CIRCLE);
    XYChart accuracy = new XYChartBuilder().width(560).height(400).title("Test accuracy").xAxisTitle("epoch").yAxisTitle("%").build();
    accuracy.addSeries("test accuracy", epochs, testAccuracy).setMarker(SeriesMarkers.CIRCLE);
    for (XYChart c : List.of(loss, accuracy)) {
      c.getStyler().setLegendVisible(false);
      c.getStyler().setXAxisDecimalPattern("0");
    }
    loss.getStyler().setYAxisDecimalPattern("0.000");
    accuracy.getStyler().setYAxisDecimalPattern("0.0");
    write(sideBySide(loss, accuracy), png);
  }

  /**
   * A loss recorded per step, as the tutorials' {@code plt.plot(loss_history)}: the loss over the
   * step number (from 1). Non-finite values are left out of the curve.
   *
   * @throws IllegalArgumentException when no value is finite
   */
  public static void lossHistory(Path png, String title, List<Double> losses) {
    List<Double> steps = new ArrayList<>();
    List<Double> finite = new ArrayList<>();
    for (int i = 0; i < losses.size(); i++) {
      if (Double.isFinite(losses.get(i))) {
        steps.add(i + 1.0);
        finite.add(losses.get(i));
      }
    }
    if (finite.isEmpty()) {
      throw new IllegalArgumentException("loss history '" + title + "' has no finite value among " + losses.size());
    }
    XYChart chart = new XYChartBuilder().width(640).height(420).title(title).xAxisTitle("step").yAxisTitle("loss").build();
    chart.addSeries("loss", steps, finite).setMarker(SeriesMarkers.NONE);
    chart.getStyler().setLegendVisible(false);
    chart.getStyler().setXAxisDecimalPattern("0");
    write(BitmapEncoder.getBufferedImage(chart), png);
  }

  /** One named curve of a {@link #compareRuns} chart: y over x, as many points of each. */
  public record Series(String name, List<Double> x, List<Double> y) {
    public Series {
      if (x.isEmpty() || x.size() != y.size()) {
        throw new IllegalArgumentException(
            "series '" + name + "' needs as many x as y values, at least one, got " + x.size() + " and " + y.size());
      }
      x = List.copyOf(x);
      y = List.copyOf(y);
    }
  }

  /**
   * Several training runs compared, as the tutorials' hyper-parameter sweeps: the training loss of
   * each run over epochs (fractional, so a curve may have several points per epoch) on the left,
   * its test accuracy after each epoch on the right, one colour per run. A run whose loss becomes
   * infinite or NaN (diverged) is drawn where it is finite and does not set the loss axis's range,
   * unless every run diverged: the others stay readable.
   *
   * @throws IllegalArgumentException when there are no runs, or the two lists name different runs
   */
  public static void compareRuns(Path png, String title, List<Series> trainLoss, List<Series> testAccuracy) {
    List<String> names = trainLoss.stream().map(Series::name).toList();
    if (names.isEmpty() || !names.equals(testAccuracy.stream().map(Series::name).toList())) {
      throw new IllegalArgumentException("compareRuns needs the same runs, at least one, in both lists, got " + names
          + " and " + testAccuracy.stream().map(Series::name).toList());
    }
    XYChart loss = new XYChartBuilder().width(640).height(440).title(title + ": training loss").xAxisTitle("epoch")
        .yAxisTitle("loss").build();
    XYChart accuracy = new XYChartBuilder().width(640).height(440).title(title + ": test accuracy").xAxisTitle("epoch")
        .yAxisTitle("%").build();
    double highest = Double.NEGATIVE_INFINITY;
    for (Series s : trainLoss) {
      List<Double> x = new ArrayList<>();
      List<Double> y = new ArrayList<>();
      for (int i = 0; i < s.y().size(); i++) {
        if (Double.isFinite(s.y().get(i))) {
          x.add(s.x().get(i));
          y.add(s.y().get(i));
        }
      }
      if (x.size() == s.y().size()) {
        highest = Math.max(highest, y.stream().mapToDouble(Double::doubleValue).max().orElseThrow());
      }
      if (!x.isEmpty()) { // a run with no finite loss at all has no curve (its accuracy is still drawn)
        loss.addSeries(s.name(), x, y).setMarker(SeriesMarkers.NONE);
      }
    }
    if (highest > Double.NEGATIVE_INFINITY) {
      loss.getStyler().setYAxisMin(0.0);
      loss.getStyler().setYAxisMax(highest * 1.05);
    }
    for (Series s : testAccuracy) {
      accuracy.addSeries(s.name(), s.x(), s.y()).setMarker(SeriesMarkers.CIRCLE);
    }
    loss.getStyler().setYAxisDecimalPattern("0.00");
    loss.getStyler().setXAxisDecimalPattern("0.#");
    accuracy.getStyler().setYAxisDecimalPattern("0.0");
    accuracy.getStyler().setXAxisDecimalPattern("0");
    write(sideBySide(loss, accuracy), png);
  }

  private static BufferedImage sideBySide(XYChart leftChart, XYChart rightChart) {
    BufferedImage left = BitmapEncoder.getBufferedImage(leftChart);
    BufferedImage right = BitmapEncoder.getBufferedImage(rightChart);
    BufferedImage both = new BufferedImage(left.getWidth() + right.getWidth(), Math.max(left.getHeight(), right.getHeight()),
        BufferedImage.TYPE_INT_RGB);
    Graphics2D g = both.createGraphics();
    g.drawImage(left, 0, 0, null);
    g.drawImage(right, left.getWidth(), 0, null);
    g.dispose();
    return both;
  }

  /** The row-normalised confusion matrix as a heat map with the class names on both axes. */
  public static void confusionMatrix(Path png, ConfusionMatrix matrix, List<String> classNames) {
    if (classNames.size() != matrix.classes()) {
      throw new IllegalArgumentException(
          "confusion matrix has " + matrix.classes() + " classes but " + classNames.size() + " names were given");
    }
    double[][] norm = matrix.normalized();
    int k = matrix.classes();
    List<Number[]> cells = new ArrayList<>();
    for (int truth = 0; truth < k; truth++) {
      for (int predicted = 0; predicted < k; predicted++) {
        // y runs bottom-up in XChart: put the first class on top, as matplotlib's imshow does
        cells.add(new Number[] {predicted, k - 1 - truth, Math.round(norm[truth][predicted] * 100) / 100.0});
      }
    }
    List<String> reversed = new ArrayList<>(classNames);
    java.util.Collections.reverse(reversed);
    HeatMapChart chart = new HeatMapChartBuilder().width(900).height(800)
        .title(String.format(Locale.ROOT, "Confusion matrix (normalised), accuracy %.2f%%", matrix.accuracy()))
        .xAxisTitle("predicted").yAxisTitle("true").build();
    chart.getStyler().setShowValue(true);
    chart.getStyler().setLegendVisible(false);
    chart.getStyler().setXAxisLabelRotation(45);
    chart.getStyler().setRangeColors(new Color[] {new Color(247, 251, 255), new Color(107, 174, 214), new Color(8, 48, 107)});
    chart.addSeries("fraction", new ArrayList<>(classNames), reversed, cells);
    write(BitmapEncoder.getBufferedImage(chart), png);
  }

  /**
   * Up to {@code columns * rows} grey images with "predicted (true)" above each, green when right
   * and red when wrong, as the tutorials' prediction grids.
   *
   * @param images one array of {@code height * width} values in [-1, 1] (normalised) per image
   */
  public static void predictionGrid(Path png, List<float[]> images, int height, int width,
      int[] predicted, int[] truth, List<String> classNames, int columns) {
    int n = images.size();
    if (n == 0 || predicted.length < n || truth.length < n || columns < 1) {
      throw new IllegalArgumentException("prediction grid: " + n + " images, " + predicted.length
          + " predictions, " + truth.length + " labels, " + columns + " columns");
    }
    int scale = 4, cellW = width * scale, caption = 34, cellH = height * scale + caption, pad = 10;
    int rows = (n + columns - 1) / columns;
    BufferedImage out = new BufferedImage(columns * (cellW + pad) + pad, rows * (cellH + pad) + pad, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = out.createGraphics();
    g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
    g.setColor(Color.WHITE);
    g.fillRect(0, 0, out.getWidth(), out.getHeight());
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
    for (int i = 0; i < n; i++) {
      float[] img = images.get(i);
      if (img.length != height * width) {
        throw new IllegalArgumentException("prediction grid: image " + i + " has " + img.length + " values, expected " + height * width);
      }
      int x0 = pad + (i % columns) * (cellW + pad);
      int y0 = pad + (i / columns) * (cellH + pad);
      boolean right = predicted[i] == truth[i];
      g.setColor(right ? new Color(0, 120, 0) : new Color(190, 0, 0));
      g.drawString(classNames.get(predicted[i]), x0, y0 + 12);
      g.drawString("(" + classNames.get(truth[i]) + ")", x0, y0 + 26);
      for (int y = 0; y < height; y++) {
        for (int x = 0; x < width; x++) {
          int v = Math.max(0, Math.min(255, Math.round((img[y * width + x] + 1f) * 127.5f)));
          g.setColor(new Color(v, v, v));
          g.fillRect(x0 + x * scale, y0 + caption + y * scale, scale, scale);
        }
      }
      g.setStroke(new BasicStroke(2));
      g.setColor(right ? new Color(0, 120, 0) : new Color(190, 0, 0));
      g.drawRect(x0, y0 + caption, cellW, height * scale);
    }
    g.dispose();
    write(out, png);
  }

  /**
   * Grey images in pairs of rows: each original above what a model made of it (an autoencoder's
   * reconstruction), up to {@code columns} a row.
   *
   * @param originals one array of {@code height * width} values in [-1, 1] (normalised) per image
   * @param reconstructions as many, likewise
   */
  public static void reconstructions(Path png, List<float[]> originals, List<float[]> reconstructions, int height, int width,
      int columns) {
    int n = originals.size();
    if (n == 0 || reconstructions.size() != n || columns < 1) {
      throw new IllegalArgumentException("reconstructions: " + n + " originals, " + reconstructions.size()
          + " reconstructions, " + columns + " columns");
    }
    int scale = 3, cellW = width * scale, cellH = height * scale, pad = 6, gap = 14;
    int pairs = (n + columns - 1) / columns;
    BufferedImage out = new BufferedImage(columns * (cellW + pad) + pad, pairs * (2 * cellH + pad + gap) + pad,
        BufferedImage.TYPE_INT_RGB);
    Graphics2D g = out.createGraphics();
    g.setColor(Color.WHITE);
    g.fillRect(0, 0, out.getWidth(), out.getHeight());
    for (int i = 0; i < n; i++) {
      int x0 = pad + (i % columns) * (cellW + pad);
      int y0 = pad + (i / columns) * (2 * cellH + pad + gap);
      drawGrey(g, originals.get(i), height, width, scale, x0, y0, "original " + i);
      drawGrey(g, reconstructions.get(i), height, width, scale, x0, y0 + cellH + pad, "reconstruction " + i);
    }
    g.dispose();
    write(out, png);
  }

  private static void drawGrey(Graphics2D g, float[] img, int height, int width, int scale, int x0, int y0, String what) {
    if (img.length != height * width) {
      throw new IllegalArgumentException("reconstructions: " + what + " has " + img.length + " values, expected " + height * width);
    }
    for (int y = 0; y < height; y++) {
      for (int x = 0; x < width; x++) {
        int v = Math.max(0, Math.min(255, Math.round((img[y * width + x] + 1f) * 127.5f)));
        g.setColor(new Color(v, v, v));
        g.fillRect(x0 + x * scale, y0 + y * scale, scale, scale);
      }
    }
  }

  private static void write(BufferedImage image, Path png) {
    try {
      Path parent = png.toAbsolutePath().getParent();
      if (parent != null) {
        Files.createDirectories(parent);
      }
      if (!ImageIO.write(image, "png", png.toFile())) {
        throw new IOException("no PNG writer available");
      }
    } catch (IOException e) {
      throw new UncheckedIOException("could not write " + png + ": " + e.getMessage(), e);
    }
  }
}
