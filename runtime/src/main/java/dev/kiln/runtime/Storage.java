package dev.kiln.runtime;

import dev.kiln.runtime.cuda.Cuda;
import dev.kiln.runtime.cuda.CudaBuffer;
import java.lang.ref.WeakReference;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.bytedeco.javacpp.FloatPointer;

/**
 * The values behind a tensor and its views, resident on the Java heap, in native memory, in
 * CUDA device memory, or several of these.
 *
 * <p>Eager kernels work on the heap array. Native code (OpenBLAS) cannot use a heap array without
 * copying it, so tensors that native code touches on every step (parameters, their gradients)
 * keep a native copy: each side is copied to the other only when it is stale, and writing one
 * side makes the other stale. A parameter that the compiled model reads natively and the
 * optimizer updates natively is therefore never copied during training. Either side is
 * allocated when first needed; native memory is freed by JavaCPP when the storage is collected.
 *
 * <p>A storage has a home {@link Device}: where kernels read and write it. The device side of a
 * CUDA storage is one more copy under the same rule, so code that reads the heap array of a CUDA
 * tensor (printing, {@code item()}) gets current values by a download, and a write to the heap
 * array is uploaded before the next kernel reads it. Device memory goes back to the caching
 * allocator when the storage is collected. Not thread-safe, like the tensors that own it.
 *
 * <p>An eager CPU output may be {@link #deferred}: its values are computed by a {@link Deferred} recipe when
 * something first asks for them (any side, for reading or writing), or just before a storage they are
 * computed from is written (that storage lists them as readers, {@link #addReader}), so no one sees
 * values other than those computed at once would be.
 */
final class Storage {
  private final int length;
  private float[] heap;
  private FloatPointer nativeData;
  private CudaBuffer cuda;
  private boolean heapCurrent;
  private boolean nativeCurrent;
  private boolean cudaCurrent;
  private Device home = Device.cpu();
  /**
   * The recipe of values not computed yet ({@link #deferred}); null once they are (or for any other storage).
   * Cleared after the values are in place (and volatile), so that two threads reading a deferred tensor at once,
   * which reading tensors allowed before, at worst both compute the same values.
   */
  private volatile Deferred pending;
  /** Deferred storages whose recipes read this one: computed before this one is written. */
  private List<WeakReference<Storage>> readers; // guarded by this (threads reading one tensor at once add readers)
  /**
   * Whether every write to the values goes through this storage: its heap array was made by a Kiln op and
   * handed to no one for writing ({@link #seal}). Only such a storage is read by a {@link Deferred} recipe; a
   * hand-out for writing ({@link #heapForWrite}, {@link #nativeForWrite}, {@link #cudaForWrite}) unseals it.
   */
  private boolean sealed;

  private Storage(int length) {
    this.length = length;
  }

  /** Storage over an existing heap array (given up by the caller). */
  static Storage ofHeap(float[] data) {
    Storage s = new Storage(data.length);
    s.heap = data;
    s.heapCurrent = true;
    return s;
  }

  /**
   * Values that {@code recipe} computes when first needed, read from {@code sources}, each of which computes them before
   * it is written (a {@link #isSealed sealed} storage for a batch norm's recipe; see {@link Deferred.Permute} for a
   * permute's); a null source is skipped, and one given twice ({@code x + x}, {@code h @ h^T}) is listed once. CPU only.
   */
  static Storage deferred(int length, Deferred recipe, Storage... sources) {
    Storage s = new Storage(length);
    s.pending = recipe;
    s.sources = sources;
    s.sealed = true; // its array will be made here and handed to no one
    for (int i = 0; i < sources.length; i++) { // a write to any of them computes these values first
      Storage source = sources[i];
      if (source == null || Arrays.asList(sources).subList(0, i).contains(source)) {
        continue;
      }
      source.addReader(s);
      s.depth = Math.max(s.depth, source.deferredDepth() + 1);
    }
    return s;
  }

  /** Of a deferred storage while its values are not computed: the storages its recipe reads (null entries skipped). */
  private Storage[] sources;

  /**
   * The storages whose values this one's recipe reads while they are not computed yet (some may be null); none once they
   * are. For {@link Intermediates}: a storage a live deferred one reads is live too.
   */
  Storage[] pendingSources() {
    return pending == null || sources == null ? new Storage[0] : sources;
  }

  /**
   * Set once this storage's heap array went back to the thread's {@link ArrayPool} ({@link #release}): any later use of
   * the values throws rather than read or write an array that now holds another tensor's.
   */
  private boolean released;

