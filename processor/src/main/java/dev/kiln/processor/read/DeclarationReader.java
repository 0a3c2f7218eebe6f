package dev.kiln.processor.read;

import com.sun.source.tree.ArrayAccessTree;
import com.sun.source.tree.AssignmentTree;
import com.sun.source.tree.ClassTree;
import com.sun.source.tree.LambdaExpressionTree;
import com.sun.source.tree.CompilationUnitTree;
import com.sun.source.tree.ExpressionStatementTree;
import com.sun.source.tree.ExpressionTree;
import com.sun.source.tree.IdentifierTree;
import com.sun.source.tree.IfTree;
import com.sun.source.tree.MemberSelectTree;
import com.sun.source.tree.MethodInvocationTree;
import com.sun.source.tree.MethodTree;
import com.sun.source.tree.NewClassTree;
import com.sun.source.tree.ParenthesizedTree;
import com.sun.source.tree.ReturnTree;
import com.sun.source.tree.StatementTree;
import com.sun.source.tree.ThrowTree;
import com.sun.source.tree.Tree;
import com.sun.source.tree.VariableTree;
import com.sun.source.util.TreePath;
import com.sun.source.util.TreePathScanner;
import com.sun.source.util.Trees;
import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.Input;
import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.MultiheadAttention;
import dev.kiln.dsl.Recurrent;
import dev.kiln.dsl.TransformerDecoderLayer;
import dev.kiln.dsl.TransformerEncoderLayer;
import dev.kiln.processor.Diagnostics;
import dev.kiln.processor.Message;
import dev.kiln.processor.ir.InputsIr;
import dev.kiln.processor.ir.LayerIr;
import dev.kiln.processor.ir.ModelIr;
import dev.kiln.processor.ir.MethodModes;
import dev.kiln.processor.ir.Modes;
import dev.kiln.processor.ir.OutputsIr;
import dev.kiln.processor.ir.Source;
import dev.kiln.processor.ir.StepIr;
import dev.kiln.processor.ir.TensorIr;
import dev.kiln.runtime.cpu.MaskTest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.stream.Collectors;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import javax.lang.model.element.Element;
import javax.lang.model.element.ElementKind;
import javax.lang.model.element.ExecutableElement;
import javax.lang.model.element.Modifier;
import javax.lang.model.element.NestingKind;
import javax.lang.model.element.PackageElement;
import javax.lang.model.element.RecordComponentElement;
import javax.lang.model.element.TypeElement;
import javax.lang.model.element.VariableElement;
import javax.lang.model.type.ArrayType;
import javax.lang.model.type.TypeKind;
import javax.lang.model.type.TypeMirror;
import javax.lang.model.util.ElementFilter;
import javax.lang.model.util.Elements;
import javax.lang.model.util.Types;
import dev.kiln.processor.read.LayerNode.Leaf;
import dev.kiln.processor.read.LayerNode.Seq;
import dev.kiln.processor.read.LayerNode.Blk;
import dev.kiln.processor.read.LayerNode.Lst;
import dev.kiln.processor.read.LayerNode.Att;

/**
 * Pass 1: reads a {@code @Model} declaration into a {@link ModelIr}. Layer constructor arguments
 * are folded to constants and turned into the dsl's {@link LayerSpec}s; the body of
 * {@code forward} is read through javac's Tree API into steps. Every problem is reported to
 * {@link Diagnostics} and reading goes on, so that one build shows all errors of a model.
 */
public final class DeclarationReader {
  static final String MODULE = "dev.kiln.dsl.Module";
  private static final String SEQUENTIAL = "dev.kiln.dsl.Sequential";
  private static final String MODULE_LIST = "dev.kiln.dsl.ModuleList";
  static final String TENSOR = "dev.kiln.runtime.Tensor";
  static final String FUNCTIONS = "dev.kiln.dsl.F";
  static final String RECURRENT = "dev.kiln.dsl.Recurrent";
  /** The views a mask may be taken through ({@code ids.eq(0).view(-1, 1, 1, S)}), by Tensor method. */
  static final Set<String> MASK_VIEWS = Set.of("view", "reshape", "unsqueeze");
  /** The logical ops of two masks or values, as the comparisons of two values they are ({@code a.logicalAnd(b)}). */
  static final Map<String, MaskTest> LOGICAL = Map.of("logicalAnd", MaskTest.AND, "logicalOr", MaskTest.OR, "logicalXor",
      MaskTest.XOR);
  /** The calls forward may compute a buffer through ({@code bias.narrow(2, 0, T)}), by Tensor method or F function. */
  static final Set<String> BUFFER_CALLS = Set.of("narrow", "slice", "select", "view", "reshape", "unsqueeze");
  /** The comparisons a masked fill's mask may be written with ({@code mask.eq(0)}), by Tensor method. */
  static final Map<String, MaskTest> COMPARISONS = Map.of("eq", MaskTest.EQ, "ne", MaskTest.NE, "lt", MaskTest.LT,
      "le", MaskTest.LE, "gt", MaskTest.GT, "ge", MaskTest.GE);

  final Trees trees;
  final Elements elements;
  final Types types;
  final Diagnostics diagnostics;
  final ConstantFolder folder;
  /** The weight ties ({@code lmHead.weight(wte.weight())}) of the model being read. */
  private final TieReader ties;

  public DeclarationReader(Trees trees, Elements elements, Types types, Diagnostics diagnostics) {
    this.trees = trees;
    this.elements = elements;
    this.types = types;
    this.diagnostics = diagnostics;
    this.folder = new ConstantFolder(trees);
    this.ties = new TieReader(trees, diagnostics, this::source);
  }

  /** The parameters of the attention layers forward reads ({@code attn.in_proj_weight}), by field: the model's tensors too. */
  final Map<String, TensorIr> attentionTensors = new LinkedHashMap<>();

  /** The blocks being read, outermost first: a block inside itself is refused. */
  private final java.util.ArrayDeque<TypeElement> blockStack = new java.util.ArrayDeque<>();
  /** The tensor fields of the blocks of the model being read, each block's own reader. */
  final List<TensorFieldReader> blockTensors = new ArrayList<>();
  /** One sample's shape of the model being read ({@code @Model(input)}), for the sizes forward reads; null if unknown. */
  int[] modelInput;

  /**
   * The IR, or empty when the declaration cannot be read at all (the reason is reported). The IR
   * may be partial when errors were reported: steps that depend on a broken layer or statement
   * are left out, so that the checker can still report the errors of the rest.
   */
  public Optional<ModelIr> read(Element element) {
    return Optional.ofNullable(element.getKind() == ElementKind.METHOD
        ? readMethod((ExecutableElement) element)
        : readClass((TypeElement) element));
  }

  // ------------------------------------------------------------------ the two declaration forms

  private ModelIr readMethod(ExecutableElement method) {
    blockTensors.clear();
    attentionTensors.clear();
    ties.clear();
    TypeElement owner = (TypeElement) method.getEnclosingElement();
    String name = method.getSimpleName().toString();
    String generated = "Kiln" + Character.toUpperCase(name.charAt(0)) + name.substring(1);
    boolean returnsSequential = types.isSameType(method.getReturnType(), type(SEQUENTIAL));
    if (!method.getModifiers().contains(Modifier.STATIC) || !method.getParameters().isEmpty() || !returnsSequential
        || method.getModifiers().contains(Modifier.PRIVATE)) {
      diagnostics.error(method, Message.BAD_FACTORY, name + "()");
      return null;
    }
    int[] input = inputShape(method);
    MethodTree tree = trees.getTree(method);
    CompilationUnitTree unit = trees.getPath(method).getCompilationUnit();
    List<? extends StatementTree> body = tree.getBody().getStatements();
    if (body.size() != 1 || !(body.get(0) instanceof ReturnTree ret) || ret.getExpression() == null) {
      diagnostics.error(unit, tree, Message.UNSUPPORTED_SEQUENTIAL, name + "()");
      return null;
    }
    List<LayerIr> layers = new ArrayList<>();
    LayerNode root = layerNode(ret.getExpression(), "", unit, layers);
    ties.resolve(layers);
    if (!(root instanceof Seq seq)) {
      if (root != null) {
        diagnostics.error(unit, ret, Message.UNSUPPORTED_SEQUENTIAL, name + "()");
      }
      return null;
    }
    BodyReader steps = new BodyReader(this, "forward", "x");
    steps.applySequential(seq, "x", name + "()", null); // each step points at its layer's own line
    if (input == null) {
      return null;
    }
    return new ModelIr(ModelIr.Form.METHOD, method, packageOf(owner), nestedName(owner), name,
        prefixed(owner, generated), input, "x", layers, steps.list, steps.last, source(unit, tree), null, -1,
        allTensors(null), null, List.of());
  }

