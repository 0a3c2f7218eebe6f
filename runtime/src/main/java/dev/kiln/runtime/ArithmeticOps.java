package dev.kiln.runtime;

import static dev.kiln.runtime.DeferredFusions.addOntoProduct;
import static dev.kiln.runtime.ReductionOps.expandAlong;
import static dev.kiln.runtime.Ops.*;

import dev.kiln.runtime.cpu.ArithmeticKernels;
import dev.kiln.runtime.cpu.CpuKernels;
import dev.kiln.runtime.cpu.IdKernels;
import dev.kiln.runtime.cpu.WhereKernels;
import java.util.Arrays;
import java.util.function.BinaryOperator;

/**
 * Element-wise arithmetic of two tensors and its broadcasting: add, sub, mul, div, shift, scale, compare and
 * where, with expand and the gradient reductions back to an operand's shape. Their public entries are in
 * {@link Ops}.
 */
final class ArithmeticOps {
  private ArithmeticOps() {}

  /**
   * Null when {@code b}'s shape is {@code a}'s or a suffix of it (the kernels' own broadcast: b
   * repeated over a's leading dimensions); otherwise {@code a op b} computed another way: {@code op}
   * of the swapped operands when {@code a}'s shape is a suffix of {@code b}'s (add and mul commute,
   * to the bit); on the CPU the {@link #repeated} kernels when one operand repeats along one run of
   * the other's dimensions; else {@code op} of both expanded to the broadcast shape (copies on the
   * tape, whose backward sums the gradient back).
   *
   * @throws IllegalArgumentException naming {@code op} and both shapes when they do not broadcast
   */
  private static Tensor broadcast(String op, Tensor a, Tensor b, boolean cuda, BinaryOperator<Tensor> again) {
    int[] as = a.shape(), bs = b.shape();
    if (isSuffix(bs, as)) {
      return null;
    }
    if (isSuffix(as, bs)) {
      return again.apply(b, a);
    }
    int[] shape = Shapes.broadcast(op, as, bs);
    Tensor result = cuda ? null : repeated(op, a, b, shape);
    return result != null ? result : again.apply(expand(a, shape, false), expand(b, shape, false));
  }

  /**
   * On the CPU, {@code a + b} or {@code a * b} ({@code shape} their broadcast shape, neither a
   * suffix of the other) where one operand has that shape and the other repeats over it along one
   * run of dimensions ({@code [N, C, 1, 1]} over {@code [N, C, H, W]}, a column over a matrix): the
   * compiled models' repeated kernels read the small one by index instead of expanding it, and its
   * gradient is summed over the repeats in one pass. Null for any other pair (the caller expands).
   */
  private static Tensor repeated(String op, Tensor a, Tensor b, int[] shape) {
    int[] as = a.shape(), bs = b.shape();
    boolean aBig = Arrays.equals(shape, as);
    if (!aBig && !Arrays.equals(shape, bs)) {
      return null; // both stretch
    }
    Tensor big = aBig ? a : b, small = aBig ? b : a; // add and mul commute, to the bit
    int[] run = repeatRun(shape, small.shape());
    if (run == null) {
      return null;
    }
    int outer = run[0], size = run[1], inner = run[2];
    boolean mul = op.equals("mul");
    float[] out = ArrayPool.floats(big.numel()); // overwritten (both kernels)
    float[] bd = big.readBuffer(), sd = small.readBuffer();
    int bo = big.offset(), so = small.offset();
    if (mul) {
      CpuKernels.mulRepeatedForward(out, 0, bd, bo, sd, so, outer, size, inner);
    } else {
      CpuKernels.addRepeatedForward(out, 0, bd, bo, sd, so, outer, size, inner, false);
    }
    if (!track(big, small)) {
      return Tensor.wrap(out, shape).sealed(); // the op's own array: what reads it may defer (Deferred)
    }
    return Tensor.ofNode(out, shape, new Node(big, small) {
      @Override protected boolean savesTensors() { // a mul's backward reads both inputs; an add's neither
        return mul;
      }

      @Override public String name() {
        return op;
      }

      @Override protected Tensor[] backward(Tensor g) {
        float[] gd = g.readBuffer();
        int go = g.offset();
        Tensor dBig = null, dSmall = null;
        if (needsGrad(0)) {
          if (mul) {
            float[] d = new float[out.length];
            CpuKernels.mulRepeatedBackward(d, 0, gd, go, sd, so, outer, size, inner, false);
            dBig = Tensor.gradient(d, shape);
          } else {
            dBig = g;
          }
        }
        if (needsGrad(1)) {
          float[] d = new float[small.numel()];
          CpuKernels.sumRepeatedBackward(d, 0, gd, go, null, 0, mul ? bd : null, bo, outer, size, inner, false);
          dSmall = Tensor.gradient(d, small.shape());
        }
        return new Tensor[] {dBig, dSmall};
      }
    });
  }

