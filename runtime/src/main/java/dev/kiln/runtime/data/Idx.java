package dev.kiln.runtime.data;

import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

/**
 * Reads the IDX format of MNIST and FashionMNIST: two zero bytes, an element-type byte, a
 * dimension-count byte, the dimensions as big-endian unsigned 32-bit integers, then the elements in
 * row-major order. Gzip-compressed files are recognised by their magic bytes {@code 1f 8b}, whatever
 * their name.
 *
 * <p>The header is never trusted: a file whose data is shorter or longer than the dimensions
 * declare is rejected, and no buffer larger than about twice the bytes actually present is
 * allocated, so a corrupt header cannot exhaust memory. Only unsigned bytes (type {@code 0x08}) are
 * supported.
 */
public final class Idx {
  /** The element type code of unsigned bytes. */
  public static final int UNSIGNED_BYTE = 0x08;

  private static final Map<Integer, String> TYPE_NAMES = Map.of(
      0x08, "unsigned byte", 0x09, "signed byte", 0x0B, "16-bit integer",
      0x0C, "32-bit integer", 0x0D, "32-bit float", 0x0E, "64-bit float");
  /** The largest array the JVM reliably allocates. */
  private static final long MAX_ELEMENTS = Integer.MAX_VALUE - 8;
  /** The first buffer's size; it doubles as data arrives. */
  private static final int INITIAL_BUFFER = 1 << 13;
  private static final int GZIP_BUFFER = 1 << 16;

  private Idx() {}

  /**
   * Reads a whole IDX file of unsigned bytes, compressed with gzip or not.
   *
   * @throws DatasetFormatException when the file is not IDX, holds another element type, is
   *     truncated, has trailing bytes, or is corrupt gzip
   * @throws IOException when the file cannot be read
   */
  public static IdxArray read(Path file) throws IOException {
    try (InputStream raw = new BufferedInputStream(Files.newInputStream(file))) {
      boolean gzip = isGzip(raw);
      try (InputStream in = gzip ? new GZIPInputStream(raw, GZIP_BUFFER) : raw) {
        int[] dims = readHeader(file, in);
        int expected = Math.toIntExact(elementCount(dims));
        if (!gzip) {
          checkPlainFileSize(file, dims, expected);
        }
        return new IdxArray(file, dims, readData(file, in, dims, expected));
      } catch (ZipException | EOFException e) {
        throw new DatasetFormatException(file, "corrupt or truncated gzip data (" + e.getMessage() + ")", e);
      }
    }
  }

  private static boolean isGzip(InputStream in) throws IOException {
    in.mark(2);
    boolean gzip = in.read() == 0x1f && in.read() == 0x8b;
    in.reset();
    return gzip;
  }

  /** Reads the magic number and the dimensions, which it checks against the largest array size. */
  private static int[] readHeader(Path file, InputStream in) throws IOException {
    byte[] magic = readExactly(file, in, 4, "the magic number");
    int type = Byte.toUnsignedInt(magic[2]);
    if (magic[0] != 0 || magic[1] != 0) {
      throw new DatasetFormatException(file, "not an IDX file: expected the magic number 00 00 <type> <rank>, found "
          + HexFormat.ofDelimiter(" ").formatHex(magic));
    }
    if (type != UNSIGNED_BYTE) {
      throw new DatasetFormatException(file, String.format(
          "IDX element type 0x%02X (%s) is not supported; only 0x08 (unsigned byte) is",
          type, TYPE_NAMES.getOrDefault(type, "unknown type")));
    }
    int rank = Byte.toUnsignedInt(magic[3]);
    ByteBuffer header = ByteBuffer.wrap(readExactly(file, in, 4 * rank, "the " + rank + " dimensions"));
    long[] declared = new long[rank];
    long count = 1;
    for (int i = 0; i < rank; i++) {
      declared[i] = Integer.toUnsignedLong(header.getInt());
      count = Math.min(count * declared[i], MAX_ELEMENTS + 1); // saturates instead of overflowing
    }
    if (Arrays.stream(declared).anyMatch(d -> d > MAX_ELEMENTS) || count > MAX_ELEMENTS) {
      throw new DatasetFormatException(file, "the header declares " + describe(declared)
          + " elements, more than the " + MAX_ELEMENTS + " an array can hold");
    }
    return Arrays.stream(declared).mapToInt(Math::toIntExact).toArray();
  }

  /** Fails fast, before any allocation, when an uncompressed file's size disagrees with its header. */
  private static void checkPlainFileSize(Path file, int[] dims, int expected) throws IOException {
    long present = Files.size(file) - 4L - 4L * dims.length;
    if (present < expected) {
      throw truncated(file, dims, expected, present);
    }
    if (present > expected) {
      throw trailing(file, dims, expected, present - expected);
    }
  }

  /**
   * Reads the data in chunks into a buffer at most twice the size of what has been read, so that a
   * header declaring more than the stream holds fails when the stream ends, not at allocation.
   */
  private static byte[] readData(Path file, InputStream in, int[] dims, int expected) throws IOException {
    byte[] buf = new byte[Math.min(expected, INITIAL_BUFFER)];
    int n = 0;
    while (n < expected) {
      if (n == buf.length) {
        buf = Arrays.copyOf(buf, (int) Math.min(expected, 2L * buf.length));
      }
      int r = in.read(buf, n, buf.length - n);
      if (r < 0) {
        throw truncated(file, dims, expected, n);
      }
      n += r;
    }
    long extra = in.transferTo(OutputStream.nullOutputStream());
    if (extra > 0) {
      throw trailing(file, dims, expected, extra);
    }
    return buf;
  }

  private static byte[] readExactly(Path file, InputStream in, int length, String what) throws IOException {
    byte[] bytes = in.readNBytes(length);
    if (bytes.length < length) {
      throw new DatasetFormatException(file, "truncated: expected " + what + " (" + length + " bytes), found only "
          + bytes.length + " bytes");
    }
    return bytes;
  }

  private static DatasetFormatException truncated(Path file, int[] dims, int expected, long present) {
    return new DatasetFormatException(file, "truncated: the header declares " + describe(dims) + " = " + expected
        + " data bytes but only " + present + " are present");
  }

  private static DatasetFormatException trailing(Path file, int[] dims, int expected, long extra) {
    return new DatasetFormatException(file, extra + " trailing bytes after the " + expected
        + " data bytes the header declares (" + describe(dims) + ")");
  }

  private static long elementCount(int[] dims) {
    return Arrays.stream(dims).asLongStream().reduce(1, (a, b) -> a * b);
  }

  private static String describe(int[] dims) {
    return describe(Arrays.stream(dims).asLongStream().toArray());
  }

  private static String describe(long[] dims) {
    return Arrays.stream(dims).mapToObj(Long::toString).collect(Collectors.joining(" x "));
  }
}
