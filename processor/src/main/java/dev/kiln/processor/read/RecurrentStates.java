package dev.kiln.processor.read;

import com.sun.source.tree.CompilationUnitTree;
import com.sun.source.tree.ExpressionTree;
import com.sun.source.tree.IdentifierTree;
import com.sun.source.tree.MemberSelectTree;
import com.sun.source.tree.MethodInvocationTree;
import com.sun.source.tree.Tree;
import com.sun.source.util.TreePath;
import com.sun.source.util.Trees;
import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.ReLU;
import dev.kiln.dsl.Recurrent;
import dev.kiln.dsl.RecurrentCell;
import dev.kiln.dsl.Sigmoid;
import dev.kiln.dsl.Tanh;
import dev.kiln.processor.Diagnostics;
import dev.kiln.processor.Message;
import dev.kiln.processor.ir.Cat;
import dev.kiln.processor.ir.InitialStates;
import dev.kiln.processor.ir.LastStates;
import dev.kiln.processor.ir.LayerIr;
import dev.kiln.processor.ir.Narrow;
import dev.kiln.processor.ir.Reshape;
import dev.kiln.processor.ir.Source;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.lang.model.element.ExecutableElement;
import javax.lang.model.element.TypeElement;
import javax.lang.model.type.TypeKind;
import javax.lang.model.type.TypeMirror;
import javax.lang.model.util.Types;
import dev.kiln.processor.read.LayerNode.Leaf;

/**
 * A recurrent layer's states in forward, for {@link BodyReader}: its run with its last states
 * ({@code lstm.forwardWithState(x)}) and the parts read of it, and the initial states it takes, zeros
 * ({@code Tensor.zeros(...)}) or values written in forward ({@code proj.apply(f).unsqueeze(0)}).
 */
final class RecurrentStates {
  private final BodyReader steps;
  private final SourceTrees code;
  private final Trees trees;
  private final Types types;
  private final Diagnostics diagnostics;

  RecurrentStates(BodyReader steps, SourceTrees code) {
    this.steps = steps;
    this.code = code;
    this.trees = code.trees;
    this.types = code.types;
    this.diagnostics = code.diagnostics;
  }

  /** What each such local holds, read where it was written ({@link #readStateForm}). */
  final Map<String, HeldState> heldStates = new HashMap<>();

  /** Locals holding a recurrent layer's run with its last states ({@code var o = lstm.forwardWithState(x)}), by name. */
  private final Map<String, States> stateLocals = new HashMap<>();

  // -------------------------------------------------------------- a recurrent layer's last states

  /**
   * Assigns a local the run of a recurrent layer with its last states ({@code var o = lstm.forwardWithState(x)}): the
   * layer runs here, in program order (its dropout draws come where eager mode's do), and the local names its value.
   */
  void assignStates(String local, ExpressionTree call, CompilationUnitTree unit, Map<String, LayerNode> fields,
      String className) {
    MethodInvocationTree mi = (MethodInvocationTree) DeclarationReader.stripped(call);
    States states = isCellStep(mi, unit) ? cellStep(mi, unit, fields, className) : runWithStates(mi, true, unit, fields, className);
    if (states == null) {
      stateLocals.remove(local);
      steps.unknown.add(local);
    } else {
      stateLocals.put(local, states);
      steps.unknown.remove(local);
    }
  }

  /** Whether {@code e} is a recurrent layer's {@code forwardWithState(...)} call. */
  boolean isStatesCall(ExpressionTree e, CompilationUnitTree unit) {
    return DeclarationReader.stripped(e) instanceof MethodInvocationTree call && call.getMethodSelect() instanceof MemberSelectTree ms
        && ms.getIdentifier().contentEquals("forwardWithState")
        && trees.getElement(TreePath.getPath(unit, call)) instanceof ExecutableElement ex
        && types.isSubtype(types.erasure(ex.getEnclosingElement().asType()), types.erasure(code.type(DeclarationReader.RECURRENT)));
  }

  /** Whether {@code e} is {@code o.output()}, {@code o.h()} or {@code o.c()} of a recurrent layer's run with its states. */
  private boolean isStatePart(ExpressionTree e, CompilationUnitTree unit) {
    if (!(DeclarationReader.stripped(e) instanceof MethodInvocationTree call) || !(call.getMethodSelect() instanceof MemberSelectTree ms)
        || !call.getArguments().isEmpty()) {
      return false;
    }
    TypeMirror owner = trees.getTypeMirror(TreePath.getPath(unit, ms.getExpression()));
    return owner != null && owner.getKind() == TypeKind.DECLARED && types.isSameType(owner, code.type(DeclarationReader.RECURRENT + ".Output"))
        && List.of("output", "h", "c").contains(ms.getIdentifier().toString());
  }

  /** Whether {@code e} is {@code o.h()} or {@code o.c()}, a last state whole. */
  private boolean isState(ExpressionTree e, CompilationUnitTree unit) {
    return isStatePart(e, unit) && !((MemberSelectTree) ((MethodInvocationTree) DeclarationReader.stripped(e)).getMethodSelect()).getIdentifier()
        .contentEquals("output");
  }

