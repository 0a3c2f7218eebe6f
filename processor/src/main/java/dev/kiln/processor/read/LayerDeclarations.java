package dev.kiln.processor.read;

import com.sun.source.tree.AssignmentTree;
import com.sun.source.tree.CompoundAssignmentTree;
import com.sun.source.tree.UnaryTree;
import com.sun.source.util.TreePathScanner;
import com.sun.source.tree.LambdaExpressionTree;
import com.sun.source.tree.CompilationUnitTree;
import com.sun.source.tree.ConditionalExpressionTree;
import com.sun.source.tree.ReturnTree;
import com.sun.source.tree.ExpressionStatementTree;
import com.sun.source.tree.ExpressionTree;
import com.sun.source.tree.IdentifierTree;
import com.sun.source.tree.MemberSelectTree;
import com.sun.source.tree.MethodInvocationTree;
import com.sun.source.tree.MethodTree;
import com.sun.source.tree.NewClassTree;
import com.sun.source.tree.ParenthesizedTree;
import com.sun.source.tree.StatementTree;
import com.sun.source.tree.Tree;
import com.sun.source.tree.VariableTree;
import com.sun.source.util.TreePath;
import com.sun.source.util.Trees;
import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.MultiheadAttention;
import dev.kiln.dsl.TransformerDecoderLayer;
import dev.kiln.dsl.TransformerEncoderLayer;
import dev.kiln.processor.Diagnostics;
import dev.kiln.processor.Message;
import dev.kiln.processor.ir.LayerIr;
import dev.kiln.processor.ir.Source;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.stream.Collectors;
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
import javax.lang.model.util.ElementFilter;
import javax.lang.model.util.Elements;
import javax.lang.model.util.Types;
import dev.kiln.processor.read.LayerNode.Leaf;
import dev.kiln.processor.read.LayerNode.Seq;
import dev.kiln.processor.read.LayerNode.Blk;
import dev.kiln.processor.read.LayerNode.Lst;
import dev.kiln.processor.read.LayerNode.Att;

/**
 * The layers a model declares, read for {@link DeclarationReader} into {@link LayerNode}s: a dsl layer
 * ({@code new Linear(...)} and its builder calls, folded to a {@link LayerSpec} through {@link LayerCatalog}), a
 * Sequential, a dsl attention layer ({@link AttentionLayers}), a block (a Module subclass in the compilation, its
 * constructor's constants bound), or a ModuleList of them.
 */
final class LayerDeclarations {
  private final DeclarationReader reader;
  private final SourceTrees code;
  private final Trees trees;
  private final Elements elements;
  private final Types types;
  private final Diagnostics diagnostics;
  private final ConstantFolder folder;

  LayerDeclarations(DeclarationReader reader) {
    this.reader = reader;
    this.code = reader.code;
    this.trees = reader.trees;
    this.elements = reader.elements;
    this.types = reader.types;
    this.diagnostics = reader.diagnostics;
    this.folder = code.folder;
  }

  // ------------------------------------------------------------------ layer declarations

