package dev.kiln.processor.read;

import com.sun.source.tree.ArrayAccessTree;
import com.sun.source.tree.AssignmentTree;
import com.sun.source.tree.ClassTree;
import com.sun.source.tree.CompilationUnitTree;
import com.sun.source.tree.ExpressionStatementTree;
import com.sun.source.tree.ExpressionTree;
import com.sun.source.tree.IdentifierTree;
import com.sun.source.tree.IfTree;
import com.sun.source.tree.MemberSelectTree;
import com.sun.source.tree.MethodInvocationTree;
import com.sun.source.tree.MethodTree;
import com.sun.source.tree.ParenthesizedTree;
import com.sun.source.tree.ReturnTree;
import com.sun.source.tree.StatementTree;
import com.sun.source.tree.ThrowTree;
import com.sun.source.tree.Tree;
import com.sun.source.tree.VariableTree;
import com.sun.source.util.TreePath;
import com.sun.source.util.TreePathScanner;
import com.sun.source.util.Trees;
import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Recurrent;
import dev.kiln.processor.Diagnostics;
import dev.kiln.processor.Message;
import dev.kiln.processor.ir.InputsIr;
import dev.kiln.processor.ir.LayerIr;
import dev.kiln.processor.ir.ModelIr;
import dev.kiln.processor.ir.Modes;
import dev.kiln.processor.ir.OutputsIr;
import dev.kiln.processor.ir.TensorIr;
import dev.kiln.runtime.cpu.MaskTest;
import java.util.ArrayList;
import java.util.Arrays;
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
import javax.lang.model.element.TypeElement;
import javax.lang.model.element.VariableElement;
import javax.lang.model.type.TypeKind;
import javax.lang.model.util.ElementFilter;
import javax.lang.model.util.Elements;
import javax.lang.model.util.Types;
import dev.kiln.processor.read.LayerNode.Seq;

/**
 * Pass 1: reads a {@code @Model} declaration into a {@link ModelIr}. Layer constructor arguments
 * are folded to constants and turned into the dsl's {@link LayerSpec}s; the body of
 * {@code forward} is read through javac's Tree API into steps. Every problem is reported to
 * {@link Diagnostics} and reading goes on, so that one build shows all errors of a model.
 * This class reads the declaration's two forms; {@link LayerDeclarations} reads the layers,
 * {@link BodyReader} (with its readers by concern) the bodies of forward and of the methods that
 * {@link OutputsInputsReader} finds.
 */
public final class DeclarationReader {
  static final String MODULE = "dev.kiln.dsl.Module";
  static final String SEQUENTIAL = "dev.kiln.dsl.Sequential";
  static final String MODULE_LIST = "dev.kiln.dsl.ModuleList";
  static final String TENSOR = "dev.kiln.runtime.Tensor";
  static final String FUNCTIONS = "dev.kiln.dsl.F";
  static final String RECURRENT = "dev.kiln.dsl.Recurrent";
  /** The views a mask may be taken through ({@code ids.eq(0).view(-1, 1, 1, S)}), by Tensor method. */
  static final Set<String> MASK_VIEWS = Set.of("view", "reshape", "unsqueeze");
  /** The logical ops of two masks or values, as the comparisons of two values they are ({@code a.logicalAnd(b)}). */
  static final Map<String, MaskTest> LOGICAL = Map.of("logicalAnd", MaskTest.AND, "logicalOr", MaskTest.OR, "logicalXor",
      MaskTest.XOR);
  /** The calls forward may compute a buffer through ({@code bias.narrow(2, 0, T)}), by Tensor method or F function. */
  static final Set<String> BUFFER_CALLS = Set.of("narrow", "slice", "select", "view", "reshape", "unsqueeze", "squeeze", "transpose");
  /** The comparisons a masked fill's mask may be written with ({@code mask.eq(0)}), by Tensor method. */
  static final Map<String, MaskTest> COMPARISONS = Map.of("eq", MaskTest.EQ, "ne", MaskTest.NE, "lt", MaskTest.LT,
      "le", MaskTest.LE, "gt", MaskTest.GT, "ge", MaskTest.GE);

