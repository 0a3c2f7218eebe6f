package dev.kiln.runtime.data;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Objects;
import java.util.zip.CRC32;
import java.util.zip.CheckedInputStream;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * The uncompressed data of a file that holds one gzip member (RFC 1952), checked as it is read:
 * the header's compression method, its reserved flags (which must be clear) and its CRC-16 when
 * it has one, the deflate data, the trailer's CRC-32 and length, and that the file ends with the
 * trailer. {@link java.util.zip.GZIPInputStream} would accept reserved flags, and read on into a
 * second member or skip other bytes after the first without a word. The IDX reader ({@link Idx})
 * and the CIFAR-10 archive's ({@link TarGz}) read their gzip files through it.
 */
final class GzipMember extends InputStream {
  private static final int BUFFER = 1 << 16;
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
  private final byte[] input = new byte[BUFFER];
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
    if (fixed[0] != (byte) 0x1f || fixed[1] != (byte) 0x8b) {
      throw corrupt(file, 0, String.format("not gzip: the file starts %02x %02x, not 1f 8b", fixed[0], fixed[1]));
    }
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
