import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.cpu.ActivationKernels;
import dev.kiln.runtime.cpu.Blas;
import dev.kiln.runtime.cpu.CpuKernels;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;

/**
 * The samples' FashionTransformer attention at batch 64 (docs/benchmarks.md, "The eager transformer step profiled"), op
 * by op, one thread, thread CPU time, the median of 100 calls after 200: the kernels the compiled class calls (the heads'
 * permutes, one batched GEMM with the scale as its alpha, the softmax, the second GEMM, the join's permute) into arrays
 * kept between calls, and the eager ops with grad on ({@code q @ k^T} over the heads read in place, the deferred scale,
 * the scaled softmax, {@code att @ v}, the join's copy), each into the fresh or pooled array eager mode gives it. Run with
 * {@code -Dkiln.threads=1}, the samples jar on the class path.
 */
public class EagerAttentionParts {
  static final ThreadMXBean MX = ManagementFactory.getThreadMXBean();

  static void report(String name, Runnable r) {
    for (int i = 0; i < 200; i++) {
      r.run();
    }
    double[] ms = new double[100];
    for (int i = 0; i < ms.length; i++) {
      long t = MX.getCurrentThreadCpuTime();
      r.run();
      ms[i] = (MX.getCurrentThreadCpuTime() - t) / 1e6;
    }
    Arrays.sort(ms);
    System.out.printf("%-34s %7.3f ms%n", name, ms[ms.length / 2]);
  }

  public static void main(String[] args) {
    int n = 64;
    float[] q = Tensor.randn(n * 1792).toFloatArray(), k = Tensor.randn(n * 1792).toFloatArray(), v = Tensor.randn(n * 1792).toFloatArray();
    float[] qh = new float[n * 1792], kh = new float[n * 1792], vh = new float[n * 1792], s = new float[n * 112 * 28];
    float[] a = new float[n * 112 * 28], o = new float[n * 1792], joined = new float[n * 1792];
    int[] split = {n, 28, 4, 16}, join = {n, 4, 28, 16}, swap = {0, 2, 1, 3};
    report("compiled: permute q, k and v", () -> {
      CpuKernels.permute(qh, 0, q, 0, split, swap, false);
      CpuKernels.permute(kh, 0, k, 0, split, swap, false);
      CpuKernels.permute(vh, 0, v, 0, split, swap, false);
    });
    report("compiled: q @ k^T * 0.25", () -> Blas.sgemmBatched(n * 4, false, true, 28, 28, 16, 0.25f, qh, 0, 448, kh, 0, 448, 0f, s, 0, 784));
    report("compiled: softmax", () -> ActivationKernels.softmaxForward(a, 0, s, 0, n * 112, 28, 1));
    report("compiled: att @ v", () -> Blas.sgemmBatched(n * 4, false, false, 28, 16, 28, 1f, a, 0, 784, vh, 0, 448, 0f, o, 0, 448));
    report("compiled: permute the join", () -> CpuKernels.permute(joined, 0, o, 0, join, swap, false));

    Tensor qt = Tensor.wrap(q, n, 28, 64).requiresGrad(true), kt = Tensor.wrap(k, n, 28, 64).requiresGrad(true);
    Tensor vt = Tensor.wrap(v, n, 28, 64).requiresGrad(true);
    Tensor[] t = new Tensor[8];
    report("eager: split q, k and v (views)", () -> {
      t[0] = qt.view(-1, 28, 4, 16).transpose(1, 2);
      t[1] = kt.view(-1, 28, 4, 16).transpose(1, 2);
      t[2] = vt.view(-1, 28, 4, 16).transpose(1, 2);
    });
    report("eager: q @ k^T", () -> t[3] = t[0].matmul(t[1].transpose(-2, -1)));
    report("eager: / sqrt(16)", () -> t[4] = t[3].div(4.0));
    report("eager: softmax", () -> {
      t[5] = t[4].softmax(-1);
      t[5].readBuffer();
    });
    report("eager: att @ v", () -> t[6] = t[5].matmul(t[2]));
    report("eager: join (transpose, reshape, read)", () -> {
      t[7] = t[6].transpose(1, 2).reshape(-1, 28, 64);
      t[7].readBuffer();
    });
  }
}