  private ModelIr readClass(TypeElement type) {
    blockTensors.clear();
    attentionTensors.clear();
    ties.clear();
    String name = type.getSimpleName().toString();
    String generated = prefixed(type, "Kiln" + name);
    boolean ok = checkClassShape(type, generated);
    if (type.getKind() != ElementKind.CLASS) { // an interface, enum or record: its one error said it all
      return null;
    }
    int[] input = inputShape(type);
    ok &= input != null;
    modelInput = input;
    CompilationUnitTree unit = trees.getPath(type).getCompilationUnit();

    Map<String, LayerNode> fields = new LinkedHashMap<>();
    Set<String> broken = new HashSet<>();
    List<LayerIr> layers = new ArrayList<>();
    readLayerFields(type, noArgConstructor(type), unit, "", layers, fields, broken);
    ties.resolve(layers);

    ExecutableElement forward = null;
    ExecutableElement severalInputs = null; // PyTorch's forward(self, a, b)
    for (ExecutableElement m : ElementFilter.methodsIn(type.getEnclosedElements())) {
      if (m.getSimpleName().contentEquals("forward") && m.getParameters().size() == 1
          && types.isSameType(m.getParameters().get(0).asType(), type(TENSOR))) {
        forward = m;
      } else if (m.getSimpleName().contentEquals("forward") && m.getParameters().size() > 1 && !takesFurtherInputs(m)
          && m.getParameters().stream().allMatch(p -> types.isSameType(p.asType(), type(TENSOR)))) {
        severalInputs = m;
      }
    }
    if (forward == null) {
      diagnostics.error(type, Message.NO_FORWARD, name);
      return null;
    }
    if (severalInputs != null && onlyThrows(trees.getTree(forward))) { // the real forward is the other one
      diagnostics.error(severalInputs, Message.SEVERAL_INPUTS, name, severalInputs.getParameters().size());
      return null;
    }
    if (forward.getModifiers().contains(Modifier.FINAL)) {
      diagnostics.error(forward, Message.FINAL_FORWARD, name, generated);
      ok = false;
    }
    ExecutableElement outputsMethod = outputsMethod(type, generated);
    TensorFieldReader tensors = new TensorFieldReader(trees, diagnostics, folder,
        field -> constructorValue(type, field, unit, true));
    OutputsIr outputs = null;
    if (outputsMethod != null) {
      outputs = readOutputs(outputsMethod, unit, fields, broken, name, tensors);
      ok &= outputs != null;
    }
    InputsIr inputs = null;
    int inputsBefore = diagnostics.count();
    ExecutableElement inputsMethod = inputsMethod(type, generated);
    boolean inputsSignature = diagnostics.count() == inputsBefore; // (its body's errors leave a partial IR, as forward's)
    if (inputsMethod != null && inputsSignature) {
      inputs = readInputs(inputsMethod, unit, fields, broken, name, tensors);
    }
    ok &= inputsSignature && (inputsMethod == null || inputs != null);

    MethodTree tree = trees.getTree(forward);
    if (outputsMethod != null && outputs == null && calls(tree, outputsMethod.getSimpleName().toString())) {
      return null; // the outputs method's errors are reported; forward's use of it would only be named unsupported
    }
    String inputName = forward.getParameters().get(0).getSimpleName().toString();
    int delegate = outputs == null ? -1 : delegation(tree, inputName, outputsMethod, outputs, unit);
    if (delegate == BAD_OUTPUT_INDEX) {
      return null;
    }
    if (delegate >= 0 && outputs.modes() != null) { // forward would be the outputs' graph of one mode
      diagnostics.error(forward, Message.MODE_DELEGATED, outputs.call(delegate), outputs.method());
      return null;
    }
    if (delegate >= 0) {
      return !ok ? null : new ModelIr(ModelIr.Form.CLASS, type, packageOf(type), nestedName(type), null, generated, input,
          inputName, layers, List.of(), null, source(unit, trees.getTree(type)), outputs, delegate, allTensors(tensors), inputs,
          List.of());
    }
    BodyReader steps = forwardSteps(true, inputName, type, tensors, broken, outputs, outputsMethod);
    steps.readBody(tree.getBody(), unit, fields, name, null);
    BodyReader evaluation = null;
    if (!steps.mode.reads.isEmpty()) { // forward reads the training mode: read again in evaluation, for a graph of each
      evaluation = forwardSteps(false, inputName, type, tensors, broken, outputs, outputsMethod);
      evaluation.readBody(tree.getBody(), unit, fields, name, null);
    }
    if (!ok || steps.last == null || evaluation != null && evaluation.last == null) {
      return null;
    }
    ModelIr ir = new ModelIr(ModelIr.Form.CLASS, type, packageOf(type), nestedName(type), null, generated, input,
        inputName, layers, steps.list, steps.last, source(unit, trees.getTree(type)), outputs, -1, allTensors(tensors), inputs,
        List.of());
    return evaluation == null ? ir : withEvaluation(ir, steps, evaluation);
  }

  // ------------------------------------------------------------------ a method returning several outputs

  /**
   * The one instance method besides forward that returns a record with Tensor components (or
   * {@code Tensor[]}), after checking its signature and record; null if there is none or it is
   * unusable (reported).
   */
  private ExecutableElement outputsMethod(TypeElement type, String generated) {
    ExecutableElement found = null;
    boolean ok = true;
    for (ExecutableElement m : ElementFilter.methodsIn(type.getEnclosedElements())) {
      if (m.getSimpleName().contentEquals("forward") || m.getModifiers().contains(Modifier.STATIC) || !returnsOutputs(m)
          || takesFurtherInputs(m)) {
        continue;
      }
      if (found != null) {
        diagnostics.error(m, Message.TWO_OUTPUTS_METHODS, m.getSimpleName(), found.getSimpleName());
        continue;
      }
      found = m;
      String returns = types.asElement(m.getReturnType()) instanceof TypeElement r ? r.getSimpleName().toString() : "Tensor[]";
      boolean oneTensor = m.getParameters().size() == 1 && types.isSameType(m.getParameters().get(0).asType(), type(TENSOR));
      if (!oneTensor || m.getModifiers().contains(Modifier.PRIVATE) || m.getModifiers().contains(Modifier.FINAL)) {
        diagnostics.error(m, Message.BAD_OUTPUTS_METHOD, m.getSimpleName(), returns, m.getSimpleName());
        ok = false;
      }
      ok &= recordFits(m, generated);
    }
    return ok ? found : null;
  }

  /**
   * Whether the record a method of several outputs returns (of one input or of several) can be returned by the
   * generated class: not private, every component a Tensor (errors reported on the record and the component).
   * {@code Tensor[]} always fits.
   */
  private boolean recordFits(ExecutableElement m, String generated) {
    if (!(types.asElement(m.getReturnType()) instanceof TypeElement record)) {
      return true;
    }
    boolean ok = true;
    if (record.getModifiers().contains(Modifier.PRIVATE)) {
      diagnostics.error(record, Message.PRIVATE_OUTPUTS_RECORD, record.getSimpleName(), generated);
      ok = false;
    }
    for (RecordComponentElement c : record.getRecordComponents()) {
      if (!types.isSameType(c.asType(), type(TENSOR))) {
        // javac places the component's private field on its declaration, the component element nowhere
        Element at = ElementFilter.fieldsIn(record.getEnclosedElements()).stream()
            .filter(field -> field.getSimpleName().equals(c.getSimpleName())).findFirst().map(Element.class::cast).orElse(m);
        diagnostics.error(at, Message.NON_TENSOR_COMPONENT, c.getSimpleName(), record.getSimpleName(), c.asType());
        ok = false;
      }
    }
    return ok;
  }

  /** A record type with at least one Tensor component, or {@code Tensor[]}. */
  private boolean returnsOutputs(ExecutableElement m) {
    TypeMirror t = m.getReturnType();
    if (t.getKind() == TypeKind.ARRAY) {
      return types.isSameType(((ArrayType) t).getComponentType(), type(TENSOR));
    }
    return types.asElement(t) instanceof TypeElement r && r.getKind() == ElementKind.RECORD
        && r.getRecordComponents().stream().anyMatch(c -> types.isSameType(c.asType(), type(TENSOR)));
  }

  /** Reads the outputs method's body like forward's; null when a returned value is unknown (reported). */
  private OutputsIr readOutputs(ExecutableElement m, CompilationUnitTree unit, Map<String, LayerNode> fields, Set<String> broken,
      String className, TensorFieldReader tensors) {
    String inputName = m.getParameters().get(0).getSimpleName().toString();
    BodyReader[] read = new BodyReader[2];
    OutputsIr[] irs = new OutputsIr[2];
    for (int i = 0; i < 2; i++) { // in training, then (where a mode was read) in evaluation, as forward
      read[i] = new BodyReader(this, m.getSimpleName().toString(), inputName);
      read[i].mode = new ModeReading(i == 0);
      read[i].modelType = (TypeElement) m.getEnclosingElement();
      read[i].tensors = tensors;
      read[i].broken.addAll(broken);
      irs[i] = readResults(m, read[i], unit, fields, className);
      if (irs[i] == null || read[0].mode.reads.isEmpty()) {
        return irs[i];
      }
    }
    return irs[0].withModes(methodModes(irs[1], read[0], read[1]));
  }

  /** A method's body read in training ({@code training}) and in evaluation, its {@code evaluation} IR beside. */
  private static <T> MethodModes<T> methodModes(T evaluation, BodyReader training, BodyReader evaluated) {
    List<Modes.Read> reads = new ArrayList<>(training.mode.reads);
    reads.addAll(evaluated.mode.reads);
    return new MethodModes<>(evaluation, reads, training.mode.joins, evaluated.mode.joins);
  }

  /**
   * Reads the body of a method returning several outputs (a record of tensors, or {@code Tensor[]}) into
   * {@code steps}, its inputs already among their locals; null when a returned value is unknown (reported).
   */
  private OutputsIr readResults(ExecutableElement m, BodyReader steps, CompilationUnitTree unit, Map<String, LayerNode> fields,
      String className) {
    TypeElement record = types.asElement(m.getReturnType()) instanceof TypeElement r ? r : null;
    List<String> components = new ArrayList<>();
    if (record != null) {
      record.getRecordComponents().forEach(c -> components.add(c.getSimpleName().toString()));
    }
    String returned = record == null ? "new Tensor[] {out, hidden}"
        : "new " + record.getSimpleName() + "(" + String.join(", ", components) + ")";
    MethodTree tree = trees.getTree(m);
    steps.readBody(tree.getBody(), unit, fields, className, returned);
    if (steps.results == null || steps.results.contains(null)) {
      return null;
    }
    if (record == null) {
      for (int i = 0; i < steps.results.size(); i++) {
        components.add("[" + i + "]");
      }
    }
    return new OutputsIr(m.getSimpleName().toString(), record == null ? null : packageOf(record),
        record == null ? null : nestedName(record), components, m.getParameters().get(0).getSimpleName().toString(), steps.list,
        steps.results, source(unit, tree));
  }

  // ------------------------------------------------------------------ a method taking several inputs

  /** Whether a parameter of {@code m} carries {@code @Input}: {@code m} is then the model's method of several inputs. */
  private static boolean takesFurtherInputs(ExecutableElement m) {
    return m.getParameters().stream().anyMatch(p -> p.getAnnotation(Input.class) != null);
  }

