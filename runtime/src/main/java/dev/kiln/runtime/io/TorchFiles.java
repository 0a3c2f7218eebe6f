package dev.kiln.runtime.io;

import dev.kiln.runtime.Tensor;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Reads and writes PyTorch's own checkpoint files, what {@code torch.save(model.state_dict(),
 * "model.pt")} writes: the zip format of PyTorch 1.6 and later, a pickle ({@code data.pkl}) that
 * describes the tensors and one raw entry per storage. Tensors are converted as {@link
 * SafeTensors} converts them: floating-point types (float32, float64, float16, bfloat16) become
 * float32, integer and bool types {@link dev.kiln.runtime.DType#INT32} (values within ±2^24), and
 * views of shared or non-contiguous storage (a transposed weight) are copied out in their own
 * order.
 *
 * <p>The pickle is read by a restricted unpickler, as {@code torch.load(weights_only=True)}: it
 * knows only the opcodes {@code torch.save} writes and calls only {@code collections.OrderedDict},
 * {@code torch._utils._rebuild_tensor_v2}, {@code _rebuild_parameter}, {@code torch.Size} and the
 * storage types. A file that names any other global (a pickled class, {@code os.system}) is
 * refused with a {@link CheckpointFormatException} that names it; nothing in a file ever runs.
 * Truncated or corrupt files, and the legacy format of {@code torch.save} before 1.6, are refused
 * with a message naming the file and the problem.
 *
 * <p>{@link #write} writes a state dict that {@code torch.load} reads back as an {@code
 * OrderedDict} of tensors: float32 tensors as {@code torch.FloatStorage}, {@link
 * dev.kiln.runtime.DType#INT32} ones as {@code torch.LongStorage} (int64, as PyTorch keeps {@code
 * num_batches_tracked}).
 */
public final class TorchFiles {
  /** The start of a legacy (before 1.6) {@code torch.save} file: protocol 2, then the magic number 0x1950a86a20f9469cfc6c. */
  private static final byte[] LEGACY_MAGIC = {(byte) 0x80, 0x02, (byte) 0x8a, 0x0a, 0x6c, (byte) 0xfc, (byte) 0x9c,
      0x46, (byte) 0xf9, 0x20, 0x6a, (byte) 0xa8, 0x50, 0x19};
  private static final byte[] ZIP_MAGIC = {'P', 'K', 3, 4};

  private TorchFiles() {}

  /**
   * Whether {@code file} starts as a {@code torch.save} file does: a zip archive (the current
   * format), or a legacy pickle, which {@link #read} then refuses with advice. A missing or
   * unreadable file is not.
   */
  public static boolean isTorchFile(Path file) {
    byte[] head = head(file);
    return startsWith(head, ZIP_MAGIC) || startsWith(head, LEGACY_MAGIC);
  }

  /**
   * Reads the state dict of {@code file}, a dict of tensors by name (an {@code OrderedDict}, as
   * {@code model.state_dict()} returns), in the file's order.
   *
   * @throws CheckpointFormatException when the file is not a PyTorch zip file, is truncated or
   *     corrupt, names a global outside the allow-list, or holds something other than a dict of
   *     tensors: a checkpoint dict ({@code {"model": state_dict, "epoch": 3}}) is refused with its
   *     keys, for {@link #read(Path, String)}
   * @throws IOException when the file cannot be read
   */
  public static Map<String, Tensor> read(Path file) throws IOException {
    Object root = load(file);
    if (root instanceof Map<?, ?> map) {
      List<String> nested = map.entrySet().stream().filter(e -> asStateDict(e.getValue()) != null)
          .map(e -> String.valueOf(e.getKey())).toList();
      Map<String, Tensor> state = asStateDict(root);
      if (state != null) {
        return state;
      }
      if (!nested.isEmpty()) {
        throw new CheckpointFormatException(file, "holds a checkpoint dict with the keys " + keys(map)
            + ", not a state dict of tensors; the state dict is under " + quoted(nested) + ": read it with "
            + "TorchFiles.read(file, \"" + nested.get(0) + "\")");
      }
      String bad = map.entrySet().stream().filter(e -> !(e.getKey() instanceof String) || !(e.getValue() instanceof Tensor))
          .map(e -> RestrictedUnpickler.describe(e.getKey()) + " -> " + RestrictedUnpickler.describe(e.getValue()))
          .findFirst().orElse("");
      throw new CheckpointFormatException(file, "holds a dict that is not a state dict: it maps " + bad
          + ", not a name to a tensor");
    }
    throw new CheckpointFormatException(file, "holds " + RestrictedUnpickler.describe(root)
        + ", not a state dict (a dict of tensors by name)");
  }

