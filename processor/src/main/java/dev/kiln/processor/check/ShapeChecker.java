package dev.kiln.processor.check;

import dev.kiln.dsl.Recurrent;
import dev.kiln.processor.ir.InitialStates;
import dev.kiln.processor.ir.LastStates;
import dev.kiln.dsl.ShapeException;
import dev.kiln.processor.Diagnostics;
import dev.kiln.processor.Message;
import dev.kiln.processor.ir.Add;
import dev.kiln.processor.ir.Arithmetic;
import dev.kiln.processor.ir.Cat;
import dev.kiln.processor.ir.Compare;
import dev.kiln.processor.ir.ConstantIds;
import dev.kiln.processor.ir.IdOp;
import dev.kiln.processor.ir.Cosine;
import dev.kiln.processor.ir.ExpandField;
import dev.kiln.processor.ir.InputsIr;
import dev.kiln.processor.ir.MaskedFill;
import dev.kiln.processor.ir.MatMul;
import dev.kiln.processor.ir.ModelIr;
import dev.kiln.processor.ir.MethodModes;
import dev.kiln.processor.ir.Modes;
import dev.kiln.processor.ir.LineOp;
import dev.kiln.processor.ir.IdMove;
import dev.kiln.processor.ir.Narrow;
import dev.kiln.processor.ir.Reduce;
import dev.kiln.processor.ir.Repeat;
import dev.kiln.processor.ir.Reshape;
import dev.kiln.processor.ir.Scatter;
import dev.kiln.processor.ir.Source;
import dev.kiln.processor.ir.Split;
import dev.kiln.processor.ir.StepIr;
import dev.kiln.processor.ir.TensorIr;
import dev.kiln.processor.ir.PointwisePair;
import dev.kiln.processor.ir.Where;
import dev.kiln.runtime.Shapes;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Pass 2: infers every value's shape from {@code @Model(input)} through the steps with the dsl
 * layers' own shape rules, and checks that the steps form a graph the generator compiles: every
 * value but the results feeds a later step (a value may feed several; {@code add}, {@code sub},
 * {@code mul} and {@code div} join two of one shape or one repeated over the other, {@code matmul} two whose matrices fit, {@code Tensor.cat} several along a dimension), in
 * {@code forward} and in a method of several outputs alike. The model's tensor fields are values
 * without a batch dimension, which only an add, sub, mul or div (repeated over the batch) and a matmul (a
 * matrix on the right, multiplying every row) read; a masked fill's mask is part of its spec. A method of
 * several inputs is one more graph whose further inputs are values like the input ({@code [N, ...]}), each of
 * which some step must read; a masked fill there may take one, as it is or reshaped, as its mask.
 */
public final class ShapeChecker {
  private final Diagnostics diagnostics;

  public ShapeChecker(Diagnostics diagnostics) {
    this.diagnostics = diagnostics;
  }

  /**
   * Checks the shapes; the chain structure only when {@code partial} is false (a partial IR misses
   * the steps whose errors the reader already reported). A model with an outputs method has its
   * body checked the same way, as a second graph.
   */
  public Optional<CheckedModel> check(ModelIr ir, boolean partial) {
    int before = diagnostics.count();
    Optional<CheckedModel> forward = graph(ir, partial, ir.forwardDelegates() ? List.of() : List.of(ir.result()), null);
    Optional<CheckedModel> outputs = ir.outputs() == null ? Optional.empty()
        : graph(ir.outputsGraph(), partial, ir.outputs().results(), ir.outputs().method());
    Optional<CheckedModel> inputs = ir.inputs() == null ? Optional.empty()
        : graph(ir.inputsGraph(), partial, ir.inputs().results(), ir.inputs().method());
    Optional<CheckedModel> evaluation = ir.modes() == null ? Optional.empty()
        : graph(ir.modes().evaluation(), partial, List.of(ir.modes().evaluation().result()), null);
    if (diagnostics.count() > before || forward.isEmpty()) {
      return Optional.empty();
    }
    CheckedModel f = forward.get();
    if (ir.modes() != null && (evaluation.isEmpty() || !modesAgree(ir.modes(), f, evaluation.get()))) {
      return Optional.empty();
    }
    if (outputs.isPresent() && ir.outputs().modes() != null) {
      outputs = methodModes(ir.outputs().modes(), outputs.get(), ir.outputsEvaluationGraph(),
          ir.outputs().modes().evaluation().results(), ir.outputs().method(), partial);
      if (outputs.isEmpty()) {
        return Optional.empty();
      }
    }
    if (inputs.isPresent() && ir.inputs().modes() != null) {
      inputs = methodModes(ir.inputs().modes(), inputs.get(), ir.inputsEvaluationGraph(),
          ir.inputs().modes().evaluation().results(), ir.inputs().method(), partial);
      if (inputs.isEmpty()) {
        return Optional.empty();
      }
    }
    return Optional.of(new CheckedModel(ir, f.inputShape(), f.stepInputs(), f.stepOutputs(), outputs.orElse(null),
        inputs.orElse(null), evaluation.orElse(null)));
  }

  /**
   * A method of several outputs or inputs that reads the training mode ({@link MethodModes}): its graph read in evaluation
   * checked as another graph, its joins and each of its results of one shape in both modes (else an error on the
   * condition); {@code training} with that graph as its {@link CheckedModel#evaluation()}, or empty after an error.
   */
  private Optional<CheckedModel> methodModes(MethodModes<?> modes, CheckedModel training, ModelIr evaluationGraph,
      List<String> results, String method, boolean partial) {
    Optional<CheckedModel> evaluation = graph(evaluationGraph, partial, results, method);
    if (evaluation.isEmpty() || !joinsAgree(modes.training(), modes.evaluated(), training, evaluation.get())) {
      return Optional.empty();
    }
    List<String> trained = training.ir().inputs() != null && training.ir().isInputsGraph() ? training.ir().inputs().results()
        : training.ir().outputs().results();
    for (int i = 0; i < results.size(); i++) {
      int[] a = training.shapeOf(trained.get(i));
      int[] b = evaluation.get().shapeOf(results.get(i));
      if (!Arrays.equals(a, b)) {
        String output = training.ir().outputs() == null ? "its result" : training.ir().outputs().call(i).replace("(x)", "(...)");
        diagnostics.error(modes.reads().get(0).source(), Message.MODE_METHOD_OUTPUT_SHAPES, method, output,
            Shapes.toString(a), Shapes.toString(b));
        return Optional.empty();
      }
    }
    CheckedModel t = training;
    return Optional.of(new CheckedModel(t.ir(), t.inputShape(), t.stepInputs(), t.stepOutputs(), t.outputs(), t.inputs(),
        evaluation.get()));
  }

