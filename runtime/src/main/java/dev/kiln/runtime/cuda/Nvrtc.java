package dev.kiln.runtime.cuda;

import org.bytedeco.cuda.global.nvrtc;
import org.bytedeco.cuda.nvrtc._nvrtcProgram;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerPointer;
import org.bytedeco.javacpp.SizeTPointer;

/**
 * CUDA C source to machine code (a cubin for one architecture, not PTX: nothing is left for the
 * driver to compile at load time) through NVRTC. Needs no GPU, only the NVRTC library, so the
 * kernels' sources can be checked on any machine that has it.
 */
public final class Nvrtc {
  private Nvrtc() {}

  /**
   * Compiles {@code source} for compute capability {@code major.minor}.
   *
   * @param name the program's name in error messages, e.g. {@code "kiln_elementwise.cu"}
   * @throws CudaException if it does not compile, with NVRTC's log
   */
  public static byte[] compile(String name, String source, int major, int minor) {
    _nvrtcProgram program = new _nvrtcProgram();
    try (BytePointer src = new BytePointer(source); BytePointer file = new BytePointer(name)) {
      Cuda.checkNvrtc("nvrtcCreateProgram(" + name + ")", nvrtc.nvrtcCreateProgram(program, src, file, 0, (PointerPointer<?>) null, null));
    }
    try {
      String[] options = {"--gpu-architecture=sm_" + major + minor, "--std=c++17", "-default-device"};
      int status;
      try (PointerPointer<BytePointer> opts = new PointerPointer<>(options)) {
        status = nvrtc.nvrtcCompileProgram(program, options.length, opts);
      }
      if (status != nvrtc.NVRTC_SUCCESS) {
        throw new CudaException("NVRTC could not compile " + name + " for sm_" + major + minor + ": "
            + nvrtc.nvrtcGetErrorString(status).getString() + "\n" + log(program));
      }
      try (SizeTPointer size = new SizeTPointer(1)) {
        Cuda.checkNvrtc("nvrtcGetCUBINSize(" + name + ")", nvrtc.nvrtcGetCUBINSize(program, size));
        try (BytePointer cubin = new BytePointer(size.get())) {
          Cuda.checkNvrtc("nvrtcGetCUBIN(" + name + ")", nvrtc.nvrtcGetCUBIN(program, cubin));
          byte[] out = new byte[(int) size.get()];
          cubin.get(out);
          return out;
        }
      }
    } finally {
      nvrtc.nvrtcDestroyProgram(program);
    }
  }

  private static String log(_nvrtcProgram program) {
    try (SizeTPointer size = new SizeTPointer(1)) {
      if (nvrtc.nvrtcGetProgramLogSize(program, size) != nvrtc.NVRTC_SUCCESS || size.get() <= 1) {
        return "(no log)";
      }
      try (BytePointer text = new BytePointer(size.get())) {
        nvrtc.nvrtcGetProgramLog(program, text);
        return text.getString().strip();
      }
    }
  }
}
