package dev.kiln.runtime.io;

import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.io.RestrictedUnpickler.Global;
import dev.kiln.runtime.io.RestrictedUnpickler.Problem;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Enumeration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;

/**
 * An open PyTorch zip file ({@code torch.save} since 1.6): {@code <name>/data.pkl}, the pickle,
 * and {@code <name>/data/<key>}, each storage's raw bytes, in the order {@code <name>/byteorder}
 * names (little-endian when absent). Storages are read when the pickle first names them, checked
 * against the size the pickle declares, converted to float32 values once, and shared by the
 * tensors that view them.
 */
final class TorchArchive implements RestrictedUnpickler.Storages, AutoCloseable {
  /** The largest pickle read; a state dict's pickle is a few bytes per tensor. */
  private static final long MAX_PICKLE_BYTES = Integer.MAX_VALUE - 8;
  private static final long MAX_ELEMENTS = Integer.MAX_VALUE - 8;
  private static final int CHUNK_BYTES = 1 << 16;

  /** A storage the pickle named: its element type, entry and element count. */
  private record StorageRef(String typeName, StorageType type, String key, long numel) {}

  private final Path file;
  private final ZipFile zip;
  private final String prefix;
  private final ByteOrder order;
  private final Map<String, float[]> loaded = new HashMap<>();

  private TorchArchive(Path file, ZipFile zip, String prefix, ByteOrder order) {
    this.file = file;
    this.zip = zip;
    this.prefix = prefix;
    this.order = order;
  }

  /** Opens {@code file} and finds its pickle; throws if it is not a PyTorch zip file. */
  static TorchArchive open(Path file) throws IOException {
    ZipFile zip;
    try {
      zip = new ZipFile(file.toFile());
    } catch (ZipException e) {
      throw new CheckpointFormatException(file, "truncated or corrupt: not a readable zip archive (" + e.getMessage()
          + "); torch.save writes a zip file whose end record lists its entries", e);
    }
    try {
      String prefix = null;
      boolean torchScript = false;
      for (Enumeration<? extends ZipEntry> it = zip.entries(); it.hasMoreElements(); ) {
        String name = it.nextElement().getName();
        int slash = name.indexOf('/');
        if (slash > 0 && name.substring(slash + 1).equals("data.pkl")) {
          if (prefix != null) {
            throw new CheckpointFormatException(file, "two pickles, " + prefix + "data.pkl and " + name);
          }
          prefix = name.substring(0, slash + 1);
        }
        torchScript |= name.endsWith("/constants.pkl") || name.contains("/code/");
      }
      if (prefix == null) {
        throw new CheckpointFormatException(file, torchScript
            ? "a TorchScript archive (torch.jit.save), not a state dict: save model.state_dict() with torch.save"
            : "a zip file without the <name>/data.pkl entry that torch.save writes (not a PyTorch file?)");
      }
      ByteOrder order = ByteOrder.LITTLE_ENDIAN;
      ZipEntry byteOrder = zip.getEntry(prefix + "byteorder");
      if (byteOrder != null) {
        String text = new String(readEntry(file, zip, byteOrder, 16), StandardCharsets.US_ASCII).trim();
        if (text.equals("big")) {
          order = ByteOrder.BIG_ENDIAN;
        } else if (!text.equals("little")) {
          throw new CheckpointFormatException(file, prefix + "byteorder holds \"" + text + "\", not little or big");
        }
      }
      return new TorchArchive(file, zip, prefix, order);
    } catch (IOException | RuntimeException e) {
      zip.close();
      throw e;
    }
  }

  /** The object the pickle holds, its tensors read. */
  Object load() throws IOException {
    ZipEntry entry = zip.getEntry(prefix + "data.pkl");
    byte[] pickle = readEntry(file, zip, entry, MAX_PICKLE_BYTES);
    try {
      return RestrictedUnpickler.load(pickle, this);
    } catch (Problem e) {
      throw new CheckpointFormatException(file, prefix + e.getMessage());
    } catch (IoFailure e) {
      throw e.getCause();
    }
  }

