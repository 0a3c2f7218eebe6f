package dev.kiln.processor.gen;

import static dev.kiln.processor.gen.Generator.TENSOR;
import static dev.kiln.processor.gen.Generator.COMPILED;
import static dev.kiln.processor.gen.Generator.DERIVED;
import static dev.kiln.processor.gen.Generator.SLICES;

import com.palantir.javapoet.CodeBlock;
import com.palantir.javapoet.FieldSpec;
import com.palantir.javapoet.MethodSpec;
import com.palantir.javapoet.TypeSpec;
import dev.kiln.dsl.BatchNorm;
import dev.kiln.dsl.Conv1d;
import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.ConvTranspose2d;
import dev.kiln.dsl.GroupNorm;
import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Recurrent;
import dev.kiln.dsl.RecurrentCell;
import dev.kiln.processor.ir.LayerIr;
import dev.kiln.processor.ir.MaskedFill;
import dev.kiln.processor.ir.ModelIr;
import dev.kiln.processor.ir.Cosine;
import dev.kiln.processor.ir.TensorIr;
import dev.kiln.runtime.Shapes;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import javax.lang.model.element.Modifier;

/**
 * The generated code's access to the model's parameters and tensor fields, for {@link Generator}: the layers
 * holding parameters, each tensor field read (a buffer, a computed tensor, a where of buffers) and its gradient
 * declared, scattered and returned, the operands of products, and which parameters a step's backward needs.
 */
final class ParameterCode {
  private final Generator gen;

  ParameterCode(Generator gen) {
    this.gen = gen;
  }

  // ------------------------------------------------------------------ layers

  private List<LayerIr> parameterLayers() {
    return gen.kernels.stream()
        .filter(Kernel::hasParameters)
        .map(Kernel::layer).collect(Collectors.toList());
  }

  /** The layers generated code reads: those with parameters, and dropouts (for their train()/eval() mode). */
  List<LayerIr> fieldLayers() {
    return gen.kernels.stream()
        .filter(k -> k.hasParameters() || k.kind() == Kernel.Kind.DROPOUT && k.layer() != null)
        .map(Kernel::layer).collect(Collectors.toList());
  }

  /**
   * {@code fc1.weight(), fc1.bias(), ..., pos}: every parameter the fused code reads, in layer order,
   * then the tensor fields that are parameters; each once, though a layer may be applied several times
   * (a siamese tower applied to both inputs).
   */
  List<String> parameterExpressions() {
    List<String> params = new ArrayList<>();
    for (LayerIr layer : parameterLayers()) {
      params.addAll(parametersOf(layer));
    }
    for (TensorIr t : tensorsRead()) {
      if (t.isParameter()) {
        params.add(tensorField(t));
      }
    }
    return params.stream().distinct().toList();
  }

  /**
   * A tensor forward computes from a buffer ({@link TensorIr#derived}: {@code bias.narrow(2, 0, 4).narrow(3, 0, 4)}), or a
   * parameter's {@link TensorIr#isGathered} region (runs at a stride, {@code pos.narrow(2, 0, 4)}, whose gradient goes back
   * by {@link #scatterFieldGradient}): a {@code Compiled.Derived} of the eager calls, and the method {@code computed_bias()}
   * ({@code gathered_pos()}) that every read calls, which computes them again only when the buffer (the parameter: an
   * optimizer's step) was written, moved or replaced since.
   */
  void computedTensor(TypeSpec.Builder type, TensorIr t) {
    String method = readExpression(t).substring(0, readExpression(t).length() - 2);
    String cache = method + "_cache";
    if (t.isWhere()) {
      whereOfBuffers(type, t, method, cache);
      return;
    }
    type.addField(FieldSpec.builder(DERIVED, cache, Modifier.PRIVATE, Modifier.FINAL, Modifier.TRANSIENT)
        .initializer("new $T(t -> t$L)", DERIVED, t.derived().calls()).build());
    type.addMethod(MethodSpec.methodBuilder(method).addModifiers(Modifier.PRIVATE).returns(TENSOR)
        .addJavadoc("{@code $L$L} $L, as eager mode computes it, kept while the $L is unchanged.\n", t.derived().of(),
            t.derived().calls(), Shapes.toString(t.shape()), t.isParameter() ? "parameter" : "buffer")
        .addStatement("return $L.of($L)", cache, gen.fieldNames.get(TensorIr.valueName(t.derived().of()))).build());
  }

