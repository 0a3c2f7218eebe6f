package dev.kiln.processor.gen;

import dev.kiln.processor.gen.Generator.Ref;
import static dev.kiln.processor.gen.Generator.TENSOR;
import static dev.kiln.processor.gen.Generator.COMPILED;
import static dev.kiln.processor.gen.Generator.MASK_TEST;
import static dev.kiln.processor.gen.Generator.MODULE;

import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import com.palantir.javapoet.FieldSpec;
import com.palantir.javapoet.MethodSpec;
import com.palantir.javapoet.ParameterSpec;
import com.palantir.javapoet.TypeSpec;
import dev.kiln.dsl.Embedding;
import dev.kiln.processor.ir.InputsIr;
import dev.kiln.processor.ir.Compare;
import dev.kiln.processor.ir.MaskedFill;
import dev.kiln.processor.ir.Repeat;
import dev.kiln.runtime.Shapes;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import javax.lang.model.element.Modifier;

/**
 * The members of a model's method of several inputs, for {@link Generator}: its parameters and checks, the
 * further inputs read, the masks they give, the compiled method beside the declared one, and the choice between the
 * graphs of its training modes.
 */
final class InputsMembers {
  private final Generator gen;

  InputsMembers(Generator gen) {
    this.gen = gen;
  }

  // ------------------------------------------------------------------ several inputs

  /** {@code , x1, x2}: the further inputs of a method of several inputs as arguments after x; empty otherwise. */
  String furtherArguments() {
    StringBuilder b = new StringBuilder();
    for (int j = 1; j <= gen.ir.further().size(); j++) {
      b.append(", x").append(j);
    }
    return b.toString();
  }

  /** {@code x}, then {@code x1, x2, ...} for the further inputs: the fused methods' parameters. */
  List<ParameterSpec> inputParameters() {
    List<ParameterSpec> params = new ArrayList<>(List.of(ParameterSpec.builder(TENSOR, "x").build()));
    for (int j = 1; j <= gen.ir.further().size(); j++) {
      params.add(ParameterSpec.builder(TENSOR, "x" + j).build());
    }
    return params;
  }

  /** {@code x1 = mask [N, 6]}, for comments. */
  String furtherLabels() {
    List<String> labels = new ArrayList<>();
    for (int j = 1; j <= gen.ir.further().size(); j++) {
      labels.add("x" + j + " = " + gen.ir.further().get(j - 1).name() + " " + Shapes.toString(gen.ir.further().get(j - 1).batchShape()));
    }
    return String.join(", ", labels);
  }

  /**
   * Checks each further input's shape against x's batch size, naming its parameter ({@code Compiled.furtherInput}, or
   * {@code Compiled.furtherIds} for ids an Embedding looks up: a label tensor).
   */
  void checkFurtherInputs(CodeBlock.Builder b) {
    for (int j = 1; j <= gen.ir.further().size(); j++) {
      InputsIr.Further f = gen.ir.further().get(j - 1);
      b.addStatement("$T.$L($S, $S, x$L, $S, n$L)", COMPILED, gen.ir.furtherIsIds(f) ? "furtherIds" : "furtherInput",
          gen.name + "." + gen.ir.inputs().method(), f.name(), j, gen.ir.inputs().inputName(),
          f.shape().length == 0 ? "" : ", " + Generator.joined(f.shape())); // (@Input({}): ids [N], no sizes after n)
    }
  }

  /** {@code float[] in1 = x1.readBuffer(); int in1Off = x1.offset();} for each further input. */
  void readFurtherInputs(CodeBlock.Builder b) {
    for (int j = 1; j <= gen.ir.further().size(); j++) {
      b.addStatement("float[] in$L = x$L.readBuffer()", j, j).addStatement("int in$LOff = x$L.offset()", j, j);
    }
  }

