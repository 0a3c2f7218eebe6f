package dev.kiln.processor.read;

import com.sun.source.tree.AssignmentTree;
import com.sun.source.tree.CompilationUnitTree;
import com.sun.source.tree.ExpressionTree;
import com.sun.source.tree.IdentifierTree;
import com.sun.source.tree.MemberSelectTree;
import com.sun.source.tree.MethodInvocationTree;
import com.sun.source.tree.Tree;
import com.sun.source.util.TreePath;
import com.sun.source.util.Trees;
import dev.kiln.dsl.Input;
import dev.kiln.dsl.Model;
import dev.kiln.processor.Diagnostics;
import dev.kiln.processor.Message;
import dev.kiln.processor.ir.Compare;
import dev.kiln.processor.ir.MaskedFill;
import dev.kiln.processor.ir.Reshape;
import dev.kiln.processor.ir.StepIr;
import dev.kiln.processor.ir.TensorIr;
import dev.kiln.processor.ir.Where;
import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.cpu.MaskTest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import javax.lang.model.element.Element;
import javax.lang.model.element.ElementKind;
import javax.lang.model.element.ExecutableElement;
import javax.lang.model.element.Modifier;
import javax.lang.model.element.TypeElement;
import javax.lang.model.element.VariableElement;
import javax.lang.model.util.Elements;
import javax.lang.model.util.Types;

/**
 * Masks in forward, for {@link BodyReader}: comparisons of values or buffers ({@code ids.eq(0)}), their logical
 * ops and views, read as a masked fill's mask or a {@code where}'s condition; masks left unused are reported.
 */
final class MaskReader {
  private final BodyReader steps;
  private final SourceTrees code;
  private final Trees trees;
  private final Diagnostics diagnostics;

  MaskReader(BodyReader steps, SourceTrees code) {
    this.steps = steps;
    this.code = code;
    this.trees = code.trees;
    this.diagnostics = code.diagnostics;
  }

  // ---------------------------------------------------------------- masks

  /**
   * {@code x.maskedFill(mask, value)} ({@code F.maskedFill}): the value a constant, the mask a buffer of the model or
   * an input (ids, a further input), as it is or viewed, compared with a constant ({@code mask.eq(0)}), written in the
   * call or held in a local ({@link #readMask}); null after an error.
   */
  String maskedFill(MethodInvocationTree mi, List<? extends ExpressionTree> args, CompilationUnitTree unit,
      Map<String, LayerNode> fields, String className) {
    String input = steps.expression(args.get(0), unit, fields, className);
    Mask mask = readMask(args.get(1), unit, fields, className, mi.toString());
    List<Object> fill = code.constants(args.subList(2, 3), mi.toString(), "maskedFill", unit);
    if (mask == null || fill == null || input == null) {
      return null;
    }
    if (!(fill.get(0) instanceof Number value)) {
      diagnostics.error(unit, args.get(2), Message.UNSUPPORTED_FUNCTION, mi + ": the value must be a number, not " + fill.get(0));
      return null;
    }
    if (mask.buffer() != null) { // repeated over the value's leading dimensions, read in place
      steps.tensors.markRead(mask.buffer().value());
      MaskedFill spec = new MaskedFill(mask.buffer().field(), mask.shape(), mask.test(), mask.against(), value.floatValue(),
          mi.toString());
      return steps.step(input, spec, null, mi.toString(), code.source(unit, mi));
    }
    // an input's own mask per sample (the step's second value): the checker fits it to the value
    MaskedFill spec = new MaskedFill(null, null, mask.test(), mask.against(), value.floatValue(), mi.toString());
    return steps.step(List.of(input, mask.value()), spec, null, mi.toString(), code.source(unit, mi));
  }

  /**
   * A mask as masked fills read it, in place (no pass computes it): a buffer of the model ({@code buffer}, its shape
   * folded through any views), or a value rooted at an input ({@code value}: the input or a view of it, {@code shape}
   * {@code [-1, ...]} or null where unknown), selecting where {@code test} against {@code against} holds.
   *
   * @param written the expression, for messages
   * @param where a local's declaration, for an unused one
   */
  record Mask(String value, TensorIr buffer, int[] shape, MaskTest test, float against, String written, Tree where) {
    Mask tested(MaskTest t, float with, String text) {
      return new Mask(value, buffer, shape, t, with, text, where);
    }

