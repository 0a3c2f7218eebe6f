package dev.kiln.runtime.data;

import static dev.kiln.runtime.data.IdxFiles.gzip;
import static dev.kiln.runtime.data.IdxFiles.idx;
import static dev.kiln.runtime.data.IdxFiles.ramp;
import static dev.kiln.runtime.data.IdxFiles.writeSplit;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.sun.net.httpserver.HttpServer;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Lookup and download, against a local HTTP server and temporary directories: the kiln.data and
 * kiln.home properties point at empty temporary directories so that nothing on the machine is used
 * or written.
 */
class DatasetFilesTest {
  private static final String LABELS = "train-labels-idx1-ubyte.gz";
  private static final String IMAGES = "train-images-idx3-ubyte.gz";
  private static final byte[] LABEL_FILE = gzip(idx(new int[] {3}, new byte[] {4, 1, 7}));
  private static final byte[] IMAGE_FILE = gzip(idx(new int[] {3, 28, 28}, ramp(3 * 28 * 28)));

  @TempDir Path data;
  @TempDir Path home;
  @TempDir Path system;
  private HttpServer server;
  private final AtomicInteger requests = new AtomicInteger();
  private SystemProperties properties;

  @BeforeEach
  void startServer() throws IOException {
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    Map<String, byte[]> files = Map.of("/mirror/" + LABELS, LABEL_FILE, "/mirror/" + IMAGES, IMAGE_FILE);
    server.createContext("/", exchange -> {
      requests.incrementAndGet();
      byte[] body = files.get(exchange.getRequestURI().getPath());
      exchange.sendResponseHeaders(body == null ? 404 : 200, body == null ? -1 : body.length);
      if (body != null) {
        exchange.getResponseBody().write(body);
      }
      exchange.close();
    });
    server.start();
    properties = SystemProperties.set("kiln.data", data, "kiln.home", home, "kiln.test.mirror", mirror());
  }

  @AfterEach
  void stopServer() {
    properties.close();
    server.stop(0);
  }

  private String mirror() {
    return "http://127.0.0.1:" + server.getAddress().getPort() + "/mirror";
  }

  /** A dataset "Test" served by the local server, with the given checksums for its two files. */
  private DatasetFiles files(String labelsMd5, String imagesMd5) {
    return new DatasetFiles("Test", "test-set", "http://127.0.0.1:1/", "kiln.test.mirror", "KILN_TEST_MIRROR_UNSET",
        Map.of(LABELS, labelsMd5, IMAGES, imagesMd5), List.of(system), "dataset-test");
  }

  private Path downloads() {
    return home.resolve("datasets").resolve("test-set");
  }

