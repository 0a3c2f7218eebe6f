package dev.kiln.runtime;

import java.lang.System.Logger.Level;

/**
 * Where tensors live and kernels run. This build executes on the CPU. {@link #best()} probes for
 * CUDA once (inside {@code try/catch (Throwable)}: no driver, a missing library or a version
 * mismatch never escapes), logs one line saying what it found, and returns the CPU; the CUDA
 * kernels themselves are not part of this build yet, so {@link #cuda()} explains why it fails.
 */
public final class Device {
  private static final System.Logger LOG = System.getLogger("dev.kiln.runtime");
  private static final Device CPU = new Device("cpu");
  private static volatile String cudaProbe;
  static volatile boolean announced; // package-private: the test resets it
  private final String name;

  private Device(String name) {
    this.name = name;
  }

  public static Device cpu() {
    return CPU;
  }

  /**
   * The first CUDA device.
   *
   * @throws IllegalStateException always in this build, saying whether CUDA was found: the CUDA
   *     kernels are not yet written. Use {@link #best()} to get a device without failing.
   */
  public static Device cuda() {
    throw new IllegalStateException("Device.cuda(): " + probeCuda() + "; this build of Kiln has no CUDA kernels yet: use Device.best() or Device.cpu()");
  }

  /** The fastest device that works on this machine: the CPU in this build (logged once, with why). */
  public static Device best() {
    if (!announced) {
      announced = true;
      LOG.log(Level.INFO, "Kiln: running on the CPU (" + probeCuda() + ")");
    }
    return CPU;
  }

  /** What the CUDA probe found, in words, e.g. "CUDA not available: libcudart.so.13 not found". */
  public static String cudaStatus() {
    return probeCuda();
  }

  private static String probeCuda() {
    String found = cudaProbe;
    if (found == null) {
      found = cudaProbe = CudaProbe.run();
    }
    return found;
  }

  public boolean isCpu() {
    return this == CPU;
  }

  public String name() {
    return name;
  }

  @Override
  public String toString() {
    return name;
  }

  /** Loads the CUDA runtime through JavaCPP and counts devices; any failure becomes a sentence. */
  private static final class CudaProbe {
    static String run() {
      try {
        org.bytedeco.javacpp.Loader.load(org.bytedeco.cuda.global.cudart.class);
        int[] count = new int[1];
        int status = org.bytedeco.cuda.global.cudart.cudaGetDeviceCount(count);
        if (status != 0) {
          return "CUDA runtime loaded but cudaGetDeviceCount failed: "
              + org.bytedeco.cuda.global.cudart.cudaGetErrorString(status).getString();
        }
        return count[0] == 0 ? "CUDA runtime loaded but no GPU is visible" : "CUDA found " + count[0] + " GPU(s)";
      } catch (Throwable t) {
        String why = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
        int nl = why.indexOf('\n');
        return "CUDA not available: " + (nl < 0 ? why : why.substring(0, nl));
      }
    }
  }
}
