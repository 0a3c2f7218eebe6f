package dev.kiln.processor.read;

import com.sun.source.tree.ArrayAccessTree;
import com.sun.source.tree.AssignmentTree;
import com.sun.source.tree.BlockTree;
import com.sun.source.tree.BreakTree;
import com.sun.source.tree.ConditionalExpressionTree;
import com.sun.source.tree.ContinueTree;
import com.sun.source.tree.DoWhileLoopTree;
import com.sun.source.tree.EnhancedForLoopTree;
import com.sun.source.tree.ForLoopTree;
import com.sun.source.tree.CompilationUnitTree;
import com.sun.source.tree.ExpressionStatementTree;
import com.sun.source.tree.ExpressionTree;
import com.sun.source.tree.IdentifierTree;
import com.sun.source.tree.IfTree;
import com.sun.source.tree.MemberSelectTree;
import com.sun.source.tree.MethodInvocationTree;
import com.sun.source.tree.NewArrayTree;
import com.sun.source.tree.NewClassTree;
import com.sun.source.tree.ParenthesizedTree;
import com.sun.source.tree.ReturnTree;
import com.sun.source.tree.StatementTree;
import com.sun.source.tree.Tree;
import com.sun.source.tree.VariableTree;
import com.sun.source.tree.WhileLoopTree;
import com.sun.source.util.TreePath;
import com.sun.source.util.Trees;
import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.EmbeddingBag;
import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.Model;
import dev.kiln.processor.Diagnostics;
import dev.kiln.processor.Message;
import dev.kiln.processor.ir.Pointwise;
import dev.kiln.processor.ir.InputsIr;
import dev.kiln.processor.ir.LayerIr;
import dev.kiln.processor.ir.IdOp;
import dev.kiln.processor.ir.Source;
import dev.kiln.processor.ir.Split;
import dev.kiln.processor.ir.StepIr;
import dev.kiln.processor.ir.TensorIr;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.lang.model.element.Element;
import javax.lang.model.element.ElementKind;
import javax.lang.model.element.ExecutableElement;
import javax.lang.model.element.Modifier;
import javax.lang.model.element.TypeElement;
import javax.lang.model.element.VariableElement;
import javax.lang.model.type.TypeKind;
import javax.lang.model.util.Elements;
import javax.lang.model.util.Types;
import dev.kiln.processor.read.LayerNode.Leaf;
import dev.kiln.processor.read.LayerNode.Seq;
import dev.kiln.processor.read.LayerNode.Blk;
import dev.kiln.processor.read.LayerNode.Att;

/**
 * Reads a method's body into steps ({@link DeclarationReader}'s pass over {@code forward}, an outputs method, a
 * method of several inputs, or a block's forward inlined): its statements, locals and expressions, each call
 * handed to the reader of its concern (masks, buffers, functions, ids, splits, modules, loops, sizes, the
 * training mode, recurrent states), which write their steps through this one. {@code last} is the returned value.
 */
final class BodyReader implements StatementReader, ValueReader {
  final DeclarationReader reader;
  private final SourceTrees code;
  private final Trees trees;
  private final Types types;
  private final Diagnostics diagnostics;
  private final ConstantFolder folder;
  final RecurrentStates stateReader;
  final MaskReader maskReader;
  final BufferReader bufferReader;
  final FunctionCalls functionCalls;
  final IdsReader idsReader;
  final ScatterReader scatterReader;
  final SplitReader splitReader;
  final ModuleCalls moduleCalls;
  final LoopUnroller loops;
  final SizeReader sizeReader;
  final ModeConditions modeConditions;

  /** The steps, shared with the BodyReader of the blocks inlined into them. */
  final List<StepIr> list;
  final Map<String, String> locals = new HashMap<>();
  /** The {@code List<Tensor>} locals built by {@code add} ({@code Tensor.cat(xs, 1)}, {@code for (Tensor t : xs)}). */
  final TensorLists tensorLists;
  /** Layer fields whose declaration had an error (already reported): their uses stay silent. */
  final Set<String> broken = new HashSet<>();
  /** Locals whose value is unknown after an error: their uses stay silent. */
  final Set<String> unknown = new HashSet<>();
  /** The method being read ({@code forward}, or the outputs method), for messages. */
  final String methodName;
  /** The @Model class whose methods are read (null for a factory method): its own fields are layers, a base class's are not. */
  TypeElement modelType;
  /** The model's tensor fields, read as forward uses them (null for a factory method). */
  TensorFieldReader tensors;
  /** The model's outputs method, which forward may call only as its whole body; null if none. */
  ExecutableElement outputsMethod;
  /** How forward calls it, for the message: {@code forwardWithHidden(x).output()}. */
  String outputsCall;
  String last;
  /** The returned outputs (outputs method only), null where a value is unknown. */
  List<String> results;
  /** The further inputs (the method of several inputs only): values a masked fill may take as its mask. */
  final Set<String> furtherInputs = new HashSet<>();
  /** Whether these are a block's or a method's steps inlined into another's list (resolved with the whole graph). */
  private boolean inlined;
  /** The error of each {@link IdOp} step of constant ids ({@code x.add(pos)}) should its other operand be floats. */
  final Map<String, Runnable> errorsOfFloats;
  /** The first input's value ({@code x}, {@code ids}). */
  final String inputName;
  int counter;
  /** Locals holding zeros for a recurrent layer's initial states ({@code Tensor h0 = Tensor.zeros(...)}), by name: their values as written. */
  final Map<String, ExpressionTree> zeroLocals = new HashMap<>();
  /**
   * Locals written as initial states other than zeros ({@code Tensor h0 = proj.apply(f).unsqueeze(0)}, {@link
   * #isStateForm}), by name: their values as written, read where a layer takes them (or, read otherwise, there).
   */
  final Map<String, ExpressionTree> stateForms = new HashMap<>();
  /** {@code int} locals holding the batch size ({@code int n = x.size(0)}), which zero initial states may name. */
  private final Set<String> batchLocals = new HashSet<>();
  /** Locals that hold a split's pieces ({@code Tensor[] qkv = x.split(D, 2);}), by name. */
  final Map<String, Pieces> pieces = new HashMap<>();
  /** The splits read so far: each one's id. */
  int splits;
  /** What ended the statements just read, besides a return: a {@code break} or {@code continue} of the loop unrolled; else null. */
  Tree.Kind jump;
  /** The training mode forward is read in ({@link ModeReading}), null where a condition on it does not compile. */
  DeclarationReader.ModeReading mode;
  /** Whose mode {@code isTraining()} reads here: {@code ""} for the model, a block's path in its inlined forward. */
  String modeOwner = "";
  /** The further inputs of the method of several inputs (none elsewhere), for the shapes {@link #sizes} infers. */
  List<InputsIr.Further> further = List.of();
  /** The shapes of the values read so far, for the sizes read of them ({@code x.size(1)}); made when first needed. */
  ValueSizes sizes;
  /** The layer fields and class of the body being read ({@link #readBody}): an expression read only for its size needs them. */
  Map<String, LayerNode> bodyFields;
  String bodyClass;

