package dev.kiln.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.bytedeco.cuda.cudart.CUfunc_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.Loader;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@code cuLaunchKernel} receives the argument array the driver reads (entry i points at argument
 * i). Passed as a LongPointer the call bound to the {@code @ByPtrPtr} overload and handed the
 * driver the address of a local: a crash at the first launch on a GPU, invisible to every check
 * without one. Runs against the stub driver of {@code scripts/cuda-dev-env}, whose cuLaunchKernel
 * returns 0 only for a well-formed array holding these three arguments ({@code -Dgroups=nvrtc}).
 */
@Tag("nvrtc")
class CudaKernelLaunchTest {
  @Test
  void theDriverReadsEachArgumentThroughTheParameterArray() {
    Loader.load(cudart.class);
    int[] devices = new int[1];
    assumeTrue(cudart.cudaGetDeviceCount(devices) != 0 || devices[0] == 0,
        "a real driver answers here: this test needs the stub driver of scripts/cuda-dev-env");
    CudaKernel kernel = new CudaKernel("kiln_probe", new CUfunc_st());
    assertEquals(0, kernel.launchOn(new CUstream_st(), 1, 1, 32, 0, 0x4B494C4EL, 7, 2.5f));
    assertEquals(1, kernel.launchOn(new CUstream_st(), 1, 1, 32, 0, 0x4B494C4EL, 8, 2.5f), "the stub checks the values");
  }
}