  /**
   * A comparison's 0/1 values: of a value with its constant ({@code MaskTest.GT.select(...)}), or of two values, the second
   * repeated over the first ({@code MaskTest.LT.selectRepeated(...)}, swapped when the repeated one was written first).
   */
  void compareForward(CodeBlock.Builder b, Kernel k, Ref out, Ref in, Map<String, Ref> refs) {
    Compare c = (Compare) k.spec();
    if (k.inputs().size() == 1) {
      b.addStatement("$T.$L.select($L, $L, $L, $L, n * $L, $L)", MASK_TEST, c.test(), out.array(), out.offset(), in.array(), in.offset(),
          k.outPerSample(), Generator.floatLiteral(c.against()));
      return;
    }
    Ref other = gen.ref(k.inputs().get(1), refs);
    int[] small = k.inShapes().get(1);
    String repeat;
    if (small[0] != -1) { // a buffer (x.lt(threshold)): repeated over the batch as an added field
      repeat = ElementwiseEmitter.fieldRepeatArgs(k);
    } else {
      Repeat r = Repeat.of(k.inShapes().get(0), small);
      repeat = r == null ? "n, 1, " + k.outPerSample() : "n * " + r.groups() + ", " + r.size() + ", " + r.inner();
    }
    b.addStatement("$T.$L.selectRepeated($L, $L, $L, $L, $L, $L, $L, $L)", MASK_TEST, c.test(), out.array(), out.offset(), in.array(),
        in.offset(), other.array(), other.offset(), repeat, k.swapped());
  }

  /**
   * A masked fill's mask input as {@code maskedFillRepeated*} takes it: {@code in1, in1Off, n, 12, 6, MaskTest.EQ, 0f}
   * for a mask {@code [N, 1, 1, 6]} over {@code [N, 2, 6, 6]} (each sample's mask repeated over 12 rows of 6).
   */
  CodeBlock maskInputArgs(Kernel k, Map<String, Ref> refs) {
    MaskedFill m = (MaskedFill) k.spec();
    Repeat r = k.maskRepeat();
    Ref mask = gen.ref(k.inputs().get(1), refs);
    return CodeBlock.of("$L, $L, $L, $L, $L, $T.$L, $L", mask.array(), mask.offset(), r.groups() == 1 ? "n" : "n * " + r.groups(),
        r.size(), r.inner(), MASK_TEST, m.test(), Generator.floatLiteral(m.against()));
  }

  /**
   * A method compiled beside forward ({@code method}, of several outputs or several inputs): an inner
   * class {@code Compiled<Method>} holding its fused graph (plans, forward, CUDA form, Plan and
   * Backward), and the field {@code compiled} that holds one.
   */
  void addCompiledBeside(TypeSpec.Builder type, String compiled, String method) {
    addCompiledBeside(type, compiled, CodeBlock.of("The compiled $L, beside the compiled forward: its own plans, backward node and CUDA form.\n", method));
  }

  /** {@link #addCompiledBeside(TypeSpec.Builder, String, String)} with the inner class's javadoc. */
  void addCompiledBeside(TypeSpec.Builder type, String compiled, CodeBlock javadoc) {
    String inner = Character.toUpperCase(compiled.charAt(0)) + compiled.substring(1);
    TypeSpec.Builder innerType = TypeSpec.classBuilder(inner)
        .addModifiers(Modifier.PRIVATE, Modifier.FINAL)
        .addJavadoc(javadoc);
    gen.addFusedMembers(innerType, gen.name + "." + inner);
    type.addType(innerType.build());
    type.addField(FieldSpec.builder(ClassName.get("", inner), compiled, Modifier.PRIVATE, Modifier.FINAL)
        .initializer("new $L()", inner).build());
  }

  /**
   * The method of several inputs' override and what it calls: its fused graph in an inner class of its own
   * ({@code compiledForwardMasked}: plans, forward, CUDA form, Plan and Backward), as a several-outputs
   * method beside a forward of its own has.
   */
  void addInputsMembers(TypeSpec.Builder type, Generator evaluation) {
    InputsIr inputs = gen.ir.inputs();
    String compiled = "compiled" + Character.toUpperCase(inputs.method().charAt(0)) + inputs.method().substring(1);
    if (evaluation == null) {
      addCompiledBeside(type, compiled, inputs.method());
    } else {
      addMethodModes(type, evaluation, compiled, inputs.method());
    }
    // the override's parameters: x, then the declared names (x1, ... for one that is named x)
    List<String> names = new ArrayList<>(List.of("x"));
    for (int j = 1; j <= inputs.further().size(); j++) {
      String declared = inputs.further().get(j - 1).name();
      names.add(declared.equals("x") ? "x" + j : declared);
    }
    MethodSpec.Builder m = MethodSpec.methodBuilder(inputs.method()).addAnnotation(Override.class)
        .addModifiers(Modifier.PUBLIC).returns(gen.outputs == null ? TENSOR : gen.outputsMembers.outputsType());
    names.forEach(n -> m.addParameter(TENSOR, n));
    String args = String.join(", ", names);
    m.beginControlFlow("if (recordingLayers())")
        .addComment("summary() is recording: the layers' eager forwards, each seen as it is applied")
        .addStatement("return super.$L($L)", inputs.method(), args)
        .endControlFlow();
    if (evaluation == null) {
      returnInputs(m, compiled, args);
    } else { // the graph of the call's mode
      m.addCode(modeChoice(type, inputs.modes().owners(), inputs.method(), "super." + inputs.method() + "(" + args + ")"));
      m.beginControlFlow("if (training)");
      returnInputs(m, compiled + "Training", args);
      m.endControlFlow();
      evaluation.inputsMembers.returnInputs(m, compiled + "Evaluation", args);
    }
    type.addMethod(m.build());
  }