  /** A split's source value, the split, and the steps of the pieces read so far, by index. */
  record Pieces(String value, Split split, Map<Integer, String> read) {}

  BodyReader(DeclarationReader reader, String method, String inputName) {
    this(reader, method, inputName, new ArrayList<>(), new HashMap<>());
    locals.put(inputName, inputName);
  }

  private BodyReader(DeclarationReader reader, String method, String inputName, List<StepIr> list,
      Map<String, Runnable> errorsOfFloats) {
    this.reader = reader;
    this.code = reader.code;
    this.trees = reader.trees;
    this.types = reader.types;
    this.diagnostics = reader.diagnostics;
    this.folder = code.folder;
    this.list = list;
    this.errorsOfFloats = errorsOfFloats;
    this.methodName = method;
    this.inputName = inputName;
    this.stateReader = new RecurrentStates(this, code);
    this.maskReader = new MaskReader(this, code);
    this.bufferReader = new BufferReader(this, code);
    this.functionCalls = new FunctionCalls(this, code);
    this.idsReader = new IdsReader(this, code);
    this.scatterReader = new ScatterReader(this, code);
    this.splitReader = new SplitReader(this, pieces, () -> ++splits, method, code);
    this.moduleCalls = new ModuleCalls(this, reader);
    this.loops = new LoopUnroller(this, method, broken, trees, diagnostics, folder);
    this.sizeReader = new SizeReader(this, reader);
    this.modeConditions = new ModeConditions(this, loops, reader);
    this.tensorLists = new TensorLists(trees, diagnostics, method);
  }

  /**
   * The steps of a block's forward inlined into {@code outer}'s: the same step list and numbering, its parameter
   * {@code parameter} holding {@code input}, locals and masks of its own.
   */
  BodyReader(BodyReader outer, String method, Map<String, String> inputs) {
    this(outer.reader, method, outer.inputName, outer.list, outer.errorsOfFloats);
    this.inlined = true;
    this.counter = outer.counter;
    this.splits = outer.splits;
    this.mode = outer.mode;
    this.modeOwner = outer.modeOwner;
    this.sizes = outer.sizeReader.sizes();
    furtherInputs.addAll(outer.furtherInputs);
    locals.putAll(inputs);
  }

  /** Takes up the step numbering where the inner steps (a block's or a method's, inlined) left it; their value. */
  String resume(BodyReader inner) {
    counter = inner.counter;
    splits = inner.splits;
    if (inner.last != null) {
      last = inner.last;
    }
    return inner.last;
  }

  @Override
  public Tree.Kind jump() {
    return jump;
  }

  @Override
  public void clearJump() {
    jump = null;
  }

  /**
   * Reads a body of local assignments and one return: of one tensor ({@code returned} null), or
   * of several, as {@code returned} writes them ({@code new Outputs(...)}, {@code new Tensor[] {...}}).
   */
  void readBody(BlockTree body, CompilationUnitTree unit, Map<String, LayerNode> fields, String className, String returned) {
    var outerCalls = folder.knownCalls(call -> modeConditions.modeCall(call, unit, fields)); // isTraining(): this module's mode, as read
    var outerSizes = folder.sizes(sizeReader::valueSize); // x.size(1): a size of a value read here, from its inferred shape
    var outerFields = bodyFields;
    var outerClass = bodyClass;
    bodyFields = fields;
    bodyClass = className;
    boolean ended;
    try {
      ended = readStatements(body.getStatements(), unit, fields, className, returned, false);
    } finally {
      folder.knownCalls(outerCalls);
      folder.sizes(outerSizes);
      bodyFields = outerFields;
      bodyClass = outerClass;
    }
    if (!inlined) {
      idsReader.resolveIdArithmetic();
    }
    if (ended) {
      return;
    }
    if (returned == null) {
      diagnostics.error(unit, body, Message.NO_RETURN);
    } else {
      diagnostics.error(unit, body, Message.NO_OUTPUTS_RETURN, methodName, returned);
    }
  }

