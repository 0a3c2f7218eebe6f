package dev.kiln.processor.read;

import com.sun.source.tree.CompilationUnitTree;
import com.sun.source.tree.ExpressionTree;
import com.sun.source.tree.IdentifierTree;
import com.sun.source.tree.MemberSelectTree;
import com.sun.source.tree.MethodInvocationTree;
import com.sun.source.util.TreePath;
import com.sun.source.util.Trees;
import dev.kiln.processor.Diagnostics;
import dev.kiln.processor.Message;
import dev.kiln.processor.ir.Source;
import dev.kiln.processor.ir.TensorIr;
import dev.kiln.processor.ir.Where;
import dev.kiln.runtime.Shapes;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.stream.Collectors;
import java.util.List;
import java.util.Map;
import javax.lang.model.element.ExecutableElement;
import javax.lang.model.element.Modifier;
import javax.lang.model.element.TypeElement;
import javax.lang.model.element.VariableElement;

/**
 * Buffers and parameters computed in forward, for {@link BodyReader}: a chain of calls of a tensor field
 * ({@code bias.narrow(2, 0, T).view(...)}) read as a derived tensor with its shape and runs, generated where a step reads it.
 */
final class BufferReader {
  private final BodyReader steps;
  private final SourceTrees code;
  private final Trees trees;
  private final Diagnostics diagnostics;
  private final ConstantFolder folder;

  BufferReader(BodyReader steps, SourceTrees code) {
    this.steps = steps;
    this.code = code;
    this.trees = code.trees;
    this.diagnostics = code.diagnostics;
    this.folder = code.folder;
  }

  // ---------------------------------------------------------------- buffers computed from buffers

  /**
   * The receiver of {@code e} when it is a call of {link DeclarationReader#BUFFER_CALLS} ({@code bias.narrow(2, 0, T)}, {@code
   * F.narrow(bias, 2, 0, T)}) of a buffer, of a tensor computed from one, or of a local holding either; else null.
   */
  ExpressionTree bufferCall(ExpressionTree e, CompilationUnitTree unit) {
    return fieldCall(e, unit, false);
  }

  /**
   * The receiver of {@code e} when it is a call of {link DeclarationReader#BUFFER_CALLS} of a tensor field of the model (a buffer when
   * not {@code parameter}, else a parameter), of a tensor computed from one (a {@link TensorIr#region} of a parameter),
   * or of a local holding either; else null.
   */
  ExpressionTree fieldCall(ExpressionTree e, CompilationUnitTree unit, boolean parameter) {
    e = DeclarationReader.stripped(e);
    if (!(e instanceof MethodInvocationTree mi) || !(trees.getElement(TreePath.getPath(unit, mi)) instanceof ExecutableElement ex)
        || !DeclarationReader.BUFFER_CALLS.contains(ex.getSimpleName().toString())) {
      return null;
    }
    String owner = ((TypeElement) ex.getEnclosingElement()).getQualifiedName().toString();
    ExpressionTree receiver = owner.equals(DeclarationReader.TENSOR) && !ex.getModifiers().contains(Modifier.STATIC)
        && mi.getMethodSelect() instanceof MemberSelectTree ms ? ms.getExpression()
        : owner.equals(DeclarationReader.FUNCTIONS) && !mi.getArguments().isEmpty() ? mi.getArguments().get(0) : null;
    return receiver != null && ofField(receiver, unit, parameter) ? receiver : null;
  }

  /** Whether {@code e} is a buffer of the model (or block), a tensor computed from one, or a local holding either. */
  private boolean ofBuffer(ExpressionTree e, CompilationUnitTree unit) {
    return ofField(e, unit, false);
  }