  /**
   * {@code [outer, size, inner]} of {@code small} (padded with leading 1s) repeated over {@code
   * shape} along one run of dimensions, or null when the stretched dimensions are not one run.
   */
  private static int[] repeatRun(int[] shape, int[] small) {
    int rank = shape.length, lead = rank - small.length, first = -1, last = -1;
    for (int d = 0; d < rank; d++) {
      int own = d < lead ? 1 : small[d - lead];
      if (own == 1 && shape[d] != 1) {
        first = first < 0 ? d : first;
        last = d;
      }
    }
    for (int d = Math.max(first, 0); d <= last; d++) {
      if ((d < lead ? 1 : small[d - lead]) != 1) {
        return null;
      }
    }
    return new int[] {
      Shapes.numel(Arrays.copyOfRange(shape, 0, Math.max(first, 0))),
      Shapes.numel(Arrays.copyOfRange(shape, Math.max(first, 0), last + 1)),
      Shapes.numel(Arrays.copyOfRange(shape, last + 1, rank))
    };
  }

  private static boolean isSuffix(int[] small, int[] big) {
    return small.length <= big.length
        && Arrays.equals(small, Arrays.copyOfRange(big, big.length - small.length, big.length));
  }

  public static Tensor expand(Tensor x, int... shape) {
    return expand(x, shape, true);
  }

  /** {@link #expand}; {@code x} itself, not a copy, where nothing stretches and {@code copy} is false (broadcasting's). */
  static Tensor expand(Tensor x, int[] shape, boolean copy) {
    if (IntOps.isIds(x)) { // ids repeated: ids (IntOps)
      return IntOps.keepingIds(x, f -> expand(f, shape, copy));
    }
    requireFloat("expand", x);
    int[] xs = x.shape();
    int rank = shape.length, lead = rank - xs.length;
    if (lead < 0) {
      throw new IllegalArgumentException("expand: shape " + Shapes.toString(xs) + " does not expand to "
          + Arrays.toString(shape) + ": it has fewer dimensions");
    }
    int[] to = shape.clone();
    for (int d = 0; d < rank; d++) {
      int own = d >= lead ? xs[d - lead] : -2;
      if (to[d] == -1 && own != -2) {
        to[d] = own;
      }
      if (to[d] < 0 || own != -2 && own != 1 && own != to[d]) {
        throw new IllegalArgumentException("expand: shape " + Shapes.toString(xs) + " does not expand to "
            + Arrays.toString(shape) + (to[d] < 0
                ? ": size " + shape[d] + " at dimension " + d + (own == -2 ? " (-1 only keeps an existing dimension's size)"
                    : shape[d] != -1 ? " (sizes are 0 or more, or -1 to keep one)" : "")
                : ": size " + own + " at dimension " + d + " is neither " + to[d] + " nor 1"));
      }
    }
    int total = Shapes.numel(to);
    int[] padded = new int[rank];
    Arrays.fill(padded, 0, lead, 1);
    System.arraycopy(xs, 0, padded, lead, xs.length);
    Tensor t = lead == 0 ? x : reshape(x, padded);
    int[] cur = padded.clone();
    int[][] runs = Shapes.expandRuns(padded, to);
    for (int[] run : runs) { // each run of size-1 dimensions stretched in one pass
      System.arraycopy(to, run[3], cur, run[3], run[4] - run[3]);
      t = expandAlong(t, new Along(run[0], run[1], run[2]), cur.clone());
    }
    // nothing stretched (the shape itself, or new leading 1s): a copy all the same, as documented
    return copy && runs.length == 0 ? expandAlong(t, new Along(total, 1, 1), to) : t;
  }