  private static String md5(byte[] bytes) throws NoSuchAlgorithmException {
    return HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(bytes));
  }

  /** The regular files under {@code dir}, recursively. */
  private static List<Path> filesUnder(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return List.of();
    }
    try (Stream<Path> walk = Files.walk(dir)) {
      return walk.filter(Files::isRegularFile).toList();
    }
  }

  @Test
  void searchesTheDataRootThenTheKilnHomeThenTheSystemDirectories() {
    assumeTrue(System.getenv("KILN_DATA") == null, "KILN_DATA is set in this environment");
    assertEquals(List.of(data.resolve("test-set"), data, downloads(), system), files("", "").searchDirectories());
  }

  @Test
  void theFirstDirectoryHoldingEveryFileWins() throws IOException {
    IdxFiles.write(data.resolve("test-set"), LABELS, LABEL_FILE); // incomplete: no images
    IdxFiles.write(data, "train-labels-idx1-ubyte", LABEL_FILE); // uncompressed names are accepted
    IdxFiles.write(data, "train-images-idx3-ubyte", IMAGE_FILE);
    IdxFiles.write(system, LABELS, LABEL_FILE);
    IdxFiles.write(system, IMAGES, IMAGE_FILE);
    assertEquals(List.of(data.resolve("train-images-idx3-ubyte"), data.resolve("train-labels-idx1-ubyte")),
        files("", "").locate(List.of(IMAGES, LABELS)));
    Files.delete(data.resolve("train-images-idx3-ubyte"));
    assertEquals(List.of(system.resolve(IMAGES), system.resolve(LABELS)), files("", "").locate(List.of(IMAGES, LABELS)));
    assertEquals(0, requests.get());
  }

  @Test
  void publicLoadersFindFilesUnderTheDataRoot() throws IOException {
    writeSplit(data.resolve("fashion-mnist"), "train", new byte[] {1, 2, 3}, true);
    writeSplit(data, "t10k", new byte[] {4, 5}, false);
    assertEquals(3, FashionMnist.train().size());
    assertEquals(2, Mnist.test().size());
  }

  @Test
  void downloadsMissingFilesAndChecksThem() throws Exception {
    ImageDataset d = MnistLayout.TRAIN.load(files(md5(LABEL_FILE), md5(IMAGE_FILE)), Mnist.classNames());
    assertEquals(3, d.size());
    assertEquals(7, d.label(2));
    assertEquals(List.of(downloads().resolve(IMAGES), downloads().resolve(LABELS)),
        filesUnder(home).stream().sorted().toList(), "temporary files were left behind");
    assertArrayEquals(IMAGE_FILE, Files.readAllBytes(downloads().resolve(IMAGES)));
    assertEquals(2, requests.get());
    MnistLayout.TRAIN.load(files(md5(LABEL_FILE), md5(IMAGE_FILE)), Mnist.classNames());
    assertEquals(2, requests.get(), "the second load downloaded again");
  }

  @Test
  void checksumMismatchFailsAndLeavesNoFile() throws Exception {
    String wrong = "0123456789abcdef0123456789abcdef";
    var e = assertThrows(FileNotFoundException.class, () -> files(md5(LABEL_FILE), wrong).locate(List.of(IMAGES, LABELS)));
    assertTrue(e.getMessage().contains(mirror() + "/" + IMAGES + ": MD5 checksum " + md5(IMAGE_FILE)
        + " differs from the expected " + wrong), e.getMessage());
    assertEquals(List.of(), filesUnder(home));
  }

  @Test
  void httpErrorsAreReported() {
    try (var p = SystemProperties.set("kiln.test.mirror", mirror() + "/elsewhere/")) {
      var e = assertThrows(FileNotFoundException.class, () -> files("", "").locate(List.of(LABELS)));
      assertTrue(e.getMessage().contains(mirror() + "/elsewhere/" + LABELS + ": HTTP 404"), e.getMessage());
    }
  }

  @Test
  void absentFashionMnistWithAnUnreachableMirrorSaysWhereToPutTheFiles() throws IOException {
    assumeTrue(System.getenv("KILN_DATA") == null && System.getenv("KILN_FASHION_MNIST_MIRROR") == null,
        "KILN_DATA or KILN_FASHION_MNIST_MIRROR is set in this environment");
    DatasetFiles real = FashionMnist.FILES;
    var elsewhere = new DatasetFiles(real.name(), real.directory(), real.defaultMirror(), real.mirrorProperty(),
        real.mirrorVariable(), real.md5(), List.of(system), real.debianPackage());
    try (var p = SystemProperties.set("kiln.fashionMnist.mirror", "http://127.0.0.1:1/")) {
      var e = assertThrows(UncheckedIOException.class, () -> MnistLayout.TEST.load(elsewhere, FashionMnist.classNames()));
      String m = e.getMessage();
      assertTrue(e.getCause() instanceof FileNotFoundException, e.getCause().toString());
      assertTrue(m.startsWith("FashionMNIST: t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz"), m);
      assertTrue(m.contains("not found"), m);
      for (Path dir : List.of(data.resolve("fashion-mnist"), data, home.resolve("datasets/fashion-mnist"), system)) {
        assertTrue(m.contains("\n  " + dir + "\n"), "missing " + dir + " in: " + m);
      }
      assertTrue(m.contains("http://127.0.0.1:1/t10k-images-idx3-ubyte.gz: ConnectException"), m);
      assertTrue(m.contains("apt-get install dataset-fashion-mnist"), m);
    }
    assertEquals(List.of(), filesUnder(home));
  }
}