  /**
   * Whether {@code e} is a tensor field of the model (or block), a buffer when not {@code parameter} else a parameter, a
   * tensor computed from one, or a local holding either.
   */
  private boolean ofField(ExpressionTree e, CompilationUnitTree unit, boolean parameter) {
    e = DeclarationReader.stripped(e);
    if (e instanceof IdentifierTree id) {
      String name = id.getName().toString();
      if (steps.locals.containsKey(name)) {
        TensorIr t = steps.tensors == null ? null : steps.tensors.byValue(steps.locals.get(name));
        return t != null && t.isParameter() == parameter;
      }
      if (steps.maskReader.masks.containsKey(name) || steps.unknown.contains(name) || steps.stateForms.containsKey(name) || steps.zeroLocals.containsKey(name)) {
        return false;
      }
    }
    if (!parameter && e instanceof MethodInvocationTree where && steps.maskReader.isWhereCall(where, unit)) { // Tensor.where(keep, near, far)
      return where.getArguments().stream().allMatch(a -> ofField(a, unit, false));
    }
    boolean self = e instanceof IdentifierTree
        || e instanceof MemberSelectTree ms && ms.getExpression() instanceof IdentifierTree t && t.getName().contentEquals("this");
    if (self) {
      return steps.tensors != null && trees.getElement(TreePath.getPath(unit, e)) instanceof VariableElement v && steps.isTensorField(v)
          && steps.modelType != null && v.getEnclosingElement() instanceof TypeElement owner && steps.moduleCalls.ownMember(owner) && steps.tensors.field(v) != null
          && steps.tensors.field(v).isParameter() == parameter;
    }
    return fieldCall(e, unit, parameter) != null;
  }

  /**
   * {@code bias.narrow(2, 0, T)}, {@code .slice}, {@code .select}, {@code .view}, {@code .reshape}, {@code .unsqueeze} of a
   * buffer (or of a tensor computed from one), with constant arguments: a tensor computed from the buffer by those eager
   * calls when it changes ({@link TensorIr#derived}), read as a buffer is; its value, or null after an error.
   */
  String derivedCall(MethodInvocationTree mi, CompilationUnitTree unit, Map<String, LayerNode> fields, String className) {
    Chain c = chain(mi, unit, fields, className, false);
    return c == null ? null : derive(c.of(), c.calls(), c.shape(), code.source(unit, mi)).value();
  }

  /**
   * {@code pos.narrow(1, 0, T)} and the other {link DeclarationReader#BUFFER_CALLS} of a parameter with constant arguments, when the result
   * is one contiguous run of the parameter's values: a {@link TensorIr#region} read in place, its gradient added to that
   * run of the parameter's; its value, or null after an error ({@code PARAMETER_SLICE} for a slice that is not one run).
   */
  String regionCall(MethodInvocationTree mi, CompilationUnitTree unit, Map<String, LayerNode> fields, String className) {
    Chain c = chain(mi, unit, fields, className, true);
    if (c == null) {
      return null;
    }
    if (c.of().isWhere()) { // a where of fields with a parameter, viewed or sliced: its gradient is returned whole
      diagnostics.error(unit, mi, Message.WHERE_FIELDS_SLICED, mi, c.of().field());
      return null;
    }
    if (c.run() == null) {
      diagnostics.error(unit, mi, Message.PARAMETER_SLICE, mi, c.of().isDerived() || !c.calls().isEmpty()
          ? "the parameter " + c.of().field() + c.calls() + " " + Shapes.toString(c.shape()) : c.of().describe());
      return null;
    }
    TensorIr root = c.of().isDerived() ? steps.tensors.byValue(TensorIr.valueName(c.of().derived().of())) : c.of();
    String calls = (c.of().isDerived() ? c.of().derived().calls() : "") + c.calls();
    return steps.tensors.region(root, calls, c.run().offset(), c.run().runs(), c.shape(), code.source(unit, mi)).value();
  }

  /**
   * Where a slice of a parameter lies among its values: from {@code offset}, one contiguous run ({@code runs} null) or
   * {@code runs} at one stride.
   */
  private record Run(int offset, TensorIr.Runs runs) {
    /** {@code count} runs of {@code width} values {@code pitch} apart from {@code offset}: one run where they touch or there is one. */
    static Run of(int offset, int count, int pitch, int width) {
      return count == 1 || pitch == width ? new Run(offset, null) : new Run(offset, new TensorIr.Runs(count, pitch, width));
    }
  }

