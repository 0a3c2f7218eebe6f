package dev.kiln.runtime.io;

import static dev.kiln.runtime.io.SafeTensorsFiles.assertRejected;
import static dev.kiln.runtime.io.SafeTensorsFiles.concat;
import static dev.kiln.runtime.io.SafeTensorsFiles.declaring;
import static dev.kiln.runtime.io.SafeTensorsFiles.entry;
import static dev.kiln.runtime.io.SafeTensorsFiles.f32;
import static dev.kiln.runtime.io.SafeTensorsFiles.file;
import static dev.kiln.runtime.io.SafeTensorsFiles.header;
import static dev.kiln.runtime.io.SafeTensorsFiles.le;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Every way a safetensors file can be broken: each is a {@link CheckpointFormatException} whose
 * message starts with the file's path and names the problem and the offset.
 */
class SafeTensorsBadInputTest {
  @TempDir Path dir;

  /** A valid two-float tensor "w", to break one piece at a time. */
  private static final String W = entry("w", "F32", "[2]", 0, 8);

  @Test
  void aDirectoryIsNamed() {
    var e = org.junit.jupiter.api.Assertions.assertThrows(IOException.class, () -> SafeTensors.read(dir));
    org.junit.jupiter.api.Assertions.assertEquals(dir + ": is a directory, not a safetensors file", e.getMessage());
  }

  @Test
  void shorterThanTheLengthField() throws IOException {
    assertRejected(dir, new byte[0], "truncated: the file has 0 bytes, fewer than the 8-byte header length at offset 0");
    assertRejected(dir, new byte[] {16, 0, 0, 0, 0}, "the file has 5 bytes");
  }

  @Test
  void headerShorterThanDeclared() throws IOException {
    byte[] json = "{\"w\":{\"dtype\":\"F32\"".getBytes(StandardCharsets.UTF_8);
    assertRejected(dir, declaring(64, json),
        "truncated or corrupt: the header length at offset 0 is 64 bytes but only " + json.length + " bytes follow it");
  }

  @Test
  void headerLengthLargerThanTheFileFailsBeforeAllocating() throws IOException {
    byte[] rest = "{}".getBytes(StandardCharsets.UTF_8);
    // each would throw OutOfMemoryError or NegativeArraySizeException if allocated
    assertRejected(dir, declaring(Long.MAX_VALUE, rest), "is " + Long.MAX_VALUE + " bytes but only 2 bytes follow");
    assertRejected(dir, declaring(-1, rest), "is 18446744073709551615 bytes but only 2 bytes follow");
    assertRejected(dir, declaring(99_999_999, rest), "is 99999999 bytes but only 2 bytes follow");
  }