  /**
   * Tensor's factories of random values of a shape written out, which a compiled forward does not draw (those of a value's
   * shape, {@code Tensor.randnLike(x)}, it does).
   */
  private static final java.util.Set<String> RANDOM_FACTORIES = java.util.Set.of("randn", "rand", "uniform");

  /** Reads statements in order; true when a return ended them (outside a loop: a return in a loop is an error). */
  @Override
  public boolean readStatements(List<? extends StatementTree> statements, CompilationUnitTree unit, Map<String, LayerNode> fields,
      String className, String returned, boolean inLoop) {
    for (StatementTree s : statements) {
      if (splitReader.piecesStatement(s, unit, fields, className)) {
        continue; // Tensor[] qkv = x.split(D, 2); or a misuse of such pieces, reported
      } else if (s instanceof VariableTree v && tensorLists.declares(v, unit)) {
        continue; // List<Tensor> xs = new ArrayList<>(): the values added to it, in order
      } else if (s instanceof ExpressionStatementTree es && tensorLists.adds(es, unit, e -> expression(e, unit, fields, className))) {
        continue; // xs.add(relu(conv.apply(x))): PyTorch's list comprehension, one value at each unrolled turn
      } else if (s instanceof EnhancedForLoopTree || s instanceof ForLoopTree || s instanceof WhileLoopTree
          || s instanceof DoWhileLoopTree) {
        if (loops.unroll(s, unit, fields, className, returned)) { // for (Block b : h), for (int i = 0; i < h.size(); i++), while (i < N)
          return true; // a return inside it ended forward
        }
      } else if (inLoop && (s instanceof BreakTree b && b.getLabel() == null || s instanceof ContinueTree c && c.getLabel() == null)) {
        jump = s.getKind(); // the rest of this turn is never run: the loop reading it stops, or takes its next turn
        return true;
      } else if (s instanceof ExpressionStatementTree es && loops.counter(es.getExpression(), unit) != null) {
        loops.count(es.getExpression(), loops.counter(es.getExpression(), unit), unit, fields); // i++, i += 2, i = 0
      } else if (s instanceof IfTree branch && reader.readsMode(branch.getCondition(), unit)) {
        if (modeConditions.modeBranch(branch, unit, fields, className, returned, inLoop)) {
          return true; // a return in the branch this mode takes ended the method
        }
      } else if (s instanceof IfTree branch && loops.foldHereOrNull(branch.getCondition(), unit, fields) instanceof Boolean taken) {
        // if (i == EXIT) in an unrolled loop; nanoGPT's if (flash) of a block's constant field: the branch taken, read alone
        StatementTree chosen = taken ? branch.getThenStatement() : branch.getElseStatement();
        if (chosen != null && readStatements(loops.body(chosen), unit, fields, className, returned, inLoop)) {
          return true; // if (i == EXIT) return x; at the unrolled index that returns; if (upsample != 0) of a block's constant
        }
      } else if (s instanceof VariableTree v && trees.getElement(TreePath.getPath(unit, v)) instanceof VariableElement e
          && e.getConstantValue() != null) {
        continue; // final int d = 1: a constant, which the folder reads where it is used
      } else if (s instanceof VariableTree v && trees.getElement(TreePath.getPath(unit, v)) instanceof VariableElement e
          && e.asType().getKind() == TypeKind.INT && v.getInitializer() != null && isBatchSize(v.getInitializer(), unit)) {
        batchLocals.add(v.getName().toString()); // int n = x.size(0): the batch, which zero initial states may name
        folder.define(e, ConstantFolder.BATCH);
      } else if (s instanceof VariableTree v && modeConditions.modeLocal(v, unit, fields)) {
        continue; // final boolean t = isTraining(): a constant in each mode forward is read in
      } else if (s instanceof VariableTree v && sizeReader.shapeLocal(v, unit)) {
        continue; // int[] s = x.shape(): its sizes after the batch fold where it is indexed (s[1])
      } else if (s instanceof VariableTree v && trees.getElement(TreePath.getPath(unit, v)) instanceof VariableElement e
          && e.asType().getKind().isPrimitive()) {
        Object folded = v.getInitializer() != null ? loops.foldHereOrNull(v.getInitializer(), unit, fields) : null;
        if (folded != null && e.getModifiers().contains(Modifier.FINAL)) { // final double scale = 1 / Math.sqrt(D): a constant to Kiln, though not to javac
          folder.define(e, folded);
          continue;
        }
        if (folded instanceof Integer && e.asType().getKind() == TypeKind.INT) { // int i = 0: a counter, its value followed
          folder.define(e, folded);
          loops.counters.add(e);
          continue;
        }
        if (!loops.foldReported(v.getInitializer(), unit, fields)) { // (else the size it reads had an error, reported)
          diagnostics.error(unit, v, Message.NON_TENSOR_LOCAL, v.getName(), methodName, v.getName());
        }
        unknown.add(v.getName().toString());
      } else if (s instanceof VariableTree v && v.getInitializer() != null && v.getInitializer().getKind() == Tree.Kind.NULL_LITERAL) {
        assign(v.getName().toString(), null); // Tensor output = null: declared, assigned by a later statement (a loop's turn)
        unknown.remove(v.getName().toString());
      } else if (s instanceof VariableTree v && v.getInitializer() != null && stateReader.isCellStatePart(v.getInitializer(), unit)) {
        stateReader.holdCellPart(v.getName().toString(), v.getInitializer(), unit, fields, className); // Tensor h = s.h(): read where used
      } else if (s instanceof ExpressionStatementTree es && es.getExpression() instanceof AssignmentTree a
          && a.getVariable() instanceof IdentifierTree target && stateReader.isCellStatePart(a.getExpression(), unit)) {
        stateReader.holdCellPart(target.getName().toString(), a.getExpression(), unit, fields, className); // c = s.c()
      } else if (s instanceof VariableTree v && v.getInitializer() != null && idsReader.isConstantIds(v.getInitializer(), unit)) {
        idsReader.holdIds(v.getName().toString(), v.getInitializer(), unit); // Tensor pos = Tensor.labels(IntStream.range(0, S).toArray())
      } else if (s instanceof VariableTree v && v.getInitializer() != null && (stateReader.isStatesCall(v.getInitializer(), unit)
          || stateReader.isCellStep(v.getInitializer(), unit) && stateReader.isLstmCell(v.getInitializer(), unit))) {
        stateReader.assignStates(v.getName().toString(), v.getInitializer(), unit, fields, className); // var o = lstm.forwardWithState(x)
      } else if (s instanceof VariableTree v && v.getInitializer() != null && stateReader.isStateForm(v.getInitializer(), unit)
          && !maskReader.isMask(v.getInitializer(), unit)) {
        stateReader.holdStateForm(v.getName().toString(), v.getInitializer(), unit, fields, className); // Tensor h0 = proj.apply(f).view(1, -1, H): read where a layer takes it
      } else if (s instanceof VariableTree v && v.getInitializer() != null && stateReader.zerosCall(v.getInitializer(), unit) != null) {
        stateReader.holdZeros(v.getName().toString(), v.getInitializer()); // Tensor h0 = Tensor.zeros(L * D, x.size(0), H)
      } else if (s instanceof ExpressionStatementTree es && es.getExpression() instanceof AssignmentTree a
          && a.getVariable() instanceof IdentifierTree target && stateReader.zerosCall(a.getExpression(), unit) != null) {
        stateReader.holdZeros(target.getName().toString(), a.getExpression());
      } else if (s instanceof VariableTree v && v.getInitializer() != null && maskReader.isMask(v.getInitializer(), unit)) {
        maskReader.defineMask(v.getName().toString(), v.getInitializer(), v, unit, fields, className);
      } else if (s instanceof VariableTree v && v.getInitializer() != null && moduleCalls.isAttentionRun(v.getInitializer(), fields)) {
        moduleCalls.holdAttentionRun(v.getName().toString(), v.getInitializer(), unit, fields, className); // var o = mha.forward(q, k, v)
      } else if (s instanceof VariableTree v && v.getInitializer() != null) {
        assign(v.getName().toString(), expression(v.getInitializer(), unit, fields, className));
      } else if (s instanceof VariableTree) {
        continue; // Tensor h; declared, assigned by a later statement (javac checks it is before a use)
      } else if (s instanceof ExpressionStatementTree es && es.getExpression() instanceof AssignmentTree a
          && a.getVariable() instanceof IdentifierTree target && (stateReader.isStatesCall(a.getExpression(), unit)
          || stateReader.isCellStep(a.getExpression(), unit) && stateReader.isLstmCell(a.getExpression(), unit))) {
        stateReader.assignStates(target.getName().toString(), a.getExpression(), unit, fields, className);
      } else if (s instanceof ExpressionStatementTree es && es.getExpression() instanceof AssignmentTree a
          && a.getVariable() instanceof IdentifierTree target && maskReader.maskAssignment(target, a, es, unit, fields, className)) {
        continue; // a mask's one assignment, or an error
      } else if (s instanceof ExpressionStatementTree es && es.getExpression() instanceof AssignmentTree a
          && a.getVariable() instanceof IdentifierTree target) {
        assign(target.getName().toString(), expression(a.getExpression(), unit, fields, className));
      } else if (s instanceof ReturnTree r && r.getExpression() != null && returned == null) {
        last = expression(r.getExpression(), unit, fields, className);
        maskReader.reportUnusedMasks(unit);
        return true;
      } else if (s instanceof ReturnTree r && r.getExpression() != null) {
        readResults(r.getExpression(), unit, fields, className, returned);
        maskReader.reportUnusedMasks(unit);
        return true;
      } else {
        diagnostics.error(unit, s, Message.UNSUPPORTED_STATEMENT, methodName, DeclarationReader.describe(s));
      }
    }
    return false;
  }

