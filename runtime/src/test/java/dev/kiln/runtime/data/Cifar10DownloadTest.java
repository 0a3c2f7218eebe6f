package dev.kiln.runtime.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * CIFAR-10's download: the archive fetched from a local server, checked, its batch files extracted
 * (from a POSIX tar written here and from a GNU tar fixture), and every way it can fail.
 */
class Cifar10DownloadTest {
  @TempDir Path home;
  @TempDir Path data;
  private HttpServer server;
  private final AtomicInteger requests = new AtomicInteger();
  private byte[] served;
  private SystemProperties properties;

  @BeforeEach
  void startServer() throws IOException {
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.createContext("/", exchange -> {
      requests.incrementAndGet();
      byte[] body = exchange.getRequestURI().getPath().equals("/kriz/" + Cifar10.ARCHIVE_NAME) ? served : null;
      exchange.sendResponseHeaders(body == null ? 404 : 200, body == null ? -1 : body.length);
      if (body != null) {
        exchange.getResponseBody().write(body);
      }
      exchange.close();
    });
    server.start();
    properties = SystemProperties.set("kiln.data", data, "kiln.home", home,
        "kiln.test.mirror", "http://127.0.0.1:" + server.getAddress().getPort() + "/kriz");
  }

  @AfterEach
  void stopServer() {
    properties.close();
    server.stop(0);
  }

  /** CIFAR-10 as served by the local server, with the given checksum for the archive. */
  private static DatasetFiles files(String md5) {
    return new DatasetFiles("CIFAR-10", Cifar10.DIRECTORY, "http://127.0.0.1:1/", "kiln.test.mirror",
        "KILN_TEST_MIRROR_UNSET", Map.of(Cifar10.ARCHIVE_NAME, md5), List.of(), null);
  }

