package dev.kiln.runtime.cuda;

import java.util.List;
import org.bytedeco.cuda.cublas.cublasContext;
import org.bytedeco.cuda.cudart.CUevent_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.cudart.cudaDeviceProp;
import org.bytedeco.cuda.cudnn.cudnnContext;
import org.bytedeco.cuda.global.cublas;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.cuda.global.cudnn;
import org.bytedeco.cuda.global.nvrtc;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.SizeTPointer;

/**
 * The CUDA device Kiln runs on (device 0), as the runtime uses it: one stream that every kernel,
 * cuBLAS and cuDNN call and copy goes to, in order; one cuBLAS and one cuDNN handle bound to that
 * stream; a {@link DeviceMemory caching allocator}; a pinned staging buffer for copies to and
 * from the Java heap. Made once, on first use, by {@link #get()}; if that fails (no driver, a
 * library missing or of the wrong version, no GPU), every later {@code get()} throws the same
 * explanation, so {@code Device.best()} can fall back to the CPU once and say why.
 *
 * <p>Every library call's status is checked by one of the {@code check} methods, which throw a
 * {@link CudaException} naming the call. Kernel launches are asynchronous: a fault inside a kernel
 * surfaces at the next synchronising call (a copy to the host); with {@code -Dkiln.cuda.sync=true}
 * every launch is followed by a stream synchronisation so the fault is reported at its kernel.
 *
 * <p>Not thread-safe, like the tensors: one thread drives the device at a time.
 */
public final class Cuda {
  /** Synchronise after every kernel launch, to report a fault at the kernel that caused it. */
  static final boolean SYNC_EACH_LAUNCH = Boolean.getBoolean("kiln.cuda.sync");

  private static Cuda instance;
  private static RuntimeException failure;

  private final String name;
  private final int major;
  private final int minor;
  private final int multiprocessors;
  private final long totalMemory;
  private final CUstream_st stream;
  private final cublasContext cublasHandle;
  private final cudnnContext cudnnHandle;
  private final DeviceMemory memory;
  private FloatPointer staging;
  private long stagingFloats;
  /** Pinned buffers for uploads, used in turn (see {@link #upload(float[], int, long, int)}). */
  private static final int RING = 4;
  private static final int RING_FLOATS = 4 << 20;
  private final FloatPointer[] ring = new FloatPointer[RING];
  private final long[] ringCapacity = new long[RING];
  private final CUevent_st[] ringRead = new CUevent_st[RING];
  private int ringNext;

  private Cuda() {
    Loader.load(cudart.class);
    Loader.load(nvrtc.class);
    Loader.load(cublas.class);
    Loader.load(cudnn.class);
    int[] count = new int[1];
    check("cudaGetDeviceCount", cudart.cudaGetDeviceCount(count));
    if (count[0] == 0) {
      throw new CudaException("the CUDA runtime loaded but sees no GPU");
    }
    check("cudaSetDevice(0)", cudart.cudaSetDevice(0));
    CONTEXT_CURRENT.set(true);
    cudaDeviceProp prop = new cudaDeviceProp();
    check("cudaGetDeviceProperties(0)", cudart.cudaGetDeviceProperties(prop, 0));
    name = prop.name().getString();
    major = prop.major();
    minor = prop.minor();
    multiprocessors = prop.multiProcessorCount();
    totalMemory = prop.totalGlobalMem();
    stream = new CUstream_st();
    check("cudaStreamCreateWithFlags", cudart.cudaStreamCreateWithFlags(stream, cudart.cudaStreamNonBlocking));
    cublasHandle = new cublasContext();
    checkCublas("cublasCreate", cublas.cublasCreate_v2(cublasHandle));
    checkCublas("cublasSetStream", cublas.cublasSetStream_v2(cublasHandle, stream));
    // Plain FP32 products (no TF32), so that results match the CPU backend to float rounding.
    checkCublas("cublasSetMathMode", cublas.cublasSetMathMode(cublasHandle, cublas.CUBLAS_DEFAULT_MATH));
    cudnnHandle = new cudnnContext();
    checkCudnn("cudnnCreate", cudnn.cudnnCreate(cudnnHandle));
    checkCudnn("cudnnSetStream", cudnn.cudnnSetStream(cudnnHandle, stream));
    memory = new DeviceMemory(totalMemory);
  }