  /**
   * The one method whose parameters carry {@code @Input}, after checking its signature and each
   * parameter (errors reported here); null if there is none.
   */
  private ExecutableElement inputsMethod(TypeElement type, String generated) {
    ExecutableElement found = null;
    for (ExecutableElement m : ElementFilter.methodsIn(type.getEnclosedElements())) {
      if (!takesFurtherInputs(m)) {
        continue;
      }
      if (found != null) {
        diagnostics.error(m, Message.TWO_INPUTS_METHODS, m.getSimpleName(), found.getSimpleName());
        continue;
      }
      found = m;
      List<? extends VariableElement> params = m.getParameters();
      String method = m.getSimpleName().toString();
      boolean overridable = !m.getModifiers().contains(Modifier.STATIC) && !m.getModifiers().contains(Modifier.PRIVATE)
          && !m.getModifiers().contains(Modifier.FINAL) && m.getTypeParameters().isEmpty();
      boolean returns = types.isSameType(m.getReturnType(), type(TENSOR)) || returnsOutputs(m);
      if (!overridable || !returns || params.size() < 2) {
        String further = params.size() < 2 ? "mask" : params.get(1).getSimpleName().toString();
        diagnostics.error(m, Message.BAD_INPUTS_METHOD, method, method, further);
      } else if (returnsOutputs(m)) {
        recordFits(m, generated);
      }
      int before = diagnostics.count();
      for (int i = 0; i < params.size(); i++) {
        VariableElement p = params.get(i);
        Input input = p.getAnnotation(Input.class);
        if (!types.isSameType(p.asType(), type(TENSOR))) {
          diagnostics.error(p, Message.NON_TENSOR_INPUT, p.getSimpleName(), method, p.asType());
        } else if (i == 0 && input != null) {
          diagnostics.error(p, Message.FIRST_INPUT_ANNOTATED, p.getSimpleName(), method);
        } else if (i > 0 && input == null) {
          diagnostics.error(p, Message.MISSING_INPUT, p.getSimpleName(), method, p.getSimpleName());
        } else if (i > 0 && input.value().length > 0 && !validSample(input.value())) { // ({}: ids [N], checked once read)
          diagnostics.error(p, inputAnnotation(p), Message.BAD_FURTHER_INPUT_SHAPE, Arrays.toString(input.value()), p.getSimpleName());
        }
      }
      for (VariableElement p : diagnostics.count() > before ? params.subList(1, params.size()) : List.<VariableElement>of()) {
        Input input = p.getAnnotation(Input.class); // a body not read: @Input({}), ids [N] only where an Embedding reads them, refused
        if (input != null && input.value().length == 0) {
          diagnostics.error(p, inputAnnotation(p), Message.BAD_FURTHER_INPUT_SHAPE, "[]", p.getSimpleName());
        }
      }
    }
    return found;
  }

  /**
   * Whether each further input declared {@code @Input({})} (one value per sample, {@code [N]}) is ids an {@code
   * Embedding} looks up, PyTorch's {@code nn.Embedding(ids)} over ids {@code [N]} making {@code [N, D]}; else the
   * error on its parameter (a float value per sample is {@code {1}}).
   */
  private boolean oneIdPerSample(ExecutableElement m, List<InputsIr.Further> further, List<StepIr> steps) {
    boolean ok = true;
    for (int i = 0; i < further.size(); i++) {
      InputsIr.Further f = further.get(i);
      if (f.shape().length == 0 && steps.stream().noneMatch(s -> s.spec() instanceof Embedding.Spec && s.input().equals(f.name()))) {
        VariableElement p = m.getParameters().get(i + 1);
        diagnostics.error(p, inputAnnotation(p), Message.BAD_FURTHER_INPUT_SHAPE, "[]", p.getSimpleName());
        ok = false;
      }
    }
    return ok;
  }

  /** One sample's shape: at least one dimension, each at least 1, at most 2^31-1 values. */
  private static boolean validSample(int[] sample) {
    long values = 1;
    for (int d : sample) {
      values *= Math.max(d, 0);
      if (d < 1 || values > Integer.MAX_VALUE) {
        return false;
      }
    }
    return sample.length > 0;
  }

  /** The {@code @Input} annotation on a parameter, for errors about its values. */
  private static javax.lang.model.element.AnnotationMirror inputAnnotation(VariableElement p) {
    return p.getAnnotationMirrors().stream()
        .filter(a -> ((TypeElement) a.getAnnotationType().asElement()).getQualifiedName().contentEquals(Input.class.getName()))
        .findFirst().orElse(null);
  }

  /** Reads the method of several inputs like forward, each further input a value; null when its result is unknown. */
  private InputsIr readInputs(ExecutableElement m, CompilationUnitTree unit, Map<String, LayerNode> fields, Set<String> broken,
      String className, TensorFieldReader tensors) {
    BodyReader training = new BodyReader(this, m.getSimpleName().toString(), m.getParameters().get(0).getSimpleName().toString());
    training.mode = new ModeReading(true);
    InputsIr ir = readInputs(m, training, unit, fields, broken, className, tensors);
    if (ir == null || training.mode.reads.isEmpty()) {
      return ir;
    }
    BodyReader evaluation = new BodyReader(this, m.getSimpleName().toString(), m.getParameters().get(0).getSimpleName().toString());
    evaluation.mode = new ModeReading(false); // in evaluation too, as forward
    InputsIr evaluated = readInputs(m, evaluation, unit, fields, broken, className, tensors);
    return evaluated == null ? null : ir.withModes(methodModes(evaluated, training, evaluation));
  }

  /** Reads the method of several inputs into {@code steps} (in the mode they read); null when its result is unknown. */
  private InputsIr readInputs(ExecutableElement m, BodyReader steps, CompilationUnitTree unit, Map<String, LayerNode> fields,
      Set<String> broken, String className, TensorFieldReader tensors) {
    String name = m.getSimpleName().toString();
    String inputName = m.getParameters().get(0).getSimpleName().toString();
    steps.modelType = (TypeElement) m.getEnclosingElement();
    steps.tensors = tensors;
    steps.broken.addAll(broken);
    List<InputsIr.Further> further = new ArrayList<>();
    for (VariableElement p : m.getParameters().subList(1, m.getParameters().size())) {
      String value = p.getSimpleName().toString();
      steps.locals.put(value, value);
      steps.furtherInputs.add(value);
      further.add(new InputsIr.Further(value, p.getAnnotation(Input.class).value(), source(unit, trees.getTree(p))));
    }
    steps.further = further;
    MethodTree tree = trees.getTree(m);
    if (returnsOutputs(m)) { // several inputs and several outputs: the outputs read as the method of several outputs reads them
      OutputsIr outputs = readResults(m, steps, unit, fields, className);
      if (outputs == null || !oneIdPerSample(m, further, steps.list)) {
        return null;
      }
      String last = steps.list.isEmpty() ? inputName : steps.list.get(steps.list.size() - 1).output();
      return new InputsIr(name, inputName, further, steps.list, last, source(unit, tree), outputs);
    }
    steps.readBody(tree.getBody(), unit, fields, className, null);
    if (!oneIdPerSample(m, further, steps.list)) {
      return null;
    }
    if (steps.last == null) {
      return null;
    }
    return new InputsIr(name, inputName, further, steps.list, steps.last, source(unit, tree), null);
  }

  /** Whether {@code method}'s body calls a method named {@code name} (unqualified or on {@code this}). */
  private static boolean calls(MethodTree method, String name) {
    Boolean found = new com.sun.source.util.TreeScanner<Boolean, Void>() {
      @Override public Boolean visitMethodInvocation(MethodInvocationTree node, Void unused) {
        ExpressionTree select = node.getMethodSelect();
        boolean named = select instanceof IdentifierTree id && id.getName().contentEquals(name)
            || select instanceof MemberSelectTree ms && ms.getIdentifier().contentEquals(name)
                && ms.getExpression() instanceof IdentifierTree self && self.getName().contentEquals("this");
        return named || Boolean.TRUE.equals(super.visitMethodInvocation(node, unused));
      }

      @Override public Boolean reduce(Boolean a, Boolean b) {
        return Boolean.TRUE.equals(a) || Boolean.TRUE.equals(b);
      }
    }.scan(method.getBody(), null);
    return Boolean.TRUE.equals(found);
  }

  // ------------------------------------------------------------------ the training mode

  /**
   * The training mode forward is read in (PyTorch's {@code self.training}): {@code isTraining()} folds to it, and
   * each condition on it notes the values it joins ({@link Modes}).
   */
  static final class ModeReading {
    final boolean training;
    final List<Modes.Read> reads = new ArrayList<>();
    final List<Modes.Join> joins = new ArrayList<>();
    /** How many times each condition was read so far (an unrolled loop reads it once per turn). */
    private final Map<Tree, Integer> seen = new HashMap<>();

    ModeReading(boolean training) {
      this.training = training;
    }

    /** How many times {@code condition} was read before this time. */
    int occurrence(Tree condition) {
      return seen.merge(condition, 1, Integer::sum) - 1;
    }

    /** The conditions read so far and how often, as {@link #seen(Map)} takes them back. */
    Map<Tree, Integer> seen() {
      return Map.copyOf(seen);
    }

    void seen(Map<Tree, Integer> counts) {
      seen.clear();
      seen.putAll(counts);
    }
  }

  /** The boolean locals holding a training mode ({@code final boolean t = isTraining();}), which fold to it where read. */
  final Set<Element> modeLocals = new HashSet<>();

  /** Whether {@code call} is {@code isTraining()} of the module whose code is read ({@code this.isTraining()}, Module's). */
  boolean isModeCall(MethodInvocationTree call, CompilationUnitTree unit) {
    ExpressionTree select = call.getMethodSelect();
    boolean own = select instanceof IdentifierTree || select instanceof MemberSelectTree ms
        && ms.getExpression() instanceof IdentifierTree self && (self.getName().contentEquals("this") || self.getName().contentEquals("super"));
    return own && call.getArguments().isEmpty() && calledMethod(call, unit, MODULE, "isTraining");
  }

  /**
   * Whether {@code tree} reads a training mode: calls {@code isTraining()} of the module whose code is read or of another
   * ({@code drop.isTraining()}), or reads a local holding one ({@link #modeLocals}).
   */
  boolean readsMode(Tree tree, CompilationUnitTree unit) {
    Boolean found = new com.sun.source.util.TreeScanner<Boolean, Void>() {
      @Override public Boolean visitMethodInvocation(MethodInvocationTree node, Void unused) {
        return node.getArguments().isEmpty() && calledMethod(node, unit, MODULE, "isTraining")
            || Boolean.TRUE.equals(super.visitMethodInvocation(node, unused));
      }

      @Override public Boolean visitIdentifier(IdentifierTree node, Void unused) {
        return !modeLocals.isEmpty() && modeLocals.contains(trees.getElement(TreePath.getPath(unit, node)));
      }

      @Override public Boolean reduce(Boolean a, Boolean b) {
        return Boolean.TRUE.equals(a) || Boolean.TRUE.equals(b);
      }
    }.scan(tree, null);
    return Boolean.TRUE.equals(found);
  }

