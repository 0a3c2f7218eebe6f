package dev.kiln.processor.read;

import com.sun.source.tree.CompilationUnitTree;
import com.sun.source.tree.ExpressionTree;
import com.sun.source.tree.MemberSelectTree;
import com.sun.source.tree.MethodInvocationTree;
import com.sun.source.tree.ParenthesizedTree;
import com.sun.source.tree.Tree;
import com.sun.source.tree.VariableTree;
import com.sun.source.util.TreePath;
import com.sun.source.util.Trees;
import dev.kiln.processor.Diagnostics;
import dev.kiln.processor.Message;
import dev.kiln.processor.ir.Source;
import dev.kiln.processor.ir.TensorIr;
import dev.kiln.runtime.Shapes;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import javax.lang.model.element.Element;
import javax.lang.model.element.ExecutableElement;
import javax.lang.model.element.Modifier;
import javax.lang.model.element.TypeElement;
import javax.lang.model.element.VariableElement;

/**
 * Reads the tensor fields of a {@code @Model} class that its forward uses: a parameter
 * ({@code registerParameter("pos", Tensor.zeros(1, S, D).requiresGrad(true))}, or a plain field
 * ending in {@code requiresGrad(true)}, which {@code Module} counts as a parameter under the field's
 * name, as PyTorch counts an {@code nn.Parameter} attribute) or a buffer ({@code registerBuffer("mask",
 * Tensor.ones(S, S).tril())}), from its initializer or its one assignment in the constructor without
 * parameters. Only the shape is folded (the values are the object's at run time): a factory of
 * constant sizes, then calls that keep or constantly change the shape. Each field is read once, when
 * forward first uses it, so an unused tensor field (an eager cache) is never an error.
 */
final class TensorFieldReader {
  private static final String TENSOR = "dev.kiln.runtime.Tensor";
  private static final String MODULE = "dev.kiln.dsl.Module";
  private static final String INIT = "dev.kiln.dsl.Init";
  private static final String FUNCTIONS = "dev.kiln.dsl.F";
  /** Tensor factories whose arguments are the sizes, after this many leading values. */
  private static final Map<String, Integer> FACTORIES = Map.of("zeros", 0, "ones", 0, "randn", 0, "rand", 0, "full", 1, "uniform", 2);
  /** Tensor methods that keep the shape (with constant arguments, or none). */
  private static final Set<String> SHAPE_KEEPING = Set.of("mul", "div", "add", "sub", "neg", "abs", "tril", "triu", "detach",
      "clone", "eq", "ne", "lt", "le", "gt", "ge", "requiresGrad");

  private final Trees trees;
  private final Diagnostics diagnostics;
  private final ConstantFolder folder;
  /** The expression a field without an initializer is assigned in the constructor, or null after reporting why none. */
  private final Function<VariableElement, ExpressionTree> constructorValue;
  /** By field name, in the order forward first reads them; empty after an error (reported once). */
  private final Map<String, Optional<TensorIr>> read = new LinkedHashMap<>();
  /** The field each name read stands for: one name, one field (a block's field may hide one it inherits). */
  private final Map<String, VariableElement> elements = new java.util.HashMap<>();
  /** The tensors computed from buffers ({@link #derived}) that a step reads, by field. */
  private final Set<String> readDerived = new java.util.HashSet<>();
  /** Fields whose shape alone was read ({@link #shape}), by name: read by {@link #field} from here, not again. */
  private final Map<String, Optional<TensorIr>> peeked = new java.util.HashMap<>();

  /** Prepended to field names and keys: {@code ""} for the model's own fields, {@code "h.0."} for a block's. */
  private final String prefix;

  TensorFieldReader(Trees trees, Diagnostics diagnostics, ConstantFolder folder,
      Function<VariableElement, ExpressionTree> constructorValue) {
    this(trees, diagnostics, folder, constructorValue, "");
  }

  /**
   * The tensor fields of a block at {@code prefix} ({@code "h.0."}): fields and keys prefixed, as its state-dict keys
   * are; a private field is fine there (the generated class finds it by its path, not by a field access).
   */
  TensorFieldReader(Trees trees, Diagnostics diagnostics, ConstantFolder folder,
      Function<VariableElement, ExpressionTree> constructorValue, String prefix) {
    this.prefix = prefix;
    this.trees = trees;
    this.diagnostics = diagnostics;
    this.folder = folder;
    this.constructorValue = constructorValue;
  }