  /** Whether each value a condition on the mode joins has one shape in both modes; else an error on the condition. */
  private boolean joinsAgree(List<Modes.Join> trainingJoins, List<Modes.Join> evaluatedJoins, CheckedModel training,
      CheckedModel evaluation) {
    boolean agree = true;
    for (Modes.Join t : trainingJoins) {
      for (Modes.Join e : evaluatedJoins) {
        if (t.sameAs(e) && !Arrays.equals(training.shapeOf(t.value()), evaluation.shapeOf(e.value()))) {
          diagnostics.error(t.where(), Message.MODE_SHAPES, t.name(), Shapes.toString(training.shapeOf(t.value())),
              Shapes.toString(evaluation.shapeOf(e.value())));
          agree = false;
        }
      }
    }
    return agree;
  }

  /**
   * Whether forward read in training and in evaluation ({@link Modes}) give each value a condition on the mode joins one
   * shape in both modes, and return one shape; else an error on the condition (the first one read, for the result).
   */
  private boolean modesAgree(Modes modes, CheckedModel training, CheckedModel evaluation) {
    boolean agree = joinsAgree(modes.training(), modes.evaluated(), training, evaluation);
    int[] returned = training.shapeOf(training.ir().result());
    int[] returnedInEvaluation = evaluation.shapeOf(evaluation.ir().result());
    if (agree && !Arrays.equals(returned, returnedInEvaluation)) {
      diagnostics.error(modes.reads().get(0).source(), Message.MODE_OUTPUT_SHAPES, Shapes.toString(returned),
          Shapes.toString(returnedInEvaluation));
      agree = false;
    }
    return agree;
  }

  /**
   * One method's steps: {@code results} are the values it returns (none when forward only calls
   * the outputs method); {@code method} names the outputs method, null for forward.
   */
  private Optional<CheckedModel> graph(ModelIr ir, boolean partial, List<String> results, String method) {
    return graph(ir, partial, results, method, new HashMap<>());
  }

  /**
   * The shapes of the values of {@code ir}'s steps, read so far (a partial graph, as the reader has it where forward reads a
   * value's size: {@code x.size(1)}), inferred as {@link #check} infers them; a value after an error (reported) has none.
   */
  public Map<String, int[]> shapes(ModelIr ir) {
    Map<String, int[]> shapes = new HashMap<>();
    graph(ir, true, List.of(), null, shapes);
    return shapes;
  }

