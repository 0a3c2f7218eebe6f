package dev.kiln.processor.read;

import com.sun.source.tree.BinaryTree;
import com.sun.source.tree.CompilationUnitTree;
import com.sun.source.tree.ConditionalExpressionTree;
import com.sun.source.tree.ExpressionTree;
import com.sun.source.tree.LiteralTree;
import com.sun.source.tree.MethodInvocationTree;
import com.sun.source.tree.NewArrayTree;
import com.sun.source.tree.ParenthesizedTree;
import com.sun.source.tree.PrimitiveTypeTree;
import com.sun.source.tree.Tree;
import com.sun.source.tree.TypeCastTree;
import com.sun.source.tree.UnaryTree;
import com.sun.source.util.TreePath;
import com.sun.source.util.Trees;
import javax.lang.model.element.Element;
import javax.lang.model.element.ExecutableElement;
import javax.lang.model.element.TypeElement;
import javax.lang.model.element.VariableElement;
import javax.lang.model.type.TypeKind;

/**
 * Evaluates a layer argument at compile time, as javac folds constant expressions (JLS 15.29):
 * literals (chars as their codes in arithmetic), parentheses, unary and binary arithmetic
 * ({@code + - * / %}, shifts, {@code & | ^ ~}), string concatenation, casts to primitive types and
 * String, comparisons, {@code ! && ||}, the conditional {@code ?:} and {@code static final}
 * constants; beyond javac, {@code Math.sqrt} of a constant (correctly rounded, so the same value at
 * build time as at run time: {@code x.div(Math.sqrt(D))}) and final locals of forward initialised
 * with such a value. Anything else is not a constant.
 */
final class ConstantFolder {
  private final Trees trees;

  ConstantFolder(Trees trees) {
    this.trees = trees;
  }

  /** Locals of forward given a value this folder computed ({@code final double scale = 1 / Math.sqrt(D);}), which javac does not fold. */
  private final java.util.Map<Element, Object> locals = new java.util.HashMap<>();

  /** The values of calls the reader knows while it reads forward ({@code h.size()} of a ModuleList field), else null. */
  private java.util.function.Function<MethodInvocationTree, Object> knownCalls = call -> null;

  /** Folds each call {@code known} gives a value ({@code h.size()}) to that value from now on; returns the one it replaces. */
  java.util.function.Function<MethodInvocationTree, Object> knownCalls(java.util.function.Function<MethodInvocationTree, Object> known) {
    java.util.function.Function<MethodInvocationTree, Object> before = knownCalls;
    knownCalls = known;
    return before;
  }

  /** Makes {@code local} fold to {@code value} where it is used. */
  void define(Element local, Object value) {
    locals.put(local, value);
  }

  /**
   * Makes each of {@code values} fold to its value (a block's constructor parameters and the fields it sets from
   * them, while the block is read) and returns what they folded to before, for {@link #restore}.
   */
  java.util.Map<Element, Object> bind(java.util.Map<Element, Object> values) {
    java.util.Map<Element, Object> before = new java.util.HashMap<>();
    values.forEach((e, v) -> before.put(e, locals.get(e)));
    locals.putAll(values);
    return before;
  }

  /** Undoes a {@link #bind}: each element folds as it did before (not at all where its value is null). */
  void restore(java.util.Map<Element, Object> before) {
    before.forEach((e, v) -> {
      if (v == null) {
        locals.remove(e);
      } else {
        locals.put(e, v);
      }
    });
  }

  /** An enum constant as an argument ({@code EmbeddingBag.Mode.SUM}): its type's qualified name and its name. */
  record EnumConstant(String type, String name) {
    @Override
    public String toString() {
      return type.substring(type.lastIndexOf('.') + 1) + "." + name;
    }
  }

  /** Thrown for an expression that is not a compile-time constant; carries the offending tree. */
  static final class NotConstant extends Exception {
    final ExpressionTree tree;
    /** Whether {@code tree} reads the batch size ({@code x.size(0)}), which varies from call to call. */
    final boolean batch;
    /** Whether an error saying why was reported on {@code tree} already (a dimension out of range): say nothing more. */
    final boolean reported;

    NotConstant(ExpressionTree tree, String why) {
      this(tree, why, false, false);
    }

    NotConstant(ExpressionTree tree, String why, boolean batch, boolean reported) {
      super(why, null, false, false);
      this.tree = tree;
      this.batch = batch;
      this.reported = reported;
    }
  }