  /**
   * Gives this storage's values up: nothing may read or write them again (a layer's output inside a {@code Sequential}
   * under no grad, read by the next layer and held by no one, {@link Intermediates}). A {@link #isSealed sealed} CPU
   * storage's heap array goes back to the thread's {@link ArrayPool} for the next output of its length; a deferred one's
   * recipe is dropped (its values were never needed), so that it holds its sources no longer; a CUDA storage's device
   * block goes back to the CUDA caching allocator ({@link #releaseDevice}). Any other storage (an array a caller may have
   * been handed) is left to the collector. From here on every hand-out of the values throws.
   *
   * @return whether an array went back to the pool
   */
  boolean release() {
    if (released) {
      return false;
    }
    if (home.isCuda()) {
      return releaseDevice();
    }
    released = true;
    if (pending != null) {
      pending = null;
      sources = null;
      return false;
    }
    float[] h = heap;
    boolean give = sealed && h != null;
    heap = null;
    heapCurrent = false;
    nativeCurrent = false;
    if (give) {
      ArrayPool.give(h);
    }
    return give;
  }

  /**
   * {@link #release} of a CUDA storage: its device block goes back to the CUDA caching allocator now ({@link
   * CudaBuffer#release}), for the next output of its size class, rather than when the collector finds the storage
   * unreachable; a host copy it kept is dropped. Reuse is ordered on the one stream, so kernels already queued that read
   * the block run before any that write it again.
   *
   * @return whether a block went back to the allocator
   */
  private boolean releaseDevice() {
    released = true;
    CudaBuffer block = cuda;
    cuda = null;
    cudaCurrent = false;
    heap = null;
    heapCurrent = false;
    nativeData = null;
    nativeCurrent = false;
    if (block == null) {
      return false;
    }
    block.release();
    return true;
  }

  boolean isReleased() {
    return released;
  }

  /**
   * Whether this storage's values are not computed yet and its recipe reads, directly or through other such storages,
   * one that was {@link #release released}: a deferred value inside a layer (an attention's projection read once into
   * scratch) that only the layer's maps, given back since, lead to. No one reads it any more; it was listed as a reader
   * of a parameter it reads, which an optimizer step then writes.
   */
  private boolean readsReleased() {
    for (Storage source : pendingSources()) {
      if (source != null && (source.released || source.readsReleased())) {
        return true;
      }
    }
    return false;
  }

  /** Throws when the values were {@link #release released}: no use of them reaches an array another tensor now holds. */
  private void requireNotReleased() {
    if (released) {
      throw new IllegalStateException("this tensor's values were given back for reuse: it was an intermediate output of a"
          + " Sequential (or TransformerEncoder/Decoder) run under Kiln.noGrad(), which nothing was to read again (a Kiln"
          + " bug if you reached it: please report how)");
    }
  }

  /** The most recipes a deferred value's computation may go through ({@link #deferredDepth}). */
  static final int MOST_DEFERRED_DEPTH = 5;

  /** Of a deferred storage: 1 + the deepest of its sources' {@link #deferredDepth}s when it was made. */
  private int depth;

  /**
   * How many recipes computing this storage's values may go through, each reading the next one's values (a linear layer
   * over the heads' join over a projection: 3); 0 once they are computed (or for any other storage). An op defers only
   * while this stays under {@link #MOST_DEFERRED_DEPTH}, so that a chain of deferred ops (layer after layer under no
   * grad) never computes through more than a few recipes at once, nor holds the inputs of more.
   */
  int deferredDepth() {
    return pending == null ? 0 : depth;
  }

  /** The recipe of this storage's values while they are not computed yet, else null. */
  Deferred pending() {
    return pending;
  }

  /**
   * Whether the deferred values were computed once into a reader's own array and not kept ({@link #takeOneRead}): the
   * next read makes them here, so that no value is computed more than twice.
   */
  private volatile boolean readOnce;

  /**
   * The recipe, for one read that computes the values into the reader's own array (a fused kernel's output or scratch)
   * and leaves this storage deferred, when the values are not computed yet and were not read so before; else null. Marks
   * the read: a later reader computes them here ({@link #settle}).
   */
  Deferred takeOneRead() {
    Deferred recipe = pending;
    if (recipe == null || readOnce) {
      return null;
    }
    readOnce = true;
    return recipe;
  }

  /** Whether {@code values} is this storage's heap array (not scratch a one-time read computed elsewhere). */
  boolean holds(float[] values) {
    return values == heap;
  }