  /**
   * A where of buffers alone ({@link TensorIr#where}): a {@code Compiled.Computed} of eager's {@code Tensor.where} over the
   * operands as generated code reads them, and the method {@code computed_where()} that every read calls, which computes
   * it again only when one of the buffers they come from was written, moved or replaced since.
   */
  private void whereOfBuffers(TypeSpec.Builder type, TensorIr t, String method, String cache) {
    List<TensorIr> operands = t.derived().where().stream().map(gen.ir::tensor).toList();
    String reads = operands.stream().map(this::readExpression).collect(Collectors.joining(", "));
    String roots = operands.stream().map(o -> o.isDerived() ? gen.fieldNames.get(TensorIr.valueName(o.derived().of())) : tensorField(o))
        .collect(Collectors.joining(", "));
    type.addField(FieldSpec.builder(COMPILED.nestedClass("Computed"), cache, Modifier.PRIVATE, Modifier.FINAL, Modifier.TRANSIENT)
        .initializer("new $T(() -> $T.where($L))", COMPILED.nestedClass("Computed"), TENSOR, reads).build());
    type.addMethod(MethodSpec.methodBuilder(method).addModifiers(Modifier.PRIVATE).returns(TENSOR)
        .addJavadoc("{@code $L} $L, as eager mode computes it, kept while the buffers are unchanged.\n", t.field(),
            Shapes.toString(t.shape()))
        .addStatement("return $L.of($L)", cache, roots).build());
  }

  /** Prefixes a gathered region's value in {@link LayerFields#fieldNames} for the method that reads it ({@link #readExpression}). */
  static final String GATHERED = "gathered ";

  /** The expression reading a tensor field's values: {@link #tensorField}, or a gathered region's {@code gathered_pos()}. */
  String readExpression(TensorIr t) {
    return t.isGathered() ? gen.fieldNames.get(GATHERED + t.value()) : tensorField(t);
  }

  /**
   * Declares {@code local}, the buffer a parameter field's gradient is added into from {@link #gradOffset} (null when it is
   * not needed): the parameter's gradient buffer, or for a {@link TensorIr#isGathered} region a zeroed one of its own size
   * ({@code localP} the parameter's), which {@link #scatterFieldGradient} adds to the parameter's runs.
   */
  void declareFieldGradient(CodeBlock.Builder b, String local, TensorIr field) {
    String f = tensorField(field);
    if (field.isWhere()) { // a where of fields with a parameter: its own gradient, returned for eager's where backward
      b.addStatement("float[] $L = $L ? new float[$L] : null", local, recordedNeed(f), Shapes.numel(field.shape()));
      return;
    }
    if (!field.isGathered()) {
      b.addStatement("float[] $L = $T.gradBuffer($L, $L)", local, COMPILED, f, recordedNeed(f));
      return;
    }
    b.addStatement("float[] $LP = $T.gradBuffer($L, $L)", local, COMPILED, f, recordedNeed(f))
        .addStatement("float[] $L = $LP == null ? null : new float[$L]", local, local, Shapes.numel(field.shape()));
  }

  /**
   * After the kernels that added a gathered region's gradient into {@code local} ({@link #declareFieldGradient}): that
   * gradient added to the parameter's at the region's runs, as eager's narrow backward places it and its engine adds it;
   * nothing for another field.
   */
  void scatterFieldGradient(CodeBlock.Builder b, String local, TensorIr field) {
    scatterFieldGradient(b, local, field, "true");
  }

