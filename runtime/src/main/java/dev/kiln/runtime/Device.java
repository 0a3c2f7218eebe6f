package dev.kiln.runtime;

import dev.kiln.runtime.cuda.Cuda;
import dev.kiln.runtime.cuda.DeviceMemory;
import java.lang.System.Logger.Level;

/**
 * Where tensors live and kernels run: the CPU, or the first CUDA GPU. {@link #best()} tries CUDA
 * once (inside {@code try/catch (Throwable)}: no driver, a missing library or a version mismatch
 * never escapes), logs one line saying what it found, and returns the GPU when it works, else the
 * CPU. {@link #cuda()} is for code that wants the GPU or nothing: it throws with the reason.
 */
public final class Device {
  private static final System.Logger LOG = System.getLogger("dev.kiln.runtime");
  private static final Device CPU = new Device("cpu");
  private static final Device CUDA = new Device("cuda");
  static volatile boolean announced; // package-private: the test resets it
  private final String name;

  private Device(String name) {
    this.name = name;
  }

  public static Device cpu() {
    return CPU;
  }

  /**
   * The first CUDA GPU, its libraries loaded and its stream and handles made on first call.
   *
   * @throws IllegalStateException if CUDA cannot be used here, naming what was missing or failed
   */
  public static Device cuda() {
    try {
      Cuda.get();
      return CUDA;
    } catch (Throwable t) {
      throw new IllegalStateException("Device.cuda(): CUDA not available: " + t.getMessage() + "; use Device.best() or Device.cpu()", t);
    }
  }

  /** The fastest device that works on this machine: the GPU when CUDA loads, else the CPU (logged once, with why). */
  public static Device best() {
    Device d;
    String line;
    try {
      Cuda cuda = Cuda.get();
      d = CUDA;
      line = "Kiln: running on CUDA (" + cuda.describe() + ")";
    } catch (Throwable t) {
      d = CPU;
      line = "Kiln: running on the CPU (" + cudaStatus() + ")";
    }
    if (!announced) {
      announced = true;
      LOG.log(Level.INFO, line);
    }
    return d;
  }

  /** What CUDA looks like here, in words, e.g. "CUDA not available: not found: libcuda.so.1 (the NVIDIA driver)". */
  public static String cudaStatus() {
    try {
      return "CUDA found: " + Cuda.get().describe();
    } catch (Throwable t) {
      return "CUDA not available: " + t.getMessage();
    }
  }

  /**
   * Bytes of device memory held by live tensors, PyTorch's {@code torch.cuda.memory_allocated()}
   * (in Kiln's size classes: a request is rounded up to a power of two up to 1 MiB, then to 2 MiB).
   *
   * @throws IllegalStateException on the CPU, whose memory is the Java heap and native buffers
   */
  public long memoryAllocated() {
    return memory("memoryAllocated").inUseBytes();
  }

  /** The most bytes {@link #memoryAllocated()} has reached, since the start or {@link #resetPeakMemoryStats()}. */
  public long maxMemoryAllocated() {
    return memory("maxMemoryAllocated").peakBytes();
  }

  /**
   * Bytes taken from the driver: those allocated plus those cached for reuse, PyTorch's
   * {@code torch.cuda.memory_reserved()}.
   */
  public long memoryReserved() {
    DeviceMemory m = memory("memoryReserved");
    return m.inUseBytes() + m.cachedBytes();
  }

  /** Starts {@link #maxMemoryAllocated()} again from what is allocated now. */
  public void resetPeakMemoryStats() {
    memory("resetPeakMemoryStats").resetPeak();
  }

  /**
   * Gives the device memory that no live tensor holds back to the driver, PyTorch's
   * {@code torch.cuda.empty_cache()}. Tensors that are unreachable but not yet collected are
   * collected first (a {@code System.gc()}), since the Java collector does not see device memory.
   * Training does not need it: freed blocks are reused by the next steps.
   */
  public void emptyCache() {
    memory("emptyCache").emptyCache();
  }

  private DeviceMemory memory(String method) {
    if (!isCuda()) {
      throw new IllegalStateException("Device." + method + "(): only a CUDA device has a memory allocator; this is the "
          + name + ", whose tensors live on the Java heap and in native buffers");
    }
    return Cuda.get().memory();
  }

  public boolean isCpu() {
    return this == CPU;
  }

  public boolean isCuda() {
    return this == CUDA;
  }

  public String name() {
    return name;
  }

  @Override
  public String toString() {
    return name;
  }
}