  /**
   * Whether {@code mi} reads a recurrent layer's run with its states: {@code o.output()}, {@code o.h()}, a Tensor method
   * of {@code o.h()} ({@code o.h().select(0, -1)}), or an F function of it ({@code select(o.h(), 0, -1)}); {@code o} a
   * local or the call itself.
   */
  boolean readsStates(MethodInvocationTree mi, CompilationUnitTree unit) {
    if (isCellStatePart(mi, unit) || isCellStep(mi, unit) && !isLstmCell(mi, unit)) { // s.h(), s.c(); gru.step(x, h)
      return true;
    }
    if (isStatePart(mi, unit) || mi.getMethodSelect() instanceof MemberSelectTree ms && isState(ms.getExpression(), unit)) {
      return true;
    }
    return !mi.getArguments().isEmpty() && isState(mi.getArguments().get(0), unit)
        && trees.getElement(TreePath.getPath(unit, mi)) instanceof ExecutableElement ex
        && ((TypeElement) ex.getEnclosingElement()).getQualifiedName().contentEquals(DeclarationReader.FUNCTIONS);
  }

  /**
   * A read of a recurrent layer's run with its states ({@link #readsStates}): {@code o.output()}, the output sequence,
   * as {@code apply} gives it; {@code o.h().select(0, i)} (or {@code F.select(o.h(), 0, i)}), PyTorch's {@code
   * h_n[i]} {@code [N, H]}, and LSTM's {@code o.c().select(0, i)}, a select of its layer's row of the value and, for a
   * bidirectional layer, a narrow of its direction's columns ({@link LastStates}). Any other use of h_n or c_n is an
   * error saying to select a state. Null after an error.
   */
  String stateRead(MethodInvocationTree mi, CompilationUnitTree unit, Map<String, LayerNode> fields, String className) {
    if (isCellStep(mi, unit)) { // gru.step(x, h): the new h
      States step = cellStep(mi, unit, fields, className);
      return step == null ? null : steps.step(step.value(), step.spec().row(false, 0), null, mi.toString(), code.source(unit, mi));
    }
    if (isCellStatePart(mi, unit)) { // s.h(), s.c() of an LSTMCell's step
      MemberSelectTree part = (MemberSelectTree) mi.getMethodSelect();
      States step = states(part.getExpression(), unit, fields, className);
      return step == null ? null : steps.step(step.value(), step.spec().row(part.getIdentifier().contentEquals("c"), 0), null,
          mi.toString(), code.source(unit, mi));
    }
    MethodInvocationTree part; // o.output(), o.h() or o.c()
    List<? extends ExpressionTree> args; // the select's (dimension, index)
    if (isStatePart(mi, unit)) {
      part = mi;
      args = null;
    } else if (mi.getMethodSelect() instanceof MemberSelectTree ms && isState(ms.getExpression(), unit)) {
      part = (MethodInvocationTree) DeclarationReader.stripped(ms.getExpression());
      args = ms.getIdentifier().contentEquals("select") ? mi.getArguments() : null;
    } else { // an F function of o.h(): select(o.h(), 0, i)
      part = (MethodInvocationTree) DeclarationReader.stripped(mi.getArguments().get(0));
      args = trees.getElement(TreePath.getPath(unit, mi)).getSimpleName().contentEquals("select")
          ? mi.getArguments().subList(1, mi.getArguments().size()) : null;
    }
    MemberSelectTree select = (MemberSelectTree) part.getMethodSelect();
    String which = select.getIdentifier().toString();
    ExpressionTree run = select.getExpression();
    if (which.equals("output") && isStatesCall(run, unit)) { // lstm.forwardWithState(x, h0, c0).output(): lstm.apply(x)
      States output = runWithStates((MethodInvocationTree) DeclarationReader.stripped(run), false, unit, fields, className);
      return output == null ? null : output.value();
    }
    States states = states(run, unit, fields, className);
    if (states == null) {
      return null;
    }
    if (which.equals("output")) {
      return steps.step(states.value(), new LastStates.Sequence(states.spec().stateRows()), null, mi.toString(), code.source(unit, mi));
    }
    boolean cell = which.equals("c");
    String name = cell ? "c_n" : "h_n";
    Recurrent.Spec layer = states.spec().layer();
    if (cell && !layer.mode().equals("LSTM")) {
      diagnostics.error(unit, part, Message.NO_CELL_STATE, part, states.layer().path(), layer);
      return null;
    }
    List<Object> at = args == null || args.size() != 2 ? null : code.constants(args, mi.toString(), "select", unit);
    if (args != null && args.size() == 2 && at == null) {
      return null; // (a dimension or index that is not a constant: reported)
    }
    if (at == null || !Integer.valueOf(0).equals(at.get(0)) || !(at.get(1) instanceof Integer)) {
      diagnostics.error(unit, at == null ? part : mi, Message.WHOLE_STATE, at == null ? part : mi, name, part);
      return null;
    }
    int index = (Integer) at.get(1), count = states.spec().states();
    if (index < -count || index >= count) {
      diagnostics.error(unit, mi, Message.STATE_INDEX, mi, index, name, states.layer().path() + ": " + layer, count, -count, count - 1);
      return null;
    }
    int i = index < 0 ? index + count : index;
    Source where = code.source(unit, mi);
    String row = steps.step(states.value(), states.spec().row(cell, i), null, mi.toString(), where);
    Narrow direction = states.spec().direction(i);
    return direction == null ? row : steps.step(row, direction, null, mi.toString(), where);
  }

