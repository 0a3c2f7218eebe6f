package dev.kiln.processor.ir;

import com.sun.source.tree.CompilationUnitTree;
import com.sun.source.tree.Tree;

/**
 * Where a piece of the IR came from: kept only to report diagnostics on the right tree and to
 * name the source line in generated comments ({@code Models.java:24}).
 */
public record Source(CompilationUnitTree unit, Tree tree, long line) {
  /** {@code File.java:line}. */
  public String where() {
    String name = unit.getSourceFile().getName();
    int slash = Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\'));
    return name.substring(slash + 1) + ":" + line;
  }
}
