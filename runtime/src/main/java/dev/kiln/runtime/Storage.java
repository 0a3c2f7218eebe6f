package dev.kiln.runtime;

import java.util.Arrays;
import org.bytedeco.javacpp.FloatPointer;

/**
 * The values behind a tensor and its views, resident on the Java heap, in native memory, or both.
 *
 * <p>Eager kernels work on the heap array. Native code (OpenBLAS) cannot use a heap array without
 * copying it, so tensors that native code touches on every step (parameters, their gradients)
 * keep a native copy: each side is copied to the other only when it is stale, and writing one
 * side makes the other stale. A parameter that the compiled model reads natively and the
 * optimizer updates natively is therefore never copied during training. Either side is
 * allocated when first needed; native memory is freed by JavaCPP when the storage is collected.
 * Not thread-safe, like the tensors that own it.
 */
final class Storage {
  private final int length;
  private float[] heap;
  private FloatPointer nativeData;
  private boolean heapCurrent;
  private boolean nativeCurrent;

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

  /** Zeros in native memory only; the heap array is made when someone asks for it. */
  static Storage nativeZeros(int length) {
    Storage s = new Storage(length);
    s.nativeData = new FloatPointer(Math.max(1, length));
    s.nativeData.zero();
    s.nativeCurrent = true;
    return s;
  }

  int length() {
    return length;
  }

  boolean isNativeCurrent() {
    return nativeCurrent;
  }

  /** The heap array, current, for reading only. */
  float[] heapForRead() {
    if (!heapCurrent) {
      if (heap == null) {
        heap = new float[length];
      }
      if (nativeCurrent) {
        nativeData.get(heap, 0, length);
      }
      heapCurrent = true;
    }
    return heap;
  }

  /** The heap array, current, for reading and writing: the native copy becomes stale. */
  float[] heapForWrite() {
    float[] h = heapForRead();
    nativeCurrent = false;
    return h;
  }

  /** The native copy, current, for reading only. */
  FloatPointer nativeForRead() {
    if (!nativeCurrent) {
      if (nativeData == null) {
        nativeData = new FloatPointer(Math.max(1, length));
      }
      if (heapCurrent) {
        nativeData.put(heap, 0, length);
      }
      nativeCurrent = true;
    }
    return nativeData;
  }

  /** The native copy, current, for reading and writing: the heap array becomes stale. */
  FloatPointer nativeForWrite() {
    FloatPointer p = nativeForRead();
    heapCurrent = false;
    return p;
  }

  /** Sets {@code [from, to)} to zero on the side that is current, leaving the other stale. */
  void zero(int from, int to) {
    if (nativeCurrent && !heapCurrent) {
      if (from == 0 && to == length) {
        nativeData.zero();
      } else {
        nativeData.position(from).limit(to).zero();
        nativeData.position(0).limit(0);
      }
    } else {
      Arrays.fill(heapForWrite(), from, to, 0f);
    }
  }
}
