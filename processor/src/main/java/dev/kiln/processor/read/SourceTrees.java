package dev.kiln.processor.read;

import com.sun.source.tree.CompilationUnitTree;
import com.sun.source.tree.ExpressionTree;
import com.sun.source.tree.MethodInvocationTree;
import com.sun.source.tree.Tree;
import com.sun.source.util.TreePath;
import com.sun.source.util.Trees;
import dev.kiln.processor.Diagnostics;
import dev.kiln.processor.Message;
import dev.kiln.processor.ir.Source;
import java.util.ArrayList;
import java.util.List;
import javax.lang.model.element.Element;
import javax.lang.model.element.ExecutableElement;
import javax.lang.model.element.PackageElement;
import javax.lang.model.element.TypeElement;
import javax.lang.model.type.TypeKind;
import javax.lang.model.type.TypeMirror;
import javax.lang.model.util.Elements;
import javax.lang.model.util.Types;

/**
 * The source being read as javac holds it: its trees, elements and types, the {@link ConstantFolder} of its constants,
 * the {@link Diagnostics} its errors go to, and what every reader asks of them (the {@link Source} of a tree, a type
 * by name, arguments folded to constants, whether javac could not resolve a tree). Built once by
 * {@link DeclarationReader}; a reader that needs nothing of the model being read takes this instead.
 */
final class SourceTrees {
  final Trees trees;
  final Elements elements;
  final Types types;
  final Diagnostics diagnostics;
  final ConstantFolder folder;

  SourceTrees(Trees trees, Elements elements, Types types, Diagnostics diagnostics) {
    this.trees = trees;
    this.elements = elements;
    this.types = types;
    this.diagnostics = diagnostics;
    this.folder = new ConstantFolder(trees);
  }

  /** Where {@code tree} is written: its unit, itself and its line. */
  Source source(CompilationUnitTree unit, Tree tree) {
    long pos = trees.getSourcePositions().getStartPosition(unit, tree);
    return new Source(unit, tree, unit.getLineMap().getLineNumber(pos));
  }

  TypeMirror type(String qualifiedName) {
    return elements.getTypeElement(qualifiedName).asType();
  }

  String packageOf(Element e) {
    PackageElement p = elements.getPackageOf(e);
    return p.isUnnamed() ? "" : p.getQualifiedName().toString();
  }

  /** {@code Outer.Inner} for a nested class, as written in source. */
  String nestedName(TypeElement type) {
    String qualified = type.getQualifiedName().toString();
    String pkg = packageOf(type);
    return pkg.isEmpty() ? qualified : qualified.substring(pkg.length() + 1);
  }

  /**
   * Whether javac cannot resolve {@code tree} (a misspelt name, method or class). Such a tree gets
   * no message of ours: javac's own "cannot find symbol" says it better, and a processor error
   * would make javac drop it. The model is then not generated.
   */
  boolean unresolved(CompilationUnitTree unit, Tree tree) {
    TreePath path = TreePath.getPath(unit, tree);
    if (path == null) {
      return false;
    }
    TypeMirror type = trees.getTypeMirror(path);
    return type != null && type.getKind() == TypeKind.ERROR;
  }

  /** The constant value of {@code e}, or null when it is not one. */
  Object foldOrNull(ExpressionTree e, CompilationUnitTree unit) {
    return folder.foldOrNull(e, unit);
  }

  /** Folds arguments to constants; null after reporting the first that is not one. */
  List<Object> constants(List<? extends ExpressionTree> trees, String label, String callee, CompilationUnitTree unit) {
    List<Object> args = new ArrayList<>();
    for (ExpressionTree a : trees) {
      try {
        args.add(folder.fold(a, unit));
      } catch (ConstantFolder.NotConstant e) {
        notConstant(e, unit, label, () -> {
          if (!unresolved(unit, e.tree)) { // else a typo, which javac reports itself
            if (e.getMessage() != null && e.getMessage().contains("(...) ")) { // a static helper's own reason
              diagnostics.error(unit, e.tree, Message.NON_CONSTANT_HELPER, label, e.tree, callee, e.getMessage());
            } else {
              diagnostics.error(unit, e.tree, Message.NON_CONSTANT_ARGUMENT, label, e.tree, callee);
            }
          }
        });
        return null;
      }
    }
    return args;
  }

  /**
   * Reports {@code ex}, which a constant needed at {@code use} threw: nothing when it was reported already (a dimension out
   * of range, {@code x.size(3)} of {@code [N, 6]}), the batch's error where it reads the batch size, else {@code otherwise}'s.
   */
  void notConstant(ConstantFolder.NotConstant ex, CompilationUnitTree unit, String use, Runnable otherwise) {
    if (ex.batch) {
      diagnostics.error(unit, ex.tree, Message.BATCH_SIZE_CONSTANT, use, ex.tree);
    } else if (!ex.reported) {
      otherwise.run();
    }
  }

  /** Whether {@code mi} calls the method {@code name} of the class {@code owner}. */
  boolean calledMethod(MethodInvocationTree mi, CompilationUnitTree unit, String owner, String name) {
    return trees.getElement(TreePath.getPath(unit, mi)) instanceof ExecutableElement ex && ex.getSimpleName().contentEquals(name)
        && ex.getEnclosingElement() instanceof TypeElement t && t.getQualifiedName().contentEquals(owner);
  }
}
