package dev.kiln.processor.read;

import com.sun.source.tree.CompilationUnitTree;
import com.sun.source.tree.ExpressionTree;
import com.sun.source.tree.IdentifierTree;
import com.sun.source.tree.MemberSelectTree;
import com.sun.source.tree.MethodInvocationTree;
import com.sun.source.tree.StatementTree;
import com.sun.source.tree.Tree;
import com.sun.source.util.TreePath;
import com.sun.source.util.Trees;
import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.LayerSpec;
import dev.kiln.processor.Diagnostics;
import dev.kiln.processor.Message;
import dev.kiln.processor.ir.ConstantIds;
import dev.kiln.processor.ir.TensorIr;
import dev.kiln.processor.ir.LayerIr;
import dev.kiln.processor.ir.IdMove;
import dev.kiln.processor.ir.IdOp;
import dev.kiln.processor.ir.Scale;
import dev.kiln.processor.ir.StepIr;
import dev.kiln.runtime.Shapes;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.stream.Collectors;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.lang.model.element.Element;
import javax.lang.model.element.ExecutableElement;
import javax.lang.model.element.Modifier;
import javax.lang.model.element.TypeElement;
import javax.lang.model.element.VariableElement;
import javax.lang.model.type.TypeKind;
import javax.lang.model.util.Elements;
import javax.lang.model.util.Types;

/**
 * Integer tensors (ids) in forward, for {@link BodyReader}: integer arithmetic of ids ({@code ids.add(1)}) and ids
 * built from constants ({@code Tensor.labels(IntStream.range(0, S).toArray())}, GPT-2's positions), with their lookups.
 */
final class IdsReader {
  private final BodyReader steps;
  private final SourceTrees code;
  private final Trees trees;
  private final Types types;
  private final Diagnostics diagnostics;

  IdsReader(BodyReader steps, SourceTrees code) {
    this.steps = steps;
    this.code = code;
    this.trees = code.trees;
    this.types = code.types;
    this.diagnostics = code.diagnostics;
  }

  // -------------------------------------------------------------- integer arithmetic of ids

  /**
   * The name of a Tensor call of integer arithmetic that may be of ids: {@code add(int)}, {@code sub(int)}, {@code
   * mul(int)}, {@code clamp(int, int)}, {@code clampMin(int)}, {@code clampMax(int)}, {@code floorDivide(int)}, {@code
   * remainder(int)} (the int overloads javac chose: {@code x.add(1f)} is a float's), {@code neg()}, {@code abs()}; else
   * null.
   */
  String idArithmetic(Element method) {
    if (!(method instanceof ExecutableElement ex) || ex.getModifiers().contains(Modifier.STATIC)
        || !((TypeElement) ex.getEnclosingElement()).getQualifiedName().contentEquals(DeclarationReader.TENSOR)) {
      return null;
    }
    String name = ex.getSimpleName().toString();
    boolean ints = !ex.getParameters().isEmpty()
        && ex.getParameters().stream().allMatch(p -> p.asType().getKind() == javax.lang.model.type.TypeKind.INT);
    return switch (name) {
      case "add", "sub", "mul", "clamp", "clampMin", "clampMax", "floorDivide", "remainder" -> ints ? name : null;
      case "neg", "abs" -> ex.getParameters().isEmpty() ? name : null;
      default -> null;
    };
  }

