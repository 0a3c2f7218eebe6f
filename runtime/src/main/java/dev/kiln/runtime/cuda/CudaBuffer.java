package dev.kiln.runtime.cuda;

import java.lang.ref.Cleaner;

/**
 * A block of device memory from the {@link DeviceMemory caching allocator}. It goes back to the
 * allocator's cache when the buffer becomes unreachable (or on {@link #release()}), never to
 * {@code cudaFree} directly: reuse is ordered on the one stream, so a block that a queued kernel
 * still reads can be handed out again safely.
 */
public final class CudaBuffer {
  private static final Cleaner CLEANER = Cleaner.create();

  private final long address;
  private final long bytes;
  private final Cleaner.Cleanable cleanable;

  CudaBuffer(DeviceMemory memory, long address, long bytes) {
    this.address = address;
    this.bytes = bytes;
    this.cleanable = CLEANER.register(this, new Return(memory, address, bytes));
  }

  /** The device address of the first byte. */
  public long address() {
    return address;
  }

  /** The device address of float {@code index}. */
  public long at(long index) {
    return address + index * Float.BYTES;
  }

  /** The block's size in bytes (the request rounded up to the allocator's size class). */
  public long bytes() {
    return bytes;
  }

  /** Gives the block back now; the buffer must not be used afterwards. Idempotent. */
  public void release() {
    cleanable.clean();
  }

  /** Must not refer to the buffer, or it would never become unreachable. */
  private record Return(DeviceMemory memory, long address, long bytes) implements Runnable {
    @Override
    public void run() {
      memory.returned(address, bytes);
    }
  }
}