  final Trees trees;
  final Elements elements;
  final Types types;
  final Diagnostics diagnostics;
  /** Javac's trees of the source, its constants folded, and the helpers every reader asks of them. */
  final SourceTrees code;
  /** The weight ties ({@code lmHead.weight(wte.weight())}) of the model being read. */
  final TieReader ties;
  /** The layers the model declares, read. */
  final LayerDeclarations layerDeclarations;
  /** The model's methods of several outputs and of several inputs, read. */
  final OutputsInputsReader outputsInputs;

  public DeclarationReader(Trees trees, Elements elements, Types types, Diagnostics diagnostics) {
    this.trees = trees;
    this.elements = elements;
    this.types = types;
    this.diagnostics = diagnostics;
    this.code = new SourceTrees(trees, elements, types, diagnostics);
    this.ties = new TieReader(trees, diagnostics, code::source);
    this.layerDeclarations = new LayerDeclarations(this);
    this.outputsInputs = new OutputsInputsReader(this);
  }

  /**
   * The parameters of layers that forward reads as tensors once their layer is expanded into steps (attention layers'
   * {@code attn.in_proj_weight}, PReLU's {@code act.weight}), by field: the model's tensors too ({@link #readLayerParameter}).
   */
  private final Map<String, TensorIr> layerParameters = new LinkedHashMap<>();

  /** Records {@code t}, a layer's parameter an expansion reads (once per field), and returns the value naming it. */
  String readLayerParameter(TensorIr t) {
    layerParameters.putIfAbsent(t.field(), t);
    return t.value();
  }

