package dev.kiln.runtime.data;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The file layout MNIST and FashionMNIST share: for each split an IDX image file of shape {@code
 * [N, 28, 28]} and an IDX label file of shape {@code [N]}, named {@code train-...} or {@code
 * t10k-...} and published gzip-compressed. Files of any other image size, or of no image, are
 * rejected.
 */
enum MnistLayout {
  TRAIN("train"),
  TEST("t10k");

  /** The height and width of every image. */
  static final int SIZE = 28;

  private final String prefix;

  MnistLayout(String prefix) {
    this.prefix = prefix;
  }

  /** The checksums of the four published files, keyed by file name, for {@link DatasetFiles#md5()}. */
  static Map<String, String> checksums(String trainImages, String trainLabels, String testImages, String testLabels) {
    return Map.of(
        TRAIN.imagesFile(), trainImages,
        TRAIN.labelsFile(), trainLabels,
        TEST.imagesFile(), testImages,
        TEST.labelsFile(), testLabels);
  }

  /**
   * This split, found (or downloaded) by {@code files}.
   *
   * @throws UncheckedIOException when the files cannot be found, downloaded or read
   */
  ImageDataset load(DatasetFiles files, List<String> classNames) {
    try {
      return read(files.locate(fileNames()), classNames);
    } catch (IOException e) {
      throw new UncheckedIOException(e.getMessage(), e);
    }
  }

  /**
   * This split from the files in {@code dir}.
   *
   * @throws UncheckedIOException when a file is missing or cannot be read
   */
  ImageDataset load(Path dir, List<String> classNames) {
    try {
      return read(DatasetFiles.inDirectory(dir, fileNames()), classNames);
    } catch (IOException e) {
      throw new UncheckedIOException(e.getMessage(), e);
    }
  }

  private static ImageDataset read(List<Path> imagesAndLabels, List<String> classNames) throws IOException {
    IdxArray labels = Idx.read(imagesAndLabels.get(1));
    IdxArray images = Idx.read(imagesAndLabels.get(0));
    checkImageShape(images);
    return ImageDataset.of(images, labels, classNames);
  }

  /** Requires images of shape {@code [N, 28, 28]} with {@code N >= 1}. */
  private static void checkImageShape(IdxArray images) throws DatasetFormatException {
    int[] dims = images.dims();
    if (dims.length != 3 || dims[0] == 0 || dims[1] != SIZE || dims[2] != SIZE) {
      throw new DatasetFormatException(images.source(), "expected images of shape [count, " + SIZE + ", " + SIZE
          + "] with a count of at least 1, the header declares " + Arrays.toString(dims));
    }
  }

  private List<String> fileNames() {
    return List.of(imagesFile(), labelsFile());
  }

  String imagesFile() {
    return prefix + "-images-idx3-ubyte.gz";
  }

  String labelsFile() {
    return prefix + "-labels-idx1-ubyte.gz";
  }
}