    Mask viewed(String v, int[] s, String text) {
      return new Mask(v, buffer, s, test, against, text, where);
    }

    Mask declared(Tree at) {
      return new Mask(value, buffer, shape, test, against, written, at);
    }
  }

  /** Locals holding a mask ({@code Tensor pad = ids.eq(0).view(-1, 1, 1, S);}), which masked fills read. */
  final Map<String, Mask> masks = new LinkedHashMap<>();
  /** Those a masked fill (or another mask) read. */
  final Set<String> usedMasks = new HashSet<>();

  /**
   * Whether {@code e} is a mask: a comparison of a tensor ({@code ids.eq(0)}), a view of one ({@code .view},
   * {@code .reshape}, {@code .unsqueeze}), or a local holding one.
   */
  boolean isMask(ExpressionTree e, CompilationUnitTree unit) {
    e = DeclarationReader.stripped(e);
    if (e instanceof IdentifierTree id) {
      return masks.containsKey(id.getName().toString());
    }
    String name = tensorMethod(e, unit);
    if (name == null) {
      return false;
    }
    MethodInvocationTree mi = (MethodInvocationTree) e;
    return DeclarationReader.COMPARISONS.containsKey(name) && mi.getArguments().size() == 1 || isLogical(name, mi)
        || DeclarationReader.MASK_VIEWS.contains(name) && isMask(((MemberSelectTree) mi.getMethodSelect()).getExpression(), unit);
  }

  /** Whether {@code mi}, a call of the Tensor method {@code name}, is a logical op: {@code logicalNot()}, {@code a.logicalAnd(b)}. */
  private static boolean isLogical(String name, MethodInvocationTree mi) {
    return name.equals("logicalNot") && mi.getArguments().isEmpty() || DeclarationReader.LOGICAL.containsKey(name) && mi.getArguments().size() == 1;
  }

  /**
   * {@code x.logicalNot()} or {@code a.logicalAnd(b)} ({@code logicalOr}, {@code logicalXor}) of masks or values: a {@link
   * Compare} step of their 0/1 values (a mask's, or a value's as it is, nonzero counting as true; two broadcast as a
   * comparison's), {@code x.eq(0)} for the not, as eager mode's ops give them, without gradient; a mask of that value.
   * Null after an error.
   */
  private Mask logical(MethodInvocationTree mi, String name, CompilationUnitTree unit, Map<String, LayerNode> fields,
      String className) {
    List<ExpressionTree> operands = new ArrayList<>(List.of(((MemberSelectTree) mi.getMethodSelect()).getExpression()));
    operands.addAll(mi.getArguments());
    List<String> values = new ArrayList<>();
    for (ExpressionTree operand : operands) {
      Mask m = isMask(operand, unit) ? maskAsValue(operand, unit, fields, className) : null;
      String value = m != null ? m.value() : isMask(operand, unit) ? null : steps.expression(operand, unit, fields, className);
      if (value == null) {
        return null;
      }
      values.add(value);
    }
    Compare spec = new Compare(name.equals("logicalNot") ? MaskTest.EQ : DeclarationReader.LOGICAL.get(name), 0f);
    String value = steps.step(values, spec, null, mi.toString(), code.source(unit, mi));
    return new Mask(value, null, null, MaskTest.NONZERO, 0, mi.toString(), mi);
  }

  /** The name of the Tensor instance method {@code e} calls ({@code eq} for {@code ids.eq(0)}), else null. */
  private String tensorMethod(ExpressionTree e, CompilationUnitTree unit) {
    if (e instanceof MethodInvocationTree mi && mi.getMethodSelect() instanceof MemberSelectTree ms
        && trees.getElement(TreePath.getPath(unit, mi)) instanceof ExecutableElement ex && !ex.getModifiers().contains(Modifier.STATIC)
        && ((TypeElement) ex.getEnclosingElement()).getQualifiedName().contentEquals(DeclarationReader.TENSOR)) {
      return ms.getIdentifier().toString();
    }
    return null;
  }

  /** Each mask local's 0/1 value, once computed ({@link #maskAsValue}): every use as a value reads the one pass. */
  private final Map<String, Mask> maskValues = new HashMap<>();

