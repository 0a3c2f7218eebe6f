package dev.kiln.runtime.io;

import dev.kiln.runtime.Tensor;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;

/**
 * Writes a state dict as {@code torch.save} does: a zip archive, stored (not compressed), of
 * {@code archive/data.pkl} (a protocol 2 pickle of an {@code OrderedDict} whose values are {@code
 * torch._utils._rebuild_tensor_v2} calls on persistent storage ids), {@code archive/data/<i>} (each
 * tensor's contiguous little-endian bytes), {@code archive/byteorder} and {@code archive/version}.
 * Like PyTorch's writer, every entry's data starts at a multiple of 64 bytes (padding in a local
 * header extra field with id {@code "FB"}) and sizes follow the data in a data descriptor.
 */
final class TorchFileWriter {
  private static final String ARCHIVE = "archive/";
  private static final int ALIGNMENT = 64;
  private static final int CHUNK_BYTES = 1 << 16;
  /** Offsets and sizes past this need zip64, which Kiln does not write. */
  private static final long MAX_ZIP32 = 0xFFFFFFFFL;

  /** An entry written: its name, where its local header starts, its CRC and size. */
  private record Written(byte[] name, long headerOffset, int crc, long size) {}

  private final Path file;
  private final FileChannel channel;
  private final List<Written> written = new ArrayList<>();
  private long position;

  private TorchFileWriter(Path file, FileChannel channel) {
    this.file = file;
    this.channel = channel;
  }

  static void write(Path file, Map<String, Tensor> tensors) throws IOException {
    List<String> names = new ArrayList<>();
    List<Tensor> values = new ArrayList<>();
    tensors.forEach((name, t) -> {
      if (name == null || t == null) {
        throw new IllegalArgumentException(file + ": " + (name == null ? "a null name" : "tensor \"" + name + "\" is null"));
      }
      names.add(name);
      values.add(t);
    });
    byte[] pickle = pickle(names, values);
    AtomicFile.write(file, channel -> {
      TorchFileWriter w = new TorchFileWriter(file, channel);
      w.entry("data.pkl", pickle);
      for (int i = 0; i < values.size(); i++) {
        w.tensorEntry("data/" + i, values.get(i));
      }
      w.entry("byteorder", "little".getBytes(StandardCharsets.US_ASCII));
      w.entry("version", "3\n".getBytes(StandardCharsets.US_ASCII));
      w.centralDirectory();
    });
  }

  // ---------------------------------------------------------------- the pickle

  /** {@code OrderedDict([(name, _rebuild_tensor_v2(('storage', type, str(i), 'cpu', numel), 0, shape, stride, False, OrderedDict()))...])}. */
  static byte[] pickle(List<String> names, List<Tensor> tensors) {
    Pickle p = new Pickle();
    p.op(0x80).op(2); // PROTO 2
    p.global("collections", "OrderedDict").op(')').op('R'); // OrderedDict()
    p.op('(');
    for (int i = 0; i < names.size(); i++) {
      Tensor t = tensors.get(i);
      int[] shape = t.shape();
      p.string(names.get(i));
      p.global("torch._utils", "_rebuild_tensor_v2");
      p.op('(');
      p.op('(').string("storage").global("torch", storageClass(t)).string(Integer.toString(i)).string("cpu")
          .integer(t.numel()).op('t');
      p.op('Q'); // BINPERSID
      p.integer(0);
      p.op('(');
      for (int d : shape) {
        p.integer(d);
      }
      p.op('t');
      p.op('(');
      long stride = 1;
      long[] strides = new long[shape.length];
      for (int d = shape.length - 1; d >= 0; d--) {
        strides[d] = stride;
        stride *= Math.max(shape[d], 1);
      }
      for (long s : strides) {
        p.integer(s);
      }
      p.op('t');
      p.op(0x89); // NEWFALSE: requires_grad
      p.global("collections", "OrderedDict").op(')').op('R'); // backward_hooks
      p.op('t').op('R');
    }
    p.op('u').op('.'); // SETITEMS, STOP
    return p.bytes.toByteArray();
  }

  private static String storageClass(Tensor t) {
    return StorageType.forWriting(t.dtype()) == StorageType.I64 ? "LongStorage" : "FloatStorage";
  }

  /** The opcodes of protocol 2 that {@link #pickle} writes. */
  private static final class Pickle {
    final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

    Pickle op(int op) {
      bytes.write(op);
      return this;
    }

    Pickle global(String module, String name) {
      op('c');
      bytes.writeBytes((module + "\n" + name + "\n").getBytes(StandardCharsets.US_ASCII));
      return this;
    }

    Pickle string(String s) {
      byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
      op('X');
      int32(utf8.length);
      bytes.writeBytes(utf8);
      return this;
    }

