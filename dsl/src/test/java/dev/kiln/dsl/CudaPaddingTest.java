package dev.kiln.dsl;

import dev.kiln.runtime.Device;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** F.pad's non-constant modes on CUDA against PyTorch 1.13 (the cases of {@link PaddingTest}): results and gradients on the device. Needs a GPU: tagged cuda. */
@Tag("cuda")
class CudaPaddingTest {
  @Test
  void modesOnTheDeviceArePyTorchs() {
    for (String name : PaddingTest.CASES) {
      PaddingTest.agreesWithPyTorch(name, Device.cuda());
    }
  }
}