  /** The run with its states that {@code e} names: a local ({@code o}) or the call itself; null after an error (reported). */
  private States states(ExpressionTree e, CompilationUnitTree unit, Map<String, LayerNode> fields, String className) {
    e = DeclarationReader.stripped(e);
    if (e instanceof IdentifierTree id) {
      States states = stateLocals.get(id.getName().toString());
      if (states == null && !steps.unknown.contains(id.getName().toString()) && !code.unresolved(unit, e)) {
        diagnostics.error(unit, e, Message.UNKNOWN_VALUE, id.getName(), steps.methodName);
      }
      return states;
    }
    if (isStatesCall(e, unit)) {
      return runWithStates((MethodInvocationTree) e, true, unit, fields, className);
    }
    if (isCellStep(e, unit)) { // lstm.step(x, h, c).h()
      return cellStep((MethodInvocationTree) e, unit, fields, className);
    }
    diagnostics.error(unit, e, Message.UNSUPPORTED_EXPRESSION, steps.methodName, DeclarationReader.describe(e));
    return null;
  }

  /**
   * {@code lstm.forwardWithState(x)}: a step running the layer field with its last states after the output ({@link
   * LastStates}), or, where only the output is read ({@code withStates} false), the layer's own step, as {@code
   * lstm.apply(x)}; null after an error (initial states other than zeros, a layer that is not a field).
   */
  private States runWithStates(MethodInvocationTree call, boolean withStates, CompilationUnitTree unit, Map<String, LayerNode> fields,
      String className) {
    Leaf leaf = receiverLayer(call, Recurrent.Spec.class, unit, fields, className);
    if (leaf == null) {
      return null;
    }
    Recurrent.Spec spec = (Recurrent.Spec) leaf.layer().spec();
    String input = steps.expression(call.getArguments().get(0), unit, fields, className);
    List<? extends ExpressionTree> given = call.getArguments().subList(1, call.getArguments().size());
    if (given.stream().anyMatch(a -> !isZeroState(a, unit))) { // initial states other than zeros
      return runFromStates(call, input, given, withStates, leaf.layer(), spec, unit, fields, className);
    }
    boolean zeros = true;
    for (int i = 1; i < call.getArguments().size(); i++) {
      zeros &= zeroState(call, i == 1 ? "h0" : "c0", call.getArguments().get(i), leaf.layer().path() + ": " + spec, spec, unit);
    }
    if (input == null || !zeros) {
      return null;
    }
    // zero initial states: the layer's own default, the call without them
    if (!withStates) {
      return new States(steps.step(input, spec, leaf.layer(), call.toString(), code.source(unit, call)), null, leaf.layer());
    }
    LastStates states = new LastStates(spec);
    return new States(steps.step(input, states, leaf.layer(), call.toString(), code.source(unit, call)), states, leaf.layer());
  }

  // ------------------------------------------------------ a cell stepped by hand

  /** Whether {@code e} is a cell's step, {@code cell.step(x, h (, c))} of an {@code LSTMCell}, {@code GRUCell} or {@code RNNCell}. */
  boolean isCellStep(ExpressionTree e, CompilationUnitTree unit) {
    return DeclarationReader.stripped(e) instanceof MethodInvocationTree call && call.getMethodSelect() instanceof MemberSelectTree ms
        && ms.getIdentifier().contentEquals("step")
        && trees.getElement(TreePath.getPath(unit, call)) instanceof ExecutableElement ex
        && types.isSubtype(types.erasure(ex.getEnclosingElement().asType()), types.erasure(code.type(CELL)));
  }

  /** Whether cell step {@code call} returns both states ({@code RecurrentCell.State}, an LSTMCell's). */
  boolean isLstmCell(ExpressionTree call, CompilationUnitTree unit) {
    TypeMirror t = trees.getTypeMirror(TreePath.getPath(unit, DeclarationReader.stripped(call)));
    return t != null && t.getKind() == TypeKind.DECLARED && types.isSameType(t, code.type(CELL + ".State"));
  }

  /** Whether {@code e} is {@code s.h()} or {@code s.c()} of an LSTMCell's step. */
  boolean isCellStatePart(ExpressionTree e, CompilationUnitTree unit) {
    if (!(DeclarationReader.stripped(e) instanceof MethodInvocationTree call) || !(call.getMethodSelect() instanceof MemberSelectTree ms)
        || !call.getArguments().isEmpty()) {
      return false;
    }
    TypeMirror owner = trees.getTypeMirror(TreePath.getPath(unit, ms.getExpression()));
    return owner != null && owner.getKind() == TypeKind.DECLARED && types.isSameType(owner, code.type(CELL + ".State"))
        && List.of("h", "c").contains(ms.getIdentifier().toString());
  }