  /** Reads {@code new Linear(...)}, {@code Sequential.of(...)} or a builder chain; null after an error. */
  LayerNode layerNode(ExpressionTree expr, String path, CompilationUnitTree unit, List<LayerIr> layers) {
    String label = path.isEmpty() ? "model" : path;
    if (expr instanceof ParenthesizedTree p) {
      return layerNode(p.getExpression(), path, unit, layers);
    }
    if (reader.ties.isTie(expr, unit)) { // new Linear(D, V, false).weight(wte.weight()): the layer, its weight another's
      ExpressionTree layer = reader.ties.initializer((MethodInvocationTree) expr, path, unit);
      return layerNode(layer, path, unit, layers);
    }
    if (expr instanceof ConditionalExpressionTree ce) { // expandRatio != 1 ? Sequential.of(pw, dw, ...) : Sequential.of(dw, ...)
      return chosenNode(ce, path, unit, layers);
    }
    if (expr instanceof MethodInvocationTree mi && helperMethod(mi, unit) != null) { // conv3x3(inplanes, planes, stride)
      return helperNode(mi, helperMethod(mi, unit), path, unit, layers);
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
      LayerIr layer = new LayerIr(path, spec, code.source(unit, expr));
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
    if (!code.unresolved(unit, expr)) { // another field, a variable, a conditional: not an initializer the compiler reads
      diagnostics.error(unit, expr, Message.UNSUPPORTED_SEQUENTIAL, label);
    }
    return null;
  }

  /** The branch of {@code cond ? a : b} its constant condition takes; null after an error (reported). */
  private LayerNode chosenNode(ConditionalExpressionTree ce, String path, CompilationUnitTree unit, List<LayerIr> layers) {
    Object cond;
    try {
      cond = folder.fold(ce.getCondition(), unit);
    } catch (ConstantFolder.NotConstant e) {
      cond = null;
    }
    if (!(cond instanceof Boolean taken)) {
      diagnostics.error(unit, ce, Message.LAYER_CONDITION, path.isEmpty() ? "model" : path, ce.getCondition());
      return null;
    }
    return layerNode(taken ? ce.getTrueExpression() : ce.getFalseExpression(), path, unit, layers);
  }

  /**
   * The method of the compilation {@code mi} calls to build a layer (torchvision's {@code conv3x3(in, out, stride)}, a
   * {@code convBnReLU(...)} in place of a Sequential subclass): one whose source is here and that returns a Module;
   * null for any other call (a dsl builder call, {@code Sequential.of}).
   */
  private ExecutableElement helperMethod(MethodInvocationTree mi, CompilationUnitTree unit) {
    boolean unqualified = mi.getMethodSelect() instanceof IdentifierTree
        || mi.getMethodSelect() instanceof MemberSelectTree ms && (ms.getExpression() instanceof IdentifierTree id
            && (id.getName().contentEquals("this") || trees.getElement(new TreePath(TreePath.getPath(unit, mi), ms.getExpression()))
                instanceof TypeElement)); // conv3x3(...), this.conv3x3(...), ZooResNet.conv3x3(...): not a call on a layer
    if (!unqualified || !(trees.getElement(TreePath.getPath(unit, mi)) instanceof ExecutableElement method) || method.getKind() != ElementKind.METHOD
        || trees.getTree(method) == null || trees.getTree(method).getBody() == null
        || !types.isAssignable(method.getReturnType(), code.type(DeclarationReader.MODULE))) {
      return null;
    }
    return method;
  }

  /**
   * The layer a helper method returns, read as if written at the call: its body must be one {@code return} of a layer
   * expression, its parameters bound to the call's constant arguments; null after an error (reported).
   */
  private LayerNode helperNode(MethodInvocationTree mi, ExecutableElement method, String path, CompilationUnitTree unit,
      List<LayerIr> layers) {
    return inHelper(mi, method, path.isEmpty() ? "model" : path, unit, (body, at) -> layerNode(body, path, at, layers));
  }

  /** A helper's returned expression read by {@code read} (in the helper's unit) with its parameters bound; null after an error. */
  private <T> T inHelper(MethodInvocationTree mi, ExecutableElement method, String label, CompilationUnitTree unit,
      java.util.function.BiFunction<ExpressionTree, CompilationUnitTree, T> read) {
    String name = method.getSimpleName().toString();
    MethodTree tree = trees.getTree(method);
    List<? extends StatementTree> body = tree.getBody().getStatements();
    if (body.size() != 1 || !(body.get(0) instanceof ReturnTree ret) || ret.getExpression() == null) {
      diagnostics.error(unit, mi, Message.LAYER_HELPER_STATEMENTS, label, name);
      return null;
    }
    if (helperDepth >= 16) {
      diagnostics.error(unit, mi, Message.LAYER_HELPER_RECURSION, label, name);
      return null;
    }
    List<Object> args = code.constants(mi.getArguments(), label, name, unit);
    if (args == null) {
      return null;
    }
    Map<Element, Object> bound = new HashMap<>();
    for (int i = 0; i < args.size(); i++) {
      bound.put(method.getParameters().get(i), args.get(i));
    }
    Map<Element, Object> before = folder.bind(bound);
    helperDepth++;
    try {
      return read.apply(ret.getExpression(), trees.getPath(method).getCompilationUnit());
    } finally {
      helperDepth--;
      folder.restore(before);
    }
  }

  /** How deep {@link #helperNode} is in helper methods calling helper methods (a bound on one calling itself). */
  private int helperDepth;

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
    return root instanceof NewClassTree && types.isSubtype(types.erasure(method.getEnclosingElement().asType()), code.type(DeclarationReader.MODULE));
  }

