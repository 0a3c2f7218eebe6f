package dev.kiln.processor.read;

import com.sun.source.tree.AssignmentTree;
import com.sun.source.tree.BinaryTree;
import com.sun.source.tree.BlockTree;
import com.sun.source.tree.CompoundAssignmentTree;
import com.sun.source.tree.DoWhileLoopTree;
import com.sun.source.tree.EnhancedForLoopTree;
import com.sun.source.tree.ForLoopTree;
import com.sun.source.tree.UnaryTree;
import com.sun.source.tree.CompilationUnitTree;
import com.sun.source.tree.ExpressionTree;
import com.sun.source.tree.IdentifierTree;
import com.sun.source.tree.MemberSelectTree;
import com.sun.source.tree.StatementTree;
import com.sun.source.tree.Tree;
import com.sun.source.tree.VariableTree;
import com.sun.source.tree.WhileLoopTree;
import com.sun.source.util.TreePath;
import com.sun.source.util.Trees;
import dev.kiln.processor.Diagnostics;
import dev.kiln.processor.Message;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.lang.model.element.Element;
import javax.lang.model.element.VariableElement;
import javax.lang.model.type.TypeKind;

/**
 * Loops in forward, for {@link BodyReader}: counted loops over constants or a ModuleList unrolled, with their
 * counters, {@code break} and {@code continue}.
 */
final class LoopUnroller {
  private final StatementReader statements;
  /** The method being read, for messages. */
  private final String methodName;
  /** Layer fields whose declaration had an error (reported): a loop over one stays silent. */
  private final Set<String> broken;
  private final Trees trees;
  private final Diagnostics diagnostics;
  private final ConstantFolder folder;

  LoopUnroller(StatementReader statements, String methodName, Set<String> broken, Trees trees, Diagnostics diagnostics,
      ConstantFolder folder) {
    this.statements = statements;
    this.methodName = methodName;
    this.broken = broken;
    this.trees = trees;
    this.diagnostics = diagnostics;
    this.folder = folder;
  }

  /**
   * The int locals forward counts with ({@code int i = 0; while (i < N) { ...; i++; }}), each folding to its value at the
   * statement being read (the folder's), as a counted loop's index does.
   */
  final Set<Element> counters = new HashSet<>();

  boolean unroll(StatementTree loop, CompilationUnitTree unit, Map<String, LayerNode> fields, String className, String returned) {
    if (loop instanceof WhileLoopTree w) {
      return unrollWhile(w.getCondition(), w.getStatement(), false, unit, fields, className, returned);
    }
    if (loop instanceof DoWhileLoopTree w) {
      return unrollWhile(w.getCondition(), w.getStatement(), true, unit, fields, className, returned);
    }
    List<String> pieces = loop instanceof EnhancedForLoopTree each ? statements.splitPieces(each.getExpression(), unit, fields, className)
        : null; // for (Tensor t : x.split(1, 1)): the pieces in order
    if (loop instanceof EnhancedForLoopTree each && (pieces != null || statements.tensorList(each.getExpression(), unit) != null)) {
      for (String value : pieces != null ? pieces : statements.tensorList(each.getExpression(), unit)) { // for (Tensor t : xs): xs's values in order
        statements.assign(each.getVariable().getName().toString(), value);
        if (statements.readStatements(body(each.getStatement()), unit, fields, className, returned, true) && !jumped()) {
          return true;
        }
        if (stopped()) {
          return false;
        }
      }
      return false;
    }
    if (loop instanceof EnhancedForLoopTree each) {
      List<LayerNode> over = ModuleCalls.modules(fields.get(DeclarationReader.fieldName(DeclarationReader.stripped(each.getExpression()))));
      if (over == null) {
        if (!broken.contains(DeclarationReader.fieldName(DeclarationReader.stripped(each.getExpression())))) {
          diagnostics.error(unit, each.getExpression(), Message.LOOP_BOUNDS, methodName,
              each.getExpression() + " is not a ModuleList or Sequential field of " + className);
        }
        return false;
      }
      for (LayerNode module : over) {
        Map<String, LayerNode> scoped = new LinkedHashMap<>(fields);
        scoped.put(each.getVariable().getName().toString(), module);
        if (statements.readStatements(body(each.getStatement()), unit, scoped, className, returned, true) && !jumped()) {
          return true; // a return in the loop: the modules after it are never applied
        }
        if (stopped()) {
          return false; // break
        }
      }
      return false;
    }
    ForLoopTree counted = (ForLoopTree) loop;
    String problem = null;
    VariableTree variable = counted.getInitializer().size() == 1 && counted.getInitializer().get(0) instanceof VariableTree v ? v : null;
    Element index = variable == null ? null : trees.getElement(TreePath.getPath(unit, variable));
    Object from = variable == null || variable.getInitializer() == null ? null : folder.foldOrNull(variable.getInitializer(), unit);
    Integer to = null;
    int by = 0;
    if (!(from instanceof Integer) || index == null || index.asType().getKind() != TypeKind.INT) {
      problem = "it does not start an int at a constant";
    } else if (!(DeclarationReader.stripped(counted.getCondition()) instanceof BinaryTree cond)
        || cond.getKind() != Tree.Kind.LESS_THAN && cond.getKind() != Tree.Kind.LESS_THAN_EQUAL
        || !(DeclarationReader.stripped(cond.getLeftOperand()) instanceof IdentifierTree left) || !left.getName().contentEquals(variable.getName())) {
      problem = "its condition is not " + variable.getName() + " < (or <=) a bound";
    } else {
      ExpressionTree bound = DeclarationReader.stripped(cond.getRightOperand());
      Object folded = foldHereOrNull(bound, unit, fields);
      if (!(folded instanceof Integer b)) {
        problem = "its bound " + bound + (folder.readsBatch(bound, unit) ? " is the batch size, which varies from call to call (a size"
            + " after the batch, x.size(1), is a constant)"
            : " is not a constant or a ModuleList or Sequential field's size()");
      } else {
        to = cond.getKind() == Tree.Kind.LESS_THAN_EQUAL ? b + 1 : b;
      }
      by = counted.getUpdate().size() != 1 ? 0 : increment(counted.getUpdate().get(0).getExpression(), variable, unit);
      if (problem == null && by < 1) {
        problem = "it does not count " + variable.getName() + " up by a constant (i++, i += 2)";
      }
    }
    if (problem == null && ((long) to - (Integer) from) / by > DeclarationReader.MAX_UNROLLED) {
      problem = "it would run more than " + DeclarationReader.MAX_UNROLLED + " times";
    }
    if (problem != null) {
      diagnostics.error(unit, loop, Message.LOOP_BOUNDS, methodName, problem);
      return false;
    }
    for (int i = (Integer) from; i < to; i += by) {
      folder.define(index, i);
      if (statements.readStatements(body(counted.getStatement()), unit, fields, className, returned, true) && !jumped()) {
        return true; // a return at this index
      }
      if (stopped()) {
        return false; // break
      }
    }
    return false;
  }

