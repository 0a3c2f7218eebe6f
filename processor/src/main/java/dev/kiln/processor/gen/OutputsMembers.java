package dev.kiln.processor.gen;

import dev.kiln.processor.gen.Generator.Ref;
import static dev.kiln.processor.gen.Generator.TENSOR;
import static dev.kiln.processor.gen.Generator.COMPILED;
import static dev.kiln.processor.gen.Generator.OUTPUT_GRADIENTS;

import com.palantir.javapoet.ArrayTypeName;
import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import com.palantir.javapoet.MethodSpec;
import com.palantir.javapoet.TypeName;
import com.palantir.javapoet.TypeSpec;
import dev.kiln.runtime.Shapes;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import javax.lang.model.element.Modifier;

/**
 * The members of a model's method of several outputs, for {@link Generator}: the record (or array)
 * returned, each output's values, shape and recording, and the gradient flow from the outputs that receive one.
 */
final class OutputsMembers {
  private final Generator gen;

  OutputsMembers(Generator gen) {
    this.gen = gen;
  }

  // ------------------------------------------------------------------ several outputs

  /**
   * The outputs method's override and what it calls: for a fused graph, its forward as a private
   * method returning every output ({@code compiledForwardWithHidden(x, all)}), with its own plan and
   * backward node, or all of those in an inner class when forward has a body of its own (so the two
   * graphs keep the usual names {@code Plan}, {@code Backward}, {@code plans}). A delegating
   * {@code forward} returns its component of the same graph.
   */
  void addOutputsMembers(TypeSpec.Builder type, Generator evaluation) {
    TypeName returns = outputsType();
    String compiled = "compiled" + Character.toUpperCase(gen.outputs.method().charAt(0)) + gen.outputs.method().substring(1);
    String call;
    String cudaCall;
    if (gen.forwardReturns >= 0) {
      gen.addFusedMembers(type, gen.name);
      type.addMethod(gen.forwardMethods.forwardMethod(CodeBlock.builder()
          .add("// $L: only that output is kept, its tensor carries the backward node\n", gen.outputs.call(gen.forwardReturns))
          .addStatement("return $L(x, false)[$L]", compiled, gen.forwardReturns).build()));
      call = compiled + "(x, true)";
      cudaCall = gen.cudaEmitter.cudaOutputsMethod() + "(x)";
    } else if (evaluation == null) {
      gen.inputsMembers.addCompiledBeside(type, compiled, gen.outputs.method());
      call = compiled + ".outputs(x)";
      cudaCall = compiled + "." + gen.cudaEmitter.cudaOutputsMethod() + "(x)";
    } else { // the method reads the training mode: a graph of each (forward does not delegate to it then)
      gen.inputsMembers.addMethodModes(type, evaluation, compiled, gen.outputs.method());
      call = compiled + "Training.outputs(x)";
      cudaCall = compiled + "Training." + gen.cudaEmitter.cudaOutputsMethod() + "(x)";
    }
    List<String> params = gen.parameterCode.parameterExpressions();
    MethodSpec.Builder m = MethodSpec.methodBuilder(gen.outputs.method()).addAnnotation(Override.class)
        .addModifiers(Modifier.PUBLIC).returns(returns).addParameter(TENSOR, "x");
    CodeBlock onCuda = CodeBlock.of("$T.onCuda($S, x$L)", COMPILED, gen.name, params.isEmpty() ? "" : ", " + String.join(", ", params));
    m.addCode(gen.forwardMethods.summaryGuard(gen.outputs.method()));
    if (evaluation != null) {
      m.addCode(gen.inputsMembers.modeChoice(type, gen.outputs.modes().owners(), gen.outputs.method(), "super." + gen.outputs.method() + "(x)"));
      m.beginControlFlow("if (training)");
    }
    returnOutputs(m, onCuda, cudaCall, call);
    if (evaluation != null) {
      m.endControlFlow();
      List<String> evaluated = evaluation.parameterCode.parameterExpressions();
      evaluation.outputsMembers.returnOutputs(m, CodeBlock.of("$T.onCuda($S, x$L)", COMPILED, gen.name, evaluated.isEmpty() ? ""
          : ", " + String.join(", ", evaluated)), compiled + "Evaluation." + gen.cudaEmitter.cudaOutputsMethod() + "(x)", compiled
          + "Evaluation.outputs(x)");
    }
    type.addMethod(m.build());
  }

