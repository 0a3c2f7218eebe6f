package dev.kiln.processor.read;

import com.sun.source.tree.CompilationUnitTree;
import com.sun.source.tree.ExpressionTree;
import com.sun.source.tree.IdentifierTree;
import com.sun.source.tree.MemberSelectTree;
import com.sun.source.tree.MethodInvocationTree;
import com.sun.source.tree.Tree;
import com.sun.source.tree.VariableTree;
import com.sun.source.util.TreePath;
import com.sun.source.util.Trees;
import dev.kiln.dsl.Dropout;
import dev.kiln.dsl.Dropout2d;
import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.Recurrent;
import dev.kiln.processor.Diagnostics;
import dev.kiln.processor.Message;
import dev.kiln.processor.ir.StepIr;
import dev.kiln.runtime.Shapes;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.lang.model.element.VariableElement;
import javax.lang.model.type.ArrayType;
import javax.lang.model.type.TypeKind;
import dev.kiln.processor.read.LayerNode.Leaf;

/**
 * Sizes read as constants in forward, for {@link BodyReader}: the shapes of the values read so far
 * ({@link ValueSizes}), {@code x.size(1)}, {@code int} locals of shapes, and a view's inferred {@code -1}.
 */
final class SizeReader {
  private final BodyReader steps;
  private final DeclarationReader reader;
  private final SourceTrees code;
  private final Trees trees;
  private final Diagnostics diagnostics;
  private final ConstantFolder folder;

  SizeReader(BodyReader steps, DeclarationReader reader) {
    this.steps = steps;
    this.reader = reader;
    this.code = reader.code;
    this.trees = reader.trees;
    this.diagnostics = reader.diagnostics;
    this.folder = code.folder;
  }

  // -------------------------------------------------------------- sizes of values read as constants

  /** The shapes of the values read so far ({@link ValueSizes}), made for this method's steps when first needed. */
  ValueSizes sizes() {
    if (steps.sizes == null) {
      TensorFieldReader own = steps.tensors;
      steps.sizes = new ValueSizes(reader.modelInput == null ? new int[0] : reader.modelInput, steps.inputName, steps.further, () -> reader.allTensors(own), steps.list, trees,
          diagnostics);
    }
    return steps.sizes;
  }

  /**
   * A size of a value held in a local, read in forward (or a method or block it inlines) as a constant, PyTorch's {@code B,
   * T, C = x.size()}: {@code x.size(d)} ({@code d} negative from the end), {@code x.dim()}, and {@code x.shape()}, which
   * folds only indexed ({@code x.shape()[1]}, {@code int[] s = x.shape(); s[1]}); each from the shape the checker infers
   * for the value where it is read. The batch ({@code x.size(0)}) is not a constant: folding it fails, saying so, and a
   * view's first size or zero initial states take it as the batch ({link BodyReader#isBatchSize}). Null for a call that reads no
   * size.
   */
  Object valueSize(MethodInvocationTree call, CompilationUnitTree unit) throws ConstantFolder.NotConstant {
    if (!(call.getMethodSelect() instanceof MemberSelectTree ms) || !steps.isTensorMethod(call, unit, false)) {
      return null;
    }
    String name = ms.getIdentifier().toString();
    int arguments = call.getArguments().size();
    if (!(name.equals("size") && arguments == 1 || (name.equals("shape") || name.equals("dim")) && arguments == 0)) {
      return null;
    }
    ExpressionTree receiver = DeclarationReader.stripped(ms.getExpression());
    String value = receiver instanceof IdentifierTree id ? steps.locals.get(id.getName().toString()) : null;
    if (value == null && receiver instanceof IdentifierTree id && steps.unknown.contains(id.getName().toString())) {
      throw new ConstantFolder.NotConstant(call, "the value of " + receiver + " is unknown after an error", false, true);
    }
    int[] shape = value != null ? sizes().shapeOf(value) : declaredShape(receiver, unit);
    if (value == null && shape == null && receiver instanceof IdentifierTree) {
      throw new ConstantFolder.NotConstant(call, "a size of " + receiver + ", which is not a value held in a local (Tensor h = ...;"
          + " h.size(1)) nor a tensor field");
    }
    if (value == null && shape == null) {
      shape = expressionShape(receiver, unit); // fc.apply(x).size(1)
    }
    if (shape == null) { // after an error in a step before (reported)
      throw new ConstantFolder.NotConstant(call, "the shape of " + receiver + " is unknown after an error", false, true);
    }
    if (name.equals("dim")) {
      return shape.length;
    }
    ValueShape whole = new ValueShape(receiver.toString(), shape, unit);
    if (name.equals("shape")) {
      return whole;
    }
    if (!(folder.fold(call.getArguments().get(0), unit) instanceof Integer d)) {
      throw new ConstantFolder.NotConstant(call.getArguments().get(0), "not an int dimension");
    }
    return whole.at(d, call);
  }

