package dev.kiln.processor.ir;

import java.util.List;

/**
 * The one method of a {@code @Model} class that returns several tensors besides {@code forward}:
 * {@code Outputs forwardWithHidden(Tensor x)} ending in {@code return new Outputs(out, hidden);}
 * (a record whose components are all tensors), or {@code Tensor[] ...} ending in
 * {@code return new Tensor[] {out, hidden};}. Its body is read like {@code forward}'s.
 *
 * @param method the method's name
 * @param recordPackage the record's package; null for {@code Tensor[]}
 * @param recordType the record's simple (nested: dotted) name, as written in source; null for {@code Tensor[]}
 * @param components the record's accessor names in order; {@code [0]}, {@code [1]}, ... for an array
 * @param inputName the method's parameter
 * @param steps the body's operations, in order
 * @param results the value each component returns, index for index with {@code components}
 * @param source the method, for diagnostics
 * @param modes when the method reads the training mode: its body read in evaluation (these steps are read in
 *     training), else null
 */
public record OutputsIr(
    String method,
    String recordPackage,
    String recordType,
    List<String> components,
    String inputName,
    List<StepIr> steps,
    List<String> results,
    Source source,
    MethodModes<OutputsIr> modes) {

  /** A method that reads no training mode. */
  public OutputsIr(String method, String recordPackage, String recordType, List<String> components, String inputName,
      List<StepIr> steps, List<String> results, Source source) {
    this(method, recordPackage, recordType, components, inputName, steps, results, source, null);
  }

  /** This method with its body read in evaluation too ({@link MethodModes}). */
  public OutputsIr withModes(MethodModes<OutputsIr> modes) {
    return new OutputsIr(method, recordPackage, recordType, components, inputName, steps, results, source, modes);
  }

  public OutputsIr {
    components = List.copyOf(components);
    steps = List.copyOf(steps);
    results = List.copyOf(results);
    if (components.size() != results.size()) {
      throw new IllegalArgumentException(components.size() + " components but " + results.size() + " results");
    }
  }

  /** Whether the method returns {@code Tensor[]} rather than a record. */
  public boolean isArray() {
    return recordType == null;
  }

  /** {@code forwardWithHidden(x).output()} or {@code forwardWithHidden(x)[0]}: how forward picks component {@code i}. */
  public String call(int i) {
    return method + "(x)" + (isArray() ? components.get(i) : "." + components.get(i) + "()");
  }
}
