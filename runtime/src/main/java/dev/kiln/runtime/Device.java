package dev.kiln.runtime;

/**
 * Where tensors live and kernels run. This build executes on the CPU; {@link #cuda()} reports
 * clearly that the CUDA backend is not part of it, and {@link #best()} chooses the CPU.
 */
public final class Device {
  private static final Device CPU = new Device("cpu");
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
   * @throws IllegalStateException always in this build: the CUDA backend (issue 6) is not yet
   *     written. Use {@link #best()} to get the best available device without failing.
   */
  public static Device cuda() {
    throw new IllegalStateException(
        "Device.cuda(): this build of Kiln has no CUDA backend yet; use Device.best() or Device.cpu()");
  }

  /** The fastest device that works on this machine: the CPU in this build. */
  public static Device best() {
    return CPU;
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
}