  /** {@code new Outputs(a, fc2.apply(a))} or {@code new Tensor[] {a, b}}: one value per output. */
  private void readResults(ExpressionTree e, CompilationUnitTree unit, Map<String, LayerNode> fields, String className, String returned) {
    while (e instanceof ParenthesizedTree p) {
      e = p.getExpression();
    }
    List<? extends ExpressionTree> args = e instanceof NewClassTree nc && nc.getClassBody() == null ? nc.getArguments()
        : e instanceof NewArrayTree na && na.getInitializers() != null ? na.getInitializers()
        : null;
    if (args == null) {
      diagnostics.error(unit, e, Message.NO_OUTPUTS_RETURN, methodName, returned);
      return;
    }
    results = new ArrayList<>();
    for (ExpressionTree a : args) {
      results.add(expression(a, unit, fields, className));
    }
  }

  @Override
  public List<String> tensorList(ExpressionTree listed, CompilationUnitTree unit) {
    return tensorLists.isList(listed) ? tensorLists.values(listed, unit, "the loop over it") : null;
  }

  @Override
  public List<String> splitPieces(ExpressionTree listed, CompilationUnitTree unit, Map<String, LayerNode> fields, String className) {
    return splitReader.splitCall(listed, unit) == null ? null : splitReader.loopPieces(splitReader.splitCall(listed, unit), unit, fields,
        className, value -> sizeReader.sizes().shapeOf(value));
  }

