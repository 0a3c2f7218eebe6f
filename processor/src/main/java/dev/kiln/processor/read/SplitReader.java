package dev.kiln.processor.read;

import com.sun.source.tree.ArrayAccessTree;
import com.sun.source.tree.AssignmentTree;
import com.sun.source.tree.CompilationUnitTree;
import com.sun.source.tree.ExpressionStatementTree;
import com.sun.source.tree.ExpressionTree;
import com.sun.source.tree.IdentifierTree;
import com.sun.source.tree.MemberSelectTree;
import com.sun.source.tree.MethodInvocationTree;
import com.sun.source.tree.ParenthesizedTree;
import com.sun.source.tree.StatementTree;
import com.sun.source.tree.Tree;
import com.sun.source.tree.VariableTree;
import com.sun.source.util.TreePath;
import com.sun.source.util.TreePathScanner;
import com.sun.source.util.Trees;
import dev.kiln.processor.Diagnostics;
import dev.kiln.processor.Message;
import dev.kiln.processor.ir.Split;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.IntSupplier;
import javax.lang.model.element.ElementKind;
import javax.lang.model.element.ExecutableElement;
import javax.lang.model.element.Modifier;
import javax.lang.model.element.TypeElement;
import javax.lang.model.element.VariableElement;

/**
 * {@code split} and {@code chunk} in forward, for {@link BodyReader}: the locals holding a split's pieces
 * ({@code Tensor[] qkv = x.split(D, 2);}) and the pieces read of them.
 */
final class SplitReader {
  private final ValueReader values;
  /** The locals holding a split's pieces, by name: the body's, which a size read of an expression forgets (SizeReader). */
  private final Map<String, BodyReader.Pieces> pieces;
  /** Numbers the next split: the body's count, shared with the bodies inlined into it. */
  private final IntSupplier nextSplit;
  /** The method being read, for messages. */
  private final String methodName;
  private final SourceTrees code;
  private final Trees trees;
  private final Diagnostics diagnostics;

  SplitReader(ValueReader values, Map<String, BodyReader.Pieces> pieces, IntSupplier nextSplit, String methodName,
      SourceTrees code) {
    this.values = values;
    this.pieces = pieces;
    this.nextSplit = nextSplit;
    this.methodName = methodName;
    this.code = code;
    this.trees = code.trees;
    this.diagnostics = code.diagnostics;
  }

  /** Locals whose split had an error (reported): reading their pieces stays silent. */
  final Set<String> brokenPieces = new HashSet<>();

  // ------------------------------------------------------------------ split and chunk

  /**
   * Reads a statement about a split's pieces and says whether it did: {@code Tensor[] qkv = x.split(D, 2);} (a
   * declaration, or the first assignment of a declared array) names the pieces, whose steps come where forward
   * reads them ({@link #piece}); an assignment of such an array or of one of its pieces, and a use of it other
   * than {@code qkv[constant]}, are errors on their line.
   */
  boolean piecesStatement(StatementTree s, CompilationUnitTree unit, Map<String, LayerNode> fields, String className) {
    if (s instanceof ExpressionStatementTree es && es.getExpression() instanceof AssignmentTree a) {
      ExpressionTree target = a.getVariable() instanceof ArrayAccessTree aa ? aa.getExpression() : a.getVariable();
      String name = target instanceof IdentifierTree id ? id.getName().toString() : null;
      if (pieces.containsKey(name) || brokenPieces.contains(name)) {
        diagnostics.error(unit, s, Message.PIECES_REASSIGNED, name, splitText(name), methodName, DeclarationReader.firstLine(es.getExpression()));
        return true;
      }
    }
    if (misusesPieces(s, unit)) {
      if (s instanceof VariableTree v) {
        values.assign(v.getName().toString(), null);
      } else if (s instanceof ExpressionStatementTree es && es.getExpression() instanceof AssignmentTree a
          && a.getVariable() instanceof IdentifierTree target) {
        values.assign(target.getName().toString(), null);
      }
      return true;
    }
    String name = null;
    ExpressionTree value = null;
    if (s instanceof VariableTree v && v.getInitializer() != null) {
      name = v.getName().toString();
      value = v.getInitializer();
    } else if (s instanceof ExpressionStatementTree es && es.getExpression() instanceof AssignmentTree a
        && a.getVariable() instanceof IdentifierTree target) {
      name = target.getName().toString();
      value = a.getExpression();
    }
    MethodInvocationTree call = value == null ? null : splitCall(value, unit);
    if (call == null) {
      return false;
    }
    BodyReader.Pieces p = split(call, unit, fields, className);
    if (p == null) {
      brokenPieces.add(name);
    } else {
      pieces.put(name, p);
    }
    return true;
  }