  /**
   * A while loop unrolled ({@code int i = 0; while (i < h.size()) { x = h.get(i).apply(x); i++; }}), as Java runs it: its
   * condition folded before each turn (the counters the body updates, {@link #count}, are constants there), the body
   * read while it holds, after the first turn for a do-while; a {@code break} at a turn where an {@code if} takes it ends
   * the loop, a {@code continue} that turn. A condition that is not a constant at a turn, or more than {@link
   * #MAX_UNROLLED} turns, is an error on the condition. True when a return ended it.
   */
  private boolean unrollWhile(ExpressionTree condition, StatementTree body, boolean bodyFirst, CompilationUnitTree unit,
      Map<String, LayerNode> fields, String className, String returned) {
    for (int turn = 1; ; turn++) {
      if (turn > 1 || !bodyFirst) {
        Object holds;
        try {
          holds = foldHere(condition, unit, fields);
        } catch (ConstantFolder.NotConstant ex) {
          diagnostics.error(unit, condition, Message.LOOP_BOUNDS, methodName, "its condition " + DeclarationReader.stripped(condition)
              + " is not a constant at turn " + turn + " (" + ex.tree + " is not: " + ex.getMessage() + ")");
          return false;
        }
        if (!(holds instanceof Boolean)) {
          diagnostics.error(unit, condition, Message.LOOP_BOUNDS, methodName, "its condition " + DeclarationReader.stripped(condition) + " is not a boolean");
          return false;
        }
        if (!(Boolean) holds) {
          return false;
        }
      }
      if (turn > DeclarationReader.MAX_UNROLLED) {
        diagnostics.error(unit, condition, Message.LOOP_BOUNDS, methodName, "it would run more than " + DeclarationReader.MAX_UNROLLED
            + " times (does its body change " + DeclarationReader.stripped(condition) + "?)");
        return false;
      }
      if (statements.readStatements(body(body), unit, fields, className, returned, true) && !jumped()) {
        return true; // a return at this turn
      }
      if (stopped()) {
        return false; // break
      }
    }
  }

  /** Whether a {@code break} or {@code continue} ended the statements just read (rather than a return). */
  private boolean jumped() {
    return statements.jump() != null;
  }

  /** After a loop's turn: whether a {@code break} ended it (and the loop stops); a {@code continue} is used up too. */
  private boolean stopped() {
    boolean stop = statements.jump() == Tree.Kind.BREAK;
    statements.clearJump();
    return stop;
  }