  public static Tensor compare(String op, Tensor a, Tensor b, Comparison c) {
    Devices.onCuda(op, a, b); // one device, or an error naming both
    int[] shape = Shapes.broadcast(op, a.shape(), b.shape());
    if (a.device().isCuda() && CudaOps.hasComparison(op) && Shapes.repeatsOver(shape, a.shape())
        && Shapes.repeatsOver(shape, b.shape())) { // a causal mask's mask.eq(0): one kernel, no round trip
      return CudaOps.compare(op, a, b, shape);
    }
    float[] av = a.toFloatArray(), bv = b.toFloatArray();
    int[] ai = broadcastIndex(shape, a.shape()), bi = broadcastIndex(shape, b.shape());
    float[] out = new float[ai.length];
    for (int i = 0; i < out.length; i++) {
      out[i] = c.test(av[ai[i]], bv[bi[i]]) ? 1f : 0f;
    }
    return Tensor.wrap(out, shape).to(a.device());
  }

  public static Tensor where(Tensor condition, Tensor a, Tensor b) {
    Devices.onCuda("where", a, b);
    Devices.onCuda("where", condition, a);
    requireFloat("where", a);
    requireFloat("where", b);
    int[] shape = Shapes.broadcast("where", Shapes.broadcast("where", condition.shape(), a.shape()), b.shape());
    // an operand stretched along other than leading dimensions (a padding mask [N, 1, 1, S] over scores
    // [N, H, S, S]) is expanded first (a branch's expansion sums its gradient back); then one kernel each way
    Tensor c = Shapes.repeatsOver(shape, condition.shape()) || condition.dtype() != DType.FLOAT32 ? condition
        : expand(condition, shape, false);
    Tensor ea = Shapes.repeatsOver(shape, a.shape()) ? a : expand(a, shape, false);
    Tensor eb = Shapes.repeatsOver(shape, b.shape()) ? b : expand(b, shape, false);
    if (Shapes.repeatsOver(shape, c.shape())) {
      return a.device().isCuda() ? CudaOps.where(c, ea, eb, shape) : whereRepeated(c, ea, eb, shape);
    }
    float[] cv = condition.toFloatArray(), av = a.toFloatArray(), bv = b.toFloatArray();
    int[] ci = broadcastIndex(shape, condition.shape());
    int[] ai = broadcastIndex(shape, a.shape()), bi = broadcastIndex(shape, b.shape());
    float[] out = new float[ci.length];
    boolean[] takeA = new boolean[ci.length];
    for (int i = 0; i < out.length; i++) {
      takeA[i] = cv[ci[i]] != 0;
      out[i] = takeA[i] ? av[ai[i]] : bv[bi[i]];
    }
    Tensor result = Tensor.wrap(out, shape).to(a.device());
    if (!track(a, b)) {
      return result;
    }
    return Tensor.ofNode(result, new Node(a, b) {
      @Override protected boolean savesInputs() { // the mask, not the inputs
        return false;
      }

      @Override public String name() {
        return "where";
      }

      @Override protected Tensor[] backward(Tensor g) {
        float[] gd = g.toFloatArray();
        float[] da = needsGrad(0) ? new float[av.length] : null;
        float[] db = needsGrad(1) ? new float[bv.length] : null;
        for (int i = 0; i < gd.length; i++) {
          if (takeA[i] && da != null) {
            da[ai[i]] += gd[i];
          } else if (!takeA[i] && db != null) {
            db[bi[i]] += gd[i];
          }
        }
        return new Tensor[] {
          da == null ? null : Tensor.gradient(da, a.shape()).to(a.device()),
          db == null ? null : Tensor.gradient(db, b.shape()).to(b.device())
        };
      }
    });
  }

