package dev.kiln.runtime.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reads the real FashionMNIST files that Debian's package dataset-fashion-mnist installs; skipped without them. */
class FashionMnistTest {
  private static final Path DEBIAN = Path.of("/usr/share/datasets/fashion-mnist");
  private static ImageDataset train;

  @BeforeAll
  static void loadTrainingSet() {
    assumeTrue(Files.isDirectory(DEBIAN), DEBIAN + " is absent (apt-get install dataset-fashion-mnist)");
    train = FashionMnist.train(DEBIAN);
  }

  @Test
  void sizesAndClassNames() {
    assertEquals(60000, train.size());
    assertArrayEquals(new int[] {1, 28, 28}, train.imageShape());
    assertEquals(10, FashionMnist.classNames().size());
    assertEquals("T-shirt/top", FashionMnist.classNames().get(0));
    assertEquals("Ankle boot", train.classNames().get(9));
  }

  /** {@code test()} finds the Debian directory when the places searched before it are empty. */
  @Test
  void testSetThroughTheLookupHasBalancedClassesAndNormalisedBatches(@TempDir Path empty) {
    ImageDataset test;
    try (var p = SystemProperties.set("kiln.data", empty, "kiln.home", empty)) {
      test = FashionMnist.test();
    }
    assertEquals(10000, test.size());
    int[] histogram = new int[10];
    for (Batch b : new DataLoader<>(test, 1000, true)) {
      assertArrayEquals(new int[] {1000, 1, 28, 28}, b.x().shape());
      for (float v : b.x().toFloatArray()) {
        assertTrue(v >= -1f && v <= 1f, "value " + v + " outside [-1, 1]");
      }
      for (int label : b.y().toIntArray()) {
        histogram[label]++;
      }
    }
    assertArrayEquals(new int[] {1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000}, histogram);
  }

  @Test
  void firstSampleMatchesTheRawFiles() throws IOException {
    byte[] labels = gunzipPrefix(DEBIAN.resolve("train-labels-idx1-ubyte.gz"), 8 + 1);
    byte[] images = gunzipPrefix(DEBIAN.resolve("train-images-idx3-ubyte.gz"), 16 + 784);
    assertEquals(Byte.toUnsignedInt(labels[8]), train.label(0));
    assertEquals((float) Byte.toUnsignedInt(labels[8]), train.get(0).y().item());
    float[] x = train.get(0).x().toFloatArray();
    for (int p = 0; p < 784; p++) {
      assertEquals((Byte.toUnsignedInt(images[16 + p]) / 255f - 0.5f) / 0.5f, x[p], 1e-6f, "pixel " + p);
    }
  }

  private static byte[] gunzipPrefix(Path file, int n) throws IOException {
    try (InputStream in = new GZIPInputStream(Files.newInputStream(file))) {
      return in.readNBytes(n);
    }
  }

  /** A batch of 64 from 60,000 images is copied straight from the bytes: tens of microseconds. */
  @Test
  void gatherIsFast() {
    SplittableRandom rng = new SplittableRandom(0);
    int[][] batches = new int[2000][];
    for (int i = 0; i < batches.length; i++) {
      batches[i] = rng.ints(64, 0, train.size()).toArray();
    }
    for (int[] indices : List.of(batches).subList(0, 500)) {
      train.gather(indices);
    }
    long start = System.nanoTime();
    for (int[] indices : batches) {
      assertEquals(64, train.gather(indices).size());
    }
    double micros = (System.nanoTime() - start) / 1e3 / batches.length;
    assertTrue(micros < 1000, "gather(64) took " + micros + " µs on average");
  }
}
