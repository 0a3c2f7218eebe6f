package dev.kiln.runtime.cuda;

import java.util.List;
import org.bytedeco.javacpp.BytePointer;

/**
 * The optimizers' update rules on the device: one launch steps up to {@value #LIST} parameters,
 * whose addresses, sizes and per-parameter scalars travel in a table passed by value as a kernel
 * argument (as PyTorch's multi-tensor apply does), so a step costs one launch per 32 parameters
 * and no copy to the device. Each block updates {@value #CHUNK} values of one parameter. The float
 * operations are those of the CPU loops of {@code SGD}, {@code AdamBase}, {@code RMSprop}, {@code
 * Adagrad}, {@code Adadelta}, {@code Adamax}, {@code NAdam}, {@code RAdam}, {@code Rprop} and {@code ASGD}, in the same order
 * (the GPU contracts {@code a * b + c} into one rounding, so results agree to float rounding, not
 * bit for bit).
 */
public final class OptimKernels {
  /** Parameters per launch: the table's capacity. */
  public static final int LIST = 32;
  /** Values each block updates. */
  static final int CHUNK = 2048;

  /** The CUDA C source, public so that a test can compile it without a GPU. */
  public static final String SOURCE = """
      #define KILN_LIST 32
      #define KILN_CHUNK 2048

      // The parameters of one launch. Layout (bytes): 5 pointer arrays at 0, 256, 512, 768, 1024;
      // s0 at 1280, s1 at 1408, n at 1536, flag at 1664, start at 1792 (33 ints), count at 1924,
      // s2 at 1928; 2056 in all. OptimKernels.Table writes it.
      struct kiln_param_list {
        float* p[KILN_LIST];        // the parameters
        const float* g[KILN_LIST];  // their gradients
        float* a[KILN_LIST];        // SGD: momentum buffer (null without momentum); Adam: first moment;
                                    // RMSprop, Adadelta: square_avg; Adagrad: sum; Adamax, NAdam, RAdam:
                                    // first moment; Rprop: prev; ASGD: ax
        float* b[KILN_LIST];        // Adam, NAdam, RAdam: second moment; Adamax: exp_inf; Rprop: step_size; RMSprop: momentum buffer (or null); Adadelta: acc_delta
        float* c[KILN_LIST];        // Adam: running maximum of the second moment (null unless amsgrad);
                                    // RMSprop: grad_avg (null unless centered)
        float s0[KILN_LIST];        // Adam: lr / (1 - beta1^t); Adagrad: -lr / (1 + (t - 1) lr_decay);
                                    // Adamax: -lr / (1 - beta1^t); NAdam: the gradient's rate; RAdam: 1 - beta1^t;
                                    // ASGD: 1 - lambd * eta
        float s1[KILN_LIST];        // Adam, RAdam: sqrt(1 - beta2^t); NAdam: the first moment's rate; ASGD: -eta
        int n[KILN_LIST];           // values
        int flag[KILN_LIST];        // SGD: the momentum buffer starts as d (first step)
        int start[KILN_LIST + 1];   // each parameter's first block; start[count]: the blocks launched
        int count;
        float s2[KILN_LIST];        // NAdam: 1 - beta2^t; RAdam: the rectification (< 0: none); ASGD: mu
      };
      static_assert(sizeof(kiln_param_list) == 2056, "OptimKernels.Table.BYTES");

      // Which parameter block blockIdx.x works on, and its range of values.
      __device__ __forceinline__ int kiln_list_entry(const kiln_param_list& L, int* from, int* to) {
        int t = 0;
        while (t + 1 < L.count && L.start[t + 1] <= (int) blockIdx.x) t++;
        *from = ((int) blockIdx.x - L.start[t]) * KILN_CHUNK;
        *to = min(*from + KILN_CHUNK, L.n[t]);
        return t;
      }

      // SGD with momentum, dampening, weight decay and Nesterov (torch.optim.SGD's rule).
      extern "C" __global__ void kiln_sgd(kiln_param_list L, float lr, float momentum, float dampening,
                                          float weightDecay, int nesterov) {
        int from, to;
        int t = kiln_list_entry(L, &from, &to);
        float* p = L.p[t];
        const float* g = L.g[t];
        float* buf = L.a[t];
        int first = L.flag[t];
        for (int i = from + threadIdx.x; i < to; i += blockDim.x) {
          float d = g[i] + weightDecay * p[i];
          if (buf == nullptr) {
            p[i] -= lr * d;
            continue;
          }
          float b = first ? d : momentum * buf[i] + (1.0f - dampening) * d;
          buf[i] = b;
          p[i] -= lr * (nesterov ? d + momentum * b : b);
        }
      }

      // Adam / AdamW (PyTorch 1.13's _single_tensor_adam).
      extern "C" __global__ void kiln_adam(kiln_param_list L, float b1, float b2, float keep1, float keep2,
                                           float l2, float shrink, float eps) {
        int from, to;
        int t = kiln_list_entry(L, &from, &to);
        float* p = L.p[t];
        const float* g = L.g[t];
        float* m = L.a[t];
        float* v = L.b[t];
        float* vmax = L.c[t];
        float stepSize = L.s0[t], bc2Sqrt = L.s1[t];
        for (int i = from + threadIdx.x; i < to; i += blockDim.x) {
          float pi = p[i] * shrink;
          float gi = l2 == 0.0f ? g[i] : fmaf(pi, l2, g[i]);
          float mi = fmaf(gi, keep1, m[i] * b1);
          float vi = fmaf(keep2 * gi, gi, v[i] * b2);
          m[i] = mi;
          v[i] = vi;
          if (vmax != nullptr) {
            vi = fmaxf(vmax[i], vi);
            vmax[i] = vi;
          }
          float denom = sqrtf(vi) / bc2Sqrt + eps;
          p[i] = pi - stepSize * mi / denom;
        }
      }

      // RMSprop, plain, centered and with momentum (PyTorch 1.13's _single_tensor_rmsprop).
      extern "C" __global__ void kiln_rmsprop(kiln_param_list L, float lr, float alpha, float keep, float eps,
                                              float weightDecay, float momentum) {
        int from, to;
        int t = kiln_list_entry(L, &from, &to);
        float* p = L.p[t];
        const float* g = L.g[t];
        float* v = L.a[t];
        float* buf = L.b[t];
        float* gAvg = L.c[t];
        for (int i = from + threadIdx.x; i < to; i += blockDim.x) {
          float gi = weightDecay == 0.0f ? g[i] : fmaf(p[i], weightDecay, g[i]);
          float vi = fmaf(keep * gi, gi, v[i] * alpha);
          v[i] = vi;
          float avg;
          if (gAvg != nullptr) {
            float ga = fmaf(gi, keep, gAvg[i] * alpha);
            gAvg[i] = ga;
            avg = sqrtf(fmaf(-ga, ga, vi)) + eps;
          } else {
            avg = sqrtf(vi) + eps;
          }
          if (buf != nullptr) {
            float b = buf[i] * momentum + gi / avg;
            buf[i] = b;
            p[i] = fmaf(b, -lr, p[i]);
          } else {
            p[i] = p[i] + -lr * gi / avg;
          }
        }
      }

      // Adagrad (PyTorch 1.13's _single_tensor_adagrad); s0 is -clr, each parameter's at its own step.
      extern "C" __global__ void kiln_adagrad(kiln_param_list L, float eps, float weightDecay) {
        int from, to;
        int t = kiln_list_entry(L, &from, &to);
        float* p = L.p[t];
        const float* g = L.g[t];
        float* sum = L.a[t];
        float rate = L.s0[t];
        for (int i = from + threadIdx.x; i < to; i += blockDim.x) {
          float gi = weightDecay == 0.0f ? g[i] : fmaf(p[i], weightDecay, g[i]);
          float s = fmaf(gi, gi, sum[i]);
          sum[i] = s;
          p[i] = p[i] + rate * gi / (sqrtf(s) + eps);
        }
      }

      // Adadelta (PyTorch 1.13's _single_tensor_adadelta).
      extern "C" __global__ void kiln_adadelta(kiln_param_list L, float lr, float rho, float keep, float eps,
                                               float weightDecay) {
        int from, to;
        int t = kiln_list_entry(L, &from, &to);
        float* p = L.p[t];
        const float* g = L.g[t];
        float* v = L.a[t];
        float* u = L.b[t];
        for (int i = from + threadIdx.x; i < to; i += blockDim.x) {
          float gi = weightDecay == 0.0f ? g[i] : fmaf(p[i], weightDecay, g[i]);
          float vi = fmaf(keep * gi, gi, v[i] * rho);
          v[i] = vi;
          float delta = sqrtf(u[i] + eps) / sqrtf(vi + eps) * gi;
          u[i] = fmaf(keep * delta, delta, u[i] * rho);
          p[i] = fmaf(delta, -lr, p[i]);
        }
      }
      // Adamax (PyTorch 1.13's _single_tensor_adamax); s0 is -lr / (1 - beta1^t). amax keeps a NaN.
      extern "C" __global__ void kiln_adamax(kiln_param_list L, float b1, float keep1, float b2, float eps,
                                             float weightDecay) {
        int from, to;
        int t = kiln_list_entry(L, &from, &to);
        float* p = L.p[t];
        const float* g = L.g[t];
        float* m = L.a[t];
        float* u = L.b[t];
        float rate = L.s0[t];
        for (int i = from + threadIdx.x; i < to; i += blockDim.x) {
          float gi = weightDecay == 0.0f ? g[i] : fmaf(p[i], weightDecay, g[i]);
          float mi = fmaf(gi, keep1, m[i] * b1);
          m[i] = mi;
          float a = u[i] * b2;
          float b = fabsf(gi) + eps;
          float ui = (a != a || a > b) ? a : b;
          if (b != b) ui = b;
          u[i] = ui;
          p[i] = p[i] + rate * mi / ui;
        }
      }

      // The Adam family's moments of element i (NAdam, RAdam): the gradient with weight decay g, then
      // m = b1 m + (1 - b1) g and v = b2 v + (1 - b2) g g, as the CPU loops round them; returns g.
      __device__ __forceinline__ float kiln_moments(const float* p, const float* g, float* m, float* v, int i, float b1,
                                                    float keep1, float b2, float keep2, float weightDecay) {
        float gi = weightDecay == 0.0f ? g[i] : fmaf(p[i], weightDecay, g[i]);
        m[i] = fmaf(gi, keep1, m[i] * b1);
        v[i] = fmaf(keep2 * gi, gi, v[i] * b2);
        return gi;
      }

      // NAdam (PyTorch 1.13's _single_tensor_nadam); s0, s1: the rates of the gradient and of the
      // first moment (negative), s2: 1 - beta2^t.
      extern "C" __global__ void kiln_nadam(kiln_param_list L, float b1, float keep1, float b2, float keep2, float eps,
                                            float weightDecay) {
        int from, to;
        int t = kiln_list_entry(L, &from, &to);
        float* p = L.p[t];
        const float* g = L.g[t];
        float* m = L.a[t];
        float* v = L.b[t];
        float rateG = L.s0[t], rateM = L.s1[t], bc2 = L.s2[t];
        for (int i = from + threadIdx.x; i < to; i += blockDim.x) {
          float gi = kiln_moments(p, g, m, v, i, b1, keep1, b2, keep2, weightDecay);
          float mi = m[i], vi = v[i];
          float denom = sqrtf(vi / bc2) + eps;
          float pi = p[i] + rateG * gi / denom;
          p[i] = pi + rateM * mi / denom;
        }
      }

      // RAdam (PyTorch 1.13's _single_tensor_radam); s0: 1 - beta1^t, s1: sqrt(1 - beta2^t), s2: the
      // rectification, negative where PyTorch takes the unadapted step.
      extern "C" __global__ void kiln_radam(kiln_param_list L, float lr, float b1, float keep1, float b2, float keep2,
                                            float eps, float weightDecay) {
        int from, to;
        int t = kiln_list_entry(L, &from, &to);
        float* p = L.p[t];
        const float* g = L.g[t];
        float* m = L.a[t];
        float* v = L.b[t];
        float bc1 = L.s0[t], bc2Sqrt = L.s1[t], rect = L.s2[t];
        for (int i = from + threadIdx.x; i < to; i += blockDim.x) {
          float gi = kiln_moments(p, g, m, v, i, b1, keep1, b2, keep2, weightDecay);
          float mi = m[i], vi = v[i];
          float a = mi / bc1 * lr;
          if (rect >= 0.0f) {
            float r = 1.0f / (sqrtf(vi) + eps) * bc2Sqrt;
            a = a * r * rect;
          }
          p[i] = p[i] - a;
        }
      }

      // Rprop (PyTorch 1.13's _single_tensor_rprop): a: prev, b: step_size.
      extern "C" __global__ void kiln_rprop(kiln_param_list L, float etaminus, float etaplus, float minStep,
                                            float maxStep) {
        int from, to;
        int t = kiln_list_entry(L, &from, &to);
        float* p = L.p[t];
        const float* g = L.g[t];
        float* prev = L.a[t];
        float* size = L.b[t];
        for (int i = from + threadIdx.x; i < to; i += blockDim.x) {
          float gi = g[i];
          float prod = gi * prev[i];
          float f = prod > 0.0f ? etaplus : (prod < 0.0f ? etaminus : (prod == 0.0f ? 1.0f : prod));
          float s = size[i] * f;
          s = s != s ? s : fminf(fmaxf(s, minStep), maxStep);
          size[i] = s;
          if (f == etaminus) gi = 0.0f;
          float sg = gi > 0.0f ? 1.0f : (gi < 0.0f ? -1.0f : gi);
          p[i] = p[i] - sg * s;
          prev[i] = gi;
        }
      }

      // ASGD (PyTorch 1.13's _single_tensor_asgd): a: ax; s0: 1 - lambd * eta, s1: -eta, s2: mu (1: ax copies p).
      extern "C" __global__ void kiln_asgd(kiln_param_list L, float weightDecay) {
        int from, to;
        int t = kiln_list_entry(L, &from, &to);
        float* p = L.p[t];
        const float* g = L.g[t];
        float* ax = L.a[t];
        float shrink = L.s0[t], rate = L.s1[t], mu = L.s2[t];
        for (int i = from + threadIdx.x; i < to; i += blockDim.x) {
          float gi = weightDecay == 0.0f ? g[i] : fmaf(p[i], weightDecay, g[i]);
          float pi = fmaf(gi, rate, p[i] * shrink);
          p[i] = pi;
          ax[i] = mu == 1.0f ? pi : ax[i] + (pi - ax[i]) * mu;
        }
      }
      """;

