package dev.kiln.runtime.data;

import java.nio.file.Path;
import java.util.List;

/**
 * Zalando's FashionMNIST: 28x28 greyscale pictures of clothes in 10 classes, 60,000 for training
 * and 10,000 for testing, normalised to {@code [-1, 1]} as in the PyTorch tutorials (see {@link
 * ImageDataset}).
 *
 * <p>{@link #train()} and {@link #test()} look for the four IDX files ({@code
 * train-images-idx3-ubyte.gz}, {@code train-labels-idx1-ubyte.gz}, {@code t10k-images-idx3-ubyte.gz},
 * {@code t10k-labels-idx1-ubyte.gz}, each also accepted uncompressed) in:
 *
 * <ol>
 *   <li>the directory named by the system property {@code kiln.data}, then by the environment
 *       variable {@code KILN_DATA}: first its {@code fashion-mnist} subdirectory, then itself;
 *   <li>{@code ~/.kiln/datasets/fashion-mnist} (the system property {@code kiln.home} replaces
 *       {@code ~/.kiln});
 *   <li>{@code /usr/share/datasets/fashion-mnist}, where Debian's package {@code
 *       dataset-fashion-mnist} installs them.
 * </ol>
 *
 * When none holds them they are downloaded into {@code ~/.kiln/datasets/fashion-mnist} from {@value
 * #MIRROR}, or from the mirror named by the system property {@code kiln.fashionMnist.mirror} or the
 * environment variable {@code KILN_FASHION_MNIST_MIRROR}, and checked against their published MD5
 * checksums. Files found on disk are not checksummed but checked as IDX files: Debian's copies hold
 * the same data in gzip files with other headers (no file name, another time stamp), so their MD5
 * checksums differ from the published ones. The datasets are read afresh on each call.
 */
public final class FashionMnist {
  /** The official download location. */
  public static final String MIRROR = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/";

  static final DatasetFiles FILES = new DatasetFiles(
      "FashionMNIST",
      "fashion-mnist",
      MIRROR,
      "kiln.fashionMnist.mirror",
      "KILN_FASHION_MNIST_MIRROR",
      MnistLayout.checksums(
          "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
          "25c81989df183df01b3e8a0aad5dffbe",
          "bef4ecab320f06d8554ea6380940ec79",
          "bb300cfdad3c16e7a12a480ee83cd310"),
      List.of(Path.of("/usr/share/datasets/fashion-mnist")),
      "dataset-fashion-mnist");

  private static final List<String> CLASS_NAMES = List.of(
      "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot");

  private FashionMnist() {}

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

  /** The names of the 10 classes, indexed by label: T-shirt/top, Trouser, ..., Ankle boot. */
  public static List<String> classNames() {
    return CLASS_NAMES;
  }
}