  private static final String CELL = "dev.kiln.dsl.RecurrentCell";

  /** Locals assigned a state of a cell's step ({@code c = s.c()}), read where they are used (never, after the last turn). */
  final Map<String, HeldPart> heldParts = new HashMap<>();

  /**
   * Holds {@code s.h()} or {@code s.c()} of a cell's step in {@code local}: its select is made where the local is read
   * ({@link #readPart}), so a state the last turn leaves unread ({@code c = s.c()}) makes no step, as PyTorch computes it
   * unused.
   */
  void holdCellPart(String local, ExpressionTree part, CompilationUnitTree unit, Map<String, LayerNode> fields, String className) {
    MethodInvocationTree mi = (MethodInvocationTree) DeclarationReader.stripped(part);
    MemberSelectTree select = (MemberSelectTree) mi.getMethodSelect();
    States step = states(select.getExpression(), unit, fields, className);
    steps.assign(local, null);
    if (step != null) {
      steps.unknown.remove(local);
      heldParts.put(local, new HeldPart(step, select.getIdentifier().contentEquals("c"), mi.toString(), code.source(unit, mi)));
    }
  }

  /** The value of a local holding a cell's state ({@link #holdCellPart}): the select of its row, made here, once. */
  String readPart(String local) {
    HeldPart part = heldParts.remove(local);
    String value = steps.step(part.states().value(), part.states().spec().row(part.cell(), 0), null, part.text(), part.where());
    steps.locals.put(local, value);
    return value;
  }

  /** A cell's state held in a local: the step's states, which ({@code c} or h), the read as written and where. */
  record HeldPart(States states, boolean cell, String text, Source where) {}

  /**
   * {@code cell.step(x, h (, c))}: the step the compiled LSTM (GRU, RNN) makes for {@code forwardWithState(x, h0, c0)}
   * over a sequence of one, with the cell's weights: the input {@code [N, in]} viewed {@code [N, 1, in]}, each state
   * {@code [N, H]} read as PyTorch's {@code [1, N, H]} ({@link InitialStates.State}, a zero state left out: the layer's own
   * start), and the last states after the output ({@link LastStates}), whose rows {@code s.h()} and {@code s.c()} select.
   * Each call is a step of the same layer, so the steps share its weights and their gradients add. Null after an error.
   */
  private States cellStep(MethodInvocationTree call, CompilationUnitTree unit, Map<String, LayerNode> fields, String className) {
    Leaf leaf = receiverLayer(call, RecurrentCell.Spec.class, unit, fields, className);
    if (leaf == null) {
      return null;
    }
    RecurrentCell.Spec cell = (RecurrentCell.Spec) leaf.layer().spec();
    String field = leaf.layer().path();
    Recurrent.Spec spec = LayerCatalog.stepOf(cell);
    Source where = code.source(unit, call);
    String x = steps.expression(call.getArguments().get(0), unit, fields, className);
    List<String> states = new ArrayList<>();
    int only = -1;
    boolean read = true;
    List<? extends ExpressionTree> given = call.getArguments().subList(1, call.getArguments().size());
    for (int i = 0; i < given.size(); i++) {
      String name = given.size() == 1 ? "hx" : i == 0 ? "h" : "c";
      ExpressionTree arg = given.get(i);
      if (isCellZero(arg, unit)) {
        read &= cellZero(call, name, arg, cell, unit);
        only = given.size() > 1 ? 1 - i : only;
        continue;
      }
      String value = steps.expression(arg, unit, fields, className);
      states.add(value == null ? null : steps.step(value, new InitialStates.State(call.toString(), name, spec, field + ": " + cell,
          InitialStates.Form.UNSQUEEZE, 1, -1, arg.toString()), null, call.toString(), code.source(unit, arg)));
    }
    if (x == null || !read || states.contains(null)) {
      return null;
    }
    if (states.isEmpty()) { // zero states: the layer's own start
      return fromZeros(x, leaf.layer(), call.toString(), where);
    }
    String input = steps.step(x, new Reshape(List.of(-1, 1, cell.inputSize())), null, call.toString(), where); // [N, 1, in]
    LastStates last = new LastStates(spec);
    String init = states.size() == 1 ? states.get(0) : steps.step(states, new Cat(1), null, call.toString(), where); // h's row, then c's
    return new States(steps.step(List.of(input, init), new InitialStates(last, states.size() == 2 ? -1 : only), leaf.layer(),
        call.toString(), where), last, leaf.layer());
  }

  /**
   * {@code cell.apply(x)}, PyTorch's {@code cell(x)}: the new h of a step from zero states ({@link #cellStep} without
   * them).
   */
  String cellApply(String x, LayerIr layer, String text, Source where) {
    States step = fromZeros(x, layer, text, where);
    return steps.step(step.value(), step.spec().row(false, 0), null, text, where);
  }

  /** A cell's step from zero states over input {@code x} {@code [N, in]}, viewed as a sequence of one. */
  private States fromZeros(String x, LayerIr layer, String text, Source where) {
    RecurrentCell.Spec cell = (RecurrentCell.Spec) layer.spec();
    LastStates last = new LastStates(LayerCatalog.stepOf(cell));
    String input = steps.step(x, new Reshape(List.of(-1, 1, cell.inputSize())), null, text, where); // [N, 1, in]
    return new States(steps.step(input, last, layer, text, where), last, layer);
  }

