package dev.kiln.runtime.io;

import dev.kiln.runtime.DType;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * The safetensors element types Kiln reads, with the Kiln type each becomes. Floating-point types
 * become {@link DType#FLOAT32} (F64 rounded to the nearest float, F16 and BF16 exactly); integer
 * types become {@link DType#INT32}, whose float32 storage is exact only up to 2^24 in magnitude,
 * so the reader checks each value ({@link #BOOL} becomes 0 and 1). Kiln writes {@link #F32} and {@link #I64} (PyTorch's type for
 * integer buffers such as {@code num_batches_tracked}).
 */
enum StorageType {
  F32(4, DType.FLOAT32) {
    @Override
    float readFloat(ByteBuffer b) {
      return b.getFloat();
    }

    @Override
    void write(ByteBuffer b, float value) {
      b.putFloat(value);
    }
  },
  F64(8, DType.FLOAT32) {
    @Override
    float readFloat(ByteBuffer b) {
      return (float) b.getDouble();
    }
  },
  F16(2, DType.FLOAT32) {
    @Override
    float readFloat(ByteBuffer b) {
      return halfToFloat(b.getShort());
    }
  },
  BF16(2, DType.FLOAT32) {
    @Override
    float readFloat(ByteBuffer b) {
      return Float.intBitsToFloat((b.getShort() & 0xFFFF) << 16);
    }
  },
  I32(4, DType.INT32) {
    @Override
    long readInteger(ByteBuffer b) {
      return b.getInt();
    }
  },
  I64(8, DType.INT32) {
    @Override
    long readInteger(ByteBuffer b) {
      return b.getLong();
    }

    @Override
    void write(ByteBuffer b, float value) {
      b.putLong(Math.round((double) value));
    }
  },
  I16(2, DType.INT32) {
    @Override
    long readInteger(ByteBuffer b) {
      return b.getShort();
    }
  },
  I8(1, DType.INT32) {
    @Override
    long readInteger(ByteBuffer b) {
      return b.get();
    }
  },
  U8(1, DType.INT32) {
    @Override
    long readInteger(ByteBuffer b) {
      return b.get() & 0xFF;
    }
  },
  /** A byte that is 0 (false) or 1 (true); other bytes are read as they are and fail no check. */
  BOOL(1, DType.INT32) {
    @Override
    long readInteger(ByteBuffer b) {
      return b.get() & 0xFF;
    }
  };

  /** The largest magnitude an {@link DType#INT32} tensor holds exactly. */
  static final long MAX_EXACT_INTEGER = DType.MAX_EXACT_INT;

  /** Bytes per element. */
  final int size;
  /** The type of the Kiln tensor read from this one. */
  final DType dtype;

  StorageType(int size, DType dtype) {
    this.size = size;
    this.dtype = dtype;
  }

  /** The type under its safetensors name ({@code "F32"}), or {@code null} if Kiln does not read it. */
  static StorageType forName(String name) {
    return Arrays.stream(values()).filter(t -> t.name().equals(name)).findFirst().orElse(null);
  }

  /** The type Kiln writes for tensors of {@code dtype}. */
  static StorageType forWriting(DType dtype) {
    return dtype == DType.INT32 ? I64 : F32;
  }

  /** The names of every type Kiln reads, for messages. */
  static String supportedNames() {
    return Arrays.stream(values()).map(Enum::name).collect(Collectors.joining(", "));
  }

  boolean isInteger() {
    return dtype == DType.INT32;
  }

  /** Reads one element of a floating-point type as a float. */
  float readFloat(ByteBuffer b) {
    throw new UnsupportedOperationException(this + " is an integer type");
  }

  /** Reads one element of an integer type. */
  long readInteger(ByteBuffer b) {
    throw new UnsupportedOperationException(this + " is a floating-point type");
  }

  /** Writes one element; only for the types {@link #forWriting} returns. */
  void write(ByteBuffer b, float value) {
    throw new UnsupportedOperationException("Kiln does not write " + this);
  }

  /** IEEE 754 half precision to float, exactly (Java 17 has no {@code Float.float16ToFloat}). */
  static float halfToFloat(short half) {
    int bits = half & 0xFFFF;
    int sign = (bits & 0x8000) << 16;
    int exponent = (bits >>> 10) & 0x1F;
    int mantissa = bits & 0x3FF;
    if (exponent == 0x1F) { // infinity or NaN
      return Float.intBitsToFloat(sign | 0x7F800000 | (mantissa << 13));
    }
    if (exponent == 0) { // zero or subnormal: mantissa * 2^-24
      float magnitude = mantissa * 0x1p-24f;
      return sign == 0 ? magnitude : -magnitude;
    }
    return Float.intBitsToFloat(sign | ((exponent + 127 - 15) << 23) | (mantissa << 13));
  }
}
