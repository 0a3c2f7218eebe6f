package dev.kiln.processor.read;

import com.sun.source.tree.ArrayAccessTree;
import com.sun.source.tree.CompilationUnitTree;
import com.sun.source.tree.ExpressionTree;
import com.sun.source.tree.MemberSelectTree;
import com.sun.source.tree.MethodInvocationTree;
import com.sun.source.tree.ParenthesizedTree;
import com.sun.source.tree.Tree;
import com.sun.source.util.TreePath;
import com.sun.source.util.Trees;
import dev.kiln.dsl.Conv1d;
import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.LayerSpec;
import dev.kiln.processor.Diagnostics;
import dev.kiln.processor.Message;
import dev.kiln.processor.ir.Add;
import dev.kiln.processor.ir.Cat;
import dev.kiln.processor.ir.Compare;
import dev.kiln.processor.ir.Cosine;
import dev.kiln.processor.ir.ExpandField;
import dev.kiln.processor.ir.Div;
import dev.kiln.processor.ir.MatMul;
import dev.kiln.processor.ir.Mul;
import dev.kiln.processor.ir.Reshape;
import dev.kiln.processor.ir.Scale;
import dev.kiln.processor.ir.Source;
import dev.kiln.processor.ir.Sub;
import dev.kiln.processor.ir.GroupNormOf;
import dev.kiln.processor.ir.TensorIr;
import dev.kiln.processor.ir.PointwisePair;
import dev.kiln.processor.ir.Reshape;
import dev.kiln.processor.ir.Where;
import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.cpu.MaskTest;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import javax.lang.model.element.Element;
import javax.lang.model.element.ExecutableElement;
import javax.lang.model.element.TypeElement;
import javax.lang.model.type.TypeMirror;
import javax.lang.model.util.Elements;
import javax.lang.model.util.Types;

/**
 * Function calls in forward, for {@link BodyReader}: {@code F.name(...)} and Tensor methods read as those functions
 * (element-wise, pairs, masked fill, lerp), {@code Tensor.cat}, and the functional convolutions and group norm of tensor fields.
 */
final class FunctionCalls {
  private final BodyReader steps;
  private final SourceTrees code;
  private final Trees trees;
  private final Types types;
  private final Diagnostics diagnostics;

  FunctionCalls(BodyReader steps, SourceTrees code) {
    this.steps = steps;
    this.code = code;
    this.trees = code.trees;
    this.types = code.types;
    this.diagnostics = code.diagnostics;
  }

  /** {@code Tensor.cat(List.of(a, b, ...), dim)}: a step reading every listed value; null after an error. */
  String cat(MethodInvocationTree mi, CompilationUnitTree unit, Map<String, LayerNode> fields, String className) {
    ExpressionTree listed = mi.getArguments().get(0);
    while (listed instanceof ParenthesizedTree p) {
      listed = p.getExpression();
    }
    List<String> held = null;
    if (steps.tensorLists.isList(listed)) { // Tensor.cat(xs, 1) of a list built in forward
      held = steps.tensorLists.values(listed, unit, mi);
      if (held == null) {
        return null;
      }
    }
    Element of = listed instanceof MethodInvocationTree l ? trees.getElement(TreePath.getPath(unit, l)) : null;
    if (held == null && (!(of instanceof ExecutableElement e && e.getSimpleName().contentEquals("of")
        && ((TypeElement) e.getEnclosingElement()).getQualifiedName().contentEquals("java.util.List"))
        || ((MethodInvocationTree) listed).getArguments().isEmpty())) {
      diagnostics.error(unit, listed, Message.CAT_LIST, mi, listed);
      return null;
    }
    List<Object> dim = code.constants(List.of(mi.getArguments().get(1)), mi.toString(), "cat", unit);
    if (dim == null) {
      return null;
    }
    if (!(dim.get(0) instanceof Integer d)) {
      diagnostics.error(unit, mi.getArguments().get(1), Message.UNSUPPORTED_FUNCTION, "Tensor.cat: the dimension must be an int, got "
          + dim.get(0));
      return null;
    }
    if (held != null) {
      return steps.step(held, new Cat(d), null, mi.toString(), code.source(unit, mi));
    }
    List<String> inputs = new ArrayList<>();
    for (ExpressionTree a : ((MethodInvocationTree) listed).getArguments()) {
      String value = steps.expression(a, unit, fields, className);
      if (value == null) {
        return null;
      }
      inputs.add(value);
    }
    return steps.step(inputs, new Cat(d), null, mi.toString(), code.source(unit, mi));
  }