  /** {@link #where} on the CPU, every operand repeating over the result's leading dimensions. */
  private static Tensor whereRepeated(Tensor c, Tensor a, Tensor b, int[] shape) {
    int n = Shapes.numel(shape), nc = c.numel(), na = a.numel(), nb = b.numel();
    float[] out = new float[n];
    boolean track = track(a, b);
    float[] cv = track ? c.toFloatArray() : c.readBuffer(); // the backward's own copy: the mask may be written to later
    int co = track ? 0 : c.offset();
    if (n > 0) {
      WhereKernels.forward(out, cv, co, nc, a.readBuffer(), a.offset(), na, b.readBuffer(), b.offset(), nb, n);
    }
    if (!track) {
      return Tensor.wrap(out, shape);
    }
    return Tensor.ofNode(out, shape, new Node(a, b) {
      @Override protected boolean savesInputs() { // the condition, not the inputs
        return false;
      }

      @Override public String name() {
        return "where";
      }

      @Override protected Tensor[] backward(Tensor g) {
        float[] gd = g.readBuffer();
        int go = g.offset();
        float[] da = needsGrad(0) ? new float[na] : null;
        float[] db = needsGrad(1) ? new float[nb] : null;
        if (da != null && n > 0) {
          WhereKernels.backward(da, gd, go, cv, co, nc, na, true, n);
        }
        if (db != null && n > 0) {
          WhereKernels.backward(db, gd, go, cv, co, nc, nb, false, n);
        }
        return new Tensor[] {da == null ? null : Tensor.gradient(da, a.shape()), db == null ? null : Tensor.gradient(db, b.shape())};
      }
    });
  }

  /** For each element of {@code shape}, the flat index of the element an operand of shape {@code own} (broadcast to it) gives. */
  static int[] broadcastIndex(int[] shape, int[] own) {
    int n = Shapes.numel(shape), rank = shape.length, lead = rank - own.length;
    int[] step = new int[rank];
    int stride = 1;
    for (int d = own.length - 1; d >= 0; d--) {
      step[d + lead] = own[d] == 1 ? 0 : stride;
      stride *= own[d];
    }
    int[] out = new int[n];
    int[] index = new int[rank];
    int at = 0;
    for (int i = 0; i < n; i++) {
      out[i] = at;
      for (int d = rank - 1; d >= 0; d--) {
        at += step[d];
        if (++index[d] < shape[d]) {
          break;
        }
        at -= step[d] * shape[d];
        index[d] = 0;
      }
    }
    return out;
  }

  /** Sums a gradient of {@code big}'s shape down to {@code small}'s (the inverse of suffix broadcasting). */
  private static Tensor reduceTo(Tensor g, Tensor small, int repeats) {
    if (repeats == 1) {
      return g.viewOf(small.shape(), null);
    }
    int n = small.numel();
    float[] out = new float[n];
    CpuKernels.sumRowsBackward(out, 0, g.readBuffer(), g.offset(), null, 0, null, 0, repeats, n, 1f, false);
    return Tensor.wrap(out, small.shape());
  }