  private static String md5(byte[] bytes) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(bytes));
  }

  private Path extracted() {
    return home.resolve("datasets").resolve(Cifar10.DIRECTORY);
  }

  /** One POSIX ustar entry: header, then the data padded to whole blocks. */
  private static void entry(ByteArrayOutputStream tar, String name, char type, byte[] body) {
    byte[] h = new byte[512];
    String prefix = "";
    if (name.length() > 100) { // POSIX: the directory part goes to the prefix field
      int slash = name.lastIndexOf('/');
      prefix = name.substring(0, slash);
      name = name.substring(slash + 1);
    }
    put(h, 0, name);
    put(h, 100, "0000644");
    put(h, 108, "0001750");
    put(h, 116, "0001750");
    put(h, 124, String.format("%011o", body.length));
    put(h, 136, String.format("%011o", 1_700_000_000L));
    Arrays.fill(h, 148, 156, (byte) ' ');
    h[156] = (byte) type;
    put(h, 257, "ustar");
    put(h, 263, "00");
    put(h, 345, prefix);
    int sum = 0;
    for (byte b : h) {
      sum += b & 0xff;
    }
    put(h, 148, String.format("%06o", sum));
    h[154] = 0;
    tar.writeBytes(h);
    tar.writeBytes(body);
    tar.writeBytes(new byte[(512 - body.length % 512) % 512]);
  }

  private static void put(byte[] h, int at, String s) {
    byte[] b = s.getBytes(StandardCharsets.US_ASCII);
    System.arraycopy(b, 0, h, at, b.length);
  }

  private static byte[] gzip(byte[] bytes) throws IOException {
    var out = new ByteArrayOutputStream();
    try (var gz = new GZIPOutputStream(out)) {
      gz.write(bytes);
    }
    return out.toByteArray();
  }

  /** The binary archive's layout with {@code recordsEach} records a batch, plus the entries it should not touch. */
  private static byte[] archive(int recordsEach) throws IOException {
    var tar = new ByteArrayOutputStream();
    entry(tar, "cifar-10-batches-bin/", '5', new byte[0]);
    entry(tar, "cifar-10-batches-bin/batches.meta.txt", '0', "airplane\n".getBytes(StandardCharsets.US_ASCII));
    entry(tar, "elsewhere/data_batch_1.bin", '0', new byte[] {1, 2, 3}); // same bare name, other directory
    entry(tar, "cifar-10-batches-bin/../data_batch_2.bin", '0', new byte[] {4}); // no path escapes
    for (String name : Cifar10.TRAIN_FILES) {
      entry(tar, "cifar-10-batches-bin/" + name, '0', Cifar10Test.records(recordsEach));
    }
    entry(tar, "x".repeat(60) + "/" + "y".repeat(50) + "/cifar-10-batches-bin/test_batch.bin", '0', new byte[7]);
    entry(tar, "cifar-10-batches-bin/test_batch.bin", '0', Cifar10Test.records(recordsEach + 1));
    tar.writeBytes(new byte[1024]);
    return gzip(tar.toByteArray());
  }

  private static List<Path> filesUnder(Path dir) throws IOException {
    try (Stream<Path> walk = Files.walk(dir)) {
      return walk.filter(Files::isRegularFile).toList();
    }
  }

  @Test
  void downloadsChecksAndExtractsTheBatchesThenDeletesTheArchive() throws Exception {
    served = archive(2);
    Path dir = Cifar10.locate(files(md5(served)), Cifar10.TRAIN_FILES);
    assertEquals(extracted(), dir);
    List<String> names = new ArrayList<>(filesUnder(home).stream().map(p -> home.relativize(p).toString()).toList());
    names.sort(null);
    assertEquals(List.of("datasets/cifar-10-batches-bin/data_batch_1.bin", "datasets/cifar-10-batches-bin/data_batch_2.bin",
        "datasets/cifar-10-batches-bin/data_batch_3.bin", "datasets/cifar-10-batches-bin/data_batch_4.bin",
        "datasets/cifar-10-batches-bin/data_batch_5.bin", "datasets/cifar-10-batches-bin/test_batch.bin"), names,
        "the six batches and nothing else; the archive deleted");
    assertArrayEquals(Cifar10Test.records(2), Files.readAllBytes(dir.resolve("data_batch_1.bin")));
    assertEquals(10, Cifar10.train(dir).size());
    assertEquals(3, Cifar10.test(dir).size());
    assertEquals(1, requests.get());

    // found on disk now: no second download
    assertEquals(dir, Cifar10.locate(files(md5(served)), Cifar10.TEST_FILES));
    assertEquals(1, requests.get());
  }

  @Test
  void readsTheGnuTarLayoutTheDatasetIsPublishedIn() throws Exception {
    // made with `tar --format=gnu -czf` from 2-record batches (3 in test_batch.bin), a meta file and a read-me
    try (InputStream in = getClass().getResourceAsStream("/data/cifar-10-mini-gnu.tar.gz")) {
      served = in.readAllBytes();
    }
    Path dir = Cifar10.locate(files(md5(served)), Cifar10.TEST_FILES);
    assertEquals(3, Cifar10.test(dir).size());
    assertArrayEquals(Cifar10Test.records(2), Files.readAllBytes(dir.resolve("data_batch_5.bin")));
    assertEquals(6, filesUnder(home).size());
  }

  @Test
  void filesAlreadyThereAreKeptEvenWhenTheExtractionFails() throws Exception {
    Files.createDirectories(extracted());
    byte[] mine = Cifar10Test.records(4);
    for (String name : Cifar10.TRAIN_FILES) {
      Files.write(extracted().resolve(name), mine);
    }
    byte[] whole = archive(2);
    served = Arrays.copyOf(whole, whole.length / 2); // cut short: the extraction fails
    assertThrows(DatasetFormatException.class, () -> Cifar10.locate(files(md5(served)), Cifar10.TEST_FILES));
    for (String name : Cifar10.TRAIN_FILES) {
      assertArrayEquals(mine, Files.readAllBytes(extracted().resolve(name)), name + " is the user's, untouched");
    }
    served = whole; // and a complete archive adds only what was missing
    Path dir = Cifar10.locate(files(md5(served)), Cifar10.TEST_FILES);
    assertArrayEquals(mine, Files.readAllBytes(dir.resolve("data_batch_1.bin")));
    assertEquals(3, Cifar10.test(dir).size());
  }

  @Test
  void aWrongChecksumKeepsNothingAndSaysWhatToDo() throws Exception {
    served = archive(1);
    var e = assertThrows(FileNotFoundException.class, () -> Cifar10.locate(files("0".repeat(32)), Cifar10.TEST_FILES));
    String m = e.getMessage();
    assertTrue(m.startsWith("CIFAR-10: test_batch.bin not found in any of\n"), m);
    assertTrue(m.contains("MD5 checksum " + md5(served) + " differs from the expected " + "0".repeat(32)), m);
    assertTrue(m.contains("Download " + Cifar10.ARCHIVE) && m.contains(extracted().toString()), m);
    assertEquals(List.of(), filesUnder(home));
  }

  @Test
  void anUnreachableMirrorIsNamed() {
    try (var p = SystemProperties.set("kiln.test.mirror", "http://127.0.0.1:1/")) {
      var e = assertThrows(FileNotFoundException.class, () -> Cifar10.locate(files("x"), Cifar10.TEST_FILES));
      assertTrue(e.getMessage().contains("http://127.0.0.1:1/" + Cifar10.ARCHIVE_NAME + ": ConnectException"), e.getMessage());
    }
  }

  @Test
  void aTruncatedArchiveIsReportedAndDeleted() throws Exception {
    byte[] whole = archive(2);
    served = Arrays.copyOf(whole, whole.length / 2);
    var e = assertThrows(DatasetFormatException.class, () -> Cifar10.locate(files(md5(served)), Cifar10.TEST_FILES));
    Path archive = home.resolve("datasets").resolve(Cifar10.ARCHIVE_NAME);
    assertTrue(e.getMessage().startsWith(archive.toString()), e.getMessage());
    assertEquals(List.of(), filesUnder(home), "no archive, no partial batch left");
  }

  @Test
  void anArchiveWithoutTheBatchesNamesWhatIsMissing() throws Exception {
    var tar = new ByteArrayOutputStream();
    entry(tar, "cifar-10-batches-bin/data_batch_1.bin", '0', Cifar10Test.records(1));
    tar.writeBytes(new byte[1024]);
    served = gzip(tar.toByteArray());
    var e = assertThrows(DatasetFormatException.class, () -> Cifar10.locate(files(md5(served)), Cifar10.TEST_FILES));
    assertTrue(e.getMessage().contains("holds no cifar-10-batches-bin/data_batch_2.bin"), e.getMessage());
    assertTrue(e.getMessage().contains("cifar-10-batches-bin/test_batch.bin"), e.getMessage());
    assertEquals(List.of(), filesUnder(home));
  }

  /**
   * The trailer is checked only once the stream reaches it, so the archive is read to its end
   * before any file is kept; bytes after the gzip member are refused too.
   */
  @Test
  void anArchiveFailingItsGzipTrailerKeepsNothing() throws Exception {
    byte[] whole = archive(2);
    byte[] wrongCrc = whole.clone();
    wrongCrc[whole.length - 8] ^= 1;
    byte[] trailing = Arrays.copyOf(whole, whole.length + 4);
    for (byte[] bad : List.of(Arrays.copyOf(whole, whole.length - 8), wrongCrc, trailing)) {
      served = bad;
      var e = assertThrows(DatasetFormatException.class, () -> Cifar10.locate(files(md5(served)), Cifar10.TEST_FILES));
      assertTrue(e.getMessage().contains(bad == trailing ? "trailing bytes from offset " + whole.length
          : "corrupt or truncated gzip data at offset "), e.getMessage());
      assertFalse(e.getMessage().contains("null"), e.getMessage());
      assertEquals(List.of(), filesUnder(home), "no batch extracted, no archive left");
    }
  }

  @Test
  void aLaterEntryOfTheSameNameReplacesAnEarlierOneAsTarDoes() throws Exception {
    var tar = new ByteArrayOutputStream();
    entry(tar, "cifar-10-batches-bin/test_batch.bin", '0', Cifar10Test.records(1));
    for (String name : Cifar10.TRAIN_FILES) {
      entry(tar, "cifar-10-batches-bin/" + name, '0', Cifar10Test.records(2));
    }
    entry(tar, "cifar-10-batches-bin/test_batch.bin", '0', Cifar10Test.records(5));
    tar.writeBytes(new byte[1024]);
    served = gzip(tar.toByteArray());
    Path dir = Cifar10.locate(files(md5(served)), Cifar10.TEST_FILES);
    assertArrayEquals(Cifar10Test.records(5), Files.readAllBytes(dir.resolve("test_batch.bin")));
    assertEquals(6, filesUnder(home).size(), "one file a batch, no temporary file left");
  }

  /** The archive's layout with the second header's modification time changed after its checksum was computed. */
  private static byte[] withCorruptSecondHeader() {
    var tar = new ByteArrayOutputStream();
    entry(tar, "cifar-10-batches-bin/batches.meta.txt", '0', new byte[3]);
    for (String name : Cifar10.TRAIN_FILES) {
      entry(tar, "cifar-10-batches-bin/" + name, '0', Cifar10Test.records(1));
    }
    entry(tar, "cifar-10-batches-bin/test_batch.bin", '0', Cifar10Test.records(1));
    tar.writeBytes(new byte[1024]);
    byte[] bytes = tar.toByteArray();
    bytes[1024 + 140] ^= 1; // a digit of data_batch_1.bin's time stamp, '4' made '5': still octal
    return bytes;
  }

  @Test
  void aHeaderWhoseChecksumDoesNotMatchIsNamedWithItsOffset() throws Exception {
    served = gzip(withCorruptSecondHeader());
    var e = assertThrows(DatasetFormatException.class, () -> Cifar10.locate(files(md5(served)), Cifar10.TEST_FILES));
    assertTrue(e.getMessage().contains("the tar header at offset 1024 is corrupt: it records the checksum "), e.getMessage());
    assertEquals(List.of(), filesUnder(home));
  }

  /** Historic tar programs summed the header's bytes as signed chars: their archives are accepted too. */
  @Test
  void aChecksumOfSignedBytesIsAccepted() throws Exception {
    byte[] tar = withCorruptSecondHeader();
    int header = 1024;
    tar[header + 140] ^= 1; // undone
    tar[header + 99] = (byte) 0xE9; // after the name's terminating NUL: signed and unsigned sums now differ
    int signed = 0;
    for (int i = 0; i < 512; i++) {
      signed += i >= 148 && i < 156 ? ' ' : tar[header + i];
    }
    System.arraycopy(String.format("%06o\0 ", signed).getBytes(StandardCharsets.US_ASCII), 0, tar, header + 148, 8);
    served = gzip(tar);
    Path dir = Cifar10.locate(files(md5(served)), Cifar10.TEST_FILES);
    assertEquals(1, Cifar10.test(dir).size());
  }

  /** An archive on disk is only a download not yet extracted: one that fails its checksum is downloaded again. */
  @Test
  void anArchiveLeftOnDiskIsExtractedOnlyWhenItsChecksumMatches() throws Exception {
    served = archive(2);
    Path leftover = Files.createDirectories(home.resolve("datasets")).resolve(Cifar10.ARCHIVE_NAME);
    Files.write(leftover, archive(1)); // a sound archive, but not the published one
    Path dir = Cifar10.locate(files(md5(served)), Cifar10.TEST_FILES);
    assertEquals(1, requests.get(), "downloaded again");
    assertEquals(3, Cifar10.test(dir).size(), "the downloaded archive's batches");
    assertFalse(Files.exists(leftover));

    for (Path p : filesUnder(home)) {
      Files.delete(p);
    }
    Files.write(leftover, served); // the published one: extracted as it is
    assertEquals(dir, Cifar10.locate(files(md5(served)), Cifar10.TEST_FILES));
    assertEquals(1, requests.get(), "no second download");
    assertEquals(3, Cifar10.test(dir).size());
  }

  /**
   * The file stream is a resource of its own: opening the gzip stream fails on a file that is not
   * gzip, and the file must be closed then, not left to the garbage collector.
   */
  @Test
  void anArchiveThatIsNotGzipIsClosedAgain() throws Exception {
    assumeTrue(Files.isDirectory(Path.of("/proc/self/fd")), "no /proc/self/fd to list the open files");
    Path archive = Files.write(home.resolve(Cifar10.ARCHIVE_NAME), "not gzip".getBytes(StandardCharsets.US_ASCII));
    var e = assertThrows(DatasetFormatException.class,
        () -> TarGz.extract(archive, Cifar10.DIRECTORY, Cifar10.TEST_FILES, home.resolve("into")));
    assertTrue(e.getMessage().contains("corrupt or truncated gzip data at offset 8: the file ends inside the gzip header"),
        e.getMessage());
    assertFalse(isOpen(archive.toRealPath()), "the archive is still open");
  }

  /** Whether one of this process's open file descriptors is {@code file}. */
  private static boolean isOpen(Path file) throws IOException {
    try (Stream<Path> descriptors = Files.list(Path.of("/proc/self/fd"))) {
      return descriptors.anyMatch(fd -> {
        try {
          return Files.readSymbolicLink(fd).equals(file);
        } catch (IOException closedMeanwhile) {
          return false;
        }
      });
    }
  }

  @Test
  void aCorruptHeaderIsNamedWithItsOffset() throws Exception {
    var tar = new ByteArrayOutputStream();
    entry(tar, "cifar-10-batches-bin/batches.meta.txt", '0', new byte[3]);
    byte[] bad = new byte[512];
    put(bad, 0, "cifar-10-batches-bin/data_batch_1.bin");
    put(bad, 124, "12x45");
    bad[156] = '0';
    tar.writeBytes(bad);
    served = gzip(tar.toByteArray());
    var e = assertThrows(DatasetFormatException.class, () -> Cifar10.locate(files(md5(served)), Cifar10.TEST_FILES));
    assertTrue(e.getMessage().contains("the tar header at offset 1024 has a size field that is not an octal number: '12x45'"),
        e.getMessage());
  }
}
