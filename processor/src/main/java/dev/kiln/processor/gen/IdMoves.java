package dev.kiln.processor.gen;

import static dev.kiln.processor.gen.Generator.SLICES;
import static dev.kiln.processor.gen.Generator.WHERE_KERNELS;

import com.palantir.javapoet.CodeBlock;
import dev.kiln.processor.gen.Generator.Ref;
import dev.kiln.processor.ir.IdMove;
import dev.kiln.processor.ir.Narrow;
import dev.kiln.processor.ir.Reduce;

/**
 * Ids moved in forward ({@link IdMove}: a narrow, flip, roll or pad of ids before an Embedding), planned as a kernel of kind
 * {@link Kernel.Kind#IDS} (no gradient, nothing in backward, as integer arithmetic of ids): its forward is the float move's
 * own (the ids are exact floats, moved as they are), its CUDA step eager's call of the move, which keeps ids ids.
 */
final class IdMoves {
  private IdMoves() {}

  /** The kernel of the float move {@code k} runs: a SLICE for a narrow, a PAD (index map or roll) for the others. */
  static Kernel moveKernel(Kernel k) {
    IdMove m = (IdMove) k.spec();
    return new Kernel(m.move() instanceof Narrow ? Kernel.Kind.SLICE : Kernel.Kind.PAD, k.label(), m.move(), null, null, false, k.in(),
        k.out(), k.inShape(), k.outShape(), k.source());
  }

  /**
   * The forward of ids moved: the float move's over the plan's buffers; a where's ({@code WhereKernels.forward}) over its
   * mask, a and b, all of the result's shape ({@code other} the refs of b and the mask).
   */
  static void forward(CodeBlock.Builder b, Kernel k, Ref out, Ref in, Ref bRef, Ref mask) {
    if (((IdMove) k.spec()).sum()) { // eager's sums of ids, each in 64 bits, its error past 2^24
      Reduce r = (Reduce) ((IdMove) k.spec()).move();
      boolean[] reduced = r.reduced(k.inShape().length);
      String flags = java.util.stream.IntStream.range(0, reduced.length).mapToObj(d -> String.valueOf(reduced[d]))
          .collect(java.util.stream.Collectors.joining(", "));
      CodeBlock sum = CodeBlock.of("$T.sumOver($L, $L, $L, new int[] {$L}, new boolean[] {$L})", Generator.ID_KERNELS,
          out.offset().equals("0") ? out.array() : "summed", in.array(), in.offset(), Generator.batchShape(k.inShape()), flags);
      if (out.offset().equals("0")) {
        b.addStatement(sum);
      } else { // (sumOver writes from the start of its array)
        b.addStatement("float[] summed = new float[n * $L]", k.outPerSample()).addStatement(sum)
            .addStatement("System.arraycopy(summed, 0, $L, $L, n * $L)", out.array(), out.offset(), k.outPerSample());
      }
      return;
    }
    if (((IdMove) k.spec()).where()) {
      String count = "n * " + k.outPerSample();
      b.addStatement("$T.forward($L, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L)", WHERE_KERNELS, out.array(), mask.array(), mask.offset(),
          count, in.array(), in.offset(), count, bRef.array(), bRef.offset(), count, count);
      return;
    }
    Kernel move = moveKernel(k);
    if (move.kind() == Kernel.Kind.SLICE) {
      sliceForward(b, move, out, in);
    } else {
      ElementwiseEmitter.indexMap(b, move, out, in, false);
    }
  }

  /** A narrow's (a split's piece's) forward: {@code SliceKernels.narrowForward} of its slabs. */
  static void sliceForward(CodeBlock.Builder b, Kernel k, Ref out, Ref in) {
    b.addStatement("$T.narrowForward($L, $L, $L, $L, $L)", SLICES, out.array(), out.offset(), in.array(), in.offset(),
        StepCalls.sliceArgs(k));
  }

  /**
   * The CUDA step: eager's move of the ids on the device ({@code v1.flip(1)}, {@code F.pad(v1, ...)}, {@code
   * Tensor.where(v3, v1, v2)} of the CUDA locals {@code locals}).
   */
  static CodeBlock eagerCall(Kernel k, String in, java.util.Map<String, String> locals) {
    if (((IdMove) k.spec()).where()) {
      return CodeBlock.of("$T.where($L, $L, $L)", Generator.TENSOR, locals.get(k.inputs().get(2)), in, locals.get(k.inputs().get(1)));
    }
    return Functions.call(((IdMove) k.spec()).move(), in);
  }
}
