package dev.kiln.processor.read;

import com.sun.source.tree.ArrayAccessTree;
import com.sun.source.tree.AssignmentTree;
import com.sun.source.tree.BinaryTree;
import com.sun.source.tree.BlockTree;
import com.sun.source.tree.BreakTree;
import com.sun.source.tree.ClassTree;
import com.sun.source.tree.CompoundAssignmentTree;
import com.sun.source.tree.ConditionalExpressionTree;
import com.sun.source.tree.ContinueTree;
import com.sun.source.tree.DoWhileLoopTree;
import com.sun.source.tree.EnhancedForLoopTree;
import com.sun.source.tree.ForLoopTree;
import com.sun.source.tree.LambdaExpressionTree;
import com.sun.source.tree.UnaryTree;
import com.sun.source.tree.CompilationUnitTree;
import com.sun.source.tree.ExpressionStatementTree;
import com.sun.source.tree.ExpressionTree;
import com.sun.source.tree.IdentifierTree;
import com.sun.source.tree.IfTree;
import com.sun.source.tree.MemberSelectTree;
import com.sun.source.tree.MethodInvocationTree;
import com.sun.source.tree.MethodTree;
import com.sun.source.tree.NewArrayTree;
import com.sun.source.tree.NewClassTree;
import com.sun.source.tree.ParenthesizedTree;
import com.sun.source.tree.ReturnTree;
import com.sun.source.tree.StatementTree;
import com.sun.source.tree.ThrowTree;
import com.sun.source.tree.Tree;
import com.sun.source.tree.VariableTree;
import com.sun.source.tree.WhileLoopTree;
import com.sun.source.util.TreePath;
import com.sun.source.util.TreePathScanner;
import com.sun.source.util.Trees;
import dev.kiln.dsl.Conv1d;
import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.Dropout;
import dev.kiln.dsl.Dropout2d;
import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.EmbeddingBag;
import dev.kiln.dsl.Input;
import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.MultiheadAttention;
import dev.kiln.dsl.ReLU;
import dev.kiln.dsl.Recurrent;
import dev.kiln.dsl.Sigmoid;
import dev.kiln.dsl.Tanh;
import dev.kiln.dsl.TransformerDecoderLayer;
import dev.kiln.dsl.TransformerEncoderLayer;
import dev.kiln.processor.Diagnostics;
import dev.kiln.processor.Message;
import dev.kiln.processor.ir.Add;
import dev.kiln.processor.ir.Cat;
import dev.kiln.processor.ir.Compare;
import dev.kiln.processor.ir.ConstantIds;
import dev.kiln.processor.ir.Div;
import dev.kiln.processor.ir.InitialStates;
import dev.kiln.processor.ir.InputsIr;
import dev.kiln.processor.ir.LastStates;
import dev.kiln.processor.ir.LayerIr;
import dev.kiln.processor.ir.MaskedFill;
import dev.kiln.processor.ir.MatMul;
import dev.kiln.processor.ir.Narrow;
import dev.kiln.processor.ir.IdOp;
import dev.kiln.processor.ir.ModelIr;
import dev.kiln.processor.ir.MethodModes;
import dev.kiln.processor.ir.Modes;
import dev.kiln.processor.ir.Mul;
import dev.kiln.processor.ir.OutputsIr;
import dev.kiln.processor.ir.Reshape;
import dev.kiln.processor.ir.Scale;
import dev.kiln.processor.ir.Source;
import dev.kiln.processor.ir.Split;
import dev.kiln.processor.ir.StepIr;
import dev.kiln.processor.ir.Sub;
import dev.kiln.processor.ir.GroupNormOf;
import dev.kiln.processor.ir.TensorIr;
import dev.kiln.processor.ir.PointwisePair;
import dev.kiln.processor.ir.Where;
import dev.kiln.runtime.Shapes;
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

/**
 * Pass 1: reads a {@code @Model} declaration into a {@link ModelIr}. Layer constructor arguments
 * are folded to constants and turned into the dsl's {@link LayerSpec}s; the body of
 * {@code forward} is read through javac's Tree API into steps. Every problem is reported to
 * {@link Diagnostics} and reading goes on, so that one build shows all errors of a model.
 */
public final class DeclarationReader {
  private static final String MODULE = "dev.kiln.dsl.Module";
  private static final String SEQUENTIAL = "dev.kiln.dsl.Sequential";
  private static final String MODULE_LIST = "dev.kiln.dsl.ModuleList";
  private static final String TENSOR = "dev.kiln.runtime.Tensor";
  private static final String FUNCTIONS = "dev.kiln.dsl.F";
  private static final String RECURRENT = "dev.kiln.dsl.Recurrent";
  /** The views a mask may be taken through ({@code ids.eq(0).view(-1, 1, 1, S)}), by Tensor method. */
  private static final Set<String> MASK_VIEWS = Set.of("view", "reshape", "unsqueeze");
  /** The logical ops of two masks or values, as the comparisons of two values they are ({@code a.logicalAnd(b)}). */
  private static final Map<String, MaskTest> LOGICAL = Map.of("logicalAnd", MaskTest.AND, "logicalOr", MaskTest.OR, "logicalXor",
      MaskTest.XOR);
  /** The calls forward may compute a buffer through ({@code bias.narrow(2, 0, T)}), by Tensor method or F function. */
  private static final Set<String> BUFFER_CALLS = Set.of("narrow", "slice", "select", "view", "reshape", "unsqueeze");
  /** The comparisons a masked fill's mask may be written with ({@code mask.eq(0)}), by Tensor method. */
  private static final Map<String, MaskTest> COMPARISONS = Map.of("eq", MaskTest.EQ, "ne", MaskTest.NE, "lt", MaskTest.LT,
      "le", MaskTest.LE, "gt", MaskTest.GT, "ge", MaskTest.GE);

  private final Trees trees;
  private final Elements elements;
  private final Types types;
  private final Diagnostics diagnostics;
  private final ConstantFolder folder;
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

  /** A layer as declared: a leaf with its spec, a Sequential of children, a block or a ModuleList. */
  private sealed interface LayerNode permits Leaf, Seq, Blk, Lst, Att {}

  private record Leaf(LayerIr layer) implements LayerNode {}

  private record Seq(String path, List<LayerNode> children) implements LayerNode {}

  /**
   * A block: a {@code Module} subclass whose source is in the compilation ({@code final Block h0 = new Block(D);}),
   * its layers read as children at {@code path}, its forward inlined where it is applied, with {@code constants}
   * (its constructor's parameters and the fields it sets from them) folding to their values there.
   */
  private record Blk(String path, TypeElement type, CompilationUnitTree unit, ExecutableElement forward,
      Map<String, LayerNode> fields, Set<String> broken, Map<Element, Object> constants, TensorFieldReader tensors)
      implements LayerNode {}

  /** A {@code ModuleList}: its modules by position (children {@code 0}, {@code 1}, ...), applied one by one. */
  private record Lst(String path, List<LayerNode> children) implements LayerNode {}

  /**
   * A dsl attention layer ({@link AttentionLayers}): a {@code MultiheadAttention} or {@code TransformerEncoderLayer}
   * ({@code spec} its spec, {@code count} 0), or a {@code TransformerEncoder} of {@code count} copies of the encoder layer
   * {@code spec} with its final {@code norm} (or null); {@code layers} the children it holds, by path.
   */
  private record Att(String path, LayerSpec spec, int count, LayerIr norm, Map<String, LayerIr> layers) implements LayerNode {}

  /** The parameters of the attention layers forward reads ({@code attn.in_proj_weight}), by field: the model's tensors too. */
  private final Map<String, TensorIr> attentionTensors = new LinkedHashMap<>();

