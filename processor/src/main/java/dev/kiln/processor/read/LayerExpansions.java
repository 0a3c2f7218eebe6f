package dev.kiln.processor.read;

import dev.kiln.dsl.GLU;
import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.PReLU;
import dev.kiln.dsl.Padding;
import dev.kiln.dsl.PixelShuffle;
import dev.kiln.dsl.PixelUnshuffle;
import dev.kiln.dsl.Sigmoid;
import dev.kiln.dsl.Softmax;
import dev.kiln.dsl.Softmin;
import dev.kiln.processor.ir.IndexedPad;
import dev.kiln.processor.ir.LayerIr;
import dev.kiln.processor.ir.Mul;
import dev.kiln.processor.ir.Narrow;
import dev.kiln.processor.ir.Pad;
import dev.kiln.processor.ir.Permute;
import dev.kiln.processor.ir.PReluOf;
import dev.kiln.processor.ir.Reshape;
import dev.kiln.processor.ir.Scatter;
import dev.kiln.processor.ir.Scale;
import dev.kiln.processor.ir.Source;
import dev.kiln.processor.ir.TensorIr;
import dev.kiln.runtime.PadModes;
import dev.kiln.runtime.Shapes;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

/**
 * The layers a compiled forward computes as steps it already has, as eager mode's {@code F} forms compute them, so their
 * values and gradients are eager's to the bit: {@code GLU(dim)} the narrows of the two halves, a sigmoid and a mul;
 * {@code Softmin(dim)} a neg ({@code x * -1}) and a softmax; {@code PixelShuffle(r)} and {@code PixelUnshuffle(r)} a reshape
 * to one more dimension of each factor, a permute and a reshape back; {@code PReLU} one step of eager's kernels ({@link
 * PReluOf}) reading x and its weight, read as a tensor of the layer ({@code act.weight}, as the attention layers'
 * parameters are read). Layers, Sequential children and {@code F} calls alike ({@link BodyReader#step}). An input whose
 * shape is unknown or that the layer refuses keeps the layer's one step, which the shape checker then names on its line
 * with the layer's own message. The padding layers ({@code ReflectionPad2d}, ...) and {@code F.pad(x, pad, mode)} of a
 * non-constant mode are eager's index selects of constant ids ({@link PadModes}), {@code ZeroPad2d} a constant padding.
 */
final class LayerExpansions {
  private LayerExpansions() {}

  /** Whether {@code spec} is read as the steps of its expansion. */
  static boolean expands(LayerSpec spec) {
    return spec instanceof GLU.Spec || spec instanceof Softmin.Spec || spec instanceof PixelShuffle.Spec
        || spec instanceof PixelUnshuffle.Spec || spec instanceof PReLU.Spec || spec instanceof Padding.Spec || spec instanceof IndexedPad;
  }

