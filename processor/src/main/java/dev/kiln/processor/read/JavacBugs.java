package dev.kiln.processor.read;

import com.sun.source.tree.ClassTree;
import com.sun.source.tree.CompilationUnitTree;
import com.sun.source.tree.MethodTree;
import com.sun.source.tree.NewClassTree;
import com.sun.source.tree.Tree;
import com.sun.source.tree.VariableTree;
import com.sun.source.util.SourcePositions;
import com.sun.source.util.TreePath;
import com.sun.source.util.TreeScanner;
import com.sun.source.util.Trees;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import javax.lang.model.element.Element;

/**
 * Valid constructs that javac itself then rejects, because an annotation processor had it
 * attribute the class they sit in (the processor reads a model's types that way): a record's
 * canonical constructor, compact or written out ("invalid canonical constructor ... must not
 * contain explicit constructor invocation", JDK-8387215: the attribution's implicit {@code super()}
 * survives into the next round) and an anonymous class held in a {@code var} ("cannot find symbol class Net$1": the
 * variable keeps the type attribution gave it). Found by the source text alone, anywhere in the
 * top-level class that holds the model, so that a note can say what javac's error means.
 */
public final class JavacBugs {
  private JavacBugs() {}

  /** Whether a constructor starts with {@code this(...)}: a record's non-canonical one, which javac accepts. */
  private static boolean delegates(MethodTree m) {
    return !m.getBody().getStatements().isEmpty()
        && m.getBody().getStatements().get(0) instanceof com.sun.source.tree.ExpressionStatementTree e
        && e.getExpression() instanceof com.sun.source.tree.MethodInvocationTree call
        && call.getMethodSelect() instanceof com.sun.source.tree.IdentifierTree id && id.getName().contentEquals("this");
  }

  /** A construct and where it is. */
  public record Found(Tree tree, CompilationUnitTree unit, String note) {}

  /** The constructs in the top-level class around {@code model}. */
  public static List<Found> in(Element model, Trees trees) {
    TreePath path = trees.getPath(model);
    if (path == null) {
      return List.of();
    }
    CompilationUnitTree unit = path.getCompilationUnit();
    String text;
    try {
      text = unit.getSourceFile().getCharContent(true).toString();
    } catch (IOException e) {
      return List.of();
    }
    TreePath top = path;
    while (top.getParentPath() != null && top.getParentPath().getLeaf() instanceof ClassTree) {
      top = top.getParentPath();
    }
    while (!(top.getLeaf() instanceof ClassTree) && top.getParentPath() != null) {
      top = top.getParentPath();
    }
    SourcePositions positions = trees.getSourcePositions();
    List<Found> found = new ArrayList<>();
    new TreeScanner<Void, String>() {
      @Override
      public Void visitClass(ClassTree c, String record) {
        return super.visitClass(c, c.getKind() == Tree.Kind.RECORD ? c.getSimpleName().toString() : null);
      }

      @Override
      public Void visitMethod(MethodTree m, String record) {
        if (record != null && m.getName().contentEquals("<init>") && m.getBody() != null && !delegates(m)
            && positions.getStartPosition(unit, m.getBody()) > positions.getStartPosition(unit, m)) { // written, not implicit
          found.add(new Found(m, unit, "javac may reject this constructor of record " + record + " as an \"invalid canonical"
              + " constructor\": a javac bug (JDK-8387215) when an annotation processor reads the class; declare the record"
              + " outside this class"));
        }
        return super.visitMethod(m, null);
      }

      @Override
      public Void visitVariable(VariableTree v, String record) {
        long start = positions.getStartPosition(unit, v);
        long init = v.getInitializer() == null ? -1 : positions.getStartPosition(unit, v.getInitializer());
        if (v.getInitializer() instanceof NewClassTree nc && nc.getClassBody() != null && start >= 0 && init > start
            && init <= text.length() && text.substring((int) start, (int) init)
                .matches("(?s)((final|@[\\w.]+)\\s+)*var\\s+" + v.getName() + "\\s*=\\s*")) {
          found.add(new Found(v, unit, "javac may report \"cannot find symbol\" for the anonymous class held in var "
              + v.getName() + ": a javac bug when an annotation processor reads the class; name the class (class K"
              + " { ... } K " + v.getName() + " = new K();)"));
        }
        return super.visitVariable(v, record);
      }
    }.scan(top.getLeaf(), null);
    return found;
  }
}
