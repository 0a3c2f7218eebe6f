package dev.kiln.processor.read;

import com.sun.source.tree.CompilationUnitTree;
import com.sun.source.tree.ExpressionTree;
import dev.kiln.dsl.LayerSpec;
import dev.kiln.processor.ir.LayerIr;
import dev.kiln.processor.ir.Source;
import java.util.Map;

/**
 * The values of a body being read, for a reader that needs no more of it ({@link SplitReader}): {@link BodyReader} reads
 * an expression into the steps that compute it, writes a step, and sets a local.
 */
interface ValueReader {
  /** Reads {@code e} into steps: the value that holds it, or null after an error (reported). */
  String expression(ExpressionTree e, CompilationUnitTree unit, Map<String, LayerNode> fields, String className);

  /** A step of {@code spec} (a layer's when {@code layer} is not null) reading {@code input}: its value. */
  String step(String input, LayerSpec spec, LayerIr layer, String text, Source where);

  /** Makes {@code local} hold {@code value} from here on; unknown (its uses silent) where {@code value} is null. */
  void assign(String local, String value);
}