  /** {@link #graph}, each value's shape put in {@code shapes}. */
  private Optional<CheckedModel> graph(ModelIr ir, boolean partial, List<String> results, String method, Map<String, int[]> shapes) {
    int before = diagnostics.count();
    int[] input = new int[ir.input().length + 1];
    input[0] = -1;
    System.arraycopy(ir.input(), 0, input, 1, ir.input().length);

    Map<String, String> producers = new HashMap<>();
    shapes.put(ir.inputName(), input);
    producers.put(ir.inputName(), "the input " + ir.inputName() + " (@Model input)");
    for (InputsIr.Further f : ir.further()) { // a method of several inputs: each further input a value like x
      shapes.put(f.name(), f.batchShape());
      producers.put(f.name(), f.describe());
    }
    for (TensorIr t : ir.tensors()) { // the model's own tensors: no batch dimension, repeated over it
      shapes.put(t.value(), t.shape());
      producers.put(t.value(), t.field());
    }
    // the inputs an Embedding reads as ids (each then a label tensor): the input, a further input, each
    // mapped to the first Embedding that reads it
    Map<String, String> ids = new HashMap<>();
    List<String> inputNames = new ArrayList<>(List.of(ir.inputName()));
    ir.further().forEach(f -> inputNames.add(f.name()));
    for (StepIr st : ir.steps()) {
      if ((ModelIr.looksUp(st.spec()) || st.spec() instanceof IdOp) && inputNames.contains(st.input())) { // (emb.apply(ids.add(1)))
        ids.putIfAbsent(st.input(), st.layer() != null ? st.layer().path() : st.text());
      }
      if (st.spec() instanceof IdOp op && op.pair() && inputNames.contains(st.inputs().get(1))) { // (users.mul(V).add(items))
        ids.putIfAbsent(st.inputs().get(1), st.text());
      }
      if (st.spec() instanceof IdMove) { // (ids.flip(1); Tensor.where(mask, ids, other): a and b)
        IdMove.operands(st).stream().filter(inputNames::contains).forEach(v -> ids.putIfAbsent(v, st.text()));
      }
      if (scatterIndex(st) >= 0 && inputNames.contains(st.inputs().get(scatterIndex(st)))) { // (h.scatter(1, ids, src))
        ids.putIfAbsent(st.inputs().get(scatterIndex(st)), st.text());
      }
    }
    Set<String> maskOnly = maskOnly(ir.steps());
    Set<String> argmaxIds = argmaxIds(ir.steps());
    Map<String, String> idsViews = new HashMap<>(); // a view of input ids (ids.view(-1, 6, 1)) -> the input: ids too
    List<int[]> ins = new ArrayList<>();
    List<int[]> outs = new ArrayList<>();
    Map<String, Object> sequentialCalls = new HashMap<>(); // value -> the call (its tree) of a Sequential field that made it
    Set<Split> badSplits = new HashSet<>(); // splits whose error is reported (on the split's line, once for all its pieces)
    for (StepIr step : ir.steps()) {
      String label = step.layer() != null ? step.layer().path() : step.text();
      // a layer of a Sequential (a factory's, or a field's) is named by its path, not by the call that applies them all
      boolean inSequential = step.layer() != null && !step.text().startsWith(step.layer().path() + ".")
          && !step.text().startsWith("this." + step.layer().path() + ".");
      // a Sequential field's layer fed by the layer before it is wrong on its own line (the field's
      // initializer), where the fix goes; the first one is fed from forward, so the call is the place
      boolean ownLine = ir.form() == ModelIr.Form.METHOD
          || inSequential && step.source() != null && step.source().tree() == sequentialCalls.get(step.input());
      Source where = step.layer() != null && ownLine ? step.layer().source() : step.source();
      String context = ownLine && ir.form() != ModelIr.Form.METHOD
          ? ", in " + step.text() + " at " + step.source().where() : "";
      int[] in = shapes.get(step.input());
      List<int[]> joined = step.inputs().stream().map(shapes::get).toList();
      if (inSequential && step.source() != null) {
        sequentialCalls.put(step.output(), step.source().tree());
      }
      producers.putIfAbsent(step.output(), inSequential ? step.layer().path() + " " + step.spec() : step.text());
      if (joined.contains(null)) {
        continue; // fed by a step whose error is already reported: its shape is unknown
      }
      if (!constantRowsFit(step, joined, ir, producers, where, label)) {
        continue;
      }
      // ids (an Embedding reads the input) feed Embeddings only, and an Embedding reads nothing but ids
      boolean embedding = ModelIr.looksUp(step.spec());
      if (embedding && !ids.containsKey(step.input()) && !argmaxIds.contains(step.input())) {
        diagnostics.error(where, Message.EMBEDDING_INPUT, label, Shapes.toString(in), producers.get(step.input()),
            String.join(" or ", inputNames));
        continue;
      }
      boolean idArithmetic = step.spec() instanceof IdOp || step.spec() instanceof IdMove; // ids.add(1), ids.flip(1): ids of ids
      if (isView(step) && (ids.containsKey(step.input()) || idsViews.containsKey(step.input()))) {
        idsViews.put(step.output(), idsViews.getOrDefault(step.input(), step.input()));
      }
      if (idArithmetic && (step.spec() instanceof IdMove ? IdMove.operands(step) : step.inputs()).stream()
          .anyMatch(v -> !ids.containsKey(v) && !argmaxIds.contains(v) && !idsViews.containsKey(v))) {
        continue; // integer arithmetic of floats, reported by the reader (the steps after it read no shape: no more errors)
      }
      int[] idsWhere = step.spec() instanceof IdMove m && m.where() ? idsWhereShape(step, joined, producers, where, label) : null;
      if (step.spec() instanceof IdMove m && m.where() && idsWhere == null) {
        continue;
      }
      if (!scatterIndexFits(ir, step, ids, argmaxIds, idsViews, producers, where, label)) {
        continue;
      }
      String argmaxRead = embedding || idArithmetic || isView(step) || step.spec() instanceof Compare ? null // (a mask compared from ids)
          : java.util.stream.IntStream.range(0, floatInputs(step).size()).filter(w -> !readsAsMask(step, w))
              .mapToObj(step.inputs()::get).filter(argmaxIds::contains).findFirst().orElse(null);
      if (argmaxRead != null) {
        diagnostics.error(where, idsMoved(ir, argmaxRead) ? Message.IDS_MOVED_READ
            : idArithmeticOutput(ir, argmaxRead) ? Message.ID_ARITHMETIC_READ : Message.ARGMAX_IDS_READ, label, producers.get(argmaxRead));
        continue;
      }
      String readAsFloats = embedding || idArithmetic || idsViews.containsKey(step.output()) ? null
          : floatReads(step, maskOnly).stream().filter(v -> ids.containsKey(v) || idsViews.containsKey(v)).findFirst().orElse(null);
      if (readAsFloats != null) {
        String viewed = idsViews.getOrDefault(readAsFloats, readAsFloats);
        diagnostics.error(where, Message.IDS_READ_AS_FLOATS, label, viewed, ids.get(viewed));
        continue;
      }
      int[] joinedShape = idsWhere; // an add's or a mul's: the bigger input's, which the other repeats over; a matmul's product
      List<TensorIr> fields = step.inputs().stream().filter(v -> !isBufferIndex(step, v)).map(ir::tensor).filter(t -> t != null).toList();
      boolean withField = (step.spec() instanceof Arithmetic || comparedWithBuffer(step, fields)) && fields.size() == 1;
      boolean byField = step.spec() instanceof MatMul && fields.size() == 1; // x.matmul(w), or w.matmul(x)
      boolean comparedField = step.spec() instanceof Cosine && fields.size() == 1; // cosineSimilarity(h, prototypes)
      boolean whereField = step.spec() instanceof Where && !fields.isEmpty(); // Tensor.where(mask, h, fill): a, b or the mask a field
      boolean parameterFields = step.functional() && ir.tensor(step.input()) == null; // F.conv2d(x, w, b): weight and bias fields
      boolean pairField = step.spec() instanceof PointwisePair && fields.size() == 1; // h.maximum(floor), floor.atan2(h)
      boolean expandedField = step.spec() instanceof ExpandField; // cls.expand(b, -1, -1): the field becomes a value of the batch
      if (!fields.isEmpty() && !withField && !byField && !comparedField && !whereField && !parameterFields && !pairField
          && !expandedField) { // a tensor field fed to a step that does not take one
        TensorIr misused = fields.get(0);
        diagnostics.error(where, Message.TENSOR_MISUSE, label, misused.field(), misused.describe());
        continue;
      }
      if (step.spec() instanceof Scatter write) { // x.scatter(1, ids, src): the source and the index fit x, as eager checks them
        try {
          int index = write.indexInput(), source = write.sourceInput();
          write.checkOperands(in, index < 0 ? null : joined.get(index), source < 0 ? null : joined.get(source));
        } catch (ShapeException e) {
          diagnostics.error(where, Message.SHAPE_MISMATCH, label, e.getMessage(), String.join(" and ", step.inputs().stream()
              .map(producers::get).toList()));
          continue;
        }
        joinedShape = write.op() == Scatter.Op.GATHER ? joined.get(write.indexInput()).clone() : write.outputShape(in); // (a gather: the index's)
      } else if (step.spec() instanceof MaskedFill m && m.byValue()) { // a further input as the mask: x's rank, repeated over x
        String maskValue = step.inputs().get(1);
        try {
          if (Repeat.bigger(in, joined.get(1)) != 0) {
            throw new IllegalArgumentException("the mask would widen the value, which a masked fill keeps as it is");
          }
        } catch (IllegalArgumentException e) {
          diagnostics.error(where, Message.MASK_INPUT_SHAPE, label, Shapes.toString(joined.get(1)), producers.get(maskValue),
              Shapes.toString(in), producers.get(step.input()), e.getMessage());
          continue;
        }
        joinedShape = in.clone();
      } else if (withField) { // x + pos: the field repeats over the batch
        int[] value = ir.tensor(step.input()) == null ? in : joined.get(1);
        TensorIr field = fields.get(0);
        if (!Repeat.overBatch(value, field.shape())) {
          String valueProducer = producers.get(ir.tensor(step.input()) == null ? step.input() : step.inputs().get(1));
          int[] sample = Arrays.copyOfRange(value, 1, value.length);
          int[] withOne = value.clone();
          withOne[0] = 1;
          diagnostics.error(where, Message.FIELD_ADD_SHAPES, label, step.spec(), Shapes.toString(value), valueProducer,
              field.describe(), Shapes.toString(sample), Shapes.toString(withOne));
          continue;
        }
        joinedShape = value.clone();
      } else if (step.spec() instanceof Where) { // Tensor.where(mask, a, b): broadcast, each operand repeated (expanded) over the result
        try {
          List<int[]> values = new ArrayList<>();
          for (int w = 0; w < 3; w++) { // a tensor field repeats over the result's leading dimensions: checked below
            if (ir.tensor(step.inputs().get(w)) == null) {
              values.add(joined.get(w));
            }
          }
          if (values.isEmpty()) { // (of buffers alone it is a tensor field itself, TensorIr.where)
            int[] eager = Shapes.broadcast("where", Shapes.broadcast("where", fields.get(2).shape(), fields.get(0).shape()),
                fields.get(1).shape());
            diagnostics.error(where, Message.WHERE_ONLY_FIELDS, label, fields.get(0).field(), fields.get(1).field(),
                fields.get(2).field(), Shapes.toString(eager), fields.get(2).isParameter() ? fields.get(2).describe()
                    + " as the mask (a mask gets no gradient)" : fields.stream().filter(TensorIr::isParameter).findFirst()
                    .map(t -> t.describe() + " (a slice of a parameter, or a where of one)").orElse("these"));
            continue;
          }
          joinedShape = broadcast(values);
        } catch (IllegalArgumentException e) {
          diagnostics.error(where, Message.WHERE_SHAPES, label, Shapes.toString(in), producers.get(step.input()),
              Shapes.toString(joined.get(1)), producers.get(step.inputs().get(1)), Shapes.toString(joined.get(2)),
              producers.get(step.inputs().get(2)), e.getMessage());
          continue;
        }
        int[] result = joinedShape;
        TensorIr misfit = fields.stream().filter(f -> !broadcastsOver(f.shape(), result)).findFirst().orElse(null);
        if (misfit != null) {
          diagnostics.error(where, Message.WHERE_FIELD_SHAPE, label, misfit.describe(), Shapes.toString(joinedShape));
          continue;
        }
      } else if (step.spec() instanceof Compare && step.inputs().size() == 2) { // x.lt(y): one repeats over the other
        try {
          joinedShape = joined.get(Repeat.bigger(in, joined.get(1))).clone();
        } catch (IllegalArgumentException e) {
          diagnostics.error(where, Message.COMPARE_SHAPES, label, Shapes.toString(in), producers.get(step.input()),
              Shapes.toString(joined.get(1)), producers.get(step.inputs().get(1)), e.getMessage());
          continue;
        }
      } else if (pairField) { // h.maximum(floor): the field expanded over the value, as eager mode expands it
        TensorIr field = fields.get(0);
        joinedShape = joined.get(ir.tensor(step.input()) == null ? 0 : 1).clone();
        if (!broadcastsOver(field.shape(), joinedShape)) {
          diagnostics.error(where, Message.PAIR_FIELD_SHAPE, label, field.describe(), ((PointwisePair) step.spec()).method(),
              Shapes.toString(joinedShape));
          continue;
        }
      } else if (step.spec() instanceof PointwisePair pair) { // a.maximum(b): both broadcast to the result, as eager mode expands them
        try {
          joinedShape = broadcast(List.of(in, joined.get(1)));
        } catch (IllegalArgumentException e) {
          diagnostics.error(where, Message.POINTWISE_SHAPES, label, pair.method(), Shapes.toString(in), producers.get(step.input()),
              Shapes.toString(joined.get(1)), producers.get(step.inputs().get(1)), e.getMessage());
          continue;
        }
      } else if (step.spec() instanceof IdOp op && op.pair()) { // users.mul(V).add(items): both broadcast, as eager's ids
        try {
          joinedShape = broadcast(List.of(in, joined.get(1)));
        } catch (IllegalArgumentException e) {
          diagnostics.error(where, Message.POINTWISE_SHAPES, label, op.valuesMethod() + " of ids", Shapes.toString(in), producers.get(step.input()),
              Shapes.toString(joined.get(1)), producers.get(step.inputs().get(1)), e.getMessage());
          continue;
        }
      } else if (step.spec() instanceof Arithmetic) {
        try {
          joinedShape = joined.get(Repeat.bigger(in, joined.get(1))).clone();
        } catch (IllegalArgumentException e) {
          diagnostics.error(where, Message.ADD_SHAPES, label, step.spec(), Shapes.toString(in), producers.get(step.input()),
              Shapes.toString(joined.get(1)), producers.get(step.inputs().get(1)), e.getMessage());
          continue;
        }
      } else if (byField && ir.tensor(step.input()) != null) { // w @ x: the field's one matrix multiplies each sample's
        TensorIr field = fields.get(0);
        int[] value = joined.get(1);
        try {
          joinedShape = ((MatMul) step.spec()).outputShapeByFieldOnLeft(field.shape(), value);
        } catch (IllegalArgumentException e) {
          diagnostics.error(where, Message.MATMUL_SHAPES, label, Shapes.toString(field.shape()),
              "the " + (field.isParameter() ? "parameter " : "buffer ") + field.field(), Shapes.toString(value),
              producers.get(step.inputs().get(1)), e.getMessage());
          continue;
        }
      } else if (byField) { // x @ w: the field's one matrix multiplies every row
        TensorIr field = fields.get(0);
        try {
          joinedShape = ((MatMul) step.spec()).outputShapeByField(in, field.shape());
        } catch (IllegalArgumentException e) {
          diagnostics.error(where, Message.MATMUL_SHAPES, label, Shapes.toString(in), producers.get(step.input()),
              Shapes.toString(field.shape()), "the " + (field.isParameter() ? "parameter " : "buffer ") + field.field(),
              e.getMessage());
          continue;
        }
      } else if (step.spec() instanceof MatMul m) {
        try {
          joinedShape = m.outputShape(in, joined.get(1));
        } catch (IllegalArgumentException e) { // (a ShapeException, or a product of more than 2^31-1 values per sample)
          diagnostics.error(where, Message.MATMUL_SHAPES, label, Shapes.toString(in), producers.get(step.input()),
              Shapes.toString(joined.get(1)), producers.get(step.inputs().get(1)), e.getMessage());
          continue;
        }
      }
      if (step.spec() instanceof InitialStates.State state && !state.fits(in)) { // h0 of the layer's shape, PyTorch's message
        diagnostics.error(step.source(), Message.STATE_SHAPE, state.call(), state.name(), state.expected(), state.layerText(),
            state.torchShape(in), state.written());
        continue;
      }
      if (step.spec() instanceof Split.Piece piece && !splitFits(piece.split(), in, producers.get(step.input()), badSplits)) {
        continue;
      }
      // what fed the step, for messages: its input, or each value a cat joins
      String from = step.joins() && !step.functional() ? String.join(" and ", step.inputs().stream().map(producers::get).toList())
          : producers.get(step.input()) + context;
      try {
        int[] out = joinedShape != null ? joinedShape : step.spec() instanceof Cat c ? c.outputShape(joined)
            : step.spec() instanceof Cosine c ? c.outputShape(joined)
            : step.spec() instanceof Recurrent.Spec r ? recurrentShape(r, in)
            : step.spec() instanceof LastStates s ? s.withStates(recurrentShape(s.layer(), in))
            : step.spec() instanceof InitialStates s ? fromStates(s, in, joined.get(1)) : step.spec().outputShape(in);
        Shapes.numel(Arrays.copyOfRange(out, 1, out.length)); // one sample's values must fit an array (else an exception below)
        if (out.length < in.length && !(step.spec() instanceof Reduce) && !(step.spec() instanceof IdMove m && m.sum())
            && !(step.spec() instanceof Narrow)
            && !(step.spec() instanceof LineOp) && !(step.spec() instanceof Split.Piece) && !(step.spec() instanceof Cosine)
            // (these drop a dimension after the batch)
            && mergesBatch(in, out)) { // a flatten that takes in dimension 0
          diagnostics.error(where, Message.MERGES_BATCH, label, Shapes.toString(in), mergedShape(in, out));
          continue;
        }
        shapes.put(step.output(), out);
        ins.add(in);
        outs.add(out);
      } catch (ShapeException e) {
        diagnostics.error(where, Message.SHAPE_MISMATCH, label, e.getMessage(), from);
      } catch (IllegalArgumentException e) { // a shape of more than 2^31-1 values per sample
        diagnostics.error(where, Message.SHAPE_MISMATCH, label, e.getMessage(), from);
      }
    }
    for (String r : results) {
      if (constantRows(ir, r) != null) {
        diagnostics.error(ir.source(), Message.CONSTANT_ROWS_USE, method == null ? "forward" : method, producers.get(r),
            Shapes.toString(constantRows(ir, r).eagerShape()), Shapes.toString(shapes.get(r)), "the return", "");
      }
    }
    for (String r : results) {
      if (ir.tensor(r) != null) {
        diagnostics.error(ir.source(), Message.TENSOR_MISUSE, method == null ? "forward" : method, ir.tensor(r).field(),
            ir.tensor(r).describe());
      }
    }
    for (String r : results) {
      if (ir.furtherInput(viewedValue(ir, r)) != null) { // (no step computes it: the generator would have nothing to return)
        diagnostics.error(ir.source(), Message.RETURNS_FURTHER_INPUT, method, viewedValue(ir, r));
      }
    }
    if (!partial) { // each further input feeds a step
      for (InputsIr.Further f : ir.further()) {
        if (ir.steps().stream().noneMatch(st -> st.inputs().contains(f.name()))) {
          diagnostics.error(f.source(), Message.UNUSED_INPUT, f.name(), method);
        }
      }
    }
    if (!partial && !results.isEmpty()) {
      // every value but the results feeds a later step: so the value computed last is returned, as the generator needs
      Set<String> read = new HashSet<>(results);
      ir.steps().forEach(st -> read.addAll(st.inputs()));
      String returned = String.join(", ", results.stream().map(producers::get).toList());
      for (StepIr st : ir.steps()) {
        if (!read.contains(st.output()) && shapes.containsKey(st.output())) { // (not after an error of its own)
          diagnostics.error(st.source() != null ? st.source() : ir.source(), Message.UNUSED_VALUE, producers.get(st.output()),
              method == null ? "forward" : method, returned);
        }
      }
    }
    if (!partial && !results.isEmpty() && diagnostics.count() == before) {
      gradientStops(ir, results, producers);
    }
    return diagnostics.count() > before ? Optional.empty() : Optional.of(new CheckedModel(ir, input, ins, outs, null, null));
  }