  @Override
  public void assign(String local, String value) {
    idsReader.idsLocals.remove(local);
    zeroLocals.remove(local);
    stateForms.remove(local);
    stateReader.heldStates.remove(local);
    stateReader.heldParts.remove(local);
    if (value == null) {
      locals.remove(local);
      unknown.add(local);
    } else {
      locals.put(local, value);
      unknown.remove(local);
    }
  }

  @Override
  public String expression(ExpressionTree e, CompilationUnitTree unit, Map<String, LayerNode> fields, String className) {
    if (e instanceof ParenthesizedTree p) {
      return expression(p.getExpression(), unit, fields, className);
    }
    if (e instanceof ConditionalExpressionTree c && reader.readsMode(c.getCondition(), unit)) { // isTraining() ? a : b
      return modeConditions.modeChoice(c, unit, fields, className);
    }
    if (e instanceof IdentifierTree id && maskReader.masks.containsKey(id.getName().toString())) { // keep.sum(1, true): a 0/1 value
      MaskReader.Mask value = maskReader.maskAsValue(e, unit, fields, className);
      return value == null ? null : value.value();
    }
    if (e instanceof IdentifierTree id && stateForms.containsKey(id.getName().toString())) { // read as a value: as written
      return expression(stateForms.get(id.getName().toString()), unit, fields, className);
    }
    if (idsReader.isConstantIds(e, unit)) { // pos.add(1), x.add(pos): ids built in forward, which only an Embedding reads
      idsReader.idsReadOtherwise(e, unit);
      return null;
    }
    if (e instanceof IdentifierTree id && stateReader.heldParts.containsKey(id.getName().toString())) { // c of c = s.c()
      return stateReader.readPart(id.getName().toString());
    }
    if (e instanceof IdentifierTree id && zeroLocals.containsKey(id.getName().toString())) {
      diagnostics.error(unit, e, Message.ZEROS_AS_VALUE, id.getName(), zeroLocals.get(id.getName().toString()), methodName);
      return null;
    }
    if (e instanceof IdentifierTree id) {
      String value = locals.get(id.getName().toString());
      if (value == null && !unknown.contains(id.getName().toString()) && !code.unresolved(unit, e)) {
        Element element = trees.getElement(TreePath.getPath(unit, e));
        if (element instanceof VariableElement v && v.getKind() == ElementKind.FIELD && types.isAssignable(v.asType(), code.type(DeclarationReader.MODULE))) {
          diagnostics.error(unit, e, Message.LAYER_AS_VALUE, id.getName(), methodName, id.getName());
        } else if (element instanceof VariableElement v && isTensorField(v)) {
          return tensorField(v, e, unit, className);
        } else {
          diagnostics.error(unit, e, Message.UNKNOWN_VALUE, id.getName(), methodName);
        }
      }
      return value;
    }
    if (outputsMethod != null && functionCalls.callsOutputs(e, unit)) {
      diagnostics.error(unit, e, Message.FORWARD_CALLS_OUTPUTS, outputsMethod.getSimpleName(), outputsCall);
      return null;
    }
    if (e instanceof ArrayAccessTree aa && (pieces.containsKey(SplitReader.arrayName(aa)) || splitReader.brokenPieces.contains(SplitReader.arrayName(aa))
        || splitReader.splitCall(aa.getExpression(), unit) != null)) { // qkv[0], x.chunk(2, -1)[1]
      return splitReader.piece(aa, unit, fields, className);
    }
    if (e instanceof NewClassTree nc && !code.unresolved(unit, nc)
        && types.isAssignable(trees.getTypeMirror(TreePath.getPath(unit, nc)), code.type(DeclarationReader.MODULE))) {
      diagnostics.error(unit, e, Message.LAYER_IN_FORWARD, methodName, nc, nc.getIdentifier());
      return null;
    }
    if (e instanceof MemberSelectTree ms && ms.getExpression() instanceof IdentifierTree self && self.getName().contentEquals("this")
        && trees.getElement(TreePath.getPath(unit, e)) instanceof VariableElement v && isTensorField(v)) { // this.pos
      return tensorField(v, e, unit, className);
    }
    if (!(e instanceof MethodInvocationTree mi)) {
      diagnostics.error(unit, e, Message.UNSUPPORTED_EXPRESSION, methodName, DeclarationReader.describe(e));
      return null;
    }
    if (stateReader.readsStates(mi, unit)) { // o.output(), o.h().select(0, -1), lstm.forwardWithState(x).h().select(0, -1)
      return stateReader.stateRead(mi, unit, fields, className);
    }
    if (maskReader.isMask(mi, unit)) { // h.mul(keep.unsqueeze(-1)): a mask as a 0/1 value
      MaskReader.Mask value = maskReader.maskAsValue(mi, unit, fields, className);
      return value == null ? null : value.value();
    }
    if (bufferReader.bufferCall(mi, unit) != null) { // bias.narrow(2, 0, T): a buffer sliced or viewed, computed when the buffer changes
      return bufferReader.derivedCall(mi, unit, fields, className);
    }
    if (bufferReader.fieldCall(mi, unit, true) != null) { // pos.narrow(1, 0, T): a parameter sliced or viewed, read in place
      return bufferReader.regionCall(mi, unit, fields, className);
    }
    if (mi.getMethodSelect() instanceof MemberSelectTree bagCall && bagCall.getIdentifier().contentEquals("forward")
        && mi.getArguments().size() > 1 && DeclarationReader.fieldName(bagCall.getExpression()) != null
        && fields.get(DeclarationReader.fieldName(bagCall.getExpression())) instanceof Leaf bag && bag.layer().spec() instanceof EmbeddingBag.Spec) {
      diagnostics.error(unit, mi, Message.BAG_OFFSETS, mi, bagCall.getExpression()); // bag.forward(text, offsets)
      return null;
    }
    if (moduleCalls.readsAttentionRun(mi, unit)) { // o.output(), o.weights() of var o = mha.forward(q, k, v)
      return moduleCalls.attentionRunValue(mi, unit);
    }
    if (moduleCalls.attentionCall(mi, fields) != null) { // mha.forward(x, x, x, null, false, null).output(), enc.forward(x, null, null)
      return moduleCalls.attentionForward(mi, moduleCalls.attentionCall(mi, fields), unit, fields, className);
    }
    // fc1.apply(x) / this.fc1.forward(x)
    if (mi.getMethodSelect() instanceof MemberSelectTree ms
        && (ms.getIdentifier().contentEquals("apply") || ms.getIdentifier().contentEquals("forward"))
        && mi.getArguments().size() == 1) {
      if (moduleCalls.listGet(ms.getExpression(), fields) != null) { // h.get(i).apply(x): a ModuleList's module at a constant index
        LayerNode element = moduleCalls.listElement((MethodInvocationTree) DeclarationReader.stripped(ms.getExpression()), unit, fields);
        String input = element == null ? null : expression(mi.getArguments().get(0), unit, fields, className);
        return input == null ? null : moduleCalls.applyNode(element, input, mi, code.source(unit, mi), ms.getExpression().toString());
      }
      String field = DeclarationReader.fieldName(ms.getExpression());
      LayerNode node = field == null ? null : fields.get(field);
      if (node == null && broken.contains(field)) {
        return null;
      }
      if (node == null && ms.getExpression() instanceof NewClassTree nc) {
        diagnostics.error(unit, nc, Message.LAYER_IN_FORWARD, methodName, nc, nc.getIdentifier());
        return null;
      }
      Element receiver = node == null ? trees.getElement(TreePath.getPath(unit, ms.getExpression())) : null;
      if (modelType != null && receiver instanceof VariableElement v && v.getKind() == ElementKind.FIELD
          && !v.getModifiers().contains(Modifier.STATIC) && v.getEnclosingElement() instanceof TypeElement owner
          && !owner.equals(modelType) && types.isSubtype(types.erasure(modelType.asType()), types.erasure(owner.asType()))) {
        diagnostics.error(unit, ms.getExpression(), Message.INHERITED_LAYER, ms.getExpression(),
            v.getEnclosingElement().getSimpleName(), className);
        return null;
      }
      if (node == null) {
        if (ms.getExpression() instanceof IdentifierTree self
            && (self.getName().contentEquals("super") || self.getName().contentEquals("this"))) {
          diagnostics.error(unit, mi, Message.SELF_CALL, mi, methodName);
        } else if (receiver instanceof VariableElement v && v.getKind() == ElementKind.FIELD && v.getModifiers().contains(Modifier.STATIC)) {
          diagnostics.error(unit, ms.getExpression(), Message.STATIC_LAYER, ms.getExpression());
        } else if (receiver instanceof VariableElement v && v.getKind() == ElementKind.LOCAL_VARIABLE) {
          diagnostics.error(unit, ms.getExpression(), Message.LOCAL_LAYER, ms.getExpression());
        } else if (!code.unresolved(unit, ms.getExpression())) {
          diagnostics.error(unit, ms.getExpression(), Message.NOT_A_LAYER, ms.getExpression(), className);
        }
        return null;
      }
      if (node instanceof Leaf leaf && leaf.layer().spec() instanceof Embedding.Spec embedding
          && idsReader.isConstantIds(mi.getArguments().get(0), unit)) { // wpe.apply(pos): GPT-2's positions' rows
        return idsReader.lookUpConstantIds(leaf.layer(), embedding, mi, unit);
      }
      if (node instanceof Leaf leaf && leaf.layer().spec() instanceof Embedding.Spec embedding
          && code.trees.getElement(TreePath.getPath(unit, mi.getArguments().get(0))) instanceof VariableElement v
          && isTensorField(v)) { // wpe.apply(positionIds): a buffer's rows, its ids read at each call
        return idsReader.lookUpBuffer(leaf.layer(), embedding, mi, v, unit, className);
      }
      String input = expression(mi.getArguments().get(0), unit, fields, className);
      if (input == null) {
        return null;
      }
      return moduleCalls.applyNode(node, input, mi, code.source(unit, mi), ms.getExpression().toString());
    }
    Element method = trees.getElement(TreePath.getPath(unit, mi));
    if (method instanceof ExecutableElement own && moduleCalls.isOwnMethod(own)) { // attention(h): the model's (or block's) own method
      return moduleCalls.inlineMethod(mi, own, unit, fields, className);
    }
    if (method instanceof ExecutableElement ex
        && ((TypeElement) ex.getEnclosingElement()).getQualifiedName().contentEquals(DeclarationReader.FUNCTIONS)) {
      return functionCalls.function(mi, ex.getSimpleName().toString(), mi.getArguments(), unit, fields, className);
    }
    if (method instanceof ExecutableElement ex && ex.getSimpleName().contentEquals("cat")
        && ((TypeElement) ex.getEnclosingElement()).getQualifiedName().contentEquals(DeclarationReader.TENSOR)
        && ex.getModifiers().contains(Modifier.STATIC)) {
      return functionCalls.cat(mi, unit, fields, className);
    }
    if (method instanceof ExecutableElement ex && ex.getSimpleName().contentEquals("where")
        && ((TypeElement) ex.getEnclosingElement()).getQualifiedName().contentEquals(DeclarationReader.TENSOR)
        && ex.getModifiers().contains(Modifier.STATIC)) {
      return maskReader.where(mi, unit, fields, className);
    }
    if (method instanceof ExecutableElement ex && ex.getModifiers().contains(Modifier.STATIC) && mi.getArguments().size() == 1
        && ((TypeElement) ex.getEnclosingElement()).getQualifiedName().contentEquals(DeclarationReader.TENSOR)
        && Pointwise.isRandom(ex.getSimpleName().toString())) { // eps = Tensor.randnLike(std): eager's draw of std's shape
      return functionCalls.function(mi, ex.getSimpleName().toString(), mi.getArguments(), unit, fields, className);
    }
    if (functionCalls.extremaIndices(mi, method, unit) != null) { // logits.max(-1).indices(): an argmax; topk(k, -1), sort(-1)'s too
      MethodInvocationTree extrema = functionCalls.extremaIndices(mi, method, unit);
      List<ExpressionTree> args = new ArrayList<>();
      args.add(((MemberSelectTree) extrema.getMethodSelect()).getExpression());
      args.addAll(extrema.getArguments());
      String name = switch (((MemberSelectTree) extrema.getMethodSelect()).getIdentifier().toString()) {
        case "max" -> "argmax";
        case "min" -> "argmin";
        case "sort" -> "argsort";
        default -> "topk";
      };
      return functionCalls.function(mi, name, args, unit, fields, className);
    }
    if (idsReader.withConstantIds(mi, method, unit) != null) { // ids.mul(2).add(pos): ids with ids built in forward
      return idsReader.idsWithConstantIds(mi, idsReader.withConstantIds(mi, method, unit), unit, fields, className);
    }
    if (idsReader.idArithmetic(method) != null) { // ids.add(1), ids.remainder(V): of ids, or of floats (resolveIdArithmetic)
      return idsReader.idArithmeticStep(mi, idsReader.idArithmetic(method), unit, fields, className);
    }
    if (idsReader.idPairCall(method, mi) != null) { // ids.floorDivide(other): of two values, ids both (resolveIdArithmetic)
      return idsReader.idPairStep(mi, idsReader.idPairCall(method, mi), unit, fields, className);
    }
    if ((IdsReader.onDeviceOf(mi) || mi.getArguments().isEmpty() && mi.getMethodSelect() instanceof MemberSelectTree c
        && c.getIdentifier().contentEquals("contiguous")) && isTensorMethod(mi, unit, false)) {
      // pos.to(x.device()): a compiled forward's values and fields share its device; y.contiguous(): Kiln's tensors all are
      return expression(((MemberSelectTree) mi.getMethodSelect()).getExpression(), unit, fields, className);
    }
    if (FunctionCalls.isSqueeze(mi, method)) { // pooled.squeeze(1), h.unsqueeze(-1): views of a value
      return functionCalls.squeeze(mi, unit, fields, className);
    }
    if (FunctionCalls.isExpand(mi, method)) { // cls.expand(b, -1, -1): a tensor field repeated over the batch
      return functionCalls.expand(mi, unit, fields, className);
    }
    if (method instanceof ExecutableElement ex && mi.getMethodSelect() instanceof MemberSelectTree ms
        && ((TypeElement) ex.getEnclosingElement()).getQualifiedName().contentEquals(DeclarationReader.TENSOR)
        && !ex.getModifiers().contains(Modifier.STATIC) && functionCalls.asFunction(ex, mi, unit)) {
      // h.add(x).relu(), q.matmul(k.transpose(-2, -1)): the F function, the receiver first
      List<ExpressionTree> args = new ArrayList<>();
      args.add(ms.getExpression());
      args.addAll(mi.getArguments());
      return functionCalls.function(mi, FunctionCalls.functionName(ex), args, unit, fields, className);
    }
    if (ScatterReader.write(method) != null) { // h.scatter(1, ids, src), h.indexAdd(2, Tensor.labels(0, 2), src): writes by index
      return scatterReader.write(mi, ScatterReader.write(method), unit, fields, className);
    }
    if (method instanceof ExecutableElement ex && mi.getMethodSelect() instanceof MemberSelectTree ms
        && ((TypeElement) ex.getEnclosingElement()).getQualifiedName().contentEquals(DeclarationReader.TENSOR)) {
      // a Tensor method with no compiled form (x.floor(), x.scatter(...)): named, with eager mode as the way out
      String name = ms.getIdentifier().toString();
      if (RANDOM_FACTORIES.contains(name)) { // a VAE's eps = torch.randn_like(std): the noise as a further input
        diagnostics.error(unit, e, Message.RANDOM_IN_FORWARD, methodName, name, mi);
      } else {
        diagnostics.error(unit, e, Message.EAGER_ONLY_TENSOR_METHOD, methodName, name, mi);
      }
      return null;
    }
    if (!code.unresolved(unit, mi) && !ofBroken(mi)) { // else a misspelt method, which javac reports itself
      diagnostics.error(unit, e, Message.UNSUPPORTED_EXPRESSION, methodName, "call " + mi.getMethodSelect());
    }
    return null;
  }