    Pickle integer(long v) {
      if (v >= 0 && v < 0x100) {
        return op('K').op((int) v);
      }
      if (v >= 0 && v < 0x10000) {
        return op('M').op((int) v & 0xFF).op((int) (v >>> 8));
      }
      if (v >= Integer.MIN_VALUE && v <= Integer.MAX_VALUE) {
        op('J');
        int32((int) v);
        return this;
      }
      op(0x8a).op(8); // LONG1 of 8 bytes
      for (int i = 0; i < 8; i++) {
        op((int) (v >>> (8 * i)) & 0xFF);
      }
      return this;
    }

    private void int32(int v) {
      for (int i = 0; i < 4; i++) {
        bytes.write((v >>> (8 * i)) & 0xFF);
      }
    }
  }

  // ---------------------------------------------------------------- the zip

  private void entry(String name, byte[] data) throws IOException {
    CRC32 crc = new CRC32();
    crc.update(data);
    begin(name);
    writeFully(ByteBuffer.wrap(data));
    end(name, crc, data.length);
  }

  private void tensorEntry(String name, Tensor t) throws IOException {
    StorageType type = StorageType.forWriting(t.dtype());
    CRC32 crc = new CRC32();
    begin(name);
    ByteBuffer buf = ByteBuffer.allocate(CHUNK_BYTES).order(ByteOrder.LITTLE_ENDIAN);
    float[] data = t.readBuffer();
    for (int i = t.offset(), end = i + t.numel(); i < end; i++) {
      if (buf.remaining() < type.size) {
        flush(buf, crc);
      }
      type.write(buf, data[i]);
    }
    flush(buf, crc);
    end(name, crc, (long) t.numel() * type.size);
  }

  private void flush(ByteBuffer buf, CRC32 crc) throws IOException {
    buf.flip();
    crc.update(buf.duplicate());
    writeFully(buf);
    buf.clear();
  }

  /** A local header whose extra field pads the data to start at a multiple of {@link #ALIGNMENT}. */
  private void begin(String entry) throws IOException {
    byte[] name = (ARCHIVE + entry).getBytes(StandardCharsets.UTF_8);
    long dataStart = position + 30 + name.length + 4;
    int pad = (int) ((ALIGNMENT - dataStart % ALIGNMENT) % ALIGNMENT);
    ByteBuffer h = ByteBuffer.allocate(30 + name.length + 4 + pad).order(ByteOrder.LITTLE_ENDIAN);
    h.putInt(0x04034b50).putShort((short) 20).putShort((short) 0x0808).putShort((short) 0) // stored
        .putShort((short) 0).putShort((short) 0x21) // time 0, date 1980-01-01
        .putInt(0).putInt(0).putInt(0) // CRC and sizes: in the data descriptor
        .putShort((short) name.length).putShort((short) (4 + pad)).put(name)
        .putShort((short) 0x4246).putShort((short) pad); // "FB"
    while (h.hasRemaining()) {
      h.put((byte) 'Z');
    }
    checkZip32(position);
    written.add(new Written(name, position, 0, 0));
    writeFully(h.flip());
  }

  private void end(String entry, CRC32 crc, long size) throws IOException {
    checkZip32(size);
    Written w = written.remove(written.size() - 1);
    written.add(new Written(w.name(), w.headerOffset(), (int) crc.getValue(), size));
    ByteBuffer d = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
    d.putInt(0x08074b50).putInt((int) crc.getValue()).putInt((int) size).putInt((int) size);
    writeFully(d.flip());
  }

  private void centralDirectory() throws IOException {
    long start = position;
    for (Written w : written) {
      ByteBuffer c = ByteBuffer.allocate(46 + w.name().length).order(ByteOrder.LITTLE_ENDIAN);
      c.putInt(0x02014b50).putShort((short) 20).putShort((short) 20).putShort((short) 0x0808).putShort((short) 0)
          .putShort((short) 0).putShort((short) 0x21).putInt(w.crc()).putInt((int) w.size()).putInt((int) w.size())
          .putShort((short) w.name().length).putShort((short) 0).putShort((short) 0) // extra, comment
          .putShort((short) 0).putShort((short) 0).putInt(0) // disk, internal and external attributes
          .putInt((int) w.headerOffset()).put(w.name());
      writeFully(c.flip());
    }
    long size = position - start;
    checkZip32(position);
    if (written.size() > 0xFFFF) {
      throw new IOException(file + ": " + written.size() + " entries, more than a zip file without zip64 holds"
          + " (Kiln does not write zip64): save it with SafeTensors.write");
    }
    ByteBuffer e = ByteBuffer.allocate(22).order(ByteOrder.LITTLE_ENDIAN);
    e.putInt(0x06054b50).putShort((short) 0).putShort((short) 0).putShort((short) written.size())
        .putShort((short) written.size()).putInt((int) size).putInt((int) start).putShort((short) 0);
    writeFully(e.flip());
  }

  private void checkZip32(long value) throws IOException {
    if (value > MAX_ZIP32) {
      throw new IOException(file + ": more than 4 GiB, past what a zip file without zip64 holds (Kiln does not write"
          + " zip64): save it with SafeTensors.write");
    }
  }

  private void writeFully(ByteBuffer src) throws IOException {
    while (src.hasRemaining()) {
      position += channel.write(src);
    }
  }
}