  /** Whether {@code mi} is {@code t.squeeze(dim)} or {@code t.unsqueeze(dim)} of a Tensor ({@link #squeeze}). */
  static boolean isSqueeze(MethodInvocationTree mi, Element method) {
    return method instanceof ExecutableElement ex && Set.of("squeeze", "unsqueeze").contains(ex.getSimpleName().toString())
        && mi.getArguments().size() == 1 && !ex.getModifiers().contains(javax.lang.model.element.Modifier.STATIC)
        && mi.getMethodSelect() instanceof MemberSelectTree
        && ((TypeElement) ex.getEnclosingElement()).getQualifiedName().contentEquals(DeclarationReader.TENSOR);
  }

  /**
   * {@code x.squeeze(dim)} or {@code x.unsqueeze(dim)} of a value of the batch (an attention pooling's {@code pooled.squeeze(1)}
   * of {@code [N, 1, E]}, Kim's CNN's {@code x.unsqueeze(1)} making embedded words one channel): a view of the value
   * ({@link Reshape}), no work; a squeeze of a size other than 1 keeps the shape, as PyTorch's; {@code dim} negative from
   * the end. The batch, or a dimension out of range, is refused on the line. Null after an error (reported).
   */
  String squeeze(MethodInvocationTree mi, CompilationUnitTree unit, Map<String, LayerNode> fields, String className) {
    String name = ((MemberSelectTree) mi.getMethodSelect()).getIdentifier().toString();
    List<Object> dim = code.constants(mi.getArguments(), mi.toString(), name, unit);
    if (dim == null) {
      return null;
    }
    String value = steps.expression(((MemberSelectTree) mi.getMethodSelect()).getExpression(), unit, fields, className);
    int[] shape = value == null ? null : steps.sizeReader.sizes().shapeOf(value);
    if (shape == null) {
      return null;
    }
    if (Cosine.isField(shape)) { // (a buffer's unsqueeze is BufferReader's, computed when the buffer changes)
      diagnostics.error(unit, mi, Message.EAGER_ONLY_TENSOR_METHOD, steps.methodName, name, mi);
      return null;
    }
    boolean un = name.equals("unsqueeze");
    int rank = shape.length + (un ? 1 : 0);
    if (!(dim.get(0) instanceof Integer given)) {
      diagnostics.error(unit, mi, Message.UNSUPPORTED_FUNCTION, mi + ": the dimension must be an int constant");
      return null;
    }
    int d = given < 0 ? given + rank : given;
    if (d < 0 || d >= rank) {
      diagnostics.error(unit, mi, Message.UNSUPPORTED_FUNCTION, mi + ": dimension " + given + " is out of range for "
          + (un ? "a new dimension of " : "") + Shapes.toString(shape) + " (from " + -rank + " to " + (rank - 1) + ")");
      return null;
    }
    if (d == 0) {
      diagnostics.error(unit, mi, Message.UNSUPPORTED_FUNCTION, mi + ": a compiled forward keeps dimension 0 of "
          + Shapes.toString(shape) + " as the batch, so it " + (un ? "adds a dimension after it (x.unsqueeze(1))"
          : "squeezes a dimension after it (x.squeeze(1))") + "; leave out @Model to run it eagerly");
      return null;
    }
    if (!un && shape[d] != 1) {
      return value; // a squeeze of a size other than 1: the value as it is, as PyTorch's
    }
    List<Integer> out = new ArrayList<>();
    for (int s : shape) {
      out.add(s);
    }
    if (un) {
      out.add(d, 1);
    } else {
      out.remove(d);
    }
    return steps.step(List.of(value), new Reshape(out), null, mi.toString(), code.source(unit, mi));
  }

