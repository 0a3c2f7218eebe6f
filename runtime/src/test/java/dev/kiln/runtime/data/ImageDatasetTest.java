package dev.kiln.runtime.data;

import static dev.kiln.runtime.data.IdxFiles.gzip;
import static dev.kiln.runtime.data.IdxFiles.idx;
import static dev.kiln.runtime.data.IdxFiles.write;
import static dev.kiln.runtime.data.IdxFiles.writeSplit;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.DType;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImageDatasetTest {
  private static final List<String> DIGITS = Mnist.classNames();

  @TempDir Path dir;

  private ImageDataset load(byte[] imageFile, byte[] labelFile) throws IOException {
    return ImageDataset.of(Idx.read(write(dir, "images", imageFile)), Idx.read(write(dir, "labels", labelFile)), DIGITS);
  }

  @Test
  void bytesAreNormalisedLikeToTensorThenNormalizeHalfHalf() throws IOException {
    ImageDataset d = load(idx(new int[] {2, 1, 3}, new byte[] {0, (byte) 255, (byte) 128, 51, 102, (byte) 204}),
        idx(new int[] {2}, new byte[] {3, 9}));
    assertEquals(2, d.size());
    assertArrayEquals(new int[] {1, 1, 3}, d.imageShape());
    Example e = d.get(0);
    assertArrayEquals(new int[] {1, 1, 3}, e.x().shape());
    assertArrayEquals(new float[] {-1f, 1f, (128 / 255f - 0.5f) / 0.5f}, e.x().toFloatArray(), 1e-6f);
    assertArrayEquals(new int[0], e.y().shape());
    assertEquals(DType.INT32, e.y().dtype());
    assertEquals(3f, e.y().item());
    assertEquals(9, d.label(1));

    Batch b = d.gather(new int[] {1, 0, 1});
    assertArrayEquals(new int[] {3, 1, 1, 3}, b.x().shape());
    assertArrayEquals(new float[] {-0.6f, -0.2f, 0.6f}, new float[] {b.x().get(0, 0, 0, 0), b.x().get(0, 0, 0, 1),
        b.x().get(2, 0, 0, 2)}, 1e-6f);
    assertArrayEquals(new int[] {9, 3, 9}, b.y().toIntArray());
    assertEquals(DType.INT32, b.y().dtype());
    assertThrows(IndexOutOfBoundsException.class, () -> d.gather(new int[] {2}));
  }

  @Test
  void imageAndLabelCountsMustAgree() throws IOException {
    var e = assertThrows(DatasetFormatException.class,
        () -> load(idx(new int[] {3, 2, 2}, new byte[12]), idx(new int[] {2}, new byte[2])));
    assertTrue(e.getMessage().startsWith(dir.resolve("labels") + ": holds 2 labels but "), e.getMessage());
    assertTrue(e.getMessage().contains(dir.resolve("images") + " holds 3 images"), e.getMessage());
  }

  /** The label's byte offset: after the 8-byte header, in the uncompressed data of a gzip file. */
  @Test
  void labelsMustBeClassIndices() throws IOException {
    var e = assertThrows(DatasetFormatException.class,
        () -> load(idx(new int[] {2, 1, 1}, new byte[2]), idx(new int[] {2}, new byte[] {1, 10})));
    assertTrue(e.getMessage().startsWith(dir.resolve("labels") + ": label 10 at offset 9 (sample 1) is not a class index 0..9"),
        e.getMessage());
    IdxArray images = Idx.read(write(dir, "images", idx(new int[] {3, 1, 1}, new byte[3])));
    Path labels = write(dir, "labels.gz", gzip(idx(new int[] {3}, new byte[] {1, 2, (byte) 200})));
    var gz = assertThrows(DatasetFormatException.class, () -> ImageDataset.of(images, Idx.read(labels), DIGITS));
    assertTrue(gz.getMessage().startsWith(labels + ": label 200 at offset 10 of the uncompressed data (sample 2)"),
        gz.getMessage());
  }

  @Test
  void theMnistLayoutTakesOnly28By28ImagesAndAtLeastOne() throws IOException {
    for (int[] dims : new int[][] {{6, 14, 56}, {2, 28, 27}, {0, 28, 28}}) {
      Path images = write(dir, "t10k-images-idx3-ubyte", idx(dims, new byte[dims[0] * dims[1] * dims[2]]));
      write(dir, "t10k-labels-idx1-ubyte", idx(new int[] {dims[0]}, new byte[dims[0]]));
      for (var load : List.<Runnable>of(() -> FashionMnist.test(dir), () -> Mnist.test(dir))) {
        var e = assertThrows(UncheckedIOException.class, load::run);
        assertInstanceOf(DatasetFormatException.class, e.getCause());
        assertEquals(images + ": expected images of shape [count, 28, 28] with a count of at least 1, the header declares "
            + Arrays.toString(dims), e.getMessage());
      }
    }
  }

  @Test
  void filesMustHaveTheRightRanks() {
    var images = assertThrows(DatasetFormatException.class,
        () -> load(idx(new int[] {2, 4}, new byte[8]), idx(new int[] {2}, new byte[2])));
    assertTrue(images.getMessage().contains("images: expected images of shape [count, rows, columns]"), images.getMessage());
    var labels = assertThrows(DatasetFormatException.class,
        () -> load(idx(new int[] {2, 1, 1}, new byte[2]), idx(new int[] {2, 1}, new byte[2])));
    assertTrue(labels.getMessage().contains("labels: expected labels of shape [count]"), labels.getMessage());
  }

  @Test
  void loadsASplitFromADirectoryCompressedOrNot() throws IOException {
    writeSplit(dir, "train", new byte[] {5, 0, 9}, true);
    writeSplit(dir, "t10k", new byte[] {1, 2}, false);
    ImageDataset train = FashionMnist.train(dir);
    assertEquals(3, train.size());
    assertEquals(9, train.label(2));
    assertEquals("Sandal", train.classNames().get(train.label(0)));
    assertEquals(2, Mnist.test(dir).size());
    assertEquals(List.of("0", "1", "2", "3", "4", "5", "6", "7", "8", "9"), Mnist.test(dir).classNames());
  }

  @Test
  void aMissingFileInTheGivenDirectoryIsNamed() throws IOException {
    writeSplit(dir, "train", new byte[] {1}, true);
    var e = assertThrows(UncheckedIOException.class, () -> FashionMnist.test(dir));
    assertTrue(e.getMessage().contains(dir.resolve("t10k-images-idx3-ubyte.gz").toString()), e.getMessage());
  }

  @Test
  void normalizedAppliesToTensorThenNormalizePerChannel() {
    // two 1x2 RGB images: channel c of image i holds bytes 10*i + c and 255
    byte[] pixels = new byte[2 * 3 * 2];
    for (int i = 0; i < 2; i++) {
      for (int c = 0; c < 3; c++) {
        pixels[i * 6 + c * 2] = (byte) (10 * i + c);
        pixels[i * 6 + c * 2 + 1] = (byte) 255;
      }
    }
    ImageDataset d = ImageDataset.ofPixels(pixels, new byte[] {0, 1}, 3, 1, 2, List.of("a", "b"));
    ImageDataset plain = d.normalized(new double[] {0}, new double[] {1});
    assertArrayEquals(new float[] {10 / 255f, 1f, 11 / 255f, 1f, 12 / 255f, 1f}, plain.get(1).x().toFloatArray(),
        "ToTensor alone: byte / 255");
    double[] mean = {0.4914, 0.4822, 0.4465};
    double[] std = {0.2470, 0.2435, 0.2616};
    ImageDataset cifar = d.normalized(mean, std);
    float[] got = cifar.gather(new int[] {1, 0}).x().toFloatArray();
    for (int i = 0; i < 2; i++) {
      int image = 1 - i;
      for (int c = 0; c < 3; c++) {
        assertEquals(((10 * image + c) / 255f - (float) mean[c]) / (float) std[c], got[i * 6 + c * 2], "image " + image + " channel " + c);
        assertEquals((1f - (float) mean[c]) / (float) std[c], got[i * 6 + c * 2 + 1]);
      }
    }
    assertArrayEquals(d.get(0).x().toFloatArray(), d.normalized(new double[] {0.5}, new double[] {0.5}).get(0).x().toFloatArray(),
        "the default is Normalize(0.5, 0.5)");
    assertEquals(2, cifar.size());
    assertEquals(1, cifar.label(1));

    var e = assertThrows(IllegalArgumentException.class, () -> d.normalized(new double[] {0, 0}, new double[] {1}));
    assertTrue(e.getMessage().contains("mean needs 1 or 3 values") && e.getMessage().contains("got 2"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> d.normalized(new double[] {0}, new double[] {1, 0, 1}));
    assertTrue(e.getMessage().contains("std[1] must be finite and positive, got 0.0"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> d.normalized(new double[] {Double.NaN}, new double[] {1}));
  }

  /** What {@code randomCrop(padding)} then {@code randomHorizontalFlip()} should give for one 1-channel image, from the same draws. */
  private static float[] cropFlip(byte[] image, int h, int w, int padding, boolean flip, dev.kiln.runtime.Generator rng,
      float[] table) {
    int dy = 0, dx = 0;
    if (padding > 0) {
      dy = rng.nextInt(2 * padding + 1) - padding;
      dx = rng.nextInt(2 * padding + 1) - padding;
    }
    boolean mirror = flip && rng.nextDouble() < 0.5;
    float[] out = new float[h * w];
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        int sy = y + dy, sx = (mirror ? w - 1 - x : x) + dx;
        out[y * w + x] = sy < 0 || sy >= h || sx < 0 || sx >= w ? table[0] : table[Byte.toUnsignedInt(image[sy * w + sx])];
      }
    }
    return out;
  }

  @Test
  void randomCropAndFlipFollowTorchvisionAndTheSeed() {
    byte[] pixels = new byte[2 * 12];
    for (int i = 0; i < pixels.length; i++) {
      pixels[i] = (byte) (10 + i);
    }
    ImageDataset d = ImageDataset.ofPixels(pixels, new byte[] {0, 1}, 1, 3, 4, List.of("a", "b"));
    float[] table = new float[256];
    for (int b = 0; b < 256; b++) {
      table[b] = (b / 255f - 0.5f) / 0.5f;
    }
    ImageDataset augmented = d.randomCrop(2).randomHorizontalFlip();
    dev.kiln.runtime.Kiln.manualSeed(21);
    var replay = new dev.kiln.runtime.Generator(dev.kiln.runtime.Kiln.rngState());
    int mirrored = 0, shifted = 0;
    for (int round = 0; round < 200; round++) {
      float[] got = augmented.gather(new int[] {1, 0}).x().toFloatArray();
      for (int k = 0; k < 2; k++) {
        int image = 1 - k;
        byte[] one = java.util.Arrays.copyOfRange(pixels, image * 12, image * 12 + 12);
        float[] want = cropFlip(one, 3, 4, 2, true, replay, table);
        assertArrayEquals(want, java.util.Arrays.copyOfRange(got, k * 12, k * 12 + 12), "round " + round + " image " + image);
        float[] plain = d.get(image).x().toFloatArray();
        shifted += java.util.Arrays.equals(want, plain) ? 0 : 1;
        mirrored += want[0] == plain[3] && want[3] == plain[0] ? 1 : 0;
      }
    }
    assertTrue(shifted > 300, "most windows move: " + shifted + " of 400");
    assertTrue(mirrored > 2, "some unshifted images are mirrored: " + mirrored); // 1/25 * 1/2 of 400 expected

    ImageDataset flipOnly = d.randomHorizontalFlip();
    int flips = 0;
    for (int round = 0; round < 400; round++) {
      float[] got = flipOnly.get(0).x().toFloatArray();
      float[] plain = d.get(0).x().toFloatArray();
      boolean same = java.util.Arrays.equals(got, plain);
      float[] mirror = new float[12];
      for (int y = 0; y < 3; y++) {
        for (int x = 0; x < 4; x++) {
          mirror[y * 4 + x] = plain[y * 4 + 3 - x];
        }
      }
      assertTrue(same || java.util.Arrays.equals(got, mirror), "either the image or its mirror");
      flips += same ? 0 : 1;
    }
    assertTrue(flips > 150 && flips < 250, "about half mirrored: " + flips + " of 400");
    assertArrayEquals(d.get(1).x().toFloatArray(), d.randomCrop(0).get(1).x().toFloatArray(), "padding 0 keeps the image");
    var e = assertThrows(IllegalArgumentException.class, () -> d.randomCrop(-1));
    assertTrue(e.getMessage().contains("-1"), e.getMessage());
  }
}
