package dev.kiln.processor.gen;

import static dev.kiln.processor.gen.Generator.TENSOR;
import static dev.kiln.processor.gen.Generator.CONV;
import static dev.kiln.processor.gen.Generator.SEQUENTIAL;
import static dev.kiln.processor.gen.Generator.LINEAR;

import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import com.palantir.javapoet.MethodSpec;
import com.palantir.javapoet.TypeSpec;
import dev.kiln.dsl.Conv1d;
import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Recurrent;
import dev.kiln.processor.ir.LayerIr;
import dev.kiln.processor.ir.ModelIr;
import dev.kiln.processor.ir.TensorIr;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.lang.model.element.Modifier;
import javax.lang.model.element.TypeElement;
import javax.lang.model.element.VariableElement;
import javax.lang.model.type.DeclaredType;
import javax.lang.model.util.ElementFilter;

/**
 * The generated class's layer fields, for {@link Generator}: each layer's name in generated code (clear of
 * generated locals and inherited fields), its dsl class and spec expression, the fields and their registration in the
 * constructor, and the ties between them.
 */
final class LayerFields {
  private final Generator gen;

  LayerFields(Generator gen) {
    this.gen = gen;
  }

  /** The dsl class of a layer: its spec record is nested in it. */
  private static ClassName layerClass(LayerIr layer) {
    if (layer.spec() instanceof Recurrent.Spec r) { // the spec of LSTM, GRU and RNN is their base class's
      return ClassName.get("dev.kiln.dsl", r.mode().startsWith("RNN") ? "RNN" : r.mode());
    }
    return ClassName.get(layer.spec().getClass().getEnclosingClass());
  }

  /** Names of the generated class's own fields, which a field for a layer must not take. */
  private static final Set<String> OWN_FIELDS = Set.of("eager", "plans");

  /**
   * Names the generated methods declare (parameters, locals, the Backward class's fields): a user's
   * layer field of such a name would be shadowed there, so the generated code refers to it through
   * a field of its own ({@code layer_out}). CUDA locals ({@code v3}) and outputs' values
   * ({@code hiddenValues}) are matched by pattern.
   */
  private static final Set<String> GENERATED_NAMES = Set.of("x", "n", "p", "in", "inOff", "out", "dx", "g", "values",
      "training", "recording", "flowing", "outputs", "outputGrads", "one", "grads", "outputGradients", "model", "anchor",
      "all", "plans", "eager", "generation");

  /**
   * The expression naming a layer in generated code: the user's field, or a field of our own
   * ({@code layer1} for child "1", {@code features_0}, {@code layer_out} for a name the generated
   * code declares itself); see {@link #fieldNames}.
   */
  String layerField(LayerIr layer) {
    return gen.fieldNames.get(layer.path());
  }