  /**
   * {@code ids.add(1)} and the other calls of {@link #idArithmetic}: an {@link IdOp} step of the receiver and the
   * constants, with the float step eager mode runs on floats ({@code x.add(1)} shifts), chosen once the whole graph is
   * read ({@link #resolveIdArithmetic}); null after an error.
   */
  String idArithmeticStep(MethodInvocationTree mi, String name, CompilationUnitTree unit, Map<String, LayerNode> fields,
      String className) {
    List<Object> constants = code.constants(mi.getArguments(), mi.toString(), name, unit);
    if (constants == null) {
      return null;
    }
    LayerSpec floatForm = name.equals("neg") ? new Scale(-1f, "neg()") : null; // -x: eager's negate, x * -1 to the bit
    if (floatForm == null && LayerCatalog.knowsFunction(name, constants.size())) {
      try {
        floatForm = LayerCatalog.function(name, constants);
      } catch (LayerCatalog.BadArguments e) {
        diagnostics.error(unit, mi, Message.UNSUPPORTED_FUNCTION, e.getMessage());
        return null;
      }
    }
    long[] args = constants.stream().mapToLong(c -> ((Number) c).longValue()).toArray();
    IdOp spec = IdOp.of(name, args, floatForm);
    try {
      dev.kiln.runtime.cpu.IdKernels.requireDivisor(spec.op(), spec.c()); // ids.remainder(0): eager's error, on the line
    } catch (IllegalArgumentException e) {
      diagnostics.error(unit, mi, Message.UNSUPPORTED_FUNCTION, mi + ": " + e.getMessage());
      return null;
    }
    String input = steps.expression(((MemberSelectTree) mi.getMethodSelect()).getExpression(), unit, fields, className);
    return input == null ? null : steps.step(input, spec, null, mi.toString(), code.source(unit, mi));
  }

  /**
   * The operand of {@code mi} that is ids built from constants, where {@code mi} is {@code a.add(b)} ({@code sub},
   * {@code mul}, {@code floorDivide}, {@code remainder}) of two tensors and only one of them is such ids ({@code
   * ids.mul(2).add(pos)}); else null.
   */
  ExpressionTree withConstantIds(MethodInvocationTree mi, Element method, CompilationUnitTree unit) {
    if (!(method instanceof ExecutableElement ex) || ex.getModifiers().contains(Modifier.STATIC)
        || !((TypeElement) ex.getEnclosingElement()).getQualifiedName().contentEquals(DeclarationReader.TENSOR)
        || !Set.of("add", "sub", "mul", "floorDivide", "remainder").contains(ex.getSimpleName().toString())
        || mi.getArguments().size() != 1 || !steps.functionCalls.isTensor(mi.getArguments().get(0), unit)
        || !(mi.getMethodSelect() instanceof MemberSelectTree ms)) {
      return null;
    }
    boolean receiver = isConstantIds(ms.getExpression(), unit), argument = isConstantIds(mi.getArguments().get(0), unit);
    return receiver == argument ? null : receiver ? ms.getExpression() : mi.getArguments().get(0);
  }

  /**
   * {@code ids.add(pos)} (or {@code pos.sub(ids)}, ...): an {@link IdOp} step of the other operand with the constant ids
   * folded, which must be ids once the graph is read (else {@code pos} read otherwise than by an Embedding, the error of
   * constant ids so read); null after an error.
   */
  String idsWithConstantIds(MethodInvocationTree mi, ExpressionTree constant, CompilationUnitTree unit,
      Map<String, LayerNode> fields, String className) {
    BuiltIds values = builtIds(constant, unit, mi.toString());
    if (values == null) {
      return null;
    }
    boolean valuesFirst = constant != mi.getArguments().get(0);
    String name = ((MemberSelectTree) mi.getMethodSelect()).getIdentifier().toString();
    IdOp spec = IdOp.ofValues(name, values.ids(), values.shape(), valuesFirst, mi.toString());
    if (!valuesFirst && Arrays.stream(values.ids()).anyMatch(v -> v == 0)) {
      try {
        dev.kiln.runtime.cpu.IdKernels.requireDivisor(spec.op(), 0); // ids.remainder(pos) of a 0: eager's error, on the line
      } catch (IllegalArgumentException e) {
        diagnostics.error(unit, mi, Message.UNSUPPORTED_FUNCTION, mi + ": " + e.getMessage() + " (" + values.text() + " holds 0)");
        return null;
      }
    }
    ExpressionTree other = valuesFirst ? mi.getArguments().get(0) : ((MemberSelectTree) mi.getMethodSelect()).getExpression();
    String input = steps.expression(other, unit, fields, className);
    if (input == null) {
      return null;
    }
    String out = steps.step(input, spec, null, mi.toString(), code.source(unit, mi));
    steps.errorsOfFloats.put(out, () -> idsReadOtherwise(constant, unit));
    return out;
  }