  /** The locals the branches of {@code branch} assign, less those declared inside them (javac scopes those to the branch). */
  static Set<String> assignedLocals(IfTree branch) {
    Set<String> assigned = new java.util.LinkedHashSet<>();
    Set<String> declared = new HashSet<>();
    new com.sun.source.util.TreeScanner<Void, Void>() {
      @Override public Void visitAssignment(AssignmentTree node, Void unused) {
        if (node.getVariable() instanceof IdentifierTree id) {
          assigned.add(id.getName().toString());
        }
        return super.visitAssignment(node, unused);
      }

      @Override public Void visitVariable(VariableTree node, Void unused) {
        declared.add(node.getName().toString());
        return super.visitVariable(node, unused);
      }

      @Override public Void visitClass(ClassTree node, Void unused) {
        return null; // (a lambda's or class's own locals are not forward's)
      }
    }.scan(branch.getElseStatement() == null ? List.of(branch.getThenStatement())
        : List.of(branch.getThenStatement(), branch.getElseStatement()), null);
    assigned.removeAll(declared);
    return assigned;
  }

  /**
   * Forward's steps read in one training mode ({@link BodyReader#mode}), ready for its body: the model's layers and tensor
   * fields, and its outputs method (which forward may call only as its whole body).
   */
  private BodyReader forwardSteps(boolean training, String inputName, TypeElement type, TensorFieldReader tensors, Set<String> broken,
      OutputsIr outputs, ExecutableElement outputsMethod) {
    BodyReader steps = new BodyReader(this, "forward", inputName);
    steps.mode = new ModeReading(training);
    steps.modelType = type;
    steps.tensors = tensors;
    steps.broken.addAll(broken);
    if (outputs != null) {
      steps.outputsMethod = outputsMethod;
      steps.outputsCall = outputs.call(0);
    }
    return steps;
  }

  /** {@code ir} (forward read in training) with forward read in evaluation beside it ({@link Modes}). */
  private static ModelIr withEvaluation(ModelIr ir, BodyReader training, BodyReader evaluation) {
    ModelIr evaluated = new ModelIr(ir.form(), ir.element(), ir.packageName(), ir.declaringType(), ir.factoryMethod(),
        ir.generatedName(), ir.input(), ir.inputName(), ir.layers(), evaluation.list, evaluation.last, ir.source(), ir.outputs(),
        -1, ir.tensors(), ir.inputs(), List.of());
    List<Modes.Read> reads = new ArrayList<>(training.mode.reads);
    reads.addAll(evaluation.mode.reads);
    return ir.withModes(new Modes(evaluated, reads, training.mode.joins, evaluation.mode.joins));
  }

  /** {@link #delegation}'s answer for an index outside the outputs array, already reported. */
  private static final int BAD_OUTPUT_INDEX = -2;

  /**
   * The component forward returns when its whole body is {@code return forwardWithHidden(x).output();}
   * (or {@code ...(x)[0]}) on its own parameter, else -1: forward is then read as a body of its own;
   * {@link #BAD_OUTPUT_INDEX} when the index is a constant outside the outputs (reported here).
   */
  private int delegation(MethodTree forward, String inputName, ExecutableElement outputsMethod, OutputsIr outputs, CompilationUnitTree unit) {
    List<? extends StatementTree> body = forward.getBody().getStatements();
    if (body.size() != 1 || !(body.get(0) instanceof ReturnTree ret) || ret.getExpression() == null) {
      return -1;
    }
    ExpressionTree e = ret.getExpression();
    while (e instanceof ParenthesizedTree p) {
      e = p.getExpression();
    }
    ExpressionTree call;
    int index;
    if (e instanceof ArrayAccessTree aa && outputs.isArray()) {
      call = aa.getExpression();
      try {
        Object folded = folder.fold(aa.getIndex(), unit);
        int count = outputs.components().size();
        if (folded instanceof Integer i && (i < 0 || i >= count)) {
          diagnostics.error(unit, aa.getIndex(), Message.BAD_OUTPUT_INDEX, i, outputsMethod.getSimpleName(), count, count - 1);
          return BAD_OUTPUT_INDEX;
        }
        index = folded instanceof Integer i ? i : -1;
      } catch (ConstantFolder.NotConstant ex) {
        return -1;
      }
    } else if (e instanceof MethodInvocationTree accessor && accessor.getArguments().isEmpty()
        && accessor.getMethodSelect() instanceof MemberSelectTree ms && !outputs.isArray()) {
      call = ms.getExpression();
      index = outputs.components().indexOf(ms.getIdentifier().toString());
    } else if (e instanceof MemberSelectTree field && !outputs.isArray()) { // the component's field, in the nesting class
      call = field.getExpression();
      index = outputs.components().indexOf(field.getIdentifier().toString());
    } else {
      return -1;
    }
    boolean callsOnInput = call instanceof MethodInvocationTree mi && mi.getArguments().size() == 1
        && mi.getArguments().get(0) instanceof IdentifierTree arg && arg.getName().contentEquals(inputName)
        && outputsMethod.equals(trees.getElement(TreePath.getPath(unit, mi)));
    return callsOnInput ? index : -1;
  }

  /** Whether a method's body is one throw statement: the one-tensor forward a model with another stubs out. */
  private static boolean onlyThrows(MethodTree method) {
    return method.getBody() != null && method.getBody().getStatements().size() == 1
        && method.getBody().getStatements().get(0) instanceof ThrowTree;
  }

  /**
   * The layer (or the tensor, for a {@code tensor} field) a field without an initializer is given by
   * its one assignment at the top level of the constructor without parameters (the one the generated
   * class calls), PyTorch's {@code __init__}; null after reporting that there is none, or several, or
   * one inside a branch or loop.
   */
  private ExpressionTree constructorValue(TypeElement type, VariableElement field, CompilationUnitTree unit, boolean tensor) {
    return constructorValue(noArgConstructor(type), field, unit, tensor);
  }

  /** The constructor without parameters (the one a generated class calls), or null. */
  private static ExecutableElement noArgConstructor(TypeElement type) {
    return ElementFilter.constructorsIn(type.getEnclosedElements()).stream()
        .filter(c -> c.getParameters().isEmpty()).findFirst().orElse(null);
  }

  /**
   * Reads the layer fields of {@code type} (the model's, {@code prefix} empty, or a block's, {@code prefix} its path
   * and a dot) into {@code fields} by name, each from its initializer or its assignment in {@code ctor}; a field whose
   * declaration has an error (reported) goes into {@code broken}. A model's layer field must not be private (the
   * generated subclass may read it); a block's is found by its path.
   */
  private void readLayerFields(TypeElement type, ExecutableElement ctor, CompilationUnitTree unit, String prefix, List<LayerIr> layers,
      Map<String, LayerNode> fields, Set<String> broken) {
    String outer = ties.enter(prefix);
    for (VariableElement field : ElementFilter.fieldsIn(type.getEnclosedElements())) {
      if (field.getModifiers().contains(Modifier.STATIC) || !types.isAssignable(field.asType(), type(MODULE))) {
        continue;
      }
      String fieldName = field.getSimpleName().toString();
      VariableTree vt = (VariableTree) trees.getTree(field);
      if (field.getModifiers().contains(Modifier.PRIVATE) && prefix.isEmpty()) {
        diagnostics.error(field, Message.PRIVATE_LAYER, fieldName);
      }
      ExpressionTree value = vt.getInitializer() != null ? vt.getInitializer() : constructorValue(ctor, field, unit, false);
      if (value == null) {
        broken.add(fieldName);
        continue;
      }
      if (!field.getModifiers().contains(Modifier.FINAL)) {
        diagnostics.error(field, Message.NON_FINAL_LAYER, fieldName);
      }
      LayerNode node = layerNode(value, prefix + fieldName, unit, layers);
      if (node != null) {
        fields.put(fieldName, node);
      } else {
        broken.add(fieldName);
      }
    }
    ties.readStatements(ctor, unit);
    ties.enter(outer);
  }

  /** {@link #constructorValue(TypeElement, VariableElement, CompilationUnitTree, boolean)} in a given constructor (a block's). */
  private ExpressionTree constructorValue(ExecutableElement ctor, VariableElement field, CompilationUnitTree unit, boolean tensor) {
    String name = field.getSimpleName().toString();
    String typeName = types.asElement(field.asType()).getSimpleName().toString();
    Runnable noValue = () -> {
      if (tensor) {
        diagnostics.error(field, Message.TENSOR_NO_INITIALIZER, name, name, name, name);
      } else {
        diagnostics.error(field, Message.NO_INITIALIZER, name, typeName, name, typeName, name, typeName);
      }
    };
    MethodTree tree = ctor == null ? null : trees.getTree(ctor);
    if (tree == null || tree.getBody() == null) {
      noValue.run();
      return null;
    }
    List<TreePath> assignments = new ArrayList<>();
    new TreePathScanner<Void, Void>() {
      @Override
      public Void visitAssignment(AssignmentTree node, Void unused) {
        if (field.equals(trees.getElement(new TreePath(getCurrentPath(), node.getVariable())))) {
          assignments.add(getCurrentPath());
        }
        return super.visitAssignment(node, unused);
      }
    }.scan(new TreePath(trees.getPath(ctor), tree.getBody()), null);
    if (assignments.isEmpty()) {
      List<? extends StatementTree> body = tree.getBody().getStatements();
      if (!body.isEmpty() && body.get(0) instanceof ExpressionStatementTree es
          && es.getExpression() instanceof MethodInvocationTree call
          && call.getMethodSelect() instanceof IdentifierTree id && id.getName().contentEquals("this")) {
        diagnostics.error(field, Message.DELEGATED_CONSTRUCTOR, tensor ? "tensor" : "layer", name, call); // sizes passed as parameters
      } else {
        noValue.run();
      }
      return null;
    }
    TreePath first = assignments.get(0);
    boolean topLevel = first.getParentPath().getLeaf() instanceof ExpressionStatementTree
        && first.getParentPath().getParentPath().getLeaf() == tree.getBody();
    if (assignments.size() > 1 || !topLevel) {
      TreePath at = assignments.size() > 1 ? assignments.get(1) : first;
      diagnostics.error(unit, at.getLeaf(), Message.CONSTRUCTOR_ASSIGNMENT, tensor ? "tensor" : "layer", name,
          assignments.size() > 1 ? "more than once" : "inside a block, branch or loop");
      return null;
    }
    return ((AssignmentTree) first.getLeaf()).getExpression();
  }

