package dev.kiln.runtime.data;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPOutputStream;

/** Builds IDX files for tests. */
final class IdxFiles {
  private IdxFiles() {}

  /** An IDX file of unsigned bytes: the header for {@code dims}, then {@code data} as given. */
  static byte[] idx(int[] dims, byte[] data) {
    return idx(Idx.UNSIGNED_BYTE, dims, data);
  }

  /** An IDX file with any type code, dimensions (as unsigned 32-bit values) and payload. */
  static byte[] idx(int type, int[] dims, byte[] data) {
    ByteBuffer b = ByteBuffer.allocate(4 + 4 * dims.length + data.length);
    b.put((byte) 0).put((byte) 0).put((byte) type).put((byte) dims.length);
    for (int d : dims) {
      b.putInt(d);
    }
    return b.put(data).array();
  }

  /** {@code n} bytes counting up from 0, wrapping at 256. */
  static byte[] ramp(int n) {
    byte[] data = new byte[n];
    for (int i = 0; i < n; i++) {
      data[i] = (byte) i;
    }
    return data;
  }

  static byte[] gzip(byte[] bytes) {
    var out = new ByteArrayOutputStream();
    try (var gz = new GZIPOutputStream(out)) {
      gz.write(bytes);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  static Path write(Path dir, String name, byte[] bytes) throws IOException {
    Files.createDirectories(dir);
    return Files.write(dir.resolve(name), bytes);
  }

  /**
   * Writes an MNIST-layout split ({@code prefix} "train" or "t10k") of {@code labels.length} 28x28
   * images whose pixels are {@code (sample + pixel) mod 256}, gzip-compressed or not.
   */
  static void writeSplit(Path dir, String prefix, byte[] labels, boolean gzip) throws IOException {
    int n = labels.length;
    byte[] pixels = new byte[n * 28 * 28];
    for (int i = 0; i < pixels.length; i++) {
      pixels[i] = (byte) (i / (28 * 28) + i % (28 * 28));
    }
    byte[] images = idx(new int[] {n, 28, 28}, pixels);
    byte[] labelFile = idx(new int[] {n}, labels);
    String suffix = gzip ? ".gz" : "";
    write(dir, prefix + "-images-idx3-ubyte" + suffix, gzip ? gzip(images) : images);
    write(dir, prefix + "-labels-idx1-ubyte" + suffix, gzip ? gzip(labelFile) : labelFile);
  }
}
