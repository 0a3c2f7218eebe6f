package dev.kiln.samples;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.io.SafeTensors;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The state dict of the PyTorch peer's CNN ({@code samples/peer/pytorch_cuda_peer.py} Cnn), saved
 * by {@code torch.save} ({@code io/fashion_cnn.pt}, written by {@code
 * runtime/src/test/resources/io/make_torch_pt_files.py}), loads into Kiln's {@link FashionCnn} with
 * {@code model.load} and computes what PyTorch computed for a recorded input, in evaluation mode.
 * Every tensor in the file is a strided view of one shared storage, so this also checks views.
 */
class FashionCnnTorchFileTest {
  @Test
  void thePeersStateDictLoadsIntoFashionCnnAndComputesTheSameOutputs() throws Exception {
    FashionCnn cnn = new FashionCnn();
    cnn.load(resource("fashion_cnn.pt"));
    cnn.eval();
    Map<String, Tensor> io = SafeTensors.read(resource("fashion_cnn_io.safetensors"));
    Tensor y = cnn.apply(io.get("x"));
    assertArrayEquals(io.get("y").shape(), y.shape());
    assertArrayEquals(io.get("y").toFloatArray(), y.toFloatArray(), 1e-3f); // outputs of magnitude ~20
  }

  private static Path resource(String name) throws Exception {
    return Path.of(FashionCnnTorchFileTest.class.getResource("/io/" + name).toURI());
  }
}