  /**
   * The declared shape of a tensor field ({@code pos}, {@code this.pos}) or of a layer's parameter ({@code fc.weight()},
   * {@code fc.bias()}) whose size is read: a constant, and no read of the field by the graph; null for any other
   * expression. An error (a field's declaration, a layer without that parameter) is reported, and thrown as such.
   */
  private int[] declaredShape(ExpressionTree receiver, CompilationUnitTree unit) throws ConstantFolder.NotConstant {
    if ((receiver instanceof IdentifierTree || receiver instanceof MemberSelectTree) && DeclarationReader.fieldName(receiver) != null
        && trees.getElement(TreePath.getPath(unit, receiver)) instanceof VariableElement v && steps.isTensorField(v)) {
      int[] shape = steps.readableField(v, receiver, unit, steps.bodyClass) ? steps.tensors.shape(v) : null;
      if (shape == null) { // (reported: here, or on the field's declaration)
        throw new ConstantFolder.NotConstant(receiver, "the shape of " + receiver + " is unknown after an error", false, true);
      }
      return shape.clone();
    }
    if (!(receiver instanceof MethodInvocationTree accessor) || !accessor.getArguments().isEmpty()
        || !(accessor.getMethodSelect() instanceof MemberSelectTree select) || steps.bodyFields == null
        || DeclarationReader.fieldName(select.getExpression()) == null || !steps.bodyFields.containsKey(DeclarationReader.fieldName(select.getExpression()))) {
      return null;
    }
    String layer = DeclarationReader.fieldName(select.getExpression());
    LayerNode node = steps.bodyFields.get(layer);
    if (steps.broken.contains(layer)) { // (its declaration's error is reported)
      throw new ConstantFolder.NotConstant(receiver, layer + "'s declaration has an error", false, true);
    }
    var shape = node instanceof Leaf leaf ? ParameterShapes.of(leaf.layer().spec(), select.getIdentifier().toString()) : null;
    if (shape == null) {
      diagnostics.error(unit, receiver, Message.PARAMETER_SIZE_UNKNOWN, receiver, layer,
          node instanceof Leaf leaf ? leaf.layer().spec() : layer);
      throw new ConstantFolder.NotConstant(receiver, "a parameter whose shape is not known", false, true);
    }
    if (shape.isEmpty()) {
      diagnostics.error(unit, receiver, Message.PARAMETER_ABSENT, receiver, layer, ((Leaf) node).layer().spec());
      throw new ConstantFolder.NotConstant(receiver, "a parameter the layer has not", false, true);
    }
    return shape.get().clone();
  }

  /**
   * The shape of an expression whose size alone is read ({@code fc.apply(x).size(1)}, {@code x.flatten(1).shape()[1]}): its
   * steps read as if it were held in a local, their shapes inferred, then dropped with all they noted ({@link #mark}), so
   * the graph holds no step the size alone asked for (eager mode computes the value and drops it). A step that draws
   * random numbers or updates running statistics is an error: eager mode runs it, the compiled model would not.
   */
  private int[] expressionShape(ExpressionTree receiver, CompilationUnitTree unit) throws ConstantFolder.NotConstant {
    if (steps.bodyFields == null) {
      throw new ConstantFolder.NotConstant(receiver, "a size of " + receiver + ", outside a method's body");
    }
    SizeMark mark = mark();
    try {
      String value = steps.expression(receiver, unit, steps.bodyFields, steps.bodyClass);
      int[] shape = value == null ? null : sizes().shapeOf(value);
      if (shape == null) { // (reported: the expression's error, or a step's the checker finds)
        throw new ConstantFolder.NotConstant(receiver, "the shape of " + receiver + " is unknown after an error", false, true);
      }
      for (StepIr step : steps.list.subList(mark.steps(), steps.list.size())) {
        String effect = sideEffect(step.spec());
        if (effect != null) {
          diagnostics.error(unit, receiver, Message.SIZE_OF_SIDE_EFFECT, receiver, step.text(), effect);
          throw new ConstantFolder.NotConstant(receiver, "a size of a step with a side effect", false, true);
        }
      }
      return shape;
    } finally {
      reset(mark);
    }
  }

  /** What a step of {@code spec} does besides its value in training (eager mode does it however its value is used), or null. */
  private static String sideEffect(LayerSpec spec) {
    return spec instanceof Dropout.Spec || spec instanceof Dropout2d.Spec
        || spec instanceof Recurrent.Spec r && r.dropout() > 0 && r.numLayers() > 1 ? "draws a dropout mask in training"
        : spec instanceof dev.kiln.dsl.BatchNorm.Options ? "updates its running statistics in training"
        : null;
  }

  /** What reading an expression notes, up to a point: {@link #reset} forgets all noted after it. */
  private record SizeMark(int steps, int counter, int splits, String last, int joins, Map<Tree, Integer> seen,
      Set<String> usedMasks, Map<String, Set<Integer>> pieces, List<TensorFieldReader> readers, List<TensorFieldReader.Mark> read) {}

