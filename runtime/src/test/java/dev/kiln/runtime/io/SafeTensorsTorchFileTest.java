package dev.kiln.runtime.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kiln.runtime.DType;
import dev.kiln.runtime.Tensor;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Reads {@code io/torch_net.safetensors}, which {@code io/make_torch_file.py} wrote from a PyTorch
 * state_dict (F32 parameters and buffers, an I64 {@code num_batches_tracked}, metadata first).
 */
class SafeTensorsTorchFileTest {
  static Path resource(String name) throws URISyntaxException {
    return Path.of(SafeTensorsTorchFileTest.class.getResource("/io/" + name).toURI());
  }

  @Test
  void readsThePyTorchStateDict() throws IOException, URISyntaxException {
    Map<String, Tensor> state = SafeTensors.read(resource("torch_net.safetensors"));
    assertEquals(List.of("mlp.0.weight", "mlp.0.bias", "mlp.2.weight", "mlp.2.bias", "bn.weight", "bn.bias",
        "bn.running_mean", "bn.running_var", "bn.num_batches_tracked"), List.copyOf(state.keySet()));
    // make_torch_file.NET_VALUES
    assertTensor(state.get("mlp.0.weight"), new int[] {2, 3}, 0.5f, -0.25f, 0.125f, -1.0f, 0.75f, 0.375f);
    assertTensor(state.get("mlp.0.bias"), new int[] {2}, 0.1f, -0.2f);
    assertTensor(state.get("mlp.2.weight"), new int[] {1, 2}, 1.5f, -2.0f);
    assertTensor(state.get("mlp.2.bias"), new int[] {1}, 0.3f);
    assertTensor(state.get("bn.weight"), new int[] {2}, 1.25f, 0.8f);
    assertTensor(state.get("bn.bias"), new int[] {2}, -0.1f, 0.05f);
    assertTensor(state.get("bn.running_mean"), new int[] {2}, 0.2f, -0.4f);
    assertTensor(state.get("bn.running_var"), new int[] {2}, 1.5f, 0.5f);
    Tensor count = state.get("bn.num_batches_tracked");
    assertEquals(DType.INT32, count.dtype());
    assertArrayEquals(new int[0], count.shape());
    assertEquals(7, count.toIntArray()[0]);
  }

  @Test
  void readsThePyTorchOutputs() throws IOException, URISyntaxException {
    Map<String, Tensor> out = SafeTensors.read(resource("torch_net_outputs.safetensors"));
    assertEquals(List.of("x", "mlp_out", "bn_in", "bn_out"), List.copyOf(out.keySet()));
    assertTensor(out.get("x"), new int[] {4, 3}, 1, 2, 3, -1, 0.5f, 2, 0.25f, -3, 1, 2, 1, -4);
  }

  private static void assertTensor(Tensor t, int[] shape, float... values) {
    assertEquals(DType.FLOAT32, t.dtype());
    assertArrayEquals(shape, t.shape());
    assertArrayEquals(values, t.toFloatArray());
  }
}