  /**
   * Sizes the reader knows while it reads forward: {@code x.size(1)}, {@code x.dim()}, and {@code x.shape()} as an {@link
   * Indexed} ({@code x.shape()[1]}), of values whose shapes are inferred as they are read.
   */
  interface Sizes {
    /** The value of {@code call}, or null when it reads no size. */
    Object value(MethodInvocationTree call, CompilationUnitTree unit) throws NotConstant;
  }

  /** Sizes that fold only indexed ({@code x.shape()[1]}): a shape holding the batch, which is not a constant as a whole. */
  interface Indexed {
    /** The size at {@code index}, read at {@code where}. */
    Object at(int index, ExpressionTree where) throws NotConstant;

    /** Why it is not a constant as a whole. */
    String whole();
  }

  private Sizes sizes = (call, unit) -> null;

  /** What a local holding the batch size folds to ({@code int n = x.size(0)}): not a constant, saying so where it is read. */
  static final Object BATCH = new Object();

  /** Folds the size reads {@code known} knows from now on ({@code x.size(1)}); returns the one it replaces. */
  Sizes sizes(Sizes known) {
    Sizes before = sizes;
    sizes = known;
    return before;
  }

  /** The value as an Integer, Long, Double, Float, Boolean or String. */
  Object fold(ExpressionTree t, CompilationUnitTree unit) throws NotConstant {
    Object value = foldIndexed(t, unit);
    if (value instanceof Indexed indexed) {
      throw new NotConstant(t, indexed.whole());
    }
    return value;
  }

  /** {@link #fold}, or null for what is not a constant. */
  Object foldOrNull(ExpressionTree t, CompilationUnitTree unit) {
    try {
      return fold(t, unit);
    } catch (NotConstant ex) {
      return null;
    }
  }

  /**
   * Whether folding {@code e} fails because it is the batch size itself ({@code x.size(0)}, {@code x.shape()[0]}, {@code
   * s[0]} of {@code int[] s = x.shape()}, {@code x.size(-3)} of a value {@code [N, T, C]}, as the reader's {@link #sizes}
   * fold them), not a size computed from it.
   */
  boolean readsBatch(ExpressionTree e, CompilationUnitTree unit) {
    try {
      fold(e, unit);
      return false;
    } catch (NotConstant ex) {
      return ex.batch && ex.tree == DeclarationReader.stripped(e);
    }
  }

