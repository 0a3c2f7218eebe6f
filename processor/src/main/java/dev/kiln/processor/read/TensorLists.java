package dev.kiln.processor.read;

import com.sun.source.tree.CompilationUnitTree;
import com.sun.source.tree.ExpressionStatementTree;
import com.sun.source.tree.ExpressionTree;
import com.sun.source.tree.IdentifierTree;
import com.sun.source.tree.MemberSelectTree;
import com.sun.source.tree.MethodInvocationTree;
import com.sun.source.tree.NewClassTree;
import com.sun.source.tree.VariableTree;
import com.sun.source.util.TreePath;
import com.sun.source.util.Trees;
import dev.kiln.processor.Diagnostics;
import dev.kiln.processor.Message;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.lang.model.element.Element;
import javax.lang.model.element.TypeElement;
import javax.lang.model.type.DeclaredType;
import javax.lang.model.type.TypeMirror;

/**
 * Lists of values built in forward, PyTorch's list comprehension {@code [F.relu(conv(x)) for conv in self.convs]} and
 * {@code outputs += [output]} written in Java: a local {@code List<Tensor> xs = new ArrayList<>();}, values appended by
 * {@code xs.add(value);} (in an unrolled loop too), read by {@code Tensor.cat(xs, dim)} and by {@code for (Tensor t : xs)}
 * (unrolled over the values held there). The list holds the values read, in order, so each use reads the values added
 * before it, as Java runs the method; nothing else is a step.
 */
final class TensorLists {
  private final Trees trees;
  private final Diagnostics diagnostics;
  private final String methodName;
  /** Each list local's values so far, in the order added. */
  private final Map<String, List<String>> lists = new HashMap<>();
  /** Lists a value of which had an error (reported): their uses stay silent. */
  private final Set<String> broken = new HashSet<>();

  TensorLists(Trees trees, Diagnostics diagnostics, String methodName) {
    this.trees = trees;
    this.diagnostics = diagnostics;
    this.methodName = methodName;
  }

  /** {@code List<Tensor> xs = new ArrayList<>();}: declares an empty list (again, when a loop or another mode reads it anew). */
  boolean declares(VariableTree v, CompilationUnitTree unit) {
    if (!(v.getInitializer() instanceof NewClassTree nc) || !nc.getArguments().isEmpty() || nc.getClassBody() != null
        || !holdsTensors(trees.getElement(TreePath.getPath(unit, v)))) {
      return false;
    }
    lists.put(v.getName().toString(), new ArrayList<>());
    broken.remove(v.getName().toString());
    return true;
  }

  /**
   * {@code xs.add(value);} of a list {@link #declares} made: appends the value {@code read} reads (null after an error,
   * which leaves the list silent). False for any other statement.
   */
  boolean adds(ExpressionStatementTree s, CompilationUnitTree unit, java.util.function.Function<ExpressionTree, String> read) {
    if (!(s.getExpression() instanceof MethodInvocationTree mi && mi.getMethodSelect() instanceof MemberSelectTree ms
        && ms.getExpression() instanceof IdentifierTree list && lists.containsKey(list.getName().toString()))) {
      return false;
    }
    String name = list.getName().toString();
    if (!ms.getIdentifier().contentEquals("add") || mi.getArguments().size() != 1) {
      diagnostics.error(unit, s, Message.TENSOR_LIST, methodName, s.getExpression(), name);
      broken.add(name);
      return true;
    }
    String value = read.apply(mi.getArguments().get(0));
    if (value == null) {
      broken.add(name);
    } else {
      lists.get(name).add(value);
    }
    return true;
  }

  /** Whether {@code e} names a list {@link #declares} made. */
  boolean isList(ExpressionTree e) {
    return DeclarationReader.stripped(e) instanceof IdentifierTree id && lists.containsKey(id.getName().toString());
  }

  /**
   * The values the list {@code e} names holds where it is read, in order; null (after an error, reported here or before) when
   * one of them had an error or it holds none ({@code what} names the use for the message).
   */
  List<String> values(ExpressionTree e, CompilationUnitTree unit, Object what) {
    String name = ((IdentifierTree) DeclarationReader.stripped(e)).getName().toString();
    if (broken.contains(name)) {
      return null;
    }
    if (lists.get(name).isEmpty()) {
      diagnostics.error(unit, e, Message.TENSOR_LIST_EMPTY, methodName, what, name);
      return null;
    }
    return List.copyOf(lists.get(name));
  }

  /** Whether {@code local}'s type is a {@code List} (or {@code ArrayList}, ...) of {@code Tensor}. */
  private static boolean holdsTensors(Element local) {
    if (local == null || !(local.asType() instanceof DeclaredType type) || type.getTypeArguments().size() != 1) {
      return false;
    }
    TypeMirror of = type.getTypeArguments().get(0);
    String raw = ((TypeElement) type.asElement()).getQualifiedName().toString();
    return of instanceof DeclaredType t && ((TypeElement) t.asElement()).getQualifiedName().contentEquals(DeclarationReader.TENSOR)
        && (raw.equals("java.util.List") || raw.equals("java.util.ArrayList") || raw.equals("java.util.LinkedList"));
  }
}
