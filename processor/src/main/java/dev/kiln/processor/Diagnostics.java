package dev.kiln.processor;

import com.sun.source.tree.CompilationUnitTree;
import com.sun.source.tree.Tree;
import com.sun.source.util.Trees;
import dev.kiln.processor.ir.Source;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import javax.annotation.processing.Messager;
import javax.lang.model.element.AnnotationMirror;
import javax.lang.model.element.Element;
import javax.tools.Diagnostic.Kind;

/**
 * Errors of one model, collected by every pass and printed together, each on the most specific
 * tree (statement or expression) or element that causes it.
 */
public final class Diagnostics {
  private final Trees trees;
  private final Messager messager;
  private final List<String> reported = new ArrayList<>();
  private final Set<List<Object>> printed = new HashSet<>();

  public Diagnostics(Trees trees, Messager messager) {
    this.trees = trees;
    this.messager = messager;
  }

  /** An error on a source tree: javac shows the file and line of the tree. */
  public void error(Source where, Message message, Object... args) {
    error(where.unit(), where.tree(), message, args);
  }

  public void error(CompilationUnitTree unit, Tree tree, Message message, Object... args) {
    String text = message.format(args);
    reported.add(text);
    if (printed.add(List.of(unit, tree, text))) { // a Sequential applied twice fails twice on its layer's line
      trees.printMessage(Kind.ERROR, text, tree, unit);
    }
  }

  /** An error on an element (a class, method or field). */
  public void error(Element element, Message message, Object... args) {
    String text = message.format(args);
    reported.add(text);
    messager.printMessage(Kind.ERROR, text, element);
  }

  /** An error on an annotation of {@code element} (javac points at the annotation's line). */
  public void error(Element element, AnnotationMirror annotation, Message message, Object... args) {
    String text = message.format(args);
    reported.add(text);
    messager.printMessage(Kind.ERROR, text, element, annotation);
  }

  /** How many errors were reported so far. */
  public int count() {
    return reported.size();
  }
}
