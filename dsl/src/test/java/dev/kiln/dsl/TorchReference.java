package dev.kiln.dsl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
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

  /** The attention scripts' loss: {@code sum(out * sin(0.71 i + 0.3))}, plus {@code sum(weights * cos(0.43 i))} when weights are given. */
  static Tensor attentionLoss(Tensor out, Tensor weights) {
    Tensor loss = out.mul(filled(out.shape(), 0.71, 0.3, true)).sum();
    return weights == null ? loss : loss.add(weights.mul(filled(weights.shape(), 0.43, 0, false)).sum());
  }

  /** Loads case {@code name}'s parameters by PyTorch's state-dict keys (strict), after checking they are the module's, in order. */
  void load(String name, Module m, List<String> torchKeys) {
    assertEquals(torchKeys, new ArrayList<>(m.stateDict().keySet()), name + ": PyTorch's state-dict keys");
    Map<String, Tensor> state = new LinkedHashMap<>();
    for (String key : torchKeys) {
      state.put(key, copy(name + "." + key));
    }
    m.loadStateDict(state);
  }

  /** The mask under {@code key} (a boolean one, 1 = blocked, made float by {@link F#attentionMask}), or null when there is none. */
  Tensor mask(String key, boolean bool) {
    if (get(key) == null) {
      return null;
    }
    return bool ? F.attentionMask(copy(key)) : copy(key);
  }

  /** Asserts the gradients of {@code inputs} and of every parameter of {@code m} are case {@code name}'s {@code grad.<key>}. */
  void closeGradients(String name, Module m, Map<String, Tensor> inputs, double tolerance) {
    inputs.forEach((key, t) -> close(name + ".grad." + key, t.grad(), tolerance));
    m.namedParameters().forEach((key, p) -> close(name + ".grad." + key, p.grad(), tolerance));
  }

  /**
   * Runs a resource's script that loads a Kiln file into PyTorch's twin ({@code /usr/bin/python3 script args...}),
   * asserts the strict load matched every key, and returns the values it printed on its {@code out ...} line.
   */
  static float[] torchOutput(String resourceScript, String... args) throws Exception {
    Path script = Path.of(TorchReference.class.getResource(resourceScript).toURI());
    String[] command = new String[args.length + 2];
    command[0] = script.toString();
    command[1] = TorchNet.resource("").toString();
    System.arraycopy(args, 0, command, 2, args.length);
    String output = StateDictTorchInteropTest.runPython(command);
    assertTrue(output.contains("load_state_dict(strict=True): <All keys matched successfully>"), output);
    String line = output.lines().filter(l -> l.startsWith("out ")).findFirst().orElseThrow(() -> new AssertionError(output));
    String[] f = line.substring(4).trim().split(" ");
    float[] values = new float[f.length];
    for (int i = 0; i < f.length; i++) {
      values[i] = Float.parseFloat(f[i]);
    }
    return values;
  }
}
