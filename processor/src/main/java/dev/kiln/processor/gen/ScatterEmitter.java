package dev.kiln.processor.gen;

import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import dev.kiln.processor.gen.Generator.Ref;
import dev.kiln.processor.ir.Scatter;
import java.util.Map;

/**
 * A write by index's code ({@link Kernel.Kind#SCATTER}, {@link Scatter}): eager mode's placement ({@code cpu.ScatterKernels}) built
 * from the ids over the whole batch in forward (its checks and messages eager's), kept in the plan for backward, where x's
 * gradient (0 where a value was set) and the source's (a gather) come from the same loops eager's node runs; on CUDA the
 * eager call, whose kernels are {@code cuda.ScatterKernels}.
 */
final class ScatterEmitter {
  static final ClassName SCATTER_KERNELS = ClassName.get("dev.kiln.runtime.cpu", "ScatterKernels");
  private static final ClassName TENSOR = ClassName.get("dev.kiln.runtime", "Tensor");
  static final ClassName PLACEMENT = SCATTER_KERNELS.nestedClass("Placement");

  private ScatterEmitter() {}

  /** The forward: x copied into the output, the placement built from the ids (eager's checks) and applied. */
  static void forward(CodeBlock.Builder b, Generator gen, Kernel k, int j, Ref out, Map<String, Ref> refs) {
    Scatter s = (Scatter) k.spec();
    Ref x = gen.ref(k.in(), refs);
    int d = s.along(k.inShape());
    if (s.op().reads()) { // each result value x's at its id (gather) or in its slice (indexSelect): x as the source of a set
      if (s.op() == Scatter.Op.GATHER) { // the scatter's placement turned round
        Ref ids = gen.ref(k.inputs().get(s.indexInput()), refs);
        b.addStatement("p.placed$L = $T.gatherPlaces(new int[] {$L}, $L, $T.ids($L, $L, n * $L), new int[] {$L})", j, SCATTER_KERNELS,
            Generator.batchShape(k.inShape()), d, SCATTER_KERNELS, ids.array(), ids.offset(), k.outPerSample(),
            Generator.batchShape(k.outShape()));
      } else { // the index forms' placement turned round
        b.addStatement("p.placed$L = $T.selectPlaces(new int[] {$L}, $L, $L)", j, SCATTER_KERNELS, Generator.batchShape(k.inShape()), d,
            indexIds(gen, k));
      }
      b.addStatement("$T.place($L, $L, $L, $L, 0f, p.placed$L, false, 1f)", SCATTER_KERNELS, out.array(), out.offset(), x.array(),
          x.offset(), j);
      return;
    }
    b.addStatement("System.arraycopy($L, $L, $L, $L, n * $L)", x.array(), x.offset(), out.array(), out.offset(), k.outPerSample());
    if (s.op().byElement) {
      Ref ids = gen.ref(k.inputs().get(s.indexInput()), refs);
      int[] index = k.inShapes().get(s.indexInput());
      b.addStatement("p.placed$L = $T.scatterPlaces($S, new int[] {$L}, $L, $T.ids($L, $L, n * $L), new int[] {$L}, $L)", j,
          SCATTER_KERNELS, s.op().torchName, Generator.batchShape(k.inShape()), d, SCATTER_KERNELS, ids.array(), ids.offset(),
          Generator.perSample(index), Generator.batchShape(index),
          s.op().hasSource ? "new int[] {" + Generator.batchShape(k.inShapes().get(s.sourceInput())) + "}" : "null");
    } else {
      b.addStatement("p.placed$L = $T.indexPlaces($S, new int[] {$L}, $L, $L)", j, SCATTER_KERNELS, s.op().torchName,
          Generator.batchShape(k.inShape()), d, indexIds(gen, k));
    }
    Ref src = s.op().hasSource ? gen.ref(k.inputs().get(s.sourceInput()), refs) : null;
    b.addStatement("$T.place($L, $L, $L, $L, $L, p.placed$L, $L, $L)", SCATTER_KERNELS, out.array(), out.offset(),
        src == null ? "null" : src.array(), src == null ? "0" : src.offset(), Generator.floatLiteral(s.value()), j, s.op().adds,
        Generator.floatLiteral(s.alpha()));
  }