  /** The tensor field, read on first use; null when its declaration has an error (reported there, once). */
  TensorIr field(VariableElement field) {
    String name = field.getSimpleName().toString();
    VariableElement other = elements.putIfAbsent(name, field);
    if (other != null && !other.equals(field)) { // a block's field and one of the block it extends, of one name, both read
      if (read.get(name) == null || read.get(name).isPresent()) { // reported once
        diagnostics.error(field, Message.HIDDEN_TENSOR, name, field.getEnclosingElement().getSimpleName(), name,
            other.getEnclosingElement().getSimpleName());
      }
      read.put(name, Optional.empty());
      return null;
    }
    return read.computeIfAbsent(name, n -> peeked.containsKey(n) ? peeked.remove(n) : Optional.ofNullable(readField(field)))
        .orElse(null);
  }

  /**
   * The declared shape of the tensor field (a size read of it, {@code pos.size(0)}), read as {@link #field} reads it but
   * without counting it as read: a field whose size alone forward reads is no tensor of the graph. Null when its declaration
   * has an error (reported there, once).
   */
  int[] shape(VariableElement field) {
    String name = field.getSimpleName().toString();
    Optional<TensorIr> t = read.containsKey(name) ? read.get(name)
        : peeked.computeIfAbsent(name, n -> Optional.ofNullable(readField(field)));
    return t.map(TensorIr::shape).orElse(null);
  }

  /** What has been read so far, for {@link #reset}. */
  record Mark(java.util.Set<String> read, java.util.Set<String> readDerived) {}

  Mark mark() {
    return new Mark(java.util.Set.copyOf(read.keySet()), java.util.Set.copyOf(readDerived));
  }

  /**
   * Forgets what was read since {@code mark} (an expression read only for its size, whose steps are dropped): those fields
   * count as unread again, their declarations kept as {@link #shape} keeps them, so none is read (nor reported) twice.
   */
  void reset(Mark mark) {
    for (var it = read.entrySet().iterator(); it.hasNext(); ) {
      var e = it.next();
      if (!mark.read().contains(e.getKey())) {
        if (elements.containsKey(e.getKey())) {
          peeked.put(e.getKey(), e.getValue());
        }
        it.remove();
      }
    }
    elements.keySet().retainAll(mark.read());
    readDerived.retainAll(mark.readDerived());
  }

  /**
   * The tensor forward computes from the buffer {@code of} by the eager {@code calls} ({@link TensorIr#derived}), the
   * same one each time the same calls are written; listed after {@code of} by {@link #used}.
   */
  TensorIr derived(TensorIr of, String calls, int[] shape, Source source) {
    if (of.isWhere()) { // a where of buffers viewed: computed from it, which is kept then
      readDerived.add(of.field());
    }
    TensorIr t = TensorIr.derived(of, calls, shape, source);
    return read.computeIfAbsent(t.field(), n -> Optional.of(t)).orElse(null);
  }

  /**
   * The run of the parameter {@code of}'s values at {@code offset} (or the {@code runs} from there, null for one) that forward
   * reads through the eager {@code calls} ({@link TensorIr#region}: {@code pos.narrow(1, 0, T)}), the same one each time the
   * same calls are written.
   */
  TensorIr region(TensorIr of, String calls, int offset, TensorIr.Runs runs, int[] shape, Source source) {
    TensorIr t = TensorIr.region(of, calls, offset, runs, shape, source);
    return read.computeIfAbsent(t.field(), n -> Optional.of(t)).orElse(null);
  }

  /**
   * {@code Tensor.where(mask, a, b)} of buffers alone ({@link TensorIr#where}), the same one each time the same call is
   * written; its operands kept as read.
   */
  TensorIr where(String call, TensorIr mask, TensorIr a, TensorIr b, int[] shape, Source source) {
    TensorIr t = TensorIr.where(call, mask, a, b, shape, source);
    for (TensorIr operand : List.of(mask, a, b)) {
      markRead(operand.value());
    }
    return read.computeIfAbsent(t.field(), n -> Optional.of(t)).orElse(null);
  }

  /** The tensor (a field, or one computed from a buffer) whose value is {@code value} ({@code this.bias}), or null. */
  TensorIr byValue(String value) {
    return read.values().stream().flatMap(Optional::stream).filter(t -> t.value().equals(value)).findFirst().orElse(null);
  }

