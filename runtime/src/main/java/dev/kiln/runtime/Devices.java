package dev.kiln.runtime;

/**
 * The device rule of every operation: all tensor arguments on one device, which is where the
 * operation runs. A mix is an error naming the operation and where each argument lives (as in
 * PyTorch, nothing is moved behind the user's back).
 */
final class Devices {
  private Devices() {}

  /**
   * True when the (non-null) tensors live on CUDA, false when on the CPU.
   *
   * @throws IllegalArgumentException when they are on different devices
   */
  static boolean onCuda(String op, Tensor... tensors) {
    Device first = null;
    for (Tensor t : tensors) {
      if (t == null) {
        continue;
      }
      Device d = t.device();
      if (first == null) {
        first = d;
      } else if (d != first) {
        StringBuilder where = new StringBuilder();
        for (Tensor u : tensors) {
          if (u != null) {
            where.append(where.length() == 0 ? "" : ", ").append(Shapes.toString(u.shape())).append(" on ").append(u.device());
          }
        }
        throw new IllegalArgumentException(
            op + ": expected all tensors on one device, got " + where + "; move them with .to(device) first");
      }
    }
    return first != null && first.isCuda();
  }

  /**
   * For operations that have no CUDA kernel yet: passes for CPU tensors, throws for CUDA ones
   * naming the operation, rather than computing on the host and returning a CPU tensor.
   */
  static void requireCpu(String op, Tensor... tensors) {
    if (onCuda(op, tensors)) {
      throw new UnsupportedOperationException(op + " has no CUDA kernel yet: compute it on the CPU (.to(Device.cpu()))");
    }
  }
}
