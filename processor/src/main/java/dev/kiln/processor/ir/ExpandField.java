package dev.kiln.processor.ir;

import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.ShapeException;
import dev.kiln.runtime.Shapes;
import java.util.List;
import java.util.stream.Collectors;

/**
 * {@code field.expand(n, sizes...)} in a compiled forward, {@code n} the batch size: a tensor field of the model (no
 * batch) repeated over the batch, a value of the batch from then on. ViT's learned cls token ({@code
 * cls_token.expand(b, -1, -1)}, einops' {@code repeat(cls_token, '1 1 d -> b 1 d')}) and the learned query of an
 * attention pooling ({@code query.expand(b, -1, -1)} into {@code nn.MultiheadAttention}) are such. Eager mode's expand,
 * one pass per run of stretched dimensions each way ({@link Shapes#expandRuns}; the first stretches the field over the
 * batch), its gradient summed back over the batch into the parameter's, as eager's expand backward sums it.
 *
 * @param sizes the sizes written after the batch's: {@code -1} keeps the field's, a size stretches one of 1
 */
public record ExpandField(List<Integer> sizes) implements LayerSpec {
  public ExpandField {
    sizes = List.copyOf(sizes);
  }

  /**
   * The value's shape, the batch first ({@code -1}), from the field's {@code field} (PyTorch's rules: the field's
   * dimensions line up with the last sizes, its first one, before them or of size 1, stretched over the batch).
   *
   * @throws ShapeException naming the dimension that does not expand
   */
  @Override
  public int[] outputShape(int[] field) {
    int rank = sizes.size() + 1;
    if (field.length > rank) {
      throw new ShapeException(this + " of the field " + Shapes.toString(field) + ": the number of sizes provided (" + rank
          + ") must be greater or equal to the number of dimensions in the tensor (" + field.length + ")");
    }
    int lead = rank - field.length;
    if (lead == 0 && field[0] != 1) {
      throw new ShapeException(this + " of the field " + Shapes.toString(field) + ": its dimension 0 has size " + field[0]
          + ", not 1, so it cannot stretch over the batch (PyTorch: the expanded size must match the existing size at"
          + " non-singleton dimension 0); declare the field with a first size of 1, as ViT's cls token [1, 1, D]");
    }
    int[] out = new int[rank];
    out[0] = -1;
    for (int d = 1; d < rank; d++) {
      int size = sizes.get(d - 1);
      int own = d < lead ? -2 : field[d - lead]; // -2: a new leading dimension
      if (own == -2 && size == -1) {
        throw new ShapeException(this + " of the field " + Shapes.toString(field) + ": the expanded size of the tensor (-1) isn't"
            + " allowed in a leading, non-existing dimension " + d);
      }
      if (size == -1 || size == own) {
        out[d] = own == -2 ? size : own;
      } else if ((own == 1 || own == -2) && size >= 1) {
        out[d] = size;
      } else {
        throw new ShapeException(this + " of the field " + Shapes.toString(field) + ": the expanded size of the tensor (" + size
            + ") must match the existing size (" + own + ") at non-singleton dimension " + d);
      }
    }
    return out;
  }

  /**
   * The expand's passes per sample ({@link Cosine#expansion}: {@code {outer, size, inner, start, end}}, the first, which
   * stretches the field over the batch, starting at dimension 0).
   */
  public int[][] passes(int[] field, int[] out) {
    return Cosine.expansion(field, out);
  }

  /** The sizes as eager code writes them, the batch size {@code n} first: {@code n, -1, -1}. */
  public String arguments() {
    return "n" + sizes.stream().map(s -> ", " + s).collect(Collectors.joining());
  }

  @Override
  public String toString() {
    return "expand(N" + sizes.stream().map(s -> ", " + s).collect(Collectors.joining()) + ")";
  }
}