  /** Whether {@code mi} is {@code t.expand(sizes...)} of a Tensor ({@link #expand}). */
  static boolean isExpand(MethodInvocationTree mi, Element method) {
    return method instanceof ExecutableElement ex && ex.getSimpleName().contentEquals("expand")
        && !ex.getModifiers().contains(javax.lang.model.element.Modifier.STATIC) && mi.getMethodSelect() instanceof MemberSelectTree
        && ((TypeElement) ex.getEnclosingElement()).getQualifiedName().contentEquals(DeclarationReader.TENSOR);
  }

  /**
   * {@code field.expand(n, sizes...)}: a tensor field of the model repeated over the batch ({@link ExpandField}), ViT's
   * {@code cls_token.expand(b, -1, -1)} and an attention pooling's learned query; the first size the batch size, the others
   * constants. The expand of a value of the batch is refused naming {@code repeat}. Null after an error (reported).
   */
  String expand(MethodInvocationTree mi, CompilationUnitTree unit, Map<String, LayerNode> fields, String className) {
    ExpressionTree receiver = ((MemberSelectTree) mi.getMethodSelect()).getExpression();
    String value = steps.expression(receiver, unit, fields, className);
    if (value == null) {
      return null;
    }
    TensorIr field = steps.tensors == null ? null : steps.tensors.byValue(value);
    int[] shape = field != null ? field.shape() : steps.sizeReader.sizes().shapeOf(value);
    if (shape == null) {
      return null;
    }
    if (field == null) {
      diagnostics.error(unit, mi, Message.EXPAND_VALUE, steps.methodName, mi);
      return null;
    }
    List<? extends ExpressionTree> args = mi.getArguments();
    if (args.isEmpty() || !steps.isBatchSize(args.get(0), unit)) {
      diagnostics.error(unit, args.isEmpty() ? mi : args.get(0), Message.EXPAND_FIELD_BATCH, steps.methodName, mi, receiver);
      return null;
    }
    List<Object> sizes = code.constants(args.subList(1, args.size()), mi.toString(), "expand", unit);
    if (sizes == null) {
      return null;
    }
    List<Integer> ints = new ArrayList<>();
    for (int i = 0; i < sizes.size(); i++) {
      if (!(sizes.get(i) instanceof Integer size)) {
        diagnostics.error(unit, args.get(i + 1), Message.NON_CONSTANT_ARGUMENT, mi.toString(), args.get(i + 1), "expand");
        return null;
      }
      ints.add(size);
    }
    return steps.step(List.of(value), new ExpandField(ints), null, mi.toString(), code.source(unit, mi));
  }

  /**
   * Whether a Tensor method call {@code h.name(args)} has an F function the compiler reads, taking
   * the receiver first: {@code h.add(x)} of a tensor is {@code add(h, x)}, {@code h.relu()} is {@code relu(h)}.
   */
  boolean asFunction(ExecutableElement method, MethodInvocationTree mi, CompilationUnitTree unit) {
    String name = functionName(method);
    boolean ofTensor = mi.getArguments().size() == 1 && isTensor(mi.getArguments().get(0), unit);
    return switch (name) {
      case "matmul", "maximum", "minimum", "atan2" -> ofTensor; // (a.maximum(b) of two values: PointwisePair)
      case "lerp" -> mi.getArguments().size() == 2 && isTensor(mi.getArguments().get(0), unit); // a.lerp(b, 0.25f), a.lerp(b, w)
      case "add", "sub", "mul", "div" -> mi.getArguments().size() == 1; // of a tensor, or of a constant (x.add(1f) shifts)
      case "sum", "mean" -> mi.getArguments().size() <= 2; // (x.sum() of every value: an error saying why)
      case "maskedFill" -> mi.getArguments().size() == 2;
      default -> LayerCatalog.knowsFunction(name, mi.getArguments().size());
    };
  }

