package dev.kiln.runtime.data;

import java.io.BufferedInputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * CIFAR-10: 32x32 colour pictures in 10 classes, 50,000 for training and 10,000 for testing, as
 * {@code [3, 32, 32]} images normalised to {@code [-1, 1]} as in the PyTorch tutorials ({@code
 * ToTensor()} then {@code Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))}, see {@link ImageDataset}).
 *
 * <p>The data is read from the binary version's files, {@code data_batch_1.bin} to {@code
 * data_batch_5.bin} and {@code test_batch.bin}: records of one label byte (0 to 9) and 3072 pixel
 * bytes (the red, then green, then blue 32x32 plane, each row by row), 10,000 records per file.
 * {@link #train()} and {@link #test()} look for them where {@link FashionMnist} looks for its files,
 * in a directory named {@value #DIRECTORY}: under (or directly in) the directory named by the system
 * property {@code kiln.data} or the environment variable {@code KILN_DATA}, then in {@code
 * ~/.kiln/datasets/cifar-10-batches-bin}. When none holds them, the binary archive ({@value
 * #ARCHIVE}, 162 MB) is downloaded to {@code ~/.kiln/datasets}, checked against its published MD5
 * checksum, its six batch files extracted into {@code ~/.kiln/datasets/cifar-10-batches-bin}, and
 * the archive deleted, as torchvision's {@code CIFAR10(download=True)} does; an archive already in
 * {@code ~/.kiln/datasets} (left by an interrupted extraction) is used only when it passes the same
 * checksum, and downloaded again otherwise. The system property
 * {@code kiln.cifar10.mirror} or the environment variable {@code KILN_CIFAR10_MIRROR} names another
 * place to download {@code cifar-10-binary.tar.gz} from.
 */
public final class Cifar10 {
  /** The directory the binary archive extracts to, and the one searched for. */
  public static final String DIRECTORY = "cifar-10-batches-bin";
  /** The binary archive's download location. */
  public static final String ARCHIVE = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";

  static final int CHANNELS = 3;
  static final int SIZE = 32;
  static final int PIXELS = CHANNELS * SIZE * SIZE;
  /** One label byte, then the pixels. */
  static final int RECORD = 1 + PIXELS;
  /** The most images whose pixels fit in one array. */
  static final long MAX_IMAGES = (Integer.MAX_VALUE - 8) / PIXELS;

  static final List<String> TRAIN_FILES =
      IntStream.rangeClosed(1, 5).mapToObj(i -> "data_batch_" + i + ".bin").collect(Collectors.toUnmodifiableList());
  static final List<String> TEST_FILES = List.of("test_batch.bin");

  /** The archive's file name on the mirror. */
  static final String ARCHIVE_NAME = "cifar-10-binary.tar.gz";
  /** The MD5 checksum the dataset's page publishes for the archive (170,052,171 bytes). */
  static final String ARCHIVE_MD5 = "c32a1d4ab5d03f1284b67883e8d87530";

  static final DatasetFiles FILES = new DatasetFiles("CIFAR-10", DIRECTORY, "https://www.cs.toronto.edu/~kriz/",
      "kiln.cifar10.mirror", "KILN_CIFAR10_MIRROR", Map.of(ARCHIVE_NAME, ARCHIVE_MD5), List.of(), null);
  private static final List<String> CLASS_NAMES = List.of(
      "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck");

  private Cifar10() {}

  /**
   * The 50,000 training images of {@code data_batch_1.bin} to {@code data_batch_5.bin}.
   *
   * @throws UncheckedIOException listing the places searched and where to put the files when they
   *     are not found, or naming the file and offset that is corrupt
   */
  public static ImageDataset train() {
    return load(null, TRAIN_FILES);
  }

  /**
   * The 10,000 test images of {@code test_batch.bin}.
   *
   * @throws UncheckedIOException as {@link #train()} does
   */
  public static ImageDataset test() {
    return load(null, TEST_FILES);
  }

  /** The training images from the files in {@code dir}; nothing else is searched. */
  public static ImageDataset train(Path dir) {
    return load(dir, TRAIN_FILES);
  }

  /** The test images from the file in {@code dir}; nothing else is searched. */
  public static ImageDataset test(Path dir) {
    return load(dir, TEST_FILES);
  }

  /** The names of the 10 classes, indexed by label: airplane, automobile, ..., truck. */
  public static List<String> classNames() {
    return CLASS_NAMES;
  }

  /**
   * Whether the files of both splits are in one of the places {@link #train()} searches, for
   * programs that skip training without them.
   */
  public static boolean isAvailable() {
    return FILES.searchDirectories().stream().anyMatch(dir -> holdsAll(dir, allFiles()));
  }

  /** Reads {@code fileNames} from {@code dir}, or from the first searched directory holding them all when null. */
  private static ImageDataset load(Path dir, List<String> fileNames) {
    try {
      Path from = dir != null ? dir : locate(FILES, fileNames);
      List<Path> files = new ArrayList<>();
      for (String name : fileNames) {
        Path file = from.resolve(name);
        if (!Files.isRegularFile(file)) {
          throw new FileNotFoundException(file + (Files.isDirectory(file) ? ": is a directory, not a batch file"
              : Files.exists(file) ? ": is not a regular file" : ": no such file"));
        }
        files.add(file);
      }
      return read(files);
    } catch (IOException e) {
      throw new UncheckedIOException(e.getMessage(), e);
    }
  }

  /**
   * The first searched directory holding every file in {@code fileNames}; when none does, the
   * download directory after downloading the archive and extracting it there. An archive already
   * beside the download directory is extracted only when its MD5 checksum is the published one;
   * otherwise it is deleted and downloaded again, as it is only a download that was not extracted.
   *
   * @throws FileNotFoundException listing the places searched, why the download failed, and where
   *     to put the files by hand
   * @throws DatasetFormatException when the downloaded archive cannot be extracted (it is deleted)
   */
  static Path locate(DatasetFiles files, List<String> fileNames) throws IOException {
    List<Path> searched = files.searchDirectories();
    for (Path dir : searched) {
      if (holdsAll(dir, fileNames)) {
        return dir;
      }
    }
    Path target = files.downloadDirectory();
    Path archive = target.resolveSibling(ARCHIVE_NAME);
    if (Files.isRegularFile(archive) && !files.isIntact(ARCHIVE_NAME, archive)) {
      System.err.println("CIFAR-10: " + archive + " does not match its published MD5 checksum; downloading it again");
      Files.delete(archive);
    }
    try {
      if (!Files.isRegularFile(archive)) { // one left by an interrupted extraction has just passed its checksum
        files.download(ARCHIVE_NAME, archive.getParent());
      }
    } catch (IOException e) {
      String places = searched.stream().map(p -> "  " + p).collect(Collectors.joining("\n"));
      var failure = new FileNotFoundException("CIFAR-10: " + String.join(", ", fileNames) + " not found in any of\n"
          + places + "\nand downloading the archive failed: " + e.getMessage() + "\nDownload " + ARCHIVE + ", extract it,"
          + " and put the files of its " + DIRECTORY + " directory (" + String.join(", ", allFiles()) + ") in " + target
          + ", or in <dir>/" + DIRECTORY + " for a directory <dir> named by the kiln.data system property or the"
          + " KILN_DATA environment variable.");
      failure.initCause(e);
      throw failure;
    }
    System.err.println("CIFAR-10: extracting " + DIRECTORY + " from " + archive + " to " + target);
    try {
      TarGz.extract(archive, DIRECTORY, allFiles(), target);
    } finally {
      Files.deleteIfExists(archive); // extracted, or unusable: a later call downloads it again
    }
    return target;
  }

  private static boolean holdsAll(Path dir, List<String> fileNames) {
    return fileNames.stream().allMatch(name -> Files.isRegularFile(dir.resolve(name)));
  }

  private static List<String> allFiles() {
    List<String> all = new ArrayList<>(TRAIN_FILES);
    all.addAll(TEST_FILES);
    return all;
  }

  /**
   * The records of {@code files}, in order, as one dataset.
   *
   * @throws DatasetFormatException naming the file and the byte offset of the first bad record: an
   *     empty file, a length that is not a whole number of records, a label above 9; or naming the
   *     file that takes the images past what one array holds, or one whose length changed between
   *     the pass that sizes the arrays and the one that fills them
   */
  static ImageDataset read(List<Path> files) throws IOException {
    long records = 0;
    long[] lengths = new long[files.size()];
    for (int i = 0; i < files.size(); i++) {
      Path file = files.get(i);
      lengths[i] = Files.size(file);
      checkLength(file, lengths[i]);
      records += lengths[i] / RECORD;
      if (records > MAX_IMAGES) {
        throw new DatasetFormatException(file, "holds " + lengths[i] / RECORD + " records, which make " + records
            + " images in all, more than the " + MAX_IMAGES + " whose pixels fit in one array");
      }
    }
    byte[] pixels = new byte[Math.toIntExact(records * PIXELS)];
    byte[] labels = new byte[Math.toIntExact(records)];
    int image = 0;
    for (int i = 0; i < files.size(); i++) {
      Path file = files.get(i);
      try (InputStream stream = Files.newInputStream(file); InputStream in = new BufferedInputStream(stream, 1 << 16)) {
        for (long offset = 0; offset < lengths[i]; offset += RECORD, image++) {
          int label = in.read();
          if (label < 0 || in.readNBytes(pixels, image * PIXELS, PIXELS) < PIXELS) {
            throw changed(file, lengths[i], "fewer");
          }
          if (label >= CLASS_NAMES.size()) {
            throw new DatasetFormatException(file, "label " + label + " at offset " + offset + " (record "
                + offset / RECORD + ") is not a class index 0.." + (CLASS_NAMES.size() - 1));
          }
          labels[image] = (byte) label;
        }
        if (in.read() >= 0) {
          throw changed(file, lengths[i], "more");
        }
      }
    }
    return ImageDataset.ofPixels(pixels, labels, CHANNELS, SIZE, SIZE, CLASS_NAMES);
  }

  /** A file that holds fewer or more bytes than the {@code length} the arrays were sized for. */
  private static DatasetFormatException changed(Path file, long length, String fewerOrMore) {
    return new DatasetFormatException(file, "changed while it was read: it held " + length
        + " bytes when the images were counted, then " + fewerOrMore);
  }

  private static void checkLength(Path file, long length) throws DatasetFormatException {
    if (length == 0) {
      throw new DatasetFormatException(file, "is empty: expected a record of " + RECORD
          + " bytes (1 label byte, " + PIXELS + " pixel bytes) at offset 0");
    }
    if (length % RECORD != 0) {
      long offset = length / RECORD * RECORD;
      throw new DatasetFormatException(file, "holds " + length + " bytes, not a whole number of " + RECORD
          + "-byte records: the record at offset " + offset + " has only " + (length - offset) + " bytes");
    }
  }
}