  public static Tensor add(Tensor a, Tensor b) {
    if (IntOps.isIds(a) || IntOps.isIds(b)) { // ids + ids: ids; ids + floats: floats (IntOps)
      return IntOps.binary(IdKernels.Op.ADD, a, b, Ops::add);
    }
    boolean cuda = Devices.onCuda("add", a, b);
    Tensor broadcast = broadcast("add", a, b, cuda, Ops::add);
    if (broadcast != null) {
      return broadcast;
    }
    if (cuda) {
      return CudaOps.add(a, b);
    }
    int repeats = broadcastRepeats("add", a, b);
    Tensor ontoProduct = repeats == 1 && !track(a, b) ? addOntoProduct(a, b) : null;
    if (ontoProduct != null) {
      return ontoProduct;
    }
    int n = b.numel();
    Node node = !track(a, b) ? null : new Node(a, b) {
      @Override protected boolean savesTensors() {
        return false;
      }

      @Override public String name() {
        return "add";
      }

      @Override protected Tensor[] backward(Tensor g) {
        return new Tensor[] {g, needsGrad(1) ? reduceTo(g, b, repeats) : null};
      }
    };
    if (repeats == 1 && a.isSealed() && b.isSealed() && a.deferrableOver() && b.deferrableOver()) {
      // a residual join's sum, computed when read (Deferred.Add): a ReLU after it adds and clamps in one pass
      return Tensor.deferred(new Deferred.Add(a, b), a.shape(), node, a, b);
    }
    float[] out = ArrayPool.floats(a.numel()); // overwritten (both kernels)
    if (repeats == 1) { // one shape: the compiled models' add kernel, split over the threads
      CpuKernels.addForward(out, 0, a.readBuffer(), a.offset(), b.readBuffer(), b.offset(), n, false);
    } else {
      CpuKernels.addBiasRows(out, 0, a.readBuffer(), a.offset(), b.readBuffer(), b.offset(), repeats, n);
    }
    return node == null ? Tensor.wrap(out, a.shape()).sealed() : // the op's own array: what reads it may defer (Deferred)
        Tensor.ofNode(out, a.shape(), node);
  }

  public static Tensor mul(Tensor a, Tensor b) {
    if (IntOps.isIds(a) || IntOps.isIds(b)) {
      return IntOps.binary(IdKernels.Op.MUL, a, b, Ops::mul);
    }
    boolean cuda = Devices.onCuda("mul", a, b);
    Tensor broadcast = broadcast("mul", a, b, cuda, Ops::mul);
    if (broadcast != null) {
      return broadcast;
    }
    if (cuda) {
      return CudaOps.mul(a, b);
    }
    int repeats = broadcastRepeats("mul", a, b);
    int n = b.numel();
    float[] ad = a.readBuffer(), bd = b.readBuffer();
    int ao = a.offset(), bo = b.offset();
    float[] out = new float[a.numel()];
    if (repeats == 1) { // one shape: the compiled models' gate kernels, forward and backward
      CpuKernels.mulForward(out, 0, ad, ao, bd, bo, n);
    } else {
      for (int r = 0; r < repeats; r++) {
        for (int j = 0; j < n; j++) {
          out[r * n + j] = ad[ao + r * n + j] * bd[bo + j];
        }
      }
    }
    if (!track(a, b)) {
      return Tensor.wrap(out, a.shape());
    }
    return Tensor.ofNode(out, a.shape(), new Node(a, b) {
      @Override public String name() {
        return "mul";
      }

      @Override protected Tensor[] backward(Tensor g) {
        float[] gd = g.readBuffer();
        int go = g.offset();
        Tensor da = null, db = null;
        if (repeats == 1) {
          if (needsGrad(0)) {
            float[] d = new float[n];
            CpuKernels.mulBackward(d, 0, gd, go, bd, bo, n, false);
            da = Tensor.gradient(d, a.shape());
          }
          if (needsGrad(1)) {
            float[] d = new float[n];
            CpuKernels.mulBackward(d, 0, gd, go, ad, ao, n, false);
            db = Tensor.gradient(d, b.shape());
          }
          return new Tensor[] {da, db};
        }
        if (needsGrad(0)) {
          float[] d = new float[a.numel()];
          for (int r = 0; r < repeats; r++) {
            for (int j = 0; j < n; j++) {
              d[r * n + j] = gd[go + r * n + j] * bd[bo + j];
            }
          }
          da = Tensor.gradient(d, a.shape());
        }
        if (needsGrad(1)) { // (a compiled model's tensor field's kernel: the same bits)
          float[] d = new float[n];
          CpuKernels.sumRowsBackward(d, 0, gd, go, null, 0, ad, ao, repeats, n, 1f, false);
          db = Tensor.gradient(d, b.shape());
        }
        return new Tensor[] {da, db};
      }
    });
  }

  public static Tensor shift(Tensor a, float c) {
    if (IntOps.isIds(a)) { // ids + 0.5: floats (IntOps)
      return shift(IntOps.toFloat(a), c);
    }
    Tensor constant = Tensor.full(c, 1).to(a.device());
    return add(a.reshape(a.numel(), 1), constant).reshape(a.shape());
  }