  /**
   * The {@code x.max(dim[, keepDim])} (or {@code min}, {@code topk(k, dim[, largest])}, {@code sort(dim[, descending])})
   * whose {@code indices()} {@code mi} reads, PyTorch's {@code x.max(dim).indices}: the ids an argmax (argmin, topk,
   * argsort) makes; null for any other call.
   */
  MethodInvocationTree extremaIndices(MethodInvocationTree mi, Element method, CompilationUnitTree unit) {
    if (!(method instanceof ExecutableElement ex && ex.getSimpleName().contentEquals("indices") && mi.getArguments().isEmpty()
        && ((TypeElement) ex.getEnclosingElement()).getQualifiedName().contentEquals("dev.kiln.runtime.ValuesAndIndices")
        && mi.getMethodSelect() instanceof MemberSelectTree ms && DeclarationReader.stripped(ms.getExpression()) instanceof MethodInvocationTree of
        && of.getMethodSelect() instanceof MemberSelectTree ofSelect
        && trees.getElement(TreePath.getPath(unit, of)) instanceof ExecutableElement extrema
        && ((TypeElement) extrema.getEnclosingElement()).getQualifiedName().contentEquals(DeclarationReader.TENSOR)
        && Set.of("max", "min", "topk", "sort").contains(extrema.getSimpleName().toString())
        && !of.getArguments().isEmpty() && ofSelect.getExpression() != null)) {
      return null;
    }
    return of;
  }

  /** Whether javac types {@code e} as a Tensor. */
  boolean isTensor(ExpressionTree e, CompilationUnitTree unit) {
    TypeMirror t = trees.getTypeMirror(TreePath.getPath(unit, e));
    return t != null && types.isSameType(t, code.type(DeclarationReader.TENSOR));
  }

  /** The F function a Tensor method is written as: {@code x.view(...)} is {@code reshape(x, ...)}, others their name. */
  static String functionName(ExecutableElement method) {
    String name = method.getSimpleName().toString();
    return name.equals("view") ? "reshape" : name;
  }

  /** Whether {@code e} calls the outputs method: {@code m(x)}, {@code m(x).output()}, {@code m(x)[0]}. */
  boolean callsOutputs(ExpressionTree e, CompilationUnitTree unit) {
    if (e instanceof ArrayAccessTree aa) {
      return callsOutputs(aa.getExpression(), unit);
    }
    if (e instanceof MemberSelectTree field) {
      return callsOutputs(field.getExpression(), unit);
    }
    if (!(e instanceof MethodInvocationTree mi)) {
      return false;
    }
    if (steps.outputsMethod.equals(trees.getElement(TreePath.getPath(unit, mi)))) {
      return true;
    }
    return mi.getMethodSelect() instanceof MemberSelectTree ms && callsOutputs(ms.getExpression(), unit);
  }