  /**
   * {@code floorDivide} or {@code remainder} of {@code mi}, where it is {@code a.floorDivide(b)} ({@code remainder}) of
   * two tensors (ids by ids, which eager mode takes only of ids); else null. (An add, sub or mul of two values is read as
   * floats' and becomes ids' once both operands are found ids: {@link #resolveIdArithmetic}.)
   */
  String idPairCall(Element method, MethodInvocationTree mi) {
    if (!(method instanceof ExecutableElement ex) || ex.getModifiers().contains(Modifier.STATIC)
        || !((TypeElement) ex.getEnclosingElement()).getQualifiedName().contentEquals(DeclarationReader.TENSOR)
        || !Set.of("floorDivide", "remainder").contains(ex.getSimpleName().toString()) || ex.getParameters().size() != 1
        || !types.isSameType(types.erasure(ex.getParameters().get(0).asType()), types.erasure(code.type(DeclarationReader.TENSOR)))
        || !(mi.getMethodSelect() instanceof MemberSelectTree)) {
      return null;
    }
    return ex.getSimpleName().toString();
  }

  /** {@code a.floorDivide(b)} of two values: an {@link IdOp#ofPair} step of both, in the call's order; null after an error. */
  String idPairStep(MethodInvocationTree mi, String name, CompilationUnitTree unit, Map<String, LayerNode> fields,
      String className) {
    String a = steps.expression(((MemberSelectTree) mi.getMethodSelect()).getExpression(), unit, fields, className);
    String b = steps.expression(mi.getArguments().get(0), unit, fields, className);
    return a == null || b == null ? null : steps.step(List.of(a, b), IdOp.ofPair(name, mi.toString(), null), null, mi.toString(),
        code.source(unit, mi));
  }

  /**
   * Once a graph is read: each {@link IdOp} whose receiver is ids stays one (the input or a further input that reaches
   * an Embedding through such steps and views, an argmax's indices, or ids so computed); one of floats becomes its float
   * step ({@code x.add(1)}), or is an error on its line where a compiled forward has none ({@code x.neg()}; {@code x.clamp(0, 1)} of floats is their clamp, {@code ir.Pointwise}).
   */
  void resolveIdArithmetic() {
    if (steps.list.stream().noneMatch(s -> s.spec() instanceof IdOp || IdOp.pairOfValues(s) != null || IdMove.moves(s.spec()))) {
      return;
    }
    Set<String> ids = IdOp.idsValues(steps.list);
    resolveIdMoves(ids);
    for (int i = 0; i < steps.list.size(); i++) {
      StepIr s = steps.list.get(i);
      if (IdOp.pairOfValues(s) != null && ids.contains(s.output())) { // users.mul(V).add(items): ids of two values of ids
        steps.list.set(i, new StepIr(s.output(), s.inputs(), IdOp.pairOfValues(s), s.layer(), s.text(), s.source()));
        continue;
      }
      if (!(s.spec() instanceof IdOp op) || ids.contains(s.output())) {
        continue;
      }
      if (op.floatForm() != null) {
        steps.list.set(i, new StepIr(s.output(), s.inputs(), op.floatForm(), s.layer(), s.text(), s.source()));
        continue;
      }
      if (steps.errorsOfFloats.containsKey(s.output())) { // x.add(pos): the constant ids read otherwise than as ids
        steps.errorsOfFloats.get(s.output()).run();
        continue;
      }
      String floats = !op.pair() ? s.input() : s.inputs().stream() // (the operand a step made, not ids; else the first)
          .filter(v -> !ids.contains(v) && steps.list.stream().anyMatch(t -> t.output().equals(v))).findFirst().orElse(s.input());
      String receiver = steps.list.stream().filter(t -> t.output().equals(floats)).map(StepIr::text).findFirst()
          .orElse("the input " + floats);
      String name = op.pair() ? op.valuesMethod() : op.call().substring(0, op.call().indexOf('('));
      diagnostics.error(s.source(), Message.ID_ARITHMETIC_OF_FLOATS, s.text(), s.text(), receiver, switch (name) {
        case "floorDivide", "remainder" -> "eager mode takes ids only too";
        default -> "a compiled forward has no float " + name + "() yet";
      });
    }
  }

