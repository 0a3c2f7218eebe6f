package dev.kiln.processor.read;

import com.sun.source.tree.CompilationUnitTree;
import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.MultiheadAttention;
import dev.kiln.dsl.TransformerEncoderLayer;
import dev.kiln.processor.ir.LayerIr;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.lang.model.element.Element;
import javax.lang.model.element.ExecutableElement;
import javax.lang.model.element.TypeElement;

/** A layer as declared: a leaf with its spec, a Sequential of children, a block or a ModuleList. */
sealed interface LayerNode permits LayerNode.Leaf, LayerNode.Seq, LayerNode.Blk, LayerNode.Lst, LayerNode.Att {
  record Leaf(LayerIr layer) implements LayerNode {}

  record Seq(String path, List<LayerNode> children) implements LayerNode {}

  /**
   * A block: a {@code Module} subclass whose source is in the compilation ({@code final Block h0 = new Block(D);}),
   * its layers read as children at {@code path}, its forward inlined where it is applied, with {@code constants}
   * (its constructor's parameters and the fields it sets from them) folding to their values there.
   */
  record Blk(String path, TypeElement type, CompilationUnitTree unit, ExecutableElement forward,
      Map<String, LayerNode> fields, Set<String> broken, Map<Element, Object> constants, TensorFieldReader tensors)
      implements LayerNode {}

  /** A {@code ModuleList}: its modules by position (children {@code 0}, {@code 1}, ...), applied one by one. */
  record Lst(String path, List<LayerNode> children) implements LayerNode {}

  /**
   * A dsl attention layer ({@link AttentionLayers}): a {@code MultiheadAttention} or {@code TransformerEncoderLayer}
   * ({@code spec} its spec, {@code count} 0), or a {@code TransformerEncoder} of {@code count} copies of the encoder layer
   * {@code spec} with its final {@code norm} (or null); {@code layers} the children it holds, by path.
   */
  record Att(String path, LayerSpec spec, int count, LayerIr norm, Map<String, LayerIr> layers) implements LayerNode {}
}