  /**
   * A value computed by steps and read only as a mask or compared ({@code h = fc(x); y = x.mul(h.gt(0))}), directly or
   * through steps read so: no gradient reaches those steps (as PyTorch, whose bool masks have none), and the compiled
   * backward runs every step, so it is an error on the line of the first such step.
   */
  private void gradientStops(ModelIr ir, List<String> results, Map<String, String> producers) {
    Set<String> reached = new HashSet<>(results);
    Map<String, String> readBy = new HashMap<>();
    Set<String> argmaxRead = new HashSet<>(); // values an argmax reads: their message says so
    for (int i = ir.steps().size() - 1; i >= 0; i--) {
      StepIr st = ir.steps().get(i);
      for (int w = 0; w < st.inputs().size(); w++) {
        boolean stops = readsAsMask(st, w) || isArgmax(st);
        if (reached.contains(st.output()) && !stops) {
          reached.add(st.inputs().get(w));
        } else {
          readBy.putIfAbsent(st.inputs().get(w), stops ? producers.get(st.output()) : readBy.get(st.output()));
          if (isArgmax(st)) {
            argmaxRead.add(st.inputs().get(w));
          }
        }
      }
    }
    for (StepIr st : ir.steps()) {
      boolean makesIds = isArgmax(st) || st.spec() instanceof IdOp || st.spec() instanceof IdMove; // (ids take no gradient)
      if (!reached.contains(st.output()) && !isView(st) && !(st.spec() instanceof Compare) && !makesIds && ir.tensor(st.output()) == null) {
        diagnostics.error(st.source() != null ? st.source() : ir.source(),
            argmaxRead.contains(st.output()) ? Message.ARGMAX_STOPS_GRADIENT : Message.MASK_STOPS_GRADIENT, producers.get(st.output()),
            readBy.get(st.output()));
        return;
      }
    }
  }