  /** As {@link #scatterFieldGradient(CodeBlock.Builder, String, TensorIr)}, adding where {@code adds} (generated code) holds, else writing. */
  void scatterFieldGradient(CodeBlock.Builder b, String local, TensorIr field, String adds) {
    if (field.isWhere()) { // summed with its other readers' into the gradient backward returns for it (whereGradient)
      b.addStatement("$L = $T.sumGradients($L, $L)", whereGradient(field), COMPILED, whereGradient(field), local);
    } else if (field.isGathered() && field.derived().runs().grouped()) { // runs at several strides: each level's count and pitch
      TensorIr.Runs r = field.derived().runs();
      int[] g = r.groups();
      String counts = IntStream.range(0, g.length / 2).mapToObj(l -> g[2 * l] + ", ").collect(Collectors.joining()) + r.count();
      String pitches = IntStream.range(0, g.length / 2).mapToObj(l -> g[2 * l + 1] + ", ").collect(Collectors.joining()) + r.pitch();
      b.addStatement("$T.runsBackward($LP, $L, $L, new int[] {$L}, new int[] {$L}, $L, $L)", SLICES, local, local,
          field.derived().offset(), counts, pitches, r.width(), adds);
    } else if (field.isGathered()) {
      TensorIr.Runs r = field.derived().runs();
      b.addStatement("$T.narrowBackward($LP, 0, $L, 0, $L, $L, $L, $L, $L)", SLICES, local, local, r.count(), r.pitch(),
          field.derived().offset(), r.width(), adds);
    }
  }

  /**
   * Declares {@code <local>Adds}, whether a parameter field's gradient is added to one the parameter has or written where
   * it has none yet (before {@link #fieldGradient} makes it): eager's engine takes a parameter's first gradient as it is,
   * so a sum that is -0 stays -0 (a field subtracted where nothing after reads it: {@code -(+0)}), where an add into the
   * zeros made for it would give +0. Returns the accumulate argument of the kernel that sums the field's gradient: that
   * boolean, or false into a gathered region's own fresh array (the boolean then goes to its scatter).
   */
  String declareFieldAdds(CodeBlock.Builder b, String local, TensorIr field) {
    if (field.isWhere()) { // (its own fresh gradient)
      return "false";
    }
    b.addStatement("boolean $LAdds = $L.grad() != null", local, tensorField(field));
    return field.isGathered() ? "false" : local + "Adds";
  }

  /** The gradient buffer of a parameter field, for a kernel that adds into it from {@link #gradOffset}: declared first when gathered. */
  CodeBlock fieldGradient(CodeBlock.Builder b, String local, TensorIr field) {
    if (field.isGathered() || field.isWhere()) {
      declareFieldGradient(b, local, field);
      return CodeBlock.of("$L", local);
    }
    String f = tensorField(field);
    return CodeBlock.of("$T.gradBuffer($L, $L)", COMPILED, f, recordedNeed(f));
  }

  /** The tensor fields this graph's kernels read (a position table, a mask), in the order the model lists them. */
  List<TensorIr> tensorsRead() {
    Set<String> read = new HashSet<>();
    for (Kernel k : gen.kernels) {
      read.addAll(k.inputs());
      if (k.spec() instanceof MaskedFill m && !m.byValue()) {
        read.add(TensorIr.valueName(m.mask()));
      }
    }
    return gen.ir.tensors().stream().filter(t -> read.contains(t.value())).toList();
  }

  /** The expression naming a tensor field in generated code: the user's field, or a field of our own ({@link LayerFields#fieldNames}). */
  String tensorField(TensorIr t) {
    return gen.fieldNames.get(t.value());
  }

  /**
   * Where a tensor field's values start in its buffer: {@code pos.offset()}, and for a parameter's {@link TensorIr#region}
   * ({@code pos.narrow(1, 0, 6)}, read in place) the run's start after it, {@code pos.offset() + 48}.
   */
  String fieldOffset(TensorIr t) {
    return readExpression(t) + ".offset()" + (t.isRegion() && !t.isGathered() && t.derived().offset() != 0 ? " + " + t.derived().offset() : "");
  }

  /**
   * Where a parameter field's gradient starts in the buffer {@link #declareFieldGradient} declares: 0, or a contiguous {@link
   * TensorIr#region}'s start in the parameter's.
   */
  static String gradOffset(TensorIr t) {
    return t.isRegion() && !t.isGathered() ? String.valueOf(t.derived().offset()) : "0";
  }

  /**
   * A tensor field as a GEMM operand: the tensor itself ({@code pos}, read in its native copy), or for a {@link
   * TensorIr#region} its buffer and start ({@code pos.readBuffer(), pos.offset() + 48}).
   */
  String gemmOperand(TensorIr t) {
    return t.isRegion() ? readExpression(t) + ".readBuffer(), " + fieldOffset(t) : tensorField(t);
  }