  /** Reports each use of a piece array in {@code s} other than {@code qkv[i]}; whether there was one. */
  private boolean misusesPieces(StatementTree s, CompilationUnitTree unit) {
    if (pieces.isEmpty() && brokenPieces.isEmpty()) {
      return false;
    }
    boolean[] found = {false};
    new TreePathScanner<Void, Void>() {
      @Override public Void visitIdentifier(IdentifierTree node, Void unused) {
        String name = node.getName().toString();
        Tree parent = getCurrentPath().getParentPath().getLeaf();
        if ((pieces.containsKey(name) || brokenPieces.contains(name))
            && trees.getElement(getCurrentPath()) instanceof VariableElement v && v.getKind() == ElementKind.LOCAL_VARIABLE
            && !(parent instanceof ArrayAccessTree aa && aa.getExpression() == node)) {
          diagnostics.error(unit, node, Message.PIECES_MISUSE, name, splitText(name), methodName, name, name, DeclarationReader.describe(parent));
          found[0] = true;
        }
        return null;
      }
    }.scan(TreePath.getPath(unit, s), null);
    return found[0];
  }

  /** The split call a piece array holds, for messages. */
  private String splitText(String name) {
    BodyReader.Pieces p = pieces.get(name);
    return p != null ? p.split().text() : "a split";
  }

  /** The local an array access reads ({@code qkv} of {@code qkv[0]}), or null. */
  static String arrayName(ArrayAccessTree aa) {
    ExpressionTree array = aa.getExpression();
    while (array instanceof ParenthesizedTree p) {
      array = p.getExpression();
    }
    return array instanceof IdentifierTree id ? id.getName().toString() : null;
  }

  /** {@code e} as a call of Tensor's {@code split}, {@code chunk} or {@code unbind}, or null. */
  MethodInvocationTree splitCall(ExpressionTree e, CompilationUnitTree unit) {
    while (e instanceof ParenthesizedTree p) {
      e = p.getExpression();
    }
    return e instanceof MethodInvocationTree mi && mi.getMethodSelect() instanceof MemberSelectTree
        && trees.getElement(TreePath.getPath(unit, mi)) instanceof ExecutableElement ex
        && (ex.getSimpleName().contentEquals("split") || ex.getSimpleName().contentEquals("chunk")
            || ex.getSimpleName().contentEquals("unbind"))
        && ((TypeElement) ex.getEnclosingElement()).getQualifiedName().contentEquals(DeclarationReader.TENSOR)
        && !ex.getModifiers().contains(Modifier.STATIC) ? mi : null;
  }

