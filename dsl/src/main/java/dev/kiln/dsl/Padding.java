package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.PadModes;
import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

/**
 * The padding layers, PyTorch's {@code nn.ReflectionPad1d/2d}, {@code nn.ReplicationPad1d/2d} and {@code nn.ZeroPad2d}: {@code
 * F.pad(x, pad, mode)} of a fixed padding over the last one or two dimensions of an input with one or two more (PyTorch's
 * unbatched and batched forms). Eager mode pads as {@link Ops#pad(Tensor, int[], String)}; a compiled forward reads the same
 * index tables ({@link PadModes}) as index selects, or a constant padding.
 */
public abstract class Padding extends Layer<Padding.Spec> {
  /**
   * A padding layer's hyper-parameters and shape rule.
   *
   * @param layer the layer's name, for its repr and messages ({@code ReflectionPad2d})
   * @param mode F.pad's mode: {@code "reflect"}, {@code "replicate"} or {@code "constant"}
   * @param dims how many trailing dimensions it pads (1 or 2)
   * @param pads (before, after) pairs from the last dimension backwards: (left, right[, top, bottom])
   */
  public record Spec(String layer, String mode, int dims, List<Integer> pads) implements LayerSpec {
    public Spec {
      pads = List.copyOf(pads);
      if (pads.size() != 2 * dims) {
        throw new IllegalArgumentException(layer + ": padding takes " + 2 * dims + " counts, got " + pads);
      }
      if (pads.stream().anyMatch(p -> p < 0) && !mode.equals("constant")) {
        throw new IllegalArgumentException(layer + ": padding must not be negative, got " + pads);
      }
    }

    /** The pairs as F.pad takes them. */
    public int[] array() {
      return pads.stream().mapToInt(Integer::intValue).toArray();
    }

    @Override
    public int[] outputShape(int[] in) {
      if (in.length != dims + 1 && in.length != dims + 2) {
        throw new ShapeException(this + " expects a " + (dims + 1) + "D or " + (dims + 2) + "D input (" + (dims == 1 ? "[C, W] or"
            + " [N, C, W]" : "[C, H, W] or [N, C, H, W]") + "), receives " + Shapes.toString(in));
      }
      int[] out = in.clone();
      try {
        PadModes.check(mode, array(), in);
      } catch (IllegalArgumentException e) {
        throw new ShapeException(this + " cannot take " + Shapes.toString(in) + ": " + e.getMessage());
      }
      for (int k = 0; k < dims; k++) {
        int d = in.length - 1 - k;
        out[d] = in[d] < 0 ? in[d] : in[d] + pads.get(2 * k) + pads.get(2 * k + 1);
        if (out[d] == 0 || out[d] < -1) {
          throw new ShapeException(this + " cannot take " + Shapes.toString(in) + ": dimension " + d + " would have size " + out[d]);
        }
      }
      return out;
    }

    /** PyTorch's repr: {@code ReflectionPad2d((4, 4, 4, 4))}. */
    @Override
    public String toString() {
      return layer + "((" + pads.stream().map(String::valueOf).collect(Collectors.joining(", ")) + "))";
    }
  }

  protected Padding(String layer, String mode, int... pads) {
    super(new Spec(layer, mode, pads.length / 2, Arrays.stream(pads).boxed().toList()));
  }

  @Override
  public Tensor forward(Tensor x) {
    outputShape(x.shape());
    return F.pad(x, spec().array(), spec().mode());
  }
}