  /** The type a method of several outputs returns: its record, or {@code Tensor[]}. */
  TypeName outputsType() {
    return gen.outputs.isArray() ? ArrayTypeName.of(TENSOR) : recordClass();
  }

  /** The end of a method of several outputs' override: the outputs of {@code cudaCall} or {@code call}, as its record. */
  void returnOutputs(MethodSpec.Builder m, CodeBlock onCuda, String cudaCall, String call) {
    if (gen.outputs.isArray()) {
      m.addStatement("return $L ? $L : $L", onCuda, cudaCall, call);
    } else {
      m.addStatement("$T[] outputs = $L ? $L : $L", TENSOR, onCuda, cudaCall, call)
          .addStatement("return new $T($L)", outputsType(), java.util.stream.IntStream.range(0, gen.outputs.results().size())
              .mapToObj(i -> "outputs[" + i + "]").collect(Collectors.joining(", ")));
    }
  }

  private ClassName recordClass() {
    String[] names = gen.outputs.recordType().split("\\.");
    return ClassName.get(gen.outputs.recordPackage(), names[0], Arrays.copyOfRange(names, 1, names.length));
  }

  /**
   * The end of the fused outputs method: each output's tensor, handing its gradient to the backward
   * node on a hidden anchor ({@code OutputGradients}), or a plain tensor where its steps record nothing.
   */
  MethodSpec outputsMethod(CodeBlock.Builder b) {
    List<String> params = gen.parameterCode.parameterExpressions();
    List<String> results = gen.outputs.results();
    int count = results.size();
    String training = gen.forwardMethods.usesTrainingMode() ? ", training" : "";
    b.addStatement("boolean recording = $T.recording(x$L$L)", COMPILED, gen.inputsMembers.furtherArguments(),
        params.isEmpty() ? "" : ", " + params.stream().map(gen.parameterCode::recordingInput).collect(Collectors.joining(", ")));
    if (gen.forwardReturns >= 0) {
      int c = gen.forwardReturns;
      b.beginControlFlow("if (!all)")
          .add("// forward returns $L alone, through the backward node's hidden anchor (OutputGradients)\n", outputLabel(c))
          .addStatement("float[] values = $L", valuesExpression(c, true))
          .addStatement("$T[] one = new $T[$L]", TENSOR, TENSOR, count)
          .beginControlFlow("if ($L)", recordingOf(c))
          .addStatement("$T outputGradients = new $T($L)", OUTPUT_GRADIENTS, OUTPUT_GRADIENTS, count)
          .addStatement("one[$L] = outputGradients.output($L, values, new int[] {$L}, $T.anchor(new Backward(x, p, out, outputGradients$L)))",
              c, c, shapeArguments(c), OUTPUT_GRADIENTS, training)
          .nextControlFlow("else")
          .addStatement("one[$L] = $T.wrap(values, $L)", c, TENSOR, shapeArguments(c))
          .endControlFlow()
          .addStatement("return one")
          .endControlFlow();
    }
    b.add("// the outputs' values: out is new for each call; what lies in the plan's buffers is copied, since the next\n")
        .add("// forward of this batch size overwrites them\n");
    List<String> values = new ArrayList<>();
    boolean outTaken = false;
    for (int i = 0; i < count; i++) {
      boolean first = gen.storage.get(results.get(i)).equals("out") && !outTaken;
      outTaken |= first;
      if (first) {
        values.add("out");
      } else {
        String local = (gen.outputs.isArray() ? "output" + i : gen.outputs.components().get(i)) + "Values";
        b.addStatement("float[] $L = $L", local, valuesExpression(i, false));
        values.add(local);
      }
    }
    List<CodeBlock> plain = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      plain.add(CodeBlock.of("$T.wrap($L, $L)", TENSOR, values.get(i), shapeArguments(i)));
    }
    b.beginControlFlow("if (!recording)")
        .addStatement("return new $T[] {$L}", TENSOR, CodeBlock.join(plain, ", "))
        .endControlFlow();
    b.add("// a hidden anchor carries the backward node; each output hands it its gradient (OutputGradients), an output\n")
        .add("// whose steps record nothing (their parameters frozen, x without gradient) is a plain tensor, as eager's\n")
        .addStatement("$T outputGradients = new $T($L)", OUTPUT_GRADIENTS, OUTPUT_GRADIENTS, count)
        .addStatement("$T anchor = $T.anchor(new Backward(x$L, p, out, outputGradients$L))", TENSOR, OUTPUT_GRADIENTS,
            gen.inputsMembers.furtherArguments(), training);
    List<CodeBlock> tensors = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      CodeBlock recorded = CodeBlock.of("outputGradients.output($L, $L, new int[] {$L}, anchor)", i, values.get(i), shapeArguments(i));
      CodeBlock condition = recordingOf(i);
      tensors.add(condition.toString().equals("recording") ? recorded : CodeBlock.of("$L\n    ? $L\n    : $L", condition, recorded, plain.get(i)));
    }
    b.addStatement("return new $T[] {$L}", TENSOR, CodeBlock.join(tensors, ",\n    "));

    MethodSpec.Builder m = gen.forwardReturns >= 0
        ? MethodSpec.methodBuilder("compiled" + Character.toUpperCase(gen.outputs.method().charAt(0)) + gen.outputs.method().substring(1))
            .addModifiers(Modifier.PRIVATE)
            .addJavadoc("The fused $L: its outputs in order ($L), or only $L (for forward) when {@code all} is false.\n",
                gen.outputs.method(), String.join(", ", gen.outputs.components()), outputLabel(gen.forwardReturns))
        : MethodSpec.methodBuilder("outputs")
            .addJavadoc("The fused $L: its outputs in order ($L).\n", gen.outputs.method(), String.join(", ", gen.outputs.components()));
    m.returns(ArrayTypeName.of(TENSOR)).addParameters(gen.inputsMembers.inputParameters());
    if (gen.forwardReturns >= 0) {
      m.addParameter(TypeName.BOOLEAN, "all");
    }
    return m.addCode(releasing(b).build()).build();
  }

  /** Closes the {@code try} opened after a plan was taken: the plan is given back however the block ends. */
  static CodeBlock.Builder releasing(CodeBlock.Builder b) {
    return b.nextControlFlow("finally").addStatement("p.release()").endControlFlow();
  }

  /** The values of output {@code i} for its tensor: {@code out} itself, or a copy of a buffer the next forward reuses. */
  private String valuesExpression(int i, boolean outFree) {
    String s = gen.storage.get(gen.outputs.results().get(i));
    int size = Generator.perSample(gen.model.shapeOf(gen.outputs.results().get(i)));
    return switch (s) {
      case "out" -> outFree ? "out" : "out.clone()";
      case "in" -> CodeBlock.of("$T.copyOfRange(in, inOff, inOff + n * $L)", Arrays.class, size).toString();
      default -> "p." + s + ".clone()";
    };
  }

  /** {@code n, 8}: the dimensions of output {@code i}. */
  private String shapeArguments(int i) {
    int[] shape = gen.model.shapeOf(gen.outputs.results().get(i));
    return "n" + (shape.length > 1 ? ", " + Generator.joined(Arrays.copyOfRange(shape, 1, shape.length)) : "");
  }

  /** {@code hidden() [N, 8]} for a record component, {@code [1] [N, 8]} for an array element. */
  private String outputLabel(int i) {
    return gen.outputs.components().get(i) + (gen.outputs.isArray() ? "" : "()") + " " + Shapes.toString(gen.model.shapeOf(gen.outputs.results().get(i)));
  }

  /**
   * Whether output {@code i} records: {@code recording} (x or any parameter requires grad) when
   * its steps hold every parameter, else a check of x and its steps' parameters alone, so that an
   * output below frozen layers does not require grad, as in eager mode.
   */
  private CodeBlock recordingOf(int i) {
    Set<String> own = new HashSet<>();
    Map<String, Kernel> producers = new HashMap<>();
    gen.kernels.forEach(k -> producers.put(k.out(), k));
    Deque<String> todo = new ArrayDeque<>(List.of(gen.outputs.results().get(i)));
    Set<String> seen = new HashSet<>();
    Set<String> reached = new HashSet<>(); // the values an output is computed from, the further inputs among them
    while (!todo.isEmpty()) {
      String value = todo.pop();
      reached.add(value);
      Kernel k = producers.get(value);
      if (k != null && seen.add(k.out())) {
        if (k.layer() != null && k.hasParameters()) {
          own.addAll(gen.parameterCode.parametersOf(k.layer()));
        }
        own.addAll(gen.parameterCode.parameterFields(k));
        todo.addAll(k.inputs());
      }
    }
    List<String> all = gen.parameterCode.parameterExpressions();
    // the inputs it is computed from: x (always, with one input), the further inputs it reaches
    List<String> inputs = new ArrayList<>();
    if (gen.ir.further().isEmpty() || reached.contains(gen.ir.inputName())) {
      inputs.add("x");
    }
    for (int j = 1; j <= gen.ir.further().size(); j++) {
      if (reached.contains(gen.ir.further().get(j - 1).name())) {
        inputs.add("x" + j);
      }
    }
    if (own.containsAll(all) && inputs.size() == gen.ir.further().size() + 1) {
      return CodeBlock.of("recording");
    }
    List<String> mine = new ArrayList<>(inputs.isEmpty() ? List.of("x") : inputs);
    all.stream().filter(own::contains).map(gen.parameterCode::recordingInput).forEach(mine::add);
    return CodeBlock.of("$T.recording($L)", COMPILED, String.join(", ", mine));
  }

  /** The output computed first (the input counts as before every step); the first such on ties. */
  private int earliestOutput() {
    int best = 0;
    for (int i = 1; i < gen.outputs.results().size(); i++) {
      if (position(gen.outputs.results().get(i)) < position(gen.outputs.results().get(best))) {
        best = i;
      }
    }
    return best;
  }

  private int position(String value) {
    List<dev.kiln.processor.ir.StepIr> steps = gen.ir.steps();
    for (int i = 0; i < steps.size(); i++) {
      if (steps.get(i).output().equals(value)) {
        return i;
      }
    }
    return -1;
  }

  /**
   * Backward with several outputs: walking the kernels from the last, adds each output's gradient
   * into the gradient of its value when the walk reaches it ({@code flowing} says whether a
   * gradient came back from later steps; a step runs only when one did, so a loss on the hidden
   * output alone leaves the layers after it without gradients, as in eager mode). From the
   * earliest output on, some output has received a gradient (the backward runs for one), so no
   * guard is needed there; in a graph each step has its own ({link Generator#runConditions}).
   */
  final class OutputGradientFlow {
    private final CodeBlock.Builder b;
    private final String earliest;
    private final Set<String> entered = new LinkedHashSet<>();
    private boolean guarded;

    OutputGradientFlow(CodeBlock.Builder b, Map<String, Ref> grads) {
      this.b = b;
      this.earliest = gen.storage.get(gen.outputs.results().get(earliestOutput()));
      b.add("// the gradient of each output, null where the loss did not use it; added below where each is computed\n")
          .addStatement("$T[] outputGrads = outputGradients.take()", TENSOR)
          .addStatement("boolean flowing = false");
      grads.replaceAll((st, ref) -> gradient(st));
    }

    /** Called before the walk reaches the step that writes {@code storage} (last with "in"). */
    void enter(String st) {
      if (!entered.add(st)) {
        return;
      }
      boolean any = false;
      for (int i = 0; i < gen.outputs.results().size(); i++) {
        if (!gen.storage.get(gen.outputs.results().get(i)).equals(st)) {
          continue;
        }
        if (!any) {
          close();
          any = true;
        }
        Ref d = gradient(st);
        b.add("// $L: add the gradient the loss sent to this output\n", outputLabel(i))
            .addStatement("flowing = $T.addOutputGradient($L, $L, outputGrads[$L], flowing)", COMPILED, d.array(), d.offset(), i);
      }
      if (any && !st.equals(earliest)) {
        b.add("// the steps back to the next output run only if a later output received a gradient\n")
            .beginControlFlow("if (flowing)");
        guarded = true;
      }
    }

    void close() {
      if (guarded) {
        b.endControlFlow();
        guarded = false;
      }
    }

    Ref gradient(String st) {
      return st.equals("in") ? new Ref("dx", "0", true) : new Ref("p.d" + st, "0", true);
    }
  }
}