  /** The spec of {@code new Layer(args)} followed by any builder calls; null after a reported error. */
  private LayerSpec layerSpec(ExpressionTree expr, String label, CompilationUnitTree unit) {
    if (expr instanceof MethodInvocationTree helper && helperMethod(helper, unit) != null) { // conv3x3(in, out, 1).groups(g)
      return inHelper(helper, helperMethod(helper, unit), label, unit, (body, at) -> layerSpec(body, label, at));
    }
    if (expr instanceof MethodInvocationTree mi && mi.getMethodSelect() instanceof MemberSelectTree select) {
      LayerSpec receiver = layerSpec(select.getExpression(), label, unit);
      List<Object> args = code.constants(mi.getArguments(), label, select.getIdentifier().toString(), unit);
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
    if (code.unresolved(unit, nc)) {
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
    List<Object> args = code.constants(nc.getArguments(), label, cls.getSimpleName().toString(), unit);
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
    if (owner.equals(DeclarationReader.SEQUENTIAL) && name.equals("of")) {
      for (ExpressionTree a : mi.getArguments()) {
        layers.add(a);
        names.add(null);
        sites.add(a);
      }
      return true;
    }
    if (owner.equals(DeclarationReader.SEQUENTIAL) && name.equals("builder")) {
      return true;
    }
    if (!owner.equals(DeclarationReader.SEQUENTIAL + ".Builder") || !(select.getExpression() instanceof MethodInvocationTree inner)) {
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

  // ------------------------------------------------------------------ attention layers

  /** The simple name of the dsl attention layer {@code nc} creates ({@code MultiheadAttention}, ...), else null. */
  private String attentionClass(NewClassTree nc, CompilationUnitTree unit) {
    if (code.unresolved(unit, nc) || !(trees.getElement(TreePath.getPath(unit, nc)) instanceof ExecutableElement ctor)) {
      return null;
    }
    String name = ((TypeElement) ctor.getEnclosingElement()).getQualifiedName().toString();
    return switch (name) {
      case "dev.kiln.dsl.MultiheadAttention", "dev.kiln.dsl.TransformerEncoderLayer", "dev.kiln.dsl.TransformerEncoder",
          "dev.kiln.dsl.TransformerDecoderLayer", "dev.kiln.dsl.TransformerDecoder", "dev.kiln.dsl.Transformer" ->
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
    Source source = code.source(unit, nc);
    Map<String, LayerIr> children = new LinkedHashMap<>();
    List<? extends ExpressionTree> args = nc.getArguments();
    try {
      if (name.equals("TransformerEncoder") || name.equals("TransformerDecoder")) {
        String layerClass = name + "Layer";
        ExpressionTree layer = DeclarationReader.stripped(args.get(0));
        if (!(layer instanceof NewClassTree inner && layerClass.equals(attentionClass(inner, unit)))) {
          diagnostics.error(unit, args.get(0), Message.ATTENTION_ENCODER_LAYER, path, name, args.get(0), layerClass);
          return null;
        }
        List<Object> layerArgs = blockConstants(inner, 4, path, layerClass, unit);
        List<Object> count = code.constants(args.subList(1, 2), path, name, unit);
        if (layerArgs == null || count == null) {
          return null;
        }
        boolean decoder = name.equals("TransformerDecoder");
        LayerSpec spec = decoder ? AttentionLayers.decoderLayer(layerArgs) : AttentionLayers.encoderLayer(layerArgs);
        LayerIr norm = null;
        if (args.size() == 3 && DeclarationReader.stripped(args.get(2)).getKind() != Tree.Kind.NULL_LITERAL) {
          LayerSpec normSpec = layerSpec(args.get(2), path + ".norm", unit);
          if (normSpec == null) {
            return null;
          }
          norm = new LayerIr(path + ".norm", normSpec, code.source(unit, args.get(2)));
        }
        Att stack = stackNode(name, path, spec, LayerCatalog.integer(count, 0), norm, source);
        layers.addAll(stack.layers().values());
        return stack;
      }
      if (name.equals("Transformer")) {
        return transformerNode(nc, path, unit, layers);
      }
      List<Object> constants = name.equals("MultiheadAttention") ? code.constants(args, path, name, unit)
          : blockConstants(nc, 4, path, name, unit);
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
   * The constant arguments of {@code new TransformerEncoderLayer(...)}, {@code new TransformerDecoderLayer(...)} or {@code
   * new Transformer(...)} ({@code cls}), the activation (argument {@code at}) given as a layer read as its spec: {@code new
   * GELU("tanh")} written in place, one of the activation layers a block takes. Null after an error (reported): an
   * activation that is not written in place (a variable, a method's result), or another layer.
   */
  private List<Object> blockConstants(NewClassTree nc, int at, String path, String cls, CompilationUnitTree unit) {
    List<? extends ExpressionTree> args = nc.getArguments();
    if (!(trees.getElement(TreePath.getPath(unit, nc)) instanceof ExecutableElement ctor) || ctor.getParameters().size() <= at
        || ctor.getParameters().get(at).asType().toString().equals("java.lang.String")) {
      return code.constants(args, path, cls, unit);
    }
    ExpressionTree activation = args.get(at);
    String layers = TransformerDecoderLayer.ACTIVATION_LAYERS;
    if (!(DeclarationReader.stripped(activation) instanceof NewClassTree)) {
      diagnostics.error(unit, activation, Message.ATTENTION_NOT_COMPILED, path + ": " + cls + "'s activation " + activation
          + " must be written in place, \"relu\", \"gelu\" or a new activation layer (new GELU(\"tanh\"), new SiLU(), ...: "
          + layers + "), for a compiled model to read it; or leave out @Model");
      return null;
    }
    LayerSpec spec = layerSpec(DeclarationReader.stripped(activation), path + ".activation", unit);
    if (spec == null) {
      return null;
    }
    if (TransformerDecoderLayer.activationModule(spec) == null) {
      diagnostics.error(unit, activation, Message.BAD_LAYER_ARGUMENTS, path, cls + ": activation must be \"relu\", \"gelu\""
          + " or a parameterless activation layer (" + layers + "), not " + spec);
      return null;
    }
    List<ExpressionTree> rest = new java.util.ArrayList<>(args);
    rest.remove(at);
    List<Object> constants = code.constants(rest, path, cls, unit);
    if (constants == null) {
      return null;
    }
    List<Object> all = new java.util.ArrayList<>(constants);
    all.add(at, spec);
    return all;
  }

  /**
   * A {@code TransformerEncoder} or {@code TransformerDecoder} ({@code name}) at {@code path} of {@code n} copies of the
   * layer {@code spec} ({@code layers.i}) and the final {@code norm} (or null), its children in eager order.
   */
  private static Att stackNode(String name, String path, LayerSpec spec, int n, LayerIr norm, Source source)
      throws LayerCatalog.BadArguments {
    if (n <= 0 || n > DeclarationReader.MAX_UNROLLED) {
      throw new LayerCatalog.BadArguments(name + ": num_layers must be between 1 and " + DeclarationReader.MAX_UNROLLED + ", got " + n);
    }
    Map<String, LayerIr> children = new LinkedHashMap<>();
    for (int i = 0; i < n; i++) {
      if (spec instanceof TransformerDecoderLayer.Spec d) {
        AttentionLayers.decoderLayers(path + ".layers." + i, d, source, children);
      } else {
        AttentionLayers.encoderLayers(path + ".layers." + i, (TransformerEncoderLayer.Spec) spec, source, children);
      }
    }
    if (norm != null) {
      children.put(norm.path(), norm);
    }
    return new Att(path, spec, n, norm, children);
  }

  /**
   * {@code new Transformer(...)} at {@code path}: its constant form ({@code ()}, six or ten arguments), an encoder and a
   * decoder stack at {@code path.encoder}, {@code path.decoder}, each with its final LayerNorm, as PyTorch's constructor
   * makes them; or {@code new Transformer(new TransformerEncoder(...), new TransformerDecoder(...))} (PyTorch's {@code
   * custom_encoder}, {@code custom_decoder}) of stacks written in place. Batch first only: a compiled forward holds the
   * batch in dimension 0. Null after an error (reported).
   */
  private LayerNode transformerNode(NewClassTree nc, String path, CompilationUnitTree unit, List<LayerIr> layers)
      throws LayerCatalog.BadArguments {
    List<? extends ExpressionTree> args = nc.getArguments();
    Att encoder;
    Att decoder;
    if (args.size() == 2) { // custom_encoder, custom_decoder
      Att[] stacks = new Att[2];
      for (int i = 0; i < 2; i++) {
        String part = i == 0 ? "encoder" : "decoder";
        String stackClass = i == 0 ? "TransformerEncoder" : "TransformerDecoder";
        ExpressionTree arg = DeclarationReader.stripped(args.get(i));
        if (!(arg instanceof NewClassTree inner && stackClass.equals(attentionClass(inner, unit)))) {
          diagnostics.error(unit, args.get(i), Message.ATTENTION_NOT_COMPILED, path + ": Transformer's custom " + part + " "
              + args.get(i) + " must be written in place, new " + stackClass + "(new " + stackClass + "Layer(...), n[, norm])"
              + " with constant arguments, for a compiled model to read it; or leave out @Model");
          return null;
        }
        if (!(attentionNode(inner, path + "." + part, unit, layers) instanceof Att stack)) {
          return null;
        }
        stacks[i] = stack;
      }
      encoder = stacks[0];
      decoder = stacks[1];
      TransformerEncoderLayer.Spec e = (TransformerEncoderLayer.Spec) encoder.spec();
      TransformerDecoderLayer.Spec d = (TransformerDecoderLayer.Spec) decoder.spec();
      if (e.dModel() != d.dModel() || e.batchFirst() != d.batchFirst()) { // eager's constructor refuses it too
        throw new LayerCatalog.BadArguments("Transformer: the encoder's layers (" + e + ") and the decoder's (" + d
            + ") must have the same d_model and batch_first");
      }
    } else {
      List<Object> constants = blockConstants(nc, 6, path, "Transformer", unit);
      if (constants == null) {
        return null;
      }
      AttentionLayers.TransformerArgs t = AttentionLayers.transformer(constants);
      Source source = code.source(unit, nc);
      TransformerDecoderLayer.Spec d = t.decoderLayer();
      encoder = stackNode("TransformerEncoder", path + ".encoder", t.encoderLayer(), t.encoderLayers(),
          new LayerIr(path + ".encoder.norm", new LayerNorm.Spec(new int[] {d.dModel()}, d.layerNormEps(), true), source), source);
      decoder = stackNode("TransformerDecoder", path + ".decoder", d, t.decoderLayers(),
          new LayerIr(path + ".decoder.norm", new LayerNorm.Spec(new int[] {d.dModel()}, d.layerNormEps(), true), source), source);
      layers.addAll(encoder.layers().values());
      layers.addAll(decoder.layers().values());
    }
    AttentionLayers.TransformerSpec spec = new AttentionLayers.TransformerSpec(encoder, decoder);
    if (!((TransformerDecoderLayer.Spec) decoder.spec()).batchFirst()) {
      diagnostics.error(unit, nc, Message.ATTENTION_NOT_COMPILED, path + ": " + spec + " is sequence first ([S, N, E] and [T,"
          + " N, E]), but a compiled forward holds the batch first: construct it with batchFirst true (PyTorch's"
          + " batch_first=True, the ten-argument form) and pass [N, S, E] and [N, T, E], or leave out @Model");
      return null;
    }
    Map<String, LayerIr> children = new LinkedHashMap<>(encoder.layers());
    children.putAll(decoder.layers());
    return new Att(path, spec, 0, null, children);
  }

  /**
   * Whether {@code nc} creates a block: a {@code Module} subclass of the user's (not a layer the compiler knows, not
   * one of the dsl's), without a class body.
   */
  private boolean isBlock(NewClassTree nc, CompilationUnitTree unit) {
    if (nc.getClassBody() != null || code.unresolved(unit, nc)
        || !(trees.getElement(TreePath.getPath(unit, nc)) instanceof ExecutableElement ctor)
        || !(ctor.getEnclosingElement() instanceof TypeElement cls)) {
      return false;
    }
    String qualified = cls.getQualifiedName().toString();
    return types.isSubtype(types.erasure(cls.asType()), code.type(DeclarationReader.MODULE)) && !LayerCatalog.knows(qualified)
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
    if (reader.blockStack.contains(cls)) {
      List<String> chain = new ArrayList<>();
      reader.blockStack.descendingIterator().forEachRemaining(b -> chain.add(b.getSimpleName().toString()));
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
    List<Object> args = code.constants(nc.getArguments(), path, name, unit);
    if (args == null) {
      return null;
    }
    Map<Element, Object> constants = arguments(ctor, args);
    reader.blockStack.push(cls);
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
        reader.readLayerFields(c, bodies.get(i), trees.getPath(c).getCompilationUnit(), path + ".", layers, fields, broken);
      }
      TensorFieldReader tensors = new TensorFieldReader(trees, diagnostics, folder, // a field of the block's class or one it extends,
          field -> reader.constructorValue(bodies.get(Math.max(0, chain.indexOf(field.getEnclosingElement()))), field, // assigned in that
              trees.getPath(field).getCompilationUnit(), true), path + ".");                              // class's constructor
      reader.blockTensors.add(tensors);
      return new Blk(path, cls, trees.getPath(forward).getCompilationUnit(), forward, fields, broken, constants, tensors);
    } finally {
      folder.restore(before);
      reader.blockStack.pop();
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
      if (types.isSameType(types.erasure(c.getSuperclass()), code.type(DeclarationReader.MODULE))) {
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
              && types.isSameType(m.getParameters().get(0).asType(), code.type(DeclarationReader.TENSOR)) && trees.getTree(m) != null
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
    return call == null ? DeclarationReader.noArgConstructor(superclass) : boundCall(call, unit, path, name, constants, before);
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
    List<Object> args = code.constants(call.getArguments(), path, name, unit);
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
          && (f.asType().getKind().isPrimitive() || types.isSameType(f.asType(), code.type(String.class.getName())))) {
        Object value = code.foldOrNull(tree.getInitializer(), unit);
        if (value != null) {
          constants.put(f, value);
          folder.define(f, value);
        }
      }
    }
  }

  /**
   * Adds to {@code constants} (and binds in the folder) the primitive and String fields the constructor sets at its
   * top level to a value that folds ({@code this.heads = heads;}), as the block's forward may read them, and the locals
   * it declares there from such a value and never assigns again (vit.py's {@code inner_dim = dim_head * heads}, {@code
   * int innerDim = dimHead * heads;}, final or not), as the layers it creates after them may read them.
   */
  private void constructorConstants(ExecutableElement ctor, CompilationUnitTree unit, Map<Element, Object> constants) {
    MethodTree tree = trees.getTree(ctor);
    if (tree == null || tree.getBody() == null) {
      return;
    }
    Set<Element> assigned = assignedLocals(tree, unit);
    for (StatementTree s : tree.getBody().getStatements()) {
      if (s instanceof VariableTree v && v.getInitializer() != null
          && trees.getElement(TreePath.getPath(unit, v)) instanceof VariableElement local && !assigned.contains(local)
          && (local.asType().getKind().isPrimitive() || types.isSameType(local.asType(), code.type(String.class.getName())))) {
        Object value = code.foldOrNull(v.getInitializer(), unit);
        if (value != null) {
          constants.put(local, value);
          folder.define(local, value);
        }
      } else if (s instanceof ExpressionStatementTree es && es.getExpression() instanceof AssignmentTree a
          && trees.getElement(TreePath.getPath(unit, a.getVariable())) instanceof VariableElement f && f.getKind() == ElementKind.FIELD
          && (f.asType().getKind().isPrimitive() || types.isSameType(f.asType(), code.type(String.class.getName())))) {
        Object value = code.foldOrNull(a.getExpression(), unit);
        if (value != null) {
          constants.put(f, value);
          folder.define(f, value);
        }
      }
    }
  }

  /** The variables {@code method} assigns after their declaration ({@code =}, a compound assignment, {@code ++}, {@code --}). */
  private Set<Element> assignedLocals(MethodTree method, CompilationUnitTree unit) {
    Set<Element> assigned = new HashSet<>();
    new TreePathScanner<Void, Void>() {
      private void target(ExpressionTree variable) {
        Element e = trees.getElement(new TreePath(getCurrentPath(), variable));
        if (e != null) {
          assigned.add(e);
        }
      }

      @Override
      public Void visitAssignment(AssignmentTree node, Void p) {
        target(node.getVariable());
        return super.visitAssignment(node, p);
      }

      @Override
      public Void visitCompoundAssignment(CompoundAssignmentTree node, Void p) {
        target(node.getVariable());
        return super.visitCompoundAssignment(node, p);
      }

      @Override
      public Void visitUnary(UnaryTree node, Void p) {
        switch (node.getKind()) {
          case PREFIX_INCREMENT, PREFIX_DECREMENT, POSTFIX_INCREMENT, POSTFIX_DECREMENT -> target(node.getExpression());
          default -> { }
        }
        return super.visitUnary(node, p);
      }
    }.scan(new TreePath(TreePath.getPath(unit, method), method.getBody()), null);
    return assigned;
  }

  /** Whether {@code expr} creates a ModuleList ({@code ModuleList.of(...)}, {@code new ModuleList<>(...)}). */
  private boolean isModuleList(ExpressionTree expr, CompilationUnitTree unit) {
    expr = DeclarationReader.stripped(expr);
    if (expr instanceof MethodInvocationTree mi) {
      return code.calledMethod(mi, unit, DeclarationReader.MODULE_LIST, "of");
    }
    return expr instanceof NewClassTree nc && trees.getElement(TreePath.getPath(unit, nc)) instanceof ExecutableElement ctor
        && ((TypeElement) ctor.getEnclosingElement()).getQualifiedName().contentEquals(DeclarationReader.MODULE_LIST);
  }

  /** One element of a ModuleList as written, and the lambda parameter's value it is read with (a range's index), if any. */
  private record ListElement(ExpressionTree tree, Element index, Object value) {}

  /** A ModuleList's node, each element read at {@code path.i}; null after an error (reported). */
  private LayerNode listNode(ExpressionTree expr, String path, CompilationUnitTree unit, List<LayerIr> layers) {
    List<ListElement> elements = listElements(DeclarationReader.stripped(expr), unit);
    if (elements == null) {
      diagnostics.error(unit, expr, Message.UNSUPPORTED_MODULE_LIST, path, DeclarationReader.firstLine(expr));
      return null;
    }
    List<LayerNode> children = new ArrayList<>();
    boolean ok = true;
    for (int i = 0; i < elements.size(); i++) {
      ListElement e = elements.get(i);
      ExpressionTree tree = DeclarationReader.stripped(e.tree());
      if (!(tree instanceof NewClassTree) && !(tree instanceof MethodInvocationTree)) {
        diagnostics.error(unit, e.tree(), Message.LIST_ELEMENT, path, i, DeclarationReader.describe(tree));
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
    if (expr instanceof MethodInvocationTree mi && code.calledMethod(mi, unit, DeclarationReader.MODULE_LIST, "of")) {
      mi.getArguments().forEach(a -> out.add(new ListElement(a, null, null)));
      return out;
    }
    if (!(expr instanceof NewClassTree nc) || nc.getArguments().size() != 1 || nc.getClassBody() != null) {
      return null;
    }
    ExpressionTree list = DeclarationReader.stripped(nc.getArguments().get(0));
    if (list instanceof MethodInvocationTree mi
        && (code.calledMethod(mi, unit, List.class.getName(), "of") || code.calledMethod(mi, unit, Arrays.class.getName(), "asList"))) {
      mi.getArguments().forEach(a -> out.add(new ListElement(a, null, null)));
      return out;
    }
    // IntStream.range(0, N).mapToObj(i -> new Block()).toList() / .collect(Collectors.toList())
    if (!(list instanceof MethodInvocationTree collect) || !(collect.getMethodSelect() instanceof MemberSelectTree cs)
        || !(cs.getIdentifier().contentEquals("toList") && collect.getArguments().isEmpty()
            || cs.getIdentifier().contentEquals("collect") && collect.getArguments().size() == 1
                && DeclarationReader.stripped(collect.getArguments().get(0)) instanceof MethodInvocationTree c
                && code.calledMethod(c, unit, "java.util.stream.Collectors", "toList"))
        || !(DeclarationReader.stripped(cs.getExpression()) instanceof MethodInvocationTree map) || !(map.getMethodSelect() instanceof MemberSelectTree ms)
        || !ms.getIdentifier().contentEquals("mapToObj") || map.getArguments().size() != 1
        || !(DeclarationReader.stripped(map.getArguments().get(0)) instanceof LambdaExpressionTree lambda) || lambda.getParameters().size() != 1
        || !(lambda.getBody() instanceof ExpressionTree body)
        || !(DeclarationReader.stripped(ms.getExpression()) instanceof MethodInvocationTree range)
        || !code.calledMethod(range, unit, "java.util.stream.IntStream", "range") || range.getArguments().size() != 2) {
      return null;
    }
    Object from = code.foldOrNull(range.getArguments().get(0), unit);
    Object to = code.foldOrNull(range.getArguments().get(1), unit);
    if (!(from instanceof Integer a) || !(to instanceof Integer b) || b - a > DeclarationReader.MAX_UNROLLED) {
      return null;
    }
    Element index = trees.getElement(TreePath.getPath(unit, lambda.getParameters().get(0)));
    for (int i = a; i < b; i++) {
      out.add(new ListElement(body, index, i));
    }
    return out;
  }
}