  /** Notes that a step (or a masked fill's mask) reads {@code value}: a tensor computed from a buffer is kept then. */
  void markRead(String value) {
    TensorIr t = byValue(value);
    if (t != null && t.isDerived()) {
      readDerived.add(t.field());
    }
  }

  /**
   * The fields read without error, in the order forward first read them, and the tensors computed from buffers that a
   * step reads (not those only a further call or a comparison computed from).
   */
  List<TensorIr> used() {
    List<TensorIr> out = new ArrayList<>();
    read.values().forEach(t -> t.filter(f -> !f.isDerived() || readDerived.contains(f.field())).ifPresent(out::add));
    return out;
  }

  private TensorIr readField(VariableElement field) {
    String name = field.getSimpleName().toString();
    boolean ok = true;
    if (field.getModifiers().contains(Modifier.PRIVATE) && prefix.isEmpty()) {
      diagnostics.error(field, Message.PRIVATE_TENSOR, name);
      ok = false;
    }
    VariableTree tree = (VariableTree) trees.getTree(field);
    CompilationUnitTree unit = trees.getPath(field).getCompilationUnit(); // a block's superclass's may be another file
    ExpressionTree value = tree.getInitializer() != null ? tree.getInitializer() : constructorValue.apply(field);
    if (value == null) {
      return null;
    }
    if (!field.getModifiers().contains(Modifier.FINAL)) {
      diagnostics.error(field, Message.NON_FINAL_TENSOR, name);
      ok = false;
    }
    Declared d = declared(value, name, unit);
    if (d == null) {
      return null;
    }
    if (d.kind == null) {
      diagnostics.error(field, Message.TENSOR_UNREGISTERED, name, name, name);
      return null;
    }
    long pos = trees.getSourcePositions().getStartPosition(unit, tree);
    return ok ? new TensorIr(prefix + name, prefix + d.key, d.kind, d.shape, new Source(unit, tree, unit.getLineMap().getLineNumber(pos))) : null;
  }

  /** What a field's expression registers: its kind (null: neither a parameter nor a buffer), key and shape. */
  private record Declared(TensorIr.Kind kind, String key, int[] shape) {}

  /** A tensor as folded so far: its shape, and whether it is a leaf that requires grad (its last call {@code requiresGrad(true)}). */
  private record Folded(int[] shape, boolean trainable) {}

  private Declared declared(ExpressionTree e, String field, CompilationUnitTree unit) {
    e = unwrap(e);
    if (e instanceof MethodInvocationTree mi && method(mi, unit) instanceof ExecutableElement m && owner(m).equals(MODULE)
        && (mi.getArguments().size() == 2 || mi.getArguments().size() == 3 && m.getSimpleName().contentEquals("registerBuffer"))
        && (m.getSimpleName().contentEquals("registerParameter") || m.getSimpleName().contentEquals("registerBuffer"))) {
      // (registerBuffer(name, t, false): not in the state dict, which a compiled forward does not read)
      Object key = constant(mi.getArguments().get(0), field, m.getSimpleName().toString(), unit);
      Folded f = key == null ? null : fold(mi.getArguments().get(1), field, unit);
      return f == null ? null : new Declared(m.getSimpleName().contentEquals("registerParameter") ? TensorIr.Kind.PARAMETER
          : TensorIr.Kind.BUFFER, String.valueOf(key), f.shape);
    }
    Folded f = fold(e, field, unit);
    return f == null ? null : new Declared(f.trainable ? TensorIr.Kind.PARAMETER : null, field, f.shape);
  }

