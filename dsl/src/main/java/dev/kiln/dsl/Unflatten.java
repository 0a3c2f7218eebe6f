package dev.kiln.dsl;

import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;
import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * Splits dimension {@code dim} into {@code sizes} (one of them may be -1, inferred), as PyTorch's {@code
 * nn.Unflatten(dim, unflattened_size)}: {@code Flatten}'s inverse, {@code [N, 784] -> [N, 1, 28, 28]}; a view.
 */
public class Unflatten extends Layer<Unflatten.Spec> {
  /** Unflatten's hyper-parameters and shape rule. */
  public record Spec(int dim, int[] sizes) implements LayerSpec {
    public Spec {
      sizes = sizes.clone();
      if (sizes.length == 0) {
        throw new IllegalArgumentException("Unflatten: unflattened_size needs at least one size");
      }
      if (Arrays.stream(sizes).filter(s -> s == -1).count() > 1 || Arrays.stream(sizes).anyMatch(s -> s < -1 || s == 0)) {
        throw new IllegalArgumentException("Unflatten: unflattened_size must be positive sizes, one of them -1 at most, got "
            + Shapes.toString(sizes));
      }
    }

    @Override
    public int[] sizes() {
      return sizes.clone();
    }

    @Override
    public int[] outputShape(int[] in) {
      int d;
      try {
        d = Shapes.normalizeDim(dim, in.length);
      } catch (IllegalArgumentException e) {
        throw new ShapeException(this + " cannot take " + Shapes.toString(in) + ": " + e.getMessage());
      }
      if (in[d] == -1) {
        throw new ShapeException(this + " cannot take " + Shapes.toString(in) + ": dimension " + d + " is the batch");
      }
      int known = Arrays.stream(sizes).filter(s -> s != -1).reduce(1, (a, b) -> a * b);
      int[] split = sizes.clone();
      for (int i = 0; i < split.length; i++) {
        if (split[i] == -1) {
          split[i] = in[d] % known == 0 ? in[d] / known : -2;
        }
      }
      if (Arrays.stream(split).reduce(1, (a, b) -> a * b) != in[d] || Arrays.stream(split).anyMatch(s -> s == -2)) {
        throw new ShapeException(this + " cannot take " + Shapes.toString(in) + ": provided sizes " + Shapes.toString(sizes)
            + " don't multiply up to the size of dim " + d + " (" + in[d] + ")");
      }
      int[] out = new int[in.length - 1 + split.length];
      System.arraycopy(in, 0, out, 0, d);
      System.arraycopy(split, 0, out, d, split.length);
      System.arraycopy(in, d + 1, out, d + split.length, in.length - d - 1);
      return out;
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Spec s && dim == s.dim && Arrays.equals(sizes, s.sizes);
    }

    @Override
    public int hashCode() {
      return dim * 31 + Arrays.hashCode(sizes);
    }

    @Override
    public String toString() {
      return "Unflatten(dim=" + dim + ", unflattened_size=(" + Arrays.stream(sizes).mapToObj(String::valueOf)
          .collect(Collectors.joining(", ")) + (sizes.length == 1 ? ",)" : ")") + ")";
    }
  }

  public Unflatten(int dim, int... sizes) {
    super(new Spec(dim, sizes));
  }

  @Override
  public Tensor forward(Tensor x) {
    return F.unflatten(x, spec().dim(), spec().sizes());
  }
}