  /** The blocks being read, outermost first: a block inside itself is refused. */
  private final java.util.ArrayDeque<TypeElement> blockStack = new java.util.ArrayDeque<>();
  /** The tensor fields of the blocks of the model being read, each block's own reader. */
  private final List<TensorFieldReader> blockTensors = new ArrayList<>();
  /** One sample's shape of the model being read ({@code @Model(input)}), for the sizes forward reads; null if unknown. */
  private int[] modelInput;

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
    Steps steps = new Steps("forward", "x");
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
    Steps steps = forwardSteps(true, inputName, type, tensors, broken, outputs, outputsMethod);
    steps.readBody(tree.getBody(), unit, fields, name, null);
    Steps evaluation = null;
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
    Steps[] read = new Steps[2];
    OutputsIr[] irs = new OutputsIr[2];
    for (int i = 0; i < 2; i++) { // in training, then (where a mode was read) in evaluation, as forward
      read[i] = new Steps(m.getSimpleName().toString(), inputName);
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
  private static <T> MethodModes<T> methodModes(T evaluation, Steps training, Steps evaluated) {
    List<Modes.Read> reads = new ArrayList<>(training.mode.reads);
    reads.addAll(evaluated.mode.reads);
    return new MethodModes<>(evaluation, reads, training.mode.joins, evaluated.mode.joins);
  }

  /**
   * Reads the body of a method returning several outputs (a record of tensors, or {@code Tensor[]}) into
   * {@code steps}, its inputs already among their locals; null when a returned value is unknown (reported).
   */
  private OutputsIr readResults(ExecutableElement m, Steps steps, CompilationUnitTree unit, Map<String, LayerNode> fields,
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
    Steps training = new Steps(m.getSimpleName().toString(), m.getParameters().get(0).getSimpleName().toString());
    training.mode = new ModeReading(true);
    InputsIr ir = readInputs(m, training, unit, fields, broken, className, tensors);
    if (ir == null || training.mode.reads.isEmpty()) {
      return ir;
    }
    Steps evaluation = new Steps(m.getSimpleName().toString(), m.getParameters().get(0).getSimpleName().toString());
    evaluation.mode = new ModeReading(false); // in evaluation too, as forward
    InputsIr evaluated = readInputs(m, evaluation, unit, fields, broken, className, tensors);
    return evaluated == null ? null : ir.withModes(methodModes(evaluated, training, evaluation));
  }

  /** Reads the method of several inputs into {@code steps} (in the mode they read); null when its result is unknown. */
  private InputsIr readInputs(ExecutableElement m, Steps steps, CompilationUnitTree unit, Map<String, LayerNode> fields,
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
  private static final class ModeReading {
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
  private final Set<Element> modeLocals = new HashSet<>();

  /** Whether {@code call} is {@code isTraining()} of the module whose code is read ({@code this.isTraining()}, Module's). */
  private boolean isModeCall(MethodInvocationTree call, CompilationUnitTree unit) {
    ExpressionTree select = call.getMethodSelect();
    boolean own = select instanceof IdentifierTree || select instanceof MemberSelectTree ms
        && ms.getExpression() instanceof IdentifierTree self && (self.getName().contentEquals("this") || self.getName().contentEquals("super"));
    return own && call.getArguments().isEmpty() && calledMethod(call, unit, MODULE, "isTraining");
  }

  /**
   * Whether {@code tree} reads a training mode: calls {@code isTraining()} of the module whose code is read or of another
   * ({@code drop.isTraining()}), or reads a local holding one ({@link #modeLocals}).
   */
  private boolean readsMode(Tree tree, CompilationUnitTree unit) {
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
  private static Set<String> assignedLocals(IfTree branch) {
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
   * Forward's steps read in one training mode ({@link Steps#mode}), ready for its body: the model's layers and tensor
   * fields, and its outputs method (which forward may call only as its whole body).
   */
  private Steps forwardSteps(boolean training, String inputName, TypeElement type, TensorFieldReader tensors, Set<String> broken,
      OutputsIr outputs, ExecutableElement outputsMethod) {
    Steps steps = new Steps("forward", inputName);
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
  private static ModelIr withEvaluation(ModelIr ir, Steps training, Steps evaluation) {
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
  private boolean unresolved(CompilationUnitTree unit, Tree tree) {
    TreePath path = TreePath.getPath(unit, tree);
    if (path == null) {
      return false;
    }
    TypeMirror type = trees.getTypeMirror(path);
    return type != null && type.getKind() == TypeKind.ERROR;
  }

  /** The constant value of {@code e}, or null when it is not one. */
  private Object foldOrNull(ExpressionTree e, CompilationUnitTree unit) {
    try {
      return folder.fold(e, unit);
    } catch (ConstantFolder.NotConstant ex) {
      return null;
    }
  }

  /** Folds arguments to constants; null after reporting the first that is not one. */
  private List<Object> constants(List<? extends ExpressionTree> trees, String label, String callee, CompilationUnitTree unit) {
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
  private void notConstant(ConstantFolder.NotConstant ex, CompilationUnitTree unit, String use, Runnable otherwise) {
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
  private List<TensorIr> allTensors(TensorFieldReader own) {
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
  private static final int MAX_UNROLLED = 1024;

  /** Whether {@code mi} calls the method {@code name} of the class {@code owner}. */
  private boolean calledMethod(MethodInvocationTree mi, CompilationUnitTree unit, String owner, String name) {
    return trees.getElement(TreePath.getPath(unit, mi)) instanceof ExecutableElement ex && ex.getSimpleName().contentEquals(name)
        && ex.getEnclosingElement() instanceof TypeElement t && t.getQualifiedName().contentEquals(owner);
  }

  // ------------------------------------------------------------------ forward

  /** Builds the step list while reading statements; {@code last} is the returned value. */
  private final class Steps {
    /** The steps, shared with the Steps of the blocks inlined into them. */
    final List<StepIr> list;
    final Map<String, String> locals = new HashMap<>();
    /** Layer fields whose declaration had an error (already reported): their uses stay silent. */
    final Set<String> broken = new HashSet<>();
    /** Locals whose value is unknown after an error: their uses stay silent. */
    private final Set<String> unknown = new HashSet<>();
    /** The method being read ({@code forward}, or the outputs method), for messages. */
    private final String methodName;
    /** The @Model class whose methods are read (null for a factory method): its own fields are layers, a base class's are not. */
    TypeElement modelType;
    /** The model's tensor fields, read as forward uses them (null for a factory method). */
    TensorFieldReader tensors;
    /** The model's outputs method, which forward may call only as its whole body; null if none. */
    ExecutableElement outputsMethod;
    /** How forward calls it, for the message: {@code forwardWithHidden(x).output()}. */
    String outputsCall;
    String last;
    /** The returned outputs (outputs method only), null where a value is unknown. */
    List<String> results;
    /** The further inputs (the method of several inputs only): values a masked fill may take as its mask. */
    final Set<String> furtherInputs = new HashSet<>();
    /** Whether these are a block's or a method's steps inlined into another's list (resolved with the whole graph). */
    private boolean inlined;
    /** The error of each {@link IdOp} step of constant ids ({@code x.add(pos)}) should its other operand be floats. */
    private final Map<String, Runnable> errorsOfFloats;
    /** The first input's value ({@code x}, {@code ids}). */
    private final String inputName;
    private int counter;
    /** Locals holding a recurrent layer's run with its last states ({@code var o = lstm.forwardWithState(x)}), by name. */
    private final Map<String, States> stateLocals = new HashMap<>();
    /** Locals holding zeros for a recurrent layer's initial states ({@code Tensor h0 = Tensor.zeros(...)}), by name: their values as written. */
    private final Map<String, ExpressionTree> zeroLocals = new HashMap<>();
    /**
     * Locals written as initial states other than zeros ({@code Tensor h0 = proj.apply(f).unsqueeze(0)}, {@link
     * #isStateForm}), by name: their values as written, read where a layer takes them (or, read otherwise, there).
     */
    private final Map<String, ExpressionTree> stateForms = new HashMap<>();
    /** What each such local holds, read where it was written ({@link #readStateForm}). */
    private final Map<String, HeldState> heldStates = new HashMap<>();
    /** {@code int} locals holding the batch size ({@code int n = x.size(0)}), which zero initial states may name. */
    private final Set<String> batchLocals = new HashSet<>();
    /** Locals that hold a split's pieces ({@code Tensor[] qkv = x.split(D, 2);}), by name. */
    private final Map<String, Pieces> pieces = new HashMap<>();
    /** Locals whose split had an error (reported): reading their pieces stays silent. */
    private final Set<String> brokenPieces = new HashSet<>();
    /** The splits read so far: each one's id. */
    private int splits;
    /**
     * The int locals forward counts with ({@code int i = 0; while (i < N) { ...; i++; }}), each folding to its value at the
     * statement being read (the folder's), as a counted loop's index does.
     */
    private final Set<Element> counters = new HashSet<>();
    /** What ended the statements just read, besides a return: a {@code break} or {@code continue} of the loop unrolled; else null. */
    private Tree.Kind jump;
    /** The training mode forward is read in ({@link ModeReading}), null where a condition on it does not compile. */
    ModeReading mode;
    /** Whose mode {@code isTraining()} reads here: {@code ""} for the model, a block's path in its inlined forward. */
    String modeOwner = "";
    /** The further inputs of the method of several inputs (none elsewhere), for the shapes {@link #sizes} infers. */
    List<InputsIr.Further> further = List.of();
    /** The shapes of the values read so far, for the sizes read of them ({@code x.size(1)}); made when first needed. */
    private ValueSizes sizes;
    /** The layer fields and class of the body being read ({@link #readBody}): an expression read only for its size needs them. */
    private Map<String, LayerNode> bodyFields;
    private String bodyClass;

    /** A split's source value, the split, and the steps of the pieces read so far, by index. */
    private record Pieces(String value, Split split, Map<Integer, String> read) {}

    Steps(String method, String inputName) {
      this.list = new ArrayList<>();
      this.errorsOfFloats = new HashMap<>();
      this.methodName = method;
      this.inputName = inputName;
      locals.put(inputName, inputName);
    }

    /**
     * The steps of a block's forward inlined into {@code outer}'s: the same step list and numbering, its parameter
     * {@code parameter} holding {@code input}, locals and masks of its own.
     */
    Steps(Steps outer, String method, Map<String, String> inputs) {
      this.list = outer.list;
      this.inlined = true;
      this.errorsOfFloats = outer.errorsOfFloats;
      this.methodName = method;
      this.inputName = outer.inputName;
      this.counter = outer.counter;
      this.splits = outer.splits;
      this.mode = outer.mode;
      this.modeOwner = outer.modeOwner;
      this.sizes = outer.sizes();
      furtherInputs.addAll(outer.furtherInputs);
      locals.putAll(inputs);
    }

    /** Takes up the step numbering where the inner steps (a block's or a method's, inlined) left it; their value. */
    private String resume(Steps inner) {
      counter = inner.counter;
      splits = inner.splits;
      if (inner.last != null) {
        last = inner.last;
      }
      return inner.last;
    }

    /**
     * Reads a body of local assignments and one return: of one tensor ({@code returned} null), or
     * of several, as {@code returned} writes them ({@code new Outputs(...)}, {@code new Tensor[] {...}}).
     */
    void readBody(BlockTree body, CompilationUnitTree unit, Map<String, LayerNode> fields, String className, String returned) {
      var outerCalls = folder.knownCalls(call -> modeCall(call, unit, fields)); // isTraining(): this module's mode, as read
      var outerSizes = folder.sizes(this::valueSize); // x.size(1): a size of a value read here, from its inferred shape
      var outerFields = bodyFields;
      var outerClass = bodyClass;
      bodyFields = fields;
      bodyClass = className;
      boolean ended;
      try {
        ended = readStatements(body.getStatements(), unit, fields, className, returned, false);
      } finally {
        folder.knownCalls(outerCalls);
        folder.sizes(outerSizes);
        bodyFields = outerFields;
        bodyClass = outerClass;
      }
      if (!inlined) {
        resolveIdArithmetic();
      }
      if (ended) {
        return;
      }
      if (returned == null) {
        diagnostics.error(unit, body, Message.NO_RETURN);
      } else {
        diagnostics.error(unit, body, Message.NO_OUTPUTS_RETURN, methodName, returned);
      }
    }

    /** Reads statements in order; true when a return ended them (outside a loop: a return in a loop is an error). */
    private boolean readStatements(List<? extends StatementTree> statements, CompilationUnitTree unit, Map<String, LayerNode> fields,
        String className, String returned, boolean inLoop) {
      for (StatementTree s : statements) {
        if (piecesStatement(s, unit, fields, className)) {
          continue; // Tensor[] qkv = x.split(D, 2); or a misuse of such pieces, reported
        } else if (s instanceof EnhancedForLoopTree || s instanceof ForLoopTree || s instanceof WhileLoopTree
            || s instanceof DoWhileLoopTree) {
          if (unroll(s, unit, fields, className, returned)) { // for (Block b : h), for (int i = 0; i < h.size(); i++), while (i < N)
            return true; // a return inside it ended forward
          }
        } else if (inLoop && (s instanceof BreakTree b && b.getLabel() == null || s instanceof ContinueTree c && c.getLabel() == null)) {
          jump = s.getKind(); // the rest of this turn is never run: the loop reading it stops, or takes its next turn
          return true;
        } else if (s instanceof ExpressionStatementTree es && counter(es.getExpression(), unit) != null) {
          count(es.getExpression(), counter(es.getExpression(), unit), unit, fields); // i++, i += 2, i = 0
        } else if (s instanceof IfTree branch && readsMode(branch.getCondition(), unit)) {
          if (modeBranch(branch, unit, fields, className, returned, inLoop)) {
            return true; // a return in the branch this mode takes ended the method
          }
        } else if (inLoop && s instanceof IfTree branch && foldHereOrNull(branch.getCondition(), unit, fields) instanceof Boolean taken) {
          StatementTree chosen = taken ? branch.getThenStatement() : branch.getElseStatement();
          if (chosen != null && readStatements(body(chosen), unit, fields, className, returned, true)) {
            return true; // if (i == EXIT) return x; at the unrolled index that returns
          }
        } else if (s instanceof VariableTree v && trees.getElement(TreePath.getPath(unit, v)) instanceof VariableElement e
            && e.getConstantValue() != null) {
          continue; // final int d = 1: a constant, which the folder reads where it is used
        } else if (s instanceof VariableTree v && trees.getElement(TreePath.getPath(unit, v)) instanceof VariableElement e
            && e.asType().getKind() == TypeKind.INT && v.getInitializer() != null && isBatchSize(v.getInitializer(), unit)) {
          batchLocals.add(v.getName().toString()); // int n = x.size(0): the batch, which zero initial states may name
          folder.define(e, ConstantFolder.BATCH);
        } else if (s instanceof VariableTree v && modeLocal(v, unit, fields)) {
          continue; // final boolean t = isTraining(): a constant in each mode forward is read in
        } else if (s instanceof VariableTree v && shapeLocal(v, unit)) {
          continue; // int[] s = x.shape(): its sizes after the batch fold where it is indexed (s[1])
        } else if (s instanceof VariableTree v && trees.getElement(TreePath.getPath(unit, v)) instanceof VariableElement e
            && e.asType().getKind().isPrimitive()) {
          Object folded = v.getInitializer() != null ? foldHereOrNull(v.getInitializer(), unit, fields) : null;
          if (folded != null && e.getModifiers().contains(Modifier.FINAL)) { // final double scale = 1 / Math.sqrt(D): a constant to Kiln, though not to javac
            folder.define(e, folded);
            continue;
          }
          if (folded instanceof Integer && e.asType().getKind() == TypeKind.INT) { // int i = 0: a counter, its value followed
            folder.define(e, folded);
            counters.add(e);
            continue;
          }
          if (!foldReported(v.getInitializer(), unit, fields)) { // (else the size it reads had an error, reported)
            diagnostics.error(unit, v, Message.NON_TENSOR_LOCAL, v.getName(), methodName, v.getName());
          }
          unknown.add(v.getName().toString());
        } else if (s instanceof VariableTree v && v.getInitializer() != null && isConstantIds(v.getInitializer(), unit)) {
          holdIds(v.getName().toString(), v.getInitializer(), unit); // Tensor pos = Tensor.labels(IntStream.range(0, S).toArray())
        } else if (s instanceof VariableTree v && v.getInitializer() != null && isStatesCall(v.getInitializer(), unit)) {
          assignStates(v.getName().toString(), v.getInitializer(), unit, fields, className); // var o = lstm.forwardWithState(x)
        } else if (s instanceof VariableTree v && v.getInitializer() != null && isStateForm(v.getInitializer(), unit)
            && !isMask(v.getInitializer(), unit)) {
          holdStateForm(v.getName().toString(), v.getInitializer(), unit, fields, className); // Tensor h0 = proj.apply(f).view(1, -1, H): read where a layer takes it
        } else if (s instanceof VariableTree v && v.getInitializer() != null && zerosCall(v.getInitializer(), unit) != null) {
          holdZeros(v.getName().toString(), v.getInitializer()); // Tensor h0 = Tensor.zeros(L * D, x.size(0), H)
        } else if (s instanceof ExpressionStatementTree es && es.getExpression() instanceof AssignmentTree a
            && a.getVariable() instanceof IdentifierTree target && zerosCall(a.getExpression(), unit) != null) {
          holdZeros(target.getName().toString(), a.getExpression());
        } else if (s instanceof VariableTree v && v.getInitializer() != null && isMask(v.getInitializer(), unit)) {
          defineMask(v.getName().toString(), v.getInitializer(), v, unit, fields, className);
        } else if (s instanceof VariableTree v && v.getInitializer() != null) {
          assign(v.getName().toString(), expression(v.getInitializer(), unit, fields, className));
        } else if (s instanceof VariableTree) {
          continue; // Tensor h; declared, assigned by a later statement (javac checks it is before a use)
        } else if (s instanceof ExpressionStatementTree es && es.getExpression() instanceof AssignmentTree a
            && a.getVariable() instanceof IdentifierTree target && isStatesCall(a.getExpression(), unit)) {
          assignStates(target.getName().toString(), a.getExpression(), unit, fields, className);
        } else if (s instanceof ExpressionStatementTree es && es.getExpression() instanceof AssignmentTree a
            && a.getVariable() instanceof IdentifierTree target && maskAssignment(target, a, es, unit, fields, className)) {
          continue; // a mask's one assignment, or an error
        } else if (s instanceof ExpressionStatementTree es && es.getExpression() instanceof AssignmentTree a
            && a.getVariable() instanceof IdentifierTree target) {
          assign(target.getName().toString(), expression(a.getExpression(), unit, fields, className));
        } else if (s instanceof ReturnTree r && r.getExpression() != null && returned == null) {
          last = expression(r.getExpression(), unit, fields, className);
          reportUnusedMasks(unit);
          return true;
        } else if (s instanceof ReturnTree r && r.getExpression() != null) {
          readResults(r.getExpression(), unit, fields, className, returned);
          reportUnusedMasks(unit);
          return true;
        } else {
          diagnostics.error(unit, s, Message.UNSUPPORTED_STATEMENT, methodName, describe(s));
        }
      }
      return false;
    }

    /** {@code new Outputs(a, fc2.apply(a))} or {@code new Tensor[] {a, b}}: one value per output. */
    private void readResults(ExpressionTree e, CompilationUnitTree unit, Map<String, LayerNode> fields, String className, String returned) {
      while (e instanceof ParenthesizedTree p) {
        e = p.getExpression();
      }
      List<? extends ExpressionTree> args = e instanceof NewClassTree nc && nc.getClassBody() == null ? nc.getArguments()
          : e instanceof NewArrayTree na && na.getInitializers() != null ? na.getInitializers()
          : null;
      if (args == null) {
        diagnostics.error(unit, e, Message.NO_OUTPUTS_RETURN, methodName, returned);
        return;
      }
      results = new ArrayList<>();
      for (ExpressionTree a : args) {
        results.add(expression(a, unit, fields, className));
      }
    }

    private void assign(String local, String value) {
      idsLocals.remove(local);
      zeroLocals.remove(local);
      stateForms.remove(local);
      heldStates.remove(local);
      if (value == null) {
        locals.remove(local);
        unknown.add(local);
      } else {
        locals.put(local, value);
        unknown.remove(local);
      }
    }

    private String expression(ExpressionTree e, CompilationUnitTree unit, Map<String, LayerNode> fields, String className) {
      if (e instanceof ParenthesizedTree p) {
        return expression(p.getExpression(), unit, fields, className);
      }
      if (e instanceof ConditionalExpressionTree c && readsMode(c.getCondition(), unit)) { // isTraining() ? a : b
        return modeChoice(c, unit, fields, className);
      }
      if (e instanceof IdentifierTree id && masks.containsKey(id.getName().toString())) { // keep.sum(1, true): a 0/1 value
        Mask value = maskAsValue(e, unit, fields, className);
        return value == null ? null : value.value();
      }
      if (e instanceof IdentifierTree id && stateForms.containsKey(id.getName().toString())) { // read as a value: as written
        return expression(stateForms.get(id.getName().toString()), unit, fields, className);
      }
      if (isConstantIds(e, unit)) { // pos.add(1), x.add(pos): ids built in forward, which only an Embedding reads
        idsReadOtherwise(e, unit);
        return null;
      }
      if (e instanceof IdentifierTree id && zeroLocals.containsKey(id.getName().toString())) {
        diagnostics.error(unit, e, Message.ZEROS_AS_VALUE, id.getName(), zeroLocals.get(id.getName().toString()), methodName);
        return null;
      }
      if (e instanceof IdentifierTree id) {
        String value = locals.get(id.getName().toString());
        if (value == null && !unknown.contains(id.getName().toString()) && !unresolved(unit, e)) {
          Element element = trees.getElement(TreePath.getPath(unit, e));
          if (element instanceof VariableElement v && v.getKind() == ElementKind.FIELD && types.isAssignable(v.asType(), type(MODULE))) {
            diagnostics.error(unit, e, Message.LAYER_AS_VALUE, id.getName(), methodName, id.getName());
          } else if (element instanceof VariableElement v && isTensorField(v)) {
            return tensorField(v, e, unit, className);
          } else {
            diagnostics.error(unit, e, Message.UNKNOWN_VALUE, id.getName(), methodName);
          }
        }
        return value;
      }
      if (outputsMethod != null && callsOutputs(e, unit)) {
        diagnostics.error(unit, e, Message.FORWARD_CALLS_OUTPUTS, outputsMethod.getSimpleName(), outputsCall);
        return null;
      }
      if (e instanceof ArrayAccessTree aa && (pieces.containsKey(arrayName(aa)) || brokenPieces.contains(arrayName(aa))
          || splitCall(aa.getExpression(), unit) != null)) { // qkv[0], x.chunk(2, -1)[1]
        return piece(aa, unit, fields, className);
      }
      if (e instanceof NewClassTree nc && !unresolved(unit, nc)
          && types.isAssignable(trees.getTypeMirror(TreePath.getPath(unit, nc)), type(MODULE))) {
        diagnostics.error(unit, e, Message.LAYER_IN_FORWARD, methodName, nc, nc.getIdentifier());
        return null;
      }
      if (e instanceof MemberSelectTree ms && ms.getExpression() instanceof IdentifierTree self && self.getName().contentEquals("this")
          && trees.getElement(TreePath.getPath(unit, e)) instanceof VariableElement v && isTensorField(v)) { // this.pos
        return tensorField(v, e, unit, className);
      }
      if (!(e instanceof MethodInvocationTree mi)) {
        diagnostics.error(unit, e, Message.UNSUPPORTED_EXPRESSION, methodName, describe(e));
        return null;
      }
      if (readsStates(mi, unit)) { // o.output(), o.h().select(0, -1), lstm.forwardWithState(x).h().select(0, -1)
        return stateRead(mi, unit, fields, className);
      }
      if (isMask(mi, unit)) { // h.mul(keep.unsqueeze(-1)): a mask as a 0/1 value
        Mask value = maskAsValue(mi, unit, fields, className);
        return value == null ? null : value.value();
      }
      if (bufferCall(mi, unit) != null) { // bias.narrow(2, 0, T): a buffer sliced or viewed, computed when the buffer changes
        return derivedCall(mi, unit, fields, className);
      }
      if (fieldCall(mi, unit, true) != null) { // pos.narrow(1, 0, T): a parameter sliced or viewed, read in place
        return regionCall(mi, unit, fields, className);
      }
      if (mi.getMethodSelect() instanceof MemberSelectTree bagCall && bagCall.getIdentifier().contentEquals("forward")
          && mi.getArguments().size() > 1 && fieldName(bagCall.getExpression()) != null
          && fields.get(fieldName(bagCall.getExpression())) instanceof Leaf bag && bag.layer.spec() instanceof EmbeddingBag.Spec) {
        diagnostics.error(unit, mi, Message.BAG_OFFSETS, mi, bagCall.getExpression()); // bag.forward(text, offsets)
        return null;
      }
      if (attentionCall(mi, fields) != null) { // mha.forward(x, x, x, null, false, null).output(), enc.forward(x, null, null)
        return attentionForward(mi, attentionCall(mi, fields), unit, fields, className);
      }
      // fc1.apply(x) / this.fc1.forward(x)
      if (mi.getMethodSelect() instanceof MemberSelectTree ms
          && (ms.getIdentifier().contentEquals("apply") || ms.getIdentifier().contentEquals("forward"))
          && mi.getArguments().size() == 1) {
        if (listGet(ms.getExpression(), fields) != null) { // h.get(i).apply(x): a ModuleList's module at a constant index
          LayerNode element = listElement((MethodInvocationTree) stripped(ms.getExpression()), unit, fields);
          String input = element == null ? null : expression(mi.getArguments().get(0), unit, fields, className);
          return input == null ? null : applyNode(element, input, mi, source(unit, mi), ms.getExpression().toString());
        }
        String field = fieldName(ms.getExpression());
        LayerNode node = field == null ? null : fields.get(field);
        if (node == null && broken.contains(field)) {
          return null;
        }
        if (node == null && ms.getExpression() instanceof NewClassTree nc) {
          diagnostics.error(unit, nc, Message.LAYER_IN_FORWARD, methodName, nc, nc.getIdentifier());
          return null;
        }
        Element receiver = node == null ? trees.getElement(TreePath.getPath(unit, ms.getExpression())) : null;
        if (modelType != null && receiver instanceof VariableElement v && v.getKind() == ElementKind.FIELD
            && !v.getModifiers().contains(Modifier.STATIC) && v.getEnclosingElement() instanceof TypeElement owner
            && !owner.equals(modelType) && types.isSubtype(types.erasure(modelType.asType()), types.erasure(owner.asType()))) {
          diagnostics.error(unit, ms.getExpression(), Message.INHERITED_LAYER, ms.getExpression(),
              v.getEnclosingElement().getSimpleName(), className);
          return null;
        }
        if (node == null) {
          if (ms.getExpression() instanceof IdentifierTree self
              && (self.getName().contentEquals("super") || self.getName().contentEquals("this"))) {
            diagnostics.error(unit, mi, Message.SELF_CALL, mi, methodName);
          } else if (receiver instanceof VariableElement v && v.getKind() == ElementKind.FIELD && v.getModifiers().contains(Modifier.STATIC)) {
            diagnostics.error(unit, ms.getExpression(), Message.STATIC_LAYER, ms.getExpression());
          } else if (receiver instanceof VariableElement v && v.getKind() == ElementKind.LOCAL_VARIABLE) {
            diagnostics.error(unit, ms.getExpression(), Message.LOCAL_LAYER, ms.getExpression());
          } else if (!unresolved(unit, ms.getExpression())) {
            diagnostics.error(unit, ms.getExpression(), Message.NOT_A_LAYER, ms.getExpression(), className);
          }
          return null;
        }
        if (node instanceof Leaf leaf && leaf.layer.spec() instanceof Embedding.Spec embedding
            && isConstantIds(mi.getArguments().get(0), unit)) { // wpe.apply(pos): GPT-2's positions' rows
          return lookUpConstantIds(leaf.layer, embedding, mi, unit);
        }
        String input = expression(mi.getArguments().get(0), unit, fields, className);
        if (input == null) {
          return null;
        }
        return applyNode(node, input, mi, source(unit, mi), ms.getExpression().toString());
      }
      Element method = trees.getElement(TreePath.getPath(unit, mi));
      if (method instanceof ExecutableElement own && isOwnMethod(own)) { // attention(h): the model's (or block's) own method
        return inlineMethod(mi, own, unit, fields, className);
      }
      if (method instanceof ExecutableElement ex
          && ((TypeElement) ex.getEnclosingElement()).getQualifiedName().contentEquals(FUNCTIONS)) {
        return function(mi, ex.getSimpleName().toString(), mi.getArguments(), unit, fields, className);
      }
      if (method instanceof ExecutableElement ex && ex.getSimpleName().contentEquals("cat")
          && ((TypeElement) ex.getEnclosingElement()).getQualifiedName().contentEquals(TENSOR)
          && ex.getModifiers().contains(Modifier.STATIC)) {
        return cat(mi, unit, fields, className);
      }
      if (method instanceof ExecutableElement ex && ex.getSimpleName().contentEquals("where")
          && ((TypeElement) ex.getEnclosingElement()).getQualifiedName().contentEquals(TENSOR)
          && ex.getModifiers().contains(Modifier.STATIC)) {
        return where(mi, unit, fields, className);
      }
      if (extremaIndices(mi, method, unit) != null) { // logits.max(-1).indices(): an argmax; topk(k, -1), sort(-1)'s too
        MethodInvocationTree extrema = extremaIndices(mi, method, unit);
        List<ExpressionTree> args = new ArrayList<>();
        args.add(((MemberSelectTree) extrema.getMethodSelect()).getExpression());
        args.addAll(extrema.getArguments());
        String name = switch (((MemberSelectTree) extrema.getMethodSelect()).getIdentifier().toString()) {
          case "max" -> "argmax";
          case "min" -> "argmin";
          case "sort" -> "argsort";
          default -> "topk";
        };
        return function(mi, name, args, unit, fields, className);
      }
      if (withConstantIds(mi, method, unit) != null) { // ids.mul(2).add(pos): ids with ids built in forward
        return idsWithConstantIds(mi, withConstantIds(mi, method, unit), unit, fields, className);
      }
      if (idArithmetic(method) != null) { // ids.add(1), ids.remainder(V): of ids, or of floats (resolveIdArithmetic)
        return idArithmeticStep(mi, idArithmetic(method), unit, fields, className);
      }
      if (idPairCall(method, mi) != null) { // ids.floorDivide(other): of two values, ids both (resolveIdArithmetic)
        return idPairStep(mi, idPairCall(method, mi), unit, fields, className);
      }
      if (method instanceof ExecutableElement ex && mi.getMethodSelect() instanceof MemberSelectTree ms
          && ((TypeElement) ex.getEnclosingElement()).getQualifiedName().contentEquals(TENSOR)
          && !ex.getModifiers().contains(Modifier.STATIC) && asFunction(ex, mi, unit)) {
        // h.add(x).relu(), q.matmul(k.transpose(-2, -1)): the F function, the receiver first
        List<ExpressionTree> args = new ArrayList<>();
        args.add(ms.getExpression());
        args.addAll(mi.getArguments());
        return function(mi, functionName(ex), args, unit, fields, className);
      }
      if (method instanceof ExecutableElement ex && mi.getMethodSelect() instanceof MemberSelectTree ms
          && ((TypeElement) ex.getEnclosingElement()).getQualifiedName().contentEquals(TENSOR)) {
        // a Tensor method with no compiled form (x.floor(), x.scatter(...)): named, with eager mode as the way out
        diagnostics.error(unit, e, Message.EAGER_ONLY_TENSOR_METHOD, methodName, ms.getIdentifier(), mi);
        return null;
      }
      if (!unresolved(unit, mi)) { // else a misspelt method, which javac reports itself
        diagnostics.error(unit, e, Message.UNSUPPORTED_EXPRESSION, methodName, "call " + mi.getMethodSelect());
      }
      return null;
    }

    // -------------------------------------------------------------- a recurrent layer's last states

    /**
     * Assigns a local the run of a recurrent layer with its last states ({@code var o = lstm.forwardWithState(x)}): the
     * layer runs here, in program order (its dropout draws come where eager mode's do), and the local names its value.
     */
    private void assignStates(String local, ExpressionTree call, CompilationUnitTree unit, Map<String, LayerNode> fields,
        String className) {
      States states = runWithStates((MethodInvocationTree) stripped(call), true, unit, fields, className);
      if (states == null) {
        stateLocals.remove(local);
        unknown.add(local);
      } else {
        stateLocals.put(local, states);
        unknown.remove(local);
      }
    }

    /** Whether {@code e} is a recurrent layer's {@code forwardWithState(...)} call. */
    private boolean isStatesCall(ExpressionTree e, CompilationUnitTree unit) {
      return stripped(e) instanceof MethodInvocationTree call && call.getMethodSelect() instanceof MemberSelectTree ms
          && ms.getIdentifier().contentEquals("forwardWithState")
          && trees.getElement(TreePath.getPath(unit, call)) instanceof ExecutableElement ex
          && types.isSubtype(types.erasure(ex.getEnclosingElement().asType()), types.erasure(type(RECURRENT)));
    }

    /** Whether {@code e} is {@code o.output()}, {@code o.h()} or {@code o.c()} of a recurrent layer's run with its states. */
    private boolean isStatePart(ExpressionTree e, CompilationUnitTree unit) {
      if (!(stripped(e) instanceof MethodInvocationTree call) || !(call.getMethodSelect() instanceof MemberSelectTree ms)
          || !call.getArguments().isEmpty()) {
        return false;
      }
      TypeMirror owner = trees.getTypeMirror(TreePath.getPath(unit, ms.getExpression()));
      return owner != null && owner.getKind() == TypeKind.DECLARED && types.isSameType(owner, type(RECURRENT + ".Output"))
          && List.of("output", "h", "c").contains(ms.getIdentifier().toString());
    }

    /** Whether {@code e} is {@code o.h()} or {@code o.c()}, a last state whole. */
    private boolean isState(ExpressionTree e, CompilationUnitTree unit) {
      return isStatePart(e, unit) && !((MemberSelectTree) ((MethodInvocationTree) stripped(e)).getMethodSelect()).getIdentifier()
          .contentEquals("output");
    }

    /**
     * Whether {@code mi} reads a recurrent layer's run with its states: {@code o.output()}, {@code o.h()}, a Tensor method
     * of {@code o.h()} ({@code o.h().select(0, -1)}), or an F function of it ({@code select(o.h(), 0, -1)}); {@code o} a
     * local or the call itself.
     */
    private boolean readsStates(MethodInvocationTree mi, CompilationUnitTree unit) {
      if (isStatePart(mi, unit) || mi.getMethodSelect() instanceof MemberSelectTree ms && isState(ms.getExpression(), unit)) {
        return true;
      }
      return !mi.getArguments().isEmpty() && isState(mi.getArguments().get(0), unit)
          && trees.getElement(TreePath.getPath(unit, mi)) instanceof ExecutableElement ex
          && ((TypeElement) ex.getEnclosingElement()).getQualifiedName().contentEquals(FUNCTIONS);
    }

    /**
     * A read of a recurrent layer's run with its states ({@link #readsStates}): {@code o.output()}, the output sequence,
     * as {@code apply} gives it; {@code o.h().select(0, i)} (or {@code F.select(o.h(), 0, i)}), PyTorch's {@code
     * h_n[i]} {@code [N, H]}, and LSTM's {@code o.c().select(0, i)}, a select of its layer's row of the value and, for a
     * bidirectional layer, a narrow of its direction's columns ({@link LastStates}). Any other use of h_n or c_n is an
     * error saying to select a state. Null after an error.
     */
    private String stateRead(MethodInvocationTree mi, CompilationUnitTree unit, Map<String, LayerNode> fields, String className) {
      MethodInvocationTree part; // o.output(), o.h() or o.c()
      List<? extends ExpressionTree> args; // the select's (dimension, index)
      if (isStatePart(mi, unit)) {
        part = mi;
        args = null;
      } else if (mi.getMethodSelect() instanceof MemberSelectTree ms && isState(ms.getExpression(), unit)) {
        part = (MethodInvocationTree) stripped(ms.getExpression());
        args = ms.getIdentifier().contentEquals("select") ? mi.getArguments() : null;
      } else { // an F function of o.h(): select(o.h(), 0, i)
        part = (MethodInvocationTree) stripped(mi.getArguments().get(0));
        args = trees.getElement(TreePath.getPath(unit, mi)).getSimpleName().contentEquals("select")
            ? mi.getArguments().subList(1, mi.getArguments().size()) : null;
      }
      MemberSelectTree select = (MemberSelectTree) part.getMethodSelect();
      String which = select.getIdentifier().toString();
      ExpressionTree run = select.getExpression();
      if (which.equals("output") && isStatesCall(run, unit)) { // lstm.forwardWithState(x, h0, c0).output(): lstm.apply(x)
        States output = runWithStates((MethodInvocationTree) stripped(run), false, unit, fields, className);
        return output == null ? null : output.value();
      }
      States states = states(run, unit, fields, className);
      if (states == null) {
        return null;
      }
      if (which.equals("output")) {
        return step(states.value(), new LastStates.Sequence(states.spec().stateRows()), null, mi.toString(), source(unit, mi));
      }
      boolean cell = which.equals("c");
      String name = cell ? "c_n" : "h_n";
      Recurrent.Spec layer = states.spec().layer();
      if (cell && !layer.mode().equals("LSTM")) {
        diagnostics.error(unit, part, Message.NO_CELL_STATE, part, states.layer().path(), layer);
        return null;
      }
      List<Object> at = args == null || args.size() != 2 ? null : constants(args, mi.toString(), "select", unit);
      if (args != null && args.size() == 2 && at == null) {
        return null; // (a dimension or index that is not a constant: reported)
      }
      if (at == null || !Integer.valueOf(0).equals(at.get(0)) || !(at.get(1) instanceof Integer)) {
        diagnostics.error(unit, at == null ? part : mi, Message.WHOLE_STATE, at == null ? part : mi, name, part);
        return null;
      }
      int index = (Integer) at.get(1), count = states.spec().states();
      if (index < -count || index >= count) {
        diagnostics.error(unit, mi, Message.STATE_INDEX, mi, index, name, states.layer().path() + ": " + layer, count, -count, count - 1);
        return null;
      }
      int i = index < 0 ? index + count : index;
      Source where = source(unit, mi);
      String row = step(states.value(), states.spec().row(cell, i), null, mi.toString(), where);
      Narrow direction = states.spec().direction(i);
      return direction == null ? row : step(row, direction, null, mi.toString(), where);
    }

    /** The run with its states that {@code e} names: a local ({@code o}) or the call itself; null after an error (reported). */
    private States states(ExpressionTree e, CompilationUnitTree unit, Map<String, LayerNode> fields, String className) {
      e = stripped(e);
      if (e instanceof IdentifierTree id) {
        States states = stateLocals.get(id.getName().toString());
        if (states == null && !unknown.contains(id.getName().toString()) && !unresolved(unit, e)) {
          diagnostics.error(unit, e, Message.UNKNOWN_VALUE, id.getName(), methodName);
        }
        return states;
      }
      if (isStatesCall(e, unit)) {
        return runWithStates((MethodInvocationTree) e, true, unit, fields, className);
      }
      diagnostics.error(unit, e, Message.UNSUPPORTED_EXPRESSION, methodName, describe(e));
      return null;
    }

    /**
     * {@code lstm.forwardWithState(x)}: a step running the layer field with its last states after the output ({@link
     * LastStates}), or, where only the output is read ({@code withStates} false), the layer's own step, as {@code
     * lstm.apply(x)}; null after an error (initial states other than zeros, a layer that is not a field).
     */
    private States runWithStates(MethodInvocationTree call, boolean withStates, CompilationUnitTree unit, Map<String, LayerNode> fields,
        String className) {
      ExpressionTree receiver = ((MemberSelectTree) call.getMethodSelect()).getExpression();
      String field = fieldName(receiver);
      LayerNode node = field == null ? null : fields.get(field);
      if (!(node instanceof Leaf leaf) || !(leaf.layer().spec() instanceof Recurrent.Spec spec)) {
        if (!broken.contains(field) && !unresolved(unit, receiver)) {
          diagnostics.error(unit, receiver, Message.NOT_A_LAYER, receiver, className);
        }
        return null;
      }
      String input = expression(call.getArguments().get(0), unit, fields, className);
      List<? extends ExpressionTree> given = call.getArguments().subList(1, call.getArguments().size());
      if (given.stream().anyMatch(a -> !isZeroState(a, unit))) { // initial states other than zeros
        return runFromStates(call, input, given, withStates, leaf.layer(), spec, unit, fields, className);
      }
      boolean zeros = true;
      for (int i = 1; i < call.getArguments().size(); i++) {
        zeros &= zeroState(call, i == 1 ? "h0" : "c0", call.getArguments().get(i), leaf.layer().path() + ": " + spec, spec, unit);
      }
      if (input == null || !zeros) {
        return null;
      }
      // zero initial states: the layer's own default, the call without them
      if (!withStates) {
        return new States(step(input, spec, leaf.layer(), call.toString(), source(unit, call)), null, leaf.layer());
      }
      LastStates states = new LastStates(spec);
      return new States(step(input, states, leaf.layer(), call.toString(), source(unit, call)), states, leaf.layer());
    }

    // ------------------------------------------------------ a recurrent layer's initial states other than zeros

    /** The element-wise Tensor methods an initial state may be written inside ({@code h.tanh()}), applied to the state read. */
    private static final Set<String> STATE_MAPS = Set.of("tanh", "relu", "sigmoid");

    /** Whether initial state {@code arg} is zeros as {@link #zeroState} reads them ({@code null}, {@code Tensor.zeros}, a local of them). */
    private boolean isZeroState(ExpressionTree arg, CompilationUnitTree unit) {
      ExpressionTree e = stripped(arg);
      return e.getKind() == Tree.Kind.NULL_LITERAL || zerosCall(e, unit) != null
          || e instanceof IdentifierTree id && (zeroLocals.containsKey(id.getName().toString()) || unknown.contains(id.getName().toString()));
    }

    /**
     * Whether {@code e} is written as an initial state other than zeros, PyTorch's {@code [L * D, N, H]}: a run's last
     * states whole ({@code enc.h()}), a value of {@code [N, H]} unsqueezed or viewed to {@code [1, N, H]} ({@code
     * proj.apply(f).view(1, -1, H)}), element-wise methods of those ({@code .tanh()}), or a local
     * holding one; a local initialised so is held and read where a layer takes it ({@link #stateValue}).
     */
    private boolean isStateForm(ExpressionTree e, CompilationUnitTree unit) {
      e = stripped(e);
      if (e instanceof IdentifierTree id) {
        return heldStates.containsKey(id.getName().toString());
      }
      if (isState(e, unit)) {
        return true;
      }
      if (!(e instanceof MethodInvocationTree mi) || !(mi.getMethodSelect() instanceof MemberSelectTree ms) || !isTensorMethod(mi, unit, false)) {
        return false;
      }
      String name = ms.getIdentifier().toString();
      List<? extends ExpressionTree> args = mi.getArguments();
      return STATE_MAPS.contains(name) && args.isEmpty() ? isStateForm(ms.getExpression(), unit)
          : name.equals("unsqueeze") ? args.size() == 1 && Integer.valueOf(0).equals(foldOrNull(args.get(0), unit))
          : name.equals("transpose") ? layersView(mi, unit) != null
          : (name.equals("view") || name.equals("reshape")) && args.size() == 3 && Integer.valueOf(1).equals(foldOrNull(args.get(0), unit));
    }

    /**
     * The view of {@code t} when {@code t} is a state of several layers built by hand, {@code v.view(N, L * D, H).transpose(0,
     * 1)} (or {@code reshape}, the batch as {@code -1}, {@code x.size(0)} or an {@code int} local): PyTorch's {@code [L * D, N,
     * H]}, each sample's {@code [L * D, H]} in order, as the value holding states has them; else null.
     */
    private MethodInvocationTree layersView(MethodInvocationTree t, CompilationUnitTree unit) {
      List<? extends ExpressionTree> args = t.getArguments();
      if (args.size() != 2 || !(foldOrNull(args.get(0), unit) instanceof Integer a) || !(foldOrNull(args.get(1), unit) instanceof Integer b)
          || !(a == 0 && b == 1 || a == 1 && b == 0) || !isTensorMethod(t, unit, false)) {
        return null;
      }
      ExpressionTree inner = stripped(((MemberSelectTree) t.getMethodSelect()).getExpression());
      return inner instanceof MethodInvocationTree v && v.getMethodSelect() instanceof MemberSelectTree vs
          && (vs.getIdentifier().contentEquals("view") || vs.getIdentifier().contentEquals("reshape")) && v.getArguments().size() == 3
          && isTensorMethod(v, unit, false) ? v : null;
    }

    /**
     * {@code layer.forwardWithState(x, h0 (, c0))} from initial states other than zeros: each state read ({@link
     * #stateValue}, {@code [N, L, D * H]}), LSTM's two joined ({@code [N, 2 L, D * H]}), and a step of the layer reading
     * the input and them ({@link InitialStates}); an LSTM's state given as zeros beside the other ({@code
     * lstm.forwardWithState(x, enc.h(), Tensor.zeros(...))}, checked as {@link #zeroState}) is left out of the value,
     * starting at zero ({@link InitialStates#only}). Null after an error (reported).
     */
    private States runFromStates(MethodInvocationTree call, String input, List<? extends ExpressionTree> given, boolean withStates,
        LayerIr layer, Recurrent.Spec spec, CompilationUnitTree unit, Map<String, LayerNode> fields, String className) {
      List<String> states = new ArrayList<>();
      int only = -1;
      boolean read = true;
      for (int i = 0; i < given.size(); i++) { // (each read, each error reported)
        String name = i == 0 ? "h0" : "c0", layerText = layer.path() + ": " + spec;
        if (given.size() > 1 && isZeroState(given.get(i), unit)) { // zeros beside the other state: the layer's own start
          read &= zeroState(call, name, given.get(i), layerText, spec, unit);
          only = 1 - i;
        } else {
          states.add(stateValue(call, name, given.get(i), layerText, spec, unit, fields, className));
        }
      }
      if (input == null || !read || states.contains(null)) {
        return null;
      }
      Source where = source(unit, call);
      String init = states.size() == 1 ? states.get(0) : step(states, new Cat(1), null, call.toString(), where); // h0's rows, then c0's
      LastStates last = withStates ? new LastStates(spec) : null;
      String value = step(List.of(input, init), new InitialStates(withStates ? last : spec, only), layer, call.toString(), where);
      return new States(value, last, layer);
    }

    /**
     * Initial state {@code arg} ({@code name}, h0 or c0) of {@code call}, other than zeros, as the value {@code [N, L, D *
     * H]} the layer reads (each sample's PyTorch {@code [L * D, H]} rows in order): the state read ({@link
     * #readStateForm}, or the one a local holds), viewed for the layer ({@link InitialStates.State}, which the shape
     * checker holds to the layer's shape). Anything else is an error on its line; null after one (reported).
     */
    private String stateValue(MethodInvocationTree call, String name, ExpressionTree arg, String layerText, Recurrent.Spec spec,
        CompilationUnitTree unit, Map<String, LayerNode> fields, String className) {
      ExpressionTree receiver = ((MemberSelectTree) call.getMethodSelect()).getExpression();
      if (!isStateForm(arg, unit)) {
        if (!(stripped(arg) instanceof IdentifierTree id && unknown.contains(id.getName().toString()))) {
          diagnostics.error(unit, arg, Message.INITIAL_STATES, call, arg, receiver);
        }
        return null;
      }
      HeldState held = readStateForm(arg, unit, fields, className);
      if (held == null) {
        return null;
      }
      if (held.batch() != null) { // view(1, n, H): the batch as -1 or x.size(0), never a constant
        Object n = foldOrNull(held.batch(), unit);
        if (n instanceof Integer c && c != -1) {
          String x = stripped(call.getArguments().get(0)) instanceof IdentifierTree id ? id.getName().toString() : inputName;
          diagnostics.error(unit, held.batch(), Message.STATE_BATCH, call, name, c, x, spec.numLayers() * spec.directions(),
              spec.hiddenSize());
          return null;
        }
        if (n == null && !isBatchSize(held.batch(), unit)) {
          diagnostics.error(unit, arg, Message.INITIAL_STATES, call, arg, receiver);
          return null;
        }
      }
      return step(held.value(), new InitialStates.State(call.toString(), name, spec, layerText, held.form(), held.count(), held.hidden(),
          held.written()), null, call.toString(), source(unit, arg));
    }

    /**
     * The state written as {@code e} ({@link #isStateForm}), read here, once: a run's last states whole ({@code enc.h()},
     * {@code enc.c()}: a narrow of its value's state rows), or the value {@code [N, H]} a view or unsqueeze reads (run
     * here, in program order), the element-wise methods around it applied to that value (the same values as of the
     * state); a local names what was read where it was written. Null after an error (reported).
     */
    private HeldState readStateForm(ExpressionTree e, CompilationUnitTree unit, Map<String, LayerNode> fields, String className) {
      e = stripped(e);
      if (e instanceof IdentifierTree id) {
        HeldState held = heldStates.get(id.getName().toString());
        return held == null ? null : new HeldState(held.value(), held.form(), held.count(), held.hidden(), held.batch(),
            id.getName() + " = " + held.written());
      }
      MethodInvocationTree mi = (MethodInvocationTree) e;
      MemberSelectTree select = (MemberSelectTree) mi.getMethodSelect();
      String method = select.getIdentifier().toString();
      Source where = source(unit, e);
      if (STATE_MAPS.contains(method)) { // tanh of a state: of the value it views (element-wise, the same values), once
        HeldState inner = readStateForm(select.getExpression(), unit, fields, className);
        if (inner == null) {
          return null;
        }
        LayerSpec map = switch (method) {
          case "tanh" -> new Tanh.Spec();
          case "relu" -> new ReLU.Spec();
          default -> new Sigmoid.Spec();
        };
        return new HeldState(step(inner.value(), map, null, e.toString(), where), inner.form(), inner.count(), inner.hidden(),
            inner.batch(), e.toString());
      }
      if (isState(e, unit)) { // enc.h(): the rows of the run's h_n (or c_n)
        States run = states(select.getExpression(), unit, fields, className);
        if (run == null) {
          return null;
        }
        boolean cell = method.equals("c");
        if (cell && !run.spec().layer().mode().equals("LSTM")) {
          diagnostics.error(unit, e, Message.NO_CELL_STATE, e, run.layer().path(), run.spec().layer());
          return null;
        }
        int layers = run.spec().layer().numLayers();
        String value = step(run.value(), new Narrow(1, -run.spec().stateRows() + (cell ? layers : 0), layers, false), null, e.toString(),
            where);
        return new HeldState(value, InitialStates.Form.LAST, run.spec().states(), -1, null, e.toString());
      }
      MethodInvocationTree layers = method.equals("transpose") ? layersView(mi, unit) : null; // v.view(N, L, H).transpose(0, 1)
      if (layers != null) {
        mi = layers;
        select = (MemberSelectTree) mi.getMethodSelect();
      }
      boolean view = !method.equals("unsqueeze"); // v.unsqueeze(0), v.view(1, -1, H)
      int hidden = -1, count = 1;
      if (view) {
        hidden = constantSize(mi.getArguments().get(2), "a hidden size", unit);
        count = layers == null ? 1 : constantSize(mi.getArguments().get(1), "a number of layers", unit);
        if (hidden < 0 || count < 0) {
          return null;
        }
      }
      String value = expression(select.getExpression(), unit, fields, className);
      return value == null ? null : new HeldState(value, view ? InitialStates.Form.VIEW : InitialStates.Form.UNSQUEEZE, count, hidden,
          view ? mi.getArguments().get(layers == null ? 1 : 0) : null, e.toString());
    }

    /** The constant size {@code e} of a state's view ({@code what}, for the message), or -1 after an error (reported). */
    private int constantSize(ExpressionTree e, String what, CompilationUnitTree unit) {
      if (foldOrNull(e, unit) instanceof Integer size) {
        return size;
      }
      diagnostics.error(unit, e, Message.UNSUPPORTED_EXPRESSION, methodName, what + " that is not a constant, " + e);
      return -1;
    }

    // ------------------------------------------------------ a recurrent layer's zero initial states

    /**
     * Holds {@code state} (an initial state as written, {@link #isStateForm}) in {@code local}: read here ({@link
     * #readStateForm}), viewed where a layer takes it.
     */
    private void holdStateForm(String local, ExpressionTree state, CompilationUnitTree unit, Map<String, LayerNode> fields,
        String className) {
      HeldState held = readStateForm(state, unit, fields, className);
      locals.remove(local);
      zeroLocals.remove(local);
      stateForms.put(local, state);
      if (held == null) {
        heldStates.remove(local);
        unknown.add(local);
      } else {
        heldStates.put(local, held);
        unknown.remove(local);
      }
    }

    /** Holds {@code zeros} ({@code Tensor.zeros(...)}, read when a layer takes it as an initial state) in {@code local}. */
    private void holdZeros(String local, ExpressionTree zeros) {
      locals.remove(local);
      unknown.remove(local);
      stateForms.remove(local);
      heldStates.remove(local);
      zeroLocals.put(local, zeros);
    }

    /**
     * The {@code Tensor.zeros(...)} call of {@code e}, also moved to a device ({@code Tensor.zeros(...).to(x.device())},
     * as eager mode wants it on CUDA); null if {@code e} is not one.
     */
    private MethodInvocationTree zerosCall(ExpressionTree e, CompilationUnitTree unit) {
      e = stripped(e);
      if (e instanceof MethodInvocationTree to && to.getMethodSelect() instanceof MemberSelectTree ms
          && ms.getIdentifier().contentEquals("to") && to.getArguments().size() == 1 && isTensorMethod(to, unit, false)) {
        e = stripped(ms.getExpression());
      }
      return e instanceof MethodInvocationTree mi && isTensorMethod(mi, unit, true)
          && trees.getElement(TreePath.getPath(unit, mi)).getSimpleName().contentEquals("zeros") ? mi : null;
    }

    /** Whether {@code mi} calls a method of Tensor, static ({@code Tensor.zeros}) or not. */
    private boolean isTensorMethod(MethodInvocationTree mi, CompilationUnitTree unit, boolean isStatic) {
      return trees.getElement(TreePath.getPath(unit, mi)) instanceof ExecutableElement ex
          && ((TypeElement) ex.getEnclosingElement()).getQualifiedName().contentEquals(TENSOR)
          && ex.getModifiers().contains(Modifier.STATIC) == isStatic;
    }

    /**
     * Whether {@code e} is the batch size: {@code x.size(0)} or {@code x.shape()[0]} of the input or a local (every
     * compiled value holds the batch in dimension 0), or an {@code int} local holding one ({@code int n = x.size(0)}).
     */
    private boolean isBatchSize(ExpressionTree e, CompilationUnitTree unit) {
      e = stripped(e);
      if (e instanceof IdentifierTree id) {
        return batchLocals.contains(id.getName().toString());
      }
      if (readsBatch(e, unit)) { // x.size(-3) of [N, T, C], s[0] of int[] s = x.shape()
        return true;
      }
      ExpressionTree of;
      if (e instanceof MethodInvocationTree mi && mi.getMethodSelect() instanceof MemberSelectTree ms
          && ms.getIdentifier().contentEquals("size") && mi.getArguments().size() == 1 && isTensorMethod(mi, unit, false)) {
        of = ms.getExpression();
        if (!Integer.valueOf(0).equals(foldOrNull(mi.getArguments().get(0), unit))) {
          return false;
        }
      } else if (e instanceof ArrayAccessTree at && stripped(at.getExpression()) instanceof MethodInvocationTree mi
          && mi.getMethodSelect() instanceof MemberSelectTree ms && ms.getIdentifier().contentEquals("shape")
          && mi.getArguments().isEmpty() && isTensorMethod(mi, unit, false)) {
        of = ms.getExpression();
        if (!Integer.valueOf(0).equals(foldOrNull(at.getIndex(), unit))) {
          return false;
        }
      } else {
        return false;
      }
      return stripped(of) instanceof IdentifierTree id && locals.containsKey(id.getName().toString());
    }

    /**
     * Checks initial state {@code arg} ({@code name}, h0 or c0) of {@code call}: zeros ({@code Tensor.zeros(L * D,
     * x.size(0), H)}, written there or held in a local, or null) of the layer's shape, which compile as the call without
     * it (the layer's own default, bit for bit: eager's kernels start from zero arrays either way). Anything else is an
     * error on its line; false after one (reported).
     */
    private boolean zeroState(MethodInvocationTree call, String name, ExpressionTree arg, String layer, Recurrent.Spec spec,
        CompilationUnitTree unit) {
      ExpressionTree given = stripped(arg);
      if (given.getKind() == Tree.Kind.NULL_LITERAL) {
        return true; // null: zeros, as eager mode reads it
      }
      if (given instanceof IdentifierTree id && unknown.contains(id.getName().toString())) {
        return false;
      }
      ExpressionTree zeros = given instanceof IdentifierTree id ? zeroLocals.get(id.getName().toString()) : given;
      MethodInvocationTree mi = zeros == null ? null : zerosCall(zeros, unit);
      ExpressionTree receiver = ((MemberSelectTree) call.getMethodSelect()).getExpression();
      if (mi == null) {
        diagnostics.error(unit, arg, Message.INITIAL_STATES, call, arg, receiver);
        return false;
      }
      ExecutableElement ex = (ExecutableElement) trees.getElement(TreePath.getPath(unit, mi));
      List<? extends ExpressionTree> sizes = mi.getArguments();
      if (!ex.getParameters().isEmpty() && !ex.getParameters().get(0).asType().getKind().isPrimitive()
          && ex.getParameters().get(0).asType().getKind() != TypeKind.ARRAY) {
        sizes = sizes.subList(1, sizes.size()); // Tensor.zeros(x.device(), ...)
      }
      int layers = spec.numLayers() * spec.directions();
      String expected = "(" + layers + ", N, " + spec.hiddenSize() + ")";
      List<String> shape = new ArrayList<>();
      boolean fits = sizes.size() == 3;
      for (int i = 0; i < sizes.size(); i++) {
        ExpressionTree size = sizes.get(i);
        Object folded = foldOrNull(size, unit);
        boolean batch = folded == null && isBatchSize(size, unit);
        shape.add(batch ? "N" : folded != null ? folded.toString() : size.toString());
        if (i == 1 && fits && folded instanceof Integer) {
          String input = stripped(call.getArguments().get(0)) instanceof IdentifierTree x ? x.getName().toString() : inputName;
          diagnostics.error(unit, size, Message.STATE_BATCH, call, name, folded, input, layers, spec.hiddenSize());
          return false;
        }
        fits &= i == 1 ? batch : Integer.valueOf(i == 0 ? layers : spec.hiddenSize()).equals(folded);
      }
      if (!fits) {
        String written = zeros == given ? mi.toString() : given + " = " + zeros;
        diagnostics.error(unit, arg, Message.STATE_SHAPE, call, name, expected, layer, "(" + String.join(", ", shape) + ")", written);
      }
      return fits;
    }

    /** Whether {@code v} is an instance field of type Tensor. */
    private boolean isTensorField(VariableElement v) {
      return v.getKind() == ElementKind.FIELD && !v.getModifiers().contains(Modifier.STATIC) && types.isSameType(v.asType(), type(TENSOR));
    }

    /**
     * A tensor field of the model read as a value ({@code x.add(pos)}): the value {@code this.pos}, its
     * declaration read on first use; null after an error (reported on the declaration, once).
     */
    private String tensorField(VariableElement v, ExpressionTree use, CompilationUnitTree unit, String className) {
      if (!readableField(v, use, unit, className)) {
        return null;
      }
      TensorIr t = tensors.field(v);
      return t == null ? null : t.value();
    }

    /** Whether the tensor field {@code v} may be read where {@code use} reads it (the model's or block's own); else reported. */
    private boolean readableField(VariableElement v, ExpressionTree use, CompilationUnitTree unit, String className) {
      if (tensors == null || !(v.getEnclosingElement() instanceof TypeElement owner)) {
        diagnostics.error(unit, use, Message.UNKNOWN_VALUE, v.getSimpleName(), methodName);
        return false;
      }
      if (!ownMember(owner)) {
        diagnostics.error(unit, use, Message.INHERITED_TENSOR, v.getSimpleName(), owner.getSimpleName(), className);
        return false;
      }
      return true;
    }

    // ---------------------------------------------------------------- masks

    /**
     * {@code x.maskedFill(mask, value)} ({@code F.maskedFill}): the value a constant, the mask a buffer of the model or
     * an input (ids, a further input), as it is or viewed, compared with a constant ({@code mask.eq(0)}), written in the
     * call or held in a local ({@link #readMask}); null after an error.
     */
    private String maskedFill(MethodInvocationTree mi, List<? extends ExpressionTree> args, CompilationUnitTree unit,
        Map<String, LayerNode> fields, String className) {
      String input = expression(args.get(0), unit, fields, className);
      Mask mask = readMask(args.get(1), unit, fields, className, mi.toString());
      List<Object> fill = constants(args.subList(2, 3), mi.toString(), "maskedFill", unit);
      if (mask == null || fill == null || input == null) {
        return null;
      }
      if (!(fill.get(0) instanceof Number value)) {
        diagnostics.error(unit, args.get(2), Message.UNSUPPORTED_FUNCTION, mi + ": the value must be a number, not " + fill.get(0));
        return null;
      }
      if (mask.buffer() != null) { // repeated over the value's leading dimensions, read in place
        tensors.markRead(mask.buffer().value());
        MaskedFill spec = new MaskedFill(mask.buffer().field(), mask.shape(), mask.test(), mask.against(), value.floatValue(),
            mi.toString());
        return step(input, spec, null, mi.toString(), source(unit, mi));
      }
      // an input's own mask per sample (the step's second value): the checker fits it to the value
      MaskedFill spec = new MaskedFill(null, null, mask.test(), mask.against(), value.floatValue(), mi.toString());
      return step(List.of(input, mask.value()), spec, null, mi.toString(), source(unit, mi));
    }

    /**
     * A mask as masked fills read it, in place (no pass computes it): a buffer of the model ({@code buffer}, its shape
     * folded through any views), or a value rooted at an input ({@code value}: the input or a view of it, {@code shape}
     * {@code [-1, ...]} or null where unknown), selecting where {@code test} against {@code against} holds.
     *
     * @param written the expression, for messages
     * @param where a local's declaration, for an unused one
     */
    private record Mask(String value, TensorIr buffer, int[] shape, MaskTest test, float against, String written, Tree where) {
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
    private final Map<String, Mask> masks = new LinkedHashMap<>();
    /** Those a masked fill (or another mask) read. */
    private final Set<String> usedMasks = new HashSet<>();

    /**
     * Whether {@code e} is a mask: a comparison of a tensor ({@code ids.eq(0)}), a view of one ({@code .view},
     * {@code .reshape}, {@code .unsqueeze}), or a local holding one.
     */
    private boolean isMask(ExpressionTree e, CompilationUnitTree unit) {
      e = stripped(e);
      if (e instanceof IdentifierTree id) {
        return masks.containsKey(id.getName().toString());
      }
      String name = tensorMethod(e, unit);
      if (name == null) {
        return false;
      }
      MethodInvocationTree mi = (MethodInvocationTree) e;
      return COMPARISONS.containsKey(name) && mi.getArguments().size() == 1 || isLogical(name, mi)
          || MASK_VIEWS.contains(name) && isMask(((MemberSelectTree) mi.getMethodSelect()).getExpression(), unit);
    }

    /** Whether {@code mi}, a call of the Tensor method {@code name}, is a logical op: {@code logicalNot()}, {@code a.logicalAnd(b)}. */
    private static boolean isLogical(String name, MethodInvocationTree mi) {
      return name.equals("logicalNot") && mi.getArguments().isEmpty() || LOGICAL.containsKey(name) && mi.getArguments().size() == 1;
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
        String value = m != null ? m.value() : isMask(operand, unit) ? null : expression(operand, unit, fields, className);
        if (value == null) {
          return null;
        }
        values.add(value);
      }
      Compare spec = new Compare(name.equals("logicalNot") ? MaskTest.EQ : LOGICAL.get(name), 0f);
      String value = step(values, spec, null, mi.toString(), source(unit, mi));
      return new Mask(value, null, null, MaskTest.NONZERO, 0, mi.toString(), mi);
    }

    /** The name of the Tensor instance method {@code e} calls ({@code eq} for {@code ids.eq(0)}), else null. */
    private String tensorMethod(ExpressionTree e, CompilationUnitTree unit) {
      if (e instanceof MethodInvocationTree mi && mi.getMethodSelect() instanceof MemberSelectTree ms
          && trees.getElement(TreePath.getPath(unit, mi)) instanceof ExecutableElement ex && !ex.getModifiers().contains(Modifier.STATIC)
          && ((TypeElement) ex.getEnclosingElement()).getQualifiedName().contentEquals(TENSOR)) {
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
    private Mask maskAsValue(ExpressionTree e, CompilationUnitTree unit, Map<String, LayerNode> fields, String className) {
      e = stripped(e);
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
      if (name != null && MASK_VIEWS.contains(name) && isMask(((MemberSelectTree) ((MethodInvocationTree) e).getMethodSelect()).getExpression(), unit)) {
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
            : call("reshape", mask.shape());
        String test = mask.test() == MaskTest.NONZERO ? "ne(0.0f)" : mask.test().name().toLowerCase(java.util.Locale.ROOT) + "("
            + javaFloat(mask.against()) + ")";
        TensorIr value = derive(b, view + "." + test, mask.shape(), source(unit, use));
        return new Mask(value.value(), null, mask.shape(), MaskTest.NONZERO, 0, mask.written(), mask.where());
      }
      if (mask.test() == MaskTest.NONZERO && comparedAlready(mask.value())) { // x.lt(y): its step's values already
        return mask;
      }
      String value = step(mask.value(), new Compare(mask.test(), mask.against()), null, mask.written(), source(unit, use));
      return new Mask(value, null, mask.shape(), MaskTest.NONZERO, 0, mask.written(), mask.where());
    }

    /** {@code Tensor pad = ids.eq(0).view(-1, 1, 1, S);}: the local holds the mask, read by the masked fills after it. */
    private void defineMask(String local, ExpressionTree value, Tree declaration, CompilationUnitTree unit, Map<String, LayerNode> fields,
        String className) {
      Mask mask = readMask(value, unit, fields, className, value.toString());
      if (mask == null) {
        unknown.add(local); // its uses stay silent
        return;
      }
      masks.put(local, mask.declared(declaration));
    }

    /**
     * An assignment {@code target = value} that involves a mask: a mask local reassigned, or a mask assigned to a local
     * that holds a value (errors), or the first assignment of a local declared without one. False when no mask is involved.
     */
    private boolean maskAssignment(IdentifierTree target, AssignmentTree a, Tree statement, CompilationUnitTree unit,
        Map<String, LayerNode> fields, String className) {
      String local = target.getName().toString();
      boolean mask = isMask(a.getExpression(), unit);
      if (masks.containsKey(local) || mask && (locals.containsKey(local) || unknown.contains(local))) {
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
    private void reportUnusedMasks(CompilationUnitTree unit) {
      masks.forEach((local, mask) -> {
        if (!usedMasks.contains(local)) {
          diagnostics.error(unit, mask.where(), Message.MASK_UNUSED, local, methodName);
        }
      });
    }

    /** A mask: a comparison with a constant of a mask as it is ({@link #rawMask}), or that as it is; null after an error. */
    private Mask readMask(ExpressionTree e, CompilationUnitTree unit, Map<String, LayerNode> fields, String className, String label) {
      e = stripped(e);
      String name = tensorMethod(e, unit);
      if (name != null && isLogical(name, (MethodInvocationTree) e)) { // a.gt(0).logicalAnd(b.gt(0)): its 0/1 values
        return logical((MethodInvocationTree) e, name, unit, fields, className);
      }
      if (name == null || !COMPARISONS.containsKey(name) || ((MethodInvocationTree) e).getArguments().size() != 1) {
        return rawMask(e, unit, fields, className, label);
      }
      MethodInvocationTree compare = (MethodInvocationTree) e;
      ExpressionTree receiver = ((MemberSelectTree) compare.getMethodSelect()).getExpression();
      ExpressionTree with = compare.getArguments().get(0);
      if (isMask(receiver, unit)) {
        diagnostics.error(unit, compare, Message.MASK_COMPARED_TWICE, label, receiver, stripped(receiver) instanceof IdentifierTree id
            && masks.containsKey(id.getName().toString()) ? masks.get(id.getName().toString()).written() : receiver);
        return null;
      }
      if (isTensor(with, unit)) { // x.lt(y): two values compared into 0/1 values (a step), which the fills read as they are
        return comparedValues(compare, receiver, with, name, unit, fields, className);
      }
      Object constant = foldOrNull(with, unit);
      if (!(constant instanceof Number number)) {
        if (!unresolved(unit, with)) {
          diagnostics.error(unit, with, Message.MASK_COMPARED_WITH, label, receiver, name,
              with + (constant == null ? ", which is not a compile-time constant" : ", not a number"));
        }
        return null;
      }
      Mask base = rawMask(receiver, unit, fields, className, label);
      return base == null ? null : base.tested(COMPARISONS.get(name), number.floatValue(), compare.toString());
    }

    /**
     * {@code x.lt(y)}: a {@link Compare} step of the two values (0/1, no gradient to either), read as a mask as it is; null
     * after an error. A buffer or an input's mask on either side is refused (the checker: a tensor field in a comparison).
     */
    private Mask comparedValues(MethodInvocationTree compare, ExpressionTree receiver, ExpressionTree with, String name,
        CompilationUnitTree unit, Map<String, LayerNode> fields, String className) {
      String a = expression(receiver, unit, fields, className);
      String b = expression(with, unit, fields, className);
      if (a == null || b == null) {
        return null;
      }
      String value = step(List.of(a, b), new Compare(COMPARISONS.get(name), 0), null, compare.toString(), source(unit, compare));
      return new Mask(value, null, null, MaskTest.NONZERO, 0, compare.toString(), compare);
    }

    /**
     * {@code Tensor.where(mask, a, b)}: a step reading a, b and the mask's 0/1 values (a comparison, {@code h.gt(0)}, made
     * as a mask read as a value is; or a value as it is, nonzero selecting); null after an error.
     */
    private String where(MethodInvocationTree mi, CompilationUnitTree unit, Map<String, LayerNode> fields, String className) {
      ExpressionTree condition = mi.getArguments().get(0);
      String mask;
      if (isMask(condition, unit)) {
        Mask m = maskAsValue(condition, unit, fields, className);
        mask = m == null ? null : m.value();
      } else {
        mask = expression(condition, unit, fields, className);
      }
      String a = expression(mi.getArguments().get(1), unit, fields, className);
      String b = expression(mi.getArguments().get(2), unit, fields, className);
      if (mask == null || a == null || b == null) {
        return null;
      }
      String ofBuffers = whereOfBuffers(mi, mask, a, b, unit);
      if (ofBuffers != null) {
        return ofBuffers;
      }
      return step(List.of(a, b, mask), new Where(mi.toString()), null, mi.toString(), source(unit, mi));
    }

    /** Whether {@code mi} calls {@code Tensor.where(mask, a, b)}. */
    private boolean isWhereCall(MethodInvocationTree mi, CompilationUnitTree unit) {
      return trees.getElement(TreePath.getPath(unit, mi)) instanceof ExecutableElement ex && ex.getSimpleName().contentEquals("where")
          && ((TypeElement) ex.getEnclosingElement()).getQualifiedName().contentEquals(TENSOR) && ex.getModifiers().contains(Modifier.STATIC);
    }

    /**
     * {@code Tensor.where(mask, a, b)} whose three operands are buffers (or computed from buffers): a tensor of their
     * broadcast shape, without a batch, computed as eager mode computes it ({@link TensorIr#where}); its value, or null
     * when an operand is not a buffer (a value of the batch, a parameter: a step, which the checker reads) or the shapes
     * do not broadcast (the where's step then reports it).
     */
    private String whereOfBuffers(MethodInvocationTree mi, String mask, String a, String b, CompilationUnitTree unit) {
      if (tensors == null) {
        return null;
      }
      TensorIr m = tensors.byValue(mask), ta = tensors.byValue(a), tb = tensors.byValue(b);
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
      return tensors.where(mi.toString(), m, ta, tb, shape, source(unit, mi)).value();
    }

    /** Whether {@code value} is a {@link Compare} step's 0/1 values already ({@code x.lt(y)}). */
    private boolean comparedAlready(String value) {
      return value != null && list.stream().anyMatch(st -> st.output().equals(value) && st.spec() instanceof Compare);
    }

    /**
     * A mask as it is (nonzero selects) or a mask local: a buffer of the model or an input, or a view of either
     * ({@code mask.view(-1, 1, 1, S)}, {@code ids.eq(0).unsqueeze(1)}); null after an error.
     */
    private Mask rawMask(ExpressionTree e, CompilationUnitTree unit, Map<String, LayerNode> fields, String className, String label) {
      e = stripped(e);
      if (e instanceof IdentifierTree id && masks.containsKey(id.getName().toString())) {
        usedMasks.add(id.getName().toString());
        return masks.get(id.getName().toString());
      }
      String name = tensorMethod(e, unit);
      if (name != null && MASK_VIEWS.contains(name)) {
        MethodInvocationTree view = (MethodInvocationTree) e;
        Mask of = readMask(((MemberSelectTree) view.getMethodSelect()).getExpression(), unit, fields, className, label);
        return of == null ? null : viewMask(of, view, name, unit, label);
      }
      Element element = e instanceof IdentifierTree || e instanceof MemberSelectTree ? trees.getElement(TreePath.getPath(unit, e)) : null;
      boolean local = e instanceof IdentifierTree id && (locals.containsKey(id.getName().toString())
          || unknown.contains(id.getName().toString()));
      if (!local && element instanceof VariableElement v && isTensorField(v)) { // a buffer: its shape folded from its declaration
        if (tensorField(v, e, unit, className) == null) {
          return null;
        }
        TensorIr field = tensors.field(v);
        if (field.isParameter()) {
          diagnostics.error(unit, e, Message.MASK_NOT_BUFFER, label, field.describe());
          return null;
        }
        return new Mask(null, field, field.shape(), MaskTest.NONZERO, 0, e.toString(), e);
      }
      String value = expression(e, unit, fields, className);
      if (value == null) {
        return null;
      }
      TensorIr derived = tensors == null ? null : tensors.byValue(value);
      if (derived != null && derived.isDerived() && !derived.isParameter()) { // bias.narrow(2, 0, T): read in place as the buffer is
        return new Mask(null, derived, derived.shape(), MaskTest.NONZERO, 0, e.toString(), e);
      }
      if (value.startsWith(TensorIr.valueName(""))) { // Tensor m = mask; then maskedFill(m, ...): the field itself, please
        diagnostics.error(unit, e, Message.MASK_NOT_BUFFER, label, e);
        return null;
      }
      String root = value;
      int[] shape = null;
      for (int i = list.size() - 1; i >= 0; i--) { // back through views to the value they read
        StepIr st = list.get(i);
        if (st.output().equals(root) && (st.spec() instanceof Reshape || st.spec() instanceof dev.kiln.dsl.Flatten.Spec)) {
          if (root.equals(value) && st.spec() instanceof Reshape r) {
            shape = r.shape().stream().mapToInt(Integer::intValue).toArray();
          }
          root = st.input();
        }
      }
      if (!root.equals(inputName) && !furtherInputs.contains(root)) { // h.gt(0): activations, read in place like an input's
        return new Mask(value, null, null, MaskTest.NONZERO, 0, e.toString(), e);
      }
      if (root.equals(value) && element instanceof VariableElement p && p.getKind() == ElementKind.PARAMETER) {
        Input declared = p.getAnnotation(Input.class);
        int[] sample = declared != null ? declared.value()
            : modelType != null && modelType.getAnnotation(Model.class) != null ? modelType.getAnnotation(Model.class).input() : null;
        shape = sample == null ? null : batched(sample);
      }
      return new Mask(value, null, shape, MaskTest.NONZERO, 0, e.toString(), e);
    }

    /**
     * {@code mask.view(sizes)}, {@code .reshape(sizes)} or {@code .unsqueeze(dim)}: a buffer's shape folded, an input's
     * a Reshape step (a view, no copy) with the batch first as -1; null after an error.
     */
    private Mask viewMask(Mask of, MethodInvocationTree view, String name, CompilationUnitTree unit, String label) {
      List<Object> args = constants(view.getArguments(), label, name, unit);
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
        TensorIr derived = tensors == null || of.value() == null ? null : tensors.byValue(of.value());
        if (derived != null) { // bias.eq(0) read as a value, then viewed: the view computed with it
          int[] viewed = Shapes.inferReshape(derived.shape(), sizes);
          String call = call("reshape", viewed);
          return of.viewed(derive(derived, call, viewed, source(unit, view)).value(), viewed, text);
        }
        Reshape spec = new Reshape(Arrays.stream(sizes).boxed().toList());
        if (shape != null) {
          spec.outputShape(shape);
        }
        return of.viewed(step(of.value(), spec, null, text, source(unit, view)), sizes, text);
      } catch (IllegalArgumentException ex) { // (a ShapeException among them)
        diagnostics.error(unit, view, Message.MASK_VIEW, label, text + ": " + ex.getMessage());
        return null;
      }
    }

    // ---------------------------------------------------------------- buffers computed from buffers

    /**
     * The receiver of {@code e} when it is a call of {@link #BUFFER_CALLS} ({@code bias.narrow(2, 0, T)}, {@code
     * F.narrow(bias, 2, 0, T)}) of a buffer, of a tensor computed from one, or of a local holding either; else null.
     */
    private ExpressionTree bufferCall(ExpressionTree e, CompilationUnitTree unit) {
      return fieldCall(e, unit, false);
    }

    /**
     * The receiver of {@code e} when it is a call of {@link #BUFFER_CALLS} of a tensor field of the model (a buffer when
     * not {@code parameter}, else a parameter), of a tensor computed from one (a {@link TensorIr#region} of a parameter),
     * or of a local holding either; else null.
     */
    private ExpressionTree fieldCall(ExpressionTree e, CompilationUnitTree unit, boolean parameter) {
      e = stripped(e);
      if (!(e instanceof MethodInvocationTree mi) || !(trees.getElement(TreePath.getPath(unit, mi)) instanceof ExecutableElement ex)
          || !BUFFER_CALLS.contains(ex.getSimpleName().toString())) {
        return null;
      }
      String owner = ((TypeElement) ex.getEnclosingElement()).getQualifiedName().toString();
      ExpressionTree receiver = owner.equals(TENSOR) && !ex.getModifiers().contains(Modifier.STATIC)
          && mi.getMethodSelect() instanceof MemberSelectTree ms ? ms.getExpression()
          : owner.equals(FUNCTIONS) && !mi.getArguments().isEmpty() ? mi.getArguments().get(0) : null;
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
      e = stripped(e);
      if (e instanceof IdentifierTree id) {
        String name = id.getName().toString();
        if (locals.containsKey(name)) {
          TensorIr t = tensors == null ? null : tensors.byValue(locals.get(name));
          return t != null && t.isParameter() == parameter;
        }
        if (masks.containsKey(name) || unknown.contains(name) || stateForms.containsKey(name) || zeroLocals.containsKey(name)) {
          return false;
        }
      }
      if (!parameter && e instanceof MethodInvocationTree where && isWhereCall(where, unit)) { // Tensor.where(keep, near, far)
        return where.getArguments().stream().allMatch(a -> ofField(a, unit, false));
      }
      boolean self = e instanceof IdentifierTree
          || e instanceof MemberSelectTree ms && ms.getExpression() instanceof IdentifierTree t && t.getName().contentEquals("this");
      if (self) {
        return tensors != null && trees.getElement(TreePath.getPath(unit, e)) instanceof VariableElement v && isTensorField(v)
            && modelType != null && v.getEnclosingElement() instanceof TypeElement owner && ownMember(owner) && tensors.field(v) != null
            && tensors.field(v).isParameter() == parameter;
      }
      return fieldCall(e, unit, parameter) != null;
    }

    /**
     * {@code bias.narrow(2, 0, T)}, {@code .slice}, {@code .select}, {@code .view}, {@code .reshape}, {@code .unsqueeze} of a
     * buffer (or of a tensor computed from one), with constant arguments: a tensor computed from the buffer by those eager
     * calls when it changes ({@link TensorIr#derived}), read as a buffer is; its value, or null after an error.
     */
    private String derivedCall(MethodInvocationTree mi, CompilationUnitTree unit, Map<String, LayerNode> fields, String className) {
      Chain c = chain(mi, unit, fields, className, false);
      return c == null ? null : derive(c.of(), c.calls(), c.shape(), source(unit, mi)).value();
    }

    /**
     * {@code pos.narrow(1, 0, T)} and the other {@link #BUFFER_CALLS} of a parameter with constant arguments, when the result
     * is one contiguous run of the parameter's values: a {@link TensorIr#region} read in place, its gradient added to that
     * run of the parameter's; its value, or null after an error ({@code PARAMETER_SLICE} for a slice that is not one run).
     */
    private String regionCall(MethodInvocationTree mi, CompilationUnitTree unit, Map<String, LayerNode> fields, String className) {
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
      TensorIr root = c.of().isDerived() ? tensors.byValue(TensorIr.valueName(c.of().derived().of())) : c.of();
      String calls = (c.of().isDerived() ? c.of().derived().calls() : "") + c.calls();
      return tensors.region(root, calls, c.run().offset(), c.run().runs(), c.shape(), source(unit, mi)).value();
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
     * The chain of {@link #BUFFER_CALLS} {@code e} writes ({@code bias.narrow(2, 0, T).narrow(3, 0, T)}) on a buffer (on a
     * parameter when {@code parameter}), the calls' constants folded, their shapes checked; null after an error. Nothing is
     * registered for the calls before the last.
     */
    private Chain chain(ExpressionTree e, CompilationUnitTree unit, Map<String, LayerNode> fields, String className, boolean parameter) {
      ExpressionTree receiver = fieldCall(e, unit, parameter);
      if (receiver == null) {
        String of = expression(e, unit, fields, className);
        TensorIr t = of == null ? null : tensors.byValue(of);
        return t == null ? null : new Chain(t, "", t.shape(), t.isDerived() ? new Run(t.derived().offset(), t.derived().runs())
            : new Run(0, null));
      }
      MethodInvocationTree mi = (MethodInvocationTree) stripped(e);
      String name = trees.getElement(TreePath.getPath(unit, mi)).getSimpleName().toString();
      boolean function = ((TypeElement) trees.getElement(TreePath.getPath(unit, mi)).getEnclosingElement()).getQualifiedName()
          .contentEquals(FUNCTIONS); // F.narrow(bias, 2, 0, T): the buffer first
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
          notConstant(ex, unit, mi.toString(), () -> {
            if (!unresolved(unit, ex.tree)) {
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
    private TensorIr derive(TensorIr t, String call, int[] shape, Source where) {
      TensorIr root = t.isDerived() ? tensors.byValue(TensorIr.valueName(t.derived().of())) : t;
      return tensors.derived(root, (t.isDerived() ? t.derived().calls() : "") + call, shape, where);
    }

    /** The shape eager mode's {@code name(sizes)} gives a tensor of {@code shape}; an exception saying why it fails. */
    private static int[] calledShape(int[] shape, String name, int[] sizes) {
      int rank = shape.length;
      int wanted = switch (name) {
        case "narrow", "slice" -> 3;
        case "select" -> 2;
        case "unsqueeze" -> 1;
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
    private static String call(String method, int[] args) {
      return "." + method + "(" + Arrays.stream(args).mapToObj(String::valueOf).collect(Collectors.joining(", ")) + ")";
    }

    /** A float as Java source, for a derived tensor's calls: {@code 0.0f}, {@code Float.NEGATIVE_INFINITY}. */
    private static String javaFloat(float v) {
      return Float.isNaN(v) ? "Float.NaN" : v == Float.POSITIVE_INFINITY ? "Float.POSITIVE_INFINITY"
          : v == Float.NEGATIVE_INFINITY ? "Float.NEGATIVE_INFINITY" : v + "f";
    }

    private static int[] batched(int[] sample) {
      int[] s = new int[sample.length + 1];
      s[0] = -1;
      System.arraycopy(sample, 0, s, 1, sample.length);
      return s;
    }

    private static ExpressionTree stripped(ExpressionTree e) {
      while (e instanceof ParenthesizedTree p) {
        e = p.getExpression();
      }
      return e;
    }

    /** {@code Tensor.cat(List.of(a, b, ...), dim)}: a step reading every listed value; null after an error. */
    private String cat(MethodInvocationTree mi, CompilationUnitTree unit, Map<String, LayerNode> fields, String className) {
      ExpressionTree listed = mi.getArguments().get(0);
      while (listed instanceof ParenthesizedTree p) {
        listed = p.getExpression();
      }
      Element of = listed instanceof MethodInvocationTree l ? trees.getElement(TreePath.getPath(unit, l)) : null;
      if (!(of instanceof ExecutableElement e && e.getSimpleName().contentEquals("of")
          && ((TypeElement) e.getEnclosingElement()).getQualifiedName().contentEquals("java.util.List"))
          || ((MethodInvocationTree) listed).getArguments().isEmpty()) {
        diagnostics.error(unit, listed, Message.CAT_LIST, mi, listed);
        return null;
      }
      List<Object> dim = constants(List.of(mi.getArguments().get(1)), mi.toString(), "cat", unit);
      if (dim == null) {
        return null;
      }
      if (!(dim.get(0) instanceof Integer d)) {
        diagnostics.error(unit, mi.getArguments().get(1), Message.UNSUPPORTED_FUNCTION, "Tensor.cat: the dimension must be an int, got "
            + dim.get(0));
        return null;
      }
      List<String> inputs = new ArrayList<>();
      for (ExpressionTree a : ((MethodInvocationTree) listed).getArguments()) {
        String value = expression(a, unit, fields, className);
        if (value == null) {
          return null;
        }
        inputs.add(value);
      }
      return step(inputs, new Cat(d), null, mi.toString(), source(unit, mi));
    }

    /**
     * Whether a Tensor method call {@code h.name(args)} has an F function the compiler reads, taking
     * the receiver first: {@code h.add(x)} of a tensor is {@code add(h, x)}, {@code h.relu()} is {@code relu(h)}.
     */
    private boolean asFunction(ExecutableElement method, MethodInvocationTree mi, CompilationUnitTree unit) {
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
    private MethodInvocationTree extremaIndices(MethodInvocationTree mi, Element method, CompilationUnitTree unit) {
      if (!(method instanceof ExecutableElement ex && ex.getSimpleName().contentEquals("indices") && mi.getArguments().isEmpty()
          && ((TypeElement) ex.getEnclosingElement()).getQualifiedName().contentEquals("dev.kiln.runtime.ValuesAndIndices")
          && mi.getMethodSelect() instanceof MemberSelectTree ms && stripped(ms.getExpression()) instanceof MethodInvocationTree of
          && of.getMethodSelect() instanceof MemberSelectTree ofSelect
          && trees.getElement(TreePath.getPath(unit, of)) instanceof ExecutableElement extrema
          && ((TypeElement) extrema.getEnclosingElement()).getQualifiedName().contentEquals(TENSOR)
          && Set.of("max", "min", "topk", "sort").contains(extrema.getSimpleName().toString())
          && !of.getArguments().isEmpty() && ofSelect.getExpression() != null)) {
        return null;
      }
      return of;
    }

    /** Whether javac types {@code e} as a Tensor. */
    private boolean isTensor(ExpressionTree e, CompilationUnitTree unit) {
      TypeMirror t = trees.getTypeMirror(TreePath.getPath(unit, e));
      return t != null && types.isSameType(t, type(TENSOR));
    }

    /** The F function a Tensor method is written as: {@code x.view(...)} is {@code reshape(x, ...)}, others their name. */
    private static String functionName(ExecutableElement method) {
      String name = method.getSimpleName().toString();
      return name.equals("view") ? "reshape" : name;
    }

    /** Whether {@code e} calls the outputs method: {@code m(x)}, {@code m(x).output()}, {@code m(x)[0]}. */
    private boolean callsOutputs(ExpressionTree e, CompilationUnitTree unit) {
      if (e instanceof ArrayAccessTree aa) {
        return callsOutputs(aa.getExpression(), unit);
      }
      if (e instanceof MemberSelectTree field) {
        return callsOutputs(field.getExpression(), unit);
      }
      if (!(e instanceof MethodInvocationTree mi)) {
        return false;
      }
      if (outputsMethod.equals(trees.getElement(TreePath.getPath(unit, mi)))) {
        return true;
      }
      return mi.getMethodSelect() instanceof MemberSelectTree ms && callsOutputs(ms.getExpression(), unit);
    }

    /**
     * {@code F.name(args)}, or a Tensor method {@code args[0].name(rest)} read as that function: a
     * step of one value and constant arguments, or of two values (an add, a mul, a matmul).
     */
    private String function(MethodInvocationTree mi, String name, List<? extends ExpressionTree> args, CompilationUnitTree unit,
        Map<String, LayerNode> fields, String className) {
      if (args.isEmpty()) {
        diagnostics.error(unit, mi, Message.UNSUPPORTED_EXPRESSION, methodName, "call " + mi.getMethodSelect() + " without a tensor");
        return null;
      }
      if (name.equals("maskedFill") && args.size() == 3) {
        return maskedFill(mi, args, unit, fields, className);
      }
      if (name.equals("scaledDotProductAttention")) {
        return scaledDotProductAttention(mi, args, unit, fields, className);
      }
      if (name.equals("cosineSimilarity")) {
        return cosineSimilarity(mi, args, unit, fields, className);
      }
      if ((name.equals("conv2d") || name.equals("conv1d")) && (args.size() == 3 || args.size() == 5 || args.size() == 7)) {
        return functionalConv(mi, name, args, unit, fields, className); // F.conv2d(x, w, b, ...) of tensor fields
      }
      if (name.equals("lerp") && args.size() == 3) {
        return lerp(mi, args, unit, fields, className);
      }
      if (name.equals("groupNorm") && (args.size() == 2 || args.size() == 5)) {
        return functionalGroupNorm(mi, args, unit, fields, className); // F.groupNorm(x, groups[, w, b, eps]) of tensor fields
      }
      if ((name.equals("dropout") || name.equals("dropout2d")) && args.size() == 3 && mode != null
          && foldHereOrNull(args.get(2), unit, fields) instanceof Boolean training) {
        return functionalDropout(mi, name, args, training, unit, fields, className); // F.dropout(x, p, isTraining())
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
        String a = expression(args.get(0), unit, fields, className);
        String b = expression(args.get(1), unit, fields, className);
        if (a == null || b == null) {
          return null;
        }
        return step(List.of(a, b), joining, null, mi.toString(), source(unit, mi));
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
      String input = name.equals("reshape") ? expression(args.get(0), unit, fields, className) : null; // (its shape for view(B, -1))
      if (name.equals("reshape") && input == null) {
        return null;
      }
      List<Object> constants = name.equals("reshape") ? viewSizes(args.subList(1, args.size()), mi.toString(), unit, input) // x.view(B, T, C)
          : constants(args.subList(1, args.size()), mi.toString(), name, unit);
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
      input = input != null ? input : expression(args.get(0), unit, fields, className);
      return input == null ? null : step(input, spec, null, mi.toString(), source(unit, mi));
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
      List<Object> weight = constants(List.of(args.get(2)), mi.toString(), "lerp", unit);
      if (weight == null) {
        return null;
      }
      float w = ((Number) weight.get(0)).floatValue();
      if (!Float.isFinite(w)) {
        diagnostics.error(unit, args.get(2), Message.UNSUPPORTED_FUNCTION, mi + ": the weight must be a finite float, got " + w);
        return null;
      }
      String start = expression(args.get(0), unit, fields, className);
      String end = expression(args.get(1), unit, fields, className);
      if (start == null || end == null) {
        return null;
      }
      Source where = source(unit, mi);
      String diff = step(List.of(end, start), new Sub(), null, mi.toString(), where);
      return Math.abs(w) < 0.5f
          ? step(List.of(start, step(diff, Scale.times(w), null, mi.toString(), where)), new Add(), null, mi.toString(), where)
          : step(List.of(end, step(diff, Scale.times(1f - w), null, mi.toString(), where)), new Sub(), null, mi.toString(), where);
    }

    /**
     * {@code start.lerp(end, weight)} of a tensor of weights: eager's {@code PointwiseOps.lerp} as steps, {@code where(|w| <
     * 0.5, start + w (end - start), end - (end - start)(1 - w))}, the mask {@code w > -0.5 and w < 0.5} (eager's {@code |w| <
     * 0.5} without a step of |w| read only as a mask; a NaN weight false in both) and {@code 1 - w} as {@code -w + 1}
     * ({@code w * -1}, eager's neg). Null after an error.
     */
    private String lerpByTensor(MethodInvocationTree mi, List<? extends ExpressionTree> args, CompilationUnitTree unit,
        Map<String, LayerNode> fields, String className) {
      String start = expression(args.get(0), unit, fields, className);
      String end = expression(args.get(1), unit, fields, className);
      String w = expression(args.get(2), unit, fields, className);
      if (start == null || end == null || w == null) {
        return null;
      }
      String written = mi.toString();
      Source where = source(unit, mi);
      String diff = step(List.of(end, start), new Sub(), null, written, where);
      String small = step(List.of(step(w, new Compare(MaskTest.GT, -0.5f), null, written, where),
          step(w, new Compare(MaskTest.LT, 0.5f), null, written, where)), new Compare(MaskTest.AND, 0f), null, written, where);
      String low = step(List.of(start, step(List.of(w, diff), new Mul(), null, written, where)), new Add(), null, written, where);
      String rest = step(step(w, Scale.times(-1f), null, written, where), dev.kiln.processor.ir.Shift.plus(1f), null, written, where);
      String high = step(List.of(end, step(List.of(diff, rest), new Mul(), null, written, where)), new Sub(), null, written, where);
      return step(List.of(low, high, small), new Where(written), null, written, where);
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
      List<Object> constants = constants(args.subList(3, args.size()), mi.toString(), name, unit);
      if (constants == null) {
        return null;
      }
      if (constants.stream().anyMatch(c -> !(c instanceof Integer))) {
        diagnostics.error(unit, mi, Message.FUNCTIONAL_SHAPES, mi, "stride, padding, dilation and groups must be ints, got "
            + constants);
        return null;
      }
      String input = expression(args.get(0), unit, fields, className);
      String layer = image ? "Conv2d" : "Conv1d";
      TensorIr weight = fieldArgument(mi, "F." + name, args.get(1), "weight", image ? "Tensor.randn(O, C, k, k).mul(0.1f)"
          : "Tensor.randn(O, C, k).mul(0.1f)", layer, unit, fields, className);
      boolean withBias = stripped(args.get(2)).getKind() != Tree.Kind.NULL_LITERAL;
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
      return step(inputs, spec, null, mi.toString(), source(unit, mi));
    }

    /**
     * {@code F.groupNorm(x, groups)} or {@code F.groupNorm(x, groups, weight, bias, eps)}, the weight and bias tensor fields
     * of the model or null: a {@link GroupNormOf} step reading x, then the weight and the bias it has. Null after an error.
     */
    private String functionalGroupNorm(MethodInvocationTree mi, List<? extends ExpressionTree> args, CompilationUnitTree unit,
        Map<String, LayerNode> fields, String className) {
      List<Object> constants = constants(args.size() == 2 ? List.of(args.get(1)) : List.of(args.get(1), args.get(4)), mi.toString(),
          "groupNorm", unit);
      if (constants == null) {
        return null;
      }
      if (!(constants.get(0) instanceof Integer groups) || constants.size() > 1 && !(constants.get(1) instanceof Number)) {
        diagnostics.error(unit, mi, Message.FUNCTIONAL_SHAPES, mi, "the groups must be an int and eps a number, got " + constants);
        return null;
      }
      String input = expression(args.get(0), unit, fields, className);
      boolean withWeight = args.size() == 5 && stripped(args.get(2)).getKind() != Tree.Kind.NULL_LITERAL;
      boolean withBias = args.size() == 5 && stripped(args.get(3)).getKind() != Tree.Kind.NULL_LITERAL;
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
      return step(inputs, spec, null, mi.toString(), source(unit, mi));
    }

    /**
     * The weight or bias of a functional convolution or group norm ({@code function}, e.g. {@code "F.conv2d"}): a tensor field
     * of the model read as it is, else an error naming how to declare one ({@code example}, its creation) or the layer to
     * use; null after an error.
     */
    private TensorIr fieldArgument(MethodInvocationTree mi, String function, ExpressionTree arg, String role, String example,
        String layer, CompilationUnitTree unit, Map<String, LayerNode> fields, String className) {
      String value = expression(arg, unit, fields, className);
      if (value == null) {
        return null;
      }
      TensorIr t = tensors == null ? null : tensors.byValue(value);
      if (t == null || t.isDerived()) {
        String name = role.equals("bias") ? "b" : "w";
        diagnostics.error(unit, arg, Message.FUNCTIONAL_TENSOR, mi, function, role, name, name, example,
            role.equals("weight") && function.startsWith("F.conv") ? "" : " or null", arg, layer);
        return null;
      }
      return t;
    }

    // -------------------------------------------------------------- integer arithmetic of ids

    /**
     * The name of a Tensor call of integer arithmetic that may be of ids: {@code add(int)}, {@code sub(int)}, {@code
     * mul(int)}, {@code clamp(int, int)}, {@code clampMin(int)}, {@code clampMax(int)}, {@code floorDivide(int)}, {@code
     * remainder(int)} (the int overloads javac chose: {@code x.add(1f)} is a float's), {@code neg()}, {@code abs()}; else
     * null.
     */
    private String idArithmetic(Element method) {
      if (!(method instanceof ExecutableElement ex) || ex.getModifiers().contains(Modifier.STATIC)
          || !((TypeElement) ex.getEnclosingElement()).getQualifiedName().contentEquals(TENSOR)) {
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
    private String idArithmeticStep(MethodInvocationTree mi, String name, CompilationUnitTree unit, Map<String, LayerNode> fields,
        String className) {
      List<Object> constants = constants(mi.getArguments(), mi.toString(), name, unit);
      if (constants == null) {
        return null;
      }
      LayerSpec floatForm = null;
      if (LayerCatalog.knowsFunction(name, constants.size())) {
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
      String input = expression(((MemberSelectTree) mi.getMethodSelect()).getExpression(), unit, fields, className);
      return input == null ? null : step(input, spec, null, mi.toString(), source(unit, mi));
    }

    /**
     * The operand of {@code mi} that is ids built from constants, where {@code mi} is {@code a.add(b)} ({@code sub},
     * {@code mul}, {@code floorDivide}, {@code remainder}) of two tensors and only one of them is such ids ({@code
     * ids.mul(2).add(pos)}); else null.
     */
    private ExpressionTree withConstantIds(MethodInvocationTree mi, Element method, CompilationUnitTree unit) {
      if (!(method instanceof ExecutableElement ex) || ex.getModifiers().contains(Modifier.STATIC)
          || !((TypeElement) ex.getEnclosingElement()).getQualifiedName().contentEquals(TENSOR)
          || !Set.of("add", "sub", "mul", "floorDivide", "remainder").contains(ex.getSimpleName().toString())
          || mi.getArguments().size() != 1 || !isTensor(mi.getArguments().get(0), unit)
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
    private String idsWithConstantIds(MethodInvocationTree mi, ExpressionTree constant, CompilationUnitTree unit,
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
      String input = expression(other, unit, fields, className);
      if (input == null) {
        return null;
      }
      String out = step(input, spec, null, mi.toString(), source(unit, mi));
      errorsOfFloats.put(out, () -> idsReadOtherwise(constant, unit));
      return out;
    }

    /**
     * {@code floorDivide} or {@code remainder} of {@code mi}, where it is {@code a.floorDivide(b)} ({@code remainder}) of
     * two tensors (ids by ids, which eager mode takes only of ids); else null. (An add, sub or mul of two values is read as
     * floats' and becomes ids' once both operands are found ids: {@link #resolveIdArithmetic}.)
     */
    private String idPairCall(Element method, MethodInvocationTree mi) {
      if (!(method instanceof ExecutableElement ex) || ex.getModifiers().contains(Modifier.STATIC)
          || !((TypeElement) ex.getEnclosingElement()).getQualifiedName().contentEquals(TENSOR)
          || !Set.of("floorDivide", "remainder").contains(ex.getSimpleName().toString()) || ex.getParameters().size() != 1
          || !types.isSameType(types.erasure(ex.getParameters().get(0).asType()), types.erasure(type(TENSOR)))
          || !(mi.getMethodSelect() instanceof MemberSelectTree)) {
        return null;
      }
      return ex.getSimpleName().toString();
    }

    /** {@code a.floorDivide(b)} of two values: an {@link IdOp#ofPair} step of both, in the call's order; null after an error. */
    private String idPairStep(MethodInvocationTree mi, String name, CompilationUnitTree unit, Map<String, LayerNode> fields,
        String className) {
      String a = expression(((MemberSelectTree) mi.getMethodSelect()).getExpression(), unit, fields, className);
      String b = expression(mi.getArguments().get(0), unit, fields, className);
      return a == null || b == null ? null : step(List.of(a, b), IdOp.ofPair(name, mi.toString(), null), null, mi.toString(),
          source(unit, mi));
    }

    /**
     * Once a graph is read: each {@link IdOp} whose receiver is ids stays one (the input or a further input that reaches
     * an Embedding through such steps and views, an argmax's indices, or ids so computed); one of floats becomes its float
     * step ({@code x.add(1)}), or is an error on its line where a compiled forward has none ({@code x.neg()}; {@code x.clamp(0, 1)} of floats is their clamp, {@code ir.Pointwise}).
     */
    private void resolveIdArithmetic() {
      if (list.stream().noneMatch(s -> s.spec() instanceof IdOp || IdOp.pairOfValues(s) != null)) {
        return;
      }
      Set<String> ids = IdOp.idsValues(list);
      for (int i = 0; i < list.size(); i++) {
        StepIr s = list.get(i);
        if (IdOp.pairOfValues(s) != null && ids.contains(s.output())) { // users.mul(V).add(items): ids of two values of ids
          list.set(i, new StepIr(s.output(), s.inputs(), IdOp.pairOfValues(s), s.layer(), s.text(), s.source()));
          continue;
        }
        if (!(s.spec() instanceof IdOp op) || ids.contains(s.output())) {
          continue;
        }
        if (op.floatForm() != null) {
          list.set(i, new StepIr(s.output(), s.inputs(), op.floatForm(), s.layer(), s.text(), s.source()));
          continue;
        }
        if (errorsOfFloats.containsKey(s.output())) { // x.add(pos): the constant ids read otherwise than as ids
          errorsOfFloats.get(s.output()).run();
          continue;
        }
        String floats = !op.pair() ? s.input() : s.inputs().stream() // (the operand a step made, not ids; else the first)
            .filter(v -> !ids.contains(v) && list.stream().anyMatch(t -> t.output().equals(v))).findFirst().orElse(s.input());
        String receiver = list.stream().filter(t -> t.output().equals(floats)).map(StepIr::text).findFirst()
            .orElse("the input " + floats);
        String name = op.pair() ? op.valuesMethod() : op.call().substring(0, op.call().indexOf('('));
        diagnostics.error(s.source(), Message.ID_ARITHMETIC_OF_FLOATS, s.text(), s.text(), receiver, switch (name) {
          case "neg" -> "negate floats with x.mul(-1f)";
          case "floorDivide", "remainder" -> "eager mode takes ids only too";
          default -> "a compiled forward has no float " + name + "() yet";
        });
      }
    }

    /** {@code F.cosineSimilarity(a, b[, dim, eps])}: a step of the two values, its dimension and eps constants; null after an error. */
    private String cosineSimilarity(MethodInvocationTree mi, List<? extends ExpressionTree> args, CompilationUnitTree unit,
        Map<String, LayerNode> fields, String className) {
      List<Object> constants = constants(args.subList(2, args.size()), mi.toString(), "cosineSimilarity", unit);
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
      String a = expression(args.get(0), unit, fields, className);
      String b = expression(args.get(1), unit, fields, className);
      return a == null || b == null ? null : step(List.of(a, b), spec, null, mi.toString(), source(unit, mi));
    }

    // ------------------------------------------------------------------ split and chunk

    /**
     * Reads a statement about a split's pieces and says whether it did: {@code Tensor[] qkv = x.split(D, 2);} (a
     * declaration, or the first assignment of a declared array) names the pieces, whose steps come where forward
     * reads them ({@link #piece}); an assignment of such an array or of one of its pieces, and a use of it other
     * than {@code qkv[constant]}, are errors on their line.
     */
    private boolean piecesStatement(StatementTree s, CompilationUnitTree unit, Map<String, LayerNode> fields, String className) {
      if (s instanceof ExpressionStatementTree es && es.getExpression() instanceof AssignmentTree a) {
        ExpressionTree target = a.getVariable() instanceof ArrayAccessTree aa ? aa.getExpression() : a.getVariable();
        String name = target instanceof IdentifierTree id ? id.getName().toString() : null;
        if (pieces.containsKey(name) || brokenPieces.contains(name)) {
          diagnostics.error(unit, s, Message.PIECES_REASSIGNED, name, splitText(name), methodName, firstLine(es.getExpression()));
          return true;
        }
      }
      if (misusesPieces(s, unit)) {
        if (s instanceof VariableTree v) {
          assign(v.getName().toString(), null);
        } else if (s instanceof ExpressionStatementTree es && es.getExpression() instanceof AssignmentTree a
            && a.getVariable() instanceof IdentifierTree target) {
          assign(target.getName().toString(), null);
        }
        return true;
      }
      String name = null;
      ExpressionTree value = null;
      if (s instanceof VariableTree v && v.getInitializer() != null) {
        name = v.getName().toString();
        value = v.getInitializer();
      } else if (s instanceof ExpressionStatementTree es && es.getExpression() instanceof AssignmentTree a
          && a.getVariable() instanceof IdentifierTree target) {
        name = target.getName().toString();
        value = a.getExpression();
      }
      MethodInvocationTree call = value == null ? null : splitCall(value, unit);
      if (call == null) {
        return false;
      }
      Pieces p = split(call, unit, fields, className);
      if (p == null) {
        brokenPieces.add(name);
      } else {
        pieces.put(name, p);
      }
      return true;
    }

    /** Reports each use of a piece array in {@code s} other than {@code qkv[i]}; whether there was one. */
    private boolean misusesPieces(StatementTree s, CompilationUnitTree unit) {
      if (pieces.isEmpty() && brokenPieces.isEmpty()) {
        return false;
      }
      boolean[] found = {false};
      new TreePathScanner<Void, Void>() {
        @Override public Void visitIdentifier(IdentifierTree node, Void unused) {
          String name = node.getName().toString();
          Tree parent = getCurrentPath().getParentPath().getLeaf();
          if ((pieces.containsKey(name) || brokenPieces.contains(name))
              && trees.getElement(getCurrentPath()) instanceof VariableElement v && v.getKind() == ElementKind.LOCAL_VARIABLE
              && !(parent instanceof ArrayAccessTree aa && aa.getExpression() == node)) {
            diagnostics.error(unit, node, Message.PIECES_MISUSE, name, splitText(name), methodName, name, name, describe(parent));
            found[0] = true;
          }
          return null;
        }
      }.scan(TreePath.getPath(unit, s), null);
      return found[0];
    }

    /** The split call a piece array holds, for messages. */
    private String splitText(String name) {
      Pieces p = pieces.get(name);
      return p != null ? p.split().text() : "a split";
    }

    /** The local an array access reads ({@code qkv} of {@code qkv[0]}), or null. */
    private static String arrayName(ArrayAccessTree aa) {
      ExpressionTree array = aa.getExpression();
      while (array instanceof ParenthesizedTree p) {
        array = p.getExpression();
      }
      return array instanceof IdentifierTree id ? id.getName().toString() : null;
    }

    /** {@code e} as a call of Tensor's {@code split}, {@code chunk} or {@code unbind}, or null. */
    private MethodInvocationTree splitCall(ExpressionTree e, CompilationUnitTree unit) {
      while (e instanceof ParenthesizedTree p) {
        e = p.getExpression();
      }
      return e instanceof MethodInvocationTree mi && mi.getMethodSelect() instanceof MemberSelectTree
          && trees.getElement(TreePath.getPath(unit, mi)) instanceof ExecutableElement ex
          && (ex.getSimpleName().contentEquals("split") || ex.getSimpleName().contentEquals("chunk")
              || ex.getSimpleName().contentEquals("unbind"))
          && ((TypeElement) ex.getEnclosingElement()).getQualifiedName().contentEquals(TENSOR)
          && !ex.getModifiers().contains(Modifier.STATIC) ? mi : null;
    }

    /**
     * {@code x.split(size, dim)}, {@code x.split(new int[] {...}, dim)}, {@code x.chunk(n, dim)} or {@code x.unbind(dim)}: its source's
     * steps and the split, its arguments constants; null after an error (reported).
     */
    private Pieces split(MethodInvocationTree mi, CompilationUnitTree unit, Map<String, LayerNode> fields, String className) {
      String name = ((MemberSelectTree) mi.getMethodSelect()).getIdentifier().toString();
      List<Object> args = constants(mi.getArguments(), mi.toString(), name, unit);
      if (args == null) {
        return null;
      }
      Split.Kind kind = name.equals("unbind") ? Split.Kind.UNBIND : name.equals("chunk") ? Split.Kind.CHUNKS
          : args.get(0) instanceof int[] ? Split.Kind.LENGTHS : Split.Kind.SIZE;
      if (!(args.get(args.size() - 1) instanceof Integer dim) || kind != Split.Kind.LENGTHS && !(args.get(0) instanceof Integer)) {
        diagnostics.error(unit, mi, Message.UNSUPPORTED_FUNCTION, mi + ": " + name + " takes int arguments, not " + args);
        return null;
      }
      int size = kind == Split.Kind.LENGTHS || kind == Split.Kind.UNBIND ? 0 : (Integer) args.get(0);
      int[] given = kind == Split.Kind.LENGTHS ? (int[]) args.get(0) : new int[0];
      Split split = new Split(kind, size, given, dim, ++splits, mi.toString(), source(unit, mi));
      if (split.argumentError() != null) {
        diagnostics.error(unit, mi, Message.UNSUPPORTED_FUNCTION, mi + ": " + split.argumentError());
        return null;
      }
      String value = expression(((MemberSelectTree) mi.getMethodSelect()).getExpression(), unit, fields, className);
      return value == null ? null : new Pieces(value, split, new HashMap<>());
    }

    /**
     * {@code qkv[i]} of a piece array, or {@code x.chunk(2, -1)[i]} of a split written in place: the piece's step
     * (one per piece however often it is read); null after an error.
     */
    private String piece(ArrayAccessTree aa, CompilationUnitTree unit, Map<String, LayerNode> fields, String className) {
      String name = arrayName(aa);
      if (brokenPieces.contains(name)) {
        return null;
      }
      Object index = foldOrNull(aa.getIndex(), unit);
      if (!(index instanceof Integer i) || i < 0) {
        if (!unresolved(unit, aa.getIndex())) {
          diagnostics.error(unit, aa, Message.PIECE_INDEX, aa, index == null ? aa.getIndex() : index);
        }
        return null;
      }
      Pieces p = pieces.containsKey(name) ? pieces.get(name) : split(splitCall(aa.getExpression(), unit), unit, fields, className);
      if (p == null) {
        return null;
      }
      String known = p.read().get(i);
      if (known != null) {
        return known;
      }
      String text = p.split().text() + "[" + i + "]";
      String out = step(p.value(), new Split.Piece(p.split(), i), null, text, source(unit, aa));
      p.read().put(i, out);
      return out;
    }

    // -------------------------------------------------------------- ids built in forward (GPT-2's positions)

    /** Locals holding ids built from constants ({@code Tensor pos = Tensor.labels(IntStream.range(0, S).toArray());}), as written. */
    private final Map<String, ExpressionTree> idsLocals = new HashMap<>();

    /** The ids a local or an expression holds: their values in order, eager mode's shape, the expression as written. */
    private record BuiltIds(int[] ids, int[] shape, String text) {}

    /**
     * Whether {@code e} is ids built in forward: {@code Tensor.labels(...)}, a local holding them, or a view of those
     * ({@code view}, {@code reshape}, {@code unsqueeze}).
     */
    private boolean isConstantIds(ExpressionTree e, CompilationUnitTree unit) {
      e = stripped(e);
      if (e instanceof IdentifierTree id) {
        return idsLocals.containsKey(id.getName().toString());
      }
      if (!(e instanceof MethodInvocationTree mi) || !(mi.getMethodSelect() instanceof MemberSelectTree ms)) {
        return false;
      }
      if (isTensorMethod(mi, unit, true)) {
        return ms.getIdentifier().contentEquals("labels");
      }
      if (isTensorMethod(mi, unit, false) && onDeviceOf(mi)) { // nanoGPT's torch.arange(0, t, device=device)
        return isConstantIds(ms.getExpression(), unit);
      }
      if (idArithmetic(trees.getElement(TreePath.getPath(unit, mi))) != null) { // pos.add(2): ids computed from constants
        return isConstantIds(ms.getExpression(), unit);
      }
      return isTensorMethod(mi, unit, false) && Set.of("view", "reshape", "unsqueeze").contains(ms.getIdentifier().toString())
          && isConstantIds(ms.getExpression(), unit);
    }

    /**
     * Whether {@code mi} is {@code .to(t.device())}: the ids moved to another tensor's device, as a model that runs on
     * CUDA in eager mode writes them. The compiled step places its ids on the model's device itself, so it reads the ids
     * as they were.
     */
    private static boolean onDeviceOf(MethodInvocationTree mi) {
      return mi.getMethodSelect() instanceof MemberSelectTree ms && ms.getIdentifier().contentEquals("to")
          && mi.getArguments().size() == 1 && stripped(mi.getArguments().get(0)) instanceof MethodInvocationTree arg
          && arg.getArguments().isEmpty() && arg.getMethodSelect() instanceof MemberSelectTree device
          && device.getIdentifier().contentEquals("device");
    }

    /** {@code Tensor pos = Tensor.labels(...)}: the local holds the ids, read where an Embedding looks them up (checked there). */
    private void holdIds(String local, ExpressionTree ids, CompilationUnitTree unit) {
      assign(local, null);
      unknown.remove(local);
      idsLocals.put(local, ids);
    }

    /** Ids built in forward read otherwise than by an Embedding: an error naming them. */
    private void idsReadOtherwise(ExpressionTree e, CompilationUnitTree unit) {
      ExpressionTree root = stripped(e);
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
    private String lookUpConstantIds(LayerIr layer, Embedding.Spec embedding, MethodInvocationTree call, CompilationUnitTree unit) {
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
      return step(inputName, new ConstantIds(embedding, ids.ids(), ids.shape(), ids.text()), layer, call.toString(), source(unit, call));
    }

    /** The ids {@code e} builds, folded, with eager mode's shape; null after an error (reported). */
    private BuiltIds builtIds(ExpressionTree e, CompilationUnitTree unit, String label) {
      e = stripped(e);
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
      List<Object> args = constants(mi.getArguments(), label, name, unit);
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
     * The values of {@code Tensor.labels(...)}: constants written in the call, a constant {@code int[]}, or {@code
     * IntStream.range(a, b).toArray()} ({@code rangeClosed}) of constants; null after an error (reported).
     */
    private int[] labelValues(MethodInvocationTree labels, CompilationUnitTree unit, String label) {
      List<? extends ExpressionTree> args = labels.getArguments();
      if (args.size() == 1 && stripped(args.get(0)) instanceof MethodInvocationTree toArray
          && toArray.getMethodSelect() instanceof MemberSelectTree ta && ta.getIdentifier().contentEquals("toArray")
          && toArray.getArguments().isEmpty() && stripped(ta.getExpression()) instanceof MethodInvocationTree range
          && range.getMethodSelect() instanceof MemberSelectTree rs && range.getArguments().size() == 2
          && trees.getElement(TreePath.getPath(unit, range)) instanceof ExecutableElement r
          && ((TypeElement) r.getEnclosingElement()).getQualifiedName().contentEquals("java.util.stream.IntStream")
          && (rs.getIdentifier().contentEquals("range") || rs.getIdentifier().contentEquals("rangeClosed"))) {
        List<Object> bounds = constants(range.getArguments(), label, "IntStream." + rs.getIdentifier(), unit);
        if (bounds == null) {
          return null;
        }
        int from = ((Number) bounds.get(0)).intValue();
        int to = ((Number) bounds.get(1)).intValue() + (rs.getIdentifier().contentEquals("rangeClosed") ? 1 : 0);
        if (to <= from) {
          diagnostics.error(unit, range, Message.CONSTANT_IDS, label, range + " holds no id");
          return null;
        }
        return java.util.stream.IntStream.range(from, to).toArray();
      }
      List<Object> values = new ArrayList<>();
      for (ExpressionTree a : args) {
        Object v = foldOrNull(a, unit);
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

    // -------------------------------------------------------------- blocks, ModuleList and loops over it

    /** Applies a layer node to {@code input} at {@code call}: a layer's step, a Sequential's, a block inlined; null after an error. */
    // -------------------------------------------------------------- attention layers (AttentionLayers)

    /** The steps the attention layers' expansion writes: this reader's, at {@code where}. */
    private AttentionLayers.Writer attentionWriter(Source where) {
      return new AttentionLayers.Writer() {
        @Override public String step(List<String> inputs, LayerSpec spec, LayerIr layer, String text) {
          return Steps.this.step(inputs, spec, layer, text, where);
        }

        @Override public int[] shapeOf(String value) {
          return sizes().shapeOf(value);
        }

        @Override public String tensor(TensorIr t) {
          attentionTensors.putIfAbsent(t.field(), t);
          return t.value();
        }

        @Override public int split() {
          return ++splits;
        }

        @Override public Boolean training(String owner) {
          if (mode == null) {
            return null;
          }
          mode.reads.add(new Modes.Read(owner, where));
          return mode.training;
        }

        @Override public Source where() {
          return where;
        }
      };
    }

    /** The attention layer {@code att} applied to {@code input} (self-attention, the encoder layer or layers); null after an error. */
    private String applyAttention(Att att, String input, Source where) {
      return applyAttention(att, input, null, null, where);
    }

    /**
     * As {@link #applyAttention(Att, String, Source)}, with the float attention mask {@code mask} (a tensor field's value, or
     * null) and key padding mask {@code padding} (a value of the batch {@code [N, S]}, or null).
     */
    private String applyAttention(Att att, String input, String mask, String padding, Source where) {
      AttentionLayers.Writer w = attentionWriter(where);
      try {
        if (att.spec() instanceof MultiheadAttention.Spec s) {
          return AttentionLayers.attention(w, att.path(), s, att.layers(), input, input, input, mask, padding);
        }
        if (att.spec() instanceof TransformerDecoderLayer.Spec) { // apply(tgt): eager refuses it too
          throw new AttentionLayers.Unsupported(att.path() + ": " + (att.count() == 0 ? att.spec() : "TransformerDecoder")
              + " needs the encoder's output too: call forward(tgt, memory) or forward(tgt, memory, tgtMask, memoryMask,"
              + " tgtKeyPaddingMask, memoryKeyPaddingMask)");
        }
        TransformerEncoderLayer.Spec s = (TransformerEncoderLayer.Spec) att.spec();
        return stack(att, input, where, (path, x) -> AttentionLayers.encoderLayer(w, path, s, att.layers(), x, mask, padding));
      } catch (AttentionLayers.Unsupported e) {
        diagnostics.error(where, Message.ATTENTION_NOT_COMPILED, e.getMessage());
        return null;
      }
    }

    /**
     * The attention layer a call of its PyTorch forms applies ({@code mha.forward(q, k, v[, keyPaddingMask, needWeights,
     * attnMask[, average]]).output()} or {@code .weights()}, a bare {@code mha.forward(q, k, v)}, {@code enc.forward(x,
     * mask, padding)}), else null: the one-input {@code apply(x)} and {@code forward(x)} are {@link #applyNode}'s.
     */
    private Att attentionCall(MethodInvocationTree mi, Map<String, LayerNode> fields) {
      MethodInvocationTree call = mi;
      if (mi.getMethodSelect() instanceof MemberSelectTree out && mi.getArguments().isEmpty()
          && (out.getIdentifier().contentEquals("output") || out.getIdentifier().contentEquals("weights"))
          && stripped(out.getExpression()) instanceof MethodInvocationTree inner) {
        call = inner;
      }
      if (!(call.getMethodSelect() instanceof MemberSelectTree ms) || !ms.getIdentifier().contentEquals("forward")
          || call.getArguments().size() < 2) {
        return null;
      }
      String field = fieldName(ms.getExpression());
      return field != null && fields.get(field) instanceof Att att
          && (call.getArguments().size() >= 3 || att.spec() instanceof TransformerDecoderLayer.Spec) ? att : null;
    }

    /**
     * {@code mha.forward(q, k, v, null, needWeights, attnMask).output()} and {@code enc.forward(x, mask, null)}: the layer's
     * expansion, a mask a tensor field or null; any other form an error naming what is not compiled.
     */
    private String attentionForward(MethodInvocationTree mi, Att att, CompilationUnitTree unit, Map<String, LayerNode> fields,
        String className) {
      MethodInvocationTree call = mi.getArguments().isEmpty() ? (MethodInvocationTree) stripped(
          ((MemberSelectTree) mi.getMethodSelect()).getExpression()) : mi;
      List<? extends ExpressionTree> args = call.getArguments();
      if (att.spec() instanceof TransformerDecoderLayer.Spec) {
        return decoderForward(mi, att, args, unit, fields, className);
      }
      boolean attention = att.spec() instanceof MultiheadAttention.Spec;
      if (attention && call == mi) {
        diagnostics.error(unit, mi, Message.ATTENTION_NOT_COMPILED, mi + " returns the output and the weights; compiled, call"
            + " .output() on it where it is called (" + mi + ".output())");
        return null;
      }
      if (attention && ((MemberSelectTree) mi.getMethodSelect()).getIdentifier().contentEquals("weights")) {
        diagnostics.error(unit, mi, Message.ATTENTION_NOT_COMPILED, mi + ": the attention weights are not compiled, only the"
            + " output (" + call + ".output()); leave out @Model to read the weights in eager mode");
        return null;
      }
      String padding = maskArgument(attention ? (args.size() >= 6 ? args.get(3) : null) : args.get(2), unit, fields, className);
      String mask = maskArgument(attention ? (args.size() >= 6 ? args.get(5) : null) : args.get(1), unit, fields, className);
      if (padding == null || mask == null) {
        return null;
      }
      padding = padding.isEmpty() ? null : padding;
      mask = mask.isEmpty() ? null : mask;
      if (!attention) {
        String input = expression(args.get(0), unit, fields, className);
        return input == null ? null : applyAttention(att, input, mask, padding, source(unit, mi));
      }
      String[] qkv = queryKeyValue(args, unit, fields, className);
      if (qkv == null) {
        return null;
      }
      try {
        return AttentionLayers.attention(attentionWriter(source(unit, mi)), att.path(), (MultiheadAttention.Spec) att.spec(),
            att.layers(), qkv[0], qkv[1], qkv[2], mask, padding);
      } catch (AttentionLayers.Unsupported e) {
        diagnostics.error(unit, mi, Message.ATTENTION_NOT_COMPILED, e.getMessage());
        return null;
      }
    }

    /** One transformer block's expansion at {@code path} over {@code x}. */
    private interface Block {
      String apply(String path, String x) throws AttentionLayers.Unsupported;
    }

    /**
     * A transformer block ({@code att.count()} 0) or stack applied to {@code x}: each copy at {@code layers.i} in turn, then
     * the stack's norm; null after an error.
     */
    private String stack(Att att, String x, Source where, Block block) throws AttentionLayers.Unsupported {
      if (att.count() == 0) {
        return block.apply(att.path(), x);
      }
      for (int i = 0; i < att.count() && x != null; i++) {
        x = block.apply(att.path() + ".layers." + i, x);
      }
      return x == null || att.norm() == null ? x : step(x, att.norm().spec(), att.norm(), att.norm().path(), where);
    }

    /**
     * {@code dec.forward(tgt, memory[, tgtMask, memoryMask, tgtKeyPaddingMask, memoryKeyPaddingMask])} of a decoder layer or
     * a TransformerDecoder: each layer's expansion over the same memory and masks, then the stack's norm; null after an error.
     */
    private String decoderForward(MethodInvocationTree mi, Att att, List<? extends ExpressionTree> args, CompilationUnitTree unit,
        Map<String, LayerNode> fields, String className) {
      String[] masks = new String[4]; // tgtMask, memoryMask, tgtKeyPaddingMask, memoryKeyPaddingMask
      for (int i = 0; i < 4; i++) {
        masks[i] = maskArgument(args.size() == 6 ? args.get(2 + i) : null, unit, fields, className);
        if (masks[i] == null) {
          return null;
        }
        masks[i] = masks[i].isEmpty() ? null : masks[i];
      }
      String x = expression(args.get(0), unit, fields, className);
      String memory = expression(args.get(1), unit, fields, className);
      if (x == null || memory == null) {
        return null;
      }
      Source where = source(unit, mi);
      AttentionLayers.Writer w = attentionWriter(where);
      TransformerDecoderLayer.Spec s = (TransformerDecoderLayer.Spec) att.spec();
      try {
        return stack(att, x, where, (path, h) -> AttentionLayers.decoderLayer(w, path, s, att.layers(), h, memory, masks[0],
            masks[1], masks[2], masks[3]));
      } catch (AttentionLayers.Unsupported e) {
        diagnostics.error(unit, mi, Message.ATTENTION_NOT_COMPILED, e.getMessage());
        return null;
      }
    }

    /** The values of an attention call's first three arguments (query, key, value); null where one was reported. */
    private String[] queryKeyValue(List<? extends ExpressionTree> args, CompilationUnitTree unit, Map<String, LayerNode> fields,
        String className) {
      String q = expression(args.get(0), unit, fields, className);
      String k = expression(args.get(1), unit, fields, className);
      String v = expression(args.get(2), unit, fields, className);
      return q == null || k == null || v == null ? null : new String[] {q, k, v};
    }

    /** The value of a mask argument ({@code pad}), {@code ""} for none (absent, or {@code null}); null after an error (reported). */
    private String maskArgument(ExpressionTree mask, CompilationUnitTree unit, Map<String, LayerNode> fields, String className) {
      return mask == null || stripped(mask).getKind() == Tree.Kind.NULL_LITERAL ? "" : expression(mask, unit, fields, className);
    }

    /** {@code F.scaledDotProductAttention(q, k, v[, attnMask, dropoutP, isCausal])}; null after an error (reported). */
    private String scaledDotProductAttention(MethodInvocationTree mi, List<? extends ExpressionTree> args, CompilationUnitTree unit,
        Map<String, LayerNode> fields, String className) {
      String mask = maskArgument(args.size() == 6 ? args.get(3) : null, unit, fields, className);
      if (mask == null) {
        return null;
      }
      mask = mask.isEmpty() ? null : mask;
      List<Object> options = args.size() == 6 ? constants(args.subList(4, 6), mi.toString(), "scaledDotProductAttention", unit)
          : List.of(0.0, false);
      if (options == null) {
        return null;
      }
      String[] qkv = queryKeyValue(args, unit, fields, className);
      if (qkv == null) {
        return null;
      }
      try {
        return AttentionLayers.scaledDotProduct(attentionWriter(source(unit, mi)), qkv[0], qkv[1], qkv[2], mask,
            LayerCatalog.number(options, 0),
            LayerCatalog.bool(options, 1), mi.toString());
      } catch (AttentionLayers.Unsupported | LayerCatalog.BadArguments e) {
        diagnostics.error(unit, mi, Message.ATTENTION_NOT_COMPILED, e.getMessage());
        return null;
      }
    }

    private String applyNode(LayerNode node, String input, MethodInvocationTree call, Source where, String receiver) {
      if (node instanceof Att att) {
        return applyAttention(att, input, where);
      }
      if (node instanceof Leaf leaf) {
        return step(input, leaf.layer.spec(), leaf.layer, call.toString(), where);
      }
      if (node instanceof Blk blk) {
        return inline(blk, input);
      }
      if (node instanceof Lst) {
        diagnostics.error(where.unit(), call, Message.LIST_APPLIED, receiver, receiver);
        return null;
      }
      return applySequential((Seq) node, input, call.toString(), where);
    }

    /**
     * A block's forward read in place of its call, as if written here: its layers are its children's ({@code h0.ln1}),
     * its locals its own, its parameter the value it is applied to; the value it returns, or null after an error (which
     * points at the line in the block). A block applied twice reads its one set of layers twice (shared weights).
     */
    private String inline(Blk blk, String input) {
      MethodTree forward = trees.getTree(blk.forward());
      String parameter = blk.forward().getParameters().get(0).getSimpleName().toString();
      Steps inner = new Steps(this, blk.type().getSimpleName() + ".forward", Map.of(parameter, input));
      inner.modeOwner = blk.path(); // isTraining() in a block is its own mode, which train() and eval() set with the model's
      inner.modelType = blk.type();
      inner.tensors = blk.tensors();
      inner.broken.addAll(blk.broken());
      Map<Element, Object> before = folder.bind(blk.constants());
      try {
        inner.readBody(forward.getBody(), blk.unit(), blk.fields(), blk.type().getSimpleName().toString(), null);
      } finally {
        folder.restore(before);
      }
      return resume(inner);
    }

    /** The methods being inlined, outermost first: a method that calls itself is refused. */
    private final java.util.ArrayDeque<ExecutableElement> inlining = new java.util.ArrayDeque<>();

    /**
     * Whether {@code m} is a method of the class being read (the model's, or a block's) that returns a tensor and whose
     * source is here, other than forward: a call of it is inlined ({@link #inlineMethod}).
     */
    private boolean isOwnMethod(ExecutableElement m) {
      return modelType != null && declaredHereOrAbove(m) && !m.getSimpleName().contentEquals("forward")
          && types.isSameType(m.getReturnType(), type(TENSOR)) && !m.getModifiers().contains(Modifier.ABSTRACT)
          && trees.getTree(m) != null && trees.getTree(m).getBody() != null;
    }

    /**
     * Whether {@code m} is declared by the class being read or, for a block extending another block, by one of the
     * blocks above it (an inherited helper: its source is here, it is not the dsl's).
     */
    private boolean declaredHereOrAbove(ExecutableElement m) {
      return m.getEnclosingElement() instanceof TypeElement owner && ownMember(owner);
    }

    /**
     * Whether the members {@code owner} declares are the class being read's own: it is that class or, for a block
     * extending another block, one of the blocks above it (their fields are the block's: eager mode registers them in it, as
     * PyTorch's subclass holds its base's parameters); a @Model class's base class's are not.
     */
    private boolean ownMember(TypeElement owner) {
      return owner.equals(modelType) || modelType.getAnnotation(Model.class) == null
          && !owner.getQualifiedName().toString().startsWith("dev.kiln.dsl.")
          && types.isSubtype(types.erasure(modelType.asType()), types.erasure(owner.asType()));
    }

    /**
     * The model's own method called in forward ({@code attention(h)}, {@code this.mlp(x)}), read in place of the call
     * as a block's forward is: its tensor parameters hold the arguments' values, its int (or other constant) parameters
     * fold to the arguments' constants; its locals are its own, the layers the class's. Null after an error, reported on
     * the method's line (a parameter of another kind, a method that calls itself).
     */
    private String inlineMethod(MethodInvocationTree call, ExecutableElement m, CompilationUnitTree unit, Map<String, LayerNode> fields,
        String className) {
      String name = m.getSimpleName().toString();
      if (inlining.contains(m) || m.getSimpleName().contentEquals(methodName)) {
        diagnostics.error(unit, call, Message.METHOD_RECURSION, call, name);
        return null;
      }
      Map<String, String> inputs = new HashMap<>();
      Map<Element, Object> constants = new HashMap<>();
      boolean ok = true;
      for (int i = 0; i < m.getParameters().size(); i++) {
        VariableElement p = m.getParameters().get(i);
        ExpressionTree arg = call.getArguments().get(i);
        if (types.isSameType(p.asType(), type(TENSOR))) {
          String value = expression(arg, unit, fields, className);
          ok &= value != null;
          inputs.put(p.getSimpleName().toString(), value);
        } else if (p.asType().getKind().isPrimitive() || types.isSameType(p.asType(), type(String.class.getName()))) {
          List<Object> folded = constants(List.of(arg), call.toString(), name, unit);
          ok &= folded != null;
          if (folded != null) {
            constants.put(p, folded.get(0));
          }
        } else {
          diagnostics.error(unit, arg, Message.METHOD_PARAMETER, call, p.getSimpleName(), name, p.asType());
          ok = false;
        }
      }
      if (!ok) {
        return null;
      }
      Steps inner = new Steps(this, name, inputs);
      inner.modelType = modelType;
      inner.tensors = tensors;
      inner.broken.addAll(broken);
      inner.inlining.addAll(inlining);
      inner.inlining.add(m);
      Map<Element, Object> before = folder.bind(constants);
      try {
        inner.readBody(trees.getTree(m).getBody(), trees.getPath(m).getCompilationUnit(), fields, className, null);
      } finally {
        folder.restore(before);
      }
      return resume(inner);
    }

    /** The modules of {@code h.get(i)}'s receiver, a ModuleList or Sequential field, else null. */
    private List<LayerNode> listGet(ExpressionTree e, Map<String, LayerNode> fields) {
      return stripped(e) instanceof MethodInvocationTree get && get.getMethodSelect() instanceof MemberSelectTree ms
          && ms.getIdentifier().contentEquals("get") && get.getArguments().size() == 1
          ? modules(fields.get(fieldName(ms.getExpression()))) : null;
    }

    /**
     * The modules a loop or {@code get(i)} goes over: a ModuleList's, or a Sequential field's layers (PyTorch's {@code
     * for layer in self.layers} over an {@code nn.Sequential}); null for any other node.
     */
    private List<LayerNode> modules(LayerNode node) {
      return node instanceof Lst list ? list.children() : node instanceof Seq seq ? seq.children() : null;
    }

    /** The module {@code h.get(i)} names, its index a constant (negative from the end); null after an error (reported). */
    private LayerNode listElement(MethodInvocationTree get, CompilationUnitTree unit, Map<String, LayerNode> fields) {
      List<LayerNode> list = listGet(get, fields);
      String receiver = ((MemberSelectTree) get.getMethodSelect()).getExpression().toString();
      List<Object> index = constants(get.getArguments(), get.toString(), receiver + ".get", unit);
      if (index == null) {
        return null;
      }
      int size = list.size();
      if (!(index.get(0) instanceof Integer i) || i < -size || i >= size) {
        diagnostics.error(unit, get, Message.LIST_INDEX, get, index.get(0) instanceof Number n ? n.intValue() : 0, receiver, size,
            size - 1, size);
        return null;
      }
      return list.get(i < 0 ? i + size : i);
    }

    /**
     * A loop unrolled: {@code for (Block b : h)} over a ModuleList field, its body read once per module with {@code b}
     * naming it; or {@code for (int i = a; i < b; i++)} ({@code <=}, {@code i += k}; {@code b} a constant or {@code
     * h.size()}), its body read once per value of {@code i}, a constant there. Anything else is an error on the loop.
     * Inside, an {@code if} whose condition folds there ({@code if (i == EXIT) return x;}) reads the branch it takes, and a
     * return ends the unrolling (the modules after it are never applied). True when a return ended it.
     */
    private boolean unroll(StatementTree loop, CompilationUnitTree unit, Map<String, LayerNode> fields, String className, String returned) {
      if (loop instanceof WhileLoopTree w) {
        return unrollWhile(w.getCondition(), w.getStatement(), false, unit, fields, className, returned);
      }
      if (loop instanceof DoWhileLoopTree w) {
        return unrollWhile(w.getCondition(), w.getStatement(), true, unit, fields, className, returned);
      }
      if (loop instanceof EnhancedForLoopTree each) {
        List<LayerNode> over = modules(fields.get(fieldName(stripped(each.getExpression()))));
        if (over == null) {
          if (!broken.contains(fieldName(stripped(each.getExpression())))) {
            diagnostics.error(unit, each.getExpression(), Message.LOOP_BOUNDS, methodName,
                each.getExpression() + " is not a ModuleList or Sequential field of " + className);
          }
          return false;
        }
        for (LayerNode module : over) {
          Map<String, LayerNode> scoped = new LinkedHashMap<>(fields);
          scoped.put(each.getVariable().getName().toString(), module);
          if (readStatements(body(each.getStatement()), unit, scoped, className, returned, true) && !jumped()) {
            return true; // a return in the loop: the modules after it are never applied
          }
          if (stopped()) {
            return false; // break
          }
        }
        return false;
      }
      ForLoopTree counted = (ForLoopTree) loop;
      String problem = null;
      VariableTree variable = counted.getInitializer().size() == 1 && counted.getInitializer().get(0) instanceof VariableTree v ? v : null;
      Element index = variable == null ? null : trees.getElement(TreePath.getPath(unit, variable));
      Object from = variable == null || variable.getInitializer() == null ? null : foldOrNull(variable.getInitializer(), unit);
      Integer to = null;
      int by = 0;
      if (!(from instanceof Integer) || index == null || index.asType().getKind() != TypeKind.INT) {
        problem = "it does not start an int at a constant";
      } else if (!(stripped(counted.getCondition()) instanceof BinaryTree cond)
          || cond.getKind() != Tree.Kind.LESS_THAN && cond.getKind() != Tree.Kind.LESS_THAN_EQUAL
          || !(stripped(cond.getLeftOperand()) instanceof IdentifierTree left) || !left.getName().contentEquals(variable.getName())) {
        problem = "its condition is not " + variable.getName() + " < (or <=) a bound";
      } else {
        ExpressionTree bound = stripped(cond.getRightOperand());
        Object folded = foldHereOrNull(bound, unit, fields);
        if (!(folded instanceof Integer b)) {
          problem = "its bound " + bound + (readsBatch(bound, unit) ? " is the batch size, which varies from call to call (a size"
              + " after the batch, x.size(1), is a constant)"
              : " is not a constant or a ModuleList or Sequential field's size()");
        } else {
          to = cond.getKind() == Tree.Kind.LESS_THAN_EQUAL ? b + 1 : b;
        }
        by = counted.getUpdate().size() != 1 ? 0 : increment(counted.getUpdate().get(0).getExpression(), variable, unit);
        if (problem == null && by < 1) {
          problem = "it does not count " + variable.getName() + " up by a constant (i++, i += 2)";
        }
      }
      if (problem == null && ((long) to - (Integer) from) / by > MAX_UNROLLED) {
        problem = "it would run more than " + MAX_UNROLLED + " times";
      }
      if (problem != null) {
        diagnostics.error(unit, loop, Message.LOOP_BOUNDS, methodName, problem);
        return false;
      }
      for (int i = (Integer) from; i < to; i += by) {
        folder.define(index, i);
        if (readStatements(body(counted.getStatement()), unit, fields, className, returned, true) && !jumped()) {
          return true; // a return at this index
        }
        if (stopped()) {
          return false; // break
        }
      }
      return false;
    }

    /**
     * A while loop unrolled ({@code int i = 0; while (i < h.size()) { x = h.get(i).apply(x); i++; }}), as Java runs it: its
     * condition folded before each turn (the counters the body updates, {@link #count}, are constants there), the body
     * read while it holds, after the first turn for a do-while; a {@code break} at a turn where an {@code if} takes it ends
     * the loop, a {@code continue} that turn. A condition that is not a constant at a turn, or more than {@link
     * #MAX_UNROLLED} turns, is an error on the condition. True when a return ended it.
     */
    private boolean unrollWhile(ExpressionTree condition, StatementTree body, boolean bodyFirst, CompilationUnitTree unit,
        Map<String, LayerNode> fields, String className, String returned) {
      for (int turn = 1; ; turn++) {
        if (turn > 1 || !bodyFirst) {
          Object holds;
          try {
            holds = foldHere(condition, unit, fields);
          } catch (ConstantFolder.NotConstant ex) {
            diagnostics.error(unit, condition, Message.LOOP_BOUNDS, methodName, "its condition " + stripped(condition)
                + " is not a constant at turn " + turn + " (" + ex.tree + " is not: " + ex.getMessage() + ")");
            return false;
          }
          if (!(holds instanceof Boolean)) {
            diagnostics.error(unit, condition, Message.LOOP_BOUNDS, methodName, "its condition " + stripped(condition) + " is not a boolean");
            return false;
          }
          if (!(Boolean) holds) {
            return false;
          }
        }
        if (turn > MAX_UNROLLED) {
          diagnostics.error(unit, condition, Message.LOOP_BOUNDS, methodName, "it would run more than " + MAX_UNROLLED
              + " times (does its body change " + stripped(condition) + "?)");
          return false;
        }
        if (readStatements(body(body), unit, fields, className, returned, true) && !jumped()) {
          return true; // a return at this turn
        }
        if (stopped()) {
          return false; // break
        }
      }
    }

    /** Whether a {@code break} or {@code continue} ended the statements just read (rather than a return). */
    private boolean jumped() {
      return jump != null;
    }

    /** After a loop's turn: whether a {@code break} ended it (and the loop stops); a {@code continue} is used up too. */
    private boolean stopped() {
      boolean stop = jump == Tree.Kind.BREAK;
      jump = null;
      return stop;
    }

    /** {@code e} folded in forward, where a ModuleList or Sequential field's {@code h.size()} is its count of modules. */
    private Object foldHere(ExpressionTree e, CompilationUnitTree unit, Map<String, LayerNode> fields) throws ConstantFolder.NotConstant {
      var before = folder.knownCalls(call -> null); // (isTraining(), as readBody made it known)
      folder.knownCalls(call -> {
        List<LayerNode> list = call.getArguments().isEmpty() && call.getMethodSelect() instanceof MemberSelectTree ms
            && ms.getIdentifier().contentEquals("size") ? modules(fields.get(fieldName(ms.getExpression()))) : null;
        return list == null ? before.apply(call) : list.size();
      });
      try {
        return folder.fold(e, unit);
      } finally {
        folder.knownCalls(before);
      }
    }

    /** Whether folding {@code e} fails on an error reported already (a size of a value unknown after an error). */
    private boolean foldReported(ExpressionTree e, CompilationUnitTree unit, Map<String, LayerNode> fields) {
      if (e == null) {
        return false;
      }
      try {
        foldHere(e, unit, fields);
        return false;
      } catch (ConstantFolder.NotConstant ex) {
        return ex.reported;
      }
    }

    /** {@link #foldHere}, or null for what is not a constant. */
    private Object foldHereOrNull(ExpressionTree e, CompilationUnitTree unit, Map<String, LayerNode> fields) {
      try {
        return foldHere(e, unit, fields);
      } catch (ConstantFolder.NotConstant ex) {
        return null;
      }
    }

    /** The counter ({@link #counters}) an expression statement updates ({@code i++}, {@code i += 2}, {@code i = 0}), else null. */
    private VariableElement counter(ExpressionTree update, CompilationUnitTree unit) {
      ExpressionTree target = update instanceof UnaryTree u ? u.getExpression()
          : update instanceof CompoundAssignmentTree c ? c.getVariable()
          : update instanceof AssignmentTree a ? a.getVariable() : null;
      return target instanceof IdentifierTree && trees.getElement(TreePath.getPath(unit, target)) instanceof VariableElement v
          && counters.contains(v) ? v : null;
    }

    /**
     * A counter's update, folded to its new value ({@code i++}, {@code i--}, {@code i += k}, {@code -=}, {@code *=}, {@code /=},
     * {@code i = e}, {@code k} and {@code e} constants there); anything else is an error, and the counter folds no more.
     */
    private void count(ExpressionTree update, VariableElement counter, CompilationUnitTree unit, Map<String, LayerNode> fields) {
      Object now = foldHereOrNull(update instanceof UnaryTree u ? u.getExpression()
          : update instanceof CompoundAssignmentTree c ? c.getVariable() : ((AssignmentTree) update).getVariable(), unit, fields);
      Object by = update instanceof CompoundAssignmentTree c ? foldHereOrNull(c.getExpression(), unit, fields)
          : update instanceof AssignmentTree a ? foldHereOrNull(a.getExpression(), unit, fields) : (Object) 1;
      Integer next = !(now instanceof Integer i) || !(by instanceof Integer k) ? null : switch (update.getKind()) {
        case POSTFIX_INCREMENT, PREFIX_INCREMENT -> i + 1;
        case POSTFIX_DECREMENT, PREFIX_DECREMENT -> i - 1;
        case PLUS_ASSIGNMENT -> i + k;
        case MINUS_ASSIGNMENT -> i - k;
        case MULTIPLY_ASSIGNMENT -> i * k;
        case DIVIDE_ASSIGNMENT -> k == 0 ? null : i / k;
        case ASSIGNMENT -> k;
        default -> null;
      };
      if (next == null) {
        diagnostics.error(unit, update, Message.COUNTER_UPDATE, methodName, update, counter.getSimpleName());
        folder.restore(java.util.Collections.singletonMap(counter, null));
        counters.remove(counter);
      } else {
        folder.define(counter, next);
      }
    }

    /** By how much {@code update} counts {@code variable} up ({@code i++}, {@code ++i}, {@code i += 2}); 0 if it does not. */
    private int increment(ExpressionTree update, VariableTree variable, CompilationUnitTree unit) {
      ExpressionTree target = update instanceof UnaryTree u && (u.getKind() == Tree.Kind.POSTFIX_INCREMENT
          || u.getKind() == Tree.Kind.PREFIX_INCREMENT) ? u.getExpression()
          : update instanceof CompoundAssignmentTree c && c.getKind() == Tree.Kind.PLUS_ASSIGNMENT ? c.getVariable() : null;
      if (!(target instanceof IdentifierTree id) || !id.getName().contentEquals(variable.getName())) {
        return 0;
      }
      Object by = update instanceof CompoundAssignmentTree c ? foldOrNull(c.getExpression(), unit) : (Object) 1;
      return by instanceof Integer i ? i : 0;
    }

    /** A loop's body as statements. */
    private List<? extends StatementTree> body(StatementTree body) {
      return body instanceof BlockTree block ? block.getStatements() : List.of(body);
    }

    // -------------------------------------------------------------- sizes of values read as constants

    /** The shapes of the values read so far ({@link ValueSizes}), made for this method's steps when first needed. */
    private ValueSizes sizes() {
      if (sizes == null) {
        TensorFieldReader own = tensors;
        sizes = new ValueSizes(modelInput == null ? new int[0] : modelInput, inputName, further, () -> allTensors(own), list, trees,
            diagnostics);
      }
      return sizes;
    }

    /**
     * A size of a value held in a local, read in forward (or a method or block it inlines) as a constant, PyTorch's {@code B,
     * T, C = x.size()}: {@code x.size(d)} ({@code d} negative from the end), {@code x.dim()}, and {@code x.shape()}, which
     * folds only indexed ({@code x.shape()[1]}, {@code int[] s = x.shape(); s[1]}); each from the shape the checker infers
     * for the value where it is read. The batch ({@code x.size(0)}) is not a constant: folding it fails, saying so, and a
     * view's first size or zero initial states take it as the batch ({@link #isBatchSize}). Null for a call that reads no
     * size.
     */
    private Object valueSize(MethodInvocationTree call, CompilationUnitTree unit) throws ConstantFolder.NotConstant {
      if (!(call.getMethodSelect() instanceof MemberSelectTree ms) || !isTensorMethod(call, unit, false)) {
        return null;
      }
      String name = ms.getIdentifier().toString();
      int arguments = call.getArguments().size();
      if (!(name.equals("size") && arguments == 1 || (name.equals("shape") || name.equals("dim")) && arguments == 0)) {
        return null;
      }
      ExpressionTree receiver = stripped(ms.getExpression());
      String value = receiver instanceof IdentifierTree id ? locals.get(id.getName().toString()) : null;
      if (value == null && receiver instanceof IdentifierTree id && unknown.contains(id.getName().toString())) {
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
      if ((receiver instanceof IdentifierTree || receiver instanceof MemberSelectTree) && fieldName(receiver) != null
          && trees.getElement(TreePath.getPath(unit, receiver)) instanceof VariableElement v && isTensorField(v)) {
        int[] shape = readableField(v, receiver, unit, bodyClass) ? tensors.shape(v) : null;
        if (shape == null) { // (reported: here, or on the field's declaration)
          throw new ConstantFolder.NotConstant(receiver, "the shape of " + receiver + " is unknown after an error", false, true);
        }
        return shape.clone();
      }
      if (!(receiver instanceof MethodInvocationTree accessor) || !accessor.getArguments().isEmpty()
          || !(accessor.getMethodSelect() instanceof MemberSelectTree select) || bodyFields == null
          || fieldName(select.getExpression()) == null || !bodyFields.containsKey(fieldName(select.getExpression()))) {
        return null;
      }
      String layer = fieldName(select.getExpression());
      LayerNode node = bodyFields.get(layer);
      if (broken.contains(layer)) { // (its declaration's error is reported)
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
      if (bodyFields == null) {
        throw new ConstantFolder.NotConstant(receiver, "a size of " + receiver + ", outside a method's body");
      }
      SizeMark mark = mark();
      try {
        String value = expression(receiver, unit, bodyFields, bodyClass);
        int[] shape = value == null ? null : sizes().shapeOf(value);
        if (shape == null) { // (reported: the expression's error, or a step's the checker finds)
          throw new ConstantFolder.NotConstant(receiver, "the shape of " + receiver + " is unknown after an error", false, true);
        }
        for (StepIr step : list.subList(mark.steps(), list.size())) {
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
      pieces.forEach((name, p) -> read.put(name, Set.copyOf(p.read().keySet())));
      List<TensorFieldReader> readers = new ArrayList<>(blockTensors);
      if (tensors != null) {
        readers.add(tensors);
      }
      return new SizeMark(list.size(), counter, splits, last, mode == null ? 0 : mode.joins.size(), mode == null ? Map.of() : mode.seen(), Set.copyOf(usedMasks), read, readers,
          readers.stream().map(TensorFieldReader::mark).toList());
    }

    /** Forgets what was read after {@code mark}: its steps (numbered again from there), splits, mode joins, masks, fields. */
    private void reset(SizeMark mark) {
      list.subList(mark.steps(), list.size()).clear();
      counter = mark.counter();
      splits = mark.splits();
      last = mark.last();
      if (mode != null) { // (its reads of a mode are kept: the size may depend on the mode, and is read in both then)
        mode.joins.subList(mark.joins(), mode.joins.size()).clear();
        mode.seen(mark.seen());
      }
      usedMasks.retainAll(mark.usedMasks());
      pieces.keySet().retainAll(mark.pieces().keySet());
      pieces.forEach((name, p) -> p.read().keySet().retainAll(mark.pieces().get(name)));
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

    /**
     * Whether folding {@code e} failed because it is the batch size itself ({@code x.size(0)}, {@code x.shape()[0]}, {@code
     * s[0]} of {@code int[] s = x.shape()}, {@code x.size(-3)} of a value {@code [N, T, C]}), not a size computed from it.
     */
    private boolean readsBatch(ExpressionTree e, CompilationUnitTree unit) {
      try {
        folder.fold(e, unit);
        return false;
      } catch (ConstantFolder.NotConstant ex) {
        return ex.batch && ex.tree == stripped(e);
      }
    }

    /** {@code int[] s = x.shape();} (or of constants): the local folds to the shape, indexed where it is read; false for any other. */
    private boolean shapeLocal(VariableTree v, CompilationUnitTree unit) {
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
    private List<Object> viewSizes(List<? extends ExpressionTree> sizes, String label, CompilationUnitTree unit, String input) {
      boolean batchFirst = !sizes.isEmpty() && isBatchSize(sizes.get(0), unit);
      List<Object> folded = constants(batchFirst ? sizes.subList(1, sizes.size()) : sizes, label, "reshape", unit);
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

    // -------------------------------------------------------------- conditions on the training mode

    /**
     * {@code isTraining()} read here: the mode being read, noted with its owner, this module ({@code isTraining()}) or a
     * layer field's ({@code drop.isTraining()}: its own mode, which the compiled forward compares with the others', running
     * eagerly where they differ); null where it does not fold.
     */
    private Object modeCall(MethodInvocationTree call, CompilationUnitTree unit, Map<String, LayerNode> fields) {
      String owner = mode == null ? null : isModeCall(call, unit) ? modeOwner : fieldMode(call, unit, fields);
      if (owner == null) {
        return null;
      }
      mode.reads.add(new Modes.Read(owner, source(unit, call)));
      return mode.training;
    }

    /** The path of the layer field whose {@code isTraining()} {@code call} is ({@code drop.isTraining()}), else null. */
    private String fieldMode(MethodInvocationTree call, CompilationUnitTree unit, Map<String, LayerNode> fields) {
      if (!call.getArguments().isEmpty() || !(call.getMethodSelect() instanceof MemberSelectTree ms)
          || !calledMethod(call, unit, MODULE, "isTraining")) {
        return null;
      }
      LayerNode node = fields.get(fieldName(ms.getExpression()));
      return node instanceof Leaf leaf ? leaf.layer().path() : node instanceof Seq seq ? seq.path()
          : node instanceof Blk blk ? blk.path() : node instanceof Lst list ? list.path() : node instanceof Att att ? att.path() : null;
    }

    /**
     * {@code final boolean t = isTraining();} (or of another module's mode, or a condition on modes and constants): the
     * local folds to the mode being read wherever it is read, so {@code if (t)} is a condition on the mode; false for any
     * other local. Outside forward (no mode is read there) it is the error a condition would get.
     */
    private boolean modeLocal(VariableTree v, CompilationUnitTree unit, Map<String, LayerNode> fields) {
      if (v.getInitializer() == null || !(trees.getElement(TreePath.getPath(unit, v)) instanceof VariableElement e)
          || e.asType().getKind() != TypeKind.BOOLEAN || !readsMode(v.getInitializer(), unit)) {
        return false;
      }
      Boolean mode = modeCondition(v.getInitializer(), unit, fields);
      if (mode == null) {
        unknown.add(v.getName().toString());
        return true;
      }
      folder.define(e, mode);
      modeLocals.add(e);
      return true;
    }

    /**
     * An {@code if} on the training mode ({@code if (isTraining()) {...} else {...}}, {@code if (!isTraining())}): the
     * branch the mode being read takes, read as if written here; the locals either branch assigns (or the value the
     * branch returns) noted as its joins, whose shapes the checker compares between the modes. True when a return (or
     * an unrolled loop's break or continue) in that branch ended the statements.
     */
    private boolean modeBranch(IfTree branch, CompilationUnitTree unit, Map<String, LayerNode> fields, String className,
        String returned, boolean inLoop) {
      Boolean taken = modeCondition(branch.getCondition(), unit, fields);
      if (taken == null) {
        return false;
      }
      Source where = source(unit, branch);
      int occurrence = mode.occurrence(branch);
      StatementTree chosen = taken ? branch.getThenStatement() : branch.getElseStatement();
      if (chosen != null && readStatements(body(chosen), unit, fields, className, returned, inLoop)) {
        if (jump == null && returned == null && last != null) {
          mode.joins.add(new Modes.Join(where, occurrence, "the value " + methodName + " returns", last));
        }
        return true;
      }
      for (String local : assignedLocals(branch)) {
        if (locals.containsKey(local)) {
          mode.joins.add(new Modes.Join(where, occurrence, local, locals.get(local)));
        }
      }
      return false;
    }

    /** {@code isTraining() ? a : b}: the operand the mode being read takes, noted as a join; null after an error. */
    private String modeChoice(ConditionalExpressionTree c, CompilationUnitTree unit, Map<String, LayerNode> fields, String className) {
      Boolean taken = modeCondition(c.getCondition(), unit, fields);
      if (taken == null) {
        return null;
      }
      int occurrence = mode.occurrence(c);
      String value = expression(taken ? c.getTrueExpression() : c.getFalseExpression(), unit, fields, className);
      if (value != null) {
        mode.joins.add(new Modes.Join(source(unit, c), occurrence, c.toString(), value));
      }
      return value;
    }

    /**
     * {@code F.dropout(x, p, isTraining())} ({@code F.dropout2d}), PyTorch's {@code F.dropout(x, p, self.training)}: in
     * training a dropout step without a layer (drawing as eager mode draws), in evaluation {@code x} itself, as eager's
     * {@code Ops.dropout} returns it; the mode (or a constant) as the condition on the mode reads it. Null after an error.
     */
    private String functionalDropout(MethodInvocationTree mi, String name, List<? extends ExpressionTree> args, boolean training,
        CompilationUnitTree unit, Map<String, LayerNode> fields, String className) {
      List<Object> p = constants(args.subList(1, 2), mi.toString(), name, unit);
      if (p == null) {
        return null;
      }
      LayerSpec spec;
      try {
        double rate = p.get(0) instanceof Number n ? n.doubleValue() : Double.NaN;
        spec = name.equals("dropout") ? new Dropout.Spec(rate) : new Dropout2d.Spec(rate);
      } catch (IllegalArgumentException e) {
        diagnostics.error(unit, mi, Message.UNSUPPORTED_FUNCTION, e.getMessage());
        return null;
      }
      String input = expression(args.get(0), unit, fields, className);
      return input == null || !training ? input : step(input, spec, null, mi.toString(), source(unit, mi));
    }

    /** A condition on the training mode folded in the mode being read; null after an error (reported on it). */
    private Boolean modeCondition(ExpressionTree condition, CompilationUnitTree unit, Map<String, LayerNode> fields) {
      if (mode == null) {
        diagnostics.error(unit, condition, Message.MODE_ELSEWHERE, stripped(condition), methodName);
        return null;
      }
      Object taken;
      try {
        taken = foldHere(condition, unit, fields);
      } catch (ConstantFolder.NotConstant e) {
        if (e.batch) { // isTraining() && x.size(0) > 1: the batch size, known at run time only
          diagnostics.error(unit, condition, Message.MODE_CONDITION_RUN_TIME, stripped(condition), methodName, e.tree);
        } else if (!e.reported) {
          diagnostics.error(unit, condition, Message.MODE_CONDITION, stripped(condition), methodName);
        }
        return null;
      }
      if (!(taken instanceof Boolean mode)) {
        diagnostics.error(unit, condition, Message.MODE_CONDITION, stripped(condition), methodName);
        return null;
      }
      return mode;
    }

    /** Steps for each layer in order; {@code where} is the call site, or null for each layer's declaration. */
    String applySequential(Seq seq, String input, String text, Source where) {
      String value = input;
      for (LayerNode child : seq.children()) {
        value = child instanceof Leaf leaf
            ? step(value, leaf.layer.spec(), leaf.layer, text, where != null ? where : leaf.layer.source())
            : child instanceof Blk blk ? inline(blk, value)
            : child instanceof Att att ? applyAttention(att, value, where != null ? where : att.layers().values().iterator().next().source())
            : applySequential((Seq) child, value, text, where);
        if (value == null) {
          return null;
        }
      }
      last = value;
      return value;
    }

    private String step(String input, LayerSpec spec, LayerIr layer, String text, Source where) {
      return step(List.of(input), spec, layer, text, where);
    }

    /** A step reading {@code inputs} (an add's two, a cat's values), its value named {@code v<N>}. */
    private String step(List<String> inputs, LayerSpec spec, LayerIr layer, String text, Source where) {
      String out = "v" + (++counter);
      if (tensors != null) { // (a tensor computed from a buffer is generated where a step reads it)
        inputs.forEach(tensors::markRead);
      }
      list.add(new StepIr(out, inputs, spec, layer, text, where));
      last = out;
      return out;
    }
  }

  /** A recurrent layer's run with its last states in forward: its value ({@link LastStates}), spec and layer. */
  private record States(String value, LastStates spec, LayerIr layer) {}

  /**
   * An initial state written in forward, read ({@code Steps.readStateForm}): the value it views, how it
   * reads as PyTorch's state ({@link InitialStates.Form}, {@code count} its dimension 0, {@code hidden} a view's last
   * size or -1), a view's batch size as written (checked at the layer's call), and the state as written, for messages.
   */
  private record HeldState(String value, InitialStates.Form form, int count, int hidden, ExpressionTree batch, String written) {}

  /** {@code e} without the parentheses around it. */
  private static ExpressionTree stripped(ExpressionTree e) {
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

  private static String describe(Tree t) {
    return t.getKind().toString().toLowerCase(Locale.ROOT).replace('_', ' ') + " '" + firstLine(t) + "'";
  }

  private static String firstLine(Tree t) {
    String s = t.toString().strip();
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl) + " ...";
  }

  // ------------------------------------------------------------------ helpers

  private Source source(CompilationUnitTree unit, Tree tree) {
    long pos = trees.getSourcePositions().getStartPosition(unit, tree);
    return new Source(unit, tree, unit.getLineMap().getLineNumber(pos));
  }

  private TypeMirror type(String qualifiedName) {
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
