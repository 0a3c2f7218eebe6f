package dev.kiln.runtime.cuda;

import java.util.HashMap;
import java.util.Map;
import org.bytedeco.cuda.cudart.CUfunc_st;
import org.bytedeco.cuda.cudart.CUmod_st;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.BytePointer;

/**
 * A CUDA C source compiled once (NVRTC, for this GPU's architecture) and loaded into the device;
 * its {@code extern "C" __global__} functions are fetched by name as {@link CudaKernel}s. Modules
 * are cached by source text for the life of the process, so the runtime's kernel families and
 * each generated model's fused kernels are compiled at their first use only.
 */
public final class CudaModule {
  private static final Map<String, CudaModule> LOADED = new HashMap<>();

  private final String name;
  private final CUmod_st module;
  private final Map<String, CudaKernel> kernels = new HashMap<>();

  private CudaModule(String name, CUmod_st module) {
    this.name = name;
    this.module = module;
  }

  /** The module for {@code source}, compiled and loaded on first request. */
  public static synchronized CudaModule of(String name, String source) {
    CudaModule m = LOADED.get(source);
    if (m == null) {
      Cuda cuda = Cuda.get();
      Cuda.ensureContext();
      byte[] cubin = Nvrtc.compile(name, source, cuda.major(), cuda.minor());
      CUmod_st module = new CUmod_st();
      try (BytePointer image = new BytePointer(cubin)) {
        Cuda.checkDriver("cuModuleLoadData(" + name + ")", cudart.cuModuleLoadData(module, image));
      }
      m = new CudaModule(name, module);
      LOADED.put(source, m);
    }
    return m;
  }

  /** The kernel {@code function} of this module (an {@code extern "C"} name). */
  public synchronized CudaKernel kernel(String function) {
    CudaKernel k = kernels.get(function);
    if (k == null) {
      CUfunc_st f = new CUfunc_st();
      Cuda.ensureContext();
      Cuda.checkDriver("cuModuleGetFunction(" + name + ", " + function + ")", cudart.cuModuleGetFunction(f, module, function));
      k = new CudaKernel(name + ":" + function, f);
      kernels.put(function, k);
    }
    return k;
  }
}
