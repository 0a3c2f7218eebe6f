package dev.kiln.runtime.cuda;

/**
 * A CUDA, cuBLAS, cuDNN or NVRTC call that did not succeed. The message names the call, the
 * library's status code and its explanation, e.g. {@code cudaMalloc(268435456 bytes): status 2
 * (out of memory)}.
 */
public final class CudaException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public CudaException(String message) {
    super(message);
  }

  public CudaException(String message, Throwable cause) {
    super(message, cause);
  }
}