  /** The end of the method of several inputs' override: the result of the graph in the field {@code compiled}. */
  private void returnInputs(MethodSpec.Builder m, String compiled, String args) {
    if (gen.outputs == null) {
      m.addStatement("return $L.forward($L)", compiled, args);
    } else { // several outputs: the fused outputs, or their CUDA form, as the method of several outputs picks them
      List<String> params = gen.parameterCode.parameterExpressions();
      CodeBlock onCuda = CodeBlock.of("$T.onCuda($S, $L$L)", COMPILED, gen.name, args, params.isEmpty() ? "" : ", " + String.join(", ", params));
      gen.outputsMembers.returnOutputs(m, onCuda, compiled + "." + gen.cudaEmitter.cudaOutputsMethod() + "(" + args + ")", compiled + ".outputs(" + args + ")");
    }
  }

  /**
   * A method beside forward that reads the training mode ({@link dev.kiln.processor.ir.MethodModes}): this graph (the method
   * in training) and {@code evaluation}'s, each in an inner class of its own ({@code compiledBothTraining}, {@code
   * compiledBothEvaluation}), as forward's two graphs are ({link ForwardMethods#addModeMembers}).
   */
  void addMethodModes(TypeSpec.Builder type, Generator evaluation, String compiled, String method) {
    addCompiledBeside(type, compiled + "Training", CodeBlock.of("The compiled $L in training, beside the compiled forward: its"
        + " own plans, backward node and CUDA form.\n", method));
    evaluation.inputsMembers.addCompiledBeside(type, compiled + "Evaluation", CodeBlock.of("The compiled $L in evaluation, beside the"
        + " compiled forward: its own plans, backward node and CUDA form.\n", method));
  }

  /**
   * {@code boolean training = isTraining();} (the mode of the first of {@code owners}, the modules whose modes the method
   * reads), and the eager call {@code eager} returned where they differ; each owner but the model a field, added once.
   */
  CodeBlock modeChoice(TypeSpec.Builder type, List<String> owners, String method, String eager) {
    List<String> modes = new ArrayList<>();
    for (String owner : owners) {
      if (owner.isEmpty()) {
        modes.add("isTraining()");
        continue;
      }
      String field = "modeOf_" + owner.replace('.', '_');
      if (gen.modeFields.add(field)) {
        type.addField(FieldSpec.builder(MODULE, field, Modifier.PRIVATE, Modifier.FINAL, Modifier.TRANSIENT)
            .addJavadoc("The module whose own mode $L reads ($L).\n", method, owner)
            .initializer("getSubmodule($S)", owner).build());
      }
      modes.add(field + ".isTraining()");
    }
    CodeBlock.Builder b = CodeBlock.builder()
        .add("// $L reads the training mode: the graph compiled for this call's mode runs, and its backward\n", method)
        .addStatement("boolean training = $L", modes.get(0));
    if (modes.size() > 1) {
      b.beginControlFlow("if ($L)", modes.subList(1, modes.size()).stream().map(m -> m + " != training").collect(Collectors.joining(" || ")))
          .add("// modules in different modes ($L): the eager $L, as written\n", String.join(", ", owners.stream()
              .map(o -> o.isEmpty() ? "the model" : o).toList()), method)
          .addStatement("return $L", eager)
          .endControlFlow();
    }
    return b.build();
  }
}
