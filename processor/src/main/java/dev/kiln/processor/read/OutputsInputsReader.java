package dev.kiln.processor.read;

import com.sun.source.tree.CompilationUnitTree;
import com.sun.source.tree.ExpressionTree;
import com.sun.source.tree.IdentifierTree;
import com.sun.source.tree.MemberSelectTree;
import com.sun.source.tree.MethodInvocationTree;
import com.sun.source.tree.MethodTree;
import com.sun.source.util.Trees;
import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.Input;
import dev.kiln.processor.Diagnostics;
import dev.kiln.processor.Message;
import dev.kiln.processor.ir.InputsIr;
import dev.kiln.processor.ir.MethodModes;
import dev.kiln.processor.ir.Modes;
import dev.kiln.processor.ir.OutputsIr;
import dev.kiln.processor.ir.StepIr;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.lang.model.element.Element;
import javax.lang.model.element.ElementKind;
import javax.lang.model.element.ExecutableElement;
import javax.lang.model.element.Modifier;
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
 * A model's methods besides forward, for {@link DeclarationReader}: the method returning several outputs
 * (a record of Tensors or {@code Tensor[]}) and the method taking several inputs ({@code @Input} parameters), their
 * signatures checked and their bodies read like forward's, in each training mode they read.
 */
final class OutputsInputsReader {
  private final DeclarationReader reader;
  private final SourceTrees code;
  private final Trees trees;
  private final Types types;
  private final Diagnostics diagnostics;

  OutputsInputsReader(DeclarationReader reader) {
    this.reader = reader;
    this.code = reader.code;
    this.trees = reader.trees;
    this.types = reader.types;
    this.diagnostics = reader.diagnostics;
  }

  // ------------------------------------------------------------------ a method returning several outputs

  /**
   * The one instance method besides forward that returns a record with Tensor components (or
   * {@code Tensor[]}), after checking its signature and record; null if there is none or it is
   * unusable (reported).
   */
  ExecutableElement outputsMethod(TypeElement type, String generated) {
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
      boolean oneTensor = m.getParameters().size() == 1 && types.isSameType(m.getParameters().get(0).asType(), code.type(DeclarationReader.TENSOR));
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
      if (!types.isSameType(c.asType(), code.type(DeclarationReader.TENSOR))) {
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
      return types.isSameType(((ArrayType) t).getComponentType(), code.type(DeclarationReader.TENSOR));
    }
    return types.asElement(t) instanceof TypeElement r && r.getKind() == ElementKind.RECORD
        && r.getRecordComponents().stream().anyMatch(c -> types.isSameType(c.asType(), code.type(DeclarationReader.TENSOR)));
  }

  /** Reads the outputs method's body like forward's; null when a returned value is unknown (reported). */
  OutputsIr readOutputs(ExecutableElement m, CompilationUnitTree unit, Map<String, LayerNode> fields, Set<String> broken,
      String className, TensorFieldReader tensors) {
    String inputName = m.getParameters().get(0).getSimpleName().toString();
    BodyReader[] read = new BodyReader[2];
    OutputsIr[] irs = new OutputsIr[2];
    for (int i = 0; i < 2; i++) { // in training, then (where a mode was read) in evaluation, as forward
      read[i] = new BodyReader(reader, m.getSimpleName().toString(), inputName);
      read[i].mode = new DeclarationReader.ModeReading(i == 0);
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
    return new OutputsIr(m.getSimpleName().toString(), record == null ? null : code.packageOf(record),
        record == null ? null : code.nestedName(record), components, m.getParameters().get(0).getSimpleName().toString(), steps.list,
        steps.results, code.source(unit, tree));
  }

  // ------------------------------------------------------------------ a method taking several inputs

  /** Whether a parameter of {@code m} carries {@code @Input}: {@code m} is then the model's method of several inputs. */
  static boolean takesFurtherInputs(ExecutableElement m) {
    return m.getParameters().stream().anyMatch(p -> p.getAnnotation(Input.class) != null);
  }

  /**
   * The one method whose parameters carry {@code @Input}, after checking its signature and each
   * parameter (errors reported here); null if there is none.
   */
  ExecutableElement inputsMethod(TypeElement type, String generated) {
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
      boolean returns = types.isSameType(m.getReturnType(), code.type(DeclarationReader.TENSOR)) || returnsOutputs(m);
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
        if (!types.isSameType(p.asType(), code.type(DeclarationReader.TENSOR))) {
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
  InputsIr readInputs(ExecutableElement m, CompilationUnitTree unit, Map<String, LayerNode> fields, Set<String> broken,
      String className, TensorFieldReader tensors) {
    BodyReader training = new BodyReader(reader, m.getSimpleName().toString(), m.getParameters().get(0).getSimpleName().toString());
    training.mode = new DeclarationReader.ModeReading(true);
    InputsIr ir = readInputs(m, training, unit, fields, broken, className, tensors);
    if (ir == null || training.mode.reads.isEmpty()) {
      return ir;
    }
    BodyReader evaluation = new BodyReader(reader, m.getSimpleName().toString(), m.getParameters().get(0).getSimpleName().toString());
    evaluation.mode = new DeclarationReader.ModeReading(false); // in evaluation too, as forward
    InputsIr evaluated = readInputs(m, evaluation, unit, fields, broken, className, tensors);
    return evaluated == null ? null : ir.withModes(methodModes(evaluated, training, evaluation));
  }

  /** Reads the method of several inputs into {@code steps} (in the mode they read); null when its result is unknown. */
  InputsIr readInputs(ExecutableElement m, BodyReader steps, CompilationUnitTree unit, Map<String, LayerNode> fields,
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
      further.add(new InputsIr.Further(value, p.getAnnotation(Input.class).value(), code.source(unit, trees.getTree(p))));
    }
    steps.further = further;
    MethodTree tree = trees.getTree(m);
    if (returnsOutputs(m)) { // several inputs and several outputs: the outputs read as the method of several outputs reads them
      OutputsIr outputs = readResults(m, steps, unit, fields, className);
      if (outputs == null || !oneIdPerSample(m, further, steps.list)) {
        return null;
      }
      String last = steps.list.isEmpty() ? inputName : steps.list.get(steps.list.size() - 1).output();
      return new InputsIr(name, inputName, further, steps.list, last, code.source(unit, tree), outputs);
    }
    steps.readBody(tree.getBody(), unit, fields, className, null);
    if (!oneIdPerSample(m, further, steps.list)) {
      return null;
    }
    if (steps.last == null) {
      return null;
    }
    return new InputsIr(name, inputName, further, steps.list, steps.last, code.source(unit, tree), null);
  }

  /** Whether {@code method}'s body calls a method named {@code name} (unqualified or on {@code this}). */
  static boolean calls(MethodTree method, String name) {
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
}
