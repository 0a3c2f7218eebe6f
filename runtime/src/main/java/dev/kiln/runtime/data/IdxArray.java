package dev.kiln.runtime.data;

import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * The contents of an IDX file of unsigned bytes, as read by {@link Idx#read}: its dimensions and
 * its elements in row-major order. Immutable: accessors return copies or read-only views.
 */
public final class IdxArray {
  private final Path source;
  private final int[] dims;
  private final byte[] data;
  private final boolean compressed;

  /**
   * Takes ownership of {@code data}, which must hold the product of {@code dims} elements, read
   * from {@code source}, gzip-{@code compressed} or not.
   */
  IdxArray(Path source, int[] dims, byte[] data, boolean compressed) {
    this.source = source;
    this.dims = dims.clone();
    this.data = data;
    this.compressed = compressed;
  }

  /** The file this array was read from. */
  public Path source() {
    return source;
  }

  /** A copy of the dimensions, e.g. {@code [60000, 28, 28]} for an MNIST image file. */
  public int[] dims() {
    return dims.clone();
  }

  /** The number of dimensions. */
  public int rank() {
    return dims.length;
  }

  /** Dimension {@code i}. */
  public int dim(int i) {
    return dims[i];
  }

  /** The number of elements, the product of the dimensions. */
  public int length() {
    return data.length;
  }

  /** Element {@code index} in row-major order, in {@code 0 .. 255}. */
  public int unsignedByte(int index) {
    return Byte.toUnsignedInt(data[index]);
  }

  /** A read-only view of all elements in row-major order. */
  public ByteBuffer data() {
    return ByteBuffer.wrap(data).asReadOnlyBuffer();
  }

  /**
   * Where element {@code index} is in the file, for messages: its byte offset after the header's
   * magic number and dimensions, followed by "of the uncompressed data" when the file is gzip.
   */
  String offsetOf(int index) {
    return "offset " + (4L + 4L * dims.length + index) + (compressed ? " of the uncompressed data" : "");
  }

  /** The backing array, for readers in this package that promise not to modify it. */
  byte[] bytes() {
    return data;
  }
}
