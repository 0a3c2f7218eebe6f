package dev.kiln.processor.read;

import com.sun.source.tree.BinaryTree;
import com.sun.source.tree.CompilationUnitTree;
import com.sun.source.tree.ExpressionTree;
import com.sun.source.tree.LiteralTree;
import com.sun.source.tree.ParenthesizedTree;
import com.sun.source.tree.UnaryTree;
import com.sun.source.util.TreePath;
import com.sun.source.util.Trees;
import javax.lang.model.element.Element;
import javax.lang.model.element.VariableElement;

/**
 * Evaluates a layer argument at compile time: literals, parentheses, unary and binary arithmetic
 * ({@code + - * / %}) and {@code static final} constants. Anything else is not a constant.
 */
final class ConstantFolder {
  private final Trees trees;

  ConstantFolder(Trees trees) {
    this.trees = trees;
  }

  /** Thrown for an expression that is not a compile-time constant; carries the offending tree. */
  static final class NotConstant extends Exception {
    final ExpressionTree tree;

    NotConstant(ExpressionTree tree, String why) {
      super(why, null, false, false);
      this.tree = tree;
    }
  }

  /** The value as an Integer, Long, Double, Float, Boolean or String. */
  Object fold(ExpressionTree t, CompilationUnitTree unit) throws NotConstant {
    switch (t.getKind()) {
      case INT_LITERAL, LONG_LITERAL, FLOAT_LITERAL, DOUBLE_LITERAL, BOOLEAN_LITERAL, STRING_LITERAL:
        return ((LiteralTree) t).getValue();
      case PARENTHESIZED:
        return fold(((ParenthesizedTree) t).getExpression(), unit);
      case UNARY_MINUS:
      case UNARY_PLUS: {
        Object v = fold(((UnaryTree) t).getExpression(), unit);
        boolean minus = t.getKind() == com.sun.source.tree.Tree.Kind.UNARY_MINUS;
        if (v instanceof Integer i) {
          return minus ? -i : i;
        }
        if (v instanceof Long l) {
          return minus ? -l : l;
        }
        if (v instanceof Float f) {
          return minus ? -f : f;
        }
        if (v instanceof Number n) {
          return minus ? -n.doubleValue() : n.doubleValue();
        }
        throw new NotConstant(t, "not a number");
      }
      case PLUS, MINUS, MULTIPLY, DIVIDE, REMAINDER:
        return binary((BinaryTree) t, unit);
      case LEFT_SHIFT, RIGHT_SHIFT, UNSIGNED_RIGHT_SHIFT:
        return shift((BinaryTree) t, unit);
      case IDENTIFIER, MEMBER_SELECT: {
        Element e = trees.getElement(TreePath.getPath(unit, t));
        if (e instanceof VariableElement v && v.getConstantValue() != null) {
          return v.getConstantValue();
        }
        throw new NotConstant(t, "not a static final constant");
      }
      default:
        throw new NotConstant(t, "not a constant expression");
    }
  }

  private Object binary(BinaryTree t, CompilationUnitTree unit) throws NotConstant {
    Object a = fold(t.getLeftOperand(), unit);
    Object b = fold(t.getRightOperand(), unit);
    if (!(a instanceof Number x) || !(b instanceof Number y)) {
      throw new NotConstant(t, "arithmetic on non-numbers");
    }
    boolean integral = isIntegral(x) && isIntegral(y);
    if (integral) {
      long l = x.longValue(), r = y.longValue();
      if ((t.getKind() == com.sun.source.tree.Tree.Kind.DIVIDE || t.getKind() == com.sun.source.tree.Tree.Kind.REMAINDER) && r == 0) {
        throw new NotConstant(t, "division by zero");
      }
      long v = switch (t.getKind()) {
        case PLUS -> l + r;
        case MINUS -> l - r;
        case MULTIPLY -> l * r;
        case DIVIDE -> l / r;
        default -> l % r;
      };
      boolean ints = x instanceof Integer && y instanceof Integer;
      return ints ? (Object) (int) v : (Object) v;
    }
    // Java's promotion: float arithmetic when neither operand is a double, as javac folds it. Float
    // operands' sum, difference, product, quotient and remainder computed in double and rounded once
    // to float equal the float operation's result (double carries more than twice float's precision).
    boolean floats = !(x instanceof Double) && !(y instanceof Double) && (x instanceof Float || y instanceof Float);
    double l = floats ? x.floatValue() : x.doubleValue();
    double r = floats ? y.floatValue() : y.doubleValue();
    double v = switch (t.getKind()) {
      case PLUS -> l + r;
      case MINUS -> l - r;
      case MULTIPLY -> l * r;
      case DIVIDE -> l / r;
      default -> l % r;
    };
    return floats ? (Object) (float) v : (Object) v;
  }

  /** {@code 1 << 5}: as Java shifts, typed by the left operand (int shifts use 5 bits of the distance, long 6). */
  private Object shift(BinaryTree t, CompilationUnitTree unit) throws NotConstant {
    Object a = fold(t.getLeftOperand(), unit);
    Object b = fold(t.getRightOperand(), unit);
    if (!(a instanceof Number x) || !(b instanceof Number y) || !isIntegral(x) || !isIntegral(y)) {
      throw new NotConstant(t, "a shift of non-integers");
    }
    int distance = (int) y.longValue();
    if (x instanceof Long) {
      long l = x.longValue();
      return switch (t.getKind()) {
        case LEFT_SHIFT -> l << distance;
        case RIGHT_SHIFT -> l >> distance;
        default -> l >>> distance;
      };
    }
    int i = x.intValue();
    return switch (t.getKind()) {
      case LEFT_SHIFT -> i << distance;
      case RIGHT_SHIFT -> i >> distance;
      default -> i >>> distance;
    };
  }

  private static boolean isIntegral(Number n) {
    return n instanceof Integer || n instanceof Long || n instanceof Short || n instanceof Byte;
  }
}