  /** Whether a cell's state {@code arg} is zeros: {@code null}, {@code Tensor.zeros(...)} or a local holding them. */
  private boolean isCellZero(ExpressionTree arg, CompilationUnitTree unit) {
    ExpressionTree e = DeclarationReader.stripped(arg);
    return e.getKind() == Tree.Kind.NULL_LITERAL || zerosCall(e, unit) != null
        || e instanceof IdentifierTree id && steps.zeroLocals.containsKey(id.getName().toString());
  }

  /** Checks a cell's zero state: {@code (N, H)}, the batch as {@code x.size(0)}; false after an error (reported). */
  private boolean cellZero(MethodInvocationTree call, String name, ExpressionTree arg, RecurrentCell.Spec cell, CompilationUnitTree unit) {
    ExpressionTree given = DeclarationReader.stripped(arg);
    if (given.getKind() == Tree.Kind.NULL_LITERAL) {
      return true;
    }
    ExpressionTree zeros = given instanceof IdentifierTree id ? steps.zeroLocals.get(id.getName().toString()) : given;
    MethodInvocationTree mi = zerosCall(zeros, unit);
    List<? extends ExpressionTree> sizes = zerosSizes(mi, unit);
    if (sizes.size() == 2 && steps.isBatchSize(sizes.get(0), unit) && Integer.valueOf(cell.hiddenSize()).equals(code.foldOrNull(sizes.get(1), unit))) {
      return true;
    }
    diagnostics.error(unit, arg, Message.CELL_STATE_SHAPE, call, name, cell.hiddenSize(), cell, zeros == given ? mi.toString() : given + " = " + zeros);
    return false;
  }

  /** The layer field {@code call} is made on, its spec a {@code specType}; null after an error (reported, or a broken field's). */
  private Leaf receiverLayer(MethodInvocationTree call, Class<?> specType, CompilationUnitTree unit, Map<String, LayerNode> fields,
      String className) {
    ExpressionTree receiver = ((MemberSelectTree) call.getMethodSelect()).getExpression();
    String field = DeclarationReader.fieldName(receiver);
    LayerNode node = field == null ? null : fields.get(field);
    if (node instanceof Leaf leaf && specType.isInstance(leaf.layer().spec())) {
      return leaf;
    }
    if (!steps.broken.contains(field) && !code.unresolved(unit, receiver)) {
      diagnostics.error(unit, receiver, Message.NOT_A_LAYER, receiver, className);
    }
    return null;
  }

  /** The sizes {@code Tensor.zeros(...)} call {@code mi} is given, without a device first ({@code Tensor.zeros(x.device(), ...)}). */
  private List<? extends ExpressionTree> zerosSizes(MethodInvocationTree mi, CompilationUnitTree unit) {
    ExecutableElement ex = (ExecutableElement) trees.getElement(TreePath.getPath(unit, mi));
    List<? extends ExpressionTree> sizes = mi.getArguments();
    return !ex.getParameters().isEmpty() && !ex.getParameters().get(0).asType().getKind().isPrimitive()
        && ex.getParameters().get(0).asType().getKind() != TypeKind.ARRAY ? sizes.subList(1, sizes.size()) : sizes;
  }

  // ------------------------------------------------------ a recurrent layer's initial states of zeros

  /**
   * Checks initial state {@code arg} ({@code name}, h0 or c0) of {@code call}: zeros ({@code Tensor.zeros(L * D,
   * x.size(0), H)}, written there or held in a local, or null) of the layer's shape, which compile as the call without
   * it (the layer's own default, bit for bit: eager's kernels start from zero arrays either way). Anything else is an
   * error on its line; false after one (reported).
   */
  private boolean zeroState(MethodInvocationTree call, String name, ExpressionTree arg, String layer, Recurrent.Spec spec,
      CompilationUnitTree unit) {
    ExpressionTree given = DeclarationReader.stripped(arg);
    if (given.getKind() == Tree.Kind.NULL_LITERAL) {
      return true; // null: zeros, as eager mode reads it
    }
    if (given instanceof IdentifierTree id && steps.unknown.contains(id.getName().toString())) {
      return false;
    }
    ExpressionTree zeros = given instanceof IdentifierTree id ? steps.zeroLocals.get(id.getName().toString()) : given;
    MethodInvocationTree mi = zeros == null ? null : zerosCall(zeros, unit);
    ExpressionTree receiver = ((MemberSelectTree) call.getMethodSelect()).getExpression();
    if (mi == null) {
      diagnostics.error(unit, arg, Message.INITIAL_STATES, call, arg, receiver);
      return false;
    }
    List<? extends ExpressionTree> sizes = zerosSizes(mi, unit);
    int layers = spec.numLayers() * spec.directions();
    String expected = "(" + layers + ", N, " + spec.hiddenSize() + ")";
    List<String> shape = new ArrayList<>();
    boolean fits = sizes.size() == 3;
    for (int i = 0; i < sizes.size(); i++) {
      ExpressionTree size = sizes.get(i);
      Object folded = code.foldOrNull(size, unit);
      boolean batch = folded == null && steps.isBatchSize(size, unit);
      shape.add(batch ? "N" : folded != null ? folded.toString() : size.toString());
      if (i == 1 && fits && folded instanceof Integer) {
        String input = DeclarationReader.stripped(call.getArguments().get(0)) instanceof IdentifierTree x ? x.getName().toString() : steps.inputName;
        diagnostics.error(unit, size, Message.STATE_BATCH, call, name, folded, input, layers, spec.hiddenSize());
        return false;
      }
      fits &= i == 1 ? batch : Integer.valueOf(i == 0 ? layers : spec.hiddenSize()).equals(folded);
    }
    if (!fits) {
      String written = zeros == given ? mi.toString() : given + " = " + zeros;
      diagnostics.error(unit, arg, Message.STATE_SHAPE, call, name, expected, layer, "(" + String.join(", ", shape) + ")", written);
    }
    return fits;
  }

