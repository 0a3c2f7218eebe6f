package dev.kiln.processor.gen;

import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.Linear;
import dev.kiln.processor.ir.LayerIr;
import dev.kiln.processor.ir.Source;

/**
 * One planned step of the compiled forward: several source steps fused into one pass.
 *
 * @param kind what runs
 * @param label the source steps it covers, for the comment: {@code 1 Linear(...) + 2 ReLU()}
 * @param spec the (first) step's spec
 * @param layer the layer holding the parameters (LINEAR), else null
 * @param linear its spec (LINEAR), else null
 * @param relu whether a ReLU is fused into the epilogue (LINEAR)
 * @param in the value it reads
 * @param out the value it writes
 * @param inShape shape of {@code in}, -1 for the batch
 * @param outShape shape of {@code out}
 * @param source the source step, for the comment's file and line
 */
record Kernel(
    Kind kind, String label, LayerSpec spec, LayerIr layer, Linear.Spec linear, boolean relu,
    String in, String out, int[] inShape, int[] outShape, Source source) {


  enum Kind {
    /** A reshape (Flatten): no work, the output aliases the input. */
    VIEW,
    /** GEMM + bias (+ ReLU) epilogue; backward: ReLU mask + bias gradient in one pass, then two GEMMs. */
    LINEAR,
    /** A ReLU on its own. */
    RELU,
    /** A layer with no generated kernel yet: runs the layer's eager forward (recorded on the tape). */
    EAGER
  }

  /** Values per sample of the output (all dimensions after the batch). */
  int outPerSample() {
    return perSample(outShape);
  }

  int inPerSample() {
    return perSample(inShape);
  }

  /** Rows per sample seen by a GEMM over the last dimension: 1 for [N, F], C for [N, C, F]. */
  int rowsPerSample() {
    int r = 1;
    for (int i = 1; i < inShape.length - 1; i++) {
      r *= inShape[i];
    }
    return r;
  }

  private static int perSample(int[] shape) {
    int n = 1;
    for (int i = 1; i < shape.length; i++) {
      n *= shape[i];
    }
    return n;
  }
}
