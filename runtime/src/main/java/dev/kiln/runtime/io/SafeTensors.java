package dev.kiln.runtime.io;

import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.io.SafeTensorsHeader.Entry;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads and writes tensors in the <a href="https://github.com/huggingface/safetensors">safetensors</a>
 * format, which PyTorch and Hugging Face tools exchange: an 8-byte little-endian header length, a
 * JSON header mapping each name to {@code {"dtype", "shape", "data_offsets"}}, then the raw
 * little-endian data.
 *
 * <p>Kiln writes {@code F32} for float tensors and {@code I64} for {@link dev.kiln.runtime.DType#INT32}
 * ones (as PyTorch stores {@code num_batches_tracked}), so that PyTorch loads the file as it is. It
 * reads {@code F32} and the integer types ({@code I64}, {@code I32}, {@code I16}, {@code I8},
 * {@code U8}, {@code BOOL}, all as int32) exactly, and converts {@code F16}, {@code BF16} (exact)
 * and {@code F64} (rounded) to float32; integer values must lie within ±2^24, where Kiln's integer
 * tensors are exact.
 *
 * <p>Files are never trusted: a file that is truncated, has a header that is not the JSON the
 * format allows, or tensors whose types, shapes and offsets disagree or do not tile the data
 * section exactly is rejected with a {@link CheckpointFormatException} naming the file, the problem
 * and the offset, before anything of a size read from the file is allocated.
 */
public final class SafeTensors {
  /** Bytes read or written at a time; a multiple of every element size. */
  private static final int CHUNK_BYTES = 1 << 16;

  private SafeTensors() {}

  /**
   * Reads every tensor of a safetensors file, in the header's order. {@code __metadata__} is
   * checked but not returned.
   *
   * @throws CheckpointFormatException when the file is not a valid safetensors file or holds a
   *     type or value Kiln cannot represent
   * @throws IOException when the file cannot be read
   */
  public static Map<String, Tensor> read(Path file) throws IOException {
    if (Files.isDirectory(file)) {
      throw new IOException(file + ": is a directory, not a safetensors file");
    }
    if (Files.exists(file) && !Files.isRegularFile(file)) { // a pipe or a device would block or never end
      throw new IOException(file + ": is not a regular file (a pipe or a device?), not a safetensors file");
    }
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
      SafeTensorsHeader header = SafeTensorsHeader.read(file, channel);
      Map<String, Tensor> out = new LinkedHashMap<>();
      for (Entry e : header.entries()) {
        out.put(e.name(), readTensor(file, channel, header.dataStart(), e));
      }
      return out;
    }
  }

  private static Tensor readTensor(Path file, FileChannel channel, long dataStart, Entry e) throws IOException {
    StorageType type = e.type();
    float[] values = new float[e.numel()];
    ByteBuffer chunk = ByteBuffer.allocate((int) Math.min(CHUNK_BYTES, e.byteLength())).order(ByteOrder.LITTLE_ENDIAN);
    long position = dataStart + e.begin();
    for (int i = 0; i < values.length; ) {
      chunk.clear().limit((int) Math.min(chunk.capacity(), (long) (values.length - i) * type.size));
      readFully(file, channel, position, chunk);
      chunk.flip();
      for (; chunk.hasRemaining(); i++, position += type.size) {
        values[i] = type.isInteger() ? exactInteger(file, e, i, position, type.readInteger(chunk)) : type.readFloat(chunk);
      }
    }
    return Tensor.wrap(values, type.dtype, e.shape());
  }

  private static float exactInteger(Path file, Entry e, int index, long position, long value)
      throws CheckpointFormatException {
    if (Math.abs(value) > StorageType.MAX_EXACT_INTEGER || value == Long.MIN_VALUE) {
      throw new CheckpointFormatException(file, e.describe() + " (" + e.type() + ") holds " + value + " at element "
          + index + " (offset " + position + "), outside the range +-2^24 that Kiln's int32 tensors "
          + "(stored as float32) hold exactly");
    }
    return value;
  }

  /** Fills {@code dst} from {@code position}; a file that ends first is truncated. */
  static void readFully(Path file, FileChannel channel, long position, ByteBuffer dst) throws IOException {
    while (dst.hasRemaining()) {
      int n = channel.read(dst, position);
      if (n < 0) {
        throw new CheckpointFormatException(file, "truncated: the file ends at offset " + position + ", "
            + dst.remaining() + " bytes short of what its header declares");
      }
      position += n;
    }
  }

  /**
   * Writes {@code tensors} as a safetensors file, in the map's order, replacing {@code file}
   * atomically: a failure at any point leaves the previous file as it was and no temporary file.
   *
   * @throws IllegalArgumentException when a name is {@code __metadata__} or not valid Unicode, or
   *     a tensor is null
   * @throws IllegalStateException when the map changes while it is being written
   * @throws IOException when the file cannot be written
   */
  public static void write(Path file, Map<String, Tensor> tensors) throws IOException {
    List<Entry> layout = layout(file, tensors);
    byte[] header = SafeTensorsHeader.encode(layout);
    AtomicFile.write(file, channel -> {
      writeFully(channel, ByteBuffer.wrap(header));
      writeData(file, channel, layout, tensors);
    });
  }

  /** The entries for {@code tensors}, their data one after the other in the map's order. */
  private static List<Entry> layout(Path file, Map<String, Tensor> tensors) {
    List<Entry> layout = new ArrayList<>();
    long offset = 0;
    for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
      String name = e.getKey();
      Tensor t = e.getValue();
      if (name == null || name.equals(SafeTensorsHeader.METADATA_KEY)
          || !StandardCharsets.UTF_8.newEncoder().canEncode(name)) {
        throw new IllegalArgumentException(file + ": \"" + name + "\" cannot name a tensor in a safetensors file");
      }
      if (t == null) {
        throw new IllegalArgumentException(file + ": tensor \"" + name + "\" is null");
      }
      StorageType type = StorageType.forWriting(t.dtype());
      long end = offset + (long) t.numel() * type.size;
      layout.add(new Entry(name, type, t.shape(), offset, end));
      offset = end;
    }
    return layout;
  }

  /**
   * Writes the tensors' data, walking the map a second time; each entry must still be the one
   * {@code layout} planned, or the header would describe other data.
   */
  private static void writeData(Path file, FileChannel channel, List<Entry> layout, Map<String, Tensor> tensors)
      throws IOException {
    ByteBuffer buf = ByteBuffer.allocate(CHUNK_BYTES).order(ByteOrder.LITTLE_ENDIAN);
    Iterator<Entry> planned = layout.iterator();
    for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
      Tensor t = e.getValue();
      Entry entry = planned.hasNext() ? planned.next() : null;
      if (entry == null || !entry.name().equals(e.getKey()) || t == null || !Arrays.equals(entry.shape(), t.shape())
          || entry.type() != StorageType.forWriting(t.dtype())) {
        throw changedWhileWriting(file);
      }
      float[] data = t.readBuffer();
      for (int i = t.offset(), end = i + t.numel(); i < end; i++) {
        if (buf.remaining() < entry.type().size) {
          writeFully(channel, buf.flip());
          buf.clear();
        }
        entry.type().write(buf, data[i]);
      }
    }
    if (planned.hasNext()) {
      throw changedWhileWriting(file);
    }
    writeFully(channel, buf.flip());
  }

  private static IllegalStateException changedWhileWriting(Path file) {
    return new IllegalStateException(file + ": the map of tensors changed while it was being written");
  }

  private static void writeFully(FileChannel channel, ByteBuffer src) throws IOException {
    while (src.hasRemaining()) {
      channel.write(src);
    }
  }
}