  /**
   * A tensor field (or a tensor computed from one) {@code of}, the eager calls after it and their shape; for a parameter,
   * where the result lies among its values when it is one run of them or several at one stride ({@link TensorIr#region}),
   * else null.
   */
  private record Chain(TensorIr of, String calls, int[] shape, Run run) {}

  /**
   * The chain of {link DeclarationReader#BUFFER_CALLS} {@code e} writes ({@code bias.narrow(2, 0, T).narrow(3, 0, T)}) on a buffer (on a
   * parameter when {@code parameter}), the calls' constants folded, their shapes checked; null after an error. Nothing is
   * registered for the calls before the last.
   */
  private Chain chain(ExpressionTree e, CompilationUnitTree unit, Map<String, LayerNode> fields, String className, boolean parameter) {
    ExpressionTree receiver = fieldCall(e, unit, parameter);
    if (receiver == null) {
      String of = steps.expression(e, unit, fields, className);
      TensorIr t = of == null ? null : steps.tensors.byValue(of);
      return t == null ? null : new Chain(t, "", t.shape(), t.isDerived() ? new Run(t.derived().offset(), t.derived().runs())
          : new Run(0, null));
    }
    MethodInvocationTree mi = (MethodInvocationTree) DeclarationReader.stripped(e);
    String name = trees.getElement(TreePath.getPath(unit, mi)).getSimpleName().toString();
    boolean function = ((TypeElement) trees.getElement(TreePath.getPath(unit, mi)).getEnclosingElement()).getQualifiedName()
        .contentEquals(DeclarationReader.FUNCTIONS); // F.narrow(bias, 2, 0, T): the buffer first
    List<? extends ExpressionTree> rest = function ? mi.getArguments().subList(1, mi.getArguments().size()) : mi.getArguments();
    Chain of = chain(receiver, unit, fields, className, parameter);
    if (of == null) {
      return null;
    }
    List<Object> args = new ArrayList<>();
    for (ExpressionTree a : rest) {
      try {
        args.add(folder.fold(a, unit));
      } catch (ConstantFolder.NotConstant ex) {
        code.notConstant(ex, unit, mi.toString(), () -> {
          if (!code.unresolved(unit, ex.tree)) {
            diagnostics.error(unit, ex.tree, Message.BUFFER_SLICE_BOUND, mi, ex.tree, name);
          }
        });
        return null;
      }
    }
    int[] sizes = args.size() == 1 && args.get(0) instanceof int[] given ? given
        : args.stream().allMatch(a -> a instanceof Integer) ? args.stream().mapToInt(a -> (Integer) a).toArray() : null;
    try {
      if (sizes == null) {
        throw new IllegalArgumentException("the arguments must be ints, got " + args);
      }
      int[] shape = calledShape(of.shape(), name, sizes);
      String method = name.equals("view") ? "reshape" : name;
      String call = call(method, sizes);
      return new Chain(of.of(), of.calls() + call, shape, of.run() == null ? null : nextRun(of.shape(), name, sizes, shape, of.run()));
    } catch (IllegalArgumentException ex) {
      diagnostics.error(unit, mi, Message.BUFFER_SLICE, mi, name, of.of().isDerived() || !of.calls().isEmpty()
          ? (of.of().isParameter() ? "the parameter " : "the buffer ") + of.of().field() + of.calls() + " "
              + Shapes.toString(of.shape()) : of.of().describe(), ex.getMessage());
      return null;
    }
  }

  /**
   * Where eager's {@code name(sizes)} of a tensor of {@code shape} whose values lie at {@code run} in its parameter's puts
   * the result's values ({@code out} its shape): the same place for a view; for a narrow or select of a dimension, a run
   * of each entry of the dimensions before it, one run where only 1s come before or the whole dimension is taken, else
   * runs at one stride (the last dimension of {@code [L, D]}), or runs at nested strides ({@link ParameterRuns}: a second
   * such narrow); null where the values are not so laid out. The arguments were checked by {@link #calledShape}.
   */
  private static Run nextRun(int[] shape, String name, int[] sizes, int[] out, Run run) {
    Run strided = run.runs() != null && run.runs().grouped() ? null : stridedRun(shape, name, sizes, out, run);
    if (strided != null) {
      return strided;
    }
    ParameterRuns.Place p = ParameterRuns.sliced(run.offset(), run.runs(), shape, name, sizes, out); // runs at several strides
    return p == null ? null : new Run(p.offset(), p.runs());
  }