  /**
   * A mask read as a float value ({@code keep.sum(1, true)}, {@code h.mul(keep.unsqueeze(-1))}, masked mean pooling):
   * a {@link Compare} step of its input, 1 where it selects, else 0, computed once per mask local, then any views
   * written after it; null after an error (a buffer's mask: the float buffer itself is the value to register).
   */
  Mask maskAsValue(ExpressionTree e, CompilationUnitTree unit, Map<String, LayerNode> fields, String className) {
    e = DeclarationReader.stripped(e);
    if (e instanceof IdentifierTree id && masks.containsKey(id.getName().toString())) {
      String local = id.getName().toString();
      usedMasks.add(local);
      if (!maskValues.containsKey(local)) {
        maskValues.put(local, compared(masks.get(local), e, unit));
      }
      return maskValues.get(local);
    }
    String name = tensorMethod(e, unit);
    if (name != null && isLogical(name, (MethodInvocationTree) e)) {
      return logical((MethodInvocationTree) e, name, unit, fields, className);
    }
    if (name != null && DeclarationReader.MASK_VIEWS.contains(name) && isMask(((MemberSelectTree) ((MethodInvocationTree) e).getMethodSelect()).getExpression(), unit)) {
      MethodInvocationTree view = (MethodInvocationTree) e;
      Mask of = maskAsValue(((MemberSelectTree) view.getMethodSelect()).getExpression(), unit, fields, className);
      return of == null ? null : viewMask(of, view, name, unit, e.toString());
    }
    Mask mask = readMask(e, unit, fields, className, e.toString());
    return mask == null ? null : compared(mask, e, unit);
  }

  /** The 0/1 value of an input's mask (a {@link Compare} step), or null after reporting a buffer's. */
  private Mask compared(Mask mask, ExpressionTree use, CompilationUnitTree unit) {
    if (mask.buffer() != null) { // bias.eq(0) as 0/1 floats: computed from the buffer when it changes, read as a buffer
      TensorIr b = mask.buffer();
      String view = Arrays.equals(b.shape(), mask.shape()) ? ""
          : BufferReader.call("reshape", mask.shape());
      String test = mask.test() == MaskTest.NONZERO ? "ne(0.0f)" : mask.test().name().toLowerCase(java.util.Locale.ROOT) + "("
          + BufferReader.javaFloat(mask.against()) + ")";
      TensorIr value = steps.bufferReader.derive(b, view + "." + test, mask.shape(), code.source(unit, use));
      return new Mask(value.value(), null, mask.shape(), MaskTest.NONZERO, 0, mask.written(), mask.where());
    }
    if (mask.test() == MaskTest.NONZERO && comparedAlready(mask.value())) { // x.lt(y): its step's values already
      return mask;
    }
    String value = steps.step(mask.value(), new Compare(mask.test(), mask.against()), null, mask.written(), code.source(unit, use));
    return new Mask(value, null, mask.shape(), MaskTest.NONZERO, 0, mask.written(), mask.where());
  }

  /** {@code Tensor pad = ids.eq(0).view(-1, 1, 1, S);}: the local holds the mask, read by the masked fills after it. */
  void defineMask(String local, ExpressionTree value, Tree declaration, CompilationUnitTree unit, Map<String, LayerNode> fields,
      String className) {
    Mask mask = readMask(value, unit, fields, className, value.toString());
    if (mask == null) {
      steps.unknown.add(local); // its uses stay silent
      return;
    }
    masks.put(local, mask.declared(declaration));
  }

  /**
   * An assignment {@code target = value} that involves a mask: a mask local reassigned, or a mask assigned to a local
   * that holds a value (errors), or the first assignment of a local declared without one. False when no mask is involved.
   */
  boolean maskAssignment(IdentifierTree target, AssignmentTree a, Tree statement, CompilationUnitTree unit,
      Map<String, LayerNode> fields, String className) {
    String local = target.getName().toString();
    boolean mask = isMask(a.getExpression(), unit);
    if (masks.containsKey(local) || mask && (steps.locals.containsKey(local) || steps.unknown.contains(local))) {
      diagnostics.error(unit, statement, Message.MASK_REASSIGNED, a, local, local);
      usedMasks.add(local);
      return true;
    }
    if (mask) {
      defineMask(local, a.getExpression(), statement, unit, fields, className);
      return true;
    }
    return false;
  }

  /** A mask local no masked fill reads: an error on its declaration, as an unused value is. */
  void reportUnusedMasks(CompilationUnitTree unit) {
    masks.forEach((local, mask) -> {
      if (!usedMasks.contains(local)) {
        diagnostics.error(unit, mask.where(), Message.MASK_UNUSED, local, steps.methodName);
      }
    });
  }