  /** Marks a storage whose heap array a Kiln op made and gave to no one: {@link #sealed}. */
  void seal() {
    sealed = true;
  }

  boolean isSealed() {
    return sealed && home == Device.cpu();
  }

  /**
   * Lists {@code reader}, a deferred storage whose recipe reads this one, to be computed before this one is written.
   * Synchronized, with {@link #beforeWrite}'s taking of the list: several threads may read one tensor at once (a
   * model's buffer permuted under concurrent inference), and each lists its own readers here.
   */
  private synchronized void addReader(Storage reader) {
    if (readers == null) {
      readers = new ArrayList<>(2);
    } else if (readers.size() >= 16 && Integer.bitCount(readers.size()) == 1) {
      readers.removeIf(r -> r.get() == null); // dropped unread (a matmul read the source in place): nothing to make
    }
    readers.add(new WeakReference<>(reader));
  }

  /** Computes the deferred values, if any, into a heap array (not a write: the version stays). */
  private void settle() {
    Deferred recipe = pending;
    if (recipe == null) {
      return;
    }
    float[] h = ArrayPool.floats(length); // overwritten
    recipe.fill(h);
    heap = h;
    heapCurrent = true;
    pending = null;
    sources = null;
  }

  /** Before the values change: this storage's own deferred values, then those of the storages that read it. */
  private void beforeWrite() {
    settle();
    if (readers == null) { // a write is never concurrent with other threads' use of this storage: no lock needed to see none
      return;
    }
    List<WeakReference<Storage>> rs;
    synchronized (this) {
      rs = readers;
      readers = null;
    }
    if (rs != null) {
      for (WeakReference<Storage> r : rs) {
        Storage reader = r.get();
        if (reader != null && reader.readsReleased()) {
          reader.release(); // dead: a container gave back what it reads (Intermediates), so no one can read it
        } else if (reader != null) {
          reader.settle();
        }
      }
    }
  }

  /** Zeros in native memory only; the heap array is made when someone asks for it. */
  static Storage nativeZeros(int length) {
    Storage s = new Storage(length);
    s.nativeData = new FloatPointer(Math.max(1, length));
    s.nativeData.zero();
    s.nativeCurrent = true;
    s.zeroedAt = s.version;
    return s;
  }

  /**
   * Device memory for {@code length} floats whose values a kernel is about to write: nothing is
   * uploaded and the contents are undefined until then.
   */
  static Storage onCuda(int length) {
    Storage s = new Storage(length);
    s.cuda = Cuda.get().allocate(length);
    s.cudaCurrent = true;
    s.home = Device.cuda();
    return s;
  }

  /**
   * Device memory holding {@code count} values of {@code src} from {@code offset}, uploaded (in
   * stream order, without waiting). With {@code keepHost} the storage also keeps a heap copy,
   * current like the device one, so that reading it on the host costs no download: for class
   * indices, which cross-entropy checks on the host before its kernel indexes by them.
   */
  static Storage uploaded(float[] src, int offset, int count, boolean keepHost) {
    Storage s = onCuda(count);
    Cuda.get().upload(src, offset, s.cuda.address(), count);
    if (keepHost) {
      s.heap = java.util.Arrays.copyOfRange(src, offset, offset + count);
      s.heapCurrent = true;
    }
    return s;
  }

  /** Device memory for {@code length} floats, zeroed. */
  static Storage cudaZeros(int length) {
    Storage s = onCuda(length);
    Cuda.get().zero(s.cuda.address(), length);
    return s;
  }

  int length() {
    return length;
  }

  Device device() {
    return home;
  }

  /**
   * Makes {@code device} this storage's home, copying the values there; the other sides are
   * dropped, so a parameter moved to the GPU keeps no stale heap array.
   */
  void moveTo(Device device) {
    if (device == home) {
      return;
    }
    beforeWrite(); // the deferred values, own and of the storages that read this one, are made on the heap first
    if (device.isCuda()) {
      cudaForRead();
      heap = null;
      nativeData = null;
      heapCurrent = false;
      nativeCurrent = false;
    } else {
      heapForRead();
      if (cuda != null) {
        cuda.release();
        cuda = null;
      }
      cudaCurrent = false;
    }
    home = device;
  }

  boolean isNativeCurrent() {
    return nativeCurrent;
  }

  boolean isHeapCurrent() {
    return heapCurrent;
  }

