package dev.kiln.processor.gen;

import static dev.kiln.processor.gen.Generator.TENSOR;

import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import com.palantir.javapoet.MethodSpec;
import com.palantir.javapoet.ParameterizedTypeName;
import com.palantir.javapoet.TypeName;
import com.palantir.javapoet.TypeSpec;
import com.palantir.javapoet.TypeVariableName;
import dev.kiln.dsl.Embedding;
import dev.kiln.processor.ir.ModelIr;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import javax.lang.model.element.Modifier;
import javax.lang.model.element.TypeElement;

/**
 * The public methods around the fused forward, for {@link Generator}: forward with its guards (the batch size,
 * the summary, CUDA), the choice of the graph of the training mode read and the flags handed to backward, the
 * self-typed overrides, and the declared input shape.
 */
final class ForwardMethods {
  private final Generator gen;

  ForwardMethods(Generator gen) {
    this.gen = gen;
  }

  /**
   * {@code boolean[] training}: each batch norm's, tracking instance norm's and dropout's own mode, by step number (PyTorch's
   * {@code self.training} of that module: {@code model.eval(); model.drop.train()} keeps that
   * dropout on), read once per forward and handed to its backward.
   */
  void declareTrainingFlags(CodeBlock.Builder b) {
    if (!usesTrainingMode()) {
      return;
    }
    b.add("// each batch norm's and dropout's own train()/eval() mode, by step\n")
        .addStatement("boolean[] training = new boolean[$L]", gen.kernels.size() + 1);
    for (int j = 0; j < gen.kernels.size(); j++) {
      Kernel k = gen.kernels.get(j);
      if (k.kind() == Kernel.Kind.BATCHNORM || k.kind() == Kernel.Kind.DROPOUT || StepCalls.dropsBetweenLayers(k)
          || NormEmitter.tracksRunningStats(k)) {
        // (F.dropout(x, p, isTraining()) in training has no layer: it drops, as eager's call in that mode)
        b.addStatement("training[$L] = $L", j + 1, k.layer() == null ? "true" : gen.layerFields.layerField(k.layer()) + ".isTraining()");
      }
    }
  }

  boolean usesTrainingMode() {
    return gen.kernels.stream().anyMatch(k -> k.kind() == Kernel.Kind.BATCHNORM || k.kind() == Kernel.Kind.DROPOUT || StepCalls.dropsBetweenLayers(k)
        || NormEmitter.tracksRunningStats(k));
  }

  // ------------------------------------------------------------------ a forward that reads the training mode

  /**
   * A forward that reads the training mode ({@code if (isTraining())}, {@link dev.kiln.processor.ir.Modes}): this graph
   * (forward in training) and {@code evaluation}'s, each in an inner class of its own (plans, forward, CUDA form, Plan
   * and Backward), and the forward that runs the one of the call's mode, whose backward node then follows that mode.
   * Where forward reads the modes of several modules (the model's, a block's) and they differ ({@code h.0.eval()} in a
   * training model), the eager forward runs, as written.
   */
  void addModeMembers(TypeSpec.Builder type, Generator evaluation) {
    gen.modeGraph = true;
    evaluation.modeGraph = true;
    gen.inputsMembers.addCompiledBeside(type, "compiledTraining", CodeBlock.of("Forward compiled for training ($L): its own plans, backward node"
        + " and CUDA form.\n", modeReads()));
    evaluation.inputsMembers.addCompiledBeside(type, "compiledEvaluation", CodeBlock.of("Forward compiled for evaluation: its own plans,"
        + " backward node and CUDA form.\n"));
    CodeBlock.Builder b = gen.inputsMembers.modeChoice(type, gen.ir.modes().owners(), "forward", "super.forward(x)").toBuilder();
    b.addStatement("return training ? compiledTraining.forward(x) : compiledEvaluation.forward(x)");
    type.addMethod(MethodSpec.methodBuilder("forward").addAnnotation(Override.class).addModifiers(Modifier.PUBLIC)
        .returns(TENSOR).addParameter(TENSOR, "x").addCode(summaryGuard("forward")).addCode(b.build()).build());
  }