  @Override
  public void close() throws IOException {
    zip.close();
  }

  // ---------------------------------------------------------------- RestrictedUnpickler.Storages

  @Override
  public Object storage(List<Object> id) throws Problem {
    // ('storage', torch.FloatStorage, '0', 'cpu', 6)
    if (!(id.get(1) instanceof Global g) || !g.module().equals("torch")
        || !RestrictedUnpickler.STORAGE_TYPES.contains(g.name())) {
      throw new Problem("persistent id names the storage type " + RestrictedUnpickler.describe(id.get(1))
          + "; Kiln reads " + String.join(", ", RestrictedUnpickler.STORAGE_TYPES.stream().sorted().toList()));
    }
    if (!(id.get(2) instanceof String key) || key.isEmpty() || key.contains("/") || key.contains("..")) {
      throw new Problem("persistent id with the storage key " + RestrictedUnpickler.describe(id.get(2)));
    }
    if (!(id.get(4) instanceof Long numel) || numel < 0) {
      throw new Problem("storage " + key + " has the element count " + RestrictedUnpickler.describe(id.get(4)));
    }
    return new StorageRef(g.name(), storageType(g.name()), key, numel);
  }

  private static StorageType storageType(String torchName) {
    return switch (torchName) {
      case "FloatStorage" -> StorageType.F32;
      case "DoubleStorage" -> StorageType.F64;
      case "HalfStorage" -> StorageType.F16;
      case "BFloat16Storage" -> StorageType.BF16;
      case "LongStorage" -> StorageType.I64;
      case "IntStorage" -> StorageType.I32;
      case "ShortStorage" -> StorageType.I16;
      case "CharStorage" -> StorageType.I8;
      case "ByteStorage" -> StorageType.U8;
      case "BoolStorage" -> StorageType.BOOL;
      default -> throw new IllegalArgumentException(torchName);
    };
  }

  @Override
  public Tensor tensor(Object storageObject, long offset, long[] size, long[] stride) throws Problem {
    if (!(storageObject instanceof StorageRef storage)) {
      throw new Problem("_rebuild_tensor_v2 of " + RestrictedUnpickler.describe(storageObject) + ", not a storage");
    }
    int[] shape = new int[size.length];
    long numel = 1;
    long last = offset; // the storage index of the last element
    for (int d = 0; d < size.length; d++) {
      if (size[d] > MAX_ELEMENTS) {
        throw new Problem("a tensor of size " + RestrictedUnpickler.text(size) + ", larger than a Kiln tensor can be");
      }
      shape[d] = (int) size[d];
      numel *= Math.max(size[d], 1);
      if (numel > MAX_ELEMENTS) {
        throw new Problem("a tensor of size " + RestrictedUnpickler.text(size) + ", larger than a Kiln tensor can be");
      }
      if (size[d] > 0 && stride[d] > MAX_ELEMENTS) {
        throw new Problem("a tensor with stride " + RestrictedUnpickler.text(stride) + " past any storage Kiln reads");
      }
      last += (size[d] - 1) * stride[d];
    }
    boolean empty = java.util.Arrays.stream(size).anyMatch(s -> s == 0);
    if (!empty && last >= storage.numel()) {
      throw new Problem("a tensor of size " + RestrictedUnpickler.text(size) + ", stride "
          + RestrictedUnpickler.text(stride) + " and offset " + offset + " reaches element " + last + " of storage "
          + storage.key() + ", which holds " + storage.numel());
    }
    if (empty) {
      return Tensor.wrap(new float[0], storage.type().dtype, shape);
    }
    float[] values = values(storage);
    float[] out = new float[(int) numel];
    int[] index = new int[shape.length];
    long at = offset;
    for (int i = 0; i < out.length; i++) {
      out[i] = values[(int) at];
      for (int d = shape.length - 1; d >= 0; d--) { // odometer over the indices, last dimension fastest
        if (++index[d] < shape[d]) {
          at += stride[d];
          break;
        }
        index[d] = 0;
        at -= (shape[d] - 1) * stride[d];
      }
    }
    return Tensor.wrap(out, storage.type().dtype, shape);
  }