  private SizeMark mark() {
    Map<String, Set<Integer>> read = new HashMap<>();
    steps.pieces.forEach((name, p) -> read.put(name, Set.copyOf(p.read().keySet())));
    List<TensorFieldReader> readers = new ArrayList<>(reader.blockTensors);
    if (steps.tensors != null) {
      readers.add(steps.tensors);
    }
    return new SizeMark(steps.list.size(), steps.counter, steps.splits, steps.last,
        steps.mode == null ? 0 : steps.mode.joins.size(), steps.mode == null ? Map.of() : steps.mode.seen(), Set.copyOf(steps.maskReader.usedMasks), read, readers,
        readers.stream().map(TensorFieldReader::mark).toList());
  }

  /** Forgets what was read after {@code mark}: its steps (numbered again from there), splits, mode joins, masks, fields. */
  private void reset(SizeMark mark) {
    steps.list.subList(mark.steps(), steps.list.size()).clear();
    steps.counter = mark.counter();
    steps.splits = mark.splits();
    steps.last = mark.last();
    if (steps.mode != null) { // (its reads of a mode are kept: the size may depend on the mode, and is read in both then)
      steps.mode.joins.subList(mark.joins(), steps.mode.joins.size()).clear();
      steps.mode.seen(mark.seen());
    }
    steps.maskReader.usedMasks.retainAll(mark.usedMasks());
    steps.pieces.keySet().retainAll(mark.pieces().keySet());
    steps.pieces.forEach((name, p) -> p.read().keySet().retainAll(mark.pieces().get(name)));
    for (int i = 0; i < mark.readers().size(); i++) {
      mark.readers().get(i).reset(mark.read().get(i));
    }
    sizes().forget();
  }

  /** {@code x.shape()} of a value of {@code shape} ({@code -1} the batch): its sizes after the batch fold, read by index. */
  private final class ValueShape implements ConstantFolder.Indexed {
    private final String value;
    private final int[] shape;
    private final CompilationUnitTree unit;

    ValueShape(String value, int[] shape, CompilationUnitTree unit) {
      this.value = value;
      this.shape = shape;
      this.unit = unit;
    }

    @Override
    public Object at(int index, ExpressionTree where) throws ConstantFolder.NotConstant {
      int rank = shape.length;
      if (index < -rank || index >= rank) {
        diagnostics.error(unit, where, Message.SIZE_DIMENSION, where, index, value, Shapes.toString(shape), rank, -rank, rank - 1);
        throw new ConstantFolder.NotConstant((ExpressionTree) where, "dimension " + index + " is out of range", false, true);
      }
      int size = shape[index < 0 ? index + rank : index];
      if (size < 0) {
        throw new ConstantFolder.NotConstant(where, "the batch size, which varies from call to call", true, false);
      }
      return size;
    }

    @Override
    public String whole() {
      return value + ".shape() holds the batch size, which varies from call to call: index it after the batch ("
          + value + ".shape()[1])";
    }
  }

  /** {@code int[] s = x.shape();} (or of constants): the local folds to the shape, indexed where it is read; false for any other. */
  boolean shapeLocal(VariableTree v, CompilationUnitTree unit) {
    if (v.getInitializer() == null || !(trees.getElement(TreePath.getPath(unit, v)) instanceof VariableElement e)
        || !(e.asType() instanceof ArrayType array) || array.getComponentType().getKind() != TypeKind.INT) {
      return false;
    }
    try {
      folder.define(e, folder.foldIndexed(v.getInitializer(), unit));
      return true;
    } catch (ConstantFolder.NotConstant ex) {
      return false;
    }
  }

  /**
   * The sizes of {@code x.view(B, T, C)} ({@code reshape}) folded, a first size that is the batch ({@code B = x.size(0)},
   * {@code x.size(0)}) read as {@code -1}, PyTorch's {@code x.view(B, T, n_head, C // n_head)}; null after an error.
   */
  List<Object> viewSizes(List<? extends ExpressionTree> sizes, String label, CompilationUnitTree unit, String input) {
    boolean batchFirst = !sizes.isEmpty() && steps.isBatchSize(sizes.get(0), unit);
    List<Object> folded = code.constants(batchFirst ? sizes.subList(1, sizes.size()) : sizes, label, "reshape", unit);
    if (folded != null && batchFirst) {
      inferOne(folded, input);
      folded.add(0, -1);
    }
    return folded;
  }

  /**
   * A view's one {@code -1} after the batch written as the batch ({@code x.view(B, -1)}, PyTorch's flatten of each
   * sample) as the size it stands for, from {@code input}'s shape: the batch taken, it is no longer ambiguous.
   */
  private void inferOne(List<Object> sizes, String input) {
    int at = sizes.indexOf(-1);
    int[] shape = at < 0 || sizes.lastIndexOf(-1) != at ? null : sizes().shapeOf(input);
    if (shape == null || shape.length == 0 || !sizes.stream().allMatch(v -> v instanceof Integer)) {
      return;
    }
    long values = 1;
    for (int i = 1; i < shape.length; i++) {
      values *= shape[i];
    }
    long known = 1;
    for (Object v : sizes) {
      known *= (Integer) v == -1 ? 1 : (Integer) v;
    }
    if (known > 0 && values % known == 0) {
      sizes.set(at, (int) (values / known));
    }
  }
}