  private boolean checkClassShape(TypeElement type, String generated) {
    String name = type.getSimpleName().toString();
    int before = diagnostics.count();
    if (type.getKind() != ElementKind.CLASS) { // an interface, enum or record: nothing else to say
      diagnostics.error(type, Message.NOT_A_MODULE, name);
      return false;
    }
    if (type.getSuperclass().getKind() == TypeKind.ERROR
        && trees.getTree(type).getExtendsClause() != null
        && trees.getTree(type).getExtendsClause().toString().equals("Module")) {
      // javac reports "reference to Module is ambiguous" (java.lang.Module beside dev.kiln.dsl.*)
      diagnostics.adviceOnJavacError(type, Message.AMBIGUOUS_MODULE, name);
    } else if (!types.isAssignable(type.asType(), type(MODULE))) {
      diagnostics.error(type, Message.NOT_A_MODULE, name);
    }
    if (type.getModifiers().contains(Modifier.FINAL)) {
      diagnostics.error(type, Message.FINAL_CLASS, name, generated);
    }
    if (type.getModifiers().contains(Modifier.PRIVATE)) {
      diagnostics.error(type, Message.PRIVATE_CLASS, name, generated);
    }
    if (type.getNestingKind() == NestingKind.MEMBER && !type.getModifiers().contains(Modifier.STATIC)
        || type.getNestingKind() == NestingKind.LOCAL || type.getNestingKind() == NestingKind.ANONYMOUS) {
      diagnostics.error(type, Message.INNER_CLASS, name);
    }
    List<ExecutableElement> ctors = ElementFilter.constructorsIn(type.getEnclosedElements());
    boolean noArg = ctors.stream().anyMatch(c -> c.getParameters().isEmpty() && !c.getModifiers().contains(Modifier.PRIVATE));
    if (!noArg) {
      diagnostics.error(type, Message.NO_DEFAULT_CONSTRUCTOR, name, generated);
    }
    ctors.stream().filter(c -> c.getParameters().isEmpty()).findFirst().ifPresent(c -> c.getThrownTypes().stream()
        .filter(t -> !types.isAssignable(t, type(RuntimeException.class.getName())) && !types.isAssignable(t, type(Error.class.getName())))
        .findFirst()
        .ifPresent(t -> diagnostics.error(c, Message.CHECKED_CONSTRUCTOR, name, t, generated)));
    if (type.getModifiers().contains(Modifier.ABSTRACT)) {
      ElementFilter.methodsIn(elements.getAllMembers(type)).stream()
          .filter(m -> m.getModifiers().contains(Modifier.ABSTRACT) && !m.getSimpleName().contentEquals("forward"))
          .findFirst()
          .ifPresent(m -> diagnostics.error(type, Message.ABSTRACT_METHOD, name, m.getSimpleName(), generated));
    }
    return diagnostics.count() == before;
  }

  /** The {@code @Model} annotation on {@code element}, for errors about its values. */
  private javax.lang.model.element.AnnotationMirror modelAnnotation(Element element) {
    return element.getAnnotationMirrors().stream()
        .filter(a -> ((TypeElement) a.getAnnotationType().asElement()).getQualifiedName().contentEquals(Model.class.getName()))
        .findFirst().orElse(null);
  }

  /** The declared sample shape; null after reporting one that is empty or not positive (no shape errors follow from it). */
  private int[] inputShape(Element element) {
    int[] input = element.getAnnotation(Model.class).input();
    if (input.length == 0 || Arrays.stream(input).anyMatch(d -> d < 1)) {
      diagnostics.error(element, modelAnnotation(element), Message.BAD_INPUT_SHAPE, Arrays.toString(input));
      return null;
    }
    long values = 1;
    for (int d : input) {
      values *= d;
      if (values > Integer.MAX_VALUE) {
        diagnostics.error(element, modelAnnotation(element), Message.INPUT_TOO_LARGE, Arrays.toString(input));
        return null;
      }
    }
    return input;
  }

  // ------------------------------------------------------------------ layer declarations

  /** Reads {@code new Linear(...)}, {@code Sequential.of(...)} or a builder chain; null after an error. */
  private LayerNode layerNode(ExpressionTree expr, String path, CompilationUnitTree unit, List<LayerIr> layers) {
    String label = path.isEmpty() ? "model" : path;
    if (expr instanceof ParenthesizedTree p) {
      return layerNode(p.getExpression(), path, unit, layers);
    }
    if (ties.isTie(expr, unit)) { // new Linear(D, V, false).weight(wte.weight()): the layer, its weight another's
      ExpressionTree layer = ties.initializer((MethodInvocationTree) expr, path, unit);
      return layerNode(layer, path, unit, layers);
    }
    if (isModuleList(expr, unit)) {
      return listNode(expr, path, unit, layers);
    }
    if (expr instanceof NewClassTree nc && isBlock(nc, unit)) {
      return blockNode(nc, path, unit, layers);
    }
    if (expr instanceof NewClassTree nc && attentionClass(nc, unit) != null) {
      return attentionNode(nc, path, unit, layers);
    }
    if (expr instanceof NewClassTree || isLayerBuilderCall(expr, unit)) {
      LayerSpec spec = layerSpec(expr, label, unit);
      if (spec == null) {
        return null;
      }
      try {
        LayerCatalog.complete(spec);
      } catch (LayerCatalog.BadArguments e) {
        diagnostics.error(unit, expr, Message.BAD_LAYER_ARGUMENTS, label, e.getMessage());
        return null;
      }
      LayerIr layer = new LayerIr(path, spec, source(unit, expr));
      layers.add(layer);
      return new Leaf(layer);
    }
    if (expr instanceof MethodInvocationTree mi) {
      List<ExpressionTree> children = sequentialChildren(mi, unit);
      List<String> names = sequentialNames(mi, unit);
      if (children == null) {
        diagnostics.error(unit, expr, Message.UNSUPPORTED_SEQUENTIAL, label);
        return null;
      }
      if (!checkSequentialNames(mi, unit, label)) {
        return null;
      }
      List<LayerNode> nodes = new ArrayList<>();
      for (int i = 0; i < children.size(); i++) {
        String child = names.get(i) == null ? Integer.toString(i) : names.get(i);
        LayerNode n = layerNode(children.get(i), path.isEmpty() ? child : path + "." + child, unit, layers);
        if (n == null) {
          return null;
        }
        if (n instanceof Lst) { // as Sequential's forward would apply it: PyTorch's ModuleList is not callable
          diagnostics.error(unit, children.get(i), Message.LIST_APPLIED, path.isEmpty() ? child : path + "." + child, "list");
          return null;
        }
        nodes.add(n);
      }
      return new Seq(path, nodes);
    }
    if (!unresolved(unit, expr)) { // another field, a variable, a conditional: not an initializer the compiler reads
      diagnostics.error(unit, expr, Message.UNSUPPORTED_SEQUENTIAL, label);
    }
    return null;
  }

  /**
   * Whether {@code expr} is a builder call on a layer, e.g. {@code new Conv2d(1, 32, 3).padding(1)}:
   * on a layer the compiler knows, or on a new module it does not ({@code new ConvTranspose2d(...)
   * .stride(2)}), whose error then names the layer rather than the chain.
   */
  private boolean isLayerBuilderCall(ExpressionTree expr, CompilationUnitTree unit) {
    if (!(expr instanceof MethodInvocationTree mi) || !(mi.getMethodSelect() instanceof MemberSelectTree)) {
      return false;
    }
    Element method = trees.getElement(TreePath.getPath(unit, mi));
    if (method == null) {
      return false;
    }
    if (LayerCatalog.knows(((TypeElement) method.getEnclosingElement()).getQualifiedName().toString())) {
      return true;
    }
    ExpressionTree root = mi;
    while (root instanceof MethodInvocationTree m && m.getMethodSelect() instanceof MemberSelectTree select) {
      root = select.getExpression();
    }
    return root instanceof NewClassTree && types.isSubtype(types.erasure(method.getEnclosingElement().asType()), type(MODULE));
  }

  /** The spec of {@code new Layer(args)} followed by any builder calls; null after a reported error. */
  private LayerSpec layerSpec(ExpressionTree expr, String label, CompilationUnitTree unit) {
    if (expr instanceof MethodInvocationTree mi && mi.getMethodSelect() instanceof MemberSelectTree select) {
      LayerSpec receiver = layerSpec(select.getExpression(), label, unit);
      List<Object> args = constants(mi.getArguments(), label, select.getIdentifier().toString(), unit);
      if (receiver == null || args == null) {
        return null;
      }
      String owner = ((TypeElement) trees.getElement(TreePath.getPath(unit, mi)).getEnclosingElement()).getQualifiedName().toString();
      try {
        return LayerCatalog.builder(owner, receiver, select.getIdentifier().toString(), args);
      } catch (LayerCatalog.BadArguments e) {
        diagnostics.error(unit, mi, Message.BAD_LAYER_ARGUMENTS, label, e.getMessage());
        return null;
      }
    }
    if (!(expr instanceof NewClassTree nc)) {
      diagnostics.error(unit, expr, Message.UNKNOWN_LAYER, label, expr.getKind().toString().toLowerCase(Locale.ROOT), LayerCatalog.supported());
      return null;
    }
    Element ctor = trees.getElement(TreePath.getPath(unit, nc));
    if (ctor == null) {
      return null; // javac reports the unresolved type itself
    }
    TypeElement cls = (TypeElement) ctor.getEnclosingElement();
    String qualified = cls.getQualifiedName().toString();
    if (unresolved(unit, nc)) {
      return null; // a typo in the class name: javac says "cannot find symbol" itself
    }
    if (nc.getClassBody() != null) {
      diagnostics.error(unit, nc, Message.ANONYMOUS_LAYER, label, nc.getIdentifier());
      return null;
    }
    if (!LayerCatalog.knows(qualified)) {
      diagnostics.error(unit, nc, Message.UNKNOWN_LAYER, label, cls.getSimpleName(), LayerCatalog.supported());
      return null;
    }
    List<Object> args = constants(nc.getArguments(), label, cls.getSimpleName().toString(), unit);
    if (args == null) {
      return null;
    }
    try {
      return LayerCatalog.create(qualified, args);
    } catch (LayerCatalog.BadArguments e) {
      diagnostics.error(unit, nc, Message.BAD_LAYER_ARGUMENTS, label, e.getMessage());
      return null;
    }
  }

