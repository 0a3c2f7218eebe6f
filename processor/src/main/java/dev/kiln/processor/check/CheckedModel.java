package dev.kiln.processor.check;

import dev.kiln.processor.ir.ModelIr;
import java.util.List;

/**
 * A model whose shapes fit: the IR with each step's input and output shape ({@code -1} for the
 * batch dimension). Only the generator consumes it.
 *
 * @param outputs the model's outputs method checked the same way (its {@code ir} is
 *     {@link ModelIr#outputsGraph()}), or null when there is none
 * @param inputs the model's method of several inputs checked the same way (its {@code ir} is
 *     {@link ModelIr#inputsGraph()}), or null when there is none
 * @param evaluation forward in evaluation checked the same way (its {@code ir} is {@link ModelIr#modes()}'s), when
 *     forward reads the training mode; else null
 */
public record CheckedModel(ModelIr ir, int[] inputShape, List<int[]> stepInputs, List<int[]> stepOutputs, CheckedModel outputs,
    CheckedModel inputs, CheckedModel evaluation) {
  /** A model whose forward reads no training mode. */
  public CheckedModel(ModelIr ir, int[] inputShape, List<int[]> stepInputs, List<int[]> stepOutputs, CheckedModel outputs,
      CheckedModel inputs) {
    this(ir, inputShape, stepInputs, stepOutputs, outputs, inputs, null);
  }

  public CheckedModel {
    stepInputs = List.copyOf(stepInputs);
    stepOutputs = List.copyOf(stepOutputs);
  }

  /** The shape of a value: the input, a further input, a tensor field (without a batch dimension) or a step's output. */
  public int[] shapeOf(String value) {
    for (int i = 0; i < ir.steps().size(); i++) {
      if (ir.steps().get(i).output().equals(value)) {
        return stepOutputs.get(i);
      }
    }
    if (value.equals(ir.inputName())) {
      return inputShape;
    }
    if (ir.tensor(value) != null) {
      return ir.tensor(value).shape();
    }
    if (ir.furtherInput(value) != null) {
      return ir.furtherInput(value).batchShape();
    }
    throw new IllegalArgumentException("no value " + value);
  }

  /** The shape {@code forward} returns. */
  public int[] outputShape() {
    return stepOutputs.isEmpty() ? inputShape : stepOutputs.get(stepOutputs.size() - 1);
  }
}