  /** {@link #fold}, or an {@link Indexed} ({@code x.shape()}, a local holding it) that only an index makes a constant. */
  Object foldIndexed(ExpressionTree t, CompilationUnitTree unit) throws NotConstant {
    switch (t.getKind()) {
      case ARRAY_ACCESS: { // x.shape()[1], s[1] of int[] s = x.shape(), new int[] {2, 3}[0]
        com.sun.source.tree.ArrayAccessTree access = (com.sun.source.tree.ArrayAccessTree) t;
        Object array = foldIndexed(access.getExpression(), unit);
        if (!(asNumber(fold(access.getIndex(), unit)) instanceof Integer index)) {
          throw new NotConstant(access.getIndex(), "not an int index");
        }
        if (array instanceof Indexed indexed) {
          return indexed.at(index, t);
        }
        if (array instanceof int[] values && index >= 0 && index < values.length) {
          return values[index];
        }
        throw new NotConstant(t, array instanceof int[] ? "index out of range" : "not an array of constants");
      }
      case INT_LITERAL, LONG_LITERAL, FLOAT_LITERAL, DOUBLE_LITERAL, BOOLEAN_LITERAL, STRING_LITERAL, CHAR_LITERAL:
        return ((LiteralTree) t).getValue();
      case TYPE_CAST:
        return cast((TypeCastTree) t, unit);
      case CONDITIONAL_EXPRESSION: {
        ConditionalExpressionTree c = (ConditionalExpressionTree) t;
        if (!(fold(c.getCondition(), unit) instanceof Boolean condition)) {
          throw new NotConstant(c.getCondition(), "not a boolean");
        }
        Object a = fold(c.getTrueExpression(), unit);
        Object b = fold(c.getFalseExpression(), unit);
        Object chosen = condition ? a : b;
        // both branches numbers: the result has their promoted type, as (true ? 1 : 2.0) is 1.0
        return a instanceof Number x && b instanceof Number y ? promote((Number) chosen, x, y) : chosen;
      }
      case LOGICAL_COMPLEMENT: {
        if (!(fold(((UnaryTree) t).getExpression(), unit) instanceof Boolean b)) {
          throw new NotConstant(t, "not a boolean");
        }
        return !b;
      }
      case BITWISE_COMPLEMENT: {
        Object v = asNumber(fold(((UnaryTree) t).getExpression(), unit));
        if (v instanceof Long l) {
          return ~l;
        }
        if (v instanceof Number n && isIntegral(n)) {
          return ~n.intValue();
        }
        throw new NotConstant(t, "~ of a non-integer");
      }
      case AND, OR, XOR:
        return bitwise((BinaryTree) t, unit);
      case CONDITIONAL_AND, CONDITIONAL_OR, EQUAL_TO, NOT_EQUAL_TO, LESS_THAN, LESS_THAN_EQUAL, GREATER_THAN, GREATER_THAN_EQUAL:
        return condition((BinaryTree) t, unit);
      case PARENTHESIZED:
        return fold(((ParenthesizedTree) t).getExpression(), unit);
      case NEW_ARRAY: { // new int[] {2, 3}, as LayerNorm's normalized shape
        NewArrayTree na = (NewArrayTree) t;
        if (na.getInitializers() == null || !(na.getType() instanceof PrimitiveTypeTree p) || p.getPrimitiveTypeKind() != TypeKind.INT) {
          throw new NotConstant(t, "not an int array with its values");
        }
        int[] values = new int[na.getInitializers().size()];
        for (int i = 0; i < values.length; i++) {
          if (!(fold(na.getInitializers().get(i), unit) instanceof Integer v)) {
            throw new NotConstant(na.getInitializers().get(i), "not an int");
          }
          values[i] = v;
        }
        return values;
      }
      case UNARY_MINUS:
      case UNARY_PLUS: {
        Object v = asNumber(fold(((UnaryTree) t).getExpression(), unit));
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
        if (e != null && locals.get(e) == BATCH) {
          throw new NotConstant(t, "the batch size, which varies from call to call", true, false);
        }
        if (e != null && locals.containsKey(e)) {
          return locals.get(e);
        }
        if (e != null && e.getKind() == javax.lang.model.element.ElementKind.ENUM_CONSTANT) { // EmbeddingBag.Mode.SUM
          return new EnumConstant(((TypeElement) e.getEnclosingElement()).getQualifiedName().toString(), e.getSimpleName().toString());
        }
        throw new NotConstant(t, "not a static final constant");
      }
      case METHOD_INVOCATION: { // Math.sqrt(64): correctly rounded, so the same value at build time as at run time
        MethodInvocationTree call = (MethodInvocationTree) t;
        Object size = sizes.value(call, unit);
        if (size != null) {
          return size;
        }
        Object known = knownCalls.apply(call);
        if (known != null) {
          return known;
        }
        Element e = trees.getElement(TreePath.getPath(unit, t));
        if (e instanceof ExecutableElement m && m.getSimpleName().contentEquals("sqrt") && call.getArguments().size() == 1
            && m.getEnclosingElement() instanceof TypeElement owner
            && (owner.getQualifiedName().contentEquals("java.lang.Math") || owner.getQualifiedName().contentEquals("java.lang.StrictMath"))
            && asNumber(fold(call.getArguments().get(0), unit)) instanceof Number n) {
          return Math.sqrt(n.doubleValue());
        }
        if (e instanceof ExecutableElement m && m.getSimpleName().contentEquals("pow") && call.getArguments().size() == 2
            && m.getEnclosingElement() instanceof TypeElement owner
            && (owner.getQualifiedName().contentEquals("java.lang.Math") || owner.getQualifiedName().contentEquals("java.lang.StrictMath"))
            && asNumber(fold(call.getArguments().get(0), unit)) instanceof Number base
            && asNumber(fold(call.getArguments().get(1), unit)) instanceof Number exponent) {
          // vit.py's dim_head ** -0.5: StrictMath's (fdlibm), which Math.pow is within an ulp of; a compiled model uses it as a float
          return StrictMath.pow(base.doubleValue(), exponent.doubleValue());
        }
        if (e instanceof ExecutableElement m && m.getEnclosingElement() instanceof TypeElement owner
            && owner.getQualifiedName().contentEquals("java.lang.Math")) {
          Object math = math(m.getSimpleName().toString(), call, unit);
          if (math != null) {
            return math;
          }
        }
        if (e instanceof ExecutableElement m && m.getModifiers().contains(javax.lang.model.element.Modifier.STATIC)
            && (m.getReturnType().getKind().isPrimitive() || m.getReturnType().toString().equals("java.lang.String"))
            && trees.getTree(m) != null && trees.getTree(m).getBody() != null) {
          return helper(m, call, unit);
        }
        throw new NotConstant(t, "a call, which javac does not fold (Math.sqrt, pow, max, min, abs and round of constants, and"
            + " static methods of this compilation of locals and a return, excepted)");
      }
      default:
        throw new NotConstant(t, "not a constant expression");
    }
  }

