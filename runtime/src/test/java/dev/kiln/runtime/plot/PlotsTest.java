package dev.kiln.runtime.plot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.util.ConfusionMatrix;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PlotsTest {
  @TempDir Path dir;

  @Test
  void confusionMatrixCountsAndNormalises() {
    ConfusionMatrix m = new ConfusionMatrix(3);
    m.add(new int[] {0, 0, 1, 1, 2}, new int[] {0, 1, 1, 1, 0});
    assertEquals(2, m.count(1, 1));
    assertArrayEquals(new double[] {0.5, 0.5, 0}, m.normalized()[0], 1e-12);
    assertArrayEquals(new double[] {1, 0, 0}, m.normalized()[2], 1e-12);
    assertEquals(60.0, m.accuracy(), 1e-12);
    var e = assertThrows(IllegalArgumentException.class, () -> m.add(new int[] {3}, new int[] {0}));
    assertTrue(e.getMessage().contains("label 3"), e.getMessage());
  }

  @Test
  void lossHistoryDrawsTheFiniteLosses() throws Exception {
    Path png = dir.resolve("loss.png");
    Plots.lossHistory(png, "regression", List.of(3.0, Double.NaN, 1.0, 0.5));
    BufferedImage img = ImageIO.read(png.toFile());
    assertEquals(640, img.getWidth());
    assertEquals(420, img.getHeight());
    var e = assertThrows(IllegalArgumentException.class,
        () -> Plots.lossHistory(dir.resolve("none.png"), "diverged", List.of(Double.NaN, Double.POSITIVE_INFINITY)));
    assertTrue(e.getMessage().contains("no finite value among 2"), e.getMessage());
  }

  @Test
  void pngsAreWrittenWithTheExpectedSize() throws Exception {
    Path curves = dir.resolve("curves.png");
    Plots.trainingCurves(curves, List.of(0.9, 0.5, 0.4), List.of(80.0, 85.0, 87.5));
    BufferedImage img = ImageIO.read(curves.toFile());
    assertEquals(1120, img.getWidth());

    ConfusionMatrix m = new ConfusionMatrix(2);
    m.add(new int[] {0, 1, 1}, new int[] {0, 1, 0});
    assertEquals("true\\pred 0 1\n        0 1 0\n        1 1 1", m.toString());
    Path cm = dir.resolve("sub/confusion.png");
    Plots.confusionMatrix(cm, m, List.of("cat", "dog"));
    assertEquals(900, ImageIO.read(cm.toFile()).getWidth());

    Path grid = dir.resolve("grid.png");
    float[] black = new float[4];
    java.util.Arrays.fill(black, -1f);
    Plots.predictionGrid(grid, List.of(black, new float[4]), 2, 2, new int[] {0, 1}, new int[] {0, 0}, List.of("cat", "dog"), 2);
    BufferedImage g = ImageIO.read(grid.toFile());
    assertEquals(0x000000, g.getRGB(10 + 2, 10 + 34 + 2) & 0xFFFFFF, "first image is black");
    assertThrows(IllegalArgumentException.class, () -> Plots.confusionMatrix(cm, m, List.of("one")));
  }

  @Test
  void compareRunsDrawsOneCurvePerRunAndNamesMismatches() throws Exception {
    Path png = dir.resolve("sweep.png");
    var lossA = new Plots.Series("lr=0.1", List.of(0.5, 1.0, 1.5, 2.0), List.of(1.2, 0.8, 0.6, 0.5));
    var lossB = new Plots.Series("lr=0.01", List.of(0.5, 1.0, 1.5, 2.0), List.of(2.0, 1.5, 1.1, 0.9));
    var accA = new Plots.Series("lr=0.1", List.of(1.0, 2.0), List.of(80.0, 84.0));
    var accB = new Plots.Series("lr=0.01", List.of(1.0, 2.0), List.of(70.0, 78.0));
    Plots.compareRuns(png, "learning rate", List.of(lossA, lossB), List.of(accA, accB));
    assertEquals(1280, ImageIO.read(png.toFile()).getWidth());

    var nan = new Plots.Series("lr=10 (diverged)", List.of(0.5), List.of(Double.NaN)); // no finite loss at all
    var accNan = new Plots.Series("lr=10 (diverged)", List.of(1.0), List.of(10.0));
    Plots.compareRuns(png, "learning rate", List.of(nan), List.of(accNan));
    Plots.compareRuns(png, "learning rate", List.of(lossA, nan), List.of(accA, accNan));
    assertEquals(1280, ImageIO.read(png.toFile()).getWidth());

    var e = assertThrows(IllegalArgumentException.class,
        () -> Plots.compareRuns(png, "x", List.of(lossA, lossB), List.of(accB, accA)));
    assertTrue(e.getMessage().contains("[lr=0.1, lr=0.01]") && e.getMessage().contains("[lr=0.01, lr=0.1]"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> Plots.compareRuns(png, "x", List.of(), List.of()));
    var s = assertThrows(IllegalArgumentException.class, () -> new Plots.Series("odd", List.of(1.0), List.of()));
    assertTrue(s.getMessage().contains("'odd'"), s.getMessage());
  }
}
