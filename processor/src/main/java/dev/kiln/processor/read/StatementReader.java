package dev.kiln.processor.read;

import com.sun.source.tree.CompilationUnitTree;
import com.sun.source.tree.StatementTree;
import com.sun.source.tree.Tree;
import java.util.List;
import java.util.Map;

/**
 * The statements of a body read in place, for a reader that reads some of them again and again ({@link LoopUnroller}'s
 * turns): {@link BodyReader} reads them, and says how they ended.
 */
interface StatementReader {
  /**
   * Reads {@code statements} in order as if written where they are read; true when a return ended them, or, {@code inLoop},
   * a {@code break} or {@code continue} ({@link #jump}).
   */
  boolean readStatements(List<? extends StatementTree> statements, CompilationUnitTree unit, Map<String, LayerNode> fields,
      String className, String returned, boolean inLoop);

  /** What ended the statements just read besides a return: a {@code break} or {@code continue} of the loop unrolled; else null. */
  Tree.Kind jump();

  /** Forgets the {@link #jump}: the loop it ended has taken it. */
  void clearJump();

  /**
   * The values a {@code List<Tensor>} local built in the body holds ({@code for (Tensor t : xs)} unrolls over them); an
   * empty list after an error about it (reported); null when {@code listed} is no such list.
   */
  List<String> tensorList(com.sun.source.tree.ExpressionTree listed, CompilationUnitTree unit);

  /**
   * The pieces of a split looped over ({@code for (Tensor t : x.split(1, 1))}, {@code chunk}, {@code unbind}): each
   * piece's step, in order; an empty list after an error (reported); null when {@code listed} is no split.
   */
  List<String> splitPieces(com.sun.source.tree.ExpressionTree listed, CompilationUnitTree unit, Map<String, LayerNode> fields,
      String className);

  /** Binds the local {@code name} to {@code value} as an assignment does (a loop's variable at each unrolled turn). */
  void assign(String name, String value);
}