  /**
   * Reads the state dict under {@code key} of a checkpoint dict such as {@code torch.save({"model":
   * model.state_dict(), "epoch": 3}, f)}.
   *
   * @throws CheckpointFormatException as {@link #read(Path)}, and when {@code key} is missing or
   *     does not hold a dict of tensors (the message lists the keys)
   */
  public static Map<String, Tensor> read(Path file, String key) throws IOException {
    Map<String, Object> checkpoint = readCheckpoint(file);
    if (!checkpoint.containsKey(key)) {
      throw new CheckpointFormatException(file, "has no key \"" + key + "\"; its keys are " + keys(checkpoint));
    }
    Map<String, Tensor> state = asStateDict(checkpoint.get(key));
    if (state == null) {
      throw new CheckpointFormatException(file, "\"" + key + "\" holds " + RestrictedUnpickler.describe(checkpoint.get(key))
          + ", not a state dict (a dict of tensors by name); the keys are " + keys(checkpoint));
    }
    return state;
  }

  /**
   * Reads a checkpoint dict whole, read-only, in the file's order: tensors as {@link Tensor}s,
   * nested dicts as {@link Map}s (keys as in Python: {@link String}, {@link Long}...), lists and
   * tuples as {@link List}s, {@code int} as {@link Long} ({@link java.math.BigInteger} past 64
   * bits), {@code float} as {@link Double}, {@code str} as {@link String}, {@code bool} as {@link
   * Boolean}, {@code None} as null.
   *
   * @throws CheckpointFormatException as {@link #read(Path)}, and when the file holds something
   *     other than a dict with string keys
   */
  public static Map<String, Object> readCheckpoint(Path file) throws IOException {
    Object root = load(file);
    if (!(root instanceof Map<?, ?> map) || !map.keySet().stream().allMatch(k -> k instanceof String)) {
      throw new CheckpointFormatException(file, "holds " + RestrictedUnpickler.describe(root)
          + ", not a dict with string keys");
    }
    @SuppressWarnings("unchecked")
    Map<String, Object> frozen = (Map<String, Object>) freeze(file, root, new IdentityHashMap<>(), 0);
    return frozen;
  }

  /**
   * Writes {@code tensors} as {@code torch.save(state_dict)} does, in the map's order, replacing
   * {@code file} atomically; {@code torch.load(file)} returns an {@code OrderedDict} of tensors.
   *
   * @throws IllegalArgumentException when a name or a tensor is null
   * @throws IOException when the file cannot be written, or would pass 4 GiB (no zip64 yet: use
   *     {@link SafeTensors})
   */
  public static void write(Path file, Map<String, Tensor> tensors) throws IOException {
    TorchFileWriter.write(file, tensors);
  }

  // ---------------------------------------------------------------- reading

