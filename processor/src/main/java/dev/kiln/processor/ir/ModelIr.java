package dev.kiln.processor.ir;

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
    Source source) {

  public ModelIr {
    layers = List.copyOf(layers);
    steps = List.copyOf(steps);
    input = input.clone();
  }

  /** The two ways to declare a model. */
  public enum Form {
    CLASS,
    METHOD
  }
}
