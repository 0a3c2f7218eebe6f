package dev.kiln.runtime.cuda;

import java.util.Arrays;
import org.bytedeco.javacpp.FloatPointer;

/**
 * Constant operands for library calls, so that sums and broadcasts need no kernel of their own: a
 * device vector of ones (cuBLAS sums rows by a product with it, adds a bias to every row by a
 * rank-1 update with it); and host scalars for the {@code alpha}/{@code beta} arguments.
 *
 * <p>The vector grows (to a power of two) when a longer one is asked for. Its address is valid
 * for calls queued until the next request: the old block goes back to the allocator when it
 * grows, which is safe for calls already queued (reuse is ordered on the one stream), so callers
 * ask again for every call rather than keep an address.
 */
final class DeviceConstants {
  /** Host scalars for cuBLAS (pointer mode host) and cuDNN, read by the library during the call. */
  static final FloatPointer ONE = new FloatPointer(1f);
  static final FloatPointer ZERO = new FloatPointer(0f);

  private static CudaBuffer ones;
  private static long onesLength;

  private DeviceConstants() {}

  /** The address of at least {@code n} ones on the device. */
  static long ones(long n) {
    if (ones == null || onesLength < n) {
      long length = capacity(n);
      if (length > Integer.MAX_VALUE) {
        throw new IllegalArgumentException("a vector of " + n + " ones is more than one upload covers");
      }
      CudaBuffer grown = Cuda.get().allocate(length);
      float[] host = new float[(int) length];
      Arrays.fill(host, 1f);
      Cuda.get().upload(host, 0, grown.address(), host.length);
      if (ones != null) {
        ones.release();
      }
      ones = grown;
      onesLength = length;
    }
    return ones.address();
  }

  /** A host scalar holding {@code value}: the shared ones for 0 and 1, else a fresh one. */
  static FloatPointer scalar(float value) {
    if (value == 0f) {
      return ZERO;
    }
    return value == 1f ? ONE : new FloatPointer(value);
  }

  private static long capacity(long n) {
    return Math.max(1024, Long.highestOneBit(Math.max(1, n - 1)) << 1);
  }
}
