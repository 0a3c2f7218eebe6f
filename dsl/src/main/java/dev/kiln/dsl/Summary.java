package dev.kiln.dsl;

import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The model summary of {@link Module#summary}, laid out exactly as the {@code torchsummary}
 * package prints it:
 *
 * <pre>
 * ----------------------------------------------------------------
 *         Layer (type)               Output Shape         Param #
 * ================================================================
 *             Linear-1                    [-1, 8]              24
 *               ReLU-2                    [-1, 8]               0
 *             Linear-3                    [-1, 1]               9
 * ================================================================
 * Total params: 33
 * Trainable params: 33
 * Non-trainable params: 0
 * ----------------------------------------------------------------
 * Input size (MB): 0.00
 * Forward/backward pass size (MB): 0.00
 * Params size (MB): 0.00
 * Estimated Total Size (MB): 0.00
 * ----------------------------------------------------------------
 * </pre>
 *
 * <p>As in torchsummary, a layer is named by its class and its 1-based position among the rows; a
 * layer called twice has two rows and its parameters count twice; memory assumes 4-byte floats: the
 * input of one sample, twice the outputs of every row (the activations and their gradients), and the
 * parameters, in MiB rounded to two decimals the way Python's {@code %0.2f} rounds. Unlike
 * torchsummary, which hooks every module but {@code Sequential}s, only leaf modules (those without
 * children) have rows, so that a container written by hand does not count its layers' parameters a
 * second time; and where torchsummary leaves a layer its hooks did not see out silently, a line after
 * the table names each leaf layer with parameters that no row is. A parameter two layers share (a tied weight, {@link
 * Linear#weight(Tensor)}) counts once, in the first row whose layer holds it, where torchsummary would count it in
 * both; a line after the table names each row that left one out.
 */
final class Summary {
  private static final String RULE = "-".repeat(64);
  private static final String DOUBLE_RULE = "=".repeat(64);
  private static final double MIB = 1024.0 * 1024.0;
  /** The batch the forward pass runs on, as torchsummary's. */
  private static final int BATCH = 2;

  /**
   * The table's rows, the leaf layers with parameters that the forward pass did not apply, and the parameters a row
   * shares with an earlier row's layer (tied weights), which count there only.
   */
  private record Recording(List<Row> rows, List<String> unseen, List<String> shared) {}

  /** One line of the table: a leaf layer's output shape (batch dimension -1) and parameter counts. */
  private record Row(Module layer, String name, int[] outputShape, long params, long trainableParams) {
    long outputsPerSample() {
      long n = 1;
      for (int i = 1; i < outputShape.length; i++) {
        n *= outputShape[i];
      }
      return n;
    }
  }

  private Summary() {}

  /** The summary of {@code model} for samples of shape {@code inputShape} (without the batch dimension). */
  static String of(Module model, boolean ids, int... inputShape) {
    if (inputShape.length == 0) {
      inputShape = model.declaredInputShape();
      if (inputShape == null) {
        throw new IllegalArgumentException("summary: give the shape of one input sample, e.g. summary(1, 28, 28)"
            + " (only a model declared with @Model knows its own)");
      }
    }
    for (int d : inputShape) {
      if (d <= 0) {
        throw new IllegalArgumentException("summary: input dimensions must be positive, got " + Arrays.toString(inputShape));
      }
    }
    Recording recording = record(model, ids, inputShape);
    String table = format(recording.rows(), inputShape);
    if (!recording.shared().isEmpty()) {
      table += "\nShared with an earlier row's layer, counted there: " + String.join(", ", recording.shared());
    }
    if (recording.unseen().isEmpty()) {
      return table;
    }
    return table + "\nNot in the table (no apply() reached them in the forward pass; called as forward(x), or not"
        + " at all): " + String.join(", ", recording.unseen());
  }

  /**
   * Runs one forward pass on a zero batch: a row for each leaf layer applied, in order, and the
   * leaf layers with parameters that none of those rows is.
   */
  private static Recording record(Module model, boolean ids, int[] inputShape) {
    int[] batchShape = new int[inputShape.length + 1];
    batchShape[0] = BATCH;
    System.arraycopy(inputShape, 0, batchShape, 1, inputShape.length);
    List<Row> rows = new ArrayList<>();
    Set<Module> applied = Collections.newSetFromMap(new IdentityHashMap<>());
    Map<Tensor, Module> holders = new IdentityHashMap<>(); // each parameter's first row's layer
    List<String> shared = new ArrayList<>();
    Module.ForwardListener recorder = (module, output) -> {
      if (module.namedChildren().isEmpty()) {
        rows.add(row(module, rows.size() + 1, output, holders, rows, shared));
        applied.add(module);
      }
    };
    List<Map.Entry<Module, Boolean>> modes = trainingModes(model);
    Module.ForwardListener previous = Module.FORWARD_LISTENER.get();
    Module.FORWARD_LISTENER.set(recorder);
    try (var noGrad = Kiln.noGrad()) {
      model.eval();
      model.apply(ids ? Tensor.labels(new int[Shapes.numel(batchShape)]).reshape(batchShape) : Tensor.zeros(batchShape));
    } catch (ShapeException e) {
      ShapeException named = new ShapeException("summary" + Arrays.toString(inputShape).replace('[', '(').replace(']', ')')
          + ": the model does not take samples of shape " + Arrays.toString(inputShape) + " (run as a batch of " + BATCH
          + "): " + e.getMessage());
      named.initCause(e);
      throw named;
    } finally {
      Module.FORWARD_LISTENER.set(previous);
      modes.forEach(e -> e.getKey().train(e.getValue()));
    }
    if (rows.isEmpty() && !model.parameters().isEmpty()) { // a forward that bypasses apply would print "Total params: 0"
      throw new IllegalStateException("summary: the forward pass of " + model.getClass().getName()
          + " applied no layer through apply(), although the model has parameters; call its layers as layer.apply(x)");
    }
    List<String> unseen = new ArrayList<>();
    unappliedLeaves(model, "", applied, Collections.newSetFromMap(new IdentityHashMap<>()), unseen);
    return new Recording(rows, unseen, shared);
  }

  /** Adds "path (Type, n params)" for each leaf under {@code m} with parameters and not applied, depth first. */
  private static void unappliedLeaves(Module m, String path, Set<Module> applied, Set<Module> visited, List<String> out) {
    if (!visited.add(m)) {
      return;
    }
    Map<String, Module> children = m.namedChildren();
    if (children.isEmpty()) {
      long params = m.parameterCount();
      if (params > 0 && !applied.contains(m)) {
        out.add((path.isEmpty() ? m.name() : path) + " (" + m.name() + ", " + thousands(params) + (params == 1 ? " param)" : " params)"));
      }
      return;
    }
    children.forEach((name, child) -> unappliedLeaves(child, path.isEmpty() ? name : path + "." + name, applied, visited, out));
  }

  /**
   * The row of {@code layer}'s {@code index}th application. A parameter that an earlier row's other layer holds too (a
   * tied weight) counts in that row only and is named in {@code shared}; a layer applied twice counts its own
   * parameters in each row, as torchsummary does.
   */
  private static Row row(Module layer, int index, Tensor output, Map<Tensor, Module> holders, List<Row> earlier,
      List<String> shared) {
    int[] shape = output.shape().clone();
    shape[0] = -1;
    long params = 0;
    long trainable = 0;
    for (Map.Entry<String, Tensor> e : layer.namedParameters().entrySet()) {
      Tensor p = e.getValue();
      Module holder = holders.putIfAbsent(p, layer);
      if (holder != null && holder != layer) {
        String first = earlier.stream().filter(r -> r.layer() == holder).findFirst().orElseThrow().name();
        shared.add(layer.name() + "-" + index + "'s " + e.getKey() + " (" + first + "'s, " + thousands(p.numel()) + " params)");
        continue;
      }
      params += p.numel();
      trainable += p.requiresGrad() ? p.numel() : 0;
    }
    return new Row(layer, layer.name() + "-" + index, shape, params, trainable);
  }

  /**
   * The training flag of the model and each descendant, breadth first: restoring them in this
   * order ({@link Module#train(boolean)} also sets the descendants) leaves each module as it was.
   */
  private static List<Map.Entry<Module, Boolean>> trainingModes(Module model) {
    List<Map.Entry<Module, Boolean>> modes = new ArrayList<>();
    Set<Module> seen = Collections.newSetFromMap(new IdentityHashMap<>());
    ArrayDeque<Module> pending = new ArrayDeque<>(List.of(model));
    while (!pending.isEmpty()) {
      Module m = pending.removeFirst();
      if (seen.add(m)) {
        modes.add(Map.entry(m, m.isTraining()));
        pending.addAll(m.namedChildren().values());
      }
    }
    return modes;
  }

  private static String format(List<Row> rows, int[] inputShape) {
    StringBuilder sb = new StringBuilder();
    sb.append(RULE).append('\n');
    sb.append(line("Layer (type)", "Output Shape", "Param #"));
    sb.append(DOUBLE_RULE).append('\n');
    long totalParams = 0;
    long trainableParams = 0;
    long totalOutputs = 0;
    for (Row r : rows) {
      sb.append(line(r.name(), shapeString(r.outputShape()), thousands(r.params())));
      totalParams += r.params();
      trainableParams += r.trainableParams();
      totalOutputs += r.outputsPerSample();
    }
    long inputValues = Arrays.stream(inputShape).asLongStream().reduce(1, (a, b) -> a * b);
    double inputSize = inputValues * 4.0 / MIB;
    double outputSize = 2.0 * totalOutputs * 4.0 / MIB;
    double paramsSize = totalParams * 4.0 / MIB;
    double totalSize = paramsSize + outputSize + inputSize; // torchsummary's order of addition
    sb.append(DOUBLE_RULE).append('\n');
    sb.append("Total params: ").append(thousands(totalParams)).append('\n');
    sb.append("Trainable params: ").append(thousands(trainableParams)).append('\n');
    sb.append("Non-trainable params: ").append(thousands(totalParams - trainableParams)).append('\n');
    sb.append(RULE).append('\n');
    sb.append("Input size (MB): ").append(twoDecimals(inputSize)).append('\n');
    sb.append("Forward/backward pass size (MB): ").append(twoDecimals(outputSize)).append('\n');
    sb.append("Params size (MB): ").append(twoDecimals(paramsSize)).append('\n');
    sb.append("Estimated Total Size (MB): ").append(twoDecimals(totalSize)).append('\n');
    sb.append(RULE);
    return sb.toString();
  }

  /** torchsummary's {@code "{:>20}  {:>25} {:>15}"}. */
  private static String line(String layer, String shape, String params) {
    return String.format(Locale.ROOT, "%20s  %25s %15s", layer, shape, params) + "\n";
  }

  /** Python's {@code str(list)}: {@code [-1, 32, 28, 28]}. */
  private static String shapeString(int[] shape) {
    return Arrays.stream(shape).mapToObj(Integer::toString).collect(Collectors.joining(", ", "[", "]"));
  }

  /** Python's {@code "{0:,}"}: {@code 401,920}. */
  private static String thousands(long n) {
    return String.format(Locale.ROOT, "%,d", n);
  }

  /** Python's {@code "%0.2f"}: the exact binary value rounded half to even (Java's %.2f rounds 0.125 up). */
  private static String twoDecimals(double value) {
    return new BigDecimal(value).setScale(2, RoundingMode.HALF_EVEN).toPlainString();
  }
}