  public static Tensor scale(Tensor a, float s) {
    if (IntOps.isIds(a)) { // ids * 0.5, ids / 2: floats (IntOps)
      return scale(IntOps.toFloat(a), s);
    }
    if (Devices.onCuda("scale", a)) {
      return CudaOps.scale(a, s);
    }
    requireFloat("scale", a);
    Node node = track(a) ? scaleNode(a, s) : null;
    if (a.isSealed() && a.deferrableOver()) {
      // computed when read (Deferred.Scale): a softmax along the last dimension reads the scaled rows block by block
      // (attention's q @ k^T / sqrt(d)), and this output is written only if something else reads it
      return Tensor.deferred(new Deferred.Scale(a, s), a.shape(), node, a);
    }
    float[] out = ArrayPool.floats(a.numel()); // overwritten
    CpuKernels.scale(out, 0, a.readBuffer(), a.offset(), out.length, s, false); // (compiled models' kernel too)
    return node == null ? Tensor.wrap(out, a.shape()) : Tensor.ofNode(out, a.shape(), node);
  }

  /** {@link #scale}'s node on the CPU: the gradient scaled, in place when the engine owns it. */
  private static Node scaleNode(Tensor a, float s) {
    return new Node(a) {
      @Override protected boolean savesInputs() { // PyTorch saves the scalar (x * 2. goes through once), not x
        return false;
      }

      @Override public String name() {
        return "scale";
      }

      @Override protected Tensor[] backward(Tensor g) {
        if (g.device().isCuda()) {
          return new Tensor[] {scale(g, s)};
        }
        float[] own = takeGradient(g); // scaled in place when only the engine held it
        float[] d = own != null ? own : new float[g.numel()];
        CpuKernels.scale(d, 0, g.readBuffer(), g.offset(), d.length, s, false);
        return new Tensor[] {Tensor.gradient(d, g.shape())};
      }
    };
  }

  public static Tensor sub(Tensor a, Tensor b) {
    if (IntOps.isIds(a) || IntOps.isIds(b)) {
      return IntOps.binary(IdKernels.Op.SUB, a, b, Ops::sub);
    }
    return arithmetic("sub", a, b);
  }

  public static Tensor div(Tensor a, Tensor b) {
    if (IntOps.isIds(a) || IntOps.isIds(b)) { // a true division: floats, as PyTorch's ids / 2 (floor_divide keeps ids)
      Devices.onCuda("div", a, b);
      return arithmetic("div", IntOps.toFloat(a), IntOps.toFloat(b));
    }
    return arithmetic("div", a, b);
  }