  /**
   * Each narrow, flip, roll or pad whose output is ids ({@code emb.apply(ids.flip(1))}) becomes an {@link IdMove} (same
   * output, inputs, text and source; floats' moves are untouched); a pad value no id can hold is an error on its line.
   */
  private void resolveIdMoves(Set<String> ids) {
    for (int i = 0; i < steps.list.size(); i++) {
      StepIr s = steps.list.get(i);
      if (!IdMove.moves(s.spec()) || !ids.contains(s.output())) {
        continue;
      }
      try {
        steps.list.set(i, new StepIr(s.output(), s.inputs(), IdMove.of(s.spec()), s.layer(), s.text(), s.source()));
      } catch (IllegalArgumentException e) {
        diagnostics.error(s.source(), Message.UNSUPPORTED_FUNCTION, s.text() + ": " + e.getMessage());
      }
    }
  }

  /** {@code F.cosineSimilarity(a, b[, dim, eps])}: a step of the two values, its dimension and eps constants; null after an error. */
  String cosineSimilarity(MethodInvocationTree mi, List<? extends ExpressionTree> args, CompilationUnitTree unit,
      Map<String, LayerNode> fields, String className) {
    List<Object> constants = code.constants(args.subList(2, args.size()), mi.toString(), "cosineSimilarity", unit);
    if (constants == null) {
      return null;
    }
    LayerSpec spec;
    try {
      spec = LayerCatalog.cosineSimilarity(constants);
    } catch (LayerCatalog.BadArguments e) {
      diagnostics.error(unit, mi, Message.UNSUPPORTED_FUNCTION, e.getMessage());
      return null;
    }
    String a = steps.expression(args.get(0), unit, fields, className);
    String b = steps.expression(args.get(1), unit, fields, className);
    return a == null || b == null ? null : steps.step(List.of(a, b), spec, null, mi.toString(), code.source(unit, mi));
  }

  // -------------------------------------------------------------- ids built in forward (GPT-2's positions)

  /** Locals holding ids built from constants ({@code Tensor pos = Tensor.labels(IntStream.range(0, S).toArray());}), as written. */
  final Map<String, ExpressionTree> idsLocals = new HashMap<>();

  /** The ids a local or an expression holds: their values in order, eager mode's shape, the expression as written. */
  record BuiltIds(int[] ids, int[] shape, String text) {}

  /**
   * Whether {@code e} is ids built in forward: {@code Tensor.labels(...)}, a local holding them, or a view of those
   * ({@code view}, {@code reshape}, {@code unsqueeze}).
   */
  boolean isConstantIds(ExpressionTree e, CompilationUnitTree unit) {
    e = DeclarationReader.stripped(e);
    if (e instanceof IdentifierTree id) {
      return idsLocals.containsKey(id.getName().toString());
    }
    if (!(e instanceof MethodInvocationTree mi) || !(mi.getMethodSelect() instanceof MemberSelectTree ms)) {
      return false;
    }
    if (steps.isTensorMethod(mi, unit, true)) {
      return ms.getIdentifier().contentEquals("labels");
    }
    if (steps.isTensorMethod(mi, unit, false) && onDeviceOf(mi)) { // nanoGPT's torch.arange(0, t, device=device)
      return isConstantIds(ms.getExpression(), unit);
    }
    if (idArithmetic(trees.getElement(TreePath.getPath(unit, mi))) != null) { // pos.add(2): ids computed from constants
      return isConstantIds(ms.getExpression(), unit);
    }
    return steps.isTensorMethod(mi, unit, false) && Set.of("view", "reshape", "unsqueeze").contains(ms.getIdentifier().toString())
        && isConstantIds(ms.getExpression(), unit);
  }

