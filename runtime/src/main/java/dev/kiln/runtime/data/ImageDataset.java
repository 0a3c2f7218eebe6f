package dev.kiln.runtime.data;

import dev.kiln.runtime.DType;
import dev.kiln.runtime.Generator;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * Labelled images (greyscale or colour) kept as the bytes of their files and normalised as they are
 * copied out, the way the PyTorch tutorials' {@code transforms.ToTensor()} followed by {@code
 * transforms.Normalize((0.5,), (0.5,))} (or {@code (0.5, 0.5, 0.5)} for each colour channel) does:
 * {@code value = (byte / 255 - 0.5) / 0.5}, in {@code [-1, 1]}.
 *
 * <p>Other statistics are a call away: {@link #normalized(double[], double[])} gives the same images
 * under {@code Normalize(mean, std)} (e.g. MNIST's {@code (0.1307,), (0.3081,)}), and {@code
 * normalized(new double[] {0}, new double[] {1})} is {@code ToTensor()} alone, values in {@code [0,
 * 1]}.
 *
 * <p>A sample is an {@link Example} of a {@code [C, H, W]} float image ({@code C} is 1 for
 * greyscale, 3 for RGB) and a rank-0 {@link DType#INT32} label; {@link #gather} builds a {@code [B,
 * C, H, W]} batch and {@code [B]} labels straight from the bytes, without a tensor per sample.
 */
public final class ImageDataset implements Dataset<Example>, BatchSource {
  private static final double[] HALF = {0.5};

  private final byte[] pixels;
  private final byte[] labels;
  private final int channels;
  private final int height;
  private final int width;
  private final List<String> classNames;
  /** Per channel, the normalised value of each byte. */
  private final float[][] values;
  /** Random crop: the zero padding on each side before a crop of the original size; 0 for none. */
  private final int cropPadding;
  /** Random horizontal flip with probability 1/2. */
  private final boolean flip;

  private ImageDataset(byte[] pixels, byte[] labels, int channels, int height, int width, List<String> classNames,
      float[][] values, int cropPadding, boolean flip) {
    this.pixels = pixels;
    this.labels = labels;
    this.channels = channels;
    this.height = height;
    this.width = width;
    this.classNames = classNames;
    this.values = values;
    this.cropPadding = cropPadding;
    this.flip = flip;
  }

  private ImageDataset(byte[] pixels, byte[] labels, int channels, int height, int width, List<String> classNames) {
    this(pixels, labels, channels, height, width, classNames, tables(channels, HALF, HALF), 0, false);
  }

  /** Per channel, {@code (b / 255 - mean) / std} for each byte b: ToTensor then Normalize, in float as torchvision computes them. */
  private static float[][] tables(int channels, double[] mean, double[] std) {
    float[][] values = new float[channels][256];
    for (int c = 0; c < channels; c++) {
      float m = (float) mean[mean.length == 1 ? 0 : c];
      float sd = (float) std[std.length == 1 ? 0 : c];
      for (int b = 0; b < 256; b++) {
        values[c][b] = (b / 255f - m) / sd;
      }
    }
    return values;
  }

  /**
   * The same images (sharing their bytes) normalised as {@code transforms.ToTensor()} followed by
   * {@code transforms.Normalize(mean, std)}: {@code (byte / 255 - mean[c]) / std[c]}, with one mean
   * and one standard deviation for every channel or one per channel.
   *
   * @throws IllegalArgumentException when a length is neither 1 nor the channel count, a mean is not
   *     finite, or a standard deviation is not finite and positive
   */
  public ImageDataset normalized(double[] mean, double[] std) {
    checkPerChannel("mean", mean);
    checkPerChannel("std", std);
    for (int i = 0; i < mean.length; i++) {
      if (!Double.isFinite(mean[i])) {
        throw new IllegalArgumentException("ImageDataset.normalized: mean[" + i + "] must be finite, got " + mean[i]);
      }
    }
    for (int i = 0; i < std.length; i++) {
      if (!(std[i] > 0) || Double.isInfinite(std[i])) {
        throw new IllegalArgumentException("ImageDataset.normalized: std[" + i + "] must be finite and positive, got " + std[i]);
      }
    }
    return new ImageDataset(pixels, labels, channels, height, width, classNames, tables(channels, mean, std), cropPadding, flip);
  }

  /**
   * The same images, each copied out through torchvision's {@code RandomCrop((H, W), padding)}: the
   * image padded with black ({@code padding} pixels of byte 0 on every side, normalised as any
   * byte) and a window of the original size taken at a random place. Draws come from {@link
   * Kiln#generator()}, two per image as it is copied out, so {@link Kiln#manualSeed} repeats them.
   * For training sets; keeps a horizontal flip already asked for (crop first, as {@code
   * Compose([RandomCrop, RandomHorizontalFlip])}).
   *
   * @throws IllegalArgumentException when {@code padding} is negative
   */
  public ImageDataset randomCrop(int padding) {
    if (padding < 0) {
      throw new IllegalArgumentException("ImageDataset.randomCrop: padding must be >= 0, got " + padding);
    }
    return new ImageDataset(pixels, labels, channels, height, width, classNames, values, padding, flip);
  }

  /**
   * The same images, each mirrored left to right with probability 1/2 as it is copied out
   * (torchvision's {@code RandomHorizontalFlip()}), one draw from {@link Kiln#generator()} per
   * image after the crop's. For training sets.
   */
  public ImageDataset randomHorizontalFlip() {
    return new ImageDataset(pixels, labels, channels, height, width, classNames, values, cropPadding, true);
  }