  /** Whether {@code mi} calls a method of Tensor, static ({@code Tensor.zeros}) or not. */
  boolean isTensorMethod(MethodInvocationTree mi, CompilationUnitTree unit, boolean isStatic) {
    return trees.getElement(TreePath.getPath(unit, mi)) instanceof ExecutableElement ex
        && ((TypeElement) ex.getEnclosingElement()).getQualifiedName().contentEquals(DeclarationReader.TENSOR)
        && ex.getModifiers().contains(Modifier.STATIC) == isStatic;
  }

  /**
   * Whether {@code mi} calls a method of a layer field whose declaration had an error or of a local whose value is unknown
   * after one ({@code lstm1.step(x, h, c)} of a refused {@code LSTMCell}, {@code s1.h()} of its result): reported already.
   */
  private boolean ofBroken(MethodInvocationTree mi) {
    return mi.getMethodSelect() instanceof MemberSelectTree ms && DeclarationReader.stripped(ms.getExpression()) instanceof IdentifierTree id
        && (broken.contains(id.getName().toString()) || unknown.contains(id.getName().toString()));
  }

  /**
   * Whether {@code e} is the batch size: {@code x.size(0)} or {@code x.shape()[0]} of the input or a local (every
   * compiled value holds the batch in dimension 0), or an {@code int} local holding one ({@code int n = x.size(0)}).
   */
  boolean isBatchSize(ExpressionTree e, CompilationUnitTree unit) {
    e = DeclarationReader.stripped(e);
    if (e instanceof IdentifierTree id) {
      return batchLocals.contains(id.getName().toString());
    }
    if (folder.readsBatch(e, unit)) { // x.size(-3) of [N, T, C], s[0] of int[] s = x.shape()
      return true;
    }
    ExpressionTree of;
    if (e instanceof MethodInvocationTree mi && mi.getMethodSelect() instanceof MemberSelectTree ms
        && ms.getIdentifier().contentEquals("size") && mi.getArguments().size() == 1 && isTensorMethod(mi, unit, false)) {
      of = ms.getExpression();
      if (!Integer.valueOf(0).equals(code.foldOrNull(mi.getArguments().get(0), unit))) {
        return false;
      }
    } else if (e instanceof ArrayAccessTree at && DeclarationReader.stripped(at.getExpression()) instanceof MethodInvocationTree mi
        && mi.getMethodSelect() instanceof MemberSelectTree ms && ms.getIdentifier().contentEquals("shape")
        && mi.getArguments().isEmpty() && isTensorMethod(mi, unit, false)) {
      of = ms.getExpression();
      if (!Integer.valueOf(0).equals(code.foldOrNull(at.getIndex(), unit))) {
        return false;
      }
    } else {
      return false;
    }
    return DeclarationReader.stripped(of) instanceof IdentifierTree id && locals.containsKey(id.getName().toString());
  }

