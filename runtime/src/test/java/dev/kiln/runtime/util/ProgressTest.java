package dev.kiln.runtime.util;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ProgressTest {
  @Test
  void meanLossAndTheBarLine() {
    var bytes = new ByteArrayOutputStream();
    Progress bar = Progress.start("epoch 1/5", 4, new PrintStream(bytes, true, StandardCharsets.UTF_8), true);
    assertTrue(Double.isNaN(bar.meanLoss()));
    bar.step(1.0);
    bar.step(0.5);
    assertEquals(0.75, bar.meanLoss(), 1e-12);
    String line = bar.line(System.nanoTime());
    assertTrue(line.startsWith("epoch 1/5 |###############               | 2/4 ["), line);
    assertTrue(line.endsWith("loss 0.7500]"), line);
    assertTrue(bytes.toString(StandardCharsets.UTF_8).contains("1/4"), "drawn on an interactive stream");
  }

  @Test
  void secondsStopCountingAtFinish() throws InterruptedException {
    var bytes = new ByteArrayOutputStream();
    Progress bar = Progress.start("x", 1, new PrintStream(bytes, true, StandardCharsets.UTF_8), false);
    bar.step(1);
    bar.finish();
    double atFinish = bar.seconds();
    Thread.sleep(30);
    assertEquals(atFinish, bar.seconds(), 0.0, "a finished bar's time is fixed (an epoch's time, not the evaluation after it)");
    assertEquals("", bytes.toString(StandardCharsets.UTF_8), "nothing drawn when not interactive");
  }
}
