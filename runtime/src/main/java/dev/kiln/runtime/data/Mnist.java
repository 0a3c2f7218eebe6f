package dev.kiln.runtime.data;

import java.nio.file.Path;
import java.util.List;

/**
 * LeCun's MNIST handwritten digits: 28x28 greyscale images of the digits 0 to 9, 60,000 for
 * training and 10,000 for testing, normalised to {@code [-1, 1]} like {@link FashionMnist} (see
 * {@link ImageDataset}).
 *
 * <p>The files are found the same way as FashionMNIST's, in a {@code mnist} directory: under the
 * {@code kiln.data} property's or {@code KILN_DATA} variable's directory (or in it), in {@code
 * ~/.kiln/datasets/mnist}, then in {@code /usr/share/datasets/mnist}. When none holds them they are
 * downloaded into {@code ~/.kiln/datasets/mnist} from {@value #MIRROR}, or from the mirror named by
 * the system property {@code kiln.mnist.mirror} or the environment variable {@code
 * KILN_MNIST_MIRROR}, and checked against their published MD5 checksums.
 */
public final class Mnist {
  /** The download location torchvision uses. */
  public static final String MIRROR = "https://ossci-datasets.s3.amazonaws.com/mnist/";

  static final DatasetFiles FILES = new DatasetFiles(
      "MNIST",
      "mnist",
      MIRROR,
      "kiln.mnist.mirror",
      "KILN_MNIST_MIRROR",
      MnistLayout.checksums(
          "f68b3c2dcbeaaa9fbdd348bbdeb94873",
          "d53e105ee54ea40749a09fcbcd1e9432",
          "9fb629c4189551a2d022fa330f9573f3",
          "ec29112dd5afa0611ce80d1b7f02629c"),
      List.of(Path.of("/usr/share/datasets/mnist")),
      null);

  private static final List<String> CLASS_NAMES = List.of("0", "1", "2", "3", "4", "5", "6", "7", "8", "9");

  private Mnist() {}

  /**
   * The 60,000 training images.
   *
   * @throws java.io.UncheckedIOException listing the places searched when the files are neither
   *     found nor downloadable, or naming the file that is corrupt
   */
  public static ImageDataset train() {
    return MnistLayout.TRAIN.load(FILES, CLASS_NAMES);
  }

  /**
   * The 10,000 test images.
   *
   * @throws java.io.UncheckedIOException as {@link #train()} does
   */
  public static ImageDataset test() {
    return MnistLayout.TEST.load(FILES, CLASS_NAMES);
  }

  /**
   * The training images from the files in {@code dir}; nothing else is searched or downloaded.
   *
   * @throws java.io.UncheckedIOException naming the file that is missing or corrupt
   */
  public static ImageDataset train(Path dir) {
    return MnistLayout.TRAIN.load(dir, CLASS_NAMES);
  }

  /**
   * The test images from the files in {@code dir}; nothing else is searched or downloaded.
   *
   * @throws java.io.UncheckedIOException naming the file that is missing or corrupt
   */
  public static ImageDataset test(Path dir) {
    return MnistLayout.TEST.load(dir, CLASS_NAMES);
  }

  /** The names of the 10 classes, the digits "0" to "9". */
  public static List<String> classNames() {
    return CLASS_NAMES;
  }
}
