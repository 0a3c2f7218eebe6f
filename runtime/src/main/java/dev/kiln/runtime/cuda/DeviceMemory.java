package dev.kiln.runtime.cuda;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.Pointer;

/**
 * A caching allocator for device memory, so that a training step calls {@code cudaMalloc} only
 * until its buffers have been seen once. Requests are rounded up to a size class (powers of two
 * from 512 bytes to 1 MiB, then multiples of 2 MiB); a freed block waits in its class's list for
 * the next request of that class.
 *
 * <p>Blocks come back when their {@link CudaBuffer} is collected, and the Java collector does not
 * see device memory. So after every {@code gcEvery} bytes of fresh {@code cudaMalloc} the
 * allocator asks for a collection and takes back what it freed; and when {@code cudaMalloc} fails
 * it collects, frees every cached block and tries once more before throwing an error that names
 * the request and what is in use.
 */
public final class DeviceMemory {
  private static final long MIB = 1L << 20;

  private final Map<Long, ArrayDeque<Long>> free = new HashMap<>();
  private final ConcurrentLinkedQueue<long[]> returned = new ConcurrentLinkedQueue<>();
  private final long gcEvery;
  private long inUse;
  private long cached;
  private long peak;
  private long mallocedSinceGc;

  DeviceMemory(long deviceBytes) {
    this.gcEvery = Math.max(256 * MIB, deviceBytes / 16);
  }

  /** The size class of a request: what the block handed out really holds. */
  static long sizeClass(long bytes) {
    if (bytes <= 512) {
      return 512;
    }
    if (bytes <= MIB) {
      return Long.highestOneBit(bytes - 1) << 1;
    }
    return (bytes + 2 * MIB - 1) / (2 * MIB) * (2 * MIB);
  }

  /** A block of at least {@code bytes} bytes, uninitialised. */
  CudaBuffer allocate(long bytes) {
    long size = sizeClass(bytes);
    drainReturned();
    Long address = take(size);
    if (address == null && mallocedSinceGc >= gcEvery) {
      collectGarbage();
      address = take(size);
    }
    if (address == null) {
      address = malloc(size);
    }
    inUse += size;
    peak = Math.max(peak, inUse);
    return new CudaBuffer(this, address, size);
  }

  /** Bytes handed out and not yet returned. */
  public long inUseBytes() {
    drainReturned();
    return inUse;
  }

  /** Bytes held in the cache, ready for reuse. */
  public long cachedBytes() {
    drainReturned();
    return cached;
  }

  /** The most bytes ever in use at once. */
  public long peakBytes() {
    return peak;
  }

  /** Starts {@link #peakBytes()} again from what is in use now. */
  public void resetPeak() {
    peak = inUseBytes();
  }

  /**
   * PyTorch's {@code torch.cuda.empty_cache()}: asks the Java collector for the blocks of tensors no
   * longer reachable, then gives every cached block back to the driver, so that other processes
   * (or {@code nvidia-smi}) see the memory free. Live tensors keep theirs.
   */
  public void emptyCache() {
    long before;
    int rounds = 0;
    do { // a collection can free tensors whose blocks the cleaner queues after the wait: repeat while blocks come back
      before = inUseBytes();
      collectGarbage();
    } while (inUseBytes() < before && ++rounds < 8);
    releaseCached();
  }

  /**
   * Gives every cached block back to the driver, after the stream's queued work: a cached block's
   * last kernels may still be queued, and cudaFree, unlike reuse on the one stream, is not ordered
   * after them (it usually synchronises, but CUDA does not promise it).
   */
  public void releaseCached() {
    drainReturned();
    if (!free.isEmpty()) {
      Cuda.get().synchronize();
    }
    for (ArrayDeque<Long> list : free.values()) {
      for (Long address : list) {
        Cuda.check("cudaFree", cudart.cudaFree(new DevicePointer(address)));
      }
    }
    free.clear();
    cached = 0;
  }

  /** Called by the cleaner thread: only queues the block, the owning thread files it. */
  void returned(long address, long bytes) {
    returned.add(new long[] {address, bytes});
  }

  private Long take(long size) {
    ArrayDeque<Long> list = free.get(size);
    Long address = list == null ? null : list.poll();
    if (address != null) {
      cached -= size;
    }
    return address;
  }

  private long malloc(long size) {
    Pointer p = new Pointer();
    int status = cudart.cudaMalloc(p, size);
    if (status == cudart.cudaErrorMemoryAllocation) {
      cudart.cudaGetLastError(); // clear the sticky-free error before trying again
      collectGarbage();
      Long address = take(size);
      if (address != null) {
        return address;
      }
      releaseCached();
      status = cudart.cudaMalloc(p, size);
      if (status == cudart.cudaErrorMemoryAllocation) {
        cudart.cudaGetLastError();
        throw new CudaException("cudaMalloc(" + size + " bytes): out of device memory with " + inUse
            + " bytes in use by live tensors (peak " + peak + ")");
      }
    }
    Cuda.check("cudaMalloc(" + size + " bytes)", status);
    mallocedSinceGc += size;
    return p.address();
  }

  /** Asks the Java collector to run and waits briefly for the blocks it frees to come back. */
  private void collectGarbage() {
    mallocedSinceGc = 0;
    System.gc();
    long deadline = System.nanoTime() + 50_000_000L;
    while (returned.isEmpty() && System.nanoTime() < deadline) {
      java.util.concurrent.locks.LockSupport.parkNanos(200_000L);
    }
    drainReturned();
  }

  private void drainReturned() {
    long[] block;
    while ((block = returned.poll()) != null) {
      inUse -= block[1];
      cached += block[1];
      free.computeIfAbsent(block[1], k -> new ArrayDeque<>()).push(block[0]);
    }
  }
}