  private static Object load(Path file) throws IOException {
    if (Files.isDirectory(file)) {
      throw new IOException(file + ": is a directory, not a PyTorch file");
    }
    if (Files.exists(file) && !Files.isRegularFile(file)) {
      throw new IOException(file + ": is not a regular file (a pipe or a device?), not a PyTorch file");
    }
    if (!Files.exists(file)) {
      throw new java.nio.file.NoSuchFileException(file.toString());
    }
    byte[] head = head(file);
    if (startsWith(head, LEGACY_MAGIC)) {
      throw new CheckpointFormatException(file, "the legacy format of torch.save before PyTorch 1.6 (or "
          + "_use_new_zipfile_serialization=False), which Kiln does not read: re-save it with a current PyTorch, "
          + "torch.save(torch.load(\"" + file.getFileName() + "\"), \"model.pt\")");
    }
    if (!startsWith(head, ZIP_MAGIC)) {
      String start = head.length == 0 ? "is empty"
          : head.length >= 2 && (head[0] & 0xFF) == 0x80 ? "is a plain pickle, not what torch.save writes"
          : "does not start with the zip signature PK\\3\\4";
      throw new CheckpointFormatException(file, "not a PyTorch file: it " + start
          + " (PyTorch 1.6 and later write zip archives; a .safetensors file is read by SafeTensors.read)");
    }
    try (TorchArchive archive = TorchArchive.open(file)) {
      return archive.load();
    }
  }

  /** The first bytes of {@code file}, empty when it cannot be read. */
  private static byte[] head(Path file) {
    if (!Files.isRegularFile(file)) {
      return new byte[0];
    }
    try (InputStream in = Files.newInputStream(file)) {
      return in.readNBytes(LEGACY_MAGIC.length);
    } catch (IOException e) {
      return new byte[0];
    }
  }

  private static boolean startsWith(byte[] bytes, byte[] prefix) {
    return bytes.length >= prefix.length && Arrays.equals(bytes, 0, prefix.length, prefix, 0, prefix.length);
  }

  /** {@code value} as a state dict, or null if it is not a dict of tensors by string name. */
  private static Map<String, Tensor> asStateDict(Object value) {
    if (!(value instanceof Map<?, ?> map)) {
      return null;
    }
    Map<String, Tensor> out = new LinkedHashMap<>();
    for (Map.Entry<?, ?> e : map.entrySet()) {
      if (!(e.getKey() instanceof String name) || !(e.getValue() instanceof Tensor t)) {
        return null;
      }
      out.put(name, t);
    }
    return out;
  }

  /** How deeply dicts and lists may nest in a checkpoint dict: far beyond any real one, well within the stack. */
  private static final int MAX_DEPTH = 500;

  /** A read-only copy of the pickle's dicts and lists, shared ones (and cycles) once. */
  private static Object freeze(Path file, Object value, Map<Object, Object> done, int depth)
      throws CheckpointFormatException {
    if (!(value instanceof Map<?, ?>) && !(value instanceof List<?>)) {
      return value;
    }
    Object seen = done.get(value);
    if (seen != null) {
      return seen;
    }
    if (depth > MAX_DEPTH) {
      throw new CheckpointFormatException(file, "dicts and lists nested more than " + MAX_DEPTH + " deep");
    }
    if (value instanceof Map<?, ?> map) {
      Map<Object, Object> copy = new LinkedHashMap<>();
      done.put(value, Collections.unmodifiableMap(copy));
      for (Map.Entry<?, ?> e : map.entrySet()) {
        copy.put(e.getKey(), freeze(file, e.getValue(), done, depth + 1));
      }
    } else {
      List<Object> copy = new ArrayList<>();
      done.put(value, Collections.unmodifiableList(copy));
      for (Object v : (List<?>) value) {
        copy.add(freeze(file, v, done, depth + 1));
      }
    }
    return done.get(value);
  }

  private static String keys(Map<?, ?> map) {
    return map.keySet().stream().map(RestrictedUnpickler::describe).collect(Collectors.joining(", ", "[", "]"));
  }

  private static String quoted(List<String> keys) {
    return keys.stream().map(k -> "\"" + k + "\"").collect(Collectors.joining(", "));
  }
}