  /**
   * The device, initialised on first call.
   *
   * @throws CudaException if CUDA cannot be used on this machine, saying why (the same message on
   *     every call)
   */
  public static synchronized Cuda get() {
    if (instance != null) {
      return instance;
    }
    if (failure != null) {
      throw failure;
    }
    try {
      instance = new Cuda();
      return instance;
    } catch (Throwable t) {
      failure = new CudaException(explain(t), t);
      throw failure;
    }
  }

  /** True once {@link #get()} has succeeded: a cheap test that never initialises anything. */
  public static synchronized boolean isInitialized() {
    return instance != null;
  }

  /** One line on why initialisation failed: the missing libraries when some are, else the error. */
  private static String explain(Throwable t) {
    String why = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
    int nl = why.indexOf('\n');
    why = nl < 0 ? why : why.substring(0, nl);
    if (t instanceof LinkageError) {
      List<String> missing = NativeLibraries.missing();
      if (!missing.isEmpty()) {
        return "not found: " + String.join(", ", missing);
      }
    }
    return why;
  }

  // ---------------------------------------------------------------- facts

  /** The GPU's name, e.g. "NVIDIA H100 80GB HBM3". */
  public String name() {
    return name;
  }

  /** The compute capability's major number (9 for Hopper). */
  public int major() {
    return major;
  }

  public int minor() {
    return minor;
  }

  public int multiprocessors() {
    return multiprocessors;
  }

  public long totalMemory() {
    return totalMemory;
  }

  /** E.g. {@code NVIDIA H100 80GB HBM3, sm_90, 79.1 GiB}. */
  public String describe() {
    return name + ", sm_" + major + minor + ", " + String.format(java.util.Locale.ROOT, "%.1f GiB", totalMemory / (double) (1L << 30));
  }

  public CUstream_st stream() {
    return stream;
  }

  public cublasContext cublas() {
    return cublasHandle;
  }

  public cudnnContext cudnn() {
    return cudnnHandle;
  }

  public DeviceMemory memory() {
    return memory;
  }

  // ---------------------------------------------------------------- memory and copies

  /** Device memory for {@code floats} floats, uninitialised, returned to the cache when collected. */
  public CudaBuffer allocate(long floats) {
    return memory.allocate(Math.max(1, floats) * Float.BYTES);
  }

  /**
   * Copies {@code count} floats from {@code src[srcOff..]} to device address {@code dst}, in
   * stream order, without waiting: the values go through one of {@value #RING} pinned buffers
   * used in turn, each reused once the copy that last read it has run (an event per buffer), so
   * a batch or a dropout mask uploaded during a step does not stall the host on the GPU's queue.
   * An upload larger than {@value #RING_FLOATS} floats goes through the shared staging buffer and
   * waits.
   */
  public synchronized void upload(float[] src, int srcOff, long dst, int count) {
    if (count == 0) {
      return;
    }
    if (count > RING_FLOATS) {
      FloatPointer host = staging(count);
      host.put(src, srcOff, count);
      copyToDevice(host, dst, count);
      synchronize(); // the staging buffer is reused by the next copy: wait until this one has read it
      return;
    }
    int slot = ringNext;
    ringNext = (ringNext + 1) % RING;
    if (ringRead[slot] == null) {
      ringRead[slot] = new CUevent_st();
      check("cudaEventCreateWithFlags", cudart.cudaEventCreateWithFlags(ringRead[slot], cudart.cudaEventDisableTiming));
    } else {
      check("cudaEventSynchronize(upload buffer " + slot + ")", cudart.cudaEventSynchronize(ringRead[slot]));
    }
    if (ring[slot] == null || ringCapacity[slot] < count) {
      long size = Math.max(count, 1 << 16);
      Pointer p = new Pointer();
      check("cudaMallocHost(" + size * Float.BYTES + " bytes)", cudart.cudaMallocHost(p, size * Float.BYTES));
      if (ring[slot] != null) {
        cudart.cudaFreeHost(ring[slot]); // its last copy has run (the event above)
      }
      ring[slot] = new FloatPointer(p);
      ringCapacity[slot] = size;
    }
    ring[slot].put(src, srcOff, count);
    copyToDevice(ring[slot], dst, count);
    check("cudaEventRecord(upload buffer " + slot + ")", cudart.cudaEventRecord(ringRead[slot], stream));
  }

