package dev.kiln.runtime;

/**
 * Where a backward writes a parameter's gradient: {@code target}, added to ({@code accumulate})
 * or overwritten; {@code returned} is what the node hands the engine for it (null when the
 * gradient went straight into a leaf's {@code grad()}).
 */
record GradSink(Tensor target, boolean accumulate, Tensor returned) {
  /**
   * A leaf with a CUDA gradient: add into it. A leaf without one: a new gradient, set now and
   * written by the call. Anything else (a weight computed by an op): a fresh tensor, returned.
   */
  static GradSink of(Tensor p) {
    if (p.isLeaf()) {
      Tensor g = p.grad();
      if (g != null && g.device().isCuda()) {
        return new GradSink(g, true, null);
      }
      if (g == null) {
        Tensor fresh = Tensor.empty(p.device(), p.shape());
        p.setGrad(fresh);
        return new GradSink(fresh, false, null);
      }
    }
    Tensor fresh = Tensor.empty(p.device(), p.shape());
    return new GradSink(fresh, false, fresh);
  }

  long address() {
    return target.writeCuda();
  }

  static long address(GradSink s) {
    return s == null ? 0 : s.address();
  }
}