  /** A mask: a comparison with a constant of a mask as it is ({@link #rawMask}), or that as it is; null after an error. */
  private Mask readMask(ExpressionTree e, CompilationUnitTree unit, Map<String, LayerNode> fields, String className, String label) {
    e = DeclarationReader.stripped(e);
    String name = tensorMethod(e, unit);
    if (name != null && isLogical(name, (MethodInvocationTree) e)) { // a.gt(0).logicalAnd(b.gt(0)): its 0/1 values
      return logical((MethodInvocationTree) e, name, unit, fields, className);
    }
    if (name == null || !DeclarationReader.COMPARISONS.containsKey(name) || ((MethodInvocationTree) e).getArguments().size() != 1) {
      return rawMask(e, unit, fields, className, label);
    }
    MethodInvocationTree compare = (MethodInvocationTree) e;
    ExpressionTree receiver = ((MemberSelectTree) compare.getMethodSelect()).getExpression();
    ExpressionTree with = compare.getArguments().get(0);
    if (isMask(receiver, unit)) {
      diagnostics.error(unit, compare, Message.MASK_COMPARED_TWICE, label, receiver, DeclarationReader.stripped(receiver) instanceof IdentifierTree id
          && masks.containsKey(id.getName().toString()) ? masks.get(id.getName().toString()).written() : receiver);
      return null;
    }
    if (steps.functionCalls.isTensor(with, unit)) { // x.lt(y): two values compared into 0/1 values (a step), which the fills read as they are
      return comparedValues(compare, receiver, with, name, unit, fields, className);
    }
    Object constant = code.foldOrNull(with, unit);
    if (!(constant instanceof Number number)) {
      if (!code.unresolved(unit, with)) {
        diagnostics.error(unit, with, Message.MASK_COMPARED_WITH, label, receiver, name,
            with + (constant == null ? ", which is not a compile-time constant" : ", not a number"));
      }
      return null;
    }
    Mask base = rawMask(receiver, unit, fields, className, label);
    return base == null ? null : base.tested(DeclarationReader.COMPARISONS.get(name), number.floatValue(), compare.toString());
  }

  /**
   * {@code x.lt(y)}: a {@link Compare} step of the two values (0/1, no gradient to either), read as a mask as it is; null
   * after an error. A buffer or an input's mask on either side is refused (the checker: a tensor field in a comparison).
   */
  private Mask comparedValues(MethodInvocationTree compare, ExpressionTree receiver, ExpressionTree with, String name,
      CompilationUnitTree unit, Map<String, LayerNode> fields, String className) {
    String a = steps.expression(receiver, unit, fields, className);
    String b = steps.expression(with, unit, fields, className);
    if (a == null || b == null) {
      return null;
    }
    String value = steps.step(List.of(a, b), new Compare(DeclarationReader.COMPARISONS.get(name), 0), null, compare.toString(), code.source(unit, compare));
    return new Mask(value, null, null, MaskTest.NONZERO, 0, compare.toString(), compare);
  }

  /**
   * {@code Tensor.where(mask, a, b)}: a step reading a, b and the mask's 0/1 values (a comparison, {@code h.gt(0)}, made
   * as a mask read as a value is; or a value as it is, nonzero selecting); null after an error.
   */
  String where(MethodInvocationTree mi, CompilationUnitTree unit, Map<String, LayerNode> fields, String className) {
    ExpressionTree condition = mi.getArguments().get(0);
    String mask;
    if (isMask(condition, unit)) {
      Mask m = maskAsValue(condition, unit, fields, className);
      mask = m == null ? null : m.value();
    } else {
      mask = steps.expression(condition, unit, fields, className);
    }
    String a = steps.expression(mi.getArguments().get(1), unit, fields, className);
    String b = steps.expression(mi.getArguments().get(2), unit, fields, className);
    if (mask == null || a == null || b == null) {
      return null;
    }
    String ofBuffers = whereOfBuffers(mi, mask, a, b, unit);
    if (ofBuffers != null) {
      return ofBuffers;
    }
    return steps.step(List.of(a, b, mask), new Where(mi.toString()), null, mi.toString(), code.source(unit, mi));
  }