  /**
   * {@link #sub} or {@link #div}: both operands of the broadcast shape, or one of it and the other
   * repeated along one run of its dimensions ({@code [N, C, 1, 1]} over {@code [N, C, H, W]}, a row
   * over a matrix), read by index and its gradient summed over the repeats in one pass; any other
   * pair is expanded first (the expansion's gradient sums back).
   */
  private static Tensor arithmetic(String op, Tensor a, Tensor b) {
    boolean cuda = Devices.onCuda(op, a, b);
    requireFloat(op, a); // errors name sub or div, not an op they are made of
    requireFloat(op, b);
    int[] shape = Shapes.broadcast(op, a.shape(), b.shape());
    boolean div = op.equals("div");
    if (cuda) { // a broadcast divisor or dividend expanded on the device (its expansion sums the gradient back)
      return div ? CudaOps.div(expand(a, shape, false), expand(b, shape, false)) : add(a, neg(b));
    }
    boolean aFull = Arrays.equals(a.shape(), shape), bFull = Arrays.equals(b.shape(), shape);
    int[] run = aFull == bFull ? null : repeatRun(shape, aFull ? b.shape() : a.shape());
    if (!(aFull && bFull) && run == null) {
      return arithmetic(op, aFull ? a : expand(a, shape, false), bFull ? b : expand(b, shape, false));
    }
    float[] ad = a.readBuffer(), bd = b.readBuffer();
    int ao = a.offset(), bo = b.offset();
    int n = Shapes.numel(shape);
    float[] out = new float[n];
    boolean repeated = run != null, smallFirst = !aFull; // when repeated: which operand repeats
    int outer = repeated ? run[0] : 1, size = repeated ? run[1] : 1, inner = repeated ? run[2] : n;
    // a sub's operand that is a suffix of the other (a bias row) sums its gradient as add's does, so
    // that CPU and CUDA (a + (-b)) agree to the bit
    boolean suffix = repeated && isSuffix(aFull ? b.shape() : a.shape(), shape);
    float[] big = aFull ? ad : bd, small = aFull ? bd : ad;
    int bigOff = aFull ? ao : bo, smallOff = aFull ? bo : ao;
    if (!repeated) {
      if (div) {
        ArithmeticKernels.divForward(out, 0, ad, ao, bd, bo, n);
      } else {
        ArithmeticKernels.subForward(out, 0, ad, ao, bd, bo, n);
      }
    } else if (div) {
      ArithmeticKernels.divRepeatedForward(out, 0, big, bigOff, small, smallOff, outer, size, inner, smallFirst);
    } else {
      ArithmeticKernels.subRepeatedForward(out, 0, big, bigOff, small, smallOff, outer, size, inner, smallFirst);
    }
    if (!track(a, b)) {
      return Tensor.wrap(out, shape);
    }
    return Tensor.ofNode(out, shape, new Node(a, b) {
      @Override protected boolean savesTensors() { // a division's backward reads b and the quotient; a sub's nothing
        return div;
      }

      @Override public String name() {
        return op;
      }

      @Override protected Tensor[] backward(Tensor g) {
        float[] gd = g.readBuffer();
        int go = g.offset();
        if (!div) { // d(a - b): g to a, -g to b, each summed over its repeats as add sums them
          Tensor da = null;
          if (needsGrad(0)) {
            if (aFull) {
              da = g;
            } else if (suffix) { // a bias row: add's reduceTo, in float, row by row
              da = reduceTo(g, a, size);
            } else {
              float[] d = new float[a.numel()];
              CpuKernels.sumRepeatedBackward(d, 0, gd, go, null, 0, null, 0, outer, size, inner, false);
              da = Tensor.gradient(d, a.shape());
            }
          }
          float[] db = needsGrad(1) ? new float[b.numel()] : null;
          if (db != null && bFull) {
            ArithmeticKernels.subtrahendBackward(db, 0, gd, go, n, false);
          } else if (db != null && suffix) { // -(the sum): the same float as the sum of the negated terms
            CpuKernels.sumRowsBackward(db, 0, gd, go, null, 0, null, 0, size, inner, -1f, false);
          } else if (db != null) {
            ArithmeticKernels.subtrahendSumBackward(db, 0, gd, go, outer, size, inner, false);
          }
          return new Tensor[] {da, db == null ? null : Tensor.gradient(db, b.shape())};
        }
        float[] da = needsGrad(0) ? new float[a.numel()] : null;
        float[] db = needsGrad(1) ? new float[b.numel()] : null;
        if (!repeated) {
          ArithmeticKernels.numeratorBackward(da, 0, gd, go, bd, bo, n, false);
          ArithmeticKernels.denominatorBackward(db, 0, gd, go, out, 0, bd, bo, n, false);
        } else if (aFull) { // b repeats
          ArithmeticKernels.numeratorRepeatedBackward(da, 0, gd, go, bd, bo, outer, size, inner, false);
          ArithmeticKernels.denominatorSumBackward(db, 0, gd, go, out, 0, bd, bo, outer, size, inner, false);
        } else { // a repeats
          ArithmeticKernels.numeratorSumBackward(da, 0, gd, go, bd, bo, outer, size, inner, false);
          ArithmeticKernels.denominatorBackward(db, 0, gd, go, out, 0, bd, bo, n, false);
        }
        return new Tensor[] {da == null ? null : Tensor.gradient(da, a.shape()), db == null ? null : Tensor.gradient(db, b.shape())};
      }
    });
  }
}