  /** The blocks being read, outermost first: a block inside itself is refused. */
  final java.util.ArrayDeque<TypeElement> blockStack = new java.util.ArrayDeque<>();
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
    layerParameters.clear();
    ties.clear();
    TypeElement owner = (TypeElement) method.getEnclosingElement();
    String name = method.getSimpleName().toString();
    String generated = "Kiln" + Character.toUpperCase(name.charAt(0)) + name.substring(1);
    boolean returnsSequential = types.isSameType(method.getReturnType(), code.type(SEQUENTIAL));
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
    LayerNode root = layerDeclarations.layerNode(ret.getExpression(), "", unit, layers);
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
    return new ModelIr(ModelIr.Form.METHOD, method, code.packageOf(owner), code.nestedName(owner), name,
        prefixed(owner, generated), input, "x", layers, steps.list, steps.last, code.source(unit, tree), null, -1,
        allTensors(null), null, List.of());
  }

  private ModelIr readClass(TypeElement type) {
    blockTensors.clear();
    layerParameters.clear();
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
          && types.isSameType(m.getParameters().get(0).asType(), code.type(TENSOR))) {
        forward = m;
      } else if (m.getSimpleName().contentEquals("forward") && m.getParameters().size() > 1 && !OutputsInputsReader.takesFurtherInputs(m)
          && m.getParameters().stream().allMatch(p -> types.isSameType(p.asType(), code.type(TENSOR)))) {
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
    ExecutableElement outputsMethod = outputsInputs.outputsMethod(type, generated);
    TensorFieldReader tensors = new TensorFieldReader(trees, diagnostics, code.folder,
        field -> constructorValue(type, field, unit, true));
    OutputsIr outputs = null;
    if (outputsMethod != null) {
      outputs = outputsInputs.readOutputs(outputsMethod, unit, fields, broken, name, tensors);
      ok &= outputs != null;
    }
    InputsIr inputs = null;
    int inputsBefore = diagnostics.count();
    ExecutableElement inputsMethod = outputsInputs.inputsMethod(type, generated);
    boolean inputsSignature = diagnostics.count() == inputsBefore; // (its body's errors leave a partial IR, as forward's)
    if (inputsMethod != null && inputsSignature) {
      inputs = outputsInputs.readInputs(inputsMethod, unit, fields, broken, name, tensors);
    }
    ok &= inputsSignature && (inputsMethod == null || inputs != null);

    MethodTree tree = trees.getTree(forward);
    if (outputsMethod != null && outputs == null && OutputsInputsReader.calls(tree, outputsMethod.getSimpleName().toString())) {
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
      return !ok ? null : new ModelIr(ModelIr.Form.CLASS, type, code.packageOf(type), code.nestedName(type), null, generated, input,
          inputName, layers, List.of(), null, code.source(unit, trees.getTree(type)), outputs, delegate, allTensors(tensors), inputs,
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
    ModelIr ir = new ModelIr(ModelIr.Form.CLASS, type, code.packageOf(type), code.nestedName(type), null, generated, input,
        inputName, layers, steps.list, steps.last, code.source(unit, trees.getTree(type)), outputs, -1, allTensors(tensors), inputs,
        List.of());
    return evaluation == null ? ir : withEvaluation(ir, steps, evaluation);
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
    return own && call.getArguments().isEmpty() && code.calledMethod(call, unit, MODULE, "isTraining");
  }

  /**
   * Whether {@code tree} reads a training mode: calls {@code isTraining()} of the module whose code is read or of another
   * ({@code drop.isTraining()}), or reads a local holding one ({@link #modeLocals}).
   */
  boolean readsMode(Tree tree, CompilationUnitTree unit) {
    Boolean found = new com.sun.source.util.TreeScanner<Boolean, Void>() {
      @Override public Boolean visitMethodInvocation(MethodInvocationTree node, Void unused) {
        return node.getArguments().isEmpty() && code.calledMethod(node, unit, MODULE, "isTraining")
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
        Object folded = code.folder.fold(aa.getIndex(), unit);
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
  ExpressionTree constructorValue(TypeElement type, VariableElement field, CompilationUnitTree unit, boolean tensor) {
    return constructorValue(noArgConstructor(type), field, unit, tensor);
  }

  /** The constructor without parameters (the one a generated class calls), or null. */
  static ExecutableElement noArgConstructor(TypeElement type) {
    return ElementFilter.constructorsIn(type.getEnclosedElements()).stream()
        .filter(c -> c.getParameters().isEmpty()).findFirst().orElse(null);
  }

  /**
   * Reads the layer fields of {@code type} (the model's, {@code prefix} empty, or a block's, {@code prefix} its path
   * and a dot) into {@code fields} by name, each from its initializer or its assignment in {@code ctor}; a field whose
   * declaration has an error (reported) goes into {@code broken}. A model's layer field must not be private (the
   * generated subclass may read it); a block's is found by its path.
   */
  void readLayerFields(TypeElement type, ExecutableElement ctor, CompilationUnitTree unit, String prefix, List<LayerIr> layers,
      Map<String, LayerNode> fields, Set<String> broken) {
    String outer = ties.enter(prefix);
    for (VariableElement field : ElementFilter.fieldsIn(type.getEnclosedElements())) {
      if (field.getModifiers().contains(Modifier.STATIC) || !types.isAssignable(field.asType(), code.type(MODULE))) {
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
      LayerNode node = layerDeclarations.layerNode(value, prefix + fieldName, unit, layers);
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
  ExpressionTree constructorValue(ExecutableElement ctor, VariableElement field, CompilationUnitTree unit, boolean tensor) {
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
    } else if (!types.isAssignable(type.asType(), code.type(MODULE))) {
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
        .filter(t -> !types.isAssignable(t, code.type(RuntimeException.class.getName())) && !types.isAssignable(t, code.type(Error.class.getName())))
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

  /** The model's tensor fields and its blocks', for the IR. */
  List<TensorIr> allTensors(TensorFieldReader own) {
    List<TensorIr> out = new ArrayList<>(own == null ? List.of() : own.used()); // (none of its own: a factory method)
    blockTensors.forEach(t -> out.addAll(t.used()));
    out.addAll(layerParameters.values());
    return out;
  }

  /** The most modules a list or loop is unrolled to. */
  static final int MAX_UNROLLED = 1024;


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

  /** Generated names of nested declarations join the enclosing classes with '_': {@code KilnOuter_Inner}. */
  private String prefixed(TypeElement owner, String simple) {
    String nested = code.nestedName(owner);
    int dot = nested.lastIndexOf('.');
    if (owner.getKind() == ElementKind.CLASS && simple.equals("Kiln" + owner.getSimpleName())) {
      return dot < 0 ? simple : "Kiln" + nested.replace('.', '_');
    }
    return simple;
  }
}