  /** The heap array, current, for reading only. */
  float[] heapForRead() {
    settle();
    requireNotReleased();
    if (!heapCurrent) {
      if (heap == null) {
        heap = new float[length];
      }
      if (nativeCurrent) {
        nativeData.get(heap, 0, length);
      } else if (cudaCurrent) {
        Cuda.get().download(cuda.address(), heap, 0, length);
      }
      heapCurrent = true;
    }
    return heap;
  }

  /**
   * Counts the hands-out for writing (PyTorch's version counter): a node that saved this storage
   * for its backward sees the count move when the values may have been changed since.
   */
  int version;

  /** The heap array, current, for reading and writing: the native copy becomes stale. */
  float[] heapForWrite() {
    beforeWrite();
    sealed = false;
    version++;
    float[] h = heapForRead();
    nativeCurrent = false;
    cudaCurrent = false;
    return h;
  }

  /**
   * Frees the native copy now rather than when the storage is collected, first copying its values
   * to the heap array when that is where they are current (a tensor still held elsewhere keeps
   * them); the next native use allocates again. For gradients dropped every step ({@code
   * zeroGrad(true)}): their native memory, which the collector does not see, piled up to
   * gigabytes before a collection came while the heap stayed small. CUDA storages are left alone.
   */
  void releaseNative() {
    settle();
    if (nativeData == null || home.isCuda()) {
      return;
    }
    if (nativeCurrent && !heapCurrent) {
      heapForRead();
    }
    nativeData.close();
    nativeData = null;
    nativeCurrent = false;
  }

  /** The native copy, current, for reading only. */
  FloatPointer nativeForRead() {
    settle();
    requireNotReleased();
    if (!nativeCurrent) {
      if (nativeData == null) {
        nativeData = new FloatPointer(Math.max(1, length));
      }
      if (heapCurrent) {
        nativeData.put(heap, 0, length);
      } else if (cudaCurrent) {
        Cuda.get().download(cuda.address(), nativeData, length);
      }
      nativeCurrent = true;
    }
    return nativeData;
  }

  /** The native copy, current, for reading and writing: the heap array becomes stale. */
  FloatPointer nativeForWrite() {
    beforeWrite();
    sealed = false;
    version++;
    FloatPointer p = nativeForRead();
    heapCurrent = false;
    cudaCurrent = false;
    return p;
  }

  /** The device address of the first value, current, for reading only (uploads when stale). */
  long cudaForRead() {
    settle();
    requireNotReleased();
    if (!cudaCurrent) {
      Cuda device = Cuda.get();
      if (cuda == null) {
        cuda = device.allocate(length);
      }
      if (heapCurrent) {
        device.upload(heap, 0, cuda.address(), length);
      } else if (nativeCurrent) {
        device.upload(nativeData, cuda.address(), length);
      }
      cudaCurrent = true;
    }
    return cuda.address();
  }

  /** The device address, current, for reading and writing: the host copies become stale. */
  long cudaForWrite() {
    beforeWrite();
    sealed = false;
    version++;
    long a = cudaForRead();
    heapCurrent = false;
    nativeCurrent = false;
    return a;
  }

  /** Sets {@code [from, to)} to zero on the side that is current, leaving the other stale. */
  void zero(int from, int to) {
    beforeWrite();
    if (home.isCuda()) {
      Cuda.get().zero(cudaForWrite() + (long) from * Float.BYTES, to - from);
      return;
    } else if (nativeCurrent && !heapCurrent) {
      version++; // a write, as nativeForWrite counts it
      if (from == 0 && to == length) {
        nativeData.zero();
      } else {
        nativeData.position(from).limit(to).zero();
        nativeData.position(0).limit(0);
      }
    } else {
      Arrays.fill(heapForWrite(), from, to, 0f);
    }
    if (from == 0 && to == length) {
      zeroedAt = version;
    }
  }

  /**
   * The {@link #version} at which the whole storage was last set to zero ({@link #zero}, {@link
   * #nativeZeros}), -1 when never: while the version has not moved since, every value is +0.
   */
  private int zeroedAt = -1;

  /**
   * Whether every value is known to be +0 (a CPU storage zeroed whole, not handed out for writing
   * since: every write goes through {@link #heapForWrite}, {@link #nativeForWrite} or {@link #zero},
   * which move the version). False says nothing.
   */
  boolean isKnownZero() {
    return holdsZerosOnly() && !home.isCuda();
  }

  /** As {@link #isKnownZero} on either device: zeroed whole (on CUDA by {@link #zero}) and not handed out for writing since. */
  boolean holdsZerosOnly() {
    return zeroedAt >= 0 && version == zeroedAt;
  }
}
