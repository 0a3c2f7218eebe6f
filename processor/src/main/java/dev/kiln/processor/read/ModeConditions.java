package dev.kiln.processor.read;

import com.sun.source.tree.ConditionalExpressionTree;
import com.sun.source.tree.CompilationUnitTree;
import com.sun.source.tree.ExpressionTree;
import com.sun.source.tree.IfTree;
import com.sun.source.tree.MemberSelectTree;
import com.sun.source.tree.MethodInvocationTree;
import com.sun.source.tree.StatementTree;
import com.sun.source.tree.VariableTree;
import com.sun.source.util.TreePath;
import com.sun.source.util.Trees;
import dev.kiln.dsl.Dropout;
import dev.kiln.dsl.Dropout2d;
import dev.kiln.dsl.LayerSpec;
import dev.kiln.processor.Diagnostics;
import dev.kiln.processor.Message;
import dev.kiln.processor.ir.Modes;
import dev.kiln.processor.ir.Source;
import java.util.List;
import java.util.Map;
import javax.lang.model.element.VariableElement;
import javax.lang.model.type.TypeKind;
import dev.kiln.processor.read.LayerNode.Leaf;
import dev.kiln.processor.read.LayerNode.Seq;
import dev.kiln.processor.read.LayerNode.Blk;
import dev.kiln.processor.read.LayerNode.Lst;
import dev.kiln.processor.read.LayerNode.Att;

/**
 * The training mode in forward, for {@link BodyReader}: {@code isTraining()} of the model or a block, locals and
 * conditions on it ({@code if (isTraining())}, {@code training ? a : b}), read in the mode being read.
 */
final class ModeConditions {
  private final BodyReader steps;
  /** Folds a condition where forward reads it ({@code h.size()} of a ModuleList); a branch's statements. */
  private final LoopUnroller loops;
  private final DeclarationReader reader;
  private final SourceTrees code;
  private final Trees trees;
  private final Diagnostics diagnostics;
  private final ConstantFolder folder;

  ModeConditions(BodyReader steps, LoopUnroller loops, DeclarationReader reader) {
    this.steps = steps;
    this.loops = loops;
    this.reader = reader;
    this.code = reader.code;
    this.trees = reader.trees;
    this.diagnostics = reader.diagnostics;
    this.folder = code.folder;
  }

  // -------------------------------------------------------------- conditions on the training mode

  /**
   * {@code isTraining()} read here: the mode being read, noted with its owner, this module ({@code isTraining()}) or a
   * layer field's ({@code drop.isTraining()}: its own mode, which the compiled forward compares with the others', running
   * eagerly where they differ); null where it does not fold.
   */
  Object modeCall(MethodInvocationTree call, CompilationUnitTree unit, Map<String, LayerNode> fields) {
    String owner = steps.mode == null ? null : reader.isModeCall(call, unit) ? steps.modeOwner : fieldMode(call, unit, fields);
    if (owner == null) {
      return null;
    }
    steps.mode.reads.add(new Modes.Read(owner, code.source(unit, call)));
    return steps.mode.training;
  }

  /** The path of the layer field whose {@code isTraining()} {@code call} is ({@code drop.isTraining()}), else null. */
  private String fieldMode(MethodInvocationTree call, CompilationUnitTree unit, Map<String, LayerNode> fields) {
    if (!call.getArguments().isEmpty() || !(call.getMethodSelect() instanceof MemberSelectTree ms)
        || !code.calledMethod(call, unit, DeclarationReader.MODULE, "isTraining")) {
      return null;
    }
    LayerNode node = fields.get(DeclarationReader.fieldName(ms.getExpression()));
    return node instanceof Leaf leaf ? leaf.layer().path() : node instanceof Seq seq ? seq.path()
        : node instanceof Blk blk ? blk.path() : node instanceof Lst list ? list.path() : node instanceof Att att ? att.path() : null;
  }

  /**
   * {@code final boolean t = isTraining();} (or of another module's mode, or a condition on modes and constants): the
   * local folds to the mode being read wherever it is read, so {@code if (t)} is a condition on the mode; false for any
   * other local. Outside forward (no mode is read there) it is the error a condition would get.
   */
  boolean modeLocal(VariableTree v, CompilationUnitTree unit, Map<String, LayerNode> fields) {
    if (v.getInitializer() == null || !(trees.getElement(TreePath.getPath(unit, v)) instanceof VariableElement e)
        || e.asType().getKind() != TypeKind.BOOLEAN || !reader.readsMode(v.getInitializer(), unit)) {
      return false;
    }
    Boolean mode = modeCondition(v.getInitializer(), unit, fields);
    if (mode == null) {
      steps.unknown.add(v.getName().toString());
      return true;
    }
    folder.define(e, mode);
    reader.modeLocals.add(e);
    return true;
  }