  /**
   * Whether javac cannot resolve {@code tree} (a misspelt name, method or class). Such a tree gets
   * no message of ours: javac's own "cannot find symbol" says it better, and a processor error
   * would make javac drop it. The model is then not generated.
   */
  boolean unresolved(CompilationUnitTree unit, Tree tree) {
    TreePath path = TreePath.getPath(unit, tree);
    if (path == null) {
      return false;
    }
    TypeMirror type = trees.getTypeMirror(path);
    return type != null && type.getKind() == TypeKind.ERROR;
  }

  /** The constant value of {@code e}, or null when it is not one. */
  Object foldOrNull(ExpressionTree e, CompilationUnitTree unit) {
    try {
      return folder.fold(e, unit);
    } catch (ConstantFolder.NotConstant ex) {
      return null;
    }
  }

  /** Folds arguments to constants; null after reporting the first that is not one. */
  List<Object> constants(List<? extends ExpressionTree> trees, String label, String callee, CompilationUnitTree unit) {
    List<Object> args = new ArrayList<>();
    for (ExpressionTree a : trees) {
      try {
        args.add(folder.fold(a, unit));
      } catch (ConstantFolder.NotConstant e) {
        notConstant(e, unit, label, () -> {
          if (!unresolved(unit, e.tree)) { // else a typo, which javac reports itself
            diagnostics.error(unit, e.tree, Message.NON_CONSTANT_ARGUMENT, label, e.tree, callee);
          }
        });
        return null;
      }
    }
    return args;
  }

  /**
   * Reports {@code ex}, which a constant needed at {@code use} threw: nothing when it was reported already (a dimension out
   * of range, {@code x.size(3)} of {@code [N, 6]}), the batch's error where it reads the batch size, else {@code otherwise}'s.
   */
  void notConstant(ConstantFolder.NotConstant ex, CompilationUnitTree unit, String use, Runnable otherwise) {
    if (ex.batch) {
      diagnostics.error(unit, ex.tree, Message.BATCH_SIZE_CONSTANT, use, ex.tree);
    } else if (!ex.reported) {
      otherwise.run();
    }
  }

  /** The layer expressions of {@code Sequential.of(a, b)} or of a builder chain, or null if it is neither. */
  private List<ExpressionTree> sequentialChildren(MethodInvocationTree mi, CompilationUnitTree unit) {
    List<ExpressionTree> out = new ArrayList<>();
    return collectSequential(mi, unit, out, new ArrayList<>(), new ArrayList<>()) ? out : null;
  }

  /** Names given with {@code .add("name", layer)}; null entries for unnamed children. */
  private List<String> sequentialNames(MethodInvocationTree mi, CompilationUnitTree unit) {
    List<String> names = new ArrayList<>();
    collectSequential(mi, unit, new ArrayList<>(), names, new ArrayList<>());
    return names;
  }

  /**
   * Reports, on its {@code .add} call, a child name that {@code Sequential.builder()} would refuse
   * when the model is built: empty, with a dot, or taken by an earlier child (an unnamed child is
   * named by its position); and an empty {@code Sequential.of()}. Returns whether all is well.
   */
  private boolean checkSequentialNames(MethodInvocationTree mi, CompilationUnitTree unit, String label) {
    List<ExpressionTree> layers = new ArrayList<>();
    List<String> names = new ArrayList<>();
    List<Tree> sites = new ArrayList<>();
    collectSequential(mi, unit, layers, names, sites);
    if (layers.isEmpty()) {
      diagnostics.error(unit, mi, Message.EMPTY_SEQUENTIAL, label);
      return false;
    }
    Set<String> seen = new HashSet<>();
    boolean ok = true;
    for (int i = 0; i < names.size(); i++) {
      String name = names.get(i) == null ? Integer.toString(i) : names.get(i);
      if (name.isEmpty() || name.contains(".")) {
        diagnostics.error(unit, sites.get(i), Message.BAD_CHILD_NAME, label, name);
        ok = false;
      } else if (!seen.add(name)) {
        diagnostics.error(unit, sites.get(i), Message.DUPLICATE_CHILD_NAME, label, name,
            names.get(i) == null ? " (an unnamed child is named by its position)" : "");
        ok = false;
      }
    }
    return ok;
  }

  private boolean collectSequential(
      MethodInvocationTree mi, CompilationUnitTree unit, List<ExpressionTree> layers, List<String> names, List<Tree> sites) {
    if (!(mi.getMethodSelect() instanceof MemberSelectTree select)) {
      return false;
    }
    Element method = trees.getElement(TreePath.getPath(unit, mi));
    if (method == null) {
      return false;
    }
    String owner = ((TypeElement) method.getEnclosingElement()).getQualifiedName().toString();
    String name = select.getIdentifier().toString();
    if (owner.equals(SEQUENTIAL) && name.equals("of")) {
      for (ExpressionTree a : mi.getArguments()) {
        layers.add(a);
        names.add(null);
        sites.add(a);
      }
      return true;
    }
    if (owner.equals(SEQUENTIAL) && name.equals("builder")) {
      return true;
    }
    if (!owner.equals(SEQUENTIAL + ".Builder") || !(select.getExpression() instanceof MethodInvocationTree inner)) {
      return false;
    }
    if (!collectSequential(inner, unit, layers, names, sites)) {
      return false;
    }
    if (name.equals("build")) {
      return true;
    }
    if (name.equals("add") && mi.getArguments().size() == 2) {
      try {
        Object n = folder.fold(mi.getArguments().get(0), unit);
        names.add(String.valueOf(n));
      } catch (ConstantFolder.NotConstant e) {
        return false;
      }
      layers.add(mi.getArguments().get(1));
      sites.add(mi);
      return true;
    }
    if (name.equals("add") && mi.getArguments().size() == 1) {
      names.add(null);
      layers.add(mi.getArguments().get(0));
      sites.add(mi);
      return true;
    }
    return false;
  }

  // ------------------------------------------------------------------ blocks and ModuleList

  /** The model's tensor fields and its blocks', for the IR. */
  List<TensorIr> allTensors(TensorFieldReader own) {
    List<TensorIr> out = new ArrayList<>(own == null ? List.of() : own.used()); // (none of its own: a factory method)
    blockTensors.forEach(t -> out.addAll(t.used()));
    out.addAll(attentionTensors.values());
    return out;
  }

  // ------------------------------------------------------------------ attention layers

  /** The simple name of the dsl attention layer {@code nc} creates ({@code MultiheadAttention}, ...), else null. */
  private String attentionClass(NewClassTree nc, CompilationUnitTree unit) {
    if (unresolved(unit, nc) || !(trees.getElement(TreePath.getPath(unit, nc)) instanceof ExecutableElement ctor)) {
      return null;
    }
    String name = ((TypeElement) ctor.getEnclosingElement()).getQualifiedName().toString();
    return switch (name) {
      case "dev.kiln.dsl.MultiheadAttention", "dev.kiln.dsl.TransformerEncoderLayer", "dev.kiln.dsl.TransformerEncoder",
          "dev.kiln.dsl.TransformerDecoderLayer", "dev.kiln.dsl.TransformerDecoder" ->
          name.substring("dev.kiln.dsl.".length());
      default -> null;
    };
  }

  /**
   * {@code new MultiheadAttention(...)}, {@code new TransformerEncoderLayer(...)} or {@code new TransformerEncoder(new
   * TransformerEncoderLayer(...), n[, new LayerNorm(d)])} at {@code path}, its arguments constants: its node, its children
   * added to {@code layers} under their eager paths; null after an error (reported).
   */
  private LayerNode attentionNode(NewClassTree nc, String path, CompilationUnitTree unit, List<LayerIr> layers) {
    String name = attentionClass(nc, unit);
    Source source = source(unit, nc);
    Map<String, LayerIr> children = new LinkedHashMap<>();
    List<? extends ExpressionTree> args = nc.getArguments();
    try {
      if (name.equals("TransformerEncoder") || name.equals("TransformerDecoder")) {
        String layerClass = name + "Layer";
        ExpressionTree layer = stripped(args.get(0));
        if (!(layer instanceof NewClassTree inner && layerClass.equals(attentionClass(inner, unit)))) {
          diagnostics.error(unit, args.get(0), Message.ATTENTION_ENCODER_LAYER, path, name, args.get(0), layerClass);
          return null;
        }
        List<Object> layerArgs = constants(inner.getArguments(), path, layerClass, unit);
        List<Object> count = constants(args.subList(1, 2), path, name, unit);
        if (layerArgs == null || count == null) {
          return null;
        }
        boolean decoder = name.equals("TransformerDecoder");
        LayerSpec spec = decoder ? AttentionLayers.decoderLayer(layerArgs) : AttentionLayers.encoderLayer(layerArgs);
        int n = LayerCatalog.integer(count, 0);
        if (n <= 0 || n > MAX_UNROLLED) {
          throw new LayerCatalog.BadArguments(name + ": num_layers must be between 1 and " + MAX_UNROLLED + ", got " + n);
        }
        for (int i = 0; i < n; i++) {
          if (decoder) {
            AttentionLayers.decoderLayers(path + ".layers." + i, (TransformerDecoderLayer.Spec) spec, source, children);
          } else {
            AttentionLayers.encoderLayers(path + ".layers." + i, (TransformerEncoderLayer.Spec) spec, source, children);
          }
        }
        LayerIr norm = null;
        if (args.size() == 3 && stripped(args.get(2)).getKind() != Tree.Kind.NULL_LITERAL) {
          LayerSpec normSpec = layerSpec(args.get(2), path + ".norm", unit);
          if (normSpec == null) {
            return null;
          }
          norm = new LayerIr(path + ".norm", normSpec, source(unit, args.get(2)));
          children.put(norm.path(), norm);
        }
        layers.addAll(children.values());
        return new Att(path, spec, n, norm, children);
      }
      List<Object> constants = constants(args, path, name, unit);
      if (constants == null) {
        return null;
      }
      LayerSpec spec;
      if (name.equals("MultiheadAttention")) {
        MultiheadAttention.Spec s = AttentionLayers.attention(constants);
        AttentionLayers.attentionLayers(path, s, source, children);
        spec = s;
      } else if (name.equals("TransformerDecoderLayer")) {
        TransformerDecoderLayer.Spec s = AttentionLayers.decoderLayer(constants);
        AttentionLayers.decoderLayers(path, s, source, children);
        spec = s;
      } else {
        TransformerEncoderLayer.Spec s = AttentionLayers.encoderLayer(constants);
        AttentionLayers.encoderLayers(path, s, source, children);
        spec = s;
      }
      layers.addAll(children.values());
      return new Att(path, spec, 0, null, children);
    } catch (LayerCatalog.BadArguments e) {
      diagnostics.error(unit, nc, Message.BAD_LAYER_ARGUMENTS, path, e.getMessage());
      return null;
    }
  }