  private void copyToDevice(Pointer host, long dst, int count) {
    check("cudaMemcpyAsync(host to device, " + count + " floats)",
        cudart.cudaMemcpyAsync(new DevicePointer(dst), host, (long) count * Float.BYTES, cudart.cudaMemcpyHostToDevice, stream));
  }

  /**
   * Copies {@code count} floats from native host memory {@code src} to device address {@code dst}.
   * {@code src} is read from its address: a position set on it would count bytes there (the call
   * takes a {@code void*}), not floats, so one is refused.
   */
  public void upload(Pointer src, long dst, int count) {
    requireNoPosition(src);
    if (count == 0) {
      return;
    }
    check("cudaMemcpyAsync(host to device, " + count + " floats)",
        cudart.cudaMemcpyAsync(new DevicePointer(dst), src, (long) count * Float.BYTES, cudart.cudaMemcpyHostToDevice, stream));
    synchronize();
  }

  /** Copies {@code count} floats from device address {@code src} into {@code dst[dstOff..]}, waiting for them. */
  public synchronized void download(long src, float[] dst, int dstOff, int count) {
    if (count == 0) {
      return;
    }
    FloatPointer host = staging(count);
    check("cudaMemcpyAsync(device to host, " + count + " floats)",
        cudart.cudaMemcpyAsync(host, new DevicePointer(src), (long) count * Float.BYTES, cudart.cudaMemcpyDeviceToHost, stream));
    synchronize();
    host.get(dst, dstOff, count);
  }

  /** Copies {@code count} floats from device address {@code src} into native host memory {@code dst} (at its address, as {@link #upload(Pointer, long, int)}), waiting for them. */
  public void download(long src, Pointer dst, int count) {
    requireNoPosition(dst);
    if (count == 0) {
      return;
    }
    check("cudaMemcpyAsync(device to host, " + count + " floats)",
        cudart.cudaMemcpyAsync(dst, new DevicePointer(src), (long) count * Float.BYTES, cudart.cudaMemcpyDeviceToHost, stream));
    synchronize();
  }

  private static void requireNoPosition(Pointer p) {
    if (p.position() != 0) {
      throw new IllegalArgumentException("host pointer at position " + p.position() + ": pass getPointer(offset) (a pointer to"
          + " that element) instead; JavaCPP would count a void* position in bytes");
    }
  }

  /**
   * Makes the device's primary context current on the calling thread, once per thread: the runtime
   * calls ({@code cuda*}) do it themselves, but the driver calls Kiln makes ({@code cuModuleLoadData},
   * {@code cuLaunchKernel}) use whatever context is current, and {@code cudaSetDevice} at start-up
   * made it current on that thread only. A serving thread whose first CUDA work is a launch on
   * tensors already on the device would otherwise fail with "invalid context".
   */
  public static void ensureContext() {
    if (!CONTEXT_CURRENT.get()) {
      check("cudaSetDevice(0) on thread " + Thread.currentThread().getName(), cudart.cudaSetDevice(0));
      CONTEXT_CURRENT.set(true);
    }
  }

  private static final ThreadLocal<Boolean> CONTEXT_CURRENT = ThreadLocal.withInitial(() -> false);

  /** Copies {@code count} floats between two device addresses, in stream order. */
  public void copy(long src, long dst, long count) {
    if (count == 0) {
      return;
    }
    check("cudaMemcpyAsync(device to device, " + count + " floats)",
        cudart.cudaMemcpyAsync(new DevicePointer(dst), new DevicePointer(src), count * Float.BYTES, cudart.cudaMemcpyDeviceToDevice, stream));
  }