  /** A storage's elements as float32, read once. */
  private float[] values(StorageRef storage) throws Problem {
    float[] values = loaded.get(storage.key());
    if (values != null) {
      if (values.length != storage.numel()) {
        throw new Problem("storage " + storage.key() + " is named with " + storage.numel() + " elements and with "
            + values.length);
      }
      return values;
    }
    if (storage.numel() > MAX_ELEMENTS) {
      throw new Problem("storage " + storage.key() + " has " + storage.numel() + " elements, more than Kiln reads");
    }
    String name = prefix + "data/" + storage.key();
    ZipEntry entry = zip.getEntry(name);
    if (entry == null) {
      throw new Problem("storage " + storage.key() + " has no entry " + name + " in the archive (truncated?)");
    }
    StorageType type = storage.type();
    long bytes = storage.numel() * type.size;
    if (entry.getSize() != bytes) {
      throw new Problem("entry " + name + " holds " + entry.getSize() + " bytes, but the pickle declares "
          + storage.numel() + " elements of torch." + storage.typeName() + " (" + bytes + " bytes)");
    }
    values = new float[(int) storage.numel()];
    try (InputStream stream = zip.getInputStream(entry)) {
      byte[] chunk = new byte[(int) Math.min(CHUNK_BYTES, Math.max(bytes, 1))];
      int i = 0;
      while (i < values.length) {
        int want = (int) Math.min(chunk.length, (long) (values.length - i) * type.size);
        int got = stream.readNBytes(chunk, 0, want);
        if (got < want) {
          throw new Problem("entry " + name + " ends after " + ((long) i * type.size + got) + " of its " + bytes
              + " bytes (truncated)");
        }
        ByteBuffer buf = ByteBuffer.wrap(chunk, 0, got).order(order);
        for (; buf.hasRemaining(); i++) {
          if (type.isInteger()) {
            long v = type.readInteger(buf);
            if (Math.abs(v) > StorageType.MAX_EXACT_INTEGER || v == Long.MIN_VALUE) {
              throw new Problem("storage " + storage.key() + " (torch." + storage.typeName() + ") holds " + v
                  + " at element " + i + ", outside the range +-2^24 that Kiln's int32 tensors (stored as float32) "
                  + "hold exactly");
            }
            values[i] = v;
          } else {
            values[i] = type.readFloat(buf);
          }
        }
      }
    } catch (IOException e) {
      throw new IoFailure(new CheckpointFormatException(file, "cannot read " + name + ": " + e.getMessage(), e));
    }
    loaded.put(storage.key(), values);
    return values;
  }

  /** Carries an I/O failure out of the unpickler, whose problems are not I/O. */
  private static final class IoFailure extends RuntimeException {
    private static final long serialVersionUID = 1L;

    IoFailure(IOException cause) {
      super(cause);
    }

    @Override
    public synchronized IOException getCause() {
      return (IOException) super.getCause();
    }
  }

  /** An entry's bytes, at most {@code limit}. */
  private static byte[] readEntry(Path file, ZipFile zip, ZipEntry entry, long limit) throws IOException {
    if (entry.getSize() > limit) {
      throw new CheckpointFormatException(file, entry.getName() + " has " + entry.getSize() + " bytes, more than "
          + limit);
    }
    try (InputStream in = zip.getInputStream(entry)) {
      byte[] bytes = in.readNBytes((int) Math.max(entry.getSize(), 0));
      if (bytes.length < entry.getSize()) {
        throw new CheckpointFormatException(file, entry.getName() + " ends after " + bytes.length + " of its "
            + entry.getSize() + " bytes (truncated)");
      }
      return bytes;
    } catch (ZipException e) {
      throw new CheckpointFormatException(file, "cannot read " + entry.getName() + ": " + e.getMessage(), e);
    }
  }
}