  /** {@code e} folded in forward, where a ModuleList or Sequential field's {@code h.size()} is its count of modules. */
  Object foldHere(ExpressionTree e, CompilationUnitTree unit, Map<String, LayerNode> fields) throws ConstantFolder.NotConstant {
    var before = folder.knownCalls(call -> null); // (isTraining(), as readBody made it known)
    folder.knownCalls(call -> {
      List<LayerNode> list = call.getArguments().isEmpty() && call.getMethodSelect() instanceof MemberSelectTree ms
          && ms.getIdentifier().contentEquals("size") ? ModuleCalls.modules(fields.get(DeclarationReader.fieldName(ms.getExpression()))) : null;
      return list == null ? before.apply(call) : list.size();
    });
    try {
      return folder.fold(e, unit);
    } finally {
      folder.knownCalls(before);
    }
  }

  /** Whether folding {@code e} fails on an error reported already (a size of a value unknown after an error). */
  boolean foldReported(ExpressionTree e, CompilationUnitTree unit, Map<String, LayerNode> fields) {
    if (e == null) {
      return false;
    }
    try {
      foldHere(e, unit, fields);
      return false;
    } catch (ConstantFolder.NotConstant ex) {
      return ex.reported;
    }
  }

  /** {@link #foldHere}, or null for what is not a constant. */
  Object foldHereOrNull(ExpressionTree e, CompilationUnitTree unit, Map<String, LayerNode> fields) {
    try {
      return foldHere(e, unit, fields);
    } catch (ConstantFolder.NotConstant ex) {
      return null;
    }
  }

  /** The counter ({@link #counters}) an expression statement updates ({@code i++}, {@code i += 2}, {@code i = 0}), else null. */
  VariableElement counter(ExpressionTree update, CompilationUnitTree unit) {
    ExpressionTree target = update instanceof UnaryTree u ? u.getExpression()
        : update instanceof CompoundAssignmentTree c ? c.getVariable()
        : update instanceof AssignmentTree a ? a.getVariable() : null;
    return target instanceof IdentifierTree && trees.getElement(TreePath.getPath(unit, target)) instanceof VariableElement v
        && counters.contains(v) ? v : null;
  }

  /**
   * A counter's update, folded to its new value ({@code i++}, {@code i--}, {@code i += k}, {@code -=}, {@code *=}, {@code /=},
   * {@code i = e}, {@code k} and {@code e} constants there); anything else is an error, and the counter folds no more.
   */
  void count(ExpressionTree update, VariableElement counter, CompilationUnitTree unit, Map<String, LayerNode> fields) {
    Object now = foldHereOrNull(update instanceof UnaryTree u ? u.getExpression()
        : update instanceof CompoundAssignmentTree c ? c.getVariable() : ((AssignmentTree) update).getVariable(), unit, fields);
    Object by = update instanceof CompoundAssignmentTree c ? foldHereOrNull(c.getExpression(), unit, fields)
        : update instanceof AssignmentTree a ? foldHereOrNull(a.getExpression(), unit, fields) : (Object) 1;
    Integer next = !(now instanceof Integer i) || !(by instanceof Integer k) ? null : switch (update.getKind()) {
      case POSTFIX_INCREMENT, PREFIX_INCREMENT -> i + 1;
      case POSTFIX_DECREMENT, PREFIX_DECREMENT -> i - 1;
      case PLUS_ASSIGNMENT -> i + k;
      case MINUS_ASSIGNMENT -> i - k;
      case MULTIPLY_ASSIGNMENT -> i * k;
      case DIVIDE_ASSIGNMENT -> k == 0 ? null : i / k;
      case ASSIGNMENT -> k;
      default -> null;
    };
    if (next == null) {
      diagnostics.error(unit, update, Message.COUNTER_UPDATE, methodName, update, counter.getSimpleName());
      folder.restore(java.util.Collections.singletonMap(counter, null));
      counters.remove(counter);
    } else {
      folder.define(counter, next);
    }
  }

  /** By how much {@code update} counts {@code variable} up ({@code i++}, {@code ++i}, {@code i += 2}); 0 if it does not. */
  private int increment(ExpressionTree update, VariableTree variable, CompilationUnitTree unit) {
    ExpressionTree target = update instanceof UnaryTree u && (u.getKind() == Tree.Kind.POSTFIX_INCREMENT
        || u.getKind() == Tree.Kind.PREFIX_INCREMENT) ? u.getExpression()
        : update instanceof CompoundAssignmentTree c && c.getKind() == Tree.Kind.PLUS_ASSIGNMENT ? c.getVariable() : null;
    if (!(target instanceof IdentifierTree id) || !id.getName().contentEquals(variable.getName())) {
      return 0;
    }
    Object by = update instanceof CompoundAssignmentTree c ? folder.foldOrNull(c.getExpression(), unit) : (Object) 1;
    return by instanceof Integer i ? i : 0;
  }

  /** A loop's body as statements. */
  List<? extends StatementTree> body(StatementTree body) {
    return body instanceof BlockTree block ? block.getStatements() : List.of(body);
  }
}
