package dev.kiln.processor.ir;

import dev.kiln.dsl.LayerSpec;

/**
 * {@code PReLU} (a layer, a Sequential's) or {@code F.prelu(x, weight)} in a compiled forward: {@code x > 0 ? x : w[c] * x}
 * by eager mode's kernels ({@code cpu.PReluKernels}; on the GPU eager's {@code F.prelu}), x seen as {@code [N, channels,
 * inner]}, the slopes a tensor field (the layer's {@code weight}, or the model's), the step's input after x, read where it
 * lives. Backward the input's gradient and the slopes', summed over every position but the channel in the kernel's order,
 * so both are eager mode's to the bit. The expansion ({@code read.LayerExpansions}) checks x against the slopes first.
 *
 * @param slopes the number of slopes: 1, or the channels of x (dimension 1)
 */
public record PReluOf(int slopes) implements LayerSpec {
  /** x's shape, unchanged. */
  @Override
  public int[] outputShape(int[] in) {
    return in.clone();
  }

  /** x of shape {@code in} (the batch first) as the kernels see it per sample: {@code {channels, inner}}. */
  public int[] along(int[] in) {
    int inner = 1;
    for (int d = slopes > 1 ? 2 : 1; d < in.length; d++) {
      inner *= in[d];
    }
    return new int[] {slopes, inner};
  }

  @Override
  public String toString() {
    return "prelu";
  }
}