  /** The shape of a tensor expression; null after reporting what cannot be read. */
  private Folded fold(ExpressionTree e, String field, CompilationUnitTree unit) {
    e = unwrap(e);
    if (!(e instanceof MethodInvocationTree mi) || !(method(mi, unit) instanceof ExecutableElement m)) {
      return unknown(e, field, unit);
    }
    String name = m.getSimpleName().toString();
    List<? extends ExpressionTree> args = mi.getArguments();
    boolean isStatic = m.getModifiers().contains(Modifier.STATIC);
    if (owner(m).equals(INIT) && isStatic && !args.isEmpty()) { // Init.normal(t, 0, 0.02): in place, the same tensor
      return fold(args.get(0), field, unit);
    }
    if (owner(m).equals(FUNCTIONS) && name.equals("attentionMask") && args.size() == 1) { // 0/-inf of a 0/1 mask: its shape
      Folded blocked = fold(args.get(0), field, unit);
      return blocked == null ? null : new Folded(blocked.shape, false);
    }
    if (owner(m).equals("dev.kiln.dsl.Transformer") && name.equals("generateSquareSubsequentMask") && args.size() == 1) {
      int[] sizes = sizes(List.of(args.get(0), args.get(0)), field, name, unit); // the causal mask [sz, sz], 0 / -inf
      return sizes == null ? null : new Folded(sizes, false);
    }
    if (!owner(m).equals(TENSOR)) {
      return unknown(e, field, unit);
    }
    if (isStatic && FACTORIES.containsKey(name) && args.size() > FACTORIES.get(name)) {
      int[] sizes = sizes(args.subList(FACTORIES.get(name), args.size()), field, name, unit);
      return sizes == null ? null : new Folded(sizes, false);
    }
    if (isStatic && name.equals("labels") && !args.isEmpty()) { // a buffer of ids: one value per id
      int[] count = labelsCount(mi, field, unit);
      return count == null ? null : new Folded(count, false);
    }
    if (isStatic || !(mi.getMethodSelect() instanceof MemberSelectTree select)) {
      return unknown(e, field, unit);
    }
    boolean constantsOnly = args.stream().noneMatch(a -> isTensor(a, unit));
    if (!constantsOnly || !SHAPE_KEEPING.contains(name) && !name.equals("view") && !name.equals("reshape")
        && !name.equals("unsqueeze")) {
      return unknown(e, field, unit);
    }
    Folded receiver = fold(select.getExpression(), field, unit);
    if (receiver == null) {
      return null;
    }
    List<Object> values = constants(args, field, name, unit);
    if (values == null) {
      return null;
    }
    if (name.equals("requiresGrad")) {
      return new Folded(receiver.shape, Boolean.TRUE.equals(values.get(0)));
    }
    if (SHAPE_KEEPING.contains(name)) {
      return new Folded(receiver.shape, false);
    }
    int[] shape = name.equals("unsqueeze") ? unsqueeze(receiver.shape, values, field, mi, unit)
        : view(receiver.shape, values, field, name, mi, unit);
    return shape == null ? null : new Folded(shape, false);
  }

  /** Each argument folded to its constant ({@link #constant}), or null after an error on the first that is not one. */
  private List<Object> constants(List<? extends ExpressionTree> args, String field, String call, CompilationUnitTree unit) {
    List<Object> values = new ArrayList<>();
    for (ExpressionTree a : args) {
      Object v = constant(a, field, call, unit);
      if (v == null) {
        return null;
      }
      values.add(v);
    }
    return values;
  }

  /**
   * The shape of {@code Tensor.labels(...)}, {@code [count]}: its constant ids, a constant int array, or {@code IntStream.range(a,
   * b).toArray()} of constants; null after an error.
   */
  private int[] labelsCount(MethodInvocationTree labels, String field, CompilationUnitTree unit) {
    MethodInvocationTree range = IdsReader.range(labels.getArguments(), trees, unit);
    List<Object> values = constants(range != null ? range.getArguments() : labels.getArguments(), field, "labels", unit);
    if (values == null) {
      return null;
    }
    int[] ints = ints(values);
    long count = ints == null ? -1 : range == null ? ints.length
        : (long) ints[1] - ints[0] + (((MemberSelectTree) range.getMethodSelect()).getIdentifier().contentEquals("rangeClosed") ? 1 : 0);
    if (count < 1 || count > Integer.MAX_VALUE) {
      diagnostics.error(unit, labels, Message.TENSOR_BAD_SIZES, field, labels + " holds no id"
          + (ints == null ? " that is an int" : ""));
      return null;
    }
    return new int[] {(int) count};
  }

