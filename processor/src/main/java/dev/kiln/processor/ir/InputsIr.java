package dev.kiln.processor.ir;

import dev.kiln.runtime.Shapes;
import java.util.List;

/**
 * The one method of a {@code @Model} class that takes several tensors besides {@code forward}:
 * {@code Tensor forwardMasked(Tensor x, @Input({6}) Tensor mask)}, its first parameter the tensor
 * {@code @Model(input = ...)} describes, each further one a value of the shape its {@code @Input} gives
 * (after the batch dimension, which every input shares). Its body is read like {@code forward}'s, the
 * further inputs being values like x, or ids where an Embedding looks them up
 * ({@link ModelIr#furtherIsIds}); it returns one tensor, or a record of tensors (or {@code Tensor[]}) as the method of
 * several outputs does: {@code PairOut forwardPair(Tensor a, @Input({4}) Tensor b)} ending in
 * {@code return new PairOut(ea, eb, score);}. Its graph ({@link ModelIr#inputsGraph()}) then has several inputs and
 * several outputs, which the checker and generator treat as any graph's inputs and outputs.
 *
 * @param method the method's name
 * @param inputName its first parameter (x)
 * @param further its further parameters, in order
 * @param steps the body's operations, in order
 * @param result the returned value (with several outputs: the value computed last)
 * @param source the method, for diagnostics
 * @param outputs the record (or array) it returns, its components and the value each returns, over the same
 *     {@code steps}; null when it returns one tensor
 */
public record InputsIr(String method, String inputName, List<Further> further, List<StepIr> steps, String result, Source source,
    OutputsIr outputs, MethodModes<InputsIr> modes) {
  /** A method that reads no training mode. */
  public InputsIr(String method, String inputName, List<Further> further, List<StepIr> steps, String result, Source source,
      OutputsIr outputs) {
    this(method, inputName, further, steps, result, source, outputs, null);
  }

  /** This method with its body read in evaluation too ({@link MethodModes}). */
  public InputsIr withModes(MethodModes<InputsIr> modes) {
    return new InputsIr(method, inputName, further, steps, result, source, outputs, modes);
  }

  public InputsIr {
    further = List.copyOf(further);
    steps = List.copyOf(steps);
    if (outputs != null && !outputs.steps().equals(steps)) {
      throw new IllegalArgumentException("the outputs of " + method + " are read from other steps");
    }
  }

  /** The values it returns: {@code result} alone, or one per output. */
  public List<String> results() {
    return outputs == null ? List.of(result) : outputs.results();
  }

  /**
   * A further input: its parameter's name (its value's name among the method's values) and one sample's
   * shape from its {@code @Input}.
   */
  public record Further(String name, int[] shape, Source source) {
    public Further {
      shape = shape.clone();
    }

    /** {@code [N, 6]}: its whole shape, the batch first. */
    public int[] batchShape() {
      int[] s = new int[shape.length + 1];
      s[0] = -1;
      System.arraycopy(shape, 0, s, 1, shape.length);
      return s;
    }

    /** {@code the input mask [N, 6] (@Input)}, for messages. */
    public String describe() {
      return "the input " + name + " " + Shapes.toString(batchShape()) + " (@Input)";
    }
  }
}
