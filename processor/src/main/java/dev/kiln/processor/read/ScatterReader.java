package dev.kiln.processor.read;

import com.sun.source.tree.CompilationUnitTree;
import com.sun.source.tree.ExpressionTree;
import com.sun.source.tree.MemberSelectTree;
import com.sun.source.tree.MethodInvocationTree;
import dev.kiln.processor.Diagnostics;
import dev.kiln.processor.Message;
import dev.kiln.processor.ir.Scatter;
import dev.kiln.processor.ir.TensorIr;
import dev.kiln.runtime.Shapes;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import javax.lang.model.element.Element;
import javax.lang.model.element.ExecutableElement;
import javax.lang.model.element.Modifier;
import javax.lang.model.element.TypeElement;
import javax.lang.model.element.VariableElement;
import javax.lang.model.type.TypeKind;

/**
 * Writes by index in forward, for {@link BodyReader}: {@code x.scatter(dim, index, src)}, {@code x.scatter(dim, index,
 * value)}, {@code x.scatterAdd(dim, index, src)} of ids of the batch, and {@code x.indexAdd(dim, index, source[, alpha])},
 * {@code x.indexCopy(dim, index, source)}, {@code x.indexFill(dim, index, value)}, {@code x.indexSelect(dim, index)} of ids built
 * from constants or of a buffer of ids (read at each call), and {@code x.gather(dim, index)} of ids of the batch, each a
 * {@link Scatter} step. Any other index is an error on the line naming what compiles.
 */
final class ScatterReader {
  private final BodyReader steps;
  private final SourceTrees code;
  private final Diagnostics diagnostics;

  ScatterReader(BodyReader steps, SourceTrees code) {
    this.steps = steps;
    this.code = code;
    this.diagnostics = code.diagnostics;
  }

  /** The write {@code method} makes ({@code x.scatterAdd(...)}: SCATTER_ADD), or null for any other method. */
  static Scatter.Op write(Element method) {
    if (!(method instanceof ExecutableElement ex) || ex.getModifiers().contains(Modifier.STATIC)
        || !((TypeElement) ex.getEnclosingElement()).getQualifiedName().contentEquals(DeclarationReader.TENSOR)) {
      return null;
    }
    return switch (ex.getSimpleName().toString()) {
      case "scatter" -> ex.getParameters().get(2).asType().getKind() == TypeKind.FLOAT ? Scatter.Op.SCATTER_VALUE : Scatter.Op.SCATTER;
      case "scatterAdd" -> Scatter.Op.SCATTER_ADD;
      case "indexAdd" -> Scatter.Op.INDEX_ADD;
      case "indexCopy" -> Scatter.Op.INDEX_COPY;
      case "indexFill" -> Scatter.Op.INDEX_FILL;
      case "gather" -> Scatter.Op.GATHER;
      case "indexSelect" -> Scatter.Op.INDEX_SELECT;
      default -> null;
    };
  }

