package dev.kiln.processor.ir;

/**
 * A step that copies each output entry from at most one input entry through eager mode's coordinate map
 * ({@code IndexKernels.indexMap}): along each dimension the output coordinate {@code c} reads the input's
 * {@code (flip ? -c : c) + offset}, {@link #fill} where that falls outside. A constant padding ({@link Pad}) and a
 * flip ({@link Flip}); backward is the inverse map of the gradient.
 */
public interface IndexMap {
  /** Which dimensions of an input of shape {@code in} (the batch first) the map reverses. */
  boolean[] flips(int[] in);

  /** The map's offsets from output to input coordinates, per dimension of {@code in} (the batch first). */
  long[] offsets(int[] in);

  /** The value of an output entry that reads outside the input. */
  float fill();
}