  /**
   * Each layer's name in generated code, by path, the same for the forward and the outputs graph
   * (both are built from the declaration). A top-level field of a {@code @Model} class keeps its
   * name where generated code can use it ({@link #referable}); every other layer gets a field of the
   * class's own, whose name clashes with none of the user's fields, no other layer's and nothing the
   * generated methods declare (a {@code _} is appended until it is free).
   */
  static Map<String, String> fieldNames(ModelIr ir) {
    Set<String> taken = new HashSet<>(OWN_FIELDS);
    if (ir.form() == ModelIr.Form.CLASS) {
      ElementFilter.fieldsIn(ir.element().getEnclosedElements()).forEach(f -> taken.add(f.getSimpleName().toString()));
    }
    Map<String, String> out = new LinkedHashMap<>();
    for (LayerIr layer : ir.layers()) {
      if (ir.form() == ModelIr.Form.CLASS && !layer.path().contains(".") && referable(ir, layer)) {
        out.put(layer.path(), layer.path());
      }
    }
    for (LayerIr layer : ir.layers()) {
      if (out.containsKey(layer.path())) {
        continue;
      }
      String s = javaName(layer.path());
      String name = !Character.isJavaIdentifierStart(s.charAt(0)) ? "layer" + s
          : ir.form() == ModelIr.Form.CLASS && !layer.path().contains(".") || generatedName(s)
              || javax.lang.model.SourceVersion.isKeyword(s) ? "layer_" + s : s;
      while (taken.contains(name) || out.containsValue(name) || generatedName(name)) {
        name += "_";
      }
      out.put(layer.path(), name);
    }
    // tensor fields (by value name, this.pos): their own name where generated code can use it, else tensor_<name>
    for (TensorIr t : ir.tensors()) {
      if (t.isRegion()) { // a run of a parameter's values, read in place: the parameter's name
        out.put(t.value(), out.get(TensorIr.valueName(t.derived().of())));
        if (t.isGathered()) { // runs at a stride, read as eager computes them: a method of ours, gathered_pos()
          String base = "gathered_" + javaName(t.derived().of());
          String name = base;
          for (int k = 2; taken.contains(name) || out.containsValue(name + "()") || out.containsValue(name) || generatedName(name); k++) {
            name = base + "_" + k;
          }
          out.put(ParameterCode.GATHERED + t.value(), name + "()");
        }
        continue;
      }
      if (t.isDerived()) { // computed from a buffer: a method of ours returning it, computed_bias()
        TensorIr root = ir.tensor(TensorIr.valueName(t.derived().of()));
        String base = root != null && root.isWhere() ? "computed_where" : "computed_" + javaName(t.derived().of());
        String name = base;
        for (int k = 2; taken.contains(name) || out.containsValue(name + "()") || out.containsValue(name) || generatedName(name); k++) {
          name = base + "_" + k;
        }
        out.put(t.value(), name + "()");
        continue;
      }
      String name = t.field();
      if (!referableTensor(ir, name) || t.inBlock()) { // (a block's tensor, h.0.mask: tensor_h_0_mask)
        name = "tensor_" + javaName(name);
        while (taken.contains(name) || out.containsValue(name) || generatedName(name)) {
          name += "_";
        }
      }
      out.put(t.value(), name);
    }
    return out;
  }

  /**
   * Whether generated code may name a tensor field as it is: named unlike anything the generated
   * methods declare, including the locals derived from layer names ({@link #referable}).
   */
  private static boolean referableTensor(ModelIr ir, String name) {
    return !clashesWithGenerated(ir, name);
  }

  /**
   * Whether {@code name} is one the generated methods declare themselves ({@link #generatedName}),
   * holds {@code $}, or is a local they derive from a layer's name ({@code fcB}, {@code fcW}, {@code fcGW}).
   */
  private static boolean clashesWithGenerated(ModelIr ir, String name) {
    if (generatedName(name) || name.contains("$")) {
      return true;
    }
    for (LayerIr other : ir.layers()) {
      for (String o : List.of(other.path(), "layer_" + other.path())) {
        if (name.equals(o + "B") || name.equals(o + "W") || name.equals(o + "GW")) {
          return true;
        }
      }
    }
    return false;
  }

  /**
   * A layer path as the start of a Java name: dots (between child names) and any other character a
   * name cannot hold ({@code "fc-1"}, {@code "fc 2"}: Sequential takes any name without a dot) become
   * {@code _}.
   */
  private static String javaName(String path) {
    StringBuilder b = new StringBuilder(path.length());
    path.codePoints().forEach(c -> b.appendCodePoint(Character.isJavaIdentifierPart(c) && c != '$' ? c : '_'));
    return b.toString();
  }

  /**
   * Whether generated methods declare {@code name} themselves (parameters, locals, the Backward
   * class's fields). A field named like a type is another matter, which an alias would not cure
   * (the subclass inherits the field): {link Generator#file} has such types written fully qualified.
   */
  private static boolean generatedName(String name) {
    // (vK values on CUDA, needK flags, dInK and dInK_W input gradients, tK scratch gradients: see backward)
    // (xK, inK, inKOff, dxK: a method of several inputs' further inputs)
    return GENERATED_NAMES.contains(name) || name.matches("(v|need|dIn|t)\\d+(_\\d+)?") || name.endsWith("Values")
        || name.matches("(x|in|dx)\\d+|in\\d+Off");
  }