  /** {@code x.scatter(1, ids, src)} and the other writes: a {@link Scatter} step reading x, the source, the index; null after an error. */
  String write(MethodInvocationTree mi, Scatter.Op op, CompilationUnitTree unit, Map<String, LayerNode> fields, String className) {
    List<? extends ExpressionTree> args = mi.getArguments();
    ExpressionTree receiver = ((MemberSelectTree) mi.getMethodSelect()).getExpression();
    List<Object> dim = code.constants(List.of(args.get(0)), mi.toString(), op.method, unit);
    if (dim == null) {
      return null;
    }
    ExpressionTree index = args.get(1);
    boolean constantIndex = steps.idsReader.isConstantIds(index, unit);
    List<Integer> ids = null;
    String idsText = index.toString();
    if (op.byElement && constantIndex) {
      diagnostics.error(unit, index, Message.SCATTER_INDEX, mi, index + " is ids built from constants, the same for every sample,"
          + " where " + op.method + "'s index has the input's rank, the batch first", op.method, "ids of the batch of the input's rank:"
          + " a further input of ids (@Input), an argmax's, argmin's, topk's or argsort's indices (logits.argmax(1, true)), or views"
          + " of them; the same slices of every sample are indexSelect, indexCopy, indexAdd or indexFill of Tensor.labels(...)");
      return null;
    }
    TensorIr buffer = null;
    if (!op.byElement && !constantIndex) {
      Element held = code.trees.getElement(com.sun.source.util.TreePath.getPath(unit, index));
      boolean field = held instanceof VariableElement v && steps.isTensorField(v);
      buffer = field ? buffer(mi, op, (VariableElement) held, index, unit, className) : null;
      if (buffer == null) {
        if (!field) {
          diagnostics.error(unit, index, Message.SCATTER_INDEX, mi, index + " is not ids built from constants", op.method,
              SAME_SLICES);
        }
        return null;
      }
    }
    if (!op.byElement && buffer == null) {
      IdsReader.BuiltIds built = steps.idsReader.builtIds(index, unit, mi.toString());
      if (built == null) {
        return null;
      }
      if (built.shape().length > 1) {
        diagnostics.error(unit, index, Message.SCATTER_INDEX, mi, built.text() + " is " + Shapes.toString(built.shape())
            + ", where " + op.method + "'s index is rank-1", op.method, "rank-1 ids built from constants: Tensor.labels(0, 2)");
        return null;
      }
      ids = Arrays.stream(built.ids()).boxed().toList();
      idsText = built.text();
    }
    float value = 0f, alpha = 1f;
    if (!op.hasSource && !op.reads() || args.size() == 4) {
      List<Object> c = code.constants(List.of(args.get(op.hasSource ? 3 : 2)), mi.toString(), op.method, unit);
      if (c == null) {
        return null;
      }
      if (op.hasSource) {
        alpha = ((Number) c.get(0)).floatValue();
      } else {
        value = ((Number) c.get(0)).floatValue();
      }
    }
    Scatter spec = buffer != null
        ? new Scatter(op, ((Number) dim.get(0)).intValue(), value, alpha, null, idsText, buffer.field(), buffer.shape()[0])
        : new Scatter(op, ((Number) dim.get(0)).intValue(), value, alpha, ids, idsText);
    List<String> inputs = new ArrayList<>();
    String x = steps.expression(receiver, unit, fields, className);
    String src = op.hasSource ? steps.expression(args.get(2), unit, fields, className) : null;
    String idsValue = op.byElement ? steps.expression(index, unit, fields, className) : null;
    if (x == null || op.hasSource && src == null || op.byElement && idsValue == null) {
      return null;
    }
    inputs.add(x);
    if (src != null) {
      inputs.add(src);
    }
    if (idsValue != null) {
      inputs.add(idsValue);
    }
    if (buffer != null) {
      inputs.add(buffer.value());
    }
    return steps.step(inputs, spec, null, mi.toString(), code.source(unit, mi));
  }

  /** What a compiled index form takes as its index, for messages. */
  private static final String SAME_SLICES = "the same slices of every sample, ids built from constants in forward: Tensor.labels(0, 2)"
      + " (a constant int[], IntStream.range of constants), as written or held in a local, or a buffer of rank-1 ids"
      + " (registerBuffer(\"perm\", Tensor.labels(2, 0, 1))), read at each call";

  /**
   * The buffer of ids {@code field} as an index form's index ({@code x.indexSelect(2, perm)}): a buffer of the model's own, not
   * computed from another, of rank 1, whose values the generated code reads at each call (eager's checks there); null after an
   * error on the line.
   */
  private TensorIr buffer(MethodInvocationTree mi, Scatter.Op op, VariableElement field, ExpressionTree index, CompilationUnitTree unit,
      String className) {
    String value = steps.tensorField(field, index, unit, className);
    TensorIr t = value == null ? null : steps.tensors.byValue(value);
    if (t == null) {
      return null;
    }
    String problem = t.isParameter() ? " is " + t.describe() + ", not ids"
        : t.shape().length != 1 ? " is " + t.describe() + ", where " + op.method + "'s index is rank-1" : null;
    if (problem != null) {
      diagnostics.error(unit, index, Message.SCATTER_INDEX, mi, index + problem, op.method, SAME_SLICES);
      return null;
    }
    return t;
  }
}
