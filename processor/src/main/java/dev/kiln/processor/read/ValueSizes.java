package dev.kiln.processor.read;

import com.sun.source.util.Trees;
import dev.kiln.processor.Diagnostics;
import dev.kiln.processor.check.ShapeChecker;
import dev.kiln.processor.ir.IdOp;
import dev.kiln.processor.ir.InputsIr;
import dev.kiln.processor.ir.ModelIr;
import dev.kiln.processor.ir.StepIr;
import dev.kiln.processor.ir.TensorIr;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The shapes of the values a method of the model has read so far, for the sizes it reads of them as constants
 * ({@code x.size(1)}, {@code x.shape()[1]}, PyTorch's {@code B, T, C = x.size()}): the reader builds the steps in program
 * order and the checker infers each value's shape from the ones before ({@link ShapeChecker#shapes}), so a size is
 * known where it is read, before the steps after it exist. The steps are inferred again only when more were read.
 */
final class ValueSizes {
  private final int[] input;
  private final String inputName;
  private final List<InputsIr.Further> further;
  private final Supplier<List<TensorIr>> tensors;
  /** The method's steps as they are read (a block's inlined forward adds to them too). */
  private final List<StepIr> steps;
  private final Diagnostics diagnostics;
  /** The checker that infers silently: an error it finds is reported by the real one, where a size needs that value. */
  private final ShapeChecker quiet;
  private Map<String, int[]> shapes;
  private int inferred = -1;

  ValueSizes(int[] input, String inputName, List<InputsIr.Further> further, Supplier<List<TensorIr>> tensors, List<StepIr> steps,
      Trees trees, Diagnostics diagnostics) {
    this.input = input.clone();
    this.inputName = inputName;
    this.further = List.copyOf(further);
    this.tensors = tensors;
    this.steps = steps;
    this.diagnostics = diagnostics;
    Diagnostics silent = new Diagnostics(trees, null);
    silent.hold(); // (never released: the messages are dropped)
    this.quiet = new ShapeChecker(silent);
  }

  /**
   * The shape of {@code value} ({@code -1} for the batch; a tensor field's has none), or null when an error in a step before
   * it leaves it unknown: that error is then reported (on its own line, as the checker reports it later).
   */
  int[] shapeOf(String value) {
    if (inferred != steps.size()) {
      shapes = quiet.shapes(graph());
      inferred = steps.size();
    }
    int[] shape = shapes.get(value);
    if (shape == null) { // a tensor field read since the shapes were inferred (no step added): inferred again, with it
      shapes = quiet.shapes(graph());
      shape = shapes.get(value);
    }
    if (shape == null) {
      new ShapeChecker(diagnostics).shapes(graph());
    }
    return shape;
  }

  /** Infers the shapes again when next asked: steps were dropped ({@code fc.apply(x).size(1)} read for its size alone). */
  void forget() {
    inferred = -1;
  }

  /** The steps read so far as a graph the checker takes. */
  private ModelIr graph() {
    return new ModelIr(ModelIr.Form.CLASS, null, "", "", null, "", input, inputName, List.of(), IdOp.asFloatsWhereNotIds(steps), null, null,
        null, -1, tensors.get(), null, further);
  }
}
