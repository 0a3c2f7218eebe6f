package dev.kiln.processor.ir;

import java.util.List;

/**
 * A forward that reads the training mode ({@code if (isTraining()) ...}, {@code isTraining() ? a : b}, PyTorch's {@code
 * self.training}), read once per mode: the model's own IR is forward in training, {@code evaluation} forward in
 * evaluation. The compiled class holds a graph of each and runs the one of the call's mode.
 *
 * @param evaluation forward's steps read with every mode it reads false (its own {@code modes} null)
 * @param reads where forward read a mode, and whose: the model's (owner {@code ""}) or a block's (its path, {@code h.0})
 * @param training the values each condition on the mode joined in training: the locals its branches assign, the
 *     value of a {@code ?:}, the value a branch returns
 * @param evaluated the same joins read in evaluation
 */
public record Modes(ModelIr evaluation, List<Read> reads, List<Join> training, List<Join> evaluated) {
  public Modes {
    reads = List.copyOf(reads);
    training = List.copyOf(training);
    evaluated = List.copyOf(evaluated);
  }

  /** A read of a module's mode: {@code owner} is {@code ""} for the model, else the block's path. */
  public record Read(String owner, Source source) {}

  /**
   * A value after a condition on the mode ({@code where}, the {@code occurrence}-th time it was read: an unrolled
   * loop reads it once per turn): the local {@code name} (or the {@code ?:} as written, or the value returned) holds
   * {@code value}.
   */
  public record Join(Source where, int occurrence, String name, String value) {
    /** Whether {@code other} is the same join read in the other mode. */
    public boolean sameAs(Join other) {
      return where.tree() == other.where.tree() && occurrence == other.occurrence && name.equals(other.name);
    }
  }

  /** The owners whose modes forward reads, each once, in the order first read. */
  public List<String> owners() {
    return reads.stream().map(Read::owner).distinct().toList();
  }
}