  /**
   * {@code x.split(size, dim)}, {@code x.split(new int[] {...}, dim)}, {@code x.chunk(n, dim)} or {@code x.unbind(dim)}: its source's
   * steps and the split, its arguments constants; null after an error (reported).
   */
  private BodyReader.Pieces split(MethodInvocationTree mi, CompilationUnitTree unit, Map<String, LayerNode> fields, String className) {
    String name = ((MemberSelectTree) mi.getMethodSelect()).getIdentifier().toString();
    List<Object> args = code.constants(mi.getArguments(), mi.toString(), name, unit);
    if (args == null) {
      return null;
    }
    Split.Kind kind = name.equals("unbind") ? Split.Kind.UNBIND : name.equals("chunk") ? Split.Kind.CHUNKS
        : args.get(0) instanceof int[] ? Split.Kind.LENGTHS : Split.Kind.SIZE;
    if (!(args.get(args.size() - 1) instanceof Integer dim) || kind != Split.Kind.LENGTHS && !(args.get(0) instanceof Integer)) {
      diagnostics.error(unit, mi, Message.UNSUPPORTED_FUNCTION, mi + ": " + name + " takes int arguments, not " + args);
      return null;
    }
    int size = kind == Split.Kind.LENGTHS || kind == Split.Kind.UNBIND ? 0 : (Integer) args.get(0);
    int[] given = kind == Split.Kind.LENGTHS ? (int[]) args.get(0) : new int[0];
    Split split = new Split(kind, size, given, dim, nextSplit.getAsInt(), mi.toString(), code.source(unit, mi));
    if (split.argumentError() != null) {
      diagnostics.error(unit, mi, Message.UNSUPPORTED_FUNCTION, mi + ": " + split.argumentError());
      return null;
    }
    String value = values.expression(((MemberSelectTree) mi.getMethodSelect()).getExpression(), unit, fields, className);
    return value == null ? null : new BodyReader.Pieces(value, split, new HashMap<>());
  }

  /**
   * The pieces of split {@code call} looped over ({@code for (Tensor t : x.split(1, 1))}): the split read here, and each
   * piece's step in order, as many as the source's shape gives; an empty list after an error (reported).
   */
  List<String> loopPieces(MethodInvocationTree call, CompilationUnitTree unit, Map<String, LayerNode> fields, String className,
      java.util.function.Function<String, int[]> shapeOf) {
    BodyReader.Pieces p = split(call, unit, fields, className);
    int[] shape = p == null ? null : shapeOf.apply(p.value());
    if (shape == null) {
      return List.of();
    }
    int[] lengths;
    try {
      lengths = p.split().lengths(shape);
    } catch (RuntimeException e) { // a dimension out of range or lengths that do not add up: the shape checker's message
      diagnostics.error(unit, call, Message.UNSUPPORTED_FUNCTION, call + ": " + e.getMessage());
      return List.of();
    }
    List<String> out = new ArrayList<>();
    for (int i = 0; i < lengths.length; i++) {
      out.add(values.step(p.value(), new Split.Piece(p.split(), i), null, p.split().text() + "[" + i + "]", code.source(unit, call)));
    }
    return out;
  }

  /**
   * {@code qkv[i]} of a piece array, or {@code x.chunk(2, -1)[i]} of a split written in place: the piece's step
   * (one per piece however often it is read); null after an error.
   */
  String piece(ArrayAccessTree aa, CompilationUnitTree unit, Map<String, LayerNode> fields, String className) {
    String name = arrayName(aa);
    if (brokenPieces.contains(name)) {
      return null;
    }
    Object index = code.foldOrNull(aa.getIndex(), unit);
    if (!(index instanceof Integer i) || i < 0) {
      if (!code.unresolved(unit, aa.getIndex())) {
        diagnostics.error(unit, aa, Message.PIECE_INDEX, aa, index == null ? aa.getIndex() : index);
      }
      return null;
    }
    BodyReader.Pieces p = pieces.containsKey(name) ? pieces.get(name) : split(splitCall(aa.getExpression(), unit), unit, fields, className);
    if (p == null) {
      return null;
    }
    String known = p.read().get(i);
    if (known != null) {
      return known;
    }
    String text = p.split().text() + "[" + i + "]";
    String out = values.step(p.value(), new Split.Piece(p.split(), i), null, text, code.source(unit, aa));
    p.read().put(i, out);
    return out;
  }
}
