package dev.kiln.processor.check;

import dev.kiln.processor.ir.ModelIr;
import java.util.List;

/**
 * A model whose shapes fit: the IR with each step's input and output shape ({@code -1} for the
 * batch dimension). Only the generator consumes it.
 */
public record CheckedModel(ModelIr ir, int[] inputShape, List<int[]> stepInputs, List<int[]> stepOutputs) {
  public CheckedModel {
    stepInputs = List.copyOf(stepInputs);
    stepOutputs = List.copyOf(stepOutputs);
  }

  /** The shape {@code forward} returns. */
  public int[] outputShape() {
    return stepOutputs.isEmpty() ? inputShape : stepOutputs.get(stepOutputs.size() - 1);
  }
}