  /**
   * {@code F.name(args)}, or a Tensor method {@code args[0].name(rest)} read as that function: a
   * step of one value and constant arguments, or of two values (an add, a mul, a matmul).
   */
  String function(MethodInvocationTree mi, String name, List<? extends ExpressionTree> args, CompilationUnitTree unit,
      Map<String, LayerNode> fields, String className) {
    if (args.isEmpty()) {
      diagnostics.error(unit, mi, Message.UNSUPPORTED_EXPRESSION, steps.methodName, "call " + mi.getMethodSelect() + " without a tensor");
      return null;
    }
    if (name.equals("maskedFill") && args.size() == 3) {
      return steps.maskReader.maskedFill(mi, args, unit, fields, className);
    }
    if (name.equals("scaledDotProductAttention")) {
      return steps.moduleCalls.scaledDotProductAttention(mi, args, unit, fields, className);
    }
    if (name.equals("cosineSimilarity")) {
      return steps.idsReader.cosineSimilarity(mi, args, unit, fields, className);
    }
    if ((name.equals("conv2d") || name.equals("conv1d")) && (args.size() == 3 || args.size() == 5 || args.size() == 7)) {
      return functionalConv(mi, name, args, unit, fields, className); // F.conv2d(x, w, b, ...) of tensor fields
    }
    if (name.equals("lerp") && args.size() == 3) {
      return lerp(mi, args, unit, fields, className);
    }
    if (name.equals("prelu") && args.size() == 2) {
      return functionalPrelu(mi, args, unit, fields, className); // F.prelu(x, w) of a tensor field
    }
    if (name.equals("groupNorm") && (args.size() == 2 || args.size() == 5)) {
      return functionalGroupNorm(mi, args, unit, fields, className); // F.groupNorm(x, groups[, w, b, eps]) of tensor fields
    }
    if ((name.equals("dropout") || name.equals("dropout2d")) && args.size() == 3 && steps.mode != null
        && steps.loops.foldHereOrNull(args.get(2), unit, fields) instanceof Boolean training) {
      return steps.modeConditions.functionalDropout(mi, name, args, training, unit, fields, className); // F.dropout(x, p, isTraining())
    }
    boolean twoValues = args.size() == 2 && isTensor(args.get(1), unit);
    LayerSpec joining = !twoValues ? null : switch (name) { // a residual, a centred value, a gate, a quotient, a product
      case "add" -> new Add();
      case "sub" -> new Sub();
      case "mul" -> new Mul();
      case "div" -> new Div();
      case "matmul" -> new MatMul();
      case "maximum", "minimum", "atan2" -> new PointwisePair(PointwisePair.of(name), mi.toString());
      default -> null;
    };
    if (joining != null) {
      String a = steps.expression(args.get(0), unit, fields, className);
      String b = steps.expression(args.get(1), unit, fields, className);
      if (a == null || b == null) {
        return null;
      }
      return steps.step(List.of(a, b), joining, null, mi.toString(), code.source(unit, mi));
    }
    if ((name.equals("sum") || name.equals("mean")) && args.size() == 1) { // x.sum(): one value for the whole batch
      String along = mi.getMethodSelect() instanceof MemberSelectTree ms ? ms.getExpression() + "." + name + "(1)" : name + "(x, 1)";
      diagnostics.error(unit, mi, Message.WHOLE_REDUCTION, mi, name + "()", along, name + "()");
      return null;
    }
    if (!LayerCatalog.knowsFunction(name, args.size() - 1) || twoValues) {
      diagnostics.error(unit, mi, Message.UNSUPPORTED_FUNCTION, LayerCatalog.unsupportedFunction(name, args.size() - 1));
      return null;
    }
    String input = name.equals("reshape") ? steps.expression(args.get(0), unit, fields, className) : null; // (its shape for view(B, -1))
    if (name.equals("reshape") && input == null) {
      return null;
    }
    List<Object> constants = name.equals("reshape") ? steps.sizeReader.viewSizes(args.subList(1, args.size()), mi.toString(), unit, input) // x.view(B, T, C)
        : code.constants(args.subList(1, args.size()), mi.toString(), name, unit);
    if (constants == null) {
      return null;
    }
    LayerSpec spec;
    try {
      spec = LayerCatalog.function(name, constants);
    } catch (LayerCatalog.BadArguments e) {
      diagnostics.error(unit, mi, Message.UNSUPPORTED_FUNCTION, e.getMessage());
      return null;
    }
    input = input != null ? input : steps.expression(args.get(0), unit, fields, className);
    return input == null ? null : steps.step(input, spec, null, mi.toString(), code.source(unit, mi));
  }

  /**
   * {@code start.lerp(end, weight)} of a constant weight: eager mode's tape ops, {@code start + weight (end - start)} for a
   * weight below 0.5 in size, else {@code end - (1 - weight)(end - start)} (PyTorch's two formulas), as steps of their
   * own: a sub, a scale, an add or a sub. Null after an error.
   */
  private String lerp(MethodInvocationTree mi, List<? extends ExpressionTree> args, CompilationUnitTree unit,
      Map<String, LayerNode> fields, String className) {
    if (isTensor(args.get(2), unit)) {
      return lerpByTensor(mi, args, unit, fields, className);
    }
    List<Object> weight = code.constants(List.of(args.get(2)), mi.toString(), "lerp", unit);
    if (weight == null) {
      return null;
    }
    float w = ((Number) weight.get(0)).floatValue();
    if (!Float.isFinite(w)) {
      diagnostics.error(unit, args.get(2), Message.UNSUPPORTED_FUNCTION, mi + ": the weight must be a finite float, got " + w);
      return null;
    }
    String start = steps.expression(args.get(0), unit, fields, className);
    String end = steps.expression(args.get(1), unit, fields, className);
    if (start == null || end == null) {
      return null;
    }
    Source where = code.source(unit, mi);
    String diff = steps.step(List.of(end, start), new Sub(), null, mi.toString(), where);
    return Math.abs(w) < 0.5f
        ? steps.step(List.of(start, steps.step(diff, Scale.times(w), null, mi.toString(), where)), new Add(), null, mi.toString(), where)
        : steps.step(List.of(end, steps.step(diff, Scale.times(1f - w), null, mi.toString(), where)), new Sub(), null, mi.toString(), where);
  }