  // ------------------------------------------------------ a recurrent layer's initial states other than zeros

  /** The element-wise Tensor methods an initial state may be written inside ({@code h.tanh()}), applied to the state read. */
  private static final Set<String> STATE_MAPS = Set.of("tanh", "relu", "sigmoid");

  /** Whether initial state {@code arg} is zeros as {@link #zeroState} reads them ({@code null}, {@code Tensor.zeros}, a local of them). */
  private boolean isZeroState(ExpressionTree arg, CompilationUnitTree unit) {
    ExpressionTree e = DeclarationReader.stripped(arg);
    return e.getKind() == Tree.Kind.NULL_LITERAL || zerosCall(e, unit) != null
        || e instanceof IdentifierTree id && (steps.zeroLocals.containsKey(id.getName().toString()) || steps.unknown.contains(id.getName().toString()));
  }

  /**
   * Whether {@code e} is written as an initial state other than zeros, PyTorch's {@code [L * D, N, H]}: a run's last
   * states whole ({@code enc.h()}), a value of {@code [N, H]} unsqueezed or viewed to {@code [1, N, H]} ({@code
   * proj.apply(f).view(1, -1, H)}), element-wise methods of those ({@code .tanh()}), or a local
   * holding one; a local initialised so is held and read where a layer takes it ({@link #stateValue}).
   */
  boolean isStateForm(ExpressionTree e, CompilationUnitTree unit) {
    e = DeclarationReader.stripped(e);
    if (e instanceof IdentifierTree id) {
      return heldStates.containsKey(id.getName().toString());
    }
    if (isState(e, unit)) {
      return true;
    }
    if (!(e instanceof MethodInvocationTree mi) || !(mi.getMethodSelect() instanceof MemberSelectTree ms) || !steps.isTensorMethod(mi, unit, false)) {
      return false;
    }
    String name = ms.getIdentifier().toString();
    List<? extends ExpressionTree> args = mi.getArguments();
    return STATE_MAPS.contains(name) && args.isEmpty() ? isStateForm(ms.getExpression(), unit)
        : name.equals("unsqueeze") ? args.size() == 1 && Integer.valueOf(0).equals(code.foldOrNull(args.get(0), unit))
        : name.equals("transpose") ? layersView(mi, unit) != null
        : (name.equals("view") || name.equals("reshape")) && args.size() == 3 && Integer.valueOf(1).equals(code.foldOrNull(args.get(0), unit));
  }

  /**
   * The view of {@code t} when {@code t} is a state of several layers built by hand, {@code v.view(N, L * D, H).transpose(0,
   * 1)} (or {@code reshape}, the batch as {@code -1}, {@code x.size(0)} or an {@code int} local): PyTorch's {@code [L * D, N,
   * H]}, each sample's {@code [L * D, H]} in order, as the value holding states has them; else null.
   */
  private MethodInvocationTree layersView(MethodInvocationTree t, CompilationUnitTree unit) {
    List<? extends ExpressionTree> args = t.getArguments();
    if (args.size() != 2 || !(code.foldOrNull(args.get(0), unit) instanceof Integer a) || !(code.foldOrNull(args.get(1), unit) instanceof Integer b)
        || !(a == 0 && b == 1 || a == 1 && b == 0) || !steps.isTensorMethod(t, unit, false)) {
      return null;
    }
    ExpressionTree inner = DeclarationReader.stripped(((MemberSelectTree) t.getMethodSelect()).getExpression());
    return inner instanceof MethodInvocationTree v && v.getMethodSelect() instanceof MemberSelectTree vs
        && (vs.getIdentifier().contentEquals("view") || vs.getIdentifier().contentEquals("reshape")) && v.getArguments().size() == 3
        && steps.isTensorMethod(v, unit, false) ? v : null;
  }