  /** The names of the fields of {@code type} and its superclasses, which the generated subclass inherits. */
  static Set<String> inheritedFieldNames(TypeElement type) {
    Set<String> names = new HashSet<>();
    for (TypeElement t = type; t != null; ) {
      ElementFilter.fieldsIn(t.getEnclosedElements()).forEach(f -> names.add(f.getSimpleName().toString()));
      t = t.getSuperclass() instanceof DeclaredType d ? (TypeElement) d.asElement() : null;
    }
    return names;
  }

  /**
   * Whether generated code may name a top-level layer field of a {@code @Model} class as it is:
   * declared with the layer's own class (not {@code Module} or {@code Layer<?>}, whose type lacks
   * {@code weight()}), and named unlike anything the generated methods declare, including the
   * locals they derive from layer names ({@code fcB}, {@code fcW}, {@code fcGW}; a step's number
   * is joined with {@code $}, which user names do not use).
   */
  private static boolean referable(ModelIr ir, LayerIr layer) {
    String name = layer.path();
    if (clashesWithGenerated(ir, name)) {
      return false;
    }
    for (VariableElement field : ElementFilter.fieldsIn(ir.element().getEnclosedElements())) {
      if (field.getSimpleName().contentEquals(name)) {
        return field.asType() instanceof DeclaredType t
            && ((TypeElement) t.asElement()).getQualifiedName().contentEquals(layerClass(layer).canonicalName());
      }
    }
    return true;
  }

  /**
   * The prefix of the locals a Linear or convolution step declares ({@code fc} for {@code fcB},
   * {@code fcW}, {@code fcGW}): the layer's field, with the step's number when the layer serves
   * several steps of this graph (a layer applied twice), so each step's locals have names of their own.
   */
  String localPrefix(Kernel k, int step) {
    String field = layerField(k.layer());
    long uses = gen.kernels.stream()
        .filter(o -> (o.kind() == Kernel.Kind.LINEAR || o.kind() == Kernel.Kind.CONV || o.kind() == Kernel.Kind.EMBEDDING)
            && o.layer() == k.layer()).count(); // (an Embedding looking up two ids: codebook$3W, codebook$5W)
    return uses > 1 ? field + "$" + step : field;
  }

  /** Conv2d's and Conv1d's components that their shorter spec constructor leaves at 1 (no dilation, one group). */
  private static final Set<String> CONV_EXTRAS = Set.of("dilationH", "dilationW", "dilation", "groups");

  /**
   * {@code new Linear.Spec(784, 512, true)}: the layer's spec record rebuilt from its components (a convolution without
   * dilation or groups by its shorter constructor).
   */
  private static CodeBlock specExpression(LayerIr layer) {
    Record spec = (Record) layer.spec();
    List<CodeBlock> args = new ArrayList<>();
    boolean plainConv = spec instanceof Conv2d.Spec c2 ? c2.dilationH() == 1 && c2.dilationW() == 1 && c2.groups() == 1
        : spec instanceof Conv1d.Spec c1 && c1.dilation() == 1 && c1.groups() == 1;
    for (var component : spec.getClass().getRecordComponents()) {
      if (plainConv && CONV_EXTRAS.contains(component.getName())) { // the convolution specs' constructor without them
        continue;
      }
      Object value;
      try {
        value = component.getAccessor().invoke(spec);
      } catch (ReflectiveOperationException e) {
        throw new IllegalStateException("cannot read " + component.getName() + " of " + spec, e);
      }
      args.add(value instanceof Double d ? CodeBlock.of("$L", d + "")
          : value instanceof String text ? CodeBlock.of("$S", text) // a recurrent layer's mode
          : value instanceof int[] dims ? CodeBlock.of("new int[] {$L}", Generator.joined(dims)) // LayerNorm's normalized shape
          : value instanceof List<?> list ? CodeBlock.of("$T.of($L)", List.class, list.stream().map(String::valueOf)
              .collect(java.util.stream.Collectors.joining(", "))) // a padding layer's counts
          : value instanceof Enum<?> constant ? CodeBlock.of("$T.$L", ClassName.get(constant.getDeclaringClass()), constant.name())
          : CodeBlock.of("$L", value));
    }
    return CodeBlock.of("new $T($L)", ClassName.get(spec.getClass()), CodeBlock.join(args, ", "));
  }