  /** Whether {@code v} is an instance field of type Tensor. */
  boolean isTensorField(VariableElement v) {
    return v.getKind() == ElementKind.FIELD && !v.getModifiers().contains(Modifier.STATIC) && types.isSameType(v.asType(), code.type(DeclarationReader.TENSOR));
  }

  /**
   * A tensor field of the model read as a value ({@code x.add(pos)}): the value {@code this.pos}, its
   * declaration read on first use; null after an error (reported on the declaration, once).
   */
  String tensorField(VariableElement v, ExpressionTree use, CompilationUnitTree unit, String className) {
    if (!readableField(v, use, unit, className)) {
      return null;
    }
    TensorIr t = tensors.field(v);
    return t == null ? null : t.value();
  }

  /** Whether the tensor field {@code v} may be read where {@code use} reads it (the model's or block's own); else reported. */
  boolean readableField(VariableElement v, ExpressionTree use, CompilationUnitTree unit, String className) {
    if (tensors == null || !(v.getEnclosingElement() instanceof TypeElement owner)) {
      diagnostics.error(unit, use, Message.UNKNOWN_VALUE, v.getSimpleName(), methodName);
      return false;
    }
    if (!moduleCalls.ownMember(owner)) {
      diagnostics.error(unit, use, Message.INHERITED_TENSOR, v.getSimpleName(), owner.getSimpleName(), className);
      return false;
    }
    return true;
  }