  /**
   * {@code layer.forwardWithState(x, h0 (, c0))} from initial states other than zeros: each state read ({@link
   * #stateValue}, {@code [N, L, D * H]}), LSTM's two joined ({@code [N, 2 L, D * H]}), and a step of the layer reading
   * the input and them ({@link InitialStates}); an LSTM's state given as zeros beside the other ({@code
   * lstm.forwardWithState(x, enc.h(), Tensor.zeros(...))}, checked as {@link #zeroState}) is left out of the value,
   * starting at zero ({@link InitialStates#only}). Null after an error (reported).
   */
  private States runFromStates(MethodInvocationTree call, String input, List<? extends ExpressionTree> given, boolean withStates,
      LayerIr layer, Recurrent.Spec spec, CompilationUnitTree unit, Map<String, LayerNode> fields, String className) {
    List<String> states = new ArrayList<>();
    int only = -1;
    boolean read = true;
    for (int i = 0; i < given.size(); i++) { // (each read, each error reported)
      String name = i == 0 ? "h0" : "c0", layerText = layer.path() + ": " + spec;
      if (given.size() > 1 && isZeroState(given.get(i), unit)) { // zeros beside the other state: the layer's own start
        read &= zeroState(call, name, given.get(i), layerText, spec, unit);
        only = 1 - i;
      } else {
        states.add(stateValue(call, name, given.get(i), layerText, spec, unit, fields, className));
      }
    }
    if (input == null || !read || states.contains(null)) {
      return null;
    }
    Source where = code.source(unit, call);
    String init = states.size() == 1 ? states.get(0) : steps.step(states, new Cat(1), null, call.toString(), where); // h0's rows, then c0's
    LastStates last = withStates ? new LastStates(spec) : null;
    String value = steps.step(List.of(input, init), new InitialStates(withStates ? last : spec, only), layer, call.toString(), where);
    return new States(value, last, layer);
  }

  /**
   * Initial state {@code arg} ({@code name}, h0 or c0) of {@code call}, other than zeros, as the value {@code [N, L, D *
   * H]} the layer reads (each sample's PyTorch {@code [L * D, H]} rows in order): the state read ({@link
   * #readStateForm}, or the one a local holds), viewed for the layer ({@link InitialStates.State}, which the shape
   * checker holds to the layer's shape). Anything else is an error on its line; null after one (reported).
   */
  private String stateValue(MethodInvocationTree call, String name, ExpressionTree arg, String layerText, Recurrent.Spec spec,
      CompilationUnitTree unit, Map<String, LayerNode> fields, String className) {
    ExpressionTree receiver = ((MemberSelectTree) call.getMethodSelect()).getExpression();
    if (!isStateForm(arg, unit)) {
      if (!(DeclarationReader.stripped(arg) instanceof IdentifierTree id && steps.unknown.contains(id.getName().toString()))) {
        diagnostics.error(unit, arg, Message.INITIAL_STATES, call, arg, receiver);
      }
      return null;
    }
    HeldState held = readStateForm(arg, unit, fields, className);
    if (held == null) {
      return null;
    }
    if (held.batch() != null) { // view(1, n, H): the batch as -1 or x.size(0), never a constant
      Object n = code.foldOrNull(held.batch(), unit);
      if (n instanceof Integer c && c != -1) {
        String x = DeclarationReader.stripped(call.getArguments().get(0)) instanceof IdentifierTree id ? id.getName().toString() : steps.inputName;
        diagnostics.error(unit, held.batch(), Message.STATE_BATCH, call, name, c, x, spec.numLayers() * spec.directions(),
            spec.hiddenSize());
        return null;
      }
      if (n == null && !steps.isBatchSize(held.batch(), unit)) {
        diagnostics.error(unit, arg, Message.INITIAL_STATES, call, arg, receiver);
        return null;
      }
    }
    return steps.step(held.value(), new InitialStates.State(call.toString(), name, spec, layerText, held.form(), held.count(), held.hidden(),
        held.written()), null, call.toString(), code.source(unit, arg));
  }