  /** {@link #nextRun} where the result is one run or runs at one stride, computed from the strides; null otherwise. */
  private static Run stridedRun(int[] shape, String name, int[] sizes, int[] out, Run run) {
    if (!name.equals("narrow") && !name.equals("slice") && !name.equals("select")) {
      return run; // view, reshape, unsqueeze: the same values in the same order
    }
    int dim = sizes[0] < 0 ? sizes[0] + shape.length : sizes[0];
    int start = sliceStart(shape[dim], name, sizes[1]);
    int length = name.equals("select") ? 1 : out[dim];
    int outer = 1, inner = 1;
    for (int i = 0; i < dim; i++) {
      outer *= shape[i];
    }
    for (int i = dim + 1; i < shape.length; i++) {
      inner *= shape[i];
    }
    int pitch = shape[dim] * inner, width = length * inner, skip = start * inner;
    if (outer == 1 || length == shape[dim]) { // values from..from + count of this tensor's, in order
      int from = outer == 1 ? skip : 0, count = outer * width;
      if (run.runs() == null) {
        return new Run(run.offset() + from, null);
      }
      TensorIr.Runs r = run.runs(); // this tensor's values are r.count() runs of r.width(): whole runs of them, or within one
      if (from % r.width() == 0 && count % r.width() == 0) {
        return Run.of(run.offset() + from / r.width() * r.pitch(), count / r.width(), r.pitch(), r.width());
      }
      return from / r.width() == (from + count - 1) / r.width()
          ? new Run(run.offset() + from / r.width() * r.pitch() + from % r.width(), null) : null;
    }
    if (run.runs() == null) {
      return Run.of(run.offset() + skip, outer, pitch, width);
    }
    // each run of this tensor's values one slab of the narrow: a part of each run
    return run.runs().width() == pitch ? Run.of(run.offset() + skip, outer, run.runs().pitch(), width) : null;
  }

  /**
   * Where eager's {@code name} (narrow, slice or select) starts along a dimension of {@code size} given {@code start}:
   * from the end when negative, and clamped to the dimension for a slice (Python's {@code x[start:end]}).
   */
  private static int sliceStart(int size, String name, int start) {
    int from = start < 0 ? start + size : start;
    return name.equals("slice") ? Math.min(size, Math.max(0, from)) : from;
  }

  /** The tensor computed from {@code t} (a buffer, or one computed from a buffer) by the further eager {@code call}. */
  TensorIr derive(TensorIr t, String call, int[] shape, Source where) {
    TensorIr root = t.isDerived() ? steps.tensors.byValue(TensorIr.valueName(t.derived().of())) : t;
    return steps.tensors.derived(root, (t.isDerived() ? t.derived().calls() : "") + call, shape, where);
  }

  /**
   * The shape {@code squeeze(dim)} or {@code transpose(dim, other)} gives a tensor of {@code shape} when its values keep
   * their order (word_language_model's position table {@code pe[:S]} [S, 1, D] as [1, S, D], batch first): a squeeze, and a
   * transpose whose dimensions other than 1s stay in order; an exception naming the shape for a transpose that moves values.
   */
  private static int[] viewOf(int[] shape, String name, int[] sizes, int dim) {
    if (name.equals("squeeze")) {
      if (shape[dim] != 1) {
        return shape.clone();
      }
      int[] out = new int[shape.length - 1];
      for (int i = 0, j = 0; i < shape.length; i++) {
        if (i != dim) {
          out[j++] = shape[i];
        }
      }
      return out;
    }
    int other = sizes[1] < 0 ? sizes[1] + shape.length : sizes[1];
    if (other < 0 || other >= shape.length) {
      throw new IllegalArgumentException("dimension " + sizes[1] + " is out of range for " + Shapes.toString(shape));
    }
    int[] out = shape.clone();
    out[dim] = shape[other];
    out[other] = shape[dim];
    int[] order = new int[shape.length];
    for (int i = 0; i < shape.length; i++) {
      order[i] = i == dim ? other : i == other ? dim : i;
    }
    for (int i = 0, last = -1; i < shape.length; i++) {
      if (out[i] != 1) {
        if (order[i] < last) {
          throw new IllegalArgumentException("it would move the values of " + Shapes.toString(shape) + " out of their order,"
              + " which a tensor field read in place keeps; transpose the value it is added to, or declare the field"
              + " in the order forward reads it");
        }
        last = order[i];
      }
    }
    return out;
  }