  /**
   * Whether {@code nc} creates a block: a {@code Module} subclass of the user's (not a layer the compiler knows, not
   * one of the dsl's), without a class body.
   */
  private boolean isBlock(NewClassTree nc, CompilationUnitTree unit) {
    if (nc.getClassBody() != null || unresolved(unit, nc)
        || !(trees.getElement(TreePath.getPath(unit, nc)) instanceof ExecutableElement ctor)
        || !(ctor.getEnclosingElement() instanceof TypeElement cls)) {
      return false;
    }
    String qualified = cls.getQualifiedName().toString();
    return types.isSubtype(types.erasure(cls.asType()), type(MODULE)) && !LayerCatalog.knows(qualified)
        && !qualified.startsWith("dev.kiln.dsl.");
  }

  /**
   * A block's node: its layer fields read as children at {@code path} ({@code h0.ln1}), from their initializers or
   * the constructor {@code nc} calls, whose arguments must fold to constants (they and the primitive fields the
   * constructor sets from them fold inside the block); null after an error (reported).
   */
  private LayerNode blockNode(NewClassTree nc, String path, CompilationUnitTree unit, List<LayerIr> layers) {
    ExecutableElement ctor = (ExecutableElement) trees.getElement(TreePath.getPath(unit, nc));
    TypeElement cls = (TypeElement) ctor.getEnclosingElement();
    String name = cls.getSimpleName().toString();
    if (blockStack.contains(cls)) {
      List<String> chain = new ArrayList<>();
      blockStack.descendingIterator().forEachRemaining(b -> chain.add(b.getSimpleName().toString()));
      diagnostics.error(unit, nc, Message.BLOCK_RECURSION, path, name, name, String.join(" > ", chain) + " > " + name);
      return null;
    }
    TreePath classPath = trees.getPath(cls);
    if (classPath == null || trees.getTree(ctor) == null) {
      diagnostics.error(unit, nc, Message.BLOCK_NO_SOURCE, path, cls.getQualifiedName());
      return null;
    }
    List<TypeElement> chain = blockChain(cls);
    if (chain == null) {
      diagnostics.error(unit, nc, Message.BLOCK_SUPERCLASS, path, name, cls.getSuperclass());
      return null;
    }
    ExecutableElement forward = blockForward(chain);
    if (forward == null) {
      diagnostics.error(unit, nc, Message.BLOCK_NO_FORWARD, path, name);
      return null;
    }
    List<Object> args = constants(nc.getArguments(), path, name, unit);
    if (args == null) {
      return null;
    }
    Map<Element, Object> constants = arguments(ctor, args);
    blockStack.push(cls);
    Map<Element, Object> before = folder.bind(constants);
    try {
      List<ExecutableElement> bodies = chainConstructors(chain, ctor, path, name, constants, before);
      if (bodies == null) {
        return null;
      }
      Map<String, LayerNode> fields = new LinkedHashMap<>();
      Set<String> broken = new HashSet<>();
      for (int i = 0; i < chain.size(); i++) { // the superclasses' fields first, as eager mode registers them
        TypeElement c = chain.get(i);
        readLayerFields(c, bodies.get(i), trees.getPath(c).getCompilationUnit(), path + ".", layers, fields, broken);
      }
      TensorFieldReader tensors = new TensorFieldReader(trees, diagnostics, folder, // a field of the block's class or one it extends,
          field -> constructorValue(bodies.get(Math.max(0, chain.indexOf(field.getEnclosingElement()))), field, // assigned in that
              trees.getPath(field).getCompilationUnit(), true), path + ".");                              // class's constructor
      blockTensors.add(tensors);
      return new Blk(path, cls, trees.getPath(forward).getCompilationUnit(), forward, fields, broken, constants, tensors);
    } finally {
      folder.restore(before);
      blockStack.pop();
    }
  }

  /**
   * A block's classes from the one right below {@code Module} down to {@code cls} (a block extending another block,
   * each with its source in the compilation and none a layer or a class of the dsl's); null for any other superclass.
   */
  private List<TypeElement> blockChain(TypeElement cls) {
    List<TypeElement> chain = new ArrayList<>();
    for (TypeElement c = cls; ; c = (TypeElement) types.asElement(c.getSuperclass())) {
      if (chain.size() > 16 || trees.getPath(c) == null || LayerCatalog.knows(c.getQualifiedName().toString())
          || c.getQualifiedName().toString().startsWith("dev.kiln.dsl.")) {
        return null;
      }
      chain.add(0, c);
      if (types.isSameType(types.erasure(c.getSuperclass()), type(MODULE))) {
        return chain;
      }
      if (!(types.asElement(c.getSuperclass()) instanceof TypeElement)) {
        return null;
      }
    }
  }

  /** The forward a block runs: its class's own, else the nearest superclass's (an inherited forward); null if none. */
  private ExecutableElement blockForward(List<TypeElement> chain) {
    for (int i = chain.size() - 1; i >= 0; i--) {
      ExecutableElement forward = ElementFilter.methodsIn(chain.get(i).getEnclosedElements()).stream()
          .filter(m -> m.getSimpleName().contentEquals("forward") && m.getParameters().size() == 1
              && types.isSameType(m.getParameters().get(0).asType(), type(TENSOR)) && trees.getTree(m) != null
              && trees.getTree(m).getBody() != null)
          .findFirst().orElse(null);
      if (forward != null) {
        return forward;
      }
    }
    return null;
  }

  /**
   * The constructor of each class of a block's {@code chain} (outermost first) whose body assigns that class's fields:
   * {@code ctor} for the block's own class (after its {@code this(...)} delegations), then, going up, the one its
   * {@code super(...)} calls (its arguments folded and bound as {@code new}'s are; none: the superclass's constructor
   * without parameters). The fields each class's constructors set from constants are bound too; null after an error
   * (reported).
   */
  private List<ExecutableElement> chainConstructors(List<TypeElement> chain, ExecutableElement ctor, String path, String name,
      Map<Element, Object> constants, Map<Element, Object> before) {
    List<ExecutableElement> bodies = new ArrayList<>();
    ExecutableElement at = ctor;
    for (int i = chain.size() - 1; i >= 0; i--) {
      TypeElement c = chain.get(i);
      CompilationUnitTree unit = trees.getPath(c).getCompilationUnit();
      fieldConstants(c, unit, constants);
      constructorConstants(at, unit, constants);
      ExecutableElement body = delegated(at, unit, path, name, constants, before);
      if (body == null) {
        return null;
      }
      bodies.add(0, body);
      if (i > 0) {
        at = superConstructor(body, chain.get(i - 1), unit, path, name, constants, before);
        if (at == null) {
          return null;
        }
      }
    }
    return bodies;
  }

  /**
   * The superclass constructor {@code body} calls: its {@code super(...)}, its arguments bound as constants, or the
   * superclass's constructor without parameters (javac's default one, if it declares none). Null after an argument that is
   * not a constant (reported).
   */
  private ExecutableElement superConstructor(ExecutableElement body, TypeElement superclass, CompilationUnitTree unit, String path,
      String name, Map<Element, Object> constants, Map<Element, Object> before) {
    MethodInvocationTree call = explicitCall(body, "super", unit);
    return call == null ? noArgConstructor(superclass) : boundCall(call, unit, path, name, constants, before);
  }

  /** The {@code this(...)} or {@code super(...)} ({@code keyword}) call that begins a constructor's body, resolved; else null. */
  private MethodInvocationTree explicitCall(ExecutableElement ctor, String keyword, CompilationUnitTree unit) {
    MethodTree tree = trees.getTree(ctor);
    List<? extends StatementTree> body = tree == null || tree.getBody() == null ? List.of() : tree.getBody().getStatements();
    return !body.isEmpty() && body.get(0) instanceof ExpressionStatementTree es && es.getExpression() instanceof MethodInvocationTree call
        && call.getMethodSelect() instanceof IdentifierTree id && id.getName().contentEquals(keyword)
        && trees.getElement(TreePath.getPath(unit, call)) instanceof ExecutableElement ? call : null;
  }

  /**
   * The constructor {@code this(...)} or {@code super(...)} calls, its parameters bound to the call's arguments folded in
   * {@code constants} and the folder ({@code before} keeps what they folded to before); null after an argument that is
   * not a constant (reported).
   */
  private ExecutableElement boundCall(MethodInvocationTree call, CompilationUnitTree unit, String path, String name,
      Map<Element, Object> constants, Map<Element, Object> before) {
    ExecutableElement next = (ExecutableElement) trees.getElement(TreePath.getPath(unit, call));
    List<Object> args = constants(call.getArguments(), path, name, unit);
    if (args == null) {
      return null;
    }
    Map<Element, Object> bound = arguments(next, args);
    folder.bind(bound).forEach(before::putIfAbsent);
    constants.putAll(bound);
    return next;
  }

  /** A constructor's parameters bound to the constants it is called with. */
  private static Map<Element, Object> arguments(ExecutableElement ctor, List<Object> args) {
    Map<Element, Object> bound = new HashMap<>();
    for (int i = 0; i < args.size() && i < ctor.getParameters().size(); i++) {
      bound.put(ctor.getParameters().get(i), args.get(i));
    }
    return bound;
  }

