package dev.kiln.runtime.io;

import static dev.kiln.runtime.io.SafeTensorsFiles.assertRejected;
import static dev.kiln.runtime.io.SafeTensorsFiles.entry;
import static dev.kiln.runtime.io.SafeTensorsFiles.f32;
import static dev.kiln.runtime.io.SafeTensorsFiles.f64;
import static dev.kiln.runtime.io.SafeTensorsFiles.file;
import static dev.kiln.runtime.io.SafeTensorsFiles.header;
import static dev.kiln.runtime.io.SafeTensorsFiles.i32;
import static dev.kiln.runtime.io.SafeTensorsFiles.i64;
import static dev.kiln.runtime.io.SafeTensorsFiles.u16;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.DType;
import dev.kiln.runtime.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Round trips and the layout Kiln writes; bad files are in {@link SafeTensorsBadInputTest}. */
class SafeTensorsTest {
  @TempDir Path dir;

  private static Tensor ramp(int n, int... shape) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (i % 7 - 3) * 0.37f + i * 1e-3f;
    }
    return Tensor.of(v, shape);
  }

  private static Tensor ints(int... values) {
    return Tensor.labels(values);
  }

  private static void assertSameTensors(Map<String, Tensor> expected, Map<String, Tensor> actual) {
    assertEquals(List.copyOf(expected.keySet()), List.copyOf(actual.keySet()), "names in order");
    expected.forEach((name, t) -> {
      Tensor back = actual.get(name);
      assertArrayEquals(t.shape(), back.shape(), name);
      assertEquals(t.dtype(), back.dtype(), name);
      assertArrayEquals(t.toFloatArray(), back.toFloatArray(), name); // bit for bit: -0.0, NaN
    });
  }

  @Test
  void roundTripKeepsValuesTypesAndOrder() throws IOException {
    Map<String, Tensor> tensors = new LinkedHashMap<>();
    tensors.put("zeta.weight", ramp(24, 2, 3, 4));
    tensors.put("alpha.bias", Tensor.of(new float[] {-0f, Float.NaN, Float.POSITIVE_INFINITY, Float.MIN_VALUE, -1e30f}));
    tensors.put("scalar", Tensor.scalar(2.5f));
    tensors.put("empty", Tensor.zeros(0, 3));
    tensors.put("labels", ints(0, 9, 3, 1 << 24));
    tensors.put("bn.num_batches_tracked", Tensor.wrap(new float[] {12345}, DType.INT32));
    tensors.put("mid", ramp(6, 6));
    Path f = dir.resolve("model.safetensors");
    SafeTensors.write(f, tensors);
    assertSameTensors(tensors, SafeTensors.read(f));
  }

  @Test
  void largeTensorsRoundTripThroughTheChunks() throws IOException {
    Map<String, Tensor> tensors = new LinkedHashMap<>();
    tensors.put("big", ramp(100_003, 100_003));
    int[] labels = new int[40_001];
    Arrays.setAll(labels, i -> i * 419 % (1 << 24));
    tensors.put("labels", ints(labels));
    Path f = dir.resolve("big.safetensors");
    SafeTensors.write(f, tensors);
    assertSameTensors(tensors, SafeTensors.read(f));
  }

  @Test
  void emptyMapRoundTrips() throws IOException {
    Path f = dir.resolve("empty.safetensors");
    SafeTensors.write(f, Map.of());
    assertEquals(Map.of(), SafeTensors.read(f));
  }

  @Test
  void namesAreEscapedAndRoundTrip() throws IOException {
    Map<String, Tensor> tensors = new LinkedHashMap<>();
    String odd = "quote\" back\\slash\nnew\tline/\u0001 é 😀";
    tensors.put(odd, Tensor.scalar(1f));
    tensors.put("", Tensor.scalar(2f));
    Path f = dir.resolve("names.safetensors");
    SafeTensors.write(f, tensors);
    assertSameTensors(tensors, SafeTensors.read(f));
  }

  @Test
  void layoutIsCompactPaddedAndLittleEndian() throws IOException {
    Map<String, Tensor> tensors = new LinkedHashMap<>();
    tensors.put("w", Tensor.of(new float[] {1f, -2f}, 1, 2));
    tensors.put("n", Tensor.wrap(new float[] {7}, DType.INT32));
    Path f = dir.resolve("layout.safetensors");
    SafeTensors.write(f, tensors);
    byte[] bytes = Files.readAllBytes(f);
    ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    int length = (int) b.getLong();
    assertEquals(0, length % 8, "the data starts at a multiple of 8");
    String json = new String(bytes, 8, length, StandardCharsets.UTF_8);
    assertEquals("{\"w\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[0,8]},"
        + "\"n\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[8,16]},"
        + "\"__metadata__\":{\"format\":\"pt\"}}", json.stripTrailing());
    assertTrue(json.substring(json.stripTrailing().length()).chars().allMatch(c -> c == ' '), "padded with spaces");
    b.position(8 + length);
    assertEquals(1f, b.getFloat());
    assertEquals(-2f, b.getFloat());
    assertEquals(7L, b.getLong(), "INT32 tensors are written as I64, as PyTorch's num_batches_tracked");
    assertEquals(bytes.length, b.position());
  }

  @Test
  void readKeepsTheHeaderOrderNotTheDataOrder() throws IOException {
    String h = "{" + entry("second", "F32", "[1]", 4, 8) + "," + entry("first", "F32", "[1]", 0, 4)
        + ",\"__metadata__\":{}}";
    Map<String, Tensor> t = SafeTensors.read(Files.write(dir.resolve("o.safetensors"), file(h, f32(1f, 2f))));
    assertEquals(List.of("second", "first"), List.copyOf(t.keySet()));
    assertEquals(2f, t.get("second").item());
    assertEquals(1f, t.get("first").item());
  }

  @Test
  void readsIntegerTypesAsInt32WithinTwoToThe24() throws IOException {
    String h = "{" + entry("a", "I64", "[3]", 0, 24) + "," + entry("b", "I32", "[2, 1]", 24, 32) + "}";
    byte[] bytes = file(h, i64(-(1 << 24), 0, 1 << 24), i32(42, -7));
    Map<String, Tensor> t = SafeTensors.read(Files.write(dir.resolve("ints.safetensors"), bytes));
    assertEquals(DType.INT32, t.get("a").dtype());
    assertArrayEquals(new int[] {-(1 << 24), 0, 1 << 24}, t.get("a").toIntArray());
    assertEquals(DType.INT32, t.get("b").dtype());
    assertArrayEquals(new int[] {2, 1}, t.get("b").shape());
    assertArrayEquals(new int[] {42, -7}, t.get("b").toIntArray());
  }

  @Test
  void integersBeyondTwoToThe24AreRejected() throws IOException {
    for (long v : new long[] {(1 << 24) + 1, -(1 << 24) - 1, Long.MIN_VALUE, Long.MAX_VALUE}) {
      byte[] bytes = file(header("count", "I64", "[2]", 0, 16), i64(3, v));
      assertRejected(dir, bytes, "tensor \"count\" (I64) holds " + v + " at element 1", "offset ", "2^24");
    }
    assertRejected(dir, file(header("c", "I32", "[1]", 0, 4), i32(Integer.MAX_VALUE)), "(I32) holds 2147483647");
  }

  @Test
  void readsOtherFloatTypesAsFloat32() throws IOException {
    String h = "{" + entry("half", "F16", "[6]", 0, 12) + "," + entry("brain", "BF16", "[2]", 12, 16) + ","
        + entry("double", "F64", "[2]", 16, 32) + "}";
    // F16: 1, -2, 65504 (largest), 2^-24 (smallest subnormal), -0, +inf; BF16: 1, -3.5
    byte[] bytes = file(h, u16(0x3C00, 0xC000, 0x7BFF, 0x0001, 0x8000, 0x7C00), u16(0x3F80, 0xC060), f64(0.1, -1e300));
    Map<String, Tensor> t = SafeTensors.read(Files.write(dir.resolve("floats.safetensors"), bytes));
    assertArrayEquals(new float[] {1f, -2f, 65504f, 0x1p-24f, -0f, Float.POSITIVE_INFINITY}, t.get("half").toFloatArray());
    assertArrayEquals(new float[] {1f, -3.5f}, t.get("brain").toFloatArray());
    assertArrayEquals(new float[] {0.1f, Float.NEGATIVE_INFINITY}, t.get("double").toFloatArray());
    t.values().forEach(x -> assertEquals(DType.FLOAT32, x.dtype()));
    assertTrue(Float.isNaN(StorageType.halfToFloat((short) 0x7E00)));
    assertEquals(0x1.ff8p-15f, StorageType.halfToFloat((short) 0x03FF), "largest subnormal");
    assertEquals(0x1p-14f, StorageType.halfToFloat((short) 0x0400), "smallest normal");
  }

  @Test
  void zeroSizedTensorsMayShareAnOffset() throws IOException {
    String h = "{" + entry("a", "F32", "[0]", 0, 0) + "," + entry("b", "F32", "[1]", 0, 4) + ","
        + entry("c", "I64", "[2, 0]", 4, 4) + "}";
    Map<String, Tensor> t = SafeTensors.read(Files.write(dir.resolve("z.safetensors"), file(h, f32(3f))));
    assertEquals(0, t.get("a").numel());
    assertArrayEquals(new int[] {2, 0}, t.get("c").shape());
    assertEquals(3f, t.get("b").item());
  }

  @Test
  void writeRejectsNamesTheFormatCannotHoldAndNullTensors() {
    Path f = dir.resolve("x.safetensors");
    for (String name : new String[] {"__metadata__", "lone \uD800 surrogate"}) {
      var e = assertThrows(IllegalArgumentException.class, () -> SafeTensors.write(f, Map.of(name, Tensor.scalar(1f))));
      assertTrue(e.getMessage().startsWith(f + ": "), e.getMessage());
    }
    Map<String, Tensor> withNull = new LinkedHashMap<>();
    withNull.put("w", null);
    var e = assertThrows(IllegalArgumentException.class, () -> SafeTensors.write(f, withNull));
    assertTrue(e.getMessage().contains("tensor \"w\" is null"), e.getMessage());
    assertTrue(Files.notExists(f));
  }
}