  /**
   * A comment per tied weight ({@code lmHead.weight(wte.weight())}, read by {@code TieReader}): the code needs nothing
   * more, as every step reads its layer's weight() when it runs, so both read the one tensor and add into its gradient.
   */
  private void addTieComments(MethodSpec.Builder ctor) {
    for (LayerIr layer : gen.ir.layers()) {
      if (layer.tiedTo() != null) {
        ctor.addComment("$L's weight is $L's (tied at $L): one tensor, which the steps of both read and both add their"
            + " gradients into", layer.path(), layer.tiedTo(), layer.tie().where());
      }
    }
  }

  void addLayerFields(TypeSpec.Builder type, ClassName declared, List<LayerIr> layers) {
    MethodSpec.Builder ctor = MethodSpec.constructorBuilder().addModifiers(Modifier.PUBLIC);
    if (gen.ir.form() == ModelIr.Form.METHOD) {
      // transient: the factory's Sequential, whose forward applies the registered layers one by one (for summary())
      type.addField(SEQUENTIAL, "eager", Modifier.PRIVATE, Modifier.FINAL, Modifier.TRANSIENT);
      ctor.addStatement("$T model = $T.$L()", SEQUENTIAL, declared, gen.ir.factoryMethod())
          .addStatement("model.namedChildren().forEach(this::registerModule)")
          .addStatement("this.eager = model");
    }
    // Every layer the code was generated for must still be the one its declaration initialises.
    for (LayerIr layer : gen.ir.layers()) {
      ctor.addStatement("requireCompiledLayer($S, $L)", layer.path(), specExpression(layer));
    }
    addTieComments(ctor);
    // Every tensor field the code reads must still have the shape and role (parameter or buffer) it was compiled for.
    for (TensorIr t : gen.ir.tensors()) {
      if (!t.inBlock() && !t.isDerived()) { // (a block's, h.0.mask, is checked where its field below is set)
        ctor.addStatement("requireCompiledTensor($S, $L, $L, $L)", t.field(), t.field(), t.isParameter(), Generator.joined(t.shape()));
      }
    }
    boolean any = !gen.ir.layers().isEmpty() || !gen.ir.tensors().isEmpty();
    Set<String> done = new LinkedHashSet<>();
    for (LayerIr layer : layers) {
      String field = layerField(layer);
      if (field.equals(layer.path()) && gen.ir.form() == ModelIr.Form.CLASS || !done.add(field)) {
        continue;
      }
      // transient: a second reference to a registered layer, not a child of its own
      type.addField(layerClass(layer), field, Modifier.PRIVATE, Modifier.FINAL, Modifier.TRANSIENT);
      ctor.addStatement("this.$L = ($T) getSubmodule($S)", field, layerClass(layer), layer.path());
      any = true;
    }
    for (TensorIr t : gen.ir.tensors()) {
      String field = gen.parameterCode.tensorField(t);
      if (t.isGathered()) { // runs of a parameter at a stride: read as eager mode computes them, when the parameter changes
        gen.parameterCode.computedTensor(type, t);
      }
      if (t.isRegion()) { // read in place in its parameter, which has its field
        continue;
      }
      if (t.isDerived()) { // computed from its buffer by eager calls, again when the buffer changes
        gen.parameterCode.computedTensor(type, t);
      } else if (t.inBlock()) { // transient: a reference to a block's tensor, found by its path
        type.addField(TENSOR, field, Modifier.PRIVATE, Modifier.FINAL, Modifier.TRANSIENT);
        ctor.addStatement("this.$L = requireCompiledBlockTensor($S, $L, $L)", field, t.field(), t.isParameter(), Generator.joined(t.shape()));
      } else if (!field.equals(t.field())) { // transient: a second reference to the model's own tensor
        type.addField(TENSOR, field, Modifier.PRIVATE, Modifier.FINAL, Modifier.TRANSIENT);
        ctor.addStatement("this.$L = $L", field, t.field());
      }
    }
    if (gen.ir.form() == ModelIr.Form.METHOD || any) {
      type.addMethod(ctor.build());
    }
  }
}