  /**
   * Whether a split cuts its source of shape {@code in} (made by {@code from}); if not, the error is reported on the
   * split's line, once however many of its pieces forward reads ({@code bad} holds the splits reported).
   */
  private boolean splitFits(Split split, int[] in, String from, Set<Split> bad) {
    if (bad.contains(split)) {
      return false;
    }
    try {
      split.lengths(in);
      return true;
    } catch (ShapeException e) {
      diagnostics.error(split.source(), Message.SHAPE_MISMATCH, split.text(), e.getMessage(), from);
      bad.add(split);
      return false;
    }
  }

  /**
   * The values read only as a masked fill's mask or compared ({@code ids.ne(0)}), directly or through views
   * ({@code ids.eq(0).view(-1, 1, 1, S)}): ids may be read so, as an Embedding reads them, never as floats.
   */
  private static Set<String> maskOnly(List<StepIr> steps) {
    Set<String> masks = new HashSet<>();
    Set<String> values = new HashSet<>();
    for (int i = steps.size() - 1; i >= 0; i--) {
      StepIr st = steps.get(i);
      boolean view = isView(st) && masks.contains(st.output()) && !values.contains(st.output());
      for (int w = 0; w < st.inputs().size(); w++) {
        boolean mask = view || readsAsMask(st, w);
        (mask ? masks : values).add(st.inputs().get(w));
      }
    }
    masks.removeAll(values);
    return masks;
  }