  /** Math.max, min, abs and round of constants, exact (Java's own), or null for another method of Math. */
  private Object math(String name, MethodInvocationTree call, CompilationUnitTree unit) throws NotConstant {
    java.util.List<Object> args = new java.util.ArrayList<>();
    for (ExpressionTree a : call.getArguments()) {
      if (!(asNumber(fold(a, unit)) instanceof Number n)) {
        throw new NotConstant(a, "not a number");
      }
      args.add(n);
    }
    boolean ints = args.stream().allMatch(a -> a instanceof Integer);
    boolean longs = args.stream().allMatch(a -> a instanceof Integer || a instanceof Long);
    switch (name + "/" + args.size()) {
      case "max/2", "min/2": {
        Number a = (Number) args.get(0), b = (Number) args.get(1);
        boolean max = name.equals("max");
        if (ints) {
          return max ? Math.max(a.intValue(), b.intValue()) : Math.min(a.intValue(), b.intValue());
        }
        if (longs) {
          return max ? Math.max(a.longValue(), b.longValue()) : Math.min(a.longValue(), b.longValue());
        }
        return max ? Math.max(a.doubleValue(), b.doubleValue()) : Math.min(a.doubleValue(), b.doubleValue());
      }
      case "abs/1": {
        Number a = (Number) args.get(0);
        return ints ? (Object) Math.abs(a.intValue()) : longs ? (Object) Math.abs(a.longValue()) : (Object) Math.abs(a.doubleValue());
      }
      case "round/1": {
        Number a = (Number) args.get(0);
        return a instanceof Float f ? (Object) Math.round(f) : (Object) Math.round(a.doubleValue());
      }
      default:
        return null;
    }
  }

  /** How deep {@link #helper} is in helpers calling helpers (a bound on one calling itself). */
  private int helperDepth;

  /**
   * The value of a static method of the compilation called with constants (mobilenetv2.py's {@code _make_divisible(v,
   * divisor)}): its body must be locals with initializers and then one return, each folding with the parameters bound.
   */
  private Object helper(ExecutableElement m, MethodInvocationTree call, CompilationUnitTree unit) throws NotConstant {
    java.util.List<? extends com.sun.source.tree.StatementTree> body = trees.getTree(m).getBody().getStatements();
    if (helperDepth >= 16) {
      throw new NotConstant(call, "a call of " + m.getSimpleName() + " nested too deeply (16 at most)");
    }
    java.util.Map<Element, Object> bound = new java.util.HashMap<>();
    for (int i = 0; i < call.getArguments().size(); i++) {
      bound.put(m.getParameters().get(i), asVariable(fold(call.getArguments().get(i), unit), m.getParameters().get(i).asType()));
    }
    CompilationUnitTree at = trees.getPath(m).getCompilationUnit();
    java.util.Map<Element, Object> before = bind(bound);
    java.util.Map<Element, Object> locals = new java.util.HashMap<>();
    helperDepth++;
    try {
      for (int i = 0; i < body.size(); i++) {
        com.sun.source.tree.StatementTree st = body.get(i);
        if (st instanceof com.sun.source.tree.VariableTree v && v.getInitializer() != null && i < body.size() - 1) {
          Element local = trees.getElement(TreePath.getPath(at, v));
          Object value = asVariable(fold(v.getInitializer(), at), local.asType());
          locals.putIfAbsent(local, this.locals.get(local));
          this.locals.put(local, value);
        } else if (st instanceof com.sun.source.tree.ReturnTree r && r.getExpression() != null && i == body.size() - 1) {
          return asVariable(fold(r.getExpression(), at), m.getReturnType());
        } else {
          throw new NotConstant(call, m.getSimpleName() + "(...) is not locals and a return (" + st.getKind().toString()
              .toLowerCase(java.util.Locale.ROOT).replace('_', ' ') + " on its line " + at.getLineMap().getLineNumber(
                  trees.getSourcePositions().getStartPosition(at, st)) + ")");
        }
      }
      throw new NotConstant(call, m.getSimpleName() + "(...) returns nothing");
    } catch (NotConstant inside) { // reported on the call: the helper's own lines may be in another file
      if (inside.tree == call) {
        throw inside;
      }
      throw new NotConstant(call, m.getSimpleName() + "(...) does not fold with these arguments (" + inside.tree + ": "
          + inside.getMessage() + ")");
    } finally {
      helperDepth--;
      restore(locals);
      restore(before);
    }
  }