  private void checkPerChannel(String name, double[] v) {
    if (v.length != 1 && v.length != channels) {
      throw new IllegalArgumentException("ImageDataset.normalized: " + name + " needs "
          + (channels == 1 ? "1 value (the images have one channel)" : "1 or " + channels + " values (one per channel)")
          + ", got " + v.length);
    }
  }

  /**
   * Pairs an IDX image file of shape {@code [N, H, W]} with an IDX label file of shape {@code [N]}.
   *
   * @throws DatasetFormatException when the shapes are wrong, the counts differ or a label is not an
   *     index into {@code classNames} (naming its byte offset in the labels file)
   */
  static ImageDataset of(IdxArray images, IdxArray labels, List<String> classNames) throws DatasetFormatException {
    if (images.rank() != 3) {
      throw new DatasetFormatException(images.source(),
          "expected images of shape [count, rows, columns], the header declares " + Arrays.toString(images.dims()));
    }
    if (labels.rank() != 1) {
      throw new DatasetFormatException(labels.source(), "expected labels of shape [count], the header declares "
          + Arrays.toString(labels.dims()));
    }
    if (images.dim(0) != labels.dim(0)) {
      throw new DatasetFormatException(labels.source(), "holds " + labels.dim(0) + " labels but "
          + images.source() + " holds " + images.dim(0) + " images");
    }
    for (int i = 0; i < labels.length(); i++) {
      if (labels.unsignedByte(i) >= classNames.size()) {
        throw new DatasetFormatException(labels.source(), "label " + labels.unsignedByte(i) + " at "
            + labels.offsetOf(i) + " (sample " + i + ") is not a class index 0.." + (classNames.size() - 1));
      }
    }
    return new ImageDataset(images.bytes(), labels.bytes(), 1, images.dim(1), images.dim(2), List.copyOf(classNames));
  }

  /**
   * Images stored channel by channel ({@code [N, C, H, W]} row-major bytes) with one label byte per
   * image; the caller has checked that the labels index {@code classNames}.
   */
  static ImageDataset ofPixels(byte[] pixels, byte[] labels, int channels, int height, int width,
      List<String> classNames) {
    if (pixels.length != (long) labels.length * channels * height * width) {
      throw new IllegalArgumentException(pixels.length + " pixel bytes are not " + labels.length + " images of "
          + channels + "x" + height + "x" + width);
    }
    return new ImageDataset(pixels, labels, channels, height, width, List.copyOf(classNames));
  }

  @Override
  public int size() {
    return labels.length;
  }

  /** Image {@code index} as a {@code [C, H, W]} float tensor and its label as a rank-0 INT32 tensor. */
  @Override
  public Example get(int index) {
    float[] image = new float[imageSize()];
    copyImage(index, image, 0);
    return new Example(Tensor.wrap(image, channels, height, width), Tensor.wrap(new float[] {label(index)}, DType.INT32));
  }

  /** Images {@code [B, C, H, W]} and labels {@code [B]} (INT32) of the samples at {@code indices}. */
  @Override
  public Batch gather(int[] indices) {
    int imageSize = imageSize();
    float[] x = new float[Math.multiplyExact(indices.length, imageSize)];
    float[] y = new float[indices.length];
    for (int k = 0; k < indices.length; k++) {
      copyImage(indices[k], x, k * imageSize);
      y[k] = label(indices[k]);
    }
    return new Batch(Tensor.wrap(x, indices.length, channels, height, width), Tensor.wrap(y, DType.INT32, indices.length));
  }

  private void copyImage(int index, float[] out, int offset) {
    Objects.checkIndex(index, size());
    int plane = height * width;
    int from = index * imageSize();
    if (cropPadding > 0 || flip) {
      copyAugmented(from, out, offset);
      return;
    }
    for (int c = 0; c < channels; c++) {
      float[] table = values[c];
      int at = from + c * plane;
      int to = offset + c * plane;
      for (int p = 0; p < plane; p++) {
        out[to + p] = table[Byte.toUnsignedInt(pixels[at + p])];
      }
    }
  }

  /**
   * One image through the random crop and flip: output pixel (y, x) is input pixel (y + dy, x' +
   * dx), x' mirrored or not, with (dy, dx) in [-padding, padding] drawn first; outside the image,
   * the padding's black.
   */
  private void copyAugmented(int from, float[] out, int offset) {
    Generator rng = Kiln.generator();
    int dy = 0, dx = 0;
    if (cropPadding > 0) {
      dy = rng.nextInt(2 * cropPadding + 1) - cropPadding; // top of the window in the padded image, less the padding
      dx = rng.nextInt(2 * cropPadding + 1) - cropPadding;
    }
    boolean mirror = flip && rng.nextDouble() < 0.5;
    int plane = height * width;
    for (int c = 0; c < channels; c++) {
      float[] table = values[c];
      float black = table[0];
      for (int y = 0; y < height; y++) {
        int sy = y + dy;
        int row = offset + c * plane + y * width;
        for (int x = 0; x < width; x++) {
          int sx = (mirror ? width - 1 - x : x) + dx;
          out[row + x] = sy < 0 || sy >= height || sx < 0 || sx >= width
              ? black : table[Byte.toUnsignedInt(pixels[from + c * plane + sy * width + sx])];
        }
      }
    }
  }

  /** The class index of sample {@code index}. */
  public int label(int index) {
    return Byte.toUnsignedInt(labels[Objects.checkIndex(index, size())]);
  }

  /** The shape of one image, {@code [C, H, W]}. */
  public int[] imageShape() {
    return new int[] {channels, height, width};
  }

  /** The values in one image, {@code C * H * W}. */
  private int imageSize() {
    return channels * height * width;
  }

  /** The name of each class, indexed by label. */
  public List<String> classNames() {
    return classNames;
  }
}
