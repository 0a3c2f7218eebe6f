package dev.kiln.runtime.cpu;

/**
 * A per-channel affine map of a convolution's input, with or without a ReLU after it, that the convolution applies as it
 * copies its input anyway ({@link ConvKernels#conv2dForward(float[], int, float[], int, ChannelAffine, float[], int,
 * float[], int, Conv2dShape)}): an evaluation batch norm (and ReLU) between two convolutions, which eager inference
 * leaves deferred, so that its output map is never written. Input channel {@code c}'s value {@code v} reads as {@code
 * max(v * scale[c] + shift[c], 0)} with {@code relu}, else {@code v * scale[c] + shift[c]}: the float operations of
 * {@link NormKernels#batchNormReluForward} and {@link NormKernels#batchNormForward} on the factors of {@link
 * #batchNorm}, so the same bits.
 *
 * @param scale {@code [C]}
 * @param shift {@code [C]}
 */
public record ChannelAffine(float[] scale, float[] shift, boolean relu) {
  /** A batch norm's map with the given statistics ({@code weight} and {@code bias} may be null: 1 and 0), then a ReLU if {@code relu}. */
  public static ChannelAffine batchNorm(float[] mean, float[] var, float[] weight, float[] bias, int c, double eps, boolean relu) {
    float[] scale = new float[c], shift = new float[c];
    NormKernels.batchNormFactors(scale, shift, mean, var, weight, bias, c, eps);
    return new ChannelAffine(scale, shift, relu);
  }

  /** {@code to[at ..]} = channel {@code c}'s map of {@code len} values {@code from[src ..]}: copied, then mapped in place (one index, vectorised). */
  void apply(float[] to, int at, float[] from, int src, int len, int c) {
    System.arraycopy(from, src, to, at, len);
    applyInPlace(to, at, len, c);
  }

  /** Channel {@code c}'s map of {@code len} values {@code a[at ..]}, in place. */
  void applyInPlace(float[] a, int at, int len, int c) {
    NormKernels.normaliseRow(a, at, a, at, scale[c], shift[c], len, relu);
  }
}