  /**
   * {@code start.lerp(end, weight)} of a tensor of weights: eager's {@code PointwiseOps.lerp} as steps, {@code where(|w| <
   * 0.5, start + w (end - start), end - (end - start)(1 - w))}, the mask {@code w > -0.5 and w < 0.5} (eager's {@code |w| <
   * 0.5} without a step of |w| read only as a mask; a NaN weight false in both) and {@code 1 - w} as {@code -w + 1}
   * ({@code w * -1}, eager's neg). Null after an error.
   */
  private String lerpByTensor(MethodInvocationTree mi, List<? extends ExpressionTree> args, CompilationUnitTree unit,
      Map<String, LayerNode> fields, String className) {
    String start = steps.expression(args.get(0), unit, fields, className);
    String end = steps.expression(args.get(1), unit, fields, className);
    String w = steps.expression(args.get(2), unit, fields, className);
    if (start == null || end == null || w == null) {
      return null;
    }
    String written = mi.toString();
    Source where = code.source(unit, mi);
    String diff = steps.step(List.of(end, start), new Sub(), null, written, where);
    String small = steps.step(List.of(steps.step(w, new Compare(MaskTest.GT, -0.5f), null, written, where),
        steps.step(w, new Compare(MaskTest.LT, 0.5f), null, written, where)), new Compare(MaskTest.AND, 0f), null, written, where);
    String low = steps.step(List.of(start, steps.step(List.of(w, diff), new Mul(), null, written, where)), new Add(), null, written, where);
    String rest = steps.step(steps.step(w, Scale.times(-1f), null, written, where), dev.kiln.processor.ir.Shift.plus(1f), null, written, where);
    String high = steps.step(List.of(end, steps.step(List.of(diff, rest), new Mul(), null, written, where)), new Sub(), null, written, where);
    return steps.step(List.of(low, high, small), new Where(written), null, written, where);
  }

  // -------------------------------------------------------------- functional convolutions

