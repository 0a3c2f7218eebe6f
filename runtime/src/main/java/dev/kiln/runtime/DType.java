package dev.kiln.runtime;

/**
 * Element types. Every tensor is stored as float32; {@link #INT32} marks tensors whose values are
 * whole numbers used as indices (class labels, argmax results), exact up to 2^24.
 */
public enum DType {
  FLOAT32,
  INT32;

  /** The largest magnitude an {@link #INT32} tensor holds exactly (2^24: its values are floats). */
  public static final int MAX_EXACT_INT = 1 << 24;
}
