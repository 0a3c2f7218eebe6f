package dev.kiln.runtime.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Builds safetensors files byte by byte for the tests, and checks how readers reject them. */
final class SafeTensorsFiles {
  private SafeTensorsFiles() {}

  /** A file: the header's length, the header (UTF-8), then the data. */
  static byte[] file(String header, byte[]... data) {
    byte[] json = header.getBytes(StandardCharsets.UTF_8);
    return concat(le(8).putLong(json.length).array(), json, concat(data));
  }

  /** A file whose length field says {@code declared}, followed by {@code rest}. */
  static byte[] declaring(long declared, byte[] rest) {
    return concat(le(8).putLong(declared).array(), rest);
  }

  /** A one-tensor header. */
  static String header(String name, String dtype, String shape, long begin, long end) {
    return "{" + entry(name, dtype, shape, begin, end) + "}";
  }

  /** One header member, {@code "name":{...}}. */
  static String entry(String name, String dtype, String shape, long begin, long end) {
    return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" + begin + ","
        + end + "]}";
  }

  static byte[] f32(float... values) {
    ByteBuffer b = le(4 * values.length);
    for (float v : values) {
      b.putFloat(v);
    }
    return b.array();
  }

  static byte[] i64(long... values) {
    ByteBuffer b = le(8 * values.length);
    for (long v : values) {
      b.putLong(v);
    }
    return b.array();
  }

  static byte[] i32(int... values) {
    ByteBuffer b = le(4 * values.length);
    for (int v : values) {
      b.putInt(v);
    }
    return b.array();
  }

  static byte[] f64(double... values) {
    ByteBuffer b = le(8 * values.length);
    for (double v : values) {
      b.putDouble(v);
    }
    return b.array();
  }

  /** 16-bit values (F16 or BF16 bit patterns). */
  static byte[] u16(int... bits) {
    ByteBuffer b = le(2 * bits.length);
    for (int v : bits) {
      b.putShort((short) v);
    }
    return b.array();
  }

  static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      out.writeBytes(p);
    }
    return out.toByteArray();
  }

  static ByteBuffer le(int size) {
    return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
  }

  /**
   * Asserts that reading {@code file} fails with a message that starts with the file's path and
   * contains each fragment.
   */
  static CheckpointFormatException assertRejected(Path file, String... fragments) {
    var e = assertThrows(CheckpointFormatException.class, () -> SafeTensors.read(file));
    assertTrue(e.getMessage().startsWith(file + ": "), e.getMessage());
    assertEquals(file, e.file());
    for (String fragment : fragments) {
      assertTrue(e.getMessage().contains(fragment), "expected '" + fragment + "' in: " + e.getMessage());
    }
    return e;
  }

  /** Writes {@code bytes} to {@code dir/name} and asserts that reading it fails (see above). */
  static CheckpointFormatException assertRejected(Path dir, byte[] bytes, String... fragments) throws IOException {
    return assertRejected(Files.write(dir.resolve("bad.safetensors"), bytes), fragments);
  }
}
