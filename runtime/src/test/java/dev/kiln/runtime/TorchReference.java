package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * Cases written by a {@code make_reference.py} with PyTorch 1.13: per case its random inputs
 * ({@code x}, and {@code t} for a loss's target), the output's weights {@code w}, and what PyTorch
 * gave: {@code out}, {@code idx} (indices of an op that returns them), and the gradients {@code dx},
 * {@code dt} of {@code sum(out * w)}. {@link #check} runs Kiln's op on the same inputs and compares.
 */
final class TorchReference {
  private final Map<String, float[]> values = new HashMap<>();
  private final Map<String, int[]> shapes = new HashMap<>();
  private final Set<String> cases = new LinkedHashSet<>();

  TorchReference(String resource) {
    try (InputStream in = TorchReference.class.getResourceAsStream(resource)) {
      assertNotNull(in, "no resource " + resource);
      for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
        if (line.isBlank() || line.startsWith("#")) {
          continue;
        }
        String[] f = line.trim().split(" ");
        String dims = f[1].substring(1, f[1].length() - 1);
        shapes.put(f[0], dims.isEmpty() ? new int[0] : Arrays.stream(dims.split(",")).mapToInt(Integer::parseInt).toArray());
        float[] v = new float[f.length - 2];
        for (int i = 0; i < v.length; i++) {
          v[i] = Float.parseFloat(f[i + 2]);
        }
        values.put(f[0], v);
        cases.add(f[0].substring(0, f[0].lastIndexOf('.')));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The cases in the file, in order. */
  List<String> cases() {
    return new ArrayList<>(cases);
  }

  /** The values written under {@code case.key}, as a tensor of their shape. */
  Tensor tensor(String caseName, String key) {
    String k = caseName + "." + key;
    assertNotNull(values.get(k), "the reference has no " + k);
    int[] shape = shapes.get(k);
    return shape.length == 0 ? Tensor.scalar(values.get(k)[0]) : Tensor.of(values.get(k), shape); // of() with no shape is rank 1
  }

  boolean has(String caseName, String key) {
    return values.containsKey(caseName + "." + key);
  }

  /**
   * Runs {@code op} on the case's inputs (each requiring grad), checks the output's shape and
   * values, back-propagates {@code sum(out * w)} and checks each input's gradient, all within
   * {@code atol + rtol |expected|}. The op returns its output (for an op with indices, {@link
   * #checkIndexed}).
   */
  void check(String caseName, double atol, double rtol, Function<Tensor[], Tensor> op) {
    Tensor[] inputs = inputs(caseName);
    Tensor out = op.apply(inputs);
    compare(caseName, out, inputs, atol, rtol);
  }

  /** {@link #check} of an op that returns values and indices; the indices must equal PyTorch's. */
  void checkIndexed(String caseName, double atol, double rtol, Function<Tensor[], ValuesAndIndices> op) {
    Tensor[] inputs = inputs(caseName);
    ValuesAndIndices vi = op.apply(inputs);
    assertEquals(DType.INT32, vi.indices().dtype(), caseName + ": indices' type");
    assertArrayEquals(tensor(caseName, "idx").toFloatArray(), vi.indices().toFloatArray(), caseName + ": indices");
    compare(caseName, vi.values(), inputs, atol, rtol);
  }

  private Tensor[] inputs(String caseName) {
    List<Tensor> in = new ArrayList<>();
    for (String key : new String[] {"x", "t"}) {
      if (has(caseName, key)) {
        in.add(tensor(caseName, key).requiresGrad(true));
      }
    }
    return in.toArray(new Tensor[0]);
  }

  private void compare(String caseName, Tensor out, Tensor[] inputs, double atol, double rtol) {
    Tensor want = tensor(caseName, "out");
    assertArrayEquals(want.shape(), out.shape(), caseName + ": output shape " + Shapes.toString(out.shape()));
    close(caseName + ": values", want.toFloatArray(), out.toFloatArray(), atol, rtol);
    out.mul(tensor(caseName, "w").to(out.device())).sum().backward();
    String[] keys = {"dx", "dt"};
    for (int k = 0; k < inputs.length; k++) {
      Tensor grad = inputs[k].grad();
      float[] wantGrad = tensor(caseName, keys[k]).toFloatArray();
      close(caseName + ": gradient of input " + k, wantGrad, grad == null ? new float[wantGrad.length] : grad.toFloatArray(), atol, rtol);
    }
  }

  static void close(String what, float[] expected, float[] actual, double atol, double rtol) {
    assertEquals(expected.length, actual.length, what + ": length");
    for (int i = 0; i < expected.length; i++) {
      boolean same = Float.compare(expected[i], actual[i]) == 0 || Math.abs(expected[i] - actual[i]) <= atol + rtol * Math.abs(expected[i]);
      if (!same) {
        fail(what + " differ at flat index " + i + ": PyTorch " + expected[i] + ", Kiln " + actual[i]);
      }
    }
  }
}
