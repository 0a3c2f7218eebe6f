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
 * tree (statement or expression) or element that causes it. Between {@link #hold} and {@link
 * #release} they are kept back, to be printed or dropped once the model is read.
 */
public final class Diagnostics {
  private final Trees trees;
  private final Messager messager;
  private final List<String> reported = new ArrayList<>();
  private final Set<List<Object>> printed = new HashSet<>();
  /** Messages kept back since {@link #hold}, or null when printing as they come. */
  private List<Runnable> held;

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
      print(() -> trees.printMessage(Kind.ERROR, text, tree, unit));
    }
  }

  /** An error on an element (a class, method or field). */
  public void error(Element element, Message message, Object... args) {
    String text = message.format(args);
    reported.add(text);
    print(() -> messager.printMessage(Kind.ERROR, text, element));
  }

  /**
   * An error on an element that adds advice to an error javac printed before processing (one in
   * the class header): printed at once, never held back nor dropped with the model's others.
   */
  public void adviceOnJavacError(Element element, Message message, Object... args) {
    String text = message.format(args);
    reported.add(text);
    messager.printMessage(Kind.ERROR, text, element);
  }

  /** An error on an annotation of {@code element} (javac points at the annotation's line). */
  public void error(Element element, AnnotationMirror annotation, Message message, Object... args) {
    String text = message.format(args);
    reported.add(text);
    print(() -> messager.printMessage(Kind.ERROR, text, element, annotation));
  }

  private void print(Runnable message) {
    if (held != null) {
      held.add(message);
    } else {
      message.run();
    }
  }

  /** Keeps the messages reported from now on back until {@link #release}. */
  public void hold() {
    held = new ArrayList<>();
  }

  /** Whether messages are being kept back that {@link #release} would print. */
  public boolean holding() {
    return held != null && !held.isEmpty();
  }

  /** Prints the messages kept back since {@link #hold}, or drops them; then prints as they come. */
  public void release(boolean drop) {
    List<Runnable> messages = held;
    held = null;
    if (messages != null && !drop) {
      messages.forEach(Runnable::run);
    }
  }

  /** How many errors were reported so far. */
  public int count() {
    return reported.size();
  }
}