  @Test
  void headerLengthOverTheCap() throws IOException {
    Path f = dir.resolve("huge.safetensors");
    long declared = SafeTensorsHeader.MAX_HEADER_BYTES + 8;
    try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
      raf.write(le(8).putLong(declared).array());
      raf.setLength(8 + declared); // sparse: the file is as long as it claims, on disk nearly empty
    }
    assertRejected(f, "the header length at offset 0 is 100000008 bytes, more than the limit of 100000000");
  }

  @ParameterizedTest(name = "[{index}] {0}")
  @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
      "[]                              | 8  | expected '{' at the start of the header, found '['",
      "`   `                           | 11 | expected '{' at the start of the header, found the end of the header",
      "{} x                            | 11 | unexpected 'x' after the header object",
      "{\"a\":{}                       | 15 | expected ',' or '}', found the end of the header",
      "{\"a\":1.5}                     | 13 | number with a fraction or exponent",
      "{\"a\":2e3}                     | 13 | number with a fraction or exponent",
      "{\"a\":true}                    | 13 | unexpected 't' (a safetensors header holds only objects, arrays, strings and integers)",
      "{\"a\":null}                    | 13 | unexpected 'n'",
      "{\"a\":01}                      | 13 | integer with a leading zero",
      "{\"a\":-}                       | 14 | expected a digit, found '}'",
      "{\"a\":99999999999999999999}    | 13 | integer out of range",
      "{\"a\":[1,]}                    | 16 | unexpected ']'",
      "{\"a\":[1 2]}                   | 16 | expected ',' or ']', found '2'",
      "{'a':1}                         | 9  | expected a string key, found '''",
      "{\"a\" 1}                       | 13 | expected ':', found '1'",
      "{\"a\":\"x\\q\"}                | 15 | invalid escape '\\' followed by 'q'",
      "{\"a\":\"x\\u12G4\"}            | 15 | a \\u escape needs four hex digits",
      "{\"a\":\"\\uD800\"}             | 14 | unpaired surrogate in a \\u escape",
      "{\"a\":\"\\uDC00\"}             | 14 | unpaired surrogate in a \\u escape",
      "{\"a\":\"\\uD800\\u0041\"}      | 14 | \\u escape of a high surrogate not followed by a low surrogate",
      "{\"a\":\"open                   | 13 | unterminated string",
      "{\"a\":\"ends in \\             | 22 | unterminated string (the header ends in an escape)",
  })
  void invalidJson(String json, int offset, String problem) throws IOException {
    assertRejected(dir, file(json), "invalid JSON header at offset " + offset + ": " + problem);
  }

  @Test
  void invalidJsonBytes() throws IOException {
    byte[] start = "{\"a\":\"".getBytes(StandardCharsets.UTF_8);
    byte[] end = "\"}".getBytes(StandardCharsets.UTF_8);
    assertRejected(dir, declaring(start.length + 3 + end.length, concat(start, new byte[] {'x', (byte) 0xC3, '('}, end)),
        "invalid JSON header at offset 15: invalid UTF-8 in a string");
    assertRejected(dir, declaring(start.length + 1 + end.length, concat(start, new byte[] {'\n'}, end)),
        "invalid JSON header at offset 14: control character 0x0A in a string (it must be escaped)");
    assertRejected(dir, file("{\"a\":" + "[".repeat(40) + "]".repeat(40) + "}"),
        "invalid JSON header at offset 44: nested deeper than 32 levels");
  }

  @Test
  void duplicateKeys() throws IOException {
    String json = "{" + W + "," + W + "}";
    int second = W.length() + 2;
    assertRejected(dir, file(json, f32(1, 2)), "invalid JSON header at offset " + (8 + second) + ": duplicate key \"w\"");
    assertRejected(dir, file("{" + W + ",\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", f32(1, 2)), "duplicate key \"k\"");
  }

  @Test
  void offsetsOutOfRange() throws IOException {
    long dataStart = 8 + header("w", "F32", "[2]", 0, 8).length();
    assertRejected(dir, file(header("w", "F32", "[2]", 0, 8), f32(1)),
        "tensor \"w\" has data_offsets [0, 8] past the end of the data section, which holds 4 bytes (file offsets "
            + dataStart + " to " + (dataStart + 4) + ")");
    assertRejected(dir, file(header("w", "F32", "[0]", 9, 9), f32(1, 2)), "tensor \"w\" has data_offsets [9, 9] past the end");
    assertRejected(dir, file(header("w", "F32", "[2]", 8, 0), f32(1, 2)), "data_offsets [8, 0] that end before they begin");
  }

  @Test
  void overlappingOffsets() throws IOException {
    String json = "{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[2]", 4, 12) + "}";
    assertRejected(dir, file(json, f32(1, 2, 3)), "tensor \"b\" at data_offsets [4, 12] overlaps tensor \"a\" at [0, 8]");
    String same = "{" + entry("a", "F32", "[1]", 0, 4) + "," + entry("b", "F32", "[1]", 0, 4) + "}";
    assertRejected(dir, file(same, f32(1)), "overlaps");
  }

  @Test
  void holesInTheData() throws IOException {
    String gap = "{" + entry("a", "F32", "[1]", 0, 4) + "," + entry("b", "F32", "[1]", 8, 12) + "}";
    long start = 8 + gap.length();
    assertRejected(dir, file(gap, f32(1, 2, 3)), "bytes [4, 8) of the data section (file offsets " + (start + 4)
        + " to " + (start + 8) + ") belong to no tensor", "before tensor \"b\"");
    assertRejected(dir, file(header("b", "F32", "[1]", 4, 8), f32(1, 2)), "bytes [0, 4) of the data section");
    assertRejected(dir, file(header("a", "F32", "[1]", 0, 4), f32(1, 2)), "bytes [4, 8) of the data section",
        "at the end of the file");
    assertRejected(dir, file("{}", f32(1)), "bytes [0, 4) of the data section");
  }

  @Test
  void shapeDisagreesWithTheByteLength() throws IOException {
    assertRejected(dir, file(header("w", "F32", "[3]", 0, 8), f32(1, 2)),
        "tensor \"w\" has shape [3]: 3 F32 elements = 12 bytes, but its data_offsets [0, 8] hold 8 bytes");
    assertRejected(dir, file(header("w", "I64", "[2, 2]", 0, 16), f32(1, 2, 3, 4)), "4 I64 elements = 32 bytes");
    assertRejected(dir, file(header("w", "F32", "[4294967296, 4294967296, 4294967296]", 0, 8), f32(1, 2)),
        "more bytes than a long can count");
  }

  @Test
  void unknownDtype() throws IOException {
    assertRejected(dir, file(header("w", "Q4", "[2]", 0, 8), f32(1, 2)),
        "tensor \"w\" has the unknown or unsupported dtype \"Q4\" (Kiln reads F32, F64, F16, BF16, I32, I64, I16, I8, U8, BOOL)");
    assertRejected(dir, file(header("w", "U32", "[2]", 0, 8), f32(1, 2)), "unsupported dtype \"U32\"");
    assertRejected(dir, file("{\"w\":{\"dtype\":32,\"shape\":[2],\"data_offsets\":[0,8]}}", f32(1, 2)),
        "unsupported dtype 32");
  }

  @Test
  void malformedEntries() throws IOException {
    byte[] data = f32(1, 2);
    assertRejected(dir, file("{\"w\":[1]}", data), "tensor \"w\" is not an object with dtype, shape and data_offsets");
    assertRejected(dir, file("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", data), "tensor \"w\" has no \"shape\" field");
    assertRejected(dir, file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", data), "has no \"data_offsets\" field");
    assertRejected(dir, file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}", data),
        "tensor \"w\" has an unexpected field \"x\"");
    assertRejected(dir, file(header("w", "F32", "[-2]", 0, 8), data),
        "tensor \"w\" has shape [-2]; expected an array of non-negative integers");
    assertRejected(dir, file(header("w", "F32", "\"2\"", 0, 8), data), "has shape \"2\"; expected an array");
    assertRejected(dir, file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4,8]}}", data),
        "has data_offsets [0, 4, 8]; expected 2 non-negative integers");
    assertRejected(dir, file("{" + W + ",\"__metadata__\":{\"format\":1}}", data),
        "\"__metadata__\" must be an object of strings");
    assertRejected(dir, file(header("w", "F32", "[2147483648, 0]", 0, 0)),
        "has shape [2147483648, 0] with a dimension larger than a Kiln tensor can have");
    // empty, but its other dimensions multiply past an int (was an IllegalArgumentException naming no file)
    assertRejected(dir, file(header("w", "F32", "[65536, 65536, 0]", 0, 0)),
        "has shape [65536, 65536, 0], whose dimensions multiply past what a Kiln tensor can hold (even an empty one)");
    // strings keep their quotes: ["1"] is not [1]
    assertRejected(dir, file(header("w", "F32", "[\"2\"]", 0, 8), data), "has shape [\"2\"]; expected an array");
    assertRejected(dir, file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[\"0\",\"8\"]}}", data),
        "has data_offsets [\"0\", \"8\"]; expected 2");
  }

  /** A named pipe would block the reader forever: refused before it is opened. */
  @Test
  void aPipeIsRefused() throws Exception {
    Path fifo = dir.resolve("model.safetensors");
    Process p;
    try {
      p = new ProcessBuilder("mkfifo", fifo.toString()).start();
    } catch (IOException e) {
      org.junit.jupiter.api.Assumptions.abort("no mkfifo here: " + e.getMessage());
      return;
    }
    org.junit.jupiter.api.Assumptions.assumeTrue(p.waitFor() == 0, "mkfifo failed");
    var e = org.junit.jupiter.api.Assertions.assertThrows(IOException.class, () -> SafeTensors.read(fifo));
    org.junit.jupiter.api.Assertions.assertEquals(fifo + ": is not a regular file (a pipe or a device?), not a safetensors file",
        e.getMessage());
  }
}