  /** The shape eager mode's {@code name(sizes)} gives a tensor of {@code shape}; an exception saying why it fails. */
  private static int[] calledShape(int[] shape, String name, int[] sizes) {
    int rank = shape.length;
    int wanted = switch (name) {
      case "narrow", "slice" -> 3;
      case "select" -> 2;
      case "unsqueeze", "squeeze" -> 1;
      case "transpose" -> 2;
      default -> -1;
    };
    if (wanted >= 0 && sizes.length != wanted) {
      throw new IllegalArgumentException(name + " takes " + wanted + " ints, got " + sizes.length);
    }
    if (name.equals("view") || name.equals("reshape")) {
      return Shapes.inferReshape(shape, sizes);
    }
    int dim = sizes[0] < 0 ? sizes[0] + rank + (name.equals("unsqueeze") ? 1 : 0) : sizes[0];
    if (dim < 0 || dim >= rank + (name.equals("unsqueeze") ? 1 : 0)) {
      throw new IllegalArgumentException("dimension " + sizes[0] + " is out of range for " + Shapes.toString(shape));
    }
    if (name.equals("squeeze") || name.equals("transpose")) {
      return viewOf(shape, name, sizes, dim);
    }
    if (name.equals("unsqueeze")) {
      int[] out = new int[rank + 1];
      for (int i = 0, j = 0; i < out.length; i++) {
        out[i] = i == dim ? 1 : shape[j++];
      }
      return out;
    }
    int size = shape[dim];
    if (name.equals("select")) {
      if (sizes[1] < -size || sizes[1] >= size) {
        throw new IllegalArgumentException("index " + sizes[1] + " is out of range for dimension " + dim + " of size " + size);
      }
      int[] out = new int[rank - 1];
      for (int i = 0, j = 0; i < rank; i++) {
        if (i != dim) {
          out[j++] = shape[i];
        }
      }
      return out;
    }
    int start = sliceStart(size, name, sizes[1]);
    int length;
    if (name.equals("narrow")) {
      length = sizes[2];
      if (start < 0 || length < 0 || start + (long) length > size) {
        throw new IllegalArgumentException("start " + sizes[1] + " and length " + length + " exceed dimension " + dim + " of size " + size);
      }
    } else { // Python's x[start:end], the bounds clamped
      int end = Math.min(size, Math.max(0, sizes[2] < 0 ? sizes[2] + size : sizes[2]));
      length = Math.max(0, end - start);
    }
    if (length == 0) {
      throw new IllegalArgumentException("it leaves no entry along dimension " + dim + ", and a compiled forward's values are not empty");
    }
    int[] out = shape.clone();
    out[dim] = length;
    return out;
  }

  /** An eager call of int arguments as Java source, for a derived tensor's calls: {@code .narrow(2, 0, 6)}. */
  static String call(String method, int[] args) {
    return "." + method + "(" + Arrays.stream(args).mapToObj(String::valueOf).collect(Collectors.joining(", ")) + ")";
  }

  /** A float as Java source, for a derived tensor's calls: {@code 0.0f}, {@code Float.NEGATIVE_INFINITY}. */
  static String javaFloat(float v) {
    return Float.isNaN(v) ? "Float.NaN" : v == Float.POSITIVE_INFINITY ? "Float.POSITIVE_INFINITY"
        : v == Float.NEGATIVE_INFINITY ? "Float.NEGATIVE_INFINITY" : v + "f";
  }

  static int[] batched(int[] sample) {
    int[] s = new int[sample.length + 1];
    s[0] = -1;
    System.arraycopy(sample, 0, s, 1, sample.length);
    return s;
  }
}