  /** Whether {@code mi} calls {@code Tensor.where(mask, a, b)}. */
  boolean isWhereCall(MethodInvocationTree mi, CompilationUnitTree unit) {
    return trees.getElement(TreePath.getPath(unit, mi)) instanceof ExecutableElement ex && ex.getSimpleName().contentEquals("where")
        && ((TypeElement) ex.getEnclosingElement()).getQualifiedName().contentEquals(DeclarationReader.TENSOR) && ex.getModifiers().contains(Modifier.STATIC);
  }

  /**
   * {@code Tensor.where(mask, a, b)} whose three operands are buffers (or computed from buffers): a tensor of their
   * broadcast shape, without a batch, computed as eager mode computes it ({@link TensorIr#where}); its value, or null
   * when an operand is not a buffer (a value of the batch, a parameter: a step, which the checker reads) or the shapes
   * do not broadcast (the where's step then reports it).
   */
  private String whereOfBuffers(MethodInvocationTree mi, String mask, String a, String b, CompilationUnitTree unit) {
    if (steps.tensors == null) {
      return null;
    }
    TensorIr m = steps.tensors.byValue(mask), ta = steps.tensors.byValue(a), tb = steps.tensors.byValue(b);
    if (m == null || ta == null || tb == null || m.isParameter() || ta.isParameter() && ta.isWhere() || tb.isParameter() && tb.isWhere()
        || ta.isParameter() && ta.isRegion() || tb.isParameter() && tb.isRegion()) {
      return null; // (a parameter mask gets no gradient: the where's step says so; a slice or a where of one: not read)
    }
    int[] shape;
    try {
      shape = dev.kiln.runtime.Shapes.broadcast("where", dev.kiln.runtime.Shapes.broadcast("where", m.shape(), ta.shape()),
          tb.shape());
    } catch (IllegalArgumentException e) {
      return null;
    }
    return steps.tensors.where(mi.toString(), m, ta, tb, shape, code.source(unit, mi)).value();
  }

  /** Whether {@code value} is a {@link Compare} step's 0/1 values already ({@code x.lt(y)}). */
  private boolean comparedAlready(String value) {
    return value != null && steps.list.stream().anyMatch(st -> st.output().equals(value) && st.spec() instanceof Compare);
  }

  /**
   * A mask as it is (nonzero selects) or a mask local: a buffer of the model or an input, or a view of either
   * ({@code mask.view(-1, 1, 1, S)}, {@code ids.eq(0).unsqueeze(1)}); null after an error.
   */
  private Mask rawMask(ExpressionTree e, CompilationUnitTree unit, Map<String, LayerNode> fields, String className, String label) {
    e = DeclarationReader.stripped(e);
    if (e instanceof IdentifierTree id && masks.containsKey(id.getName().toString())) {
      usedMasks.add(id.getName().toString());
      return masks.get(id.getName().toString());
    }
    String name = tensorMethod(e, unit);
    if (name != null && DeclarationReader.MASK_VIEWS.contains(name)) {
      MethodInvocationTree view = (MethodInvocationTree) e;
      Mask of = readMask(((MemberSelectTree) view.getMethodSelect()).getExpression(), unit, fields, className, label);
      return of == null ? null : viewMask(of, view, name, unit, label);
    }
    Element element = e instanceof IdentifierTree || e instanceof MemberSelectTree ? trees.getElement(TreePath.getPath(unit, e)) : null;
    boolean local = e instanceof IdentifierTree id && (steps.locals.containsKey(id.getName().toString())
        || steps.unknown.contains(id.getName().toString()));
    if (!local && element instanceof VariableElement v && steps.isTensorField(v)) { // a buffer: its shape folded from its declaration
      if (steps.tensorField(v, e, unit, className) == null) {
        return null;
      }
      TensorIr field = steps.tensors.field(v);
      if (field.isParameter()) {
        diagnostics.error(unit, e, Message.MASK_NOT_BUFFER, label, field.describe());
        return null;
      }
      return new Mask(null, field, field.shape(), MaskTest.NONZERO, 0, e.toString(), e);
    }
    String value = steps.expression(e, unit, fields, className);
    if (value == null) {
      return null;
    }
    TensorIr derived = steps.tensors == null ? null : steps.tensors.byValue(value);
    if (derived != null && derived.isDerived() && !derived.isParameter()) { // bias.narrow(2, 0, T): read in place as the buffer is
      return new Mask(null, derived, derived.shape(), MaskTest.NONZERO, 0, e.toString(), e);
    }
    if (value.startsWith(TensorIr.valueName(""))) { // Tensor m = mask; then maskedFill(m, ...): the field itself, please
      diagnostics.error(unit, e, Message.MASK_NOT_BUFFER, label, e);
      return null;
    }
    String root = value;
    int[] shape = null;
    for (int i = steps.list.size() - 1; i >= 0; i--) { // back through views to the value they read
      StepIr st = steps.list.get(i);
      if (st.output().equals(root) && (st.spec() instanceof Reshape || st.spec() instanceof dev.kiln.dsl.Flatten.Spec)) {
        if (root.equals(value) && st.spec() instanceof Reshape r) {
          shape = r.shape().stream().mapToInt(Integer::intValue).toArray();
        }
        root = st.input();
      }
    }
    if (!root.equals(steps.inputName) && !steps.furtherInputs.contains(root)) { // h.gt(0): activations, read in place like an input's
      return new Mask(value, null, null, MaskTest.NONZERO, 0, e.toString(), e);
    }
    if (root.equals(value) && element instanceof VariableElement p && p.getKind() == ElementKind.PARAMETER) {
      Input declared = p.getAnnotation(Input.class);
      int[] sample = declared != null ? declared.value()
          : steps.modelType != null && steps.modelType.getAnnotation(Model.class) != null ? steps.modelType.getAnnotation(Model.class).input() : null;
      shape = sample == null ? null : BufferReader.batched(sample);
    }
    return new Mask(value, null, shape, MaskTest.NONZERO, 0, e.toString(), e);
  }