  /** The sizes of a factory: constants, each at least 1, or one int array. */
  private int[] sizes(List<? extends ExpressionTree> args, String field, String factory, CompilationUnitTree unit) {
    List<Object> values = constants(args, field, factory, unit);
    if (values == null) {
      return null;
    }
    int[] sizes = ints(values);
    if (sizes == null || sizes.length == 0 || Arrays.stream(sizes).anyMatch(s -> s < 1)) {
      diagnostics.error(unit, args.get(0), Message.TENSOR_BAD_SIZES, field, "Tensor." + factory
          + " needs sizes of at least 1, got " + values.stream().map(v -> v instanceof int[] a ? Arrays.toString(a) : String.valueOf(v)).toList());
      return null;
    }
    try {
      Shapes.numel(sizes);
    } catch (IllegalArgumentException ex) {
      diagnostics.error(unit, args.get(0), Message.TENSOR_BAD_SIZES, field, ex.getMessage());
      return null;
    }
    return sizes;
  }

  /** {@code view(1, 1, S, S)} or {@code reshape}: constant sizes, one of them -1 at most, of as many values. */
  private int[] view(int[] shape, List<Object> values, String field, String name, Tree call, CompilationUnitTree unit) {
    int[] sizes = ints(values);
    String problem = null;
    if (sizes == null) {
      problem = "sizes that are not ints";
    } else {
      int inferred = -1;
      long known = 1;
      for (int i = 0; i < sizes.length && problem == null; i++) {
        if (sizes[i] == -1 && inferred < 0) {
          inferred = i;
        } else if (sizes[i] < 1) {
          problem = "size " + sizes[i];
        } else {
          known *= sizes[i];
        }
      }
      long total = Shapes.numel(shape);
      if (problem == null && inferred >= 0 && known > 0 && total % known == 0) {
        sizes[inferred] = (int) (total / known);
        known = total;
      }
      if (problem == null && known != total) {
        problem = Shapes.toString(sizes) + " for " + total + " values";
      }
    }
    if (problem != null) {
      diagnostics.error(unit, call, Message.TENSOR_BAD_SIZES, field, name + " of "
          + Shapes.toString(shape) + " cannot take " + problem);
      return null;
    }
    return sizes;
  }

  private int[] unsqueeze(int[] shape, List<Object> values, String field, Tree call, CompilationUnitTree unit) {
    if (!(values.get(0) instanceof Integer d) || d < -shape.length - 1 || d > shape.length) {
      diagnostics.error(unit, call, Message.TENSOR_BAD_SIZES, field, "unsqueeze(" + values.get(0)
          + ") of " + Shapes.toString(shape) + " is out of range");
      return null;
    }
    int at = d < 0 ? d + shape.length + 1 : d;
    int[] out = new int[shape.length + 1];
    for (int i = 0, j = 0; i < out.length; i++) {
      out[i] = i == at ? 1 : shape[j++];
    }
    return out;
  }

  /** Ints or one int array as an int array; null when a value is neither. */
  private static int[] ints(List<Object> values) {
    if (values.size() == 1 && values.get(0) instanceof int[] a) {
      return a.clone();
    }
    int[] out = new int[values.size()];
    for (int i = 0; i < out.length; i++) {
      if (!(values.get(i) instanceof Integer v)) {
        return null;
      }
      out[i] = v;
    }
    return out;
  }

  private Folded unknown(ExpressionTree e, String field, CompilationUnitTree unit) {
    diagnostics.error(unit, e, Message.TENSOR_SHAPE_UNKNOWN, field, firstLine(e), field, field);
    return null;
  }

  /** The constant value of an argument; null after reporting one that is not constant. */
  private Object constant(ExpressionTree e, String field, String callee, CompilationUnitTree unit) {
    try {
      return folder.fold(e, unit);
    } catch (ConstantFolder.NotConstant ex) {
      diagnostics.error(unit, ex.tree, Message.NON_CONSTANT_ARGUMENT, field, ex.tree, callee);
      return null;
    }
  }

  private boolean isTensor(ExpressionTree e, CompilationUnitTree unit) {
    var t = trees.getTypeMirror(TreePath.getPath(unit, e));
    return t != null && t.toString().equals(TENSOR);
  }

  private Element method(MethodInvocationTree mi, CompilationUnitTree unit) {
    return trees.getElement(TreePath.getPath(unit, mi));
  }

  private static String owner(ExecutableElement m) {
    return ((TypeElement) m.getEnclosingElement()).getQualifiedName().toString();
  }

  private static ExpressionTree unwrap(ExpressionTree e) {
    while (e instanceof ParenthesizedTree p) {
      e = p.getExpression();
    }
    return e;
  }

  private static String firstLine(Tree t) {
    String s = t.toString().strip();
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl) + " ...";
  }
}