  /**
   * Whether {@code mi} is {@code .to(t.device())}: the ids moved to another tensor's device, as a model that runs on
   * CUDA in eager mode writes them. The compiled step places its ids on the model's device itself, so it reads the ids
   * as they were.
   */
  static boolean onDeviceOf(MethodInvocationTree mi) {
    return mi.getMethodSelect() instanceof MemberSelectTree ms && ms.getIdentifier().contentEquals("to")
        && mi.getArguments().size() == 1 && DeclarationReader.stripped(mi.getArguments().get(0)) instanceof MethodInvocationTree arg
        && arg.getArguments().isEmpty() && arg.getMethodSelect() instanceof MemberSelectTree device
        && device.getIdentifier().contentEquals("device");
  }

  /** {@code Tensor pos = Tensor.labels(...)}: the local holds the ids, read where an Embedding looks them up (checked there). */
  void holdIds(String local, ExpressionTree ids, CompilationUnitTree unit) {
    steps.assign(local, null);
    steps.unknown.remove(local);
    idsLocals.put(local, ids);
  }

  /** Ids built in forward read otherwise than by an Embedding: an error naming them. */
  void idsReadOtherwise(ExpressionTree e, CompilationUnitTree unit) {
    ExpressionTree root = DeclarationReader.stripped(e);
    String held = root instanceof IdentifierTree id ? id.getName().toString() : null;
    TreePath at = TreePath.getPath(unit, e);
    TreePath path = at == null ? null : at.getParentPath();
    while (path != null && !(path.getLeaf() instanceof MethodInvocationTree) && !(path.getLeaf() instanceof StatementTree)) {
      path = path.getParentPath();
    }
    Tree reader = path != null ? path.getLeaf() : e;
    diagnostics.error(unit, e, Message.CONSTANT_IDS_READ, reader instanceof StatementTree ? e.toString() : reader.toString(),
        held != null ? held : e.toString(), held != null ? idsLocals.get(held).toString() : e.toString(), e);
  }

  /**
   * {@code wpe.apply(pos)} over ids built from constants: a {@link ConstantIds} step, placed in the batch by the first
   * input (it reads no value of it); null after an error on the ids (reported).
   */
  String lookUpConstantIds(LayerIr layer, Embedding.Spec embedding, MethodInvocationTree call, CompilationUnitTree unit) {
    BuiltIds ids = builtIds(call.getArguments().get(0), unit, call.toString());
    if (ids == null) {
      return null;
    }
    for (int i = 0; i < ids.ids().length; i++) {
      int id = ids.ids()[i];
      if (id < 0 || id >= embedding.numEmbeddings()) {
        diagnostics.error(unit, call, Message.CONSTANT_IDS, call, "id " + id + " at " + i + " of " + ids.text() + " is out of range for "
            + embedding.numEmbeddings() + " embeddings (0.." + (embedding.numEmbeddings() - 1) + ")");
        return null;
      }
    }
    if (ids.shape().length > 2 || ids.shape().length == 2 && ids.shape()[0] != 1) {
      diagnostics.error(unit, call, Message.CONSTANT_IDS, call, ids.text() + " is " + Shapes.toString(ids.shape())
          + ", of more than one row, which would add dimensions before the batch's");
      return null;
    }
    return steps.step(steps.inputName, new ConstantIds(embedding, ids.ids(), ids.shape(), ids.text()), layer, call.toString(), code.source(unit, call));
  }