  /**
   * An {@code if} on the training mode ({@code if (isTraining()) {...} else {...}}, {@code if (!isTraining())}): the
   * branch the mode being read takes, read as if written here; the locals either branch assigns (or the value the
   * branch returns) noted as its joins, whose shapes the checker compares between the modes. True when a return (or
   * an unrolled loop's break or continue) in that branch ended the statements.
   */
  boolean modeBranch(IfTree branch, CompilationUnitTree unit, Map<String, LayerNode> fields, String className,
      String returned, boolean inLoop) {
    Boolean taken = modeCondition(branch.getCondition(), unit, fields);
    if (taken == null) {
      return false;
    }
    Source where = code.source(unit, branch);
    int occurrence = steps.mode.occurrence(branch);
    StatementTree chosen = taken ? branch.getThenStatement() : branch.getElseStatement();
    if (chosen != null && steps.readStatements(loops.body(chosen), unit, fields, className, returned, inLoop)) {
      if (steps.jump == null && returned == null && steps.last != null) {
        steps.mode.joins.add(new Modes.Join(where, occurrence, "the value " + steps.methodName + " returns", steps.last));
      }
      return true;
    }
    for (String local : DeclarationReader.assignedLocals(branch)) {
      if (steps.locals.containsKey(local)) {
        steps.mode.joins.add(new Modes.Join(where, occurrence, local, steps.locals.get(local)));
      }
    }
    return false;
  }

  /** {@code isTraining() ? a : b}: the operand the mode being read takes, noted as a join; null after an error. */
  String modeChoice(ConditionalExpressionTree c, CompilationUnitTree unit, Map<String, LayerNode> fields, String className) {
    Boolean taken = modeCondition(c.getCondition(), unit, fields);
    if (taken == null) {
      return null;
    }
    int occurrence = steps.mode.occurrence(c);
    String value = steps.expression(taken ? c.getTrueExpression() : c.getFalseExpression(), unit, fields, className);
    if (value != null) {
      steps.mode.joins.add(new Modes.Join(code.source(unit, c), occurrence, c.toString(), value));
    }
    return value;
  }

  /**
   * {@code F.dropout(x, p, isTraining())} ({@code F.dropout2d}), PyTorch's {@code F.dropout(x, p, self.training)}: in
   * training a dropout step without a layer (drawing as eager mode draws), in evaluation {@code x} itself, as eager's
   * {@code Ops.dropout} returns it; the mode (or a constant) as the condition on the mode reads it. Null after an error.
   */
  String functionalDropout(MethodInvocationTree mi, String name, List<? extends ExpressionTree> args, boolean training,
      CompilationUnitTree unit, Map<String, LayerNode> fields, String className) {
    List<Object> p = code.constants(args.subList(1, 2), mi.toString(), name, unit);
    if (p == null) {
      return null;
    }
    LayerSpec spec;
    try {
      double rate = p.get(0) instanceof Number n ? n.doubleValue() : Double.NaN;
      spec = name.equals("dropout") ? new Dropout.Spec(rate) : new Dropout2d.Spec(rate);
    } catch (IllegalArgumentException e) {
      diagnostics.error(unit, mi, Message.UNSUPPORTED_FUNCTION, e.getMessage());
      return null;
    }
    String input = steps.expression(args.get(0), unit, fields, className);
    return input == null || !training ? input : steps.step(input, spec, null, mi.toString(), code.source(unit, mi));
  }

  /** A condition on the training mode folded in the mode being read; null after an error (reported on it). */
  private Boolean modeCondition(ExpressionTree condition, CompilationUnitTree unit, Map<String, LayerNode> fields) {
    if (steps.mode == null) {
      diagnostics.error(unit, condition, Message.MODE_ELSEWHERE, DeclarationReader.stripped(condition), steps.methodName);
      return null;
    }
    Object taken;
    try {
      taken = loops.foldHere(condition, unit, fields);
    } catch (ConstantFolder.NotConstant e) {
      if (e.batch) { // isTraining() && x.size(0) > 1: the batch size, known at run time only
        diagnostics.error(unit, condition, Message.MODE_CONDITION_RUN_TIME, DeclarationReader.stripped(condition), steps.methodName, e.tree);
      } else if (!e.reported) {
        diagnostics.error(unit, condition, Message.MODE_CONDITION, DeclarationReader.stripped(condition), steps.methodName);
      }
      return null;
    }
    if (!(taken instanceof Boolean mode)) {
      diagnostics.error(unit, condition, Message.MODE_CONDITION, DeclarationReader.stripped(condition), steps.methodName);
      return null;
    }
    return mode;
  }

}
