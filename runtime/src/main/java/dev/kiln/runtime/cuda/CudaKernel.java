package dev.kiln.runtime.cuda;

import org.bytedeco.cuda.cudart.CUfunc_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;

/**
 * One {@code __global__} function, launched on Kiln's stream. Arguments are given in the kernel's
 * order as boxed values: a {@link Long} is a device address (or a 64-bit integer), an
 * {@link Integer} an {@code int}, a {@link Float} a {@code float}. Each goes into its own 8-byte
 * slot, which is what {@code cuLaunchKernel} reads through its array of argument pointers. A
 * {@link Pointer} is a struct passed by value: the driver reads its bytes from host memory at the
 * launch (the kernel's parameter type says how many).
 */
public final class CudaKernel {
  /** Threads per block for the one-dimensional launches of {@link #launch1d}. */
  public static final int BLOCK = 256;
  private static final int MAX_ARGS = 24;

  private final String name;
  private final CUfunc_st function;
  private final LongPointer slots = new LongPointer(MAX_ARGS);
  private final LongPointer pointers = new LongPointer(MAX_ARGS);
  /**
   * The same array typed as {@code void**} for {@code cuLaunchKernel}: passed as the LongPointer, the
   * call bound to the {@code @ByPtrPtr Pointer} overload, which hands the driver the address of a
   * local holding the array's address (a crash at the first launch; found by a desk check with a
   * stub libcuda, see docs/cuda.md and CudaKernelLaunchTest).
   */
  private final PointerPointer<?> kernelParams = new PointerPointer<>(pointers);

  CudaKernel(String name, CUfunc_st function) {
    this.name = name;
    this.function = function;
    for (int i = 0; i < MAX_ARGS; i++) {
      pointers.put(i, slots.address() + (long) i * Long.BYTES);
    }
  }

  /** Launches over {@code count} items, one thread each, {@value #BLOCK} threads per block. */
  public void launch1d(long count, Object... args) {
    if (count <= 0) {
      return;
    }
    long blocks = (count + BLOCK - 1) / BLOCK;
    if (blocks > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(name + ": " + count + " items is more than one launch covers");
    }
    launch((int) blocks, 1, BLOCK, 0, args);
  }

  /**
   * Launches a grid of {@code gridX * gridY} blocks of {@code block} threads with
   * {@code sharedBytes} of dynamic shared memory.
   */
  public synchronized void launch(int gridX, int gridY, int block, int sharedBytes, Object... args) {
    Cuda cuda = Cuda.get();
    Cuda.ensureContext();
    Cuda.checkDriver("cuLaunchKernel(" + name + ", grid " + gridX + "x" + gridY + ", block " + block + ")",
        launchOn(cuda.stream(), gridX, gridY, block, sharedBytes, args));
    if (Cuda.SYNC_EACH_LAUNCH) {
      try {
        cuda.synchronize();
      } catch (CudaException e) {
        throw new CudaException("kernel " + name + " failed: " + e.getMessage(), e);
      }
    }
  }

  /**
   * Packs {@code args} into their slots and calls {@code cuLaunchKernel} on {@code stream}, returning
   * its status: the JNI call itself, which a test checks against a stub driver that reads the
   * argument array as a GPU driver does.
   */
  synchronized int launchOn(CUstream_st stream, int gridX, int gridY, int block, int sharedBytes, Object... args) {
    if (args.length > MAX_ARGS) {
      throw new IllegalArgumentException(name + ": " + args.length + " arguments, at most " + MAX_ARGS);
    }
    for (int i = 0; i < args.length; i++) {
      Object a = args[i];
      long bits;
      if (a instanceof Pointer struct) {
        pointers.put(i, struct.address());
        continue;
      }
      pointers.put(i, slots.address() + (long) i * Long.BYTES);
      if (a instanceof Long l) {
        bits = l;
      } else if (a instanceof Integer n) {
        bits = n & 0xffffffffL;
      } else if (a instanceof Float f) {
        bits = Float.floatToRawIntBits(f) & 0xffffffffL;
      } else {
        throw new IllegalArgumentException(name + ": argument " + i + " is a " + (a == null ? "null" : a.getClass().getSimpleName())
            + "; kernels take Long (address), Integer, Float or a Pointer to a struct");
      }
      slots.put(i, bits);
    }
    return cudart.cuLaunchKernel(function, gridX, gridY, 1, block, 1, 1, sharedBytes, stream, kernelParams, (PointerPointer<?>) null);
  }

  @Override
  public String toString() {
    return name;
  }
}