  /**
   * {@code wpe.apply(positionIds)} over a buffer of ids ({@code registerBuffer("positionIds", Tensor.labels(...))}): a {@link
   * ConstantIds} step of the buffer's declared shape, whose ids the generated code reads at each call (a load changes them; eager's
   * checks there); null after an error on the line (a parameter, more than one row).
   */
  String lookUpBuffer(LayerIr layer, Embedding.Spec embedding, MethodInvocationTree call, VariableElement field, CompilationUnitTree unit,
      String className) {
    ExpressionTree arg = call.getArguments().get(0);
    String value = steps.tensorField(field, arg, unit, className);
    TensorIr t = value == null ? null : steps.tensors.byValue(value);
    if (t == null) {
      return null;
    }
    int[] shape = t.shape();
    String problem = t.isParameter() ? t.describe() + ", not ids"
        : shape.length > 2 || shape.length == 2 && shape[0] != 1 ? t.describe() + ", of more than one row, which would add dimensions"
            + " before the batch's" : null;
    if (problem != null) {
      diagnostics.error(unit, call, Message.CONSTANT_IDS, call, arg + " is " + problem);
      return null;
    }
    return steps.step(steps.inputName, ConstantIds.ofBuffer(embedding, shape, arg.toString(), t.field()), layer, call.toString(),
        code.source(unit, call));
  }

  /** The ids {@code e} builds, folded, with eager mode's shape; null after an error (reported). */
  BuiltIds builtIds(ExpressionTree e, CompilationUnitTree unit, String label) {
    e = DeclarationReader.stripped(e);
    if (e instanceof IdentifierTree id) {
      BuiltIds held = builtIds(idsLocals.get(id.getName().toString()), unit, label);
      return held == null ? null : new BuiltIds(held.ids(), held.shape(), id.getName().toString());
    }
    MethodInvocationTree mi = (MethodInvocationTree) e;
    String name = ((MemberSelectTree) mi.getMethodSelect()).getIdentifier().toString();
    if (name.equals("labels")) {
      int[] ids = labelValues(mi, unit, label);
      return ids == null ? null : new BuiltIds(ids, new int[] {ids.length}, mi.toString());
    }
    BuiltIds of = builtIds(((MemberSelectTree) mi.getMethodSelect()).getExpression(), unit, label);
    if (of == null || onDeviceOf(mi)) { // the same ids on another device
      return of == null ? null : new BuiltIds(of.ids(), of.shape(), of.text() + ".to(" + mi.getArguments().get(0) + ")");
    }
    List<Object> args = code.constants(mi.getArguments(), label, name, unit);
    if (args == null) {
      return null;
    }
    try {
      if (idArithmetic(trees.getElement(TreePath.getPath(unit, mi))) != null) { // pos.add(2), folded as eager computes it
        IdOp op = IdOp.of(name, args.stream().mapToLong(a -> ((Number) a).longValue()).toArray(), null);
        float[] values = new float[of.ids().length];
        float[] in = new float[values.length];
        for (int i = 0; i < in.length; i++) {
          in[i] = of.ids()[i];
        }
        dev.kiln.runtime.cpu.IdKernels.withConstant(op.op(), op.c(), op.c2(), values, 0, in, 0, in.length);
        int[] ids = new int[values.length];
        for (int i = 0; i < ids.length; i++) {
          ids[i] = (int) values[i];
        }
        return new BuiltIds(ids, of.shape(), of.text() + "." + op.call());
      }
      int[] shape;
      if (name.equals("unsqueeze")) {
        int d = ((Number) args.get(0)).intValue();
        int at = Shapes.normalizeDim(d, of.shape().length + 1);
        shape = new int[of.shape().length + 1];
        for (int i = 0, j = 0; i < shape.length; i++) {
          shape[i] = i == at ? 1 : of.shape()[j++];
        }
      } else {
        int[] sizes = args.size() == 1 && args.get(0) instanceof int[] a ? a
            : args.stream().mapToInt(a -> ((Number) a).intValue()).toArray();
        shape = Shapes.inferReshape(of.shape(), sizes);
      }
      return new BuiltIds(of.ids(), shape, of.text() + "." + name + "(" + mi.getArguments().stream().map(Object::toString)
          .collect(java.util.stream.Collectors.joining(", ")) + ")");
    } catch (RuntimeException ex) {
      diagnostics.error(unit, mi, Message.CONSTANT_IDS, label, mi + ": " + ex.getMessage());
      return null;
    }
  }

