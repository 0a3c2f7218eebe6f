package dev.kiln.dsl;

import dev.kiln.runtime.Device;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * ReLU6 ... PixelUnshuffle and KLDivLoss ... PoissonNLLLoss on CUDA against PyTorch 1.13's values and gradients (the
 * cases of {@link MoreLayersTest}): results and gradients stay on the device. Needs a GPU: tagged cuda.
 */
@Tag("cuda")
class CudaMoreLayersTest {
  @Test
  void valuesAndGradientsOnTheDeviceAsPyTorchs() {
    MoreLayersTest.agreeWithPyTorch(Device.cuda(), 1e-5, 1e-5);
  }
}
