package dev.kiln.runtime.data;

import static dev.kiln.runtime.data.IdxFiles.gzip;
import static dev.kiln.runtime.data.IdxFiles.idx;
import static dev.kiln.runtime.data.IdxFiles.ramp;
import static dev.kiln.runtime.data.IdxFiles.write;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ReadOnlyBufferException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class IdxTest {
  @TempDir Path dir;

  /** Writes {@code bytes} as a plain file, or gzip-compressed under a {@code .gz} name. */
  private Path file(boolean gz, byte[] bytes) throws IOException {
    return gz ? write(dir, "data.idx.gz", gzip(bytes)) : write(dir, "data.idx", bytes);
  }

  /** Asserts that reading fails with a message naming the file and containing each fragment. */
  private static DatasetFormatException assertRejected(Path file, String... fragments) {
    var e = assertThrows(DatasetFormatException.class, () -> Idx.read(file));
    assertTrue(e.getMessage().startsWith(file.toString() + ": "), e.getMessage());
    assertEquals(file, e.file());
    for (String fragment : fragments) {
      assertTrue(e.getMessage().contains(fragment), "expected '" + fragment + "' in: " + e.getMessage());
    }
    return e;
  }

  @ParameterizedTest(name = "gzip={0}")
  @ValueSource(booleans = {false, true})
  void roundTrip(boolean gz) throws IOException {
    byte[] data = ramp(2 * 3 * 50);
    IdxArray a = Idx.read(file(gz, idx(new int[] {2, 3, 50}, data)));
    assertArrayEquals(new int[] {2, 3, 50}, a.dims());
    assertEquals(3, a.rank());
    assertEquals(50, a.dim(2));
    assertEquals(300, a.length());
    assertEquals(255, a.unsignedByte(255));
    byte[] back = new byte[a.length()];
    a.data().get(back);
    assertArrayEquals(data, back);
    assertThrows(ReadOnlyBufferException.class, () -> a.data().put(0, (byte) 1));
    a.dims()[0] = 7;
    assertEquals(2, a.dim(0));
  }

  @Test
  void gzipIsRecognisedByContentWhateverTheName() throws IOException {
    Path file = write(dir, "labels-idx1-ubyte", gzip(idx(new int[] {3}, new byte[] {4, 5, 6})));
    assertEquals(6, Idx.read(file).unsignedByte(2));
  }

  @Test
  void largeFileRoundTripsThroughTheGrowingBuffer() throws IOException {
    byte[] data = ramp(1_000_003);
    IdxArray a = Idx.read(file(true, idx(new int[] {1_000_003}, data)));
    byte[] back = new byte[a.length()];
    a.data().get(back);
    assertArrayEquals(data, back);
  }

  @Test
  void wrongMagicNumber() throws IOException {
    assertRejected(file(false, "PK\u0003\u0004 not idx".getBytes()), "not an IDX file", "found 50 4b 03 04");
    assertRejected(file(true, new byte[] {0, 1, 8, 1, 0, 0, 0, 0}), "not an IDX file", "found 00 01 08 01");
  }

  @ParameterizedTest(name = "gzip={0}")
  @ValueSource(booleans = {false, true})
  void truncatedData(boolean gz) throws IOException {
    assertRejected(file(gz, idx(new int[] {10}, ramp(7))), "truncated", "10 data bytes", "only 7 are present");
  }

  @ParameterizedTest(name = "gzip={0}")
  @ValueSource(booleans = {false, true})
  void truncatedHeader(boolean gz) throws IOException {
    assertRejected(file(gz, new byte[] {0, 0, 8, 3, 0, 0, 1}), "truncated", "3 dimensions (12 bytes)", "found only 3");
    assertRejected(file(gz, new byte[] {0, 0}), "truncated", "magic number (4 bytes)", "found only 2");
  }

  @Test
  void truncatedGzipStream() throws IOException {
    byte[] gz = gzip(idx(new int[] {5000}, ramp(5000)));
    Path file = write(dir, "cut.gz", Arrays.copyOf(gz, gz.length / 2));
    assertRejected(file, "corrupt or truncated gzip data");
  }

  /** A header declaring 60000 x 28 x 28 bytes over a 100-byte payload must fail without allocating them. */
  @ParameterizedTest(name = "gzip={0}")
  @ValueSource(booleans = {false, true})
  void headerLargerThanTheFileFailsBeforeAllocating(boolean gz) throws IOException {
    Path file = file(gz, idx(new int[] {60000, 28, 28}, ramp(100)));
    assumeTrue(ManagementFactory.getThreadMXBean() instanceof com.sun.management.ThreadMXBean);
    var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    long before = threads.getCurrentThreadAllocatedBytes();
    assertRejected(file, "truncated", "60000 x 28 x 28 = 47040000 data bytes", "only 100 are present");
    long allocated = threads.getCurrentThreadAllocatedBytes() - before;
    assertTrue(allocated < 4 << 20, "reading the bad header allocated " + allocated + " bytes");
  }

  @Test
  void dimensionsOverflowingAnArray() throws IOException {
    assertRejected(file(false, idx(new int[] {65536, 65536, 65536}, ramp(10))),
        "65536 x 65536 x 65536", "more than the 2147483639");
    assertRejected(file(true, idx(new int[] {-1}, ramp(10))), "4294967295 elements, more than");
    // 2^16 to the fourth power is 2^64, which wraps to 0 in a long: the check must still catch it.
    assertRejected(file(false, idx(new int[] {65536, 65536, 65536, 65536}, new byte[0])), "more than");
  }

  @Test
  void unsupportedElementType() throws IOException {
    assertRejected(file(false, idx(0x0D, new int[] {1}, new byte[4])), "type 0x0D (32-bit float) is not supported");
    assertRejected(file(true, idx(0x42, new int[] {1}, new byte[1])), "type 0x42 (unknown type) is not supported");
  }

  /** Gzip data is not inflated to its end to count the trailing bytes: a long tail would take long. */
  @ParameterizedTest(name = "gzip={0}")
  @ValueSource(booleans = {false, true})
  void trailingBytes(boolean gz) throws IOException {
    assertRejected(file(gz, idx(new int[] {2, 2}, ramp(7))),
        gz ? "trailing bytes from offset 16 of the uncompressed data" : "3 trailing bytes from offset 16",
        "after the 4 data bytes the header declares (2 x 2)");
  }

  /** The first byte past the data fails the read, before the rest of the stream (here cut short) is inflated. */
  @Test
  void trailingDataInAGzipStreamIsFoundAtItsFirstByte() throws IOException {
    byte[] gz = gzip(concat(idx(new int[] {1}, new byte[] {7}), ramp(1 << 20)));
    Path file = write(dir, "tail.gz", Arrays.copyOf(gz, gz.length / 2));
    assertRejected(file, "trailing bytes from offset 9 of the uncompressed data, after the 1 data bytes");
  }

  /** GZIPInputStream would read a second member, or skip other bytes after the first, without a word. */
  @Test
  void aGzipFileMustEndWithItsOnlyMember() throws IOException {
    byte[] idx = idx(new int[] {3}, new byte[] {1, 2, 3});
    byte[] gz = gzip(idx);
    for (byte[] after : List.of("junk".getBytes(StandardCharsets.US_ASCII), gzip(idx), idx, gzip(new byte[0]))) {
      assertRejected(write(dir, "two.gz", concat(gz, after)), "trailing bytes from offset " + gz.length + ", after the gzip data");
    }
  }

  @Test
  void aMalformedGzipHeaderOrTrailerIsNamed() throws IOException {
    byte[] gz = gzip(idx(new int[] {3}, new byte[] {1, 2, 3}));
    byte[] reserved = gz.clone();
    reserved[3] |= 0x20;
    assertRejected(write(dir, "reserved.gz", reserved), "corrupt or truncated gzip data at offset 3",
        "reserved flag bits (FLG = 0x20)");
    byte[] extra = gz.clone();
    extra[3] |= 0x04; // FEXTRA, but no extra field: its length is taken from the deflate data
    var e = assertRejected(write(dir, "extra.gz", extra), "corrupt or truncated gzip data at offset ");
    assertFalse(e.getMessage().contains("null"), e.getMessage());
    assertRejected(write(dir, "cut.gz", Arrays.copyOf(gz, gz.length - 3)),
        "corrupt or truncated gzip data at offset " + (gz.length - 3) + ": the file ends inside the 8-byte gzip trailer");
    byte[] crc = gz.clone();
    crc[gz.length - 8] ^= 1;
    assertRejected(write(dir, "crc.gz", crc), "corrupt or truncated gzip data at offset " + (gz.length - 8)
        + ": the trailer's CRC-32 is ");
  }

  /** The trailer confirms the declared length: one array of that length, not a buffer doubled up to it. */
  @Test
  void aGzipFileWhoseTrailerConfirmsTheHeaderIsReadIntoOneArray() throws IOException {
    int n = 32 << 20;
    Path file = file(true, idx(new int[] {n}, new byte[n]));
    assumeTrue(ManagementFactory.getThreadMXBean() instanceof com.sun.management.ThreadMXBean);
    var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    long before = threads.getCurrentThreadAllocatedBytes();
    IdxArray a = Idx.read(file);
    long allocated = threads.getCurrentThreadAllocatedBytes() - before;
    assertEquals(n, a.length());
    assertTrue(allocated < n + (n >> 3), "reading " + n + " bytes allocated " + allocated);
  }

  /** Neither is opened: reading a directory fails without its name, and opening a FIFO waits for a writer. */
  @Test
  void aDirectoryOrAFifoIsNamedAsOne() throws Exception {
    var e = assertThrows(FileNotFoundException.class, () -> Idx.read(dir));
    assertEquals(dir + ": is a directory, not an IDX file", e.getMessage());
    Path fifo = dir.resolve("fifo");
    boolean made;
    try {
      made = new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor() == 0;
    } catch (IOException noMkfifo) {
      made = false;
    }
    assumeTrue(made, "mkfifo is not available");
    var f = assertTimeoutPreemptively(Duration.ofSeconds(10),
        () -> assertThrows(FileNotFoundException.class, () -> Idx.read(fifo)));
    assertEquals(fifo + ": is not a regular file", f.getMessage());
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] both = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, both, a.length, b.length);
    return both;
  }

  @Test
  void missingFileIsAnIoError() {
    assertThrows(java.nio.file.NoSuchFileException.class, () -> Idx.read(dir.resolve("absent")));
  }
}