  /**
   * The {@code IntStream.range(a, b)} (or {@code rangeClosed}) call of {@code Tensor.labels}' arguments {@code args} when they are
   * {@code IntStream.range(a, b).toArray()}, else null (a buffer's declaration is read for its count the same way).
   */
  static MethodInvocationTree range(List<? extends ExpressionTree> args, Trees trees, CompilationUnitTree unit) {
    if (args.size() == 1 && DeclarationReader.stripped(args.get(0)) instanceof MethodInvocationTree toArray
        && toArray.getMethodSelect() instanceof MemberSelectTree ta && ta.getIdentifier().contentEquals("toArray")
        && toArray.getArguments().isEmpty() && DeclarationReader.stripped(ta.getExpression()) instanceof MethodInvocationTree range
        && range.getMethodSelect() instanceof MemberSelectTree rs && range.getArguments().size() == 2
        && trees.getElement(TreePath.getPath(unit, range)) instanceof ExecutableElement r
        && ((TypeElement) r.getEnclosingElement()).getQualifiedName().contentEquals("java.util.stream.IntStream")
        && (rs.getIdentifier().contentEquals("range") || rs.getIdentifier().contentEquals("rangeClosed"))) {
      return range;
    }
    return null;
  }

  /**
   * The values of {@code Tensor.labels(...)}: constants written in the call, a constant {@code int[]}, or {@code
   * IntStream.range(a, b).toArray()} ({@code rangeClosed}) of constants; null after an error (reported).
   */
  private int[] labelValues(MethodInvocationTree labels, CompilationUnitTree unit, String label) {
    List<? extends ExpressionTree> args = labels.getArguments();
    MethodInvocationTree range = range(args, trees, unit);
    if (range != null) {
      String method = ((MemberSelectTree) range.getMethodSelect()).getIdentifier().toString();
      List<Object> bounds = code.constants(range.getArguments(), label, "IntStream." + method, unit);
      if (bounds == null) {
        return null;
      }
      int from = ((Number) bounds.get(0)).intValue();
      int to = ((Number) bounds.get(1)).intValue() + (method.equals("rangeClosed") ? 1 : 0);
      if (to <= from) {
        diagnostics.error(unit, range, Message.CONSTANT_IDS, label, range + " holds no id");
        return null;
      }
      return java.util.stream.IntStream.range(from, to).toArray();
    }
    List<Object> values = new ArrayList<>();
    for (ExpressionTree a : args) {
      Object v = code.foldOrNull(a, unit);
      if (v == null) {
        diagnostics.error(unit, a, Message.CONSTANT_IDS, label, a + " is not a constant");
        return null;
      }
      values.add(v);
    }
    if (values.size() == 1 && values.get(0) instanceof int[] array) {
      values = new ArrayList<>(Arrays.stream(array).boxed().toList());
    }
    if (values.isEmpty()) {
      diagnostics.error(unit, labels, Message.CONSTANT_IDS, label, labels + " holds no id");
      return null;
    }
    return values.stream().mapToInt(v -> ((Number) v).intValue()).toArray();
  }
}
