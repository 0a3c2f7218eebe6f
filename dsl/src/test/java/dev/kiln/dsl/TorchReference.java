package dev.kiln.dsl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * Reference values a test resource's {@code make_reference.py} wrote with PyTorch 1.13, one tensor a line:
 * {@code <name> [shape] values...} ({@code #} comments), and the sin/cos fillings those scripts use.
 */
final class TorchReference {
  private final String resource;
  private final Map<String, Tensor> values = new HashMap<>();

  /** Reads the resource, e.g. {@code "/recurrent/reference.txt"}. */
  TorchReference(String resource) {
    this.resource = resource;
    try (InputStream in = TorchReference.class.getResourceAsStream(resource)) {
      for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
        if (line.isBlank() || line.startsWith("#")) {
          continue;
        }
        String[] f = line.trim().split(" ");
        String dims = f[1].substring(1, f[1].length() - 1);
        int[] shape = dims.isEmpty() ? new int[0] : Arrays.stream(dims.split(",")).mapToInt(Integer::parseInt).toArray();
        float[] v = new float[f.length - 2];
        for (int i = 0; i < v.length; i++) {
          v[i] = Float.parseFloat(f[i + 2]);
        }
        values.put(f[0], Tensor.of(v, shape));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The tensor written under {@code key}, or null. */
  Tensor get(String key) {
    return values.get(key);
  }

  /** A fresh copy of the tensor under {@code key} (one a test may make a leaf of), failing when there is none. */
  Tensor copy(String key) {
    Tensor t = values.get(key);
    assertNotNull(t, resource + " has no " + key);
    return Tensor.of(t.toFloatArray(), t.shape());
  }

  /** {@code sin} or {@code cos} of {@code i * scale + shift} over a shape, in float as the scripts compute it. */
  static Tensor filled(int[] shape, double scale, double shift, boolean sin) {
    float[] v = new float[Shapes.numel(shape)];
    for (int i = 0; i < v.length; i++) {
      float x = (float) i * (float) scale + (float) shift;
      v[i] = (float) (sin ? Math.sin(x) : Math.cos(x));
    }
    return Tensor.of(v, shape);
  }

  /** Asserts {@code actual} has the shape and, within {@code tolerance * max(1, |expected|)}, the values under {@code key}. */
  void close(String key, Tensor actual, double tolerance) {
    Tensor expected = values.get(key);
    assertNotNull(expected, resource + " has no " + key);
    assertNotNull(actual, key + ": no tensor");
    assertArrayEquals(expected.shape(), actual.shape(), key + ": shape");
    float[] e = expected.toFloatArray();
    float[] a = actual.toFloatArray();
    for (int i = 0; i < e.length; i++) {
      assertEquals(e[i], a[i], tolerance * Math.max(1, Math.abs(e[i])), key + " [" + i + "]");
    }
  }
}