  /**
   * The index forms' ids as the forward reads them: the constant ids ({@code new int[] {0, 2}}), or a buffer's values now, eager's
   * checks of an index at each call ({@code Compiled.bufferIds("index_select", "perm", this.perm, 3)}).
   */
  private static CodeBlock indexIds(Generator gen, Kernel k) {
    Scatter s = (Scatter) k.spec();
    if (!s.readsBuffer()) {
      return CodeBlock.of("new int[] {$L}", s.idsList());
    }
    String buffer = gen.parameterCode.tensorField(gen.ir.tensor(k.inputs().get(s.bufferInput())));
    return CodeBlock.of("$T.bufferIds($S, $S, $L, $L)", Generator.COMPILED, s.op().torchName, s.buffer(), buffer, s.count());
  }

  /** The gradient of input {@code w} (x, or the source) into {@code target}, written or added ({@code accumulate}). */
  static void backward(CodeBlock.Builder b, Kernel k, int j, int w, Ref target, boolean accumulate, Ref d) {
    Scatter s = (Scatter) k.spec();
    if (s.op().reads()) { // each result value's gradient added into its place of x's, from zeros
      b.addStatement("$T.sourceBackward($L, $L, n * $L, $L, $L, p.placed$L, 1f, $L)", SCATTER_KERNELS, target.array(), target.offset(),
          k.inPerSample(), d.array(), d.offset(), j, accumulate);
    } else if (w == 0) { // the result's gradient, 0 where a value was set
      b.addStatement("$T.inputBackward($L, $L, $L, $L, n * $L, p.placed$L, $L, $L)", SCATTER_KERNELS, target.array(), target.offset(),
          d.array(), d.offset(), k.outPerSample(), j, s.op().adds, accumulate);
    } else { // each source value the gradient of its place
      b.addStatement("$T.sourceBackward($L, $L, n * $L, $L, $L, p.placed$L, $L, $L)", SCATTER_KERNELS, target.array(), target.offset(),
          Generator.perSample(k.inShapes().get(w)), d.array(), d.offset(), j, Generator.floatLiteral(s.alpha()), accumulate);
    }
  }

  /** Whether kernel input {@code w} gets no gradient: a scatter's index, an index form's buffer of ids. */
  static boolean isIndex(Kernel k, int w) {
    return k.kind() == Kernel.Kind.SCATTER && (w == ((Scatter) k.spec()).indexInput() || w == ((Scatter) k.spec()).bufferInput());
  }

  /** The eager call on CUDA: {@code v1.scatter(1, v3, v2)}, {@code v1.indexAdd(2, Tensor.labels(0, 2).to(v1.device()), v2, 0.5f)}. */
  static CodeBlock cudaCall(Kernel k, String x, Map<String, String> locals) {
    Scatter s = (Scatter) k.spec();
    CodeBlock index = s.op().byElement || s.readsBuffer() // (a buffer: moved with the model, read as eager reads it)
        ? CodeBlock.of("$L", locals.get(k.inputs().get(s.op().byElement ? s.indexInput() : s.bufferInput())))
        : CodeBlock.of("$T.labels($L).to($L.device())", TENSOR, s.idsList(), x);
    CodeBlock.Builder call = CodeBlock.builder().add("$L.$L($L, $L", x, s.op().method, s.dim(), index);
    if (s.op().reads()) {
      return call.add(")").build();
    }
    if (s.op().hasSource) {
      call.add(", $L", locals.get(k.inputs().get(s.sourceInput())));
    } else {
      call.add(", $L", Generator.floatLiteral(s.value()));
    }
    if (s.op() == Scatter.Op.INDEX_ADD && s.alpha() != 1f) {
      call.add(", $L", Generator.floatLiteral(s.alpha()));
    }
    return call.add(")").build();
  }
}