  /**
   * The state written as {@code e} ({@link #isStateForm}), read here, once: a run's last states whole ({@code enc.h()},
   * {@code enc.c()}: a narrow of its value's state rows), or the value {@code [N, H]} a view or unsqueeze reads (run
   * here, in program order), the element-wise methods around it applied to that value (the same values as of the
   * state); a local names what was read where it was written. Null after an error (reported).
   */
  private HeldState readStateForm(ExpressionTree e, CompilationUnitTree unit, Map<String, LayerNode> fields, String className) {
    e = DeclarationReader.stripped(e);
    if (e instanceof IdentifierTree id) {
      HeldState held = heldStates.get(id.getName().toString());
      return held == null ? null : new HeldState(held.value(), held.form(), held.count(), held.hidden(), held.batch(),
          id.getName() + " = " + held.written());
    }
    MethodInvocationTree mi = (MethodInvocationTree) e;
    MemberSelectTree select = (MemberSelectTree) mi.getMethodSelect();
    String method = select.getIdentifier().toString();
    Source where = code.source(unit, e);
    if (STATE_MAPS.contains(method)) { // tanh of a state: of the value it views (element-wise, the same values), once
      HeldState inner = readStateForm(select.getExpression(), unit, fields, className);
      if (inner == null) {
        return null;
      }
      LayerSpec map = switch (method) {
        case "tanh" -> new Tanh.Spec();
        case "relu" -> new ReLU.Spec();
        default -> new Sigmoid.Spec();
      };
      return new HeldState(steps.step(inner.value(), map, null, e.toString(), where), inner.form(), inner.count(), inner.hidden(),
          inner.batch(), e.toString());
    }
    if (isState(e, unit)) { // enc.h(): the rows of the run's h_n (or c_n)
      States run = states(select.getExpression(), unit, fields, className);
      if (run == null) {
        return null;
      }
      boolean cell = method.equals("c");
      if (cell && !run.spec().layer().mode().equals("LSTM")) {
        diagnostics.error(unit, e, Message.NO_CELL_STATE, e, run.layer().path(), run.spec().layer());
        return null;
      }
      int layers = run.spec().layer().numLayers();
      String value = steps.step(run.value(), new Narrow(1, -run.spec().stateRows() + (cell ? layers : 0), layers, false), null, e.toString(),
          where);
      return new HeldState(value, InitialStates.Form.LAST, run.spec().states(), -1, null, e.toString());
    }
    MethodInvocationTree layers = method.equals("transpose") ? layersView(mi, unit) : null; // v.view(N, L, H).transpose(0, 1)
    if (layers != null) {
      mi = layers;
      select = (MemberSelectTree) mi.getMethodSelect();
    }
    boolean view = !method.equals("unsqueeze"); // v.unsqueeze(0), v.view(1, -1, H)
    int hidden = -1, count = 1;
    if (view) {
      hidden = constantSize(mi.getArguments().get(2), "a hidden size", unit);
      count = layers == null ? 1 : constantSize(mi.getArguments().get(1), "a number of layers", unit);
      if (hidden < 0 || count < 0) {
        return null;
      }
    }
    String value = steps.expression(select.getExpression(), unit, fields, className);
    return value == null ? null : new HeldState(value, view ? InitialStates.Form.VIEW : InitialStates.Form.UNSQUEEZE, count, hidden,
        view ? mi.getArguments().get(layers == null ? 1 : 0) : null, e.toString());
  }

  /** The constant size {@code e} of a state's view ({@code what}, for the message), or -1 after an error (reported). */
  private int constantSize(ExpressionTree e, String what, CompilationUnitTree unit) {
    if (code.foldOrNull(e, unit) instanceof Integer size) {
      return size;
    }
    diagnostics.error(unit, e, Message.UNSUPPORTED_EXPRESSION, steps.methodName, what + " that is not a constant, " + e);
    return -1;
  }

  // ------------------------------------------------------ a recurrent layer's zero initial states

  /**
   * Holds {@code state} (an initial state as written, {@link #isStateForm}) in {@code local}: read here ({@link
   * #readStateForm}), viewed where a layer takes it.
   */
  void holdStateForm(String local, ExpressionTree state, CompilationUnitTree unit, Map<String, LayerNode> fields,
      String className) {
    HeldState held = readStateForm(state, unit, fields, className);
    steps.locals.remove(local);
    steps.zeroLocals.remove(local);
    steps.stateForms.put(local, state);
    if (held == null) {
      heldStates.remove(local);
      steps.unknown.add(local);
    } else {
      heldStates.put(local, held);
      steps.unknown.remove(local);
    }
  }

  /** Holds {@code zeros} ({@code Tensor.zeros(...)}, read when a layer takes it as an initial state) in {@code local}. */
  void holdZeros(String local, ExpressionTree zeros) {
    steps.locals.remove(local);
    steps.unknown.remove(local);
    steps.stateForms.remove(local);
    heldStates.remove(local);
    steps.zeroLocals.put(local, zeros);
  }

  /**
   * The {@code Tensor.zeros(...)} call of {@code e}, also moved to a device ({@code Tensor.zeros(...).to(x.device())},
   * as eager mode wants it on CUDA); null if {@code e} is not one.
   */
  MethodInvocationTree zerosCall(ExpressionTree e, CompilationUnitTree unit) {
    e = DeclarationReader.stripped(e);
    if (e instanceof MethodInvocationTree to && to.getMethodSelect() instanceof MemberSelectTree ms
        && ms.getIdentifier().contentEquals("to") && to.getArguments().size() == 1 && steps.isTensorMethod(to, unit, false)) {
      e = DeclarationReader.stripped(ms.getExpression());
    }
    return e instanceof MethodInvocationTree mi && steps.isTensorMethod(mi, unit, true)
        && trees.getElement(TreePath.getPath(unit, mi)).getSimpleName().contentEquals("zeros") ? mi : null;
  }


  /** A recurrent layer's run with its last states in forward: its value ({@link LastStates}), spec and layer. */
  record States(String value, LastStates spec, LayerIr layer) {}

  /**
   * An initial state written in forward, read ({@code BodyReader.readStateForm}): the value it views, how it
   * reads as PyTorch's state ({@link InitialStates.Form}, {@code count} its dimension 0, {@code hidden} a view's last
   * size or -1), a view's batch size as written (checked at the layer's call), and the state as written, for messages.
   */
  record HeldState(String value, InitialStates.Form form, int count, int hidden, ExpressionTree batch, String written) {}
}