  /** BodyReader for each layer in order; {@code where} is the call site, or null for each layer's declaration. */
  String applySequential(Seq seq, String input, String text, Source where) {
    String value = input;
    for (LayerNode child : seq.children()) {
      value = child instanceof Leaf leaf
          ? step(value, leaf.layer().spec(), leaf.layer(), text, where != null ? where : leaf.layer().source())
          : child instanceof Blk blk ? moduleCalls.inline(blk, value)
          : child instanceof Att att ? moduleCalls.applyAttention(att, value, where != null ? where : att.layers().values().iterator().next().source())
          : applySequential((Seq) child, value, text, where);
      if (value == null) {
        return null;
      }
    }
    last = value;
    return value;
  }

  @Override
  public String step(String input, LayerSpec spec, LayerIr layer, String text, Source where) {
    return step(List.of(input), spec, layer, text, where);
  }

  /** A step reading {@code inputs} (an add's two, a cat's values), its value named {@code v<N>}. */
  String step(List<String> inputs, LayerSpec spec, LayerIr layer, String text, Source where) {
    String expanded = inputs.size() == 1 && LayerExpansions.expands(spec) ? LayerExpansions.expand(this, inputs.get(0), spec, layer, text, where) : null;
    if (expanded != null) {
      return expanded; // (GLU, Softmin, PixelShuffle, PReLU: steps the forward has)
    }
    String out = "v" + (++counter);
    if (tensors != null) { // (a tensor computed from a buffer is generated where a step reads it)
      inputs.forEach(tensors::markRead);
    }
    list.add(new StepIr(out, inputs, spec, layer, text, where));
    last = out;
    return out;
  }
}