  /**
   * The constructor whose body assigns a block's fields: {@code ctor}, or the one it delegates to ({@code Block() {
   * this(D, HEADS); }}, followed through further {@code this(...)} calls), its arguments folded and bound in {@code
   * constants} and the folder ({@code before} keeps what they folded to before); null after an argument that is not a
   * constant (reported).
   */
  private ExecutableElement delegated(ExecutableElement ctor, CompilationUnitTree unit, String path, String name,
      Map<Element, Object> constants, Map<Element, Object> before) {
    ExecutableElement at = ctor;
    for (int hops = 0; hops < 16; hops++) {
      MethodInvocationTree call = explicitCall(at, "this", unit);
      if (call == null) {
        return at;
      }
      ExecutableElement next = boundCall(call, unit, path, name, constants, before);
      if (next == null) {
        return null;
      }
      constructorConstants(next, unit, constants);
      at = next;
    }
    return at;
  }

  /**
   * Adds to {@code constants} (and binds in the folder) the final primitive and String fields of a block whose
   * initializer folds though javac's rules do not make it a constant ({@code final double scale = 1 / Math.sqrt(DH);}).
   */
  private void fieldConstants(TypeElement cls, CompilationUnitTree unit, Map<Element, Object> constants) {
    for (VariableElement f : ElementFilter.fieldsIn(cls.getEnclosedElements())) {
      VariableTree tree = (VariableTree) trees.getTree(f);
      if (f.getConstantValue() == null && f.getModifiers().contains(Modifier.FINAL) && tree != null && tree.getInitializer() != null
          && (f.asType().getKind().isPrimitive() || types.isSameType(f.asType(), type(String.class.getName())))) {
        Object value = foldOrNull(tree.getInitializer(), unit);
        if (value != null) {
          constants.put(f, value);
          folder.define(f, value);
        }
      }
    }
  }

  /**
   * Adds to {@code constants} (and binds in the folder) the primitive and String fields the constructor sets at its
   * top level to a value that folds ({@code this.heads = heads;}), as the block's forward may read them.
   */
  private void constructorConstants(ExecutableElement ctor, CompilationUnitTree unit, Map<Element, Object> constants) {
    MethodTree tree = trees.getTree(ctor);
    if (tree == null || tree.getBody() == null) {
      return;
    }
    for (StatementTree s : tree.getBody().getStatements()) {
      if (s instanceof ExpressionStatementTree es && es.getExpression() instanceof AssignmentTree a
          && trees.getElement(TreePath.getPath(unit, a.getVariable())) instanceof VariableElement f && f.getKind() == ElementKind.FIELD
          && (f.asType().getKind().isPrimitive() || types.isSameType(f.asType(), type(String.class.getName())))) {
        Object value = foldOrNull(a.getExpression(), unit);
        if (value != null) {
          constants.put(f, value);
          folder.define(f, value);
        }
      }
    }
  }

  /** Whether {@code expr} creates a ModuleList ({@code ModuleList.of(...)}, {@code new ModuleList<>(...)}). */
  private boolean isModuleList(ExpressionTree expr, CompilationUnitTree unit) {
    expr = stripped(expr);
    if (expr instanceof MethodInvocationTree mi) {
      return calledMethod(mi, unit, MODULE_LIST, "of");
    }
    return expr instanceof NewClassTree nc && trees.getElement(TreePath.getPath(unit, nc)) instanceof ExecutableElement ctor
        && ((TypeElement) ctor.getEnclosingElement()).getQualifiedName().contentEquals(MODULE_LIST);
  }

  /** One element of a ModuleList as written, and the lambda parameter's value it is read with (a range's index), if any. */
  private record ListElement(ExpressionTree tree, Element index, Object value) {}

  /** A ModuleList's node, each element read at {@code path.i}; null after an error (reported). */
  private LayerNode listNode(ExpressionTree expr, String path, CompilationUnitTree unit, List<LayerIr> layers) {
    List<ListElement> elements = listElements(stripped(expr), unit);
    if (elements == null) {
      diagnostics.error(unit, expr, Message.UNSUPPORTED_MODULE_LIST, path, firstLine(expr));
      return null;
    }
    List<LayerNode> children = new ArrayList<>();
    boolean ok = true;
    for (int i = 0; i < elements.size(); i++) {
      ListElement e = elements.get(i);
      ExpressionTree tree = stripped(e.tree());
      if (!(tree instanceof NewClassTree) && !(tree instanceof MethodInvocationTree)) {
        diagnostics.error(unit, e.tree(), Message.LIST_ELEMENT, path, i, describe(tree));
        ok = false;
        continue;
      }
      Map<Element, Object> before = e.index() == null ? Map.of() : folder.bind(Map.of(e.index(), e.value()));
      try {
        LayerNode node = layerNode(tree, path + "." + i, unit, layers);
        ok &= node != null;
        children.add(node);
      } finally {
        folder.restore(before);
      }
    }
    return ok ? new Lst(path, children) : null;
  }

  /**
   * The elements of {@code ModuleList.of(a, b)}, {@code new ModuleList<>(List.of(a, b))} (or {@code Arrays.asList}),
   * or {@code new ModuleList<>(IntStream.range(from, to).mapToObj(i -> new Block()).toList())} (or {@code
   * .collect(Collectors.toList())}) of constant bounds; null for any other form.
   */
  private List<ListElement> listElements(ExpressionTree expr, CompilationUnitTree unit) {
    List<ListElement> out = new ArrayList<>();
    if (expr instanceof MethodInvocationTree mi && calledMethod(mi, unit, MODULE_LIST, "of")) {
      mi.getArguments().forEach(a -> out.add(new ListElement(a, null, null)));
      return out;
    }
    if (!(expr instanceof NewClassTree nc) || nc.getArguments().size() != 1 || nc.getClassBody() != null) {
      return null;
    }
    ExpressionTree list = stripped(nc.getArguments().get(0));
    if (list instanceof MethodInvocationTree mi
        && (calledMethod(mi, unit, List.class.getName(), "of") || calledMethod(mi, unit, Arrays.class.getName(), "asList"))) {
      mi.getArguments().forEach(a -> out.add(new ListElement(a, null, null)));
      return out;
    }
    // IntStream.range(0, N).mapToObj(i -> new Block()).toList() / .collect(Collectors.toList())
    if (!(list instanceof MethodInvocationTree collect) || !(collect.getMethodSelect() instanceof MemberSelectTree cs)
        || !(cs.getIdentifier().contentEquals("toList") && collect.getArguments().isEmpty()
            || cs.getIdentifier().contentEquals("collect") && collect.getArguments().size() == 1
                && stripped(collect.getArguments().get(0)) instanceof MethodInvocationTree c
                && calledMethod(c, unit, "java.util.stream.Collectors", "toList"))
        || !(stripped(cs.getExpression()) instanceof MethodInvocationTree map) || !(map.getMethodSelect() instanceof MemberSelectTree ms)
        || !ms.getIdentifier().contentEquals("mapToObj") || map.getArguments().size() != 1
        || !(stripped(map.getArguments().get(0)) instanceof LambdaExpressionTree lambda) || lambda.getParameters().size() != 1
        || !(lambda.getBody() instanceof ExpressionTree body)
        || !(stripped(ms.getExpression()) instanceof MethodInvocationTree range)
        || !calledMethod(range, unit, "java.util.stream.IntStream", "range") || range.getArguments().size() != 2) {
      return null;
    }
    Object from = foldOrNull(range.getArguments().get(0), unit);
    Object to = foldOrNull(range.getArguments().get(1), unit);
    if (!(from instanceof Integer a) || !(to instanceof Integer b) || b - a > MAX_UNROLLED) {
      return null;
    }
    Element index = trees.getElement(TreePath.getPath(unit, lambda.getParameters().get(0)));
    for (int i = a; i < b; i++) {
      out.add(new ListElement(body, index, i));
    }
    return out;
  }

  /** The most modules a list or loop is unrolled to. */
  static final int MAX_UNROLLED = 1024;

  /** Whether {@code mi} calls the method {@code name} of the class {@code owner}. */
  boolean calledMethod(MethodInvocationTree mi, CompilationUnitTree unit, String owner, String name) {
    return trees.getElement(TreePath.getPath(unit, mi)) instanceof ExecutableElement ex && ex.getSimpleName().contentEquals(name)
        && ex.getEnclosingElement() instanceof TypeElement t && t.getQualifiedName().contentEquals(owner);
  }


  /** {@code e} without the parentheses around it. */
  static ExpressionTree stripped(ExpressionTree e) {
    while (e instanceof ParenthesizedTree p) {
      e = p.getExpression();
    }
    return e;
  }

  /** {@code wte} of {@code wte} or {@code this.wte}, else null. */
  static String fieldName(ExpressionTree receiver) {
    if (receiver instanceof IdentifierTree id) {
      return id.getName().toString();
    }
    if (receiver instanceof MemberSelectTree ms && ms.getExpression() instanceof IdentifierTree self
        && self.getName().contentEquals("this")) {
      return ms.getIdentifier().toString();
    }
    return null;
  }

  static String describe(Tree t) {
    return t.getKind().toString().toLowerCase(Locale.ROOT).replace('_', ' ') + " '" + firstLine(t) + "'";
  }

  static String firstLine(Tree t) {
    String s = t.toString().strip();
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl) + " ...";
  }

  // ------------------------------------------------------------------ helpers

  Source source(CompilationUnitTree unit, Tree tree) {
    long pos = trees.getSourcePositions().getStartPosition(unit, tree);
    return new Source(unit, tree, unit.getLineMap().getLineNumber(pos));
  }

  TypeMirror type(String qualifiedName) {
    return elements.getTypeElement(qualifiedName).asType();
  }

  private String packageOf(Element e) {
    PackageElement p = elements.getPackageOf(e);
    return p.isUnnamed() ? "" : p.getQualifiedName().toString();
  }

  /** {@code Outer.Inner} for a nested class, as written in source. */
  private String nestedName(TypeElement type) {
    String qualified = type.getQualifiedName().toString();
    String pkg = packageOf(type);
    return pkg.isEmpty() ? qualified : qualified.substring(pkg.length() + 1);
  }

  /** Generated names of nested declarations join the enclosing classes with '_': {@code KilnOuter_Inner}. */
  private String prefixed(TypeElement owner, String simple) {
    String nested = nestedName(owner);
    int dot = nested.lastIndexOf('.');
    if (owner.getKind() == ElementKind.CLASS && simple.equals("Kiln" + owner.getSimpleName())) {
      return dot < 0 ? simple : "Kiln" + nested.replace('.', '_');
    }
    return simple;
  }
}