  /** The value of {@code spec} applied to {@code input} as steps of {@code steps}, or null where it stays one step. */
  static String expand(BodyReader steps, String input, LayerSpec spec, LayerIr layer, String text, Source where) {
    int[] shape = steps.sizeReader.sizes().shapeOf(input);
    if (shape == null) {
      return null;
    }
    try {
      spec.outputShape(shape);
    } catch (IllegalArgumentException e) { // (a ShapeException too)
      return null; // (the checker reports it on the layer's step)
    }
    if (spec instanceof PReLU.Spec s) {
      if (layer == null) {
        return null;
      }
      TensorIr weight = new TensorIr(layer.path() + ".weight", layer.path() + ".weight", TensorIr.Kind.PARAMETER,
          new int[] {s.numParameters()}, layer.source());
      return prelu(steps, input, weight, steps.reader::readLayerParameter, text, where);
    }
    if (spec instanceof Padding.Spec s) {
      return s.mode().equals("constant") ? steps.step(input, new Pad(s.pads(), 0f), null, text, where)
          : indexedPad(steps, input, shape, s.mode(), s.array(), text, where);
    }
    if (spec instanceof IndexedPad s) {
      return indexedPad(steps, input, shape, s.mode(), s.array(), text, where);
    }
    if (spec instanceof Softmin.Spec s) {
      return steps.step(steps.step(input, new Scale(-1f, "neg()"), null, text, where), new Softmax.Spec(s.dim()), null, text, where);
    }
    if (spec instanceof GLU.Spec s) {
      int d = Shapes.normalizeDim(s.dim(), shape.length);
      int half = shape[d] / 2;
      String a = steps.step(input, new Narrow(d, 0, half, false), null, text, where);
      String b = steps.step(input, new Narrow(d, half, half, false), null, text, where);
      return steps.step(List.of(a, steps.step(b, new Sigmoid.Spec(), null, text, where)), new Mul(), null, text, where);
    }
    int n = shape.length;
    if (n < 4) {
      return null; // ([N, H, W]: the batch would be the channels)
    }
    boolean shuffle = spec instanceof PixelShuffle.Spec;
    int r = shuffle ? ((PixelShuffle.Spec) spec).upscaleFactor() : ((PixelUnshuffle.Spec) spec).downscaleFactor();
    int[] out = spec.outputShape(shape);
    List<Integer> split = new ArrayList<>();
    split.add(-1);
    for (int i = 1; i < n - 3; i++) {
      split.add(shape[i]);
    }
    int p = n - 3; // [*, C, r, r, H, W] -> [*, C, H, r, W, r] (a shuffle); [*, C, H, r, W, r] -> [*, C, r, r, H, W]
    List<Integer> order = new ArrayList<>();
    for (int i = 0; i <= p; i++) {
      order.add(i);
    }
    if (shuffle) {
      split.addAll(List.of(out[p], r, r, shape[p + 1], shape[p + 2]));
      order.addAll(List.of(p + 3, p + 1, p + 4, p + 2));
    } else {
      split.addAll(List.of(shape[p], out[p + 1], r, out[p + 2], r));
      order.addAll(List.of(p + 2, p + 4, p + 1, p + 3));
    }
    List<Integer> back = new ArrayList<>();
    back.add(-1);
    for (int i = 1; i < n; i++) {
      back.add(out[i]);
    }
    String views = steps.step(input, new Reshape(split), null, text, where);
    return steps.step(steps.step(views, new Permute(order), null, text, where), new Reshape(back), null, text, where);
  }

  /**
   * A padding of {@code mode} ({@code "reflect"}, {@code "replicate"}, {@code "circular"}) as eager mode's {@code
   * Ops.pad(x, pad, mode)} computes it: one index select of {@link PadModes}' constant ids per padded dimension, the last
   * first (none for a dimension padded by nothing), so values and gradients are eager's to the bit.
   */
  private static String indexedPad(BodyReader steps, String input, int[] shape, String mode, int[] pad, String text, Source where) {
    String value = input;
    for (int k = 0; k < pad.length / 2; k++) {
      int d = shape.length - 1 - k;
      if (pad[2 * k] != 0 || pad[2 * k + 1] != 0) {
        List<Integer> ids = Arrays.stream(PadModes.sources(mode, shape[d], pad[2 * k], pad[2 * k + 1])).boxed().toList();
        String text2 = ids.stream().map(String::valueOf).collect(Collectors.joining(", "));
        value = steps.step(value, new Scatter(Scatter.Op.INDEX_SELECT, d, 0f, 1f, ids, "Tensor.labels(" + text2 + ")"), null, text, where);
      }
    }
    return value;
  }

  /**
   * {@code F.prelu(x, weight)} of {@code input} (whose shape the weight fits) as eager mode computes it: one
   * {@link PReluOf} step reading x and the weight where they live, eager's kernels each way ({@code cpu.PReluKernels}), so
   * the value and both gradients are eager's to the bit. {@code read} registers the weight and gives its value.
   */
  static String prelu(BodyReader steps, String input, TensorIr weight, java.util.function.Function<TensorIr, String> read,
      String text, Source where) {
    String slope = read.apply(weight);
    if (slope == null) {
      return null;
    }
    return steps.step(List.of(input, slope), new PReluOf(weight.shape()[0]), null, text, where);
  }
}