  private OptimKernels() {}

  /**
   * One parameter's part in a step: device addresses (0 for none) and its scalars.
   *
   * @param a SGD: the momentum buffer, 0 without momentum; Adam: the first moment
   * @param b Adam: the second moment
   * @param c Adam: the maximum of the second moment, 0 unless amsgrad
   * @param s0 Adam: {@code lr / (1 - beta1^t)}
   * @param s1 Adam: {@code sqrt(1 - beta2^t)}
   * @param first SGD: the momentum buffer starts as this step's direction
   */
  public record Entry(long p, long g, long a, long b, long c, float s0, float s1, float s2, int n, boolean first) {
    public static Entry sgd(long p, long g, long buf, int n, boolean first) {
      return new Entry(p, g, buf, 0, 0, 0f, 0f, 0f, n, first);
    }

    public static Entry adam(long p, long g, long m, long v, long vmax, int n, float stepSize, float bc2Sqrt) {
      return new Entry(p, g, m, v, vmax, stepSize, bc2Sqrt, 0f, n, false);
    }

    /** RMSprop, Adagrad, Adadelta, Adamax, Rprop: up to three state slots and one per-parameter scalar. */
    public static Entry slots(long p, long g, long a, long b, long c, int n, float s0) {
      return new Entry(p, g, a, b, c, s0, 0f, 0f, n, false);
    }