  /**
   * Whether a step reading the rows of ids built in forward ({@link ConstantIds}, {@code wpe.apply(pos)}) reads them as
   * eager mode's broadcast does: an add of one value of their batch shape, which repeats eager mode's {@code [S, D]}
   * over its batch; else the error, on the step's line.
   */
  private boolean constantRowsFit(StepIr step, List<int[]> joined, ModelIr ir, Map<String, String> producers, Source where,
      String label) {
    for (int w = 0; w < step.inputs().size(); w++) {
      ConstantIds rows = constantRows(ir, step.inputs().get(w));
      if (rows == null) {
        continue;
      }
      boolean added = step.spec() instanceof Add && step.inputs().size() == 2 && constantRows(ir, step.inputs().get(1 - w)) == null
          && ir.tensor(step.inputs().get(1 - w)) == null && Arrays.equals(joined.get(0), joined.get(1));
      if (!added) {
        String other = step.inputs().size() == 2 && step.spec() instanceof Add
            ? " and " + Shapes.toString(joined.get(1 - w)) + " from " + producers.get(step.inputs().get(1 - w)) : "";
        diagnostics.error(where, Message.CONSTANT_ROWS_USE, label, producers.get(step.inputs().get(w)),
            Shapes.toString(rows.eagerShape()), Shapes.toString(joined.get(w)), step.text(), other);
        return false;
      }
    }
    return true;
  }

  /** The ids built in forward whose rows {@code value} is ({@code wpe.apply(pos)}), or null for any other value. */
  private static ConstantIds constantRows(ModelIr ir, String value) {
    return ir.steps().stream().filter(st -> st.output().equals(value) && st.spec() instanceof ConstantIds).findFirst()
        .map(st -> (ConstantIds) st.spec()).orElse(null);
  }

