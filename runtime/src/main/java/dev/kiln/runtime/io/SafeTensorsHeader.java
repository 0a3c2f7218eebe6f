package dev.kiln.runtime.io;

import dev.kiln.runtime.Shapes;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The header of a safetensors file: where each tensor's bytes lie in the data section that
 * follows it. {@link #read} trusts nothing it finds: every length is checked against the file's
 * size before anything of that length is allocated, and the tensors must tile the data section
 * exactly, as the format requires. {@link #encode} writes the header Kiln produces.
 */
final class SafeTensorsHeader {
  /** The 8-byte little-endian header length that starts every file. */
  static final int LENGTH_BYTES = 8;
  /** The largest header read, as the reference implementation's limit. */
  static final long MAX_HEADER_BYTES = 100_000_000;
  /** The reserved key of the string-to-string metadata map. */
  static final String METADATA_KEY = "__metadata__";

  private static final Set<String> FIELDS = Set.of("dtype", "shape", "data_offsets");
  /** The largest element count a Kiln tensor (a Java array) can have. */
  private static final long MAX_ELEMENTS = Integer.MAX_VALUE - 8;

  /** One tensor: its type, shape and byte range {@code [begin, end)} in the data section. */
  record Entry(String name, StorageType type, int[] shape, long begin, long end) {
    int numel() {
      return Shapes.numel(shape);
    }

    long byteLength() {
      return end - begin;
    }

    String describe() {
      return "tensor \"" + name + "\"";
    }
  }

  /** The entries in the header's order, and the file offset of the data section. */
  private final List<Entry> entries;
  private final long dataStart;

  private SafeTensorsHeader(List<Entry> entries, long dataStart) {
    this.entries = entries;
    this.dataStart = dataStart;
  }

  List<Entry> entries() {
    return entries;
  }

  long dataStart() {
    return dataStart;
  }

  // ---------------------------------------------------------------- reading

  /** Reads and checks the header of {@code file}, open as {@code channel}. */
  static SafeTensorsHeader read(Path file, FileChannel channel) throws IOException {
    long size = channel.size();
    if (size < LENGTH_BYTES) {
      throw new CheckpointFormatException(file, "truncated: the file has " + size
          + " bytes, fewer than the 8-byte header length at offset 0 (not a safetensors file?)");
    }
    ByteBuffer lengthField = ByteBuffer.allocate(LENGTH_BYTES).order(ByteOrder.LITTLE_ENDIAN);
    SafeTensors.readFully(file, channel, 0, lengthField);
    long length = lengthField.flip().getLong();
    long available = size - LENGTH_BYTES;
    if (Long.compareUnsigned(length, available) > 0) {
      throw new CheckpointFormatException(file, "truncated or corrupt: the header length at offset 0 is "
          + Long.toUnsignedString(length) + " bytes but only " + available + " bytes follow it");
    }
    if (length > MAX_HEADER_BYTES) {
      throw new CheckpointFormatException(file, "the header length at offset 0 is " + length
          + " bytes, more than the limit of " + MAX_HEADER_BYTES + " (corrupt, or not a safetensors file)");
    }
    ByteBuffer json = ByteBuffer.allocate((int) length);
    SafeTensors.readFully(file, channel, LENGTH_BYTES, json);
    Map<String, Object> root;
    try {
      root = HeaderJson.parseObject(json.array());
    } catch (HeaderJson.SyntaxException e) {
      throw new CheckpointFormatException(file, "invalid JSON header at offset " + (LENGTH_BYTES + e.offset)
          + ": " + e.getMessage());
    }
    long dataStart = LENGTH_BYTES + length;
    Checker checker = new Checker(file, dataStart, size - dataStart);
    List<Entry> entries = new ArrayList<>();
    for (Map.Entry<String, Object> e : root.entrySet()) {
      if (e.getKey().equals(METADATA_KEY)) {
        checker.metadata(e.getValue());
      } else {
        entries.add(checker.entry(e.getKey(), e.getValue()));
      }
    }
    checker.coverage(entries);
    return new SafeTensorsHeader(List.copyOf(entries), dataStart);
  }

  /** Checks the parsed header against the format and the data section; messages name the file. */
  private static final class Checker {
    private final Path file;
    private final long dataStart;
    private final long dataLength;

    Checker(Path file, long dataStart, long dataLength) {
      this.file = file;
      this.dataStart = dataStart;
      this.dataLength = dataLength;
    }

    void metadata(Object value) throws CheckpointFormatException {
      if (!(value instanceof Map<?, ?> map) || !map.values().stream().allMatch(v -> v instanceof String)) {
        throw fail("\"" + METADATA_KEY + "\" must be an object of strings");
      }
    }

    Entry entry(String name, Object value) throws CheckpointFormatException {
      String what = "tensor \"" + name + "\"";
      if (!(value instanceof Map<?, ?> info)) {
        throw fail(what + " is not an object with dtype, shape and data_offsets");
      }
      for (Object key : info.keySet()) {
        if (!FIELDS.contains(key)) {
          throw fail(what + " has an unexpected field \"" + key + "\" (expected dtype, shape and data_offsets)");
        }
      }
      Object dtypeName = field(info, "dtype", what);
      StorageType type = dtypeName instanceof String s ? StorageType.forName(s) : null;
      if (type == null) {
        throw fail(what + " has the unknown or unsupported dtype " + json(dtypeName)
            + " (Kiln reads " + StorageType.supportedNames() + ")");
      }
      long[] shape = integers(info, "shape", what, -1);
      long[] offsets = integers(info, "data_offsets", what, 2);
      long begin = offsets[0];
      long end = offsets[1];
      if (begin > end) {
        throw fail(what + " has data_offsets [" + begin + ", " + end + "] that end before they begin");
      }
      if (end > dataLength) {
        throw fail(what + " has data_offsets [" + begin + ", " + end + "] past the end of the data section, which holds "
            + dataLength + " bytes (file offsets " + dataStart + " to " + (dataStart + dataLength) + ")");
      }
      long bytes = byteCount(what, shape, type);
      if (bytes != end - begin) {
        throw fail(what + " has shape " + shapeText(shape) + ": " + bytes / type.size + " " + type + " elements = "
            + bytes + " bytes, but its data_offsets [" + begin + ", " + end + "] hold " + (end - begin) + " bytes");
      }
      if (bytes / type.size > MAX_ELEMENTS) {
        throw fail(what + " has " + bytes / type.size + " elements, more than a Kiln tensor can hold");
      }
      return new Entry(name, type, toInts(what, shape), begin, end);
    }

    /** Requires the tensors, sorted by offset, to cover the data section without holes or overlaps. */
    void coverage(List<Entry> entries) throws CheckpointFormatException {
      List<Entry> sorted = new ArrayList<>(entries);
      sorted.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
      long covered = 0;
      Entry previous = null;
      for (Entry e : sorted) {
        if (e.begin() < covered) {
          throw fail(e.describe() + " at data_offsets [" + e.begin() + ", " + e.end() + "] overlaps "
              + previous.describe() + " at [" + previous.begin() + ", " + previous.end() + "]");
        }
        if (e.begin() > covered) {
          throw fail(hole(covered, e.begin()) + " before " + e.describe());
        }
        covered = e.end();
        previous = e;
      }
      if (covered < dataLength) {
        throw fail(hole(covered, dataLength) + " at the end of the file");
      }
    }

    private String hole(long from, long to) {
      return "bytes [" + from + ", " + to + ") of the data section (file offsets " + (dataStart + from) + " to "
          + (dataStart + to) + ") belong to no tensor; the format requires the tensors to cover the data without holes";
    }

    private long byteCount(String what, long[] shape, StorageType type) throws CheckpointFormatException {
      try {
        long n = type.size;
        for (long d : shape) {
          n = Math.multiplyExact(n, d);
        }
        return n;
      } catch (ArithmeticException e) {
        throw fail(what + " has shape " + shapeText(shape) + ", more bytes than a long can count");
      }
    }

    /** A field that must be an array of non-negative integers, of {@code length} unless it is -1. */
    private long[] integers(Map<?, ?> info, String name, String what, int length) throws CheckpointFormatException {
      Object value = field(info, name, what);
      if (!(value instanceof List<?> list) || (length >= 0 && list.size() != length)
          || !list.stream().allMatch(v -> v instanceof Long n && n >= 0)) {
        throw fail(what + " has " + name + " " + json(value) + "; expected "
            + (length >= 0 ? length + " " : "an array of ") + "non-negative integers");
      }
      return list.stream().mapToLong(v -> (Long) v).toArray();
    }

    private Object field(Map<?, ?> info, String name, String what) throws CheckpointFormatException {
      Object value = info.get(name);
      if (value == null) {
        throw fail(what + " has no \"" + name + "\" field");
      }
      return value;
    }

    private int[] toInts(String what, long[] shape) throws CheckpointFormatException {
      int[] out = new int[shape.length];
      long nonZero = 1;
      for (int i = 0; i < shape.length; i++) {
        if (shape[i] > Integer.MAX_VALUE) {
          throw fail(what + " has shape " + shapeText(shape) + " with a dimension larger than a Kiln tensor can have");
        }
        out[i] = (int) shape[i];
        nonZero *= Math.max(1, shape[i]); // at most (2^31)^i so far: checked before it can overflow
        if (nonZero > MAX_ELEMENTS) { // an empty tensor too: Kiln's shapes keep their products within an int
          throw fail(what + " has shape " + shapeText(shape) + ", whose dimensions multiply past what a Kiln tensor can"
              + " hold (even an empty one)");
        }
      }
      return out;
    }

    private CheckpointFormatException fail(String problem) {
      return new CheckpointFormatException(file, problem);
    }
  }

  // ---------------------------------------------------------------- writing

  /**
   * The header for {@code entries}, with the length field: compact JSON in the entries' order,
   * then {@code "__metadata__": {"format": "pt"}} (what Hugging Face tools check for PyTorch
   * weights), padded with spaces so that the data starts at a multiple of 8.
   */
  static byte[] encode(List<Entry> entries) {
    StringBuilder json = new StringBuilder("{");
    for (Entry e : entries) {
      quote(json, e.name()).append(":{\"dtype\":\"").append(e.type()).append("\",\"shape\":[");
      for (int i = 0; i < e.shape().length; i++) {
        json.append(i == 0 ? "" : ",").append(e.shape()[i]);
      }
      json.append("],\"data_offsets\":[").append(e.begin()).append(',').append(e.end()).append("]},");
    }
    json.append('"').append(METADATA_KEY).append("\":{\"format\":\"pt\"}}");
    byte[] text = json.toString().getBytes(StandardCharsets.UTF_8);
    int padded = (text.length + 7) / 8 * 8;
    ByteBuffer out = ByteBuffer.allocate(LENGTH_BYTES + padded).order(ByteOrder.LITTLE_ENDIAN);
    out.putLong(padded).put(text);
    while (out.hasRemaining()) {
      out.put((byte) ' ');
    }
    return out.array();
  }

  /** Appends {@code s} as a JSON string. */
  private static StringBuilder quote(StringBuilder sb, String s) {
    sb.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '"' || c == '\\') {
        sb.append('\\').append(c);
      } else if (c < 0x20) {
        sb.append(String.format("\\u%04x", (int) c));
      } else {
        sb.append(c);
      }
    }
    return sb.append('"');
  }

  // ---------------------------------------------------------------- text

  private static String shapeText(long[] shape) {
    StringBuilder sb = new StringBuilder("[");
    for (int i = 0; i < shape.length; i++) {
      sb.append(i == 0 ? "" : ", ").append(shape[i]);
    }
    return sb.append(']').toString();
  }

  /** A parsed JSON value as short text for a message. */
  private static String json(Object value) {
    String text = jsonText(value);
    return text.length() > 60 ? text.substring(0, 60) + "..." : text;
  }

  /** JSON text of a parsed value: strings quoted (so {@code ["1"]} does not read as {@code [1]}), long ones cut. */
  private static String jsonText(Object value) {
    if (value instanceof String s) {
      return quote(new StringBuilder(), s.length() > 40 ? s.substring(0, 40) + "..." : s).toString();
    }
    if (value instanceof List<?> list) {
      StringBuilder sb = new StringBuilder("[");
      for (int i = 0; i < list.size() && sb.length() < 64; i++) {
        sb.append(i == 0 ? "" : ", ").append(jsonText(list.get(i)));
      }
      return sb.append(']').toString();
    }
    if (value instanceof Map<?, ?> map) {
      StringBuilder sb = new StringBuilder("{");
      for (Map.Entry<?, ?> e : map.entrySet()) {
        if (sb.length() >= 64) {
          break;
        }
        sb.append(sb.length() == 1 ? "" : ", ").append(jsonText(e.getKey())).append(": ").append(jsonText(e.getValue()));
      }
      return sb.append('}').toString();
    }
    return String.valueOf(value);
  }
}