  /**
   * {@code F.conv2d(x, w, b[, stride, padding[, dilation, groups]])} ({@code F.conv1d} alike) with a weight and bias that
   * are tensor fields of the model ({@code b} may be {@code null}): the step of the Conv2d (Conv1d) of the call's
   * hyper-parameters and the weight's shape, with no layer, reading x, the weight and the bias (its inputs in that order)
   * where they live, as a layer's step reads its own; a weight or bias of the wrong shape is an error on the call, as
   * eager mode's. Null after an error.
   */
  private String functionalConv(MethodInvocationTree mi, String name, List<? extends ExpressionTree> args, CompilationUnitTree unit,
      Map<String, LayerNode> fields, String className) {
    boolean image = name.equals("conv2d");
    List<Object> constants = code.constants(args.subList(3, args.size()), mi.toString(), name, unit);
    if (constants == null) {
      return null;
    }
    if (constants.stream().anyMatch(c -> !(c instanceof Integer))) {
      diagnostics.error(unit, mi, Message.FUNCTIONAL_SHAPES, mi, "stride, padding, dilation and groups must be ints, got "
          + constants);
      return null;
    }
    String input = steps.expression(args.get(0), unit, fields, className);
    String layer = image ? "Conv2d" : "Conv1d";
    TensorIr weight = fieldArgument(mi, "F." + name, args.get(1), "weight", image ? "Tensor.randn(O, C, k, k).mul(0.1f)"
        : "Tensor.randn(O, C, k).mul(0.1f)", layer, unit, fields, className);
    boolean withBias = DeclarationReader.stripped(args.get(2)).getKind() != Tree.Kind.NULL_LITERAL;
    TensorIr bias = withBias ? fieldArgument(mi, "F." + name, args.get(2), "bias", "Tensor.zeros(O)", layer, unit, fields,
        className) : null;
    if (input == null || weight == null || withBias && bias == null) {
      return null;
    }
    int stride = constants.isEmpty() ? 1 : (Integer) constants.get(0);
    int padding = constants.isEmpty() ? 0 : (Integer) constants.get(1);
    int dilation = constants.size() < 4 ? 1 : (Integer) constants.get(2);
    int groups = constants.size() < 4 ? 1 : (Integer) constants.get(3);
    int[] w = weight.shape();
    String problem = w.length != (image ? 4 : 3) ? "the weight " + weight.field() + " must be " + (image ? "[out, in / groups,"
        + " kH, kW]" : "[out, in / groups, k]") + ", got " + Shapes.toString(w)
        : withBias && (bias.shape().length != 1 || bias.shape()[0] != w[0]) ? "the bias " + bias.field() + " "
        + Shapes.toString(bias.shape()) + " does not match the weight " + weight.field() + " " + Shapes.toString(w)
        + " (expected [" + w[0] + "])" : null;
    if (problem != null) {
      diagnostics.error(unit, mi, Message.FUNCTIONAL_SHAPES, mi, problem);
      return null;
    }
    LayerSpec spec;
    try {
      spec = image ? new Conv2d.Spec(w[1] * groups, w[0], w[2], w[3], stride, stride, padding, padding, dilation, dilation, groups,
          withBias) : new Conv1d.Spec(w[1] * groups, w[0], w[2], stride, padding, dilation, groups, withBias);
    } catch (IllegalArgumentException e) { // a stride of 0, a negative padding, groups that do not divide the channels
      diagnostics.error(unit, mi, Message.FUNCTIONAL_SHAPES, mi, e.getMessage() + " (weight " + weight.field() + " "
          + Shapes.toString(w) + ")");
      return null;
    }
    List<String> inputs = withBias ? List.of(input, weight.value(), bias.value()) : List.of(input, weight.value());
    return steps.step(inputs, spec, null, mi.toString(), code.source(unit, mi));
  }

  /**
   * {@code F.groupNorm(x, groups)} or {@code F.groupNorm(x, groups, weight, bias, eps)}, the weight and bias tensor fields
   * of the model or null: a {@link GroupNormOf} step reading x, then the weight and the bias it has. Null after an error.
   */
  private String functionalGroupNorm(MethodInvocationTree mi, List<? extends ExpressionTree> args, CompilationUnitTree unit,
      Map<String, LayerNode> fields, String className) {
    List<Object> constants = code.constants(args.size() == 2 ? List.of(args.get(1)) : List.of(args.get(1), args.get(4)), mi.toString(),
        "groupNorm", unit);
    if (constants == null) {
      return null;
    }
    if (!(constants.get(0) instanceof Integer groups) || constants.size() > 1 && !(constants.get(1) instanceof Number)) {
      diagnostics.error(unit, mi, Message.FUNCTIONAL_SHAPES, mi, "the groups must be an int and eps a number, got " + constants);
      return null;
    }
    String input = steps.expression(args.get(0), unit, fields, className);
    boolean withWeight = args.size() == 5 && DeclarationReader.stripped(args.get(2)).getKind() != Tree.Kind.NULL_LITERAL;
    boolean withBias = args.size() == 5 && DeclarationReader.stripped(args.get(3)).getKind() != Tree.Kind.NULL_LITERAL;
    TensorIr weight = withWeight ? fieldArgument(mi, "F.groupNorm", args.get(2), "weight", "Tensor.ones(C)", "GroupNorm", unit, fields,
        className) : null;
    TensorIr bias = withBias ? fieldArgument(mi, "F.groupNorm", args.get(3), "bias", "Tensor.zeros(C)", "GroupNorm", unit, fields,
        className) : null;
    if (input == null || withWeight && weight == null || withBias && bias == null) {
      return null;
    }
    TensorIr misfit = weight != null && weight.shape().length != 1 ? weight
        : bias != null && (bias.shape().length != 1 || weight != null && bias.shape()[0] != weight.shape()[0]) ? bias : null;
    if (misfit != null) { // (x's channels against them: GroupNormOf's shape rule)
      diagnostics.error(unit, mi, Message.FUNCTIONAL_SHAPES, mi, "the " + (misfit == weight ? "weight " : "bias ") + misfit.field()
          + " " + Shapes.toString(misfit.shape()) + " must be [C], one value a channel" + (misfit == bias && weight != null
          ? ", as the weight " + weight.field() + " " + Shapes.toString(weight.shape()) : ""));
      return null;
    }
    GroupNormOf spec;
    try {
      spec = new GroupNormOf(groups, args.size() == 2 ? 1e-5 : ((Number) constants.get(1)).doubleValue(), withWeight, withBias,
          weight != null ? weight.shape()[0] : bias != null ? bias.shape()[0] : -1);
    } catch (IllegalArgumentException e) {
      diagnostics.error(unit, mi, Message.FUNCTIONAL_SHAPES, mi, e.getMessage());
      return null;
    }
    List<String> inputs = new ArrayList<>(List.of(input));
    List.of(Optional.ofNullable(weight), Optional.ofNullable(bias)).forEach(t -> t.ifPresent(f -> inputs.add(f.value())));
    return steps.step(inputs, spec, null, mi.toString(), code.source(unit, mi));
  }