  /** The values a step reads as floats: not a masked fill's mask or a comparison's input, nor a view of a value read only as one. */
  private static List<String> floatReads(StepIr step, Set<String> maskOnly) {
    if (step.spec() instanceof ConstantIds) { // (the input only places it in the batch)
      return List.of();
    }
    if (isView(step) && maskOnly.contains(step.output()) || step.spec() instanceof Compare) {
      return List.of();
    }
    return step.spec() instanceof MaskedFill m && m.byValue() ? List.of(step.input())
        : step.spec() instanceof Where ? step.inputs().subList(0, 2) : floatInputs(step);
  }

  /** The step's inputs but a write's index ({@code x.scatter(1, ids, src)}: x and src), which is ids. */
  private static List<String> floatInputs(StepIr step) {
    int index = scatterIndex(step);
    return index < 0 ? step.inputs() : step.inputs().subList(0, index);
  }

  /** Whether {@code value} is the buffer of ids an index form reads as its index ({@code x.indexSelect(2, perm)}), at each call. */
  private static boolean isBufferIndex(StepIr step, String value) {
    return step.spec() instanceof Scatter s && s.readsBuffer() && step.inputs().get(s.bufferInput()).equals(value);
  }

  /** The input of a write by index that is its index, ids of the batch ({@code x.scatter(1, ids, src)}: 2); -1 for any other step. */
  private static int scatterIndex(StepIr step) {
    return step.spec() instanceof Scatter s ? s.indexInput() : -1;
  }

  /**
   * Whether a write by index's index (if it reads one) is ids: an input an index or an Embedding reads, an argmax's, argmin's,
   * topk's or argsort's indices, integer arithmetic of those, or views of them; else the error, on the step's line.
   */
  private boolean scatterIndexFits(ModelIr ir, StepIr step, Map<String, String> ids, Set<String> argmaxIds, Map<String, String> idsViews,
      Map<String, String> producers, Source where, String label) {
    int index = scatterIndex(step);
    if (index < 0) {
      return true;
    }
    String value = step.inputs().get(index);
    if (ids.containsKey(value) || argmaxIds.contains(value) || idsViews.containsKey(value)) {
      return true;
    }
    Scatter write = (Scatter) step.spec();
    String what = ir.tensor(value) != null ? " is a tensor field of the model, the same for every sample, not ids of the batch"
        : " is a float value, not ids";
    diagnostics.error(where, Message.SCATTER_INDEX, label, producers.get(value) + what, write.op().method,
        "ids of the batch of the input's rank: a further input of ids (@Input), an argmax's, argmin's, topk's or argsort's indices"
            + " (logits.argmax(1, true)), or views of them");
    return false;
  }

  /** Whether a step reads its input {@code w} as a mask, passing it no gradient: a comparison's, a masked fill's or where's mask. */
  private static boolean readsAsMask(StepIr st, int w) {
    return st.spec() instanceof Compare || st.spec() instanceof MaskedFill m && m.byValue() && w == 1
        || st.spec() instanceof Where && w == 2 || st.spec() instanceof IdMove m && m.where() && w == 2;
  }

  /** Whether {@code st} is an argmax or argmin ({@code logits.argmax(-1)}, {@code dist.argmin(-1)}): ids, no gradient to its input. */
  private static boolean isArgmax(StepIr st) {
    return st.spec() instanceof LineOp l && l.makesIds();
  }

  /**
   * The values an argmax makes ({@code logits.argmax(-1)}), integer arithmetic of ids makes ({@code ids.add(1)}) and views
   * of them: ids, which an Embedding (or more such arithmetic) alone may read.
   */
  private static Set<String> argmaxIds(List<StepIr> steps) {
    Set<String> out = new HashSet<>();
    for (StepIr st : steps) {
      if (isArgmax(st) || st.spec() instanceof IdOp || st.spec() instanceof IdMove || isView(st) && out.contains(st.input())) {
        out.add(st.output());
      }
    }
    return out;
  }

  /** Whether {@code value} is made by integer arithmetic of ids ({@link IdOp}), or a view of such ids. */
  private static boolean idArithmeticOutput(ModelIr ir, String value) {
    String viewed = viewedValue(ir, value);
    return ir.steps().stream().anyMatch(st -> st.output().equals(viewed) && st.spec() instanceof IdOp);
  }

  /**
   * The shape of a where of ids ({@code Tensor.where(ids.eq(3), ids, other)}): its mask, a and b broadcast as eager's where
   * broadcasts them (each of the batch, per dimension one size or 1, {@code [N, 1]} ids repeated over a {@code [N, T]} mask);
   * else null after an error on its line.
   */
  private int[] idsWhereShape(StepIr step, List<int[]> joined, Map<String, String> producers, Source where, String label) {
    try {
      return broadcast(List.of(joined.get(2), joined.get(0), joined.get(1)));
    } catch (IllegalArgumentException e) {
      diagnostics.error(where, Message.UNSUPPORTED_FUNCTION, label + ": a compiled where of ids broadcasts its mask and its two ids,"
          + " each of the batch, but the mask is " + Shapes.toString(joined.get(2)) + " from " + producers.get(step.inputs().get(2))
          + ", a " + Shapes.toString(joined.get(0)) + " from " + producers.get(step.inputs().get(0)) + " and b "
          + Shapes.toString(joined.get(1)) + " from " + producers.get(step.inputs().get(1)) + ": " + e.getMessage()
          + " (view them to fit, or leave out @Model to run it eagerly)");
      return null;
    }
  }

  /** Whether {@code value} is ids moved in forward ({@link IdMove}: {@code ids.flip(1)}), or a view of such ids. */
  private static boolean idsMoved(ModelIr ir, String value) {
    String viewed = viewedValue(ir, value);
    return ir.steps().stream().anyMatch(st -> st.output().equals(viewed) && st.spec() instanceof IdMove);
  }