  /** Where forward reads the training mode, for comments: {@code isTraining() at Model.java:20, h.0's at Block.java:12}. */
  private String modeReads() {
    Map<String, Set<String>> lines = new LinkedHashMap<>();
    gen.ir.modes().reads().forEach(r -> lines.computeIfAbsent(r.owner(), o -> new LinkedHashSet<>()).add(r.source().where()));
    return lines.entrySet().stream().map(e -> (e.getKey().isEmpty() ? "isTraining()" : e.getKey() + "'s") + " at "
        + String.join(", ", e.getValue())).collect(Collectors.joining("; "));
  }

  /** The input's check: float values of one sample's shape, or ids (a label tensor) when an Embedding reads them. */
  String batchSizeCheck() {
    return gen.ir.takesIds() ? "batchSizeOfIds" : "batchSize";
  }

  MethodSpec forwardMethod(CodeBlock body) {
    return MethodSpec.methodBuilder("forward")
        .addAnnotation(Override.class)
        .addModifiers(Modifier.PUBLIC)
        .returns(TENSOR)
        .addParameter(TENSOR, "x")
        .addCode(summaryGuard("forward"))
        .addCode(gen.cudaEmitter.cudaGuard("forward"))
        .addCode(body)
        .build();
  }

  /**
   * While {@code summary()} records the layers a forward applies, the eager forward runs instead of
   * the fused code (which applies no layer): the declaration's own method, or the factory's Sequential.
   */
  CodeBlock summaryGuard(String method) {
    return CodeBlock.builder()
        .beginControlFlow("if (recordingLayers())")
        .add("// summary() is recording: the layers' eager forwards, each seen as it is applied\n")
        .addStatement("return $L.$L(x)", gen.ir.form() == ModelIr.Form.METHOD ? "eager" : "super", method)
        .endControlFlow()
        .build();
  }

  /**
   * {@code to}, {@code train} and {@code eval} returning the generated type (they return {@code
   * Module} in {@code Module}), so that {@code KilnNet net = new KilnNet().to(device)} compiles.
   */
  void addSelfTypedOverrides(TypeSpec.Builder type) {
    TypeName self = parameterized(ClassName.get(gen.ir.packageName(), gen.name));
    type.addMethod(selfTyped(self, "to", ClassName.get("dev.kiln.runtime", "Device"), "device"))
        .addMethod(selfTyped(self, "train", null, null))
        .addMethod(selfTyped(self, "train", TypeName.BOOLEAN, "on"))
        .addMethod(selfTyped(self, "eval", null, null));
  }

  /** The type variables of a generic model class ({@code <T>} of {@code Net<T>}); none for a factory method's model. */
  List<TypeVariableName> typeVariables() {
    return gen.ir.form() != ModelIr.Form.CLASS ? List.of()
        : ((TypeElement) gen.ir.element()).getTypeParameters().stream().map(TypeVariableName::get).toList();
  }

  /** {@code type} with the model's type variables as arguments, or {@code type} itself when there are none. */
  TypeName parameterized(ClassName type) {
    List<TypeVariableName> vars = typeVariables();
    return vars.isEmpty() ? type : ParameterizedTypeName.get(type, vars.toArray(new TypeName[0]));
  }

  /** {@code public Self method(param) { super.method(param); return this; }}, without a parameter if its type is null. */
  private static MethodSpec selfTyped(TypeName self, String method, TypeName paramType, String param) {
    MethodSpec.Builder m = MethodSpec.methodBuilder(method).addAnnotation(Override.class).addModifiers(Modifier.PUBLIC).returns(self);
    if (paramType != null) {
      m.addParameter(paramType, param);
    }
    return m.addStatement("super.$L($L)", method, param == null ? "" : param).addStatement("return this").build();
  }

  /** The sample shape of the declaration's {@code @Model(input = ...)}, for {@code summary()}. */
  MethodSpec declaredInputShape() {
    int[] sample = Arrays.copyOfRange(gen.model.inputShape(), 1, gen.model.inputShape().length);
    return MethodSpec.methodBuilder("declaredInputShape")
        .addAnnotation(Override.class)
        .addModifiers(Modifier.PROTECTED)
        .returns(int[].class)
        .addStatement("return new int[] {$L}", Generator.joined(sample))
        .build();
  }
}