  /**
   * {@code F.prelu(x, w)} of a tensor field {@code w} of one slope or one per channel of x (dimension 1): eager's kernels
   * in one step ({@link LayerExpansions#prelu}), its gradient the field's.
   */
  private String functionalPrelu(MethodInvocationTree mi, List<? extends ExpressionTree> args, CompilationUnitTree unit,
      Map<String, LayerNode> fields, String className) {
    String input = steps.expression(args.get(0), unit, fields, className);
    TensorIr weight = fieldArgument(mi, "F.prelu", args.get(1), "weight", "Tensor.full(0.25f, C)", "PReLU", unit, fields, className);
    if (input == null || weight == null) {
      return null;
    }
    int[] shape = steps.sizeReader.sizes().shapeOf(input);
    int channels = shape == null ? -1 : shape.length >= 2 ? shape[1] : 1;
    String problem = weight.shape().length != 1 ? "weight must be 0-d or 1-d, got " + Shapes.toString(weight.shape())
        : shape == null ? "the shape of " + args.get(0) + " is unknown here"
        : weight.shape()[0] != 1 && weight.shape()[0] != channels ? "mismatch of parameter numbers and input channel size, found"
            + " parameter numbers = " + weight.shape()[0] + " (" + weight.field() + ") and channel size = " + channels + " (input "
            + Shapes.toString(shape) + ")"
        : null;
    if (problem != null) {
      diagnostics.error(unit, mi, Message.FUNCTIONAL_SHAPES, mi, "prelu: " + problem);
      return null;
    }
    String written = mi.toString();
    return LayerExpansions.prelu(steps, input, weight, TensorIr::value, written, code.source(unit, mi));
  }

  /**
   * The weight or bias of a functional convolution or group norm ({@code function}, e.g. {@code "F.conv2d"}): a tensor field
   * of the model read as it is, else an error naming how to declare one ({@code example}, its creation) or the layer to
   * use; null after an error.
   */
  private TensorIr fieldArgument(MethodInvocationTree mi, String function, ExpressionTree arg, String role, String example,
      String layer, CompilationUnitTree unit, Map<String, LayerNode> fields, String className) {
    String value = steps.expression(arg, unit, fields, className);
    if (value == null) {
      return null;
    }
    TensorIr t = steps.tensors == null ? null : steps.tensors.byValue(value);
    if (t == null || t.isDerived()) {
      String name = role.equals("bias") ? "b" : "w";
      diagnostics.error(unit, arg, Message.FUNCTIONAL_TENSOR, mi, function, role, name, name, example,
          role.equals("weight") && (function.startsWith("F.conv") || function.equals("F.prelu")) ? "" : " or null", arg, layer);
      return null;
    }
    return t;
  }
}