  private static boolean isView(StepIr st) {
    return st.spec() instanceof Reshape || st.spec() instanceof dev.kiln.dsl.Flatten.Spec;
  }

  /**
   * The value {@code value} views, following reshapes and flattens back (no copy: the generated code reads the
   * viewed value's storage), or {@code value} itself.
   */
  private static String viewedValue(ModelIr ir, String value) {
    for (int i = ir.steps().size() - 1; i >= 0; i--) {
      StepIr st = ir.steps().get(i);
      if (st.output().equals(value) && (st.spec() instanceof Reshape || st.spec() instanceof dev.kiln.dsl.Flatten.Spec)) {
        value = st.input();
      }
    }
    return value;
  }

  /**
   * A recurrent layer's output in a compiled forward, whose dimension 0 is the batch: the layer must read
   * {@code [N, S, in]}, batch first ({@code batchFirst(true)}, PyTorch's {@code batch_first=True}), and
   * makes {@code [N, S, D * H]} (the layer's own rule). A time-first layer would read the batch as the
   * time, and one sequence {@code [T, in]} as a batch of one step each: both are refused.
   */
  /**
   * A recurrent layer's value run from initial states ({@link InitialStates}): its output (with its last states) from
   * {@code in}, the states {@code [N, L (+ L), D * H]} as the reader joined them (checked there, each on its line).
   */
  private static int[] fromStates(InitialStates s, int[] in, int[] states) {
    if (!Arrays.equals(states, s.statesShape())) {
      throw new ShapeException(s + ": the initial states are " + Shapes.toString(states) + ", not " + Shapes.toString(s.statesShape()));
    }
    int[] out = recurrentShape(s.layer(), in);
    return s.run() instanceof LastStates last ? last.withStates(out) : out;
  }

  static int[] recurrentShape(Recurrent.Spec r, int[] in) {
    if (in.length != 3 || in[2] != r.inputSize()) {
      throw new ShapeException(r + " expects [N, S, " + r.inputSize() + "] (a batch of sequences, batch first), receives "
          + Shapes.toString(in));
    }
    if (!r.batchFirst()) {
      throw new ShapeException(r + " reads its input time first ([S, N, " + r.inputSize() + "], PyTorch's default), but a"
          + " compiled model's dimension 0 is the batch (" + Shapes.toString(in) + "): build it with .batchFirst(true), as"
          + " nn." + r.toString().substring(0, r.toString().indexOf('(')) + "(..., batch_first=True)");
    }
    return r.outputShape(in);
  }

  /**
   * Whether a step folded the batch into other dimensions ({@code flatten(x, 0, -1)}: [N, 4] ->
   * [N*4], written [-1]): the per-sample sizes after dimension 0 no longer hold all the values.
   */
  private static boolean mergesBatch(int[] in, int[] out) {
    return out.length == 0
        || Shapes.numel(Arrays.copyOfRange(in, 1, in.length)) != Shapes.numel(Arrays.copyOfRange(out, 1, out.length));
  }

  /**
   * The result of a flatten that merged the batch, with the batch's multiple written out:
   * {@code [N, 2, 3] -> [2N, 3]} for {@code flatten(x, 0, 1)} (the spec writes that dimension -1, "N").
   */
  private static String mergedShape(int[] in, int[] out) {
    if (out.length == 0) {
      return Shapes.toString(out);
    }
    long factor = Shapes.numel(Arrays.copyOfRange(in, 1, in.length)) / Math.max(1, Shapes.numel(Arrays.copyOfRange(out, 1, out.length)));
    StringBuilder b = new StringBuilder("[").append(factor == 1 ? "" : Long.toString(factor)).append('N');
    for (int i = 1; i < out.length; i++) {
      b.append(", ").append(out[i]);
    }
    return b.append(']').toString();
  }

  /**
   * The shape values of one rank, each batch first, broadcast to (PyTorch's rule: per dimension one size, or 1 where it
   * repeats), for {@code Tensor.where}.
   *
   * @throws IllegalArgumentException saying which sizes differ
   */
  private static int[] broadcast(List<int[]> shapes) {
    int[] out = shapes.get(0).clone();
    for (int[] s : shapes) {
      if (s.length != out.length) {
        throw new IllegalArgumentException("their ranks differ, and each starts with the batch dimension, so their dimensions do"
            + " not line up");
      }
      for (int d = 1; d < out.length; d++) {
        if (s[d] != out[d] && s[d] != 1 && out[d] != 1) {
          throw new IllegalArgumentException("sizes " + out[d] + " and " + s[d] + " at dimension " + d + " differ and neither is 1");
        }
        out[d] = Math.max(out[d], s[d]);
      }
    }
    return out;
  }

  /**
   * Whether a tensor field broadcasts over {@code value} without widening it, as a where's operand: lined up at the last
   * dimensions, each of its sizes the value's or 1, none against the batch but a 1 ({@code [1, T, D]}, {@code [T, D]},
   * {@code [T, 1]} or {@code [D]} over {@code [N, T, D]}). Eager mode reads one whose sizes after its leading 1s are the
   * value's last ones as it is, and expands any other first, as the generated code does.
   */
  private static boolean broadcastsOver(int[] field, int[] value) {
    if (field.length > value.length) {
      return false;
    }
    for (int i = 0; i < field.length; i++) {
      int d = value.length - field.length + i;
      if (field[i] != 1 && (d == 0 || field[i] != value[d])) {
        return false;
      }
    }
    return true;
  }

  /**
   * Whether {@code step} compares a value with one buffer ({@code x.lt(threshold)}): the buffer repeats over the batch as
   * an added field does; a comparison has no gradient, so a parameter is not taken there (its gradient would be none).
   */
  private static boolean comparedWithBuffer(StepIr step, List<TensorIr> fields) {
    return step.spec() instanceof Compare && step.inputs().size() == 2 && fields.size() == 1 && !fields.get(0).isParameter();
  }
}
