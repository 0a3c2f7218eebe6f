package dev.kiln.processor.ir;

import dev.kiln.dsl.Embedding;
import java.util.List;
import javax.lang.model.element.Element;

/**
 * A {@code @Model} declaration as read from source: immutable, checked only for what reading
 * needs. {@code steps} run in order from the input value {@code inputName}; {@code result} is the
 * returned value.
 *
 * @param form whether the model is a {@code Module} subclass or a static method returning a Sequential
 * @param element the annotated element (diagnostics and originating element)
 * @param packageName package of the declaration
 * @param declaringType simple (nested: dotted) name of the class that declares the model
 * @param factoryMethod the static method's name for {@link Form#METHOD}, else null
 * @param generatedName simple name of the class to generate, e.g. {@code KilnMlp}
 * @param input one sample's shape from {@code @Model(input)}
 * @param outputs the method returning several tensors besides forward, or null
 * @param forwardReturns the component of {@code outputs} that forward returns when its body is
 *     {@code return forwardWithHidden(x).output();} ({@code steps} are then empty and
 *     {@code result} null), else -1
 * @param tensors the tensor fields forward (or the outputs method) reads, each a value named
 *     {@link TensorIr#value()} that steps may read beside the input and each other's outputs
 * @param inputs the method taking several inputs besides forward, or null
 * @param further the inputs besides {@code inputName} that these steps read: the further inputs of
 *     {@link #inputsGraph()}, empty for forward and the outputs method
 * @param modes when forward reads the training mode: forward read in evaluation beside these steps (read in
 *     training), else null
 */
public record ModelIr(
    Form form,
    Element element,
    String packageName,
    String declaringType,
    String factoryMethod,
    String generatedName,
    int[] input,
    String inputName,
    List<LayerIr> layers,
    List<StepIr> steps,
    String result,
    Source source,
    OutputsIr outputs,
    int forwardReturns,
    List<TensorIr> tensors,
    InputsIr inputs,
    List<InputsIr.Further> further,
    Modes modes) {

  /** A model whose forward reads no training mode. */
  public ModelIr(Form form, Element element, String packageName, String declaringType, String factoryMethod,
      String generatedName, int[] input, String inputName, List<LayerIr> layers, List<StepIr> steps, String result,
      Source source, OutputsIr outputs, int forwardReturns, List<TensorIr> tensors, InputsIr inputs,
      List<InputsIr.Further> further) {
    this(form, element, packageName, declaringType, factoryMethod, generatedName, input, inputName, layers, steps, result,
        source, outputs, forwardReturns, tensors, inputs, further, null);
  }

  /** This model with forward read in evaluation too ({@link Modes}). */
  public ModelIr withModes(Modes modes) {
    return new ModelIr(form, element, packageName, declaringType, factoryMethod, generatedName, input, inputName, layers,
        steps, result, source, outputs, forwardReturns, tensors, inputs, further, modes);
  }

  public ModelIr {
    layers = List.copyOf(layers);
    tensors = List.copyOf(tensors);
    further = List.copyOf(further);
    steps = List.copyOf(steps);
    input = input.clone();
    if (forwardReturns >= 0 && (outputs == null || !steps.isEmpty())) {
      throw new IllegalArgumentException("forward returns a component of " + outputs + " but has steps of its own");
    }
  }

  /**
   * Whether the input is token or category ids (a label tensor), not floats: an Embedding reads it,
   * in forward, the outputs method or the method of several inputs. The checker makes sure only Embeddings do.
   */
  public boolean takesIds() {
    return readsIds(steps, inputName) || outputs != null && readsIds(outputs.steps(), outputs.inputName())
        || inputs != null && readsIds(inputs.steps(), inputs.inputName());
  }

  /**
   * Whether the further input {@code f} is ids (a label tensor), not floats: an Embedding reads it, as one
   * reads the first input of a model of token ids. The checker makes sure only Embeddings do.
   */
  public boolean furtherIsIds(InputsIr.Further f) {
    return readsIds(steps, f.name());
  }

  private static boolean readsIds(List<StepIr> steps, String input) {
    return steps.stream().anyMatch(s -> looksUp(s.spec()) && s.input().equals(input)
        || s.spec() instanceof IdOp && s.inputs().contains(input) // (ids.add(1), users.mul(V).add(items): ids)
        || s.spec() instanceof IdMove && IdMove.operands(s).contains(input) // (ids.flip(1), Tensor.where(m, ids, other): ids)
        || s.spec() instanceof Scatter w && w.indexInput() >= 0 && s.inputs().get(w.indexInput()).equals(input)); // (x.scatter(1, ids, src))
  }

  /** Whether a step of this spec reads ids: an Embedding's, or an EmbeddingBag's (bags as the rows of its ids). */
  public static boolean looksUp(dev.kiln.dsl.LayerSpec spec) {
    return spec instanceof Embedding.Spec || spec instanceof dev.kiln.dsl.EmbeddingBag.Spec;
  }

  /** Whether forward's body is {@code return forwardWithHidden(x).output();}. */
  public boolean forwardDelegates() {
    return forwardReturns >= 0;
  }

  /**
   * The same model seen through its outputs method: its steps and input name, its last value as
   * {@code result}. The checker and generator treat it as one more graph to compile.
   */
  public ModelIr outputsGraph() {
    return outputsGraph(outputs);
  }

  /** {@link #outputsGraph()} of the outputs method read in evaluation ({@link OutputsIr#modes()}). */
  public ModelIr outputsEvaluationGraph() {
    return outputsGraph(outputs.modes().evaluation());
  }

  private ModelIr outputsGraph(OutputsIr outputs) {
    String last = outputs.steps().isEmpty() ? outputs.inputName() : outputs.steps().get(outputs.steps().size() - 1).output();
    return new ModelIr(form, element, packageName, declaringType, factoryMethod, generatedName, input, outputs.inputName(),
        layers, outputs.steps(), last, outputs.source(), outputs, -1, tensors, null, List.of());
  }

  /**
   * The same model seen through its method of several inputs: its steps, first input and result, its
   * further inputs as {@code further}, its record of several outputs (if it returns one) as {@code outputs}. The
   * checker and generator treat it as one more graph to compile, of several inputs and, maybe, several outputs.
   */
  public ModelIr inputsGraph() {
    return inputsGraph(inputs);
  }

  /** {@link #inputsGraph()} of the method of several inputs read in evaluation ({@link InputsIr#modes()}). */
  public ModelIr inputsEvaluationGraph() {
    return inputsGraph(inputs.modes().evaluation());
  }

  private ModelIr inputsGraph(InputsIr inputs) {
    return new ModelIr(form, element, packageName, declaringType, factoryMethod, generatedName, input, inputs.inputName(),
        layers, inputs.steps(), inputs.result(), inputs.source(), inputs.outputs(), -1, tensors, inputs, inputs.further());
  }

  /** Whether this is the graph of the method of several inputs ({@link #inputsGraph()}). */
  public boolean isInputsGraph() {
    return inputs != null && !further.isEmpty();
  }

  /** The further input whose value is {@code value}, or null. */
  public InputsIr.Further furtherInput(String value) {
    return further.stream().filter(f -> f.name().equals(value)).findFirst().orElse(null);
  }

  /** The tensor field whose value is {@code value} ({@link TensorIr#value()}), or null for the input or a step's output. */
  public TensorIr tensor(String value) {
    return tensors.stream().filter(t -> t.value().equals(value)).findFirst().orElse(null);
  }

  /** The two ways to declare a model. */
  public enum Form {
    CLASS,
    METHOD
  }
}
