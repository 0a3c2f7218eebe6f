package dev.kiln.processor.ir;

import java.util.List;

/**
 * A method beside forward (of several outputs, {@link OutputsIr}, or of several inputs, {@link InputsIr}) that reads the
 * training mode, read once per mode as forward is ({@link Modes}): the method's own IR is its body read in training,
 * {@code evaluation} the same method read in evaluation. The compiled class holds a graph of each.
 *
 * @param evaluation the method read with every mode it reads false (its own {@code modes} null)
 * @param reads where it read a mode, and whose: the model's (owner {@code ""}) or a block's (its path)
 * @param training the values each condition on the mode joined in training ({@link Modes.Join})
 * @param evaluated the same joins read in evaluation
 */
public record MethodModes<T>(T evaluation, List<Modes.Read> reads, List<Modes.Join> training, List<Modes.Join> evaluated) {
  public MethodModes {
    reads = List.copyOf(reads);
    training = List.copyOf(training);
    evaluated = List.copyOf(evaluated);
  }

  /** The owners whose modes the method reads, each once, in the order first read. */
  public List<String> owners() {
    return reads.stream().map(Modes.Read::owner).distinct().toList();
  }
}
