package dev.kiln.runtime;

/**
 * The node of a one-input element-wise operation, on the CPU ({@link Ops}) or CUDA ({@link CudaOps}):
 * what it saves for its backward follows from what that backward {@link Reads}.
 */
abstract class ElementwiseNode extends Node {
  private final Reads reads;

  ElementwiseNode(Reads reads, Tensor x) {
    super(x);
    this.reads = reads;
  }

  @Override protected boolean savesTensors() {
    return reads != Reads.NOTHING;
  }

  @Override protected boolean savesInputs() {
    return reads == Reads.INPUT;
  }

  @Override protected boolean savesOutput() {
    return reads == Reads.OUTPUT;
  }
}