  /** A tensor field as eager code reads it (the CUDA path): {@code pos}, {@code computed_bias()}, {@code pos.narrow(1, 0, 6)}. */
  String fieldExpression(TensorIr t) {
    return t.isRegion() ? tensorField(t) + t.derived().calls() : t.isWhere() && t.isParameter() ? nodeInput(tensorField(t))
        : tensorField(t);
  }

  /**
   * A backward node's input as the forward passes it: the parameter expression itself, or for a where of fields with a
   * parameter ({@code computed_where()}, read by the kernels without a graph) eager's {@code Tensor.where} of them, on the
   * tape, whose gradient the backward returns so that eager's engine runs the where's backward into the parameters.
   */
  String nodeInput(String parameter) {
    TensorIr t = gen.ir.tensors().stream().filter(o -> o.isWhere() && o.isParameter() && tensorField(o).equals(parameter)).findFirst()
        .orElse(null);
    return t == null ? parameter : "Tensor.where(" + t.derived().where().stream().map(gen.ir::tensor).map(this::readExpression)
        .collect(Collectors.joining(", ")) + ")";
  }

  /**
   * What tells whether a forward records for a backward node's input ({@code Compiled.recording}): the input itself, or for
   * a where of fields with a parameter the parameters it is computed from (its node input requires grad when they do).
   */
  String recordingInput(String parameter) {
    TensorIr t = gen.ir.tensors().stream().filter(o -> o.isWhere() && o.isParameter() && tensorField(o).equals(parameter)).findFirst()
        .orElse(null);
    return t == null ? parameter : t.derived().where().stream().map(gen.ir::tensor).filter(TensorIr::isParameter).map(this::tensorField)
        .collect(Collectors.joining(", "));
  }

  /** The backward's local summing a where of fields' gradient over its readers ({@code computed_whereGrad}). */
  String whereGradient(TensorIr t) {
    return whereLocal(t, "Grad");
  }

  /** A local of generated code about a where of fields: {@code computed_where} and {@code suffix}. */
  String whereLocal(TensorIr t, String suffix) {
    return readExpression(t).substring(0, readExpression(t).length() - 2) + suffix;
  }

  /** The wheres of fields with a parameter among the tensors the kernels read, whose gradients backward returns. */
  List<TensorIr> parameterWheres() {
    return tensorsRead().stream().filter(t -> t.isWhere() && t.isParameter()).toList();
  }

  /**
   * Returns the backward's gradients from {@code array} ({@code grads}), or from a new array of {@code size} when {@code
   * array} is null (an early return): with a where of fields with a parameter, its summed gradient in its node input's
   * slot first.
   */
  void returnGradients(CodeBlock.Builder b, String array, int size) {
    if (parameterWheres().isEmpty()) {
      b.addStatement(array == null ? CodeBlock.of("return new $T[$L]", TENSOR, size) : CodeBlock.of("return $L", array));
      return;
    }
    String into = array == null ? "early" : array;
    if (array == null) {
      b.addStatement("$T[] early = new $T[$L]", TENSOR, TENSOR, size);
    }
    for (TensorIr t : parameterWheres()) {
      int slot = parameterExpressions().indexOf(tensorField(t)) + 1 + gen.ir.further().size();
      b.addStatement("$L[$L] = $L == null ? null : $T.wrap($L, $L)", into, slot, whereGradient(t), TENSOR, whereGradient(t),
          Generator.joined(t.shape()));
    }
    b.addStatement("return $L", into);
  }

  /** The tensor field an ADD, SUB, MUL or DIV repeats over the batch, or a MATMUL multiplies every row by; else null. */
  TensorIr fieldOperand(Kernel k) {
    return k.overBatch() || k.byField() || k.kind() == Kernel.Kind.COSINE && Cosine.isField(k.inShapes().get(1))
        ? gen.ir.tensor(k.inputs().get(1)) : null;
  }