    /** NAdam, RAdam: two state slots and three per-parameter scalars. */
    public static Entry slots(long p, long g, long a, long b, int n, float s0, float s1, float s2) {
      return new Entry(p, g, a, b, 0L, s0, s1, s2, n, false);
    }
  }

  /** SGD steps of {@code entries}, {@value #LIST} per launch. */
  public static void sgd(List<Entry> entries, float lr, float momentum, float dampening, float weightDecay, boolean nesterov) {
    launch(kernel("kiln_sgd"), entries, lr, momentum, dampening, weightDecay, nesterov ? 1 : 0);
  }

  /** Adam steps of {@code entries} (each with its own bias corrections), {@value #LIST} per launch. */
  public static void adam(List<Entry> entries, float b1, float b2, float keep1, float keep2, float l2, float shrink, float eps) {
    launch(kernel("kiln_adam"), entries, b1, b2, keep1, keep2, l2, shrink, eps);
  }

  /** RMSprop steps of {@code entries}, {@value #LIST} per launch. */
  public static void rmsprop(List<Entry> entries, float lr, float alpha, float keep, float eps, float weightDecay, float momentum) {
    launch(kernel("kiln_rmsprop"), entries, lr, alpha, keep, eps, weightDecay, momentum);
  }

  /** Adagrad steps of {@code entries} (each with its own decayed rate, {@code s0}), {@value #LIST} per launch. */
  public static void adagrad(List<Entry> entries, float eps, float weightDecay) {
    launch(kernel("kiln_adagrad"), entries, eps, weightDecay);
  }

