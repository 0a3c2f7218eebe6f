package dev.kiln.runtime.data;

import java.io.BufferedInputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Reads the IDX format of MNIST and FashionMNIST: two zero bytes, an element-type byte, a
 * dimension-count byte, the dimensions as big-endian unsigned 32-bit integers, then the elements in
 * row-major order. Gzip-compressed files are recognised by their magic bytes {@code 1f 8b}, whatever
 * their name; such a file must hold one gzip member (RFC 1952), with no reserved header flag set,
 * and end with its trailer, whose CRC-32 and length are checked.
 *
 * <p>The header is never trusted: a file whose data is shorter or longer than the dimensions
 * declare is rejected, and an array of the declared size is allocated only when the file bears the
 * size out: an uncompressed file by its length, a gzip file by the length its trailer records and
 * that DEFLATE's largest ratio (1032 to 1) allows for its size. Otherwise the data is only counted,
 * to say what is wrong, so a corrupt header cannot exhaust memory. Only unsigned bytes (type {@code
 * 0x08}) are supported.
 */
public final class Idx {
  /** The element type code of unsigned bytes. */
  public static final int UNSIGNED_BYTE = 0x08;

  private static final Map<Integer, String> TYPE_NAMES = Map.of(
      0x08, "unsigned byte", 0x09, "signed byte", 0x0B, "16-bit integer",
      0x0C, "32-bit integer", 0x0D, "32-bit float", 0x0E, "64-bit float");
  /** The largest array the JVM reliably allocates. */
  private static final long MAX_ELEMENTS = Integer.MAX_VALUE - 8;
  private static final int GZIP_BUFFER = 1 << 16;
  /** The most bytes DEFLATE makes of one compressed byte: 258 from a 2-bit length and distance. */
  private static final long MAX_DEFLATE_RATIO = 1032;

  private Idx() {}

  /**
   * Reads a whole IDX file of unsigned bytes, compressed with gzip or not.
   *
   * @throws DatasetFormatException when the file is not IDX, holds another element type, is
   *     truncated, has trailing bytes, or is corrupt gzip
   * @throws FileNotFoundException when the path is a directory or not a regular file (a FIFO, a
   *     device), which is never opened
   * @throws IOException when the file cannot be read, e.g. {@link java.nio.file.NoSuchFileException}
   */
  public static IdxArray read(Path file) throws IOException {
    BasicFileAttributes attributes = Files.readAttributes(file, BasicFileAttributes.class);
    if (attributes.isDirectory()) {
      throw new FileNotFoundException(file + ": is a directory, not an IDX file");
    }
    if (!attributes.isRegularFile()) { // opening a FIFO would wait for a writer
      throw new FileNotFoundException(file + ": is not a regular file");
    }
    try (InputStream stream = Files.newInputStream(file);
        InputStream raw = new BufferedInputStream(stream, GZIP_BUFFER)) {
      boolean gzip = isGzip(raw);
      try (InputStream in = gzip ? GzipMember.open(file, raw) : raw) {
        int[] dims = readHeader(file, in);
        int expected = Math.toIntExact(elementCount(dims));
        if (!gzip) {
          checkPlainFileSize(file, dims, expected);
        } else if (!gzipHolds(file, headerLength(dims) + (long) expected)) {
          throw wrongLength(file, in, dims, expected);
        }
        byte[] data = new byte[expected]; // the length is borne out
        int n = in.readNBytes(data, 0, expected);
        if (n < expected) {
          throw truncated(file, dims, expected, n);
        }
        if (in.read() >= 0) { // stops at the first byte too many, however many follow
          throw trailing(file, dims, expected, 0, gzip);
        }
        return new IdxArray(file, dims, data, gzip);
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
    long present = Files.size(file) - headerLength(dims);
    if (present < expected) {
      throw truncated(file, dims, expected, present);
    }
    if (present > expected) {
      throw trailing(file, dims, expected, present - expected, false);
    }
  }

  /**
   * Whether a gzip file of one member can hold {@code length} uncompressed bytes: its last four
   * bytes, the trailer's length (modulo 2^32), record it, and DEFLATE's largest ratio allows it.
   */
  private static boolean gzipHolds(Path file, long length) throws IOException {
    try (SeekableByteChannel channel = Files.newByteChannel(file)) {
      long size = channel.size();
      if (size < 18 || length > MAX_DEFLATE_RATIO * size) { // 18: a gzip header and trailer alone
        return false;
      }
      ByteBuffer last = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
      channel.position(size - 4);
      while (last.hasRemaining()) {
        if (channel.read(last) < 0) {
          return false; // shorter now than a moment ago
        }
      }
      return Integer.toUnsignedLong(last.getInt(0)) == (length & 0xFFFF_FFFFL);
    }
  }

  /**
   * What is wrong with gzip data whose length the file does not bear out: it is read to count what
   * is there, without keeping it, up to the first byte too many.
   */
  private static DatasetFormatException wrongLength(Path file, InputStream in, int[] dims, int expected)
      throws IOException {
    byte[] buffer = new byte[GZIP_BUFFER];
    long present = 0;
    while (present < expected) {
      int r = in.read(buffer, 0, (int) Math.min(buffer.length, expected - present));
      if (r < 0) {
        return truncated(file, dims, expected, present);
      }
      present += r;
    }
    if (in.read() >= 0) {
      return trailing(file, dims, expected, 0, true);
    }
    return new DatasetFormatException(file, "changed while it was read: its gzip trailer recorded another length");
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

  /** {@code extra} trailing bytes, or some when 0 (the rest of a gzip file is not read to count them). */
  private static DatasetFormatException trailing(Path file, int[] dims, int expected, long extra, boolean gzip) {
    return new DatasetFormatException(file, (extra > 0 ? extra + " " : "") + "trailing bytes from offset "
        + (headerLength(dims) + (long) expected) + (gzip ? " of the uncompressed data" : "") + ", after the " + expected
        + " data bytes the header declares (" + describe(dims) + ")");
  }

  /** The magic number and the dimensions. */
  private static int headerLength(int[] dims) {
    return 4 + 4 * dims.length;
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
