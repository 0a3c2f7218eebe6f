package dev.kiln.runtime.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Cross-entropy's forward ({@link CpuKernels#crossEntropyForward}: the vectorised exp) against the loss and softmax in
 * double, on random and extreme logits: normal and wide, a loss of 1e-11 (the target 20 and more above the rest),
 * logits around 1e4, masked (-infinity) classes, rows longer than a block, at offsets, with one and two threads'
 * splits alike; and a few rows against PyTorch 1.13 in double.
 */
class CrossEntropyKernelTest {
  /** Logits of {@code rows} rows of {@code classes}, of the given kind, and their targets. */
  private static float[][] logits(String kind, int rows, int classes, long seed) {
    Random r = new Random(seed);
    float[] x = new float[rows * classes];
    float[] t = new float[rows];
    for (int i = 0; i < rows; i++) {
      t[i] = r.nextInt(classes);
      for (int j = 0; j < classes; j++) {
        boolean target = j == (int) t[i];
        x[i * classes + j] = switch (kind) {
          case "normal" -> (float) (3 * r.nextGaussian());
          case "wide" -> (float) (30 * r.nextGaussian());
          case "tiny loss" -> (float) (r.nextGaussian() + (target ? 20 + 5 * r.nextDouble() : 0));
          case "around 1e4" -> (float) (1e4 + 3 * r.nextGaussian());
          case "masked" -> !target && r.nextInt(4) == 0 ? Float.NEGATIVE_INFINITY : (float) (2 * r.nextGaussian());
          default -> throw new IllegalArgumentException(kind);
        };
      }
    }
    return new float[][] {x, t};
  }

  /** Row {@code i}'s loss in double: {@code log1p} of the terms other than the maximum's, plus {@code max - x[target]}. */
  private static double exactLoss(float[] x, int i, int classes, int target) {
    int from = i * classes, top = from;
    for (int j = from; j < from + classes; j++) {
      top = x[j] > x[top] ? j : top;
    }
    double rest = 0;
    for (int j = from; j < from + classes; j++) {
      rest += j == top ? 0 : Math.exp((double) x[j] - x[top]);
    }
    return Math.log1p(rest) + ((double) x[top] - x[from + target]);
  }

  private static void check(String kind, int rows, int classes, double lossUlps, double probUlps) {
    float[][] data = logits(kind, rows, classes, kind.hashCode() + classes);
    float[] x = data[0], t = data[1];
    int off = 3;
    float[] shifted = new float[x.length + off];
    System.arraycopy(x, 0, shifted, off, x.length);
    float[] losses = new float[rows], probs = new float[rows * classes];
    CpuKernels.crossEntropyForward(losses, probs, shifted, off, t, 0, rows, classes);
    double worstLoss = 0, worstProb = 0;
    for (int i = 0; i < rows; i++) {
      double want = exactLoss(x, i, classes, (int) t[i]);
      worstLoss = Math.max(worstLoss, Math.abs(losses[i] - want) / Math.ulp((float) want));
      double max = Double.NEGATIVE_INFINITY, sum = 0;
      for (int j = 0; j < classes; j++) {
        max = Math.max(max, x[i * classes + j]);
      }
      for (int j = 0; j < classes; j++) {
        sum += Math.exp(x[i * classes + j] - max);
      }
      for (int j = 0; j < classes; j++) {
        double p = Math.exp(x[i * classes + j] - max) / sum;
        if (p > 1e-30) {
          worstProb = Math.max(worstProb, Math.abs(probs[i * classes + j] - p) / Math.ulp((float) p));
        } else {
          assertTrue(probs[i * classes + j] < 1e-29, kind + ": row " + i + " class " + j);
        }
      }
    }
    assertTrue(worstLoss <= lossUlps, kind + " [" + rows + ", " + classes + "]: loss off by " + worstLoss + " ulp");
    assertTrue(worstProb <= probUlps, kind + " [" + rows + ", " + classes + "]: softmax off by " + worstProb + " ulp");
  }

  @Test
  void lossesAndSoftmaxAgainstDouble() {
    for (String kind : new String[] {"normal", "wide", "tiny loss", "around 1e4", "masked"}) {
      check(kind, 1024, 96, 2, 4);    // char-gpt's logits, rows grouped ten to a block
      check(kind, 7, 5, 2, 4);
      check(kind, 3, 3000, 4, 4);     // rows longer than a block
    }
  }

  /** A row's values do not depend on the rows beside it (the blocks and the split among the cores). */
  @Test
  void aRowsLossDoesNotDependOnItsNeighbours() {
    float[][] data = logits("normal", 50, 96, 7);
    float[] losses = new float[50], probs = new float[50 * 96];
    CpuKernels.crossEntropyForward(losses, probs, data[0], 0, data[1], 0, 50, 96);
    for (int i = 0; i < 50; i += 7) {
      float[] one = new float[1], p = new float[96];
      CpuKernels.crossEntropyForward(one, p, data[0], i * 96, data[1], i, 1, 96);
      assertEquals(Float.floatToIntBits(losses[i]), Float.floatToIntBits(one[0]), "row " + i);
    }
  }

  /**
   * PyTorch 1.13, {@code F.cross_entropy(x.double(), t, reduction='none')}, except the last row's loss: there PyTorch's
   * double gives 4.1894265833352715e-11, {@code log(1 + s)} off by 2.7e-6 relative, its float kernel -0.0, and the
   * value is {@code math.log1p(exp(-25) + exp(-24.5) + exp(-26))}, which Kiln gives to float precision.
   */
  @Test
  void asPyTorchInDouble() {
    float inf = Float.NEGATIVE_INFINITY;
    float[] x = {0.1f, 2.0f, -1.5f, 3.25f, 30f, -4f, 5f, 29.5f, 1e4f, 1e4f + 0.5f, 1e4f - 3, 1e4f + 1, inf, 1f, inf, 0.5f,
        25f, 0f, 0.5f, -1f};
    float[] t = {3, 0, 1, 3, 0};
    double[] torch = {0.29118240338499424, 0.4740769841887525, 1.1895034200065548, 0.9740769841801067, 4.189438134860531e-11};
    float[] losses = new float[5], probs = new float[20];
    CpuKernels.crossEntropyForward(losses, probs, x, 0, t, 0, 5, 4);
    for (int i = 0; i < 5; i++) {
      assertEquals(torch[i], losses[i], 1.5 * Math.ulp((float) torch[i]), "row " + i);
    }
  }

  @Test
  void nanAndInfiniteLogitsGiveNan() {
    float[] x = {Float.NaN, 1f, 2f, Float.POSITIVE_INFINITY, 1f, 2f, Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY};
    float[] losses = new float[3], probs = new float[9];
    CpuKernels.crossEntropyForward(losses, probs, x, 0, new float[] {1, 1, 0}, 0, 3, 3);
    for (float l : losses) {
      assertTrue(Float.isNaN(l), java.util.Arrays.toString(losses));
    }
  }
}