  /** Adadelta steps of {@code entries}, {@value #LIST} per launch. */
  public static void adadelta(List<Entry> entries, float lr, float rho, float keep, float eps, float weightDecay) {
    launch(kernel("kiln_adadelta"), entries, lr, rho, keep, eps, weightDecay);
  }

  /** Adamax steps of {@code entries} (each with its own {@code -lr / (1 - beta1^t)}), {@value #LIST} per launch. */
  public static void adamax(List<Entry> entries, float b1, float keep1, float b2, float eps, float weightDecay) {
    launch(kernel("kiln_adamax"), entries, b1, keep1, b2, eps, weightDecay);
  }

  /** NAdam steps of {@code entries}, {@value #LIST} per launch. */
  public static void nadam(List<Entry> entries, float b1, float keep1, float b2, float keep2, float eps, float weightDecay) {
    launch(kernel("kiln_nadam"), entries, b1, keep1, b2, keep2, eps, weightDecay);
  }

  /** RAdam steps of {@code entries}, {@value #LIST} per launch. */
  public static void radam(List<Entry> entries, float lr, float b1, float keep1, float b2, float keep2, float eps,
      float weightDecay) {
    launch(kernel("kiln_radam"), entries, lr, b1, keep1, b2, keep2, eps, weightDecay);
  }

