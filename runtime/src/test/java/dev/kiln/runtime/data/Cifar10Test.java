package dev.kiln.runtime.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link Cifar10} on small files written in the CIFAR-10 binary format. */
class Cifar10Test {
  @TempDir Path dir;

  /** {@code count} records; record {@code r} has label {@code r % 10} and every pixel of channel c equal to r + c. */
  static byte[] records(int count) {
    byte[] bytes = new byte[count * Cifar10.RECORD];
    for (int r = 0; r < count; r++) {
      int offset = r * Cifar10.RECORD;
      bytes[offset] = (byte) (r % 10);
      for (int c = 0; c < 3; c++) {
        Arrays.fill(bytes, offset + 1 + c * 1024, offset + 1 + (c + 1) * 1024, (byte) (r + c));
      }
    }
    return bytes;
  }

  private void writeTrainingFiles(int recordsEach) throws IOException {
    for (String name : Cifar10.TRAIN_FILES) {
      Files.write(dir.resolve(name), records(recordsEach));
    }
  }

  @Test
  void readsTheFiveTrainingBatchesAsOneNormalisedRgbDataset() throws IOException {
    writeTrainingFiles(3);
    ImageDataset train = Cifar10.train(dir);
    assertEquals(15, train.size());
    assertArrayEquals(new int[] {3, 32, 32}, train.imageShape());
    assertEquals("truck", train.classNames().get(9));
    assertEquals(2, train.label(5)); // record 2 of data_batch_2.bin

    Example e = train.get(1);
    assertArrayEquals(new int[] {3, 32, 32}, e.x().shape());
    float[] x = e.x().toFloatArray();
    for (int c = 0; c < 3; c++) {
      assertEquals(((1 + c) / 255f - 0.5f) / 0.5f, x[c * 1024 + 517], 1e-6f, "channel " + c);
    }
    Batch b = train.gather(new int[] {4, 1});
    assertArrayEquals(new int[] {2, 3, 32, 32}, b.x().shape());
    assertArrayEquals(new int[] {1, 1}, b.y().toIntArray());
  }

  @Test
  void readsTheTestBatch() throws IOException {
    Files.write(dir.resolve("test_batch.bin"), records(4));
    ImageDataset test = Cifar10.test(dir);
    assertEquals(4, test.size());
    assertEquals(3, test.label(3));
  }

  @Test
  void rejectsATruncatedRecordNamingFileAndOffset() throws IOException {
    byte[] bytes = Arrays.copyOf(records(2), 2 * Cifar10.RECORD + 100);
    Path file = Files.write(dir.resolve("test_batch.bin"), bytes);
    String message = failure(() -> Cifar10.test(dir));
    assertTrue(message.startsWith(file.toString()), message);
    assertTrue(message.contains("offset 6146"), message);
  }

  @Test
  void rejectsALabelAboveNineNamingFileAndOffset() throws IOException {
    byte[] bytes = records(3);
    bytes[2 * Cifar10.RECORD] = 10;
    Path file = Files.write(dir.resolve("test_batch.bin"), bytes);
    String message = failure(() -> Cifar10.test(dir));
    assertTrue(message.startsWith(file.toString()), message);
    assertTrue(message.contains("label 10 at offset 6146"), message);
  }

  @Test
  void rejectsAnEmptyFile() throws IOException {
    writeTrainingFiles(1);
    Path file = Files.write(dir.resolve("data_batch_4.bin"), new byte[0]);
    String message = failure(() -> Cifar10.train(dir));
    assertTrue(message.startsWith(file.toString()), message);
    assertTrue(message.contains("empty") && message.contains("offset 0"), message);
  }

  @Test
  void aDirectoryInPlaceOfABatchFileIsCalledOne() throws IOException {
    Path file = Files.createDirectories(dir.resolve("test_batch.bin"));
    var e = assertThrows(UncheckedIOException.class, () -> Cifar10.test(dir));
    assertEquals(file + ": is a directory, not a batch file", e.getMessage());
  }

  @Test
  void moreImagesThanOneArrayHoldsNameTheFileThatOverflows() throws IOException {
    writeTrainingFiles(1);
    Path file = dir.resolve("data_batch_5.bin");
    try (var sparse = new RandomAccessFile(file.toFile(), "rw")) { // never read: the lengths fail first
      sparse.setLength(Cifar10.MAX_IMAGES * Cifar10.RECORD);
    }
    String message = failure(() -> Cifar10.train(dir));
    assertTrue(message.startsWith(file + ": holds " + Cifar10.MAX_IMAGES + " records, which make "
        + (Cifar10.MAX_IMAGES + 4) + " images in all, more than the " + Cifar10.MAX_IMAGES), message);
  }

  /**
   * A file whose length changes between the pass that sizes the arrays and the one that fills them
   * (here a writer makes it one record long, then two, over and over) is rejected, never read past
   * the arrays' end nor into a dataset padded with black images. The writer races the loads, so
   * such a fault shows in some of them only: a few thousand are tried.
   */
  @Test
  void aFileThatChangesWhileItIsReadIsRejected() throws Exception {
    byte[] record = new byte[Cifar10.RECORD];
    Arrays.fill(record, (byte) 255);
    record[0] = 3;
    Path file = Files.write(dir.resolve("test_batch.bin"), record);
    AtomicBoolean stop = new AtomicBoolean();
    Thread writer = new Thread(() -> {
      try (var raf = new RandomAccessFile(file.toFile(), "rw")) {
        while (!stop.get()) {
          raf.setLength(Cifar10.RECORD);
          raf.seek(Cifar10.RECORD);
          raf.write(record);
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    });
    writer.start();
    try {
      for (int i = 0; i < 3000; i++) {
        try {
          ImageDataset test = Cifar10.test(dir);
          assertTrue(test.size() == 1 || test.size() == 2, "size " + test.size());
          for (int k = 0; k < test.size(); k++) {
            assertEquals(3, test.label(k), "record " + k + " of " + test.size());
            assertEquals(1f, test.get(k).x().toFloatArray()[0], "record " + k + " of " + test.size());
          }
        } catch (UncheckedIOException e) {
          assertInstanceOf(DatasetFormatException.class, e.getCause());
        }
      }
    } finally {
      stop.set(true);
      writer.join();
    }
  }

  @Test
  void missingFilesThatCannotBeDownloadedSayWhereToPutThem() throws IOException {
    Path home = Files.createDirectories(dir.resolve("home"));
    // an unreachable mirror: the test never downloads the real archive
    try (var p = SystemProperties.set("kiln.data", dir.resolve("data"), "kiln.home", home,
        "kiln.cifar10.mirror", "http://127.0.0.1:1/")) {
      assumeFalse(Cifar10.isAvailable(), "CIFAR-10 is installed under $KILN_DATA");
      var e = assertThrows(UncheckedIOException.class, Cifar10::test);
      String message = e.getMessage();
      assertTrue(message.contains(home.resolve("datasets").resolve("cifar-10-batches-bin").toString()), message);
      assertTrue(message.contains(Cifar10.ARCHIVE) && message.contains("test_batch.bin"), message);
      assertTrue(message.contains("downloading the archive failed: http://127.0.0.1:1/cifar-10-binary.tar.gz: ConnectException"),
          message);
    }
  }

  private static String failure(Runnable load) {
    var e = assertThrows(UncheckedIOException.class, load::run);
    assertInstanceOf(DatasetFormatException.class, e.getCause());
    return e.getMessage();
  }
}