  /**
   * {@code mask.view(sizes)}, {@code .reshape(sizes)} or {@code .unsqueeze(dim)}: a buffer's shape folded, an input's
   * a Reshape step (a view, no copy) with the batch first as -1; null after an error.
   */
  private Mask viewMask(Mask of, MethodInvocationTree view, String name, CompilationUnitTree unit, String label) {
    List<Object> args = code.constants(view.getArguments(), label, name, unit);
    if (args == null) {
      return null;
    }
    int[] sizes = args.size() == 1 && args.get(0) instanceof int[] given ? given
        : args.stream().allMatch(a -> a instanceof Integer) ? args.stream().mapToInt(a -> (Integer) a).toArray() : null;
    if (sizes == null || name.equals("unsqueeze") && sizes.length != 1) {
      diagnostics.error(unit, view, Message.MASK_VIEW, label, view + ": the sizes must be ints, got " + args);
      return null;
    }
    String text = view.toString();
    int[] shape = of.shape();
    try {
      if (name.equals("unsqueeze")) {
        if (shape == null) {
          throw new IllegalArgumentException("the mask's shape is not known here; view it with its sizes written out, the batch"
              + " first as -1 (view(-1, 1, 1, S))");
        }
        int dim = sizes[0] < 0 ? sizes[0] + shape.length + 1 : sizes[0];
        if (dim < 0 || dim > shape.length || of.buffer() == null && dim == 0) {
          throw new IllegalArgumentException("dimension " + sizes[0] + " is out of range for a mask " + Shapes.toString(shape)
              + (of.buffer() == null ? " (unsqueeze after the batch: 1.." + shape.length + " or -1..-" + shape.length + ")" : ""));
        }
        sizes = new int[shape.length + 1];
        for (int i = 0, j = 0; i < sizes.length; i++) {
          sizes[i] = i == dim ? 1 : shape[j++];
        }
      }
      if (of.buffer() != null) {
        return of.viewed(null, Shapes.inferReshape(shape, sizes), text);
      }
      TensorIr derived = steps.tensors == null || of.value() == null ? null : steps.tensors.byValue(of.value());
      if (derived != null) { // bias.eq(0) read as a value, then viewed: the view computed with it
        int[] viewed = Shapes.inferReshape(derived.shape(), sizes);
        String call = BufferReader.call("reshape", viewed);
        return of.viewed(steps.bufferReader.derive(derived, call, viewed, code.source(unit, view)).value(), viewed, text);
      }
      Reshape spec = new Reshape(Arrays.stream(sizes).boxed().toList());
      if (shape != null) {
        spec.outputShape(shape);
      }
      return of.viewed(steps.step(of.value(), spec, null, text, code.source(unit, view)), sizes, text);
    } catch (IllegalArgumentException ex) { // (a ShapeException among them)
      diagnostics.error(unit, view, Message.MASK_VIEW, label, text + ": " + ex.getMessage());
      return null;
    }
  }
}