  /** Rprop steps of {@code entries}, {@value #LIST} per launch. */
  public static void rprop(List<Entry> entries, float etaminus, float etaplus, float minStep, float maxStep) {
    launch(kernel("kiln_rprop"), entries, etaminus, etaplus, minStep, maxStep);
  }

  /** ASGD steps of {@code entries} (each with its own eta and mu), {@value #LIST} per launch. */
  public static void asgd(List<Entry> entries, float weightDecay) {
    launch(kernel("kiln_asgd"), entries, weightDecay);
  }

  private static CudaKernel kernel(String name) {
    return CudaModule.of("kiln_optim.cu", SOURCE).kernel(name);
  }

  private static void launch(CudaKernel k, List<Entry> entries, Object... scalars) {
    for (int from = 0; from < entries.size(); from += LIST) {
      List<Entry> part = entries.subList(from, Math.min(from + LIST, entries.size()));
      try (Table table = new Table(part)) {
        if (table.blocks == 0) {
          continue;
        }
        Object[] args = new Object[scalars.length + 1];
        args[0] = table.bytes;
        System.arraycopy(scalars, 0, args, 1, scalars.length);
        k.launch(table.blocks, 1, CudaKernel.BLOCK, 0, args);
      }
    }
  }

  /**
   * A {@code kiln_param_list} in host memory, handed to {@code cuLaunchKernel} as the first
   * argument's value (the driver copies kernel arguments at the launch, so it may be freed after).
   */
  static final class Table implements AutoCloseable {
    static final int BYTES = 2056;
    private static final int P = 0, G = 256, A = 512, B = 768, C = 1024, S0 = 1280, S1 = 1408, N = 1536, FLAG = 1664,
        START = 1792, COUNT = 1924, S2 = 1928;

    final BytePointer bytes = new BytePointer(BYTES);
    final int blocks;

    Table(List<Entry> entries) {
      if (entries.size() > LIST) {
        throw new IllegalArgumentException(entries.size() + " parameters in one table, at most " + LIST);
      }
      bytes.fill(0);
      int block = 0;
      for (int t = 0; t < entries.size(); t++) {
        Entry e = entries.get(t);
        bytes.putLong(P + 8L * t, e.p());
        bytes.putLong(G + 8L * t, e.g());
        bytes.putLong(A + 8L * t, e.a());
        bytes.putLong(B + 8L * t, e.b());
        bytes.putLong(C + 8L * t, e.c());
        bytes.putFloat(S0 + 4L * t, e.s0());
        bytes.putFloat(S1 + 4L * t, e.s1());
        bytes.putFloat(S2 + 4L * t, e.s2());
        bytes.putInt(N + 4L * t, e.n());
        bytes.putInt(FLAG + 4L * t, e.first() ? 1 : 0);
        bytes.putInt(START + 4L * t, block);
        block += (int) ((e.n() + (long) CHUNK - 1) / CHUNK); // long: n near 2^31 would overflow
      }
      bytes.putInt(START + 4L * entries.size(), block);
      bytes.putInt(COUNT, entries.size());
      blocks = block;
    }

    @Override
    public void close() {
      bytes.close();
    }
  }
}