  /** {@code fc1.weight()} and {@code fc1.bias()}, each where the layer has it (none for BatchNorm without affine). */
  List<String> parametersOf(LayerIr layer) {
    String f = gen.layerFields.layerField(layer);
    if (layer.spec() instanceof Recurrent.Spec || layer.spec() instanceof RecurrentCell.Spec) { // PyTorch's order: weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, ...
      int layers = layer.spec() instanceof Recurrent.Spec r ? r.numLayers() : 1; // a cell: its one step's (0, 0)
      int directions = layer.spec() instanceof Recurrent.Spec r ? r.directions() : 1;
      boolean bias = layer.spec() instanceof Recurrent.Spec r ? r.bias() : ((RecurrentCell.Spec) layer.spec()).bias();
      List<String> out = new ArrayList<>();
      for (int l = 0; l < layers; l++) {
        for (int d = 0; d < directions; d++) {
          out.addAll(List.of(f + ".weightIh(" + l + ", " + d + ")", f + ".weightHh(" + l + ", " + d + ")"));
          if (bias) {
            out.addAll(List.of(f + ".biasIh(" + l + ", " + d + ")", f + ".biasHh(" + l + ", " + d + ")"));
          }
        }
      }
      return out;
    }
    if (layer.spec() instanceof GroupNorm.Options g) { // GroupNorm, InstanceNorm2d: both or neither
      return g.affine() ? List.of(f + ".weight()", f + ".bias()") : List.of();
    }
    boolean weight = layer.spec() instanceof BatchNorm.Options o ? o.affine()
        : !(layer.spec() instanceof LayerNorm.Spec n) || n.elementwiseAffine();
    boolean bias = layer.spec() instanceof Linear.Spec l ? l.bias()
        : layer.spec() instanceof Conv2d.Spec c ? c.bias()
        : layer.spec() instanceof Conv1d.Spec c ? c.bias()
        : layer.spec() instanceof ConvTranspose2d.Spec t ? t.bias()
        : layer.spec() instanceof LayerNorm.Spec n ? n.elementwiseAffine()
        : !ModelIr.looksUp(layer.spec()) && ((BatchNorm.Options) layer.spec()).affine();
    List<String> out = new ArrayList<>();
    if (weight) {
      out.add(f + ".weight()");
    }
    if (bias) {
      out.add(f + ".bias()");
    }
    return out;
  }

  /**
   * {@code needsGrad(i)} of a parameter expression ({@code fc1.weight()}), i its place among the
   * backward node's inputs (x first): whether it required grad when the forward recorded the
   * node, and still does. The graph is fixed at the forward, as eager mode's and PyTorch's.
   */
  String recordedNeed(String parameter) {
    int i = parameterExpressions().indexOf(parameter);
    if (i < 0) {
      throw new IllegalStateException("Planner: " + parameter + " is not among the backward node's inputs");
    }
    return "needsGrad(" + (i + 1 + gen.ir.further().size()) + " /* " + parameter + " */)";
  }

  /** {@code needsGrad(i)} for each parameter of the step's layer (none for parameter-free steps). */
  List<String> trainable(Kernel k) {
    if (k.kind() == Kernel.Kind.WHERE || k.expandsField() || fieldOperand(k) != null || k.functional()) {
      return parameterFields(k).stream().map(this::recordedNeed).toList();
    }
    return !k.hasParameters() ? List.of() : parametersOf(k.layer()).stream().map(this::recordedNeed).toList();
  }

  /**
   * The parameters among the tensor fields a kernel reads, by {@link #tensorField}: the one an add, mul, product or cosine
   * repeats over the batch ({@link #fieldOperand}), a where's a and b (its mask gets no gradient); a buffer gets none.
   */
  List<String> parameterFields(Kernel k) {
    List<String> inputs = k.kind() == Kernel.Kind.WHERE ? k.inputs().subList(0, 2)
        : k.expandsField() ? List.of(k.in()) // cls.expand(b, -1, -1)
        : fieldOperand(k) != null ? List.of(k.inputs().get(1))
        : k.functional() ? k.inputs().subList(1, k.inputs().size()) : List.of(); // F.conv2d(x, w, b): its weight and bias
    return inputs.stream().map(gen.ir::tensor).filter(t -> t != null && t.isParameter()).map(this::tensorField).toList();
  }
}
