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
import java.util.Objects;
import java.util.stream.Collectors;
import java.util.zip.CRC32;
import java.util.zip.CheckedInputStream;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

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

  /**
   * The uncompressed data of a file that holds one gzip member (RFC 1952), checked as it is read:
   * the header's compression method, its reserved flags (which must be clear) and its CRC-16 when
   * it has one, the deflate data, the trailer's CRC-32 and length, and that the file ends with the
   * trailer. {@link java.util.zip.GZIPInputStream} would accept reserved flags, and read on into a
   * second member or skip other bytes after the first without a word.
   */
  private static final class GzipMember extends InputStream {
    private static final int FHCRC = 2;
    private static final int FEXTRA = 4;
    private static final int FNAME = 8;
    private static final int FCOMMENT = 16;
    private static final int RESERVED = 0xE0;
    private static final int TRAILER = 8;

    private final Path file;
    private final InputStream in;
    private final Inflater inflater = new Inflater(true); // raw deflate: the gzip framing is read here
    private final CRC32 crc = new CRC32();
    private final byte[] input = new byte[GZIP_BUFFER];
    private int inputLength;
    /** The compressed bytes taken from {@code in} so far: the file offset just past {@code input}. */
    private long taken;
    private boolean ended;

    private GzipMember(Path file, InputStream in, long headerLength) {
      this.file = file;
      this.in = in;
      this.taken = headerLength;
    }

    /** Reads and checks the member's header from {@code in}, positioned at the magic bytes. */
    static GzipMember open(Path file, InputStream in) throws IOException {
      CheckedInputStream header = new CheckedInputStream(in, new CRC32()); // not closed: that would close in
      byte[] fixed = headerBytes(file, header, 0, 10, "the gzip header");
      if (fixed[2] != 8) {
        throw corrupt(file, 2, "compression method " + Byte.toUnsignedInt(fixed[2]) + " is not deflate (8)");
      }
      int flags = Byte.toUnsignedInt(fixed[3]);
      if ((flags & RESERVED) != 0) {
        throw corrupt(file, 3, String.format("the header sets reserved flag bits (FLG = 0x%02X)", flags));
      }
      long at = 10;
      if ((flags & FEXTRA) != 0) {
        byte[] length = headerBytes(file, header, at, 2, "the length of the header's extra field");
        int n = Byte.toUnsignedInt(length[0]) | Byte.toUnsignedInt(length[1]) << 8;
        headerBytes(file, header, at + 2, n, "the header's " + n + "-byte extra field");
        at += 2 + n;
      }
      if ((flags & FNAME) != 0) {
        at += skipZeroTerminated(file, header, at, "the file name in the header");
      }
      if ((flags & FCOMMENT) != 0) {
        at += skipZeroTerminated(file, header, at, "the comment in the header");
      }
      if ((flags & FHCRC) != 0) {
        int computed = (int) header.getChecksum().getValue() & 0xFFFF;
        byte[] stored = headerBytes(file, in, at, 2, "the header's CRC-16");
        int value = Byte.toUnsignedInt(stored[0]) | Byte.toUnsignedInt(stored[1]) << 8;
        if (value != computed) {
          throw corrupt(file, at, String.format("the header's CRC-16 is %04x, that of its bytes %04x",
              value, computed));
        }
        at += 2;
      }
      return new GzipMember(file, in, at);
    }

    private static byte[] headerBytes(Path file, InputStream in, long at, int length, String what) throws IOException {
      byte[] bytes = in.readNBytes(length);
      if (bytes.length < length) {
        throw corrupt(file, at + bytes.length, "the file ends inside " + what);
      }
      return bytes;
    }

    /** Skips a zero-terminated string; returns its length with the terminator. */
    private static long skipZeroTerminated(Path file, InputStream in, long at, String what) throws IOException {
      long n = 0;
      for (int b = -1; b != 0; n++) {
        b = in.read();
        if (b < 0) {
          throw corrupt(file, at + n, "the file ends inside " + what);
        }
      }
      return n;
    }

    @Override
    public int read() throws IOException {
      byte[] one = new byte[1];
      return read(one, 0, 1) < 0 ? -1 : Byte.toUnsignedInt(one[0]);
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      Objects.checkFromIndexSize(off, len, b.length);
      if (len == 0) {
        return 0;
      }
      while (!ended) {
        int n;
        try {
          n = inflater.inflate(b, off, len);
        } catch (DataFormatException e) {
          throw corrupt(file, position(), e.getMessage() != null ? e.getMessage() : "invalid deflate data");
        }
        if (n > 0) {
          crc.update(b, off, n);
          return n;
        }
        if (inflater.finished()) {
          readTrailer();
          ended = true;
        } else if (inflater.needsDictionary()) {
          throw corrupt(file, position(), "the deflate data asks for a preset dictionary");
        } else if (inflater.needsInput()) {
          inputLength = in.read(input);
          if (inputLength < 0) {
            throw corrupt(file, taken, "the file ends inside the compressed data");
          }
          taken += inputLength;
          inflater.setInput(input, 0, inputLength);
        }
      }
      return -1;
    }

    /** The file offset up to which the inflater has consumed the compressed data. */
    private long position() {
      return taken - inflater.getRemaining();
    }

    /** Reads and checks the trailer after the deflate data, and that the file ends with it. */
    private void readTrailer() throws IOException {
      long at = position();
      int left = inflater.getRemaining(); // bytes of input after the deflate data
      byte[] trailer = new byte[TRAILER];
      int fromInput = Math.min(left, TRAILER);
      System.arraycopy(input, inputLength - left, trailer, 0, fromInput);
      int read = fromInput + in.readNBytes(trailer, fromInput, TRAILER - fromInput);
      if (read < TRAILER) {
        throw corrupt(file, at + read, "the file ends inside the 8-byte gzip trailer");
      }
      ByteBuffer fields = ByteBuffer.wrap(trailer).order(ByteOrder.LITTLE_ENDIAN);
      long storedCrc = Integer.toUnsignedLong(fields.getInt());
      long storedLength = Integer.toUnsignedLong(fields.getInt());
      if (storedCrc != crc.getValue()) {
        throw corrupt(file, at, String.format("the trailer's CRC-32 is %08x, that of the data %08x",
            storedCrc, crc.getValue()));
      }
      long length = inflater.getBytesWritten() & 0xFFFF_FFFFL;
      if (storedLength != length) {
        throw corrupt(file, at + 4, "the trailer records " + storedLength + " bytes (modulo 2^32), the data holds "
            + length);
      }
      if (left > TRAILER || in.read() >= 0) {
        throw new DatasetFormatException(file, "trailing bytes from offset " + (at + TRAILER) + ", after the gzip data:"
            + " another gzip member or other data, where the file must end");
      }
    }

    private static DatasetFormatException corrupt(Path file, long offset, String what) {
      return new DatasetFormatException(file, "corrupt or truncated gzip data at offset " + offset + ": " + what);
    }

    @Override
    public void close() throws IOException {
      inflater.end();
      in.close();
    }
  }
}