  private Object binary(BinaryTree t, CompilationUnitTree unit) throws NotConstant {
    Object a = fold(t.getLeftOperand(), unit);
    Object b = fold(t.getRightOperand(), unit);
    if (t.getKind() == Tree.Kind.PLUS && (a instanceof String || b instanceof String)) {
      return String.valueOf(a) + b; // Java's string conversion: Float.toString for a float, as javac folds it
    }
    a = asNumber(a);
    b = asNumber(b);
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
    Object a = asNumber(fold(t.getLeftOperand(), unit));
    Object b = asNumber(fold(t.getRightOperand(), unit));
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

  /** {@code & | ^} of two integers (typed as Java types them) or two booleans. */
  private Object bitwise(BinaryTree t, CompilationUnitTree unit) throws NotConstant {
    Object a = asNumber(fold(t.getLeftOperand(), unit));
    Object b = asNumber(fold(t.getRightOperand(), unit));
    if (a instanceof Boolean x && b instanceof Boolean y) {
      return switch (t.getKind()) {
        case AND -> x & y;
        case OR -> x | y;
        default -> x ^ y;
      };
    }
    if (!(a instanceof Number x) || !(b instanceof Number y) || !isIntegral(x) || !isIntegral(y)) {
      throw new NotConstant(t, "a bitwise operation on non-integers");
    }
    long l = x.longValue(), r = y.longValue();
    long v = switch (t.getKind()) {
      case AND -> l & r;
      case OR -> l | r;
      default -> l ^ r;
    };
    return x instanceof Long || y instanceof Long ? (Object) v : (Object) (int) v;
  }

  /** A {@code char} in arithmetic is its code, an int (as Java promotes it); anything else as it is. */
  private static Object asNumber(Object v) {
    return v instanceof Character c ? (Object) (int) c.charValue() : v;
  }

  /** {@code (int) 4.0}, {@code (float) 0.25}: Java's primitive conversions. */
  private Object cast(TypeCastTree t, CompilationUnitTree unit) throws NotConstant {
    Object v = asNumber(fold(t.getExpression(), unit));
    if (!(t.getType() instanceof PrimitiveTypeTree type)) {
      if (v instanceof String && t.getType().toString().matches("(java\\.lang\\.)?String")) {
        return v;
      }
      throw new NotConstant(t, "a cast to a type other than a primitive or String");
    }
    if (type.getPrimitiveTypeKind() == TypeKind.BOOLEAN) {
      if (v instanceof Boolean) {
        return v;
      }
      throw new NotConstant(t, "a cast of a non-boolean to boolean");
    }
    if (!(v instanceof Number n)) {
      throw new NotConstant(t, "a cast of a non-number");
    }
    Object converted = converted(n, type.getPrimitiveTypeKind());
    if (converted == null) {
      throw new NotConstant(t, "a cast to " + type.getPrimitiveTypeKind());
    }
    return converted;
  }

  /** {@code n} converted to the primitive {@code kind} as Java's casts convert it; null for a kind that is not a number's. */
  private static Object converted(Number n, TypeKind kind) {
    return switch (kind) {
      case INT -> n instanceof Double || n instanceof Float ? (int) n.doubleValue() : (int) n.longValue();
      case LONG -> n instanceof Double || n instanceof Float ? (long) n.doubleValue() : n.longValue();
      case FLOAT -> isIntegral(n) ? (float) n.longValue() : (float) n.doubleValue();
      case DOUBLE -> isIntegral(n) ? (double) n.longValue() : n.doubleValue();
      case SHORT -> (int) (short) (n instanceof Double || n instanceof Float ? (int) n.doubleValue() : n.longValue());
      case CHAR -> (char) (n instanceof Double || n instanceof Float ? (int) n.doubleValue() : n.longValue());
      case BYTE -> (int) (byte) (n instanceof Double || n instanceof Float ? (int) n.doubleValue() : n.longValue());
      default -> null;
    };
  }

  /**
   * {@code value} as a variable (a helper's parameter or local) or a helper's return of {@code type} holds it: a number
   * widened to its primitive type, as javac's assignment conversion does ({@code double half = 3 / 2;} holds 1.0, so a
   * later {@code half / 2} is 0.5, not 0); anything else as it is.
   */
  private static Object asVariable(Object value, javax.lang.model.type.TypeMirror type) {
    Object v = asNumber(value) instanceof Number n && type.getKind().isPrimitive() ? converted(n, type.getKind()) : null;
    return v != null ? v : value;
  }

  /** Comparisons and {@code && ||} of constants. */
  private Object condition(BinaryTree t, CompilationUnitTree unit) throws NotConstant {
    Object a = asNumber(fold(t.getLeftOperand(), unit));
    Object b = asNumber(fold(t.getRightOperand(), unit));
    if (t.getKind() == Tree.Kind.CONDITIONAL_AND || t.getKind() == Tree.Kind.CONDITIONAL_OR) {
      if (!(a instanceof Boolean x) || !(b instanceof Boolean y)) {
        throw new NotConstant(t, "&& or || of non-booleans");
      }
      return t.getKind() == Tree.Kind.CONDITIONAL_AND ? x && y : x || y;
    }
    if (a instanceof Boolean x && b instanceof Boolean y && (t.getKind() == Tree.Kind.EQUAL_TO || t.getKind() == Tree.Kind.NOT_EQUAL_TO)) {
      return (x.equals(y)) == (t.getKind() == Tree.Kind.EQUAL_TO);
    }
    if (!(a instanceof Number x) || !(b instanceof Number y)) {
      throw new NotConstant(t, "a comparison of non-numbers");
    }
    // Java's binary numeric promotion, then the primitive operators (so -0.0 == 0.0, NaN compares false,
    // and 16777217 == 16777216f, the int widened to float)
    if (x instanceof Double || y instanceof Double) {
      return compare(t, x.doubleValue(), y.doubleValue());
    }
    if (x instanceof Float || y instanceof Float) {
      return compare(t, floatOf(x), floatOf(y));
    }
    return holds(t.getKind(), Long.compare(x.longValue(), y.longValue()));
  }

  /** As Java's operators on doubles: -0.0 equals 0.0, and every comparison with NaN but != is false. */
  private static boolean compare(BinaryTree t, double l, double r) {
    if (Double.isNaN(l) || Double.isNaN(r)) {
      return t.getKind() == Tree.Kind.NOT_EQUAL_TO;
    }
    return holds(t.getKind(), l < r ? -1 : l > r ? 1 : 0);
  }

  /** Whether the comparison {@code kind} holds for operands ordered as {@code order} (negative, 0, positive). */
  private static boolean holds(Tree.Kind kind, int order) {
    return switch (kind) {
      case EQUAL_TO -> order == 0;
      case NOT_EQUAL_TO -> order != 0;
      case LESS_THAN -> order < 0;
      case LESS_THAN_EQUAL -> order <= 0;
      case GREATER_THAN -> order > 0;
      default -> order >= 0;
    };
  }

  /** A number as Java converts it to float: an int or long rounded to the nearest float. */
  private static float floatOf(Number n) {
    return isIntegral(n) ? (float) n.longValue() : n.floatValue();
  }

  /** {@code chosen} in the binary numeric promotion of {@code x} and {@code y}'s types. */
  private static Number promote(Number chosen, Number x, Number y) {
    if (x instanceof Double || y instanceof Double) {
      return chosen.doubleValue();
    }
    if (x instanceof Float || y instanceof Float) {
      return chosen.floatValue();
    }
    if (x instanceof Long || y instanceof Long) {
      return chosen.longValue();
    }
    return chosen;
  }

  private static boolean isIntegral(Number n) {
    return n instanceof Integer || n instanceof Long || n instanceof Short || n instanceof Byte;
  }
}
