package dev.kiln.runtime.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.kiln.runtime.Tensor;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.BiConsumer;
import java.util.function.Function;

/**
 * Values computed by PyTorch in {@code optim/make_reference.py} and stored in
 * {@code optim/reference.txt}, one {@code name step index value} per line.
 */
final class Reference {
  /** Relative tolerance for every comparison with PyTorch. */
  static final double RTOL = 1e-6;
  /** Optimizer steps per case. */
  static final int STEPS = 5;

  private static Reference instance;
  private static Reference schedules;
  private static Reference optimizers;

  /** name -> step -> index -> value. */
  private final Map<String, Map<Integer, TreeMap<Integer, Double>>> rows = new HashMap<>();

  static synchronized Reference get() {
    if (instance == null) {
      instance = new Reference("/optim/reference.txt");
    }
    return instance;
  }

  /** The scheduler sequences of {@code optim/make_schedules.py}, in {@code optim/schedules.txt}. */
  static synchronized Reference schedules() {
    if (schedules == null) {
      schedules = new Reference("/optim/schedules.txt");
    }
    return schedules;
  }

  /** The optimizer steps of {@code optim/make_optimizers.py}, in {@code optim/optimizers.txt}. */
  static synchronized Reference optimizers() {
    if (optimizers == null) {
      optimizers = new Reference("/optim/optimizers.txt");
    }
    return optimizers;
  }

  private Reference(String resource) {
    try (InputStream in = Reference.class.getResourceAsStream(resource)) {
      assertNotNull(in, "missing test resource " + resource + ": run make_reference.py");
      BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
      String line;
      while ((line = r.readLine()) != null) {
        if (line.isBlank() || line.startsWith("#")) {
          continue;
        }
        String[] f = line.trim().split("\\s+");
        if (f.length != 4) {
          fail("bad line in " + resource + ": " + line);
        }
        rows.computeIfAbsent(f[0], k -> new HashMap<>())
            .computeIfAbsent(Integer.parseInt(f[1]), k -> new TreeMap<>())
            .put(Integer.parseInt(f[2]), Double.parseDouble(f[3]));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Whether reference.txt has {@code name} at {@code step}. */
  boolean has(String name, int step) {
    return rows.getOrDefault(name, Map.of()).containsKey(step);
  }

  /** The values of {@code name} at {@code step}, by index. */
  double[] values(String name, int step) {
    TreeMap<Integer, Double> row = rows.getOrDefault(name, Map.of()).get(step);
    assertNotNull(row, "reference.txt has no " + name + " at step " + step);
    assertEquals(row.size() - 1, (int) row.lastKey(), name + " " + step + ": indices are not 0..n-1");
    return row.values().stream().mapToDouble(Double::doubleValue).toArray();
  }

  /** A float32 tensor of {@code name} at {@code step} (values stored as float32 are exact). */
  Tensor tensor(String name, int step) {
    double[] v = values(name, step);
    float[] f = new float[v.length];
    for (int i = 0; i < v.length; i++) {
      f[i] = (float) v[i];
    }
    return Tensor.of(f);
  }

  /**
   * Replays the optimizer case {@code name}: starts from {@code init}, and for each step runs
   * {@code beforeStep}, sets that step's gradient by hand, calls {@code opt.step()} and compares
   * the parameter with PyTorch's, bit for bit: the CPU update rules round as PyTorch 1.13's kernels.
   */
  void replay(String name, Function<List<Tensor>, Optimizer> factory, BiConsumer<Integer, Optimizer> beforeStep) {
    replay(name, "", factory, beforeStep);
  }

  /** {@link #replay} of a bulk case: its start and gradients are {@code bulk_init} and {@code bulk_grad}. */
  void replayBulk(String name, Function<List<Tensor>, Optimizer> factory) {
    replay(name, "bulk_", factory, (step, opt) -> {});
  }

  private void replay(String name, String prefix, Function<List<Tensor>, Optimizer> factory,
      BiConsumer<Integer, Optimizer> beforeStep) {
    Tensor p = tensor(prefix + "init", 0).requiresGrad(true);
    Optimizer opt = factory.apply(List.of(p));
    for (int step = 1; step <= STEPS; step++) {
      beforeStep.accept(step, opt);
      p.setGrad(tensor(prefix + "grad", step));
      opt.step();
      double[] expected = values(name, step);
      float[] actual = p.toFloatArray();
      for (int i = 0; i < expected.length; i++) {
        assertEquals((float) expected[i], actual[i], 0f, name + " after step " + step + " [" + i + "]: PyTorch's bits");
      }
    }
  }

  void replay(String name, Function<List<Tensor>, Optimizer> factory) {
    replay(name, factory, (step, opt) -> {});
  }

  static void assertClose(double[] expected, float[] actual, String what) {
    assertEquals(expected.length, actual.length, what + ": length");
    for (int i = 0; i < expected.length; i++) {
      assertClose(expected[i], actual[i], what + " [" + i + "]");
    }
  }

  static void assertClose(double expected, double actual, String what) {
    double err = Math.abs(actual - expected);
    assertTrue(err <= RTOL * Math.abs(expected),
        what + ": expected " + expected + " (PyTorch), got " + actual + ", relative error " + err / Math.abs(expected));
  }
}
