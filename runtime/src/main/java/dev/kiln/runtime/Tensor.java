package dev.kiln.runtime;

import dev.kiln.runtime.cpu.PointwiseKernels;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * A dense, row-major float32 tensor of any rank, with reverse-mode automatic differentiation.
 *
 * <p>Tensors are contiguous: {@link #reshape} and {@link #flatten} return views that share the
 * storage. Operations on tensors that {@link #requiresGrad()} record a {@link Node} on the
 * tape (unless inside {@link Kiln#noGrad()}); {@link #backward()} walks it and accumulates
 * gradients into the leaves' {@link #grad()} until they are zeroed.
 *
 * <p>The values live on the Java heap, in native memory, or both (see {@code Storage}): eager
 * kernels use {@link #buffer()}/{@link #readBuffer()}, OpenBLAS uses {@link #readNative()}/
 * {@link #writeNative()}, and each side is copied from the other only when it is stale.
 */
public final class Tensor {
  private final Storage storage;
  private final int offset;
  private final int[] shape;
  private final int[] strides;
  private final int numel;
  private final DType dtype;
  private boolean requiresGrad;
  private boolean everRequiredGrad;
  private Tensor grad;
  private final Node gradFn;
  /**
   * Set on a gradient a backward made for the engine alone ({@link #gradient}): no other tensor,
   * node or caller holds it or its array, so the engine may adopt it as a leaf's first {@link
   * #grad()}, add another gradient into it, or lend it to the next backward to overwrite
   * ({@link Node#takeGradient}). Cleared whenever it is handed on to anything that might keep it.
   */
  private boolean engineOwned;
  /**
   * Set on a gradient a CPU max pool's backward made for its input, the output of a ReLU (this node),
   * with the ReLU's mask applied already: the ReLU's backward passes it on as it is. The engine clears it
   * where it adds another gradient to this one (the ReLU's output read elsewhere too).
   */
  Node reluMasked;

  private Tensor(float[] data, int offset, int[] shape, DType dtype, Node gradFn) {
    this(Storage.ofHeap(data), offset, shape, dtype, gradFn);
  }

  private Tensor(Storage storage, int offset, int[] shape, DType dtype, Node gradFn) {
    this.storage = storage;
    this.offset = offset;
    this.shape = shape;
    this.strides = Shapes.contiguousStrides(shape);
    this.numel = Shapes.numel(shape);
    this.dtype = dtype;
    this.gradFn = gradFn;
    this.requiresGrad = gradFn != null;
    if (offset < 0 || offset + numel > storage.length()) {
      throw new IllegalArgumentException(
          "tensor of shape " + Shapes.toString(shape) + " needs " + numel + " values from offset " + offset
              + " but its buffer holds " + storage.length());
    }
    if (gradFn != null) {
      gradFn.outputVersion = storage.version;
    }
  }

  // ---------------------------------------------------------------- factories

  /** A tensor holding a copy of {@code data} with the given shape (rank 1 if no shape is given). */
  public static Tensor of(float[] data, int... shape) {
    int[] s = shape.length == 0 ? new int[] {data.length} : shape.clone();
    if (Shapes.numel(s) != data.length) {
      throw new IllegalArgumentException(
          "Tensor.of: shape " + Shapes.toString(s) + " needs " + Shapes.numel(s) + " values, got " + data.length);
    }
    return new Tensor(data.clone(), 0, s, DType.FLOAT32, null);
  }

  /** A rank-0 tensor. */
  public static Tensor scalar(float value) {
    return new Tensor(new float[] {value}, 0, new int[0], DType.FLOAT32, null);
  }

  /**
   * Class indices for a loss such as cross-entropy: a rank-1 {@link DType#INT32} tensor. A negative
   * index is kept (PyTorch's -100 marks a target a loss ignores); the losses and embeddings refuse
   * the ones they cannot use, naming them.
   */
  public static Tensor labels(int... classes) {
    float[] d = new float[classes.length];
    for (int i = 0; i < classes.length; i++) {
      if (Math.abs((long) classes[i]) > DType.MAX_EXACT_INT) { // negative ones mark targets to ignore (-100)
        throw new IllegalArgumentException("Tensor.labels: class index " + classes[i] + " at " + i + " is out of range (|index| <= 2^24)");
      }
      d[i] = classes[i];
    }
    return new Tensor(d, 0, new int[] {classes.length}, DType.INT32, null);
  }

  public static Tensor zeros(int... shape) {
    return new Tensor(new float[Shapes.numel(shape)], 0, shape.clone(), DType.FLOAT32, null);
  }

  public static Tensor ones(int... shape) {
    return full(1f, shape);
  }

  public static Tensor full(float value, int... shape) {
    float[] d = new float[Shapes.numel(shape)];
    Arrays.fill(d, value);
    return new Tensor(d, 0, shape.clone(), DType.FLOAT32, null);
  }

  /** Standard normal samples from the global generator ({@link Kiln#manualSeed}). */
  public static Tensor randn(int... shape) {
    float[] d = new float[Shapes.numel(shape)];
    // the draws nextDouble() would give, taken as one block (one step of a generator other threads may share)
    long start = Kiln.generator().reserve(d.length + (d.length & 1));
    for (int i = 0; i < d.length; i += 2) {
      // Box-Muller: two normals from two uniforms.
      double u1 = 1.0 - Generator.doubleAt(start, i);
      double u2 = Generator.doubleAt(start, i + 1);
      double r = Math.sqrt(-2.0 * Math.log(u1));
      d[i] = (float) (r * Math.cos(2 * Math.PI * u2));
      if (i + 1 < d.length) {
        d[i + 1] = (float) (r * Math.sin(2 * Math.PI * u2));
      }
    }
    return new Tensor(d, 0, shape.clone(), DType.FLOAT32, null);
  }

  /** Uniform samples in {@code [low, high)} from the global generator. */
  public static Tensor uniform(float low, float high, int... shape) {
    if (!(low <= high)) {
      throw new IllegalArgumentException("Tensor.uniform: low " + low + " is above high " + high);
    }
    float[] d = new float[Shapes.numel(shape)];
    long start = Kiln.generator().reserve(d.length);
    for (int i = 0; i < d.length; i++) {
      d[i] = (float) (low + (high - low) * Generator.doubleAt(start, i));
    }
    return new Tensor(d, 0, shape.clone(), DType.FLOAT32, null);
  }

  /**
   * {@code start, start + step, ...} below {@code end} (above it for a negative step), PyTorch's
   * {@code torch.arange(start, end, step)}: {@code ceil((end - start) / step)} values, each {@code
   * start + i step} computed in double and rounded once (PyTorch's vectorised kernel may differ in
   * the last bit). Always FLOAT32 (PyTorch's integer {@code arange(5)} is int64).
   *
   * @throws IllegalArgumentException for a step of 0, a step away from end, or non-finite bounds
   */
  public static Tensor arange(double start, double end, double step) {
    if (!Double.isFinite(start) || !Double.isFinite(end) || !Double.isFinite(step) || step == 0) {
      throw new IllegalArgumentException("arange: start, end and step must be finite and step nonzero, got (" + start + ", " + end
          + ", " + step + ")");
    }
    if ((end - start) * step < 0) {
      throw new IllegalArgumentException("arange: a step of " + step + " never goes from " + start + " to " + end);
    }
    double count = Math.ceil((end - start) / step);
    if (count > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException("arange: " + (long) count + " values are too many for one tensor");
    }
    float[] v = new float[(int) count];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) (start + i * step);
    }
    return wrap(v, v.length);
  }

  /** {@code 0, 1, ..., end - 1} as floats: {@code arange(0, end, 1)}. */
  public static Tensor arange(double end) {
    return arange(0, end, 1);
  }

  /**
   * {@code steps} evenly spaced values from {@code start} to {@code end}, both included, PyTorch's
   * {@code torch.linspace}: in float, a fused multiply-add each, the first half up from start and
   * the second half down from end, so both ends are exact (one value: start). PyTorch's vectorised
   * kernel may differ in the last bit inside the range.
   *
   * @throws IllegalArgumentException for a negative count or non-finite bounds
   */
  public static Tensor linspace(double start, double end, int steps) {
    if (steps < 0 || !Double.isFinite(start) || !Double.isFinite(end)) {
      throw new IllegalArgumentException("linspace: start and end must be finite and steps >= 0, got (" + start + ", " + end + ", "
          + steps + ")");
    }
    float s = (float) start, e = (float) end;
    float step = steps > 1 ? (e - s) / (steps - 1) : 0f;
    float[] v = new float[steps];
    for (int i = 0; i < steps; i++) {
      v[i] = i < steps / 2 || steps == 1 ? Math.fma(step, i, s) : Math.fma(-step, steps - i - 1, e); // one rounding each
    }
    return wrap(v, steps);
  }

  /**
   * Standard normal samples of {@code like}'s shape on its device, PyTorch's {@code torch.randn_like(like)} (a VAE's {@code eps =
   * torch.randn_like(std)}); they take no gradient.
   */
  public static Tensor randnLike(Tensor like) {
    return randn(like.shape()).to(like.device());
  }

  /** Uniform samples in {@code [0, 1)} of {@code like}'s shape on its device, PyTorch's {@code torch.rand_like(like)}. */
  public static Tensor randLike(Tensor like) {
    return rand(like.shape()).to(like.device());
  }

  /** Uniform samples in {@code [0, 1)}. */
  public static Tensor rand(int... shape) {
    return uniform(0f, 1f, shape);
  }

  /**
   * Wraps an array without copying, for kernels and readers that built it. The caller gives up the
   * array: later writes to it are visible through the tensor.
   */
  public static Tensor wrap(float[] data, int... shape) {
    return new Tensor(data, 0, shape.clone(), DType.FLOAT32, null);
  }

  /**
   * A gradient computed by a backward into {@code fresh}, an array made for it and held by nothing
   * else, which the engine owns from here on ({@link #engineOwned}): for the backwards of Kiln's own
   * CPU nodes, in place of {@link #wrap} for such arrays.
   */
  static Tensor gradient(float[] fresh, int... shape) {
    Tensor t = new Tensor(fresh, 0, shape.clone(), DType.FLOAT32, null);
    t.engineOwned = t.numel == fresh.length;
    return t;
  }

  /**
   * A CPU tensor of {@code shape} whose values {@code recipe} computes when first needed ({@link Storage#deferred}),
   * from the values of {@code sources} (for a batch norm's recipe a {@link #isSealed sealed} one; a linear's input, weight
   * and bias; a null one, a missing bias, is left out), each of which computes them before it is written; {@code gradFn}
   * its node, or null.
   */
  static Tensor deferred(Deferred recipe, int[] shape, Node gradFn, Tensor... sources) {
    Storage[] storages = new Storage[sources.length];
    for (int i = 0; i < sources.length; i++) {
      storages[i] = sources[i] == null ? null : sources[i].storage;
    }
    return new Tensor(Storage.deferred(Shapes.numel(shape), recipe, storages), 0, shape.clone(), DType.FLOAT32, gradFn);
  }

  /** The recipe of this tensor's values while they are not computed yet and it covers its whole storage ({@link Deferred}); else null. */
  Deferred pendingValues() {
    return offset == 0 && numel == storage.length() ? storage.pending() : null;
  }

  /**
   * {@link Storage#takeOneRead} of this tensor's storage when the tensor is all of it (offset 0): the recipe for one
   * read that computes the values into the reader's own array, or null.
   */
  Deferred takeOneRead() {
    return offset == 0 && numel == storage.length() ? storage.takeOneRead() : null;
  }

  /**
   * The values, for reading once at {@link #offset()}: while they are deferred and not read this way before, computed
   * into an array of the thread's {@link ArrayPool} and not kept (the tensor stays deferred: a later read computes them
   * again, into its own array); else {@link #readBuffer()}. Hand the array to {@link #doneReading} after.
   */
  float[] readBufferOnce() {
    Deferred recipe = takeOneRead();
    if (recipe == null) {
      return readBuffer();
    }
    float[] values = ArrayPool.floats(numel); // overwritten
    recipe.fill(values);
    return values;
  }

  /** After a {@link #readBufferOnce}: gives the array back to the pool unless it is the storage's own. */
  void doneReading(float[] values) {
    if (!storage.holds(values)) {
      ArrayPool.give(values);
    }
  }

  /** Whether a recipe reading this tensor may be deferred: its own values are not deeper in recipes than a few ({@link Storage#deferredDepth}). */
  boolean deferrableOver() {
    return storage.deferredDepth() < Storage.MOST_DEFERRED_DEPTH - 1;
  }

  /** The values behind this tensor and its views (for {@link Intermediates}). */
  Storage storage() {
    return storage;
  }

  /** Whether every write to this tensor's values goes through its storage (see {@link Storage#seal}), so that a {@link Deferred} recipe may read it. */
  boolean isSealed() {
    return storage.isSealed();
  }

  /** Marks this tensor's storage sealed (its heap array made by the op that returns it, handed to no one); returns this tensor. */
  Tensor sealed() {
    storage.seal();
    return this;
  }

  /** The permute still to be made behind this tensor's values when the tensor is its whole result (offset 0, the permute's shape), else null. */
  Deferred.Permute deferredPermute() {
    return pendingValues() instanceof Deferred.Permute p && Arrays.equals(shape, p.shape()) ? p : null;
  }

  /** Whether the engine owns this gradient (see {@link #gradient}); the mark stays. */
  boolean isEngineOwned() {
    return engineOwned;
  }

  /**
   * {@code data} from index {@code offset} on, without copying (as {@link #wrap}): a tensor whose
   * values do not start at its array's first element, as a view into a larger storage has, for
   * tests of kernels that must read from {@link #offset()}.
   */
  static Tensor wrapAt(float[] data, int offset, int... shape) {
    return new Tensor(data, offset, shape.clone(), DType.FLOAT32, null);
  }

  /**
   * Like {@link #wrap} with an explicit type, e.g. labels gathered by a data loader.
   *
   * @throws IllegalArgumentException for {@link DType#INT32} data holding a value that is not a
   *     whole number of at most 2^24 in magnitude (int32 values are stored as exact floats)
   */
  public static Tensor wrap(float[] data, DType dtype, int... shape) {
    if (dtype == DType.INT32) {
      for (int i = 0; i < data.length; i++) {
        float v = data[i];
        if (v != Math.rint(v) || Math.abs(v) > DType.MAX_EXACT_INT) {
          throw new IllegalArgumentException("Tensor.wrap: int32 data must hold whole numbers of at most 2^24 in magnitude,"
              + " got " + v + " at index " + i);
        }
      }
    }
    return new Tensor(data, 0, shape.clone(), dtype, null);
  }

  /**
   * The result of an operation recorded on the tape: {@code data} (given up by the caller) with
   * {@code gradFn} as the node {@link #backward()} calls. For {@link Ops} and generated code.
   */
  public static Tensor ofNode(float[] data, int[] shape, Node gradFn) {
    if (gradFn == null) {
      throw new IllegalArgumentException("Tensor.ofNode: gradFn must not be null (use wrap for plain data)");
    }
    return new Tensor(data, 0, shape.clone(), DType.FLOAT32, gradFn);
  }

  // ---------------------------------------------------------------- shape and values

  /** A copy of the shape. */
  public int[] shape() {
    return shape.clone();
  }

  /** Size of one dimension; negative indices count from the end. */
  public int size(int dim) {
    return shape[Shapes.normalizeDim(dim, shape.length)];
  }

  /** A copy of the row-major strides, in elements. */
  public int[] stride() {
    return strides.clone();
  }

  public int dim() {
    return shape.length;
  }

  public int numel() {
    return numel;
  }

  public DType dtype() {
    return dtype;
  }

  /** Where this tensor's values live and its operations run. */
  public Device device() {
    return storage.device();
  }

  /**
   * This tensor on {@code device}: the same tensor when it is already there, else a copy there.
   * Like PyTorch's {@code to}, the copy is on the tape: its gradient goes back to this device.
   */
  public Tensor to(Device device) {
    if (device == device()) {
      return this;
    }
    Storage copy;
    if (device.isCuda()) {
      // class indices keep their host copy: cross-entropy checks them there, without a download
      copy = Storage.uploaded(storage.heapForRead(), offset, numel, dtype == DType.INT32);
    } else {
      float[] values = new float[numel];
      dev.kiln.runtime.cuda.Cuda.get().download(storage.cudaForRead() + (long) offset * Float.BYTES, values, 0, numel);
      copy = Storage.ofHeap(values);
    }
    if (!requiresGrad || !Kiln.isGradEnabled()) {
      return new Tensor(copy, 0, shape.clone(), dtype, null);
    }
    Device from = device();
    return new Tensor(copy, 0, shape.clone(), dtype, new Node(this) {
      @Override protected boolean savesTensors() {
        return false;
      }

      @Override public String name() {
        return "to(" + device + ")";
      }

      @Override protected Tensor[] backward(Tensor g) {
        return new Tensor[] {g.to(from)};
      }
    });
  }

  /**
   * Moves this tensor's values, and its gradient's, to {@code device} in place: the tensor object
   * stays the same, so optimizers and modules that hold it need no update. For
   * {@code Module.to}; every view sharing the storage moves with it.
   */
  public void moveTo(Device device) {
    storage.moveTo(device);
    if (grad != null) {
      grad.moveTo(device);
    }
  }

  /**
   * A new tensor on {@code device} whose values the caller is about to write: zeros on the CPU,
   * uninitialised device memory on CUDA. For kernels' outputs.
   */
  public static Tensor empty(Device device, int... shape) {
    int[] s = shape.clone();
    Storage st = device.isCuda() ? Storage.onCuda(Shapes.numel(s)) : Storage.ofHeap(new float[Shapes.numel(s)]);
    return new Tensor(st, 0, s, DType.FLOAT32, null);
  }

  /** As {@link #empty(Device, int...)}, an {@link DType#INT32} tensor: indices a kernel is about to write (as floats). */
  static Tensor emptyIndices(Device device, int... shape) {
    Tensor t = empty(device, shape);
    return new Tensor(t.storage, 0, t.shape, DType.INT32, null);
  }

  /**
   * These values typed as ids ({@link DType#INT32}), sharing the storage, without a gradient: for a fresh result of a
   * float op that only moved ids, whole and in range already ({@code IntOps.asIds} on the device, where checking them
   * would read them back).
   */
  Tensor typedAsIds() {
    return new Tensor(storage, offset, shape.clone(), DType.INT32, null);
  }

  /** Zeros on {@code device}. */
  public static Tensor zeros(Device device, int... shape) {
    if (device.isCpu()) {
      return zeros(shape);
    }
    return new Tensor(Storage.cudaZeros(Shapes.numel(shape)), 0, shape.clone(), DType.FLOAT32, null);
  }

  /**
   * {@code values} (a tensor no one else holds, e.g. a kernel's output) as the result of an
   * operation recorded on the tape with {@code gradFn}. The device-neutral form of
   * {@link #ofNode(float[], int[], Node)}.
   */
  public static Tensor ofNode(Tensor values, Node gradFn) {
    if (gradFn == null) {
      throw new IllegalArgumentException("Tensor.ofNode: gradFn must not be null");
    }
    return new Tensor(values.storage, values.offset, values.shape.clone(), values.dtype, gradFn);
  }

  /**
   * The device address of this tensor's first value, current, for reading (uploads when stale).
   * For CUDA kernels; the tensor must live on CUDA.
   */
  public long readCuda() {
    return storage.cudaForRead() + (long) offset * Float.BYTES;
  }

  /** The device address of this tensor's first value, for writing: host copies become stale. */
  public long writeCuda() {
    return storage.cudaForWrite() + (long) offset * Float.BYTES;
  }

  /**
   * The backing array, row-major from {@link #offset()}, for reading and writing. For kernels and
   * optimizers: writes bypass autograd. Use {@link #readBuffer()} when only reading. Writes made
   * through the array after the tensor has been used again (a native kernel may have copied it)
   * are not seen there: call {@code buffer()} again before each round of writes.
   */
  public float[] buffer() {
    return storage.heapForWrite();
  }

  /**
   * The backing array for reading only: unlike {@link #buffer()} it keeps a native copy current,
   * so a parameter read here is not copied to native memory again. Do not write through it.
   */
  public float[] readBuffer() {
    return storage.heapForRead();
  }

  /**
   * The values in native memory (index 0 is the storage's first element: add {@link #offset()}),
   * for reading only. For native kernels; requires {@code dev.kiln.runtime.cpu.Blas.isNative()}.
   * Use the pointer at once: a gradient's native copy is freed when the gradient is replaced or
   * dropped ({@link #setGrad}, {@code zeroGrad(true)}; the tensor keeps its values on the heap).
   */
  public org.bytedeco.javacpp.FloatPointer readNative() {
    return storage.nativeForRead();
  }

  /** Like {@link #readNative()} for writing: the heap array becomes stale until read again. */
  public org.bytedeco.javacpp.FloatPointer writeNative() {
    return storage.nativeForWrite();
  }

  /** Whether the native copy is current (the native kernels may use it without copying). */
  public boolean isNativeCurrent() {
    return storage.isNativeCurrent();
  }

  /**
   * Whether the heap copy is current, so that reading the values on the host costs no copy. Of a
   * CUDA tensor: false until something reads it on the host (a download), which is how a test
   * tells that an op kept, say, an embedding table on the device.
   */
  public boolean isHeapCurrent() {
    return storage.isHeapCurrent();
  }

  /** Sets every value to zero in place, on whichever side (heap or native) is current. */
  public void zero() {
    storage.zero(offset, offset + numel);
  }

  // In-place updates, PyTorch's add_, sub_, mul_, copy_ and fill_: for a tutorial's hand-written
  // step (w.subInPlace(w.grad().mul(lr)) under noGrad) and an optimizer of one's own. A tensor that
  // requires grad is written only under Kiln.noGrad(), as PyTorch refuses an in-place op on a
  // leaf that requires grad; a forward that saved this tensor then refuses its backward (the
  // version check), as PyTorch's does.

  /** {@code this += alpha * other} in place (PyTorch's {@code add_(other, alpha=alpha)}); {@code other} broadcasts to this shape. */
  public Tensor addInPlace(Tensor other, float alpha) {
    return assign("addInPlace", alpha == 1f ? Ops.add(detach(), other) : Ops.add(detach(), Ops.scale(other, alpha)));
  }

  /** {@code this += other} in place (PyTorch's {@code add_}). */
  public Tensor addInPlace(Tensor other) {
    return addInPlace(other, 1f);
  }

  /** {@code this -= other} in place (PyTorch's {@code sub_}); {@code other} broadcasts to this shape. */
  public Tensor subInPlace(Tensor other) {
    return assign("subInPlace", Ops.sub(detach(), other));
  }

  /** {@code this *= scalar} in place (PyTorch's {@code mul_}). */
  public Tensor mulInPlace(float scalar) {
    return assign("mulInPlace", Ops.scale(detach(), scalar));
  }

  /** Copies {@code src}'s values into this tensor (PyTorch's {@code copy_}); {@code src} broadcasts to this shape, from either device. */
  public Tensor copyFrom(Tensor src) {
    Tensor values = src.detach().to(device());
    return assign("copyFrom", Arrays.equals(values.shape, shape) ? values : Ops.expand(values, shape));
  }

  /** Sets every value to {@code value} in place (PyTorch's {@code fill_}). */
  public Tensor fill(float value) {
    return assign("fill", Tensor.full(value, shape).to(device()));
  }

  /** Writes {@code values} (this shape, this device) over this tensor's values; see the note above {@link #addInPlace(Tensor, float)}. */
  private Tensor assign(String op, Tensor values) {
    if (requiresGrad && Kiln.isGradEnabled()) {
      throw new IllegalStateException(op + ": this tensor requires grad, so it may be written in place only under "
          + "Kiln.noGrad() (try (var g = Kiln.noGrad()) { w.subInPlace(w.grad().mul(lr)); }), as PyTorch's torch.no_grad()");
    }
    if (dtype != DType.FLOAT32) {
      throw new IllegalArgumentException(op + ": in-place updates take FLOAT32 tensors, this one is " + dtype);
    }
    if (!Arrays.equals(values.shape, shape)) {
      throw new IllegalArgumentException(op + ": the result has shape " + Shapes.toString(values.shape) + ", not this tensor's "
          + Shapes.toString(shape) + ": the other operand must broadcast to this shape");
    }
    if (device().isCuda()) {
      dev.kiln.runtime.cuda.Cuda.get().copy(values.readCuda(), writeCuda(), numel);
      java.lang.ref.Reference.reachabilityFence(values); // its block stays its own until the copy is queued (CudaLayerOps)
    } else {
      System.arraycopy(values.readBuffer(), values.offset, buffer(), offset, numel);
    }
    return this;
  }

  /** Index of the first element in {@link #buffer()}. */
  public int offset() {
    return offset;
  }

  /** The single value of a one-element tensor. */
  public float item() {
    if (numel != 1) {
      throw new IllegalStateException(
          "item(): tensor of shape " + Shapes.toString(shape) + " has " + numel + " elements, expected 1");
    }
    return storage.heapForRead()[offset];
  }

  /** The value at a full index, e.g. {@code t.get(2, 5)}. */
  public float get(int... index) {
    return storage.heapForRead()[offset + flatIndex(index)];
  }

  private int flatIndex(int[] index) {
    if (index.length != shape.length) {
      throw new IllegalArgumentException(
          "index " + Arrays.toString(index) + " has " + index.length + " coordinates for a tensor of shape "
              + Shapes.toString(shape));
    }
    int flat = 0;
    for (int i = 0; i < index.length; i++) {
      if (index[i] < 0 || index[i] >= shape[i]) {
        throw new IndexOutOfBoundsException(
            "index " + Arrays.toString(index) + " is out of bounds for shape " + Shapes.toString(shape));
      }
      flat += index[i] * strides[i];
    }
    return flat;
  }

  /** How many times the storage was handed out for writing ({@link Storage#version}). */
  int version() {
    return storage.version;
  }

  /** A copy of the values in row-major order. */
  public float[] toFloatArray() {
    return Arrays.copyOfRange(storage.heapForRead(), offset, offset + numel);
  }

  /** The values rounded to ints, for label and index tensors. */
  public int[] toIntArray() {
    int[] out = new int[numel];
    float[] data = storage.heapForRead();
    for (int i = 0; i < numel; i++) {
      out[i] = Math.round(data[offset + i]);
    }
    return out;
  }

  /**
   * The maxima along {@code dim}, which is removed, and their indices (PyTorch's {@code x.max(dim)}:
   * {@code _, predicted = torch.max(outputs, 1)} is {@code outputs.max(1).indices()}). The values
   * are on the tape; see {@link Ops#extremaAlong}.
   */
  public ValuesAndIndices max(int dim) {
    return Ops.extremaAlong(this, dim, false, true);
  }

  /** {@link #max(int)}, the dimension kept with size 1 when {@code keepDim} ({@code x.sub(x.max(1, true).values())}). */
  public ValuesAndIndices max(int dim, boolean keepDim) {
    return Ops.extremaAlong(this, dim, keepDim, true);
  }

  /**
   * The {@code k} largest values along {@code dim}, sorted, and their indices (PyTorch's {@code
   * x.topk(k, dim)}): {@code out.topk(5, 1).indices()} for top-5 accuracy; see {@link Ops#topk}.
   */
  public ValuesAndIndices topk(int k, int dim) {
    return Ops.topk(this, k, dim, true);
  }

  /** {@link #topk(int, int)}, or the k smallest when {@code largest} is false. */
  public ValuesAndIndices topk(int k, int dim, boolean largest) {
    return Ops.topk(this, k, dim, largest);
  }

  /** The minima along {@code dim} and their indices, as {@link #max(int)}. */
  public ValuesAndIndices min(int dim) {
    return Ops.extremaAlong(this, dim, false, false);
  }

  /** {@link #min(int)}, the dimension kept with size 1 when {@code keepDim}. */
  public ValuesAndIndices min(int dim, boolean keepDim) {
    return Ops.extremaAlong(this, dim, keepDim, false);
  }

  /** The largest value, as a rank-0 tensor (PyTorch's {@code x.max()}; NaN if any is); see {@link Ops#extremum}. */
  public Tensor max() {
    return Ops.extremum(this, true);
  }

  /** The smallest value, as a rank-0 tensor (PyTorch's {@code x.min()}). */
  public Tensor min() {
    return Ops.extremum(this, false);
  }

  /** Indices of the maxima along {@code dim} (first one on ties), as an {@link DType#INT32} tensor. */
  public Tensor argmax(int dim) {
    if (device().isCuda() && dtype == DType.FLOAT32 && shape.length > 0) { // a reduction on the device, the same rule
      try (var g = Kiln.noGrad()) {
        return Ops.extremaAlong(this, dim, false, true).indices();
      }
    }
    int d = Shapes.normalizeDim(dim, shape.length);
    int outer = 1;
    for (int i = 0; i < d; i++) {
      outer *= shape[i];
    }
    int n = shape[d];
    int inner = strides[d];
    int[] outShape = new int[shape.length - 1];
    for (int i = 0, k = 0; i < shape.length; i++) {
      if (i != d) {
        outShape[k++] = shape[i];
      }
    }
    float[] out = new float[outer * inner];
    dev.kiln.runtime.cpu.IndexKernels.argmaxAlong(out, 0, storage.heapForRead(), offset, outer, n, inner); // (compiled models' too)
    return new Tensor(out, 0, outShape, DType.INT32, null).to(device());
  }

  /** {@link #argmax(int)}, the dimension kept with size 1 when {@code keepDim} (PyTorch's {@code x.argmax(dim, keepdim=True)}). */
  public Tensor argmax(int dim, boolean keepDim) {
    Tensor indices = argmax(dim);
    return keepDim ? indices.reshape(Ops.reducedShape(shape, Shapes.normalizeDim(dim, shape.length), true)) : indices;
  }

  /**
   * Indices of the minima along {@code dim} (the first on ties, a NaN before any number), as an
   * {@link DType#INT32} tensor: PyTorch's {@code x.argmin(dim)}; see {@link #min(int)}.
   */
  public Tensor argmin(int dim) {
    return argmin(dim, false);
  }

  /** {@link #argmin(int)}, the dimension kept with size 1 when {@code keepDim}. */
  public Tensor argmin(int dim, boolean keepDim) {
    try (var g = Kiln.noGrad()) {
      return Ops.extremaAlong(this, dim, keepDim, false).indices();
    }
  }

  /**
   * The values sorted along {@code dim}, ascending or ({@code descending}) descending, with where
   * each came from: PyTorch's {@code x.sort(dim, descending)} ({@link Ops#sort}: NaN counted above
   * every number, ties in their original order). The values are on the tape.
   */
  public ValuesAndIndices sort(int dim, boolean descending) {
    return Ops.sort(this, dim, descending);
  }

  /** {@link #sort(int, boolean)} ascending: PyTorch's {@code x.sort(dim)}. */
  public ValuesAndIndices sort(int dim) {
    return Ops.sort(this, dim, false);
  }

  /** The indices that sort the values along {@code dim} ({@link #sort(int, boolean)}'s), PyTorch's {@code x.argsort(dim, descending)}. */
  public Tensor argsort(int dim, boolean descending) {
    try (var g = Kiln.noGrad()) {
      return Ops.sort(this, dim, descending).indices();
    }
  }

  /** {@link #argsort(int, boolean)} ascending. */
  public Tensor argsort(int dim) {
    return argsort(dim, false);
  }

  /** This tensor tiled {@code repeats[d]} times along each dimension, PyTorch's {@code x.repeat(...)} ({@link Ops#repeat}). */
  public Tensor repeat(int... repeats) {
    return Ops.repeat(this, repeats);
  }

  /** This tensor reversed along each of {@code dims}, PyTorch's {@code x.flip(dims)} ({@link Ops#flip}); a copy. */
  public Tensor flip(int... dims) {
    return Ops.flip(this, dims);
  }

  /** The running sums along {@code dim}, PyTorch's {@code x.cumsum(dim)} ({@link Ops#cumsum}). */
  public Tensor cumsum(int dim) {
    return Ops.cumsum(this, dim);
  }

  /** {@code log(sum(exp(x)))} along {@code dim}, which is removed: PyTorch's {@code x.logsumexp(dim)} ({@link Ops#logsumexp}, stable). */
  public Tensor logsumexp(int dim) {
    return Ops.logsumexp(this, dim, false);
  }

  /** {@link #logsumexp(int)}, the dimension kept with size 1 when {@code keepDim}. */
  public Tensor logsumexp(int dim, boolean keepDim) {
    return Ops.logsumexp(this, dim, keepDim);
  }

  /** The p-norm along {@code dim}, which is removed: PyTorch's {@code x.norm(p, dim)} ({@link Ops#norm}). */
  public Tensor norm(float p, int dim) {
    return Ops.norm(this, p, dim, false);
  }

  /** {@link #norm(float, int)}, the dimension kept with size 1 when {@code keepDim}. */
  public Tensor norm(float p, int dim, boolean keepDim) {
    return Ops.norm(this, p, dim, keepDim);
  }

  /** The 2-norm of all the values, as a rank-0 tensor: PyTorch's {@code x.norm()}. */
  public Tensor norm() {
    return Ops.norm(Ops.reshape(this, -1), 2f, 0, false);
  }

  /** A view with a new shape (one dimension may be -1); shares the data and the tape. */
  public Tensor reshape(int... newShape) {
    return Ops.reshape(this, newShape);
  }

  /** Same as {@link #reshape}: every Kiln tensor is contiguous. */
  public Tensor view(int... newShape) {
    return reshape(newShape);
  }

  /**
   * This tensor (PyTorch's {@code x.contiguous()}, as nanoGPT writes {@code y.transpose(1, 2).contiguous().view(B, T, C)}):
   * every Kiln tensor is contiguous, a transpose or permute being a copy.
   */
  public Tensor contiguous() {
    return this;
  }

  /** True: every Kiln tensor is contiguous (PyTorch's {@code is_contiguous()}). */
  public boolean isContiguous() {
    return true;
  }

  /** Merges dimensions {@code startDim..endDim} into one (PyTorch's {@code torch.flatten}). */
  public Tensor flatten(int startDim, int endDim) {
    return reshape(Shapes.flatten(shape, startDim, endDim));
  }

  /** A view with a dimension of size 1 inserted at {@code dim} ({@code -(rank + 1)..rank}, PyTorch's {@code unsqueeze}). */
  public Tensor unsqueeze(int dim) {
    return Ops.unsqueeze(this, dim);
  }

  /** A view without dimension {@code dim} if its size is 1, else of the same shape (PyTorch's {@code squeeze(dim)}). */
  public Tensor squeeze(int dim) {
    return Ops.squeeze(this, dim);
  }

  /** A view without the dimensions of size 1 (PyTorch's {@code squeeze()}). */
  public Tensor squeeze() {
    return Ops.squeeze(this);
  }

  /**
   * The {@code length} entries along {@code dim} from {@code start} (PyTorch's {@code narrow};
   * negative dim and start count from the end). A copy, not a view: Kiln has no strided views, so
   * writes to the result do not reach this tensor. The gradient is zero outside the slice.
   */
  public Tensor narrow(int dim, int start, int length) {
    return Ops.narrow(this, dim, start, length);
  }

  /**
   * {@code x[start:end]} along {@code dim}, end exclusive, bounds negative from the end and clamped
   * to the tensor as Python and PyTorch clamp them ({@code slice(0, -2, Integer.MAX_VALUE)} is
   * {@code x[-2:]}). A copy, as {@link #narrow}.
   */
  public Tensor slice(int dim, int start, int end) {
    return Ops.slice(this, dim, start, end);
  }

  /**
   * Entry {@code index} along {@code dim}, which is removed (PyTorch's {@code select},
   * {@code x[:, i]}); negative counts from the end. A copy, as {@link #narrow}.
   */
  public Tensor select(int dim, int index) {
    return Ops.select(this, dim, index);
  }

  /**
   * Every entry along {@code dim}, each with {@code dim} removed (PyTorch's {@code unbind}); their
   * gradients reach this tensor through one node, not one per slice ({@link Ops#unbind}).
   */
  public Tensor[] unbind(int dim) {
    return Ops.unbind(this, dim);
  }

  /**
   * Pieces of {@code splitSize} entries along {@code dim}, the last one shorter (PyTorch's {@code
   * x.split(split_size, dim)}: {@code qkv.split(d, -1)}); copies whose gradients reach this tensor
   * through one node ({@link Ops#split(Tensor, int, int)}).
   */
  public Tensor[] split(int splitSize, int dim) {
    return Ops.split(this, splitSize, dim);
  }

  /** Pieces of the given lengths along {@code dim}, which add up to its size (PyTorch's {@code x.split([2, 3], dim)}). */
  public Tensor[] split(int[] lengths, int dim) {
    return Ops.split(this, lengths, dim);
  }

  /**
   * {@code chunks} pieces along {@code dim}, of {@code ceil(size / chunks)} entries but the last
   * (PyTorch's {@code x.chunk(chunks, dim)}: {@code gates.chunk(4, 1)}); fewer where the size runs
   * out first ({@link Ops#chunk}).
   */
  public Tensor[] chunk(int chunks, int dim) {
    return Ops.chunk(this, chunks, dim);
  }

  /** {@code tensors} joined along {@code dim} (PyTorch's {@code torch.cat}): shapes equal except along it, one device. */
  public static Tensor cat(List<Tensor> tensors, int dim) {
    return Ops.cat(tensors, dim);
  }

  /**
   * Sequences of different lengths padded to the longest and stacked, PyTorch's {@code
   * pad_sequence}: {@code [maxL, B, *]}, or {@code [B, maxL, *]} with {@code batchFirst} (see {@link
   * Ops#padSequence}; labels pad as labels: {@code padSequence(targets, true, -100)} for a loss's ignore_index).
   */
  public static Tensor padSequence(List<Tensor> sequences, boolean batchFirst, float paddingValue) {
    return Ops.padSequence(sequences, batchFirst, paddingValue);
  }

  /** {@code tensors} of one shape joined along a new dimension {@code dim} (PyTorch's {@code torch.stack}). */
  public static Tensor stack(List<Tensor> tensors, int dim) {
    return Ops.stack(tensors, dim);
  }

  /** A view sharing this tensor's data at {@code offset} with a new shape; not on the tape. */
  Tensor viewOf(int[] newShape, Node fn) {
    return new Tensor(storage, offset, newShape, dtype, fn);
  }

  // ---------------------------------------------------------------- arithmetic shortcuts

  /** {@code this @ other}, PyTorch's {@code matmul}: vectors, matrices and broadcast batches of them; see {@link Ops#matmul}. */
  public Tensor matmul(Tensor other) {
    return Ops.matmul(this, other);
  }

  /** Batched matrix product {@code this[B, m, k] @ other[B, k, n]} (PyTorch's {@code bmm}); see {@link Ops#bmm}. */
  public Tensor bmm(Tensor other) {
    return Ops.bmm(this, other);
  }

  /** {@code this + other}, the shapes broadcast as PyTorch's: {@code [N, C, H, W] + [C, 1, 1]}, {@code [m, 1] + [1, n]}. */
  public Tensor add(Tensor other) {
    return Ops.add(this, other);
  }

  /**
   * This tensor repeated to {@code shape} (PyTorch's {@code expand}): sizes of 1 stretch, {@code -1}
   * keeps a size, new leading dimensions repeat the whole. A copy, not a view ({@link Ops#expand}).
   */
  public Tensor expand(int... shape) {
    return Ops.expand(this, shape);
  }

  /** {@code expand(other.shape())}. */
  public Tensor expandAs(Tensor other) {
    return Ops.expand(this, other.shape());
  }

  /** {@code this + value} element-wise (PyTorch's {@code x + 1}). */
  public Tensor add(float value) {
    return Ops.shift(this, value);
  }

  /** {@link #add(float)} of {@code value} rounded to float first, as PyTorch takes a Python float: {@code x.add(0.5)}. */
  public Tensor add(double value) {
    return add((float) value);
  }

  /** {@code this * other} element-wise, the shapes broadcast as {@link #add}'s. */
  public Tensor mul(Tensor other) {
    return Ops.mul(this, other);
  }

  public Tensor mul(float scalar) {
    return Ops.scale(this, scalar);
  }

  /** {@link #mul(float)} of {@code scalar} rounded to float first: {@code x.mul(0.5)}. */
  public Tensor mul(double scalar) {
    return mul((float) scalar);
  }

  /** {@code this - other}, the shapes broadcast as PyTorch's ({@link Ops#add}). */
  public Tensor sub(Tensor other) {
    return Ops.sub(this, other);
  }

  /** {@code this - value} element-wise, as {@code this + (-value)}. */
  public Tensor sub(float value) {
    return Ops.shift(this, -value);
  }

  /** {@link #sub(float)} of {@code value} rounded to float first. */
  public Tensor sub(double value) {
    return sub((float) value);
  }

  /** {@code this / other} (as {@code this * other^-1}), the shapes broadcast as PyTorch's ({@link Ops#add}). */
  public Tensor div(Tensor other) {
    return Ops.div(this, other);
  }

  /** {@code this / scalar}, as a product with {@code 1 / scalar}. */
  public Tensor div(float scalar) {
    return Ops.scale(this, 1f / scalar);
  }

  /** {@link #div(float)} of {@code scalar} rounded to float first: {@code x.div(Math.sqrt(d))}. */
  public Tensor div(double scalar) {
    return div((float) scalar);
  }

  // ---------------------------------------------------------------- integer arithmetic of ids (IntOps)

  /**
   * {@code this + value}: of ids ({@link DType#INT32}: labels, an argmax's indices) ids, PyTorch's {@code ids + 1}; of
   * a float tensor {@link #add(float)} of {@code (float) value}. An id past 2^24 in magnitude (which the float storage
   * would round) is an error naming the op and the value. A float constant ({@code ids.add(0.5f)}) or a float tensor
   * makes floats, as PyTorch promotes.
   */
  public Tensor add(int value) {
    return IntOps.add(this, value);
  }

  /** {@code this - value}: of ids ids ({@link #add(int)}), of a float tensor {@link #sub(float)}. */
  public Tensor sub(int value) {
    return IntOps.isIds(this) ? IntOps.withConstant(dev.kiln.runtime.cpu.IdKernels.Op.SUB, this, value, Long.MAX_VALUE)
        : sub((float) value);
  }

  /** {@code this * value}: of ids ids ({@code ids * stride}), of a float tensor {@link #mul(float)}. */
  public Tensor mul(int value) {
    return IntOps.mul(this, value);
  }

  /**
   * PyTorch's {@code ids // divisor} ({@code torch.div(ids, d, rounding_mode='floor')}): each id divided and rounded
   * toward minus infinity ({@code -7 // 2} is -4), as ids. Of ids only; {@link #div(float)} is the true division.
   *
   * @throws IllegalArgumentException for a divisor of 0 or a float tensor, naming {@code floor_divide}
   */
  public Tensor floorDivide(int divisor) {
    return IntOps.withConstant(dev.kiln.runtime.cpu.IdKernels.Op.FLOOR_DIVIDE, requireIds("floor_divide"), divisor, Long.MAX_VALUE);
  }

  /** {@link #floorDivide(int)} by ids, broadcast as {@link #add(Tensor)}; a divisor of 0 is an error naming its position. */
  public Tensor floorDivide(Tensor divisor) {
    return IntOps.binary(dev.kiln.runtime.cpu.IdKernels.Op.FLOOR_DIVIDE, this, divisor, null);
  }

  /**
   * PyTorch's {@code ids % divisor} ({@code torch.remainder}): the remainder with the divisor's sign ({@code -7 % 3} is
   * 2, {@code 7 % -3} is -2), as ids: {@code ids.remainder(vocab)} wraps ids into a table of {@code vocab} rows.
   *
   * @throws IllegalArgumentException for a divisor of 0 or a float tensor, naming {@code remainder}
   */
  public Tensor remainder(int divisor) {
    return IntOps.withConstant(dev.kiln.runtime.cpu.IdKernels.Op.REMAINDER, requireIds("remainder"), divisor, Long.MAX_VALUE);
  }

  /** {@link #remainder(int)} by ids, broadcast as {@link #add(Tensor)}. */
  public Tensor remainder(Tensor divisor) {
    return IntOps.binary(dev.kiln.runtime.cpu.IdKernels.Op.REMAINDER, this, divisor, null);
  }

  /** Values limited to {@code [min, max]}: ids stay ids ({@code ids.clamp(0, V - 1)}); a float tensor as {@link #clamp(float, float)}. */
  public Tensor clamp(int min, int max) {
    return IntOps.clamp(this, min, max);
  }

  /** {@code clamp(min=...)} of an int bound: PyTorch's {@code (ids - 1).clamp(min=0)}, ids. */
  public Tensor clampMin(int min) {
    return IntOps.clamp(this, min, Long.MAX_VALUE);
  }

  /** {@code clamp(max=...)} of an int bound, ids of ids. */
  public Tensor clampMax(int max) {
    return IntOps.clamp(this, Long.MIN_VALUE, max);
  }

  /** PyTorch's {@code t.float()}: ids as a FLOAT32 copy (a float tensor itself), on this tensor's device. */
  public Tensor toFloat() {
    return IntOps.toFloat(this);
  }

  private Tensor requireIds(String op) {
    if (dtype != DType.INT32) {
      throw new IllegalArgumentException(op + ": Kiln takes ids (int32 tensors) only, got a float tensor of shape "
          + Shapes.toString(shape));
    }
    return this;
  }

  /**
   * Element-wise equality, as PyTorch's {@code a == b}: 1 where equal, else 0 (NaN equals nothing),
   * the shapes broadcast, as a FLOAT32 tensor without gradient on this tensor's device, so that
   * {@code pred.argmax(1).eq(labels).sum().item()} counts correct predictions ({@link Ops#compare}).
   *
   * @throws IllegalArgumentException naming both shapes when they do not broadcast
   */
  public Tensor eq(Tensor other) {
    return Ops.compare("eq", this, other, (a, b) -> a == b);
  }

  /** {@code this == value} as a 0/1 mask. */
  public Tensor eq(float value) {
    return Ops.compare("eq", this, scalar(value).to(device()), (a, b) -> a == b);
  }

  /** {@code this != other} as a 0/1 mask (NaN differs from everything, itself included). */
  public Tensor ne(Tensor other) {
    return Ops.compare("ne", this, other, (a, b) -> a != b);
  }

  /** {@code this != value} as a 0/1 mask. */
  public Tensor ne(float value) {
    return Ops.compare("ne", this, scalar(value).to(device()), (a, b) -> a != b);
  }

  /** {@code this > other} as a 0/1 mask, broadcast ({@link Ops#compare}). */
  public Tensor gt(Tensor other) {
    return Ops.compare("gt", this, other, (a, b) -> a > b);
  }

  /** {@code this > value} as a 0/1 mask: {@code logits.gt(0)} is a binary classifier's prediction. */
  public Tensor gt(float value) {
    return Ops.compare("gt", this, scalar(value).to(device()), (a, b) -> a > b);
  }

  /** {@code this >= other} as a 0/1 mask. */
  public Tensor ge(Tensor other) {
    return Ops.compare("ge", this, other, (a, b) -> a >= b);
  }

  public Tensor ge(float value) {
    return Ops.compare("ge", this, scalar(value).to(device()), (a, b) -> a >= b);
  }

  /** {@code this < other} as a 0/1 mask. */
  public Tensor lt(Tensor other) {
    return Ops.compare("lt", this, other, (a, b) -> a < b);
  }

  public Tensor lt(float value) {
    return Ops.compare("lt", this, scalar(value).to(device()), (a, b) -> a < b);
  }

  /** {@code this <= other} as a 0/1 mask. */
  public Tensor le(Tensor other) {
    return Ops.compare("le", this, other, (a, b) -> a <= b);
  }

  public Tensor le(float value) {
    return Ops.compare("le", this, scalar(value).to(device()), (a, b) -> a <= b);
  }

  /** {@code condition ? a : b} element-wise, broadcast, with gradients to both ({@link Ops#where}). */
  public static Tensor where(Tensor condition, Tensor a, Tensor b) {
    return Ops.where(condition, a, b);
  }

  /** Values limited to {@code [min, max]}, as PyTorch's {@code clamp} ({@link Ops#clamp}). */
  public Tensor clamp(float min, float max) {
    return Ops.clamp(this, min, max);
  }

  /** {@code clamp(min, +infinity)}: PyTorch's {@code clamp(min=...)}. */
  public Tensor clampMin(float min) {
    return Ops.clamp(this, min, Float.POSITIVE_INFINITY);
  }

  /** {@code clamp(-infinity, max)}: PyTorch's {@code clamp(max=...)}. */
  public Tensor clampMax(float max) {
    return Ops.clamp(this, Float.NEGATIVE_INFINITY, max);
  }

  /** Dimensions reordered, as PyTorch's {@code permute}: {@code x.permute(0, 2, 3, 1)} for NCHW to NHWC; a copy. */
  public Tensor permute(int... dims) {
    return Ops.permute(this, dims);
  }

  /** Two dimensions swapped, as PyTorch's {@code transpose(d0, d1)}; a copy. */
  public Tensor transpose(int d0, int d1) {
    return Ops.transpose(this, d0, d1);
  }

  /** The transpose of a matrix, {@code [rows, cols] -> [cols, rows]} (PyTorch's {@code t()}), as a copy. */
  public Tensor t() {
    return Ops.transpose(this);
  }

  /** Sums along {@code dim}, which is removed (PyTorch's {@code sum(dim)}). */
  public Tensor sum(int dim) {
    return Ops.sum(this, dim, false);
  }

  /** Sums along {@code dim}, kept with size 1 when {@code keepDim}. */
  public Tensor sum(int dim, boolean keepDim) {
    return Ops.sum(this, dim, keepDim);
  }

  /** Means along {@code dim}, which is removed (PyTorch's {@code mean(dim)}). */
  public Tensor mean(int dim) {
    return Ops.mean(this, dim, false);
  }

  /** Means along {@code dim}, kept with size 1 when {@code keepDim}. */
  public Tensor mean(int dim, boolean keepDim) {
    return Ops.mean(this, dim, keepDim);
  }

  /**
   * Sums over several dimensions at once, which are removed: PyTorch's {@code x.sum(dim=(2, 3))} is
   * {@code x.sum(new int[] {2, 3})}. The dimensions may come in any order, negative counting from
   * the end; none may repeat; an empty array sums over every one, as PyTorch's {@code dim=()}
   * ({@link Ops#sum(Tensor, int[], boolean)}).
   *
   * @throws IllegalArgumentException naming the dimension and this shape for one out of range or
   *     given twice
   */
  public Tensor sum(int[] dims) {
    return Ops.sum(this, dims, false);
  }

  /** {@link #sum(int[])}, the dimensions kept with size 1 when {@code keepDim}: {@code x.sum(dim=(1, 2), keepdim=True)}. */
  public Tensor sum(int[] dims, boolean keepDim) {
    return Ops.sum(this, dims, keepDim);
  }

  /**
   * Means over several dimensions at once, which are removed: PyTorch's {@code x.mean(dim=(2, 3))},
   * global average pooling of {@code [N, C, H, W]} to {@code [N, C]}, is {@code x.mean(new int[] {2,
   * 3})}. The dimensions are read as {@link #sum(int[])} reads them ({@link Ops#mean(Tensor, int[],
   * boolean)}); a reduced dimension of size 0 is refused.
   */
  public Tensor mean(int[] dims) {
    return Ops.mean(this, dims, false);
  }

  /** {@link #mean(int[])}, the dimensions kept with size 1 when {@code keepDim}: {@code x.mean(dim=(2, 3), keepdim=True)}. */
  public Tensor mean(int[] dims, boolean keepDim) {
    return Ops.mean(this, dims, keepDim);
  }

  /** Unbiased variance over several dimensions at once, which are removed (PyTorch's {@code var(dim=(2, 3))}). */
  public Tensor var(int[] dims) {
    return Ops.var(this, dims, true, false);
  }

  /**
   * Variance over several dimensions at once ({@link Ops#var(Tensor, int[], boolean, boolean)}), divided
   * by {@code n - 1} when {@code unbiased} ({@code n} the product of their sizes), else by {@code n};
   * kept with size 1 when {@code keepDim} (PyTorch's {@code var(dim=(2, 3), unbiased, keepdim)}).
   */
  public Tensor var(int[] dims, boolean unbiased, boolean keepDim) {
    return Ops.var(this, dims, unbiased, keepDim);
  }

  /** Unbiased standard deviation over several dimensions at once, which are removed (PyTorch's {@code std(dim=(2, 3))}). */
  public Tensor std(int[] dims) {
    return Ops.std(this, dims, true, false);
  }

  /** Standard deviation over several dimensions at once: the square root of {@link #var(int[], boolean, boolean)}. */
  public Tensor std(int[] dims, boolean unbiased, boolean keepDim) {
    return Ops.std(this, dims, unbiased, keepDim);
  }

  /** Unbiased variance along {@code dim}, which is removed (PyTorch's {@code var(dim)}); NaN for one value. */
  public Tensor var(int dim) {
    return Ops.var(this, dim, true, false);
  }

  /**
   * Variance along {@code dim}, divided by {@code n - 1} when {@code unbiased}, else by {@code n};
   * kept with size 1 when {@code keepDim} (PyTorch's {@code var(dim, unbiased, keepdim)}).
   */
  public Tensor var(int dim, boolean unbiased, boolean keepDim) {
    return Ops.var(this, dim, unbiased, keepDim);
  }

  /** Unbiased variance of all values, rank 0 (PyTorch's {@code var()}). */
  public Tensor var() {
    return Ops.var(this, true);
  }

  /** Variance of all values, divided by {@code n - 1} when {@code unbiased}, else by {@code n}. */
  public Tensor var(boolean unbiased) {
    return Ops.var(this, unbiased);
  }

  /** Unbiased standard deviation along {@code dim}, which is removed (PyTorch's {@code std(dim)}). */
  public Tensor std(int dim) {
    return Ops.std(this, dim, true, false);
  }

  /** Standard deviation along {@code dim}: the square root of {@link #var(int, boolean, boolean)}. */
  public Tensor std(int dim, boolean unbiased, boolean keepDim) {
    return Ops.std(this, dim, unbiased, keepDim);
  }

  /** Unbiased standard deviation of all values, rank 0 (PyTorch's {@code std()}). */
  public Tensor std() {
    return Ops.std(this, true);
  }

  /** Standard deviation of all values: the square root of {@link #var(boolean)}. */
  public Tensor std(boolean unbiased) {
    return Ops.std(this, unbiased);
  }

  /** {@code -this}. */
  public Tensor neg() {
    return Ops.neg(this);
  }

  /** {@code sin(this)} element-wise ({@link Ops#sin}). */
  public Tensor sin() {
    return Ops.sin(this);
  }

  /** {@code cos(this)} element-wise ({@link Ops#cos}). */
  public Tensor cos() {
    return Ops.cos(this);
  }

  /** {@code exp(this)} element-wise. */
  public Tensor exp() {
    return Ops.exp(this);
  }

  /** The natural logarithm element-wise. */
  public Tensor log() {
    return Ops.log(this);
  }

  /** The square root element-wise. */
  public Tensor sqrt() {
    return Ops.sqrt(this);
  }

  /** The absolute value element-wise. */
  public Tensor abs() {
    return Ops.abs(this);
  }

  /** {@code this^exponent} element-wise. */
  public Tensor pow(float exponent) {
    return Ops.pow(this, exponent);
  }

  /** {@link #pow(float)} of {@code exponent} rounded to float first. */
  public Tensor pow(double exponent) {
    return pow((float) exponent);
  }

  public Tensor relu() {
    return Ops.relu(this);
  }

  /** {@code 1 / (1 + exp(-x))} element-wise ({@link Ops#sigmoid}). */
  public Tensor sigmoid() {
    return Ops.sigmoid(this);
  }

  /** {@code tanh(x)} element-wise ({@link Ops#tanh}). */
  public Tensor tanh() {
    return Ops.tanh(this);
  }

  /** Softmax along {@code dim} ({@link Ops#softmax}): PyTorch's {@code x.softmax(dim)}. */
  public Tensor softmax(int dim) {
    return Ops.softmax(this, dim);
  }

  /** Log-softmax along {@code dim} ({@link Ops#logSoftmax}). */
  public Tensor logSoftmax(int dim) {
    return Ops.logSoftmax(this, dim);
  }

  /**
   * A copy in new memory, on the tape: PyTorch's {@code clone()} ({@link Ops#clone}), e.g. to keep a
   * parameter's values before a step. (It overrides {@code Object.clone}, whose contract a tensor
   * copy meets; {@code Tensor} is not {@code Cloneable} and never calls {@code super.clone()}.)
   */
  @Override
  public Tensor clone() {
    return Ops.clone(this);
  }

  /** The slices along {@code dim} at {@code index} (labels), PyTorch's {@code index_select} ({@link Ops#indexSelect}). */
  public Tensor indexSelect(int dim, Tensor index) {
    return Ops.indexSelect(this, dim, index);
  }

  /** Values picked along {@code dim} by {@code index} (labels of this rank), PyTorch's {@code gather} ({@link Ops#gather}). */
  public Tensor gather(int dim, Tensor index) {
    return Ops.gather(this, dim, index);
  }

  /** {@code value} where {@code mask} is nonzero, this elsewhere: PyTorch's {@code masked_fill} ({@link Ops#maskedFill}). */
  public Tensor maskedFill(Tensor mask, float value) {
    return Ops.maskedFill(this, mask, value);
  }

  /** The lower triangle of the last two dimensions, the main diagonal included: PyTorch's {@code tril()}. */
  public Tensor tril() {
    return tril(0);
  }

  /** The upper triangle of the last two dimensions, the main diagonal included: PyTorch's {@code triu()}. */
  public Tensor triu() {
    return triu(0);
  }

  /** The lower triangle of the last two dimensions, the rest 0: PyTorch's {@code tril(diagonal)} ({@link Ops#tril}). */
  public Tensor tril(int diagonal) {
    return Ops.tril(this, diagonal);
  }

  /** The upper triangle of the last two dimensions, the rest 0: PyTorch's {@code triu(diagonal)} ({@link Ops#triu}). */
  public Tensor triu(int diagonal) {
    return Ops.triu(this, diagonal);
  }

  public Tensor sum() {
    return Ops.sum(this);
  }

  public Tensor mean() {
    return Ops.mean(this);
  }

  // ---------------------------------------------------------------- math functions, logical ops, products, writes by index
  // (Ops' last section: PointwiseOps, IndexOps.prod, ReductionOps.amaxAmin, ScatterOps)

  /** Rounded down, PyTorch's {@code floor()}; the gradient is 0. */
  public Tensor floor() {
    return Ops.pointwise(PointwiseKernels.Unary.FLOOR, this);
  }

  /** Rounded up, PyTorch's {@code ceil()}; the gradient is 0. */
  public Tensor ceil() {
    return Ops.pointwise(PointwiseKernels.Unary.CEIL, this);
  }

  /** Rounded to the nearest whole number, halves to even (0.5 to 0, 2.5 to 2), PyTorch's {@code round()}; the gradient is 0. */
  public Tensor round() {
    return Ops.pointwise(PointwiseKernels.Unary.ROUND, this);
  }

  /** Rounded toward 0, PyTorch's {@code trunc()}; the gradient is 0. */
  public Tensor trunc() {
    return Ops.pointwise(PointwiseKernels.Unary.TRUNC, this);
  }

  /** 1, -1 or 0 (for 0 and NaN), PyTorch's {@code sign()}; the gradient is 0. */
  public Tensor sign() {
    return Ops.pointwise(PointwiseKernels.Unary.SIGN, this);
  }

  /** {@code 1 / x}, PyTorch's {@code reciprocal()}. */
  public Tensor reciprocal() {
    return Ops.pointwise(PointwiseKernels.Unary.RECIPROCAL, this);
  }

  /** {@code 1 / sqrt(x)}, PyTorch's {@code rsqrt()}. */
  public Tensor rsqrt() {
    return Ops.pointwise(PointwiseKernels.Unary.RSQRT, this);
  }

  /** {@code log(1 + x)}, accurate near 0, PyTorch's {@code log1p()}. */
  public Tensor log1p() {
    return Ops.pointwise(PointwiseKernels.Unary.LOG1P, this);
  }

  /** {@code exp(x) - 1}, accurate near 0, PyTorch's {@code expm1()}. */
  public Tensor expm1() {
    return Ops.pointwise(PointwiseKernels.Unary.EXPM1, this);
  }

  /** {@code x * x}, PyTorch's {@code square()}. */
  public Tensor square() {
    return Ops.pointwise(PointwiseKernels.Unary.SQUARE, this);
  }

  /** The larger of this and other element-wise, broadcast, PyTorch's {@code torch.maximum} (ties split the gradient) ({@link Ops#pointwise}). */
  public Tensor maximum(Tensor other) {
    return Ops.pointwise(PointwiseKernels.Binary.MAXIMUM, this, other);
  }

  /** The smaller of this and other element-wise, broadcast, PyTorch's {@code torch.minimum}. */
  public Tensor minimum(Tensor other) {
    return Ops.pointwise(PointwiseKernels.Binary.MINIMUM, this, other);
  }

  /** {@code atan2(this, other)} element-wise (this the y coordinate), broadcast, PyTorch's {@code torch.atan2}. */
  public Tensor atan2(Tensor other) {
    return Ops.pointwise(PointwiseKernels.Binary.ATAN2, this, other);
  }

  /** {@code this + weight (end - this)}, PyTorch's {@code torch.lerp} ({@link Ops#lerp}). */
  public Tensor lerp(Tensor end, float weight) {
    return Ops.lerp(this, end, weight);
  }

  /** {@link #lerp(Tensor, float)} with a weight per element, broadcast. */
  public Tensor lerp(Tensor end, Tensor weight) {
    return Ops.lerp(this, end, weight);
  }

  /** Both nonzero, as a 0/1 mask, broadcast: PyTorch's {@code logical_and} (masks from {@link #gt} and the like). */
  public Tensor logicalAnd(Tensor other) {
    return Ops.pointwise(PointwiseKernels.Binary.LOGICAL_AND, this, other);
  }

  /** Either nonzero, as a 0/1 mask, broadcast: PyTorch's {@code logical_or}. */
  public Tensor logicalOr(Tensor other) {
    return Ops.pointwise(PointwiseKernels.Binary.LOGICAL_OR, this, other);
  }

  /** Exactly one nonzero, as a 0/1 mask, broadcast: PyTorch's {@code logical_xor}. */
  public Tensor logicalXor(Tensor other) {
    return Ops.pointwise(PointwiseKernels.Binary.LOGICAL_XOR, this, other);
  }

  /** 1 where this is 0, else 0: PyTorch's {@code logical_not}. */
  public Tensor logicalNot() {
    return Ops.logicalNot(this);
  }

  /** Whether every value is nonzero, as a rank-0 0/1 tensor: PyTorch's {@code all()} ({@code mask.all().item() == 1}). */
  public Tensor all() {
    return Ops.allOrAny(this, false);
  }

  /** Whether any value is nonzero, as a rank-0 0/1 tensor: PyTorch's {@code any()}. */
  public Tensor any() {
    return Ops.allOrAny(this, true);
  }

  /** {@link #all()} along {@code dim}, which is removed. */
  public Tensor all(int dim) {
    return Ops.allOrAny(this, dim, false, false);
  }

  /** {@link #all()} along {@code dim}, kept with size 1 when {@code keepDim}. */
  public Tensor all(int dim, boolean keepDim) {
    return Ops.allOrAny(this, dim, keepDim, false);
  }

  /** {@link #any()} along {@code dim}, which is removed. */
  public Tensor any(int dim) {
    return Ops.allOrAny(this, dim, false, true);
  }

  /** {@link #any()} along {@code dim}, kept with size 1 when {@code keepDim}. */
  public Tensor any(int dim, boolean keepDim) {
    return Ops.allOrAny(this, dim, keepDim, true);
  }

  /** The product of all values, PyTorch's {@code prod()} ({@link Ops#prod(Tensor)}: the gradient handles zeros). */
  public Tensor prod() {
    return Ops.prod(this);
  }

  /** The products along {@code dim}, which is removed: PyTorch's {@code prod(dim)}. */
  public Tensor prod(int dim) {
    return Ops.prod(this, dim, false);
  }

  /** {@link #prod(int)}, the dimension kept with size 1 when {@code keepDim}. */
  public Tensor prod(int dim, boolean keepDim) {
    return Ops.prod(this, dim, keepDim);
  }

  /** The maxima over {@code dims} (none: all), values only, PyTorch's {@code amax}: ties share the gradient ({@link Ops#amax}). */
  public Tensor amax(int... dims) {
    return Ops.amax(this, dims, false);
  }

  /** {@link #amax(int...)}, the dimensions kept with size 1 when {@code keepDim}. */
  public Tensor amax(int[] dims, boolean keepDim) {
    return Ops.amax(this, dims, keepDim);
  }

  /** The minima over {@code dims} (none: all), PyTorch's {@code amin}. */
  public Tensor amin(int... dims) {
    return Ops.amin(this, dims, false);
  }

  /** {@link #amin(int...)}, the dimensions kept with size 1 when {@code keepDim}. */
  public Tensor amin(int[] dims, boolean keepDim) {
    return Ops.amin(this, dims, keepDim);
  }

  /** This with {@code src}'s values written at {@code index} along {@code dim}: PyTorch's {@code scatter} ({@link Ops#scatter}). */
  public Tensor scatter(int dim, Tensor index, Tensor src) {
    return Ops.scatter(this, dim, index, src);
  }

  /** This with {@code value} written at {@code index} along {@code dim}: PyTorch's {@code scatter(dim, index, value)}. */
  public Tensor scatter(int dim, Tensor index, float value) {
    return Ops.scatter(this, dim, index, value);
  }

  /** This with {@code src}'s values added at {@code index} along {@code dim}: PyTorch's {@code scatter_add}. */
  public Tensor scatterAdd(int dim, Tensor index, Tensor src) {
    return Ops.scatterAdd(this, dim, index, src);
  }

  /** This with {@code source}'s slices added at the slices {@code index} along {@code dim}: PyTorch's {@code index_add}. */
  public Tensor indexAdd(int dim, Tensor index, Tensor source) {
    return Ops.indexAdd(this, dim, index, source, 1f);
  }

  /** {@link #indexAdd(int, Tensor, Tensor)} of {@code alpha} times the source: PyTorch's {@code index_add(..., alpha=alpha)}. */
  public Tensor indexAdd(int dim, Tensor index, Tensor source, float alpha) {
    return Ops.indexAdd(this, dim, index, source, alpha);
  }

  /** This with {@code source}'s slices written at the slices {@code index} along {@code dim}: PyTorch's {@code index_copy}. */
  public Tensor indexCopy(int dim, Tensor index, Tensor source) {
    return Ops.indexCopy(this, dim, index, source);
  }

  /** This with the slices {@code index} along {@code dim} set to {@code value}: PyTorch's {@code index_fill}. */
  public Tensor indexFill(int dim, Tensor index, float value) {
    return Ops.indexFill(this, dim, index, value);
  }

  /** The values where {@code mask} (broadcast) is nonzero, as a rank-1 tensor: PyTorch's {@code masked_select}. */
  public Tensor maskedSelect(Tensor mask) {
    return Ops.maskedSelect(this, mask);
  }

  /** The coordinates of the nonzero values, INT32 {@code [count, rank]}: PyTorch's {@code nonzero()}. */
  public Tensor nonzero() {
    return Ops.nonzero(this);
  }

  /** The flattened values rotated by {@code shift} places, the shape kept: PyTorch's {@code roll(shift)}. */
  public Tensor roll(int shift) {
    return Ops.roll(this, new int[] {shift}, new int[0]);
  }

  /** Rotated by {@code shift} places along {@code dim}: PyTorch's {@code roll(shift, dim)}. */
  public Tensor roll(int shift, int dim) {
    return Ops.roll(this, new int[] {shift}, new int[] {dim});
  }

  /** Rotated along each of {@code dims} by its shift: PyTorch's {@code roll(shifts, dims)}. */
  public Tensor roll(int[] shifts, int[] dims) {
    return Ops.roll(this, shifts, dims);
  }

  // ---------------------------------------------------------------- autograd

  public boolean requiresGrad() {
    return requiresGrad;
  }

  /** Marks a leaf tensor as a parameter whose gradient {@link #backward()} accumulates. */
  public Tensor requiresGrad(boolean value) {
    if (gradFn != null && !value) {
      throw new IllegalStateException(
          "requiresGrad(false) on the result of " + gradFn.name() + ": use detach() to leave the tape");
    }
    if (value && dtype != DType.FLOAT32) {
      throw new IllegalStateException("only float tensors can require gradients, this one is " + dtype);
    }
    this.requiresGrad = value;
    everRequiredGrad |= value;
    return this;
  }

  /**
   * Whether {@code requiresGrad(true)} was ever called on this tensor: a parameter frozen since
   * ({@code requiresGrad(false)}) still is one, as a frozen {@code nn.Parameter} is; {@code
   * Module} finds the parameters held in {@code Tensor} fields by it.
   */
  public boolean everRequiredGrad() {
    return everRequiredGrad;
  }

  /** True for tensors not produced by a recorded operation (inputs and parameters). */
  public boolean isLeaf() {
    return gradFn == null;
  }

  /** The operation that produced this tensor, or {@code null} for a leaf. */
  public Node gradFn() {
    return gradFn;
  }

  /** The accumulated gradient of a leaf, or {@code null} before the first backward (or after zeroing). */
  public Tensor grad() {
    return grad;
  }

  /**
   * Replaces the gradient; {@code null} clears it (what {@code zeroGrad(true)} does). The gradient
   * replaced keeps its values, on the heap: its native copy is freed at once.
   */
  public void setGrad(Tensor g) {
    if (g != null && !Arrays.equals(g.shape, shape)) {
      throw new IllegalArgumentException(
          "gradient of shape " + Shapes.toString(g.shape) + " for a tensor of shape " + Shapes.toString(shape));
    }
    if (g != null && g.dtype != DType.FLOAT32) {
      throw new IllegalArgumentException("setGrad: a gradient must be a float tensor, got " + g.dtype + " of shape "
          + Shapes.toString(g.shape));
    }
    Tensor dropped = this.grad;
    this.grad = g;
    if (dropped != null && (g == null || g.storage != dropped.storage)) {
      // the old gradient's native copy goes now, not at a collection that a calm heap may put off
      // (a compiled model makes a new one per step after zeroGrad(true)); its values stay readable
      dropped.storage.releaseNative();
    }
  }

  /**
   * The gradient buffer of a leaf, created as zeros when there is none yet, for code that
   * accumulates into it directly ({@code +=}) instead of returning a gradient from a {@link Node}.
   */
  public Tensor ensureGrad() {
    if (!requiresGrad || gradFn != null) {
      throw new IllegalStateException("ensureGrad(): only leaf tensors that require grad have a gradient buffer");
    }
    if (grad == null) {
      grad = zeroGradient();
    }
    return grad;
  }

  /** Zeros of this leaf's shape on its device, as a gradient is made: native on the CPU where OpenBLAS is. */
  private Tensor zeroGradient() {
    if (device().isCuda()) {
      return zeros(device(), shape);
    }
    return dev.kiln.runtime.cpu.Blas.isNative()
        ? new Tensor(Storage.nativeZeros(numel), 0, shape.clone(), DType.FLOAT32, null)
        : Tensor.zeros(shape);
  }

  /**
   * For a CPU backward that can add a parameter's gradient into the parameter's {@link #grad()}
   * itself with an OpenBLAS product ({@code beta = 1}), as a compiled layer does, instead of
   * returning a fresh gradient that the engine then adds (a new array, a pass over it, and a
   * gradient left on the heap that the optimizer's native update cannot use): the gradient to add
   * into (made as native zeros when there is none yet), or null where the gradient must be returned.
   *
   * <p>Only where the bits are the engine's: {@code grad + (sum over k)} rounds as the fresh product
   * added into the gradient does when the gradient is all +0 (none yet, or zeroed whole and not
   * written since: OpenBLAS sums each block of k and adds it to C, {@code 0 + a + b} either way) or
   * when {@code k} fits one OpenBLAS block ({@link dev.kiln.runtime.cpu.Blas#oneBlock}). Not for a
   * tensor that is not a leaf requiring grad, on CUDA, without OpenBLAS, or under anomaly detection
   * (the engine checks each returned gradient for non-finite values).
   *
   * @param k the product's inner dimension (the rows summed over)
   */
  Tensor gradientToAddInto(int k) {
    if (!requiresGrad || gradFn != null || device().isCuda() || !dev.kiln.runtime.cpu.Blas.isNative()
        || Kiln.isAnomalyEnabled()) {
      return null;
    }
    if (grad == null) {
      return ensureGrad();
    }
    if (grad.device().isCuda()) {
      return null;
    }
    return dev.kiln.runtime.cpu.Blas.addsAsMadeAlone(grad.storage.isKnownZero(), k) ? grad : null;
  }

  /** Whether this tensor's storage is known to hold only +0 ({@link Storage#isKnownZero}); for {@link Compiled#isKnownZero}. */
  boolean isKnownZero() {
    return storage.isKnownZero();
  }

  /** The same data, cut off from the tape. */
  public Tensor detach() {
    return new Tensor(storage, offset, shape.clone(), dtype, null);
  }

  /**
   * Back-propagates from a one-element tensor (a loss), seeding its gradient with 1. As in PyTorch,
   * the graph can be gone through once: a second backward through the same operations throws
   * (their gradients would be added twice) unless the first one was {@link #backward(boolean)
   * backward(true)}.
   */
  public void backward() {
    backward(false);
  }

  /**
   * {@link #backward()}, keeping the graph for another backward when {@code retainGraph} is true
   * (PyTorch's {@code retain_graph=True}): gradients then accumulate once per call.
   */
  public void backward(boolean retainGraph) {
    if (numel != 1) {
      throw new IllegalStateException(
          "backward() without an argument needs a one-element tensor (a loss), got shape " + Shapes.toString(shape)
              + "; pass the output gradient explicitly");
    }
    backward(Tensor.full(1f, shape).to(device()), retainGraph);
  }

  /** Back-propagates {@code gradOutput}, the gradient of some scalar with respect to this tensor, once (see {@link #backward()}). */
  public void backward(Tensor gradOutput) {
    backward(gradOutput, false);
  }

  /**
   * Counts each thread's {@link #backward} calls, so that a node can tell whether something
   * happened in the current one (a backward runs on the thread that called it).
   */
  private static final ThreadLocal<long[]> BACKWARD_ROUNDS = ThreadLocal.withInitial(() -> new long[1]);

  /** The number of this thread's {@link #backward} call running (or last run). */
  static long backwardRound() {
    return BACKWARD_ROUNDS.get()[0];
  }

  /**
   * Back-propagates {@code gradOutput}, the gradient of some scalar with respect to this tensor;
   * with {@code retainGraph} the graph stays usable for another backward.
   *
   * @throws IllegalStateException if an operation on the way was already gone through by a backward
   *     that did not retain the graph
   */
  public void backward(Tensor gradOutput, boolean retainGraph) {
    if (!requiresGrad) {
      throw new IllegalStateException(
          "backward(): this tensor does not require grad (no input of it requires grad, or it was computed under noGrad)");
    }
    if (!Arrays.equals(gradOutput.shape, shape)) {
      throw new IllegalArgumentException(
          "backward(): gradient of shape " + Shapes.toString(gradOutput.shape) + " for a tensor of shape "
              + Shapes.toString(shape));
    }
    BACKWARD_ROUNDS.get()[0]++;
    long call = Kiln.countBackward();
    if (call > 0) {
      NonFiniteException.check(numel == 1 ? "the loss" : "the output gradient", numel == 1 ? this : gradOutput, call);
    }
    if (gradFn == null) {
      accumulate(this, gradOutput);
      return;
    }
    List<Tensor> order = topologicalOrder(this);
    for (Tensor t : order) { // before any gradient is accumulated: a refused call changes nothing
      Node fn = t.gradFn;
      for (int k = 0; fn.savesTensors() && fn.savesInputs() && k < fn.inputs.length; k++) {
        Tensor in = fn.inputs[k];
        if (in != null && in.version() != fn.versions[k]) {
          throw new IllegalStateException("backward(): input " + k + " of " + fn.name() + " (" + Shapes.toString(in.shape)
              + ") was modified after the forward pass (written in place, by an optimizer step say), and its"
              + " gradient needs the values it had; PyTorch refuses this too (\"modified by an inplace operation\")."
              + " Run the forward pass again after changing it");
        }
      }
      if (fn.savesOutput() && t.version() != fn.outputVersion) {
        throw new IllegalStateException("backward(): the output of " + fn.name() + " (" + Shapes.toString(t.shape)
            + ") was modified after the forward pass (written in place), and its gradient is computed from the output"
            + "; PyTorch refuses this too (\"modified by an inplace operation\"). Write to a copy (clone()) instead");
      }
      fn.checkIntact();
      if (t.gradFn.released && t.gradFn.savesTensors()) {
        throw new IllegalStateException("backward(): trying to go through the graph a second time: "
            + t.gradFn.name() + " was already gone through by an earlier backward(), which released what it saved"
            + " (as PyTorch frees its saved tensors). Call backward(true) (PyTorch's retain_graph=True) the first time"
            + " if you need to go through it twice, or compute the forward pass again");
      }
    }
    Map<Tensor, Tensor> held = holdAccumulatedGradients(order);
    try {
      backwardThrough(order, gradOutput, retainGraph, call);
    } finally {
      addHeldGradients(held);
    }
  }

  /**
   * Before a backward: the gradients of the leaves it reaches that already hold values (gradients accumulated over
   * earlier backwards without zeroGrad), taken off their leaves, which get zeros instead (a scratch of the leaf's, kept
   * from one accumulating backward to the next): the pass then runs as after zeroGrad, each leaf's contributions (several
   * nodes', or a compiled node's written into the leaf's gradient in turn) summed from zero. {@link #addHeldGradients}
   * then adds that total to the held gradient in one pass: {@code grad + (g1 + g2)}, PyTorch's AccumulateGrad, not
   * {@code (grad + g1) + g2}. A gradient known to hold only +0 (zeroGrad) stays, and is written directly, as before:
   * {@code 0 + s} rounds as {@code s}.
   */
  private static Map<Tensor, Tensor> holdAccumulatedGradients(List<Tensor> order) {
    Map<Tensor, Tensor> held = null;
    for (Tensor t : order) {
      for (Tensor in : t.gradFn.inputs) {
        if (in != null && in.gradFn == null && in.requiresGrad && in.grad != null && !in.grad.storage.holdsZerosOnly()) {
          if (held == null) {
            held = new IdentityHashMap<>();
          }
          if (!held.containsKey(in)) {
            held.put(in, in.grad);
            Tensor scratch = in.gradScratch;
            in.gradScratch = null;
            if (scratch == null || !scratch.device().equals(in.device())) {
              scratch = in.zeroGradient();
            } else {
              scratch.zero();
            }
            in.grad = scratch;
          }
        }
      }
    }
    return held;
  }

  /**
   * The zeros a leaf's accumulating backward sums its gradient into ({@link #holdAccumulatedGradients}), kept after for
   * the next: a backward per micro-batch then allocates nothing.
   */
  private Tensor gradScratch;

  /**
   * After a backward: each held gradient plus the total this backward gave its leaf, in one pass (saxpy with alpha 1
   * where both are native, as OpenBLAS wrote a weight's: {@code fma(1, t, g)} rounds as {@code g + t}); the held
   * tensor is the leaf's gradient again (an optimizer may hold it), the total's kept as the next scratch.
   */
  private static void addHeldGradients(Map<Tensor, Tensor> held) {
    if (held == null) {
      return;
    }
    held.forEach((leaf, before) -> {
      Tensor total = leaf.grad;
      leaf.grad = before;
      if (total == null) { // (set to null during the pass)
        return;
      }
      if (!leaf.device().isCuda() && dev.kiln.runtime.cpu.Blas.isNative() && before.isNativeCurrent()
          && total.isNativeCurrent()) {
        dev.kiln.runtime.cpu.Blas.axpy(leaf.numel, 1f, total.readNative().getPointer(total.offset),
            before.writeNative().getPointer(before.offset));
      } else {
        accumulate(leaf, total);
      }
      if (total.offset == 0 && Arrays.equals(total.shape, leaf.shape) && total.device().equals(leaf.device())) {
        leaf.gradScratch = total;
      }
    });
  }

  /** The backward pass through the recorded nodes of {@code order}, from {@code gradOutput}. */
  private static void backwardThrough(List<Tensor> order, Tensor gradOutput, boolean retainGraph, long call) {
    Tensor root = order.get(order.size() - 1);
    Map<Tensor, Tensor> grads = new IdentityHashMap<>();
    grads.put(root, gradOutput);
    try (var g = Kiln.noGrad()) {
      for (int i = order.size() - 1; i >= 0; i--) {
        Tensor t = order.get(i);
        Tensor gt = grads.remove(t);
        if (gt == null) {
          continue;
        }
        Node fn = t.gradFn;
        fn.released = !retainGraph;
        // an engine-owned gradient is lent to the node (Node.takeGradient) only for this call: whatever the
        // node does with it, the engine no longer owns it, and the node's results own only what they say
        fn.lent = gt.engineOwned ? gt : null;
        gt.engineOwned = false;
        fn.outputIntact = t.version() == fn.outputVersion;
        Tensor[] inputGrads;
        try {
          inputGrads = fn.backward(gt);
        } finally {
          fn.lent = null;
        }
        disownRepeated(inputGrads);
        for (int k = 0; k < fn.inputs.length; k++) {
          Tensor in = fn.inputs[k];
          Tensor gin = inputGrads[k];
          if (gin == null || !fn.recordedNeed[k] || !in.requiresGrad) { // as PyTorch: the graph is fixed at the forward
            if (gin != null) {
              gin.engineOwned = false;
            }
            continue;
          }
          if (call > 0) {
            NonFiniteException.check(fn.name() + " backward's gradient for its input " + k + " " + Shapes.toString(in.shape),
                gin, call);
          }
          if (in.gradFn == null) {
            accumulate(in, gin);
          } else {
            Tensor prev = grads.get(in);
            grads.put(in, prev == null ? gin : sumInto(prev, gin));
          }
        }
      }
    }
  }

  /** Tensors reachable from {@code root} through recorded nodes, inputs before their users. */
  private static List<Tensor> topologicalOrder(Tensor root) {
    List<Tensor> order = new ArrayList<>();
    Map<Tensor, Boolean> visited = new IdentityHashMap<>();
    ArrayDeque<Object[]> stack = new ArrayDeque<>();
    stack.push(new Object[] {root, 0});
    visited.put(root, Boolean.TRUE);
    while (!stack.isEmpty()) {
      Object[] frame = stack.peek();
      Tensor t = (Tensor) frame[0];
      int next = (Integer) frame[1];
      Tensor[] inputs = t.gradFn.inputs;
      if (next < inputs.length) {
        frame[1] = next + 1;
        Tensor in = inputs[next];
        if (in.gradFn != null && in.requiresGrad && visited.put(in, Boolean.TRUE) == null) {
          stack.push(new Object[] {in, 0});
        }
      } else {
        stack.pop();
        order.add(t);
      }
    }
    return order;
  }

  /** Clears the engine's mark on a gradient returned at two places of one backward's results: neither owns it alone. */
  private static void disownRepeated(Tensor[] grads) {
    for (int i = 0; i < grads.length; i++) {
      for (int j = i + 1; grads[i] != null && grads[i].engineOwned && j < grads.length; j++) {
        if (grads[j] == grads[i]) {
          grads[i].engineOwned = false;
        }
      }
    }
  }

  private static void accumulate(Tensor leaf, Tensor g) {
    if (leaf.device().isCuda()) {
      Tensor gd = g.to(leaf.device());
      if (leaf.grad == null) {
        leaf.grad = empty(leaf.device(), leaf.shape);
        dev.kiln.runtime.cuda.Cuda.get().copy(gd.readCuda(), leaf.grad.writeCuda(), leaf.numel);
      } else {
        dev.kiln.runtime.cuda.CoreKernels.addInto(leaf.grad.writeCuda(), gd.readCuda(), leaf.numel);
      }
      return;
    }
    if (leaf.grad == null && g.engineOwned && g.offset == 0 && g.storage.device() == Device.cpu() && Arrays.equals(g.shape, leaf.shape)) {
      g.engineOwned = false; // adopted, not copied: nothing else holds it (Tensor.gradient)
      leaf.grad = g;
    } else if (leaf.grad == null) {
      g.engineOwned = false;
      leaf.grad = new Tensor(g.toFloatArray(), 0, leaf.shape.clone(), DType.FLOAT32, null);
    } else {
      // dst += src value by value (vectorised where both start at the same offset, the usual case)
      dev.kiln.runtime.cpu.CpuKernels.accumulate(leaf.grad.buffer(), leaf.grad.offset, g.readBuffer(), g.offset, leaf.numel);
    }
  }

  private static Tensor sumInto(Tensor a, Tensor b) {
    if (a.device().isCuda()) {
      Tensor out = empty(a.device(), a.shape);
      dev.kiln.runtime.cuda.CoreKernels.add(out.writeCuda(), a.readCuda(), b.to(a.device()).readCuda(), a.numel);
      return out;
    }
    // a + b into the array of one the engine owns (Tensor.gradient): the same sums, a + b in that order, one
    // array fewer; the other is dropped by the caller
    Tensor own = a.engineOwned ? a : b.engineOwned && b.device() == Device.cpu() ? b : null;
    Tensor other = own == a ? b : a;
    boolean otherOwned = other.engineOwned;
    a.engineOwned = false;
    b.engineOwned = false;
    a.reluMasked = null; // a sum: not all of it came through the max pool that masked one part
    b.reluMasked = null;
    if (own != null && b.device() == Device.cpu()) {
      float[] out = own.storage.heapForWrite();
      dev.kiln.runtime.cpu.CpuKernels.addForward(out, own.offset, a.readBuffer(), a.offset, b.readBuffer(), b.offset, a.numel, false);
      own.engineOwned = true;
      if (otherOwned && other.storage != own.storage && other.offset == 0 && other.numel == other.storage.length()) {
        ArrayPool.give(other.storage.heapForRead()); // the engine's alone, and read: for a later array of its length
      }
      return own;
    }
    // one pass, a + b as before (a copied, then b added): the same bits; vectorised and over the cores where
    // both start at 0, the usual case (a fresh gradient)
    float[] out = ArrayPool.floats(a.numel); // overwritten
    dev.kiln.runtime.cpu.CpuKernels.addForward(out, 0, a.readBuffer(), a.offset, b.readBuffer(), b.offset, a.numel, false);
    return new Tensor(out, 0, a.shape.clone(), DType.FLOAT32, null);
  }

  // ---------------------------------------------------------------- printing

  /**
   * The text PyTorch prints for this tensor: {@code tensor([[1.0000, 2.5000], [3.0000, 4.0000]],
   * requires_grad=true)}, values laid out as PyTorch 1.13 lays them out (see {@link TensorFormat}:
   * all of them up to 1000, a common format and width, rows wrapped at 80 columns), then the
   * suffixes PyTorch adds, wrapped as it wraps them: {@code device=cuda}, {@code shape=[...]} where
   * PyTorch prints {@code size=} (an empty tensor not of shape [0]) and also for a summarized one,
   * whose shape the values no longer show, {@code dtype=int32}, and {@code grad_fn=AddBackward} or
   * {@code requires_grad=true}. A CUDA tensor's values are downloaded to print them.
   */
  @Override
  public String toString() {
    String values = TensorFormat.values(storage.heapForRead(), offset, shape, strides, dtype == DType.INT32);
    List<String> suffixes = new ArrayList<>();
    if (device().isCuda()) {
      suffixes.add("device=" + device());
    }
    if ((numel == 0 && !(shape.length == 1 && shape[0] == 0)) || numel > TensorFormat.THRESHOLD) {
      suffixes.add("shape=" + Shapes.toString(shape));
    }
    if (dtype != DType.FLOAT32) {
      suffixes.add("dtype=" + dtype.name().toLowerCase(java.util.Locale.ROOT));
    }
    if (gradFn != null) {
      suffixes.add("grad_fn=" + gradFn.name());
    } else if (requiresGrad) {
      suffixes.add("requires_grad=true");
    }
    return TensorFormat.withSuffixes("tensor(" + values, suffixes);
  }
}
