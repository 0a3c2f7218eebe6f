package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@code matmul} with PyTorch's rules (vectors, matrices, broadcast batches) and {@code bmm},
 * against PyTorch 1.13's values and gradients (matmul/reference.txt, from make_reference.py).
 */
class MatmulTest {
  /** The shapes of make_reference.py's CASES, in order. */
  private static final List<int[][]> CASES = List.of(
      new int[][] {{3}, {3}}, new int[][] {{3}, {3, 4}}, new int[][] {{2, 3}, {3}}, new int[][] {{4, 3}, {3, 2}},
      new int[][] {{2, 2, 3}, {3, 4}}, new int[][] {{2, 3}, {2, 3, 4}}, new int[][] {{2, 1, 2, 3}, {3, 3, 2}},
      new int[][] {{3}, {2, 3, 2}}, new int[][] {{2, 2, 3}, {3}}, new int[][] {{1, 2, 3}, {4, 3, 2}});

  private static final Map<String, float[]> VALUES = new HashMap<>();
  private static final Map<String, int[]> SHAPES = new HashMap<>();

  static {
    try (InputStream in = MatmulTest.class.getResourceAsStream("/matmul/reference.txt")) {
      for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
        if (line.isBlank() || line.startsWith("#")) {
          continue;
        }
        String[] f = line.trim().split(" ");
        String dims = f[1].substring(1, f[1].length() - 1);
        SHAPES.put(f[0], dims.isEmpty() ? new int[0] : Arrays.stream(dims.split(",")).mapToInt(Integer::parseInt).toArray());
        float[] v = new float[f.length - 2];
        for (int i = 0; i < v.length; i++) {
          v[i] = Float.parseFloat(f[i + 2]);
        }
        VALUES.put(f[0], v);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static Tensor filled(int[] shape, double scale, double shift, boolean sin) {
    float[] v = new float[Shapes.numel(shape)];
    for (int i = 0; i < v.length; i++) {
      float x = (float) i * (float) scale + (float) shift; // float, as torch.arange(...) * scale + shift
      v[i] = (float) (sin ? Math.sin(x) : Math.cos(x));
    }
    return Tensor.of(v, shape);
  }

  @Test
  void valuesAndGradientsAsPyTorchs() {
    for (int k = 0; k < CASES.size(); k++) {
      int[] sa = CASES.get(k)[0], sb = CASES.get(k)[1];
      Tensor a = filled(sa, 0.37, -1.1, true).requiresGrad(true);
      Tensor b = filled(sb, 0.53, 0.2, false).requiresGrad(true);
      Tensor out = a.matmul(b);
      String c = "case" + k;
      String what = c + " " + Shapes.toString(sa) + " @ " + Shapes.toString(sb);
      assertArrayEquals(SHAPES.get(c + ".out"), out.shape(), what + ": shape");
      assertClose(VALUES.get(c + ".out"), out.toFloatArray(), what + ": values");
      out.mul(filled(out.shape(), 0.71, 0.3, true)).sum().backward();
      assertClose(VALUES.get(c + ".da"), a.grad().toFloatArray(), what + ": gradient of a");
      assertClose(VALUES.get(c + ".db"), b.grad().toFloatArray(), what + ": gradient of b");
    }
  }

  private static void assertClose(float[] expected, float[] actual, String what) {
    assertEquals(expected.length, actual.length, what + ": length");
    for (int i = 0; i < expected.length; i++) {
      assertEquals(expected[i], actual[i], 1e-5 * Math.max(1, Math.abs(expected[i])), what + " [" + i + "]");
    }
  }

  @Test
  void bmmIsEachBatchsMatrixProduct() {
    Kiln.manualSeed(4);
    Tensor a = Tensor.randn(5, 3, 7);
    Tensor b = Tensor.randn(5, 7, 2);
    Tensor out = a.bmm(b);
    assertArrayEquals(new int[] {5, 3, 2}, out.shape());
    for (int i = 0; i < 5; i++) {
      assertArrayEquals(Ops.mm(a.select(0, i), b.select(0, i)).toFloatArray(), out.select(0, i).toFloatArray());
    }
  }

  /** Attention's scores as PyTorch writes them: {@code q @ k.transpose(-2, -1)} over [batch, heads, tokens, dim]. */
  @Test
  void attentionScoresOverHeads() {
    Kiln.manualSeed(5);
    Tensor q = Tensor.randn(2, 3, 4, 8);
    Tensor k = Tensor.randn(2, 3, 4, 8);
    Tensor scores = q.matmul(k.transpose(-2, -1));
    assertArrayEquals(new int[] {2, 3, 4, 4}, scores.shape());
    float expected = 0;
    for (int d = 0; d < 8; d++) {
      expected += q.get(1, 2, 3, d) * k.get(1, 2, 0, d);
    }
    assertEquals(expected, scores.get(1, 2, 3, 0), 1e-5);
  }

  /** An inner size of 0 gives zeros, as PyTorch's (the rows are counted, not inferred). */
  @Test
  void emptyInnerDimensionGivesZeros() {
    Tensor out = Tensor.zeros(2, 2, 0).matmul(Tensor.zeros(0, 3));
    assertArrayEquals(new int[] {2, 2, 3}, out.shape());
    assertArrayEquals(new float[12], out.toFloatArray());
    assertArrayEquals(new int[] {2, 3}, Tensor.zeros(2, 3, 0).matmul(Tensor.zeros(0)).shape());
  }

  @Test
  void badShapesNameBothOperands() {
    assertMessage("matmul: [2, 3] @ [4, 5]: inner dimensions 3 and 4 differ", () -> Tensor.zeros(2, 3).matmul(Tensor.zeros(4, 5)));
    assertMessage("matmul ([2, 2, 3] @ [3, 3, 1], batch dimensions): shapes [2] and [3] do not broadcast",
        () -> Tensor.zeros(2, 2, 3).matmul(Tensor.zeros(3, 3, 1)));
    assertMessage("matmul: [] @ [3]: both operands need at least one dimension",
        () -> Tensor.scalar(2f).matmul(Tensor.zeros(3)));
    assertMessage("bmm: left operand must have rank 3", () -> Tensor.zeros(2, 3).bmm(Tensor.zeros(2, 3, 4)));
    assertMessage("bmm: [2, 3, 4] @ [3, 4, 5]: batch sizes 2 and 3 differ", () -> Tensor.zeros(2, 3, 4).bmm(Tensor.zeros(3, 4, 5)));
    assertMessage("mm: left operand must have rank 2", () -> Ops.mm(Tensor.zeros(3), Tensor.zeros(3, 2)));
  }

  private static void assertMessage(String start, org.junit.jupiter.api.function.Executable call) {
    var e = assertThrows(IllegalArgumentException.class, call);
    assertTrue(e.getMessage().startsWith(start), e.getMessage());
  }
}
