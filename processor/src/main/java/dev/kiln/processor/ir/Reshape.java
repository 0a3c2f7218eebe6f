package dev.kiln.processor.ir;

import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.ShapeException;
import dev.kiln.runtime.Shapes;
import java.util.List;
import java.util.stream.Collectors;

/**
 * {@code F.reshape(x, -1, d1, d2, ...)} in a compiled forward: each sample's values seen with
 * another shape, the batch kept first as {@code -1} (PyTorch's {@code x.view(-1, C, 1, 1)}, which
 * turns a Linear's {@code [N, C]} into a squeeze-and-excitation scale). A view: no work.
 *
 * @param shape as written, {@code -1} first
 */
public record Reshape(List<Integer> shape) implements LayerSpec {
  public Reshape {
    shape = List.copyOf(shape);
  }

  @Override
  public int[] outputShape(int[] in) {
    if (shape.size() == 1) {
      throw new ShapeException(this + " cannot take " + Shapes.toString(in) + ": it would merge the batch into one"
          + " dimension; flatten(x) keeps the batch ([N, values per sample])");
    }
    if (shape.get(0) != -1) {
      throw new ShapeException(this + " cannot take " + Shapes.toString(in) + ": a compiled model keeps dimension 0 as"
          + " the batch, so the shape starts with -1 (reshape(x, -1, ...))");
    }
    long perSample = 1;
    for (int i = 1; i < shape.size(); i++) {
      if (shape.get(i) < 0) {
        throw new ShapeException(this + " cannot take " + Shapes.toString(in) + ": the sizes after the batch's -1 must be"
            + " written out, got " + shape.get(i));
      }
      perSample *= shape.get(i);
    }
    long have = 1;
    for (int i = 1; i < in.length; i++) {
      have *= in[i];
    }
    if (perSample != have && have > perSample && have % perSample == 0) { // decoded.view(-1, ntoken) of [N, S, V]
      String kept = Shapes.toString(shape.stream().mapToInt(Integer::intValue).toArray()).replace("[N", "[N * " + have / perSample);
      throw new ShapeException(this + " cannot take " + Shapes.toString(in) + ": it would fold " + have / perSample + " rows of"
          + " each sample into the batch (" + kept + "), and a compiled forward keeps dimension 0 as the batch of the model's"
          + " input; keep the rows (reshape(x, -1, " + have / perSample + ", " + shape.subList(1, shape.size()).stream()
          .map(String::valueOf).collect(Collectors.joining(", ")) + ")) and view the output outside forward"
          + " (out.view(-1, " + shape.get(shape.size() - 1) + ") before the loss)");
    }
    if (perSample != have) {
      throw new ShapeException(this + " cannot take " + Shapes.toString(in) + ": " + have + " values per sample, not "
          + perSample);
    }
    return shape.stream().mapToInt(Integer::intValue).toArray();
  }

  @Override
  public String toString() {
    return "reshape(" + shape.stream().map(String::valueOf).collect(Collectors.joining(", ")) + ")";
  }
}
