package dev.kiln.samples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import dev.kiln.runtime.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** {@code bench --model layers}: every case runs, and the PyTorch peer builds the same cases under the same names. */
class LayerBenchTest {
  @Test
  void everyCaseRunsForwardAndBackward() {
    for (LayerBench.Case c : LayerBench.cases(2, List.of())) {
      Tensor[] in = new Tensor[c.inputs().length];
      for (int i = 0; i < in.length; i++) {
        in[i] = Tensor.randn(c.inputs()[i]).requiresGrad(true);
      }
      c.op().apply(in).sum().backward();
      assertNotNull(in[0].grad(), c.name());
    }
  }

  @Test
  void thePeerHasTheSameCasesInTheSameOrder() throws IOException {
    String peer = Files.readString(Path.of("peer/pytorch_layer_peer.py"));
    Matcher m = Pattern.compile("\\(\"([^\"]+)\", \\[").matcher(peer);
    List<String> names = new ArrayList<>();
    while (m.find()) {
      names.add(m.group(1));
    }
    assertEquals(LayerBench.cases(64, List.of()).stream().map(LayerBench.Case::name).toList(), names);
  }

  @Test
  void onlyKeepsTheCasesWhoseNamesStartSo() {
    assertEquals(List.of("conv2d 3->32 5x5 pad 2", "gelu", "layer_norm 256"),
        LayerBench.cases(8, List.of("gelu", "layer_norm", "conv2d 3->")).stream().map(LayerBench.Case::name).toList());
  }
}