  /**
   * Copies {@code rows} rows of {@code width} floats between two device addresses, in stream
   * order: row {@code r} from {@code src + r * srcPitch} to {@code dst + r * dstPitch} (pitches in
   * floats), as one {@code cudaMemcpy2DAsync}; one row, or rows that touch on both sides, as one
   * plain copy, and pitches beyond what the call takes (2^31 bytes) as one copy per row.
   */
  public void copy2d(long src, long srcPitch, long dst, long dstPitch, long width, long rows) {
    if (width == 0 || rows == 0) {
      return;
    }
    if (rows == 1 || (srcPitch == width && dstPitch == width)) {
      copy(src, dst, width * rows);
      return;
    }
    if (Math.max(srcPitch, dstPitch) * Float.BYTES > Integer.MAX_VALUE) {
      for (long r = 0; r < rows; r++) { // few rows: each is over 2^31 bytes apart in a tensor of at most 2^31 floats
        copy(src + r * srcPitch * Float.BYTES, dst + r * dstPitch * Float.BYTES, width);
      }
      return;
    }
    check("cudaMemcpy2DAsync(device to device, " + rows + " rows of " + width + " floats)",
        cudart.cudaMemcpy2DAsync(new DevicePointer(dst), dstPitch * Float.BYTES, new DevicePointer(src), srcPitch * Float.BYTES,
            width * Float.BYTES, rows, cudart.cudaMemcpyDeviceToDevice, stream));
  }

  /** Sets {@code count} floats from device address {@code dst} to zero, in stream order. */
  public void zero(long dst, long count) {
    if (count == 0) {
      return;
    }
    check("cudaMemsetAsync(" + count + " floats)", cudart.cudaMemsetAsync(new DevicePointer(dst), 0, count * Float.BYTES, stream));
  }

  /** Waits until everything queued on the stream has run; reports a fault of an earlier kernel. */
  public void synchronize() {
    check("cudaStreamSynchronize", cudart.cudaStreamSynchronize(stream));
  }

  /** Free and total device memory in bytes, as the driver reports them. */
  public long[] memoryInfo() {
    try (SizeTPointer free = new SizeTPointer(1); SizeTPointer total = new SizeTPointer(1)) {
      check("cudaMemGetInfo", cudart.cudaMemGetInfo(free, total));
      return new long[] {free.get(), total.get()};
    }
  }

  private FloatPointer staging(long floats) {
    if (staging == null || stagingFloats < floats) {
      long size = Math.max(floats, 1 << 20);
      Pointer p = new Pointer();
      check("cudaMallocHost(" + size * Float.BYTES + " bytes)", cudart.cudaMallocHost(p, size * Float.BYTES));
      if (staging != null) {
        cudart.cudaFreeHost(staging);
      }
      staging = new FloatPointer(p);
      stagingFloats = size;
    }
    return staging;
  }

  // ---------------------------------------------------------------- status checks

  /** Throws unless a CUDA runtime call succeeded. */
  public static void check(String call, int status) {
    if (status != cudart.cudaSuccess) {
      throw new CudaException(call + ": CUDA error " + status + " (" + cudart.cudaGetErrorString(status).getString() + ")");
    }
  }

  /** Throws unless a CUDA driver API call succeeded. */
  public static void checkDriver(String call, int status) {
    if (status != cudart.CUDA_SUCCESS) {
      String text;
      try (org.bytedeco.javacpp.PointerPointer<?> s = new org.bytedeco.javacpp.PointerPointer<>(1)) {
        text = cudart.cuGetErrorString(status, s) == cudart.CUDA_SUCCESS && s.get(0) != null
            ? new org.bytedeco.javacpp.BytePointer(s.get(0)).getString()
            : "unknown";
      }
      throw new CudaException(call + ": CUDA driver error " + status + " (" + text + ")");
    }
  }

  /** Throws unless a cuBLAS call succeeded. */
  public static void checkCublas(String call, int status) {
    if (status != cublas.CUBLAS_STATUS_SUCCESS) {
      throw new CudaException(call + ": cuBLAS status " + status + " (" + cublas.cublasGetStatusString(status).getString() + ")");
    }
  }

  /** Throws unless a cuDNN call succeeded. */
  public static void checkCudnn(String call, int status) {
    if (status != cudnn.CUDNN_STATUS_SUCCESS) {
      throw new CudaException(call + ": cuDNN status " + status + " (" + cudnn.cudnnGetErrorString(status).getString() + ")");
    }
  }

  /** Throws unless an NVRTC call succeeded. */
  public static void checkNvrtc(String call, int status) {
    if (status != nvrtc.NVRTC_SUCCESS) {
      throw new CudaException(call + ": NVRTC status " + status + " (" + nvrtc.nvrtcGetErrorString(status).getString() + ")");
    }
  }
}
