package dev.kiln.dsl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kiln.runtime.DType;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.io.SafeTensors;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Checkpoints cross between PyTorch and Kiln both ways: a state dict PyTorch wrote loads into the
 * Kiln twin ({@link TorchNet}) and computes what PyTorch computed; a file Kiln wrote loads into the
 * PyTorch model with {@code load_state_dict(strict=True)} (when python3 with torch is installed).
 * Both in safetensors and in {@code torch.save}'s own format (.pt, .pth).
 */
class StateDictTorchInteropTest {
  private static final Path PYTHON = Path.of("/usr/bin/python3");
  private static final Pattern NUMBER = Pattern.compile("[-+]?\\d+(?:\\.\\d*)?(?:[eE][-+]?\\d+)?");

  @TempDir Path dir;

  @ParameterizedTest
  @ValueSource(strings = {"torch_net.safetensors", "torch_net.pt"}) // safetensors, and torch.save's own format
  void pyTorchStateDictLoadsIntoTheKilnTwinAndComputesTheSame(String fileName) throws IOException {
    TorchNet net = new TorchNet();
    List<Tensor> params = net.parameters();
    net.load(TorchNet.resource(fileName));
    assertSame(params.get(0), net.parameters().get(0));
    assertArrayEquals(new float[] {0.5f, -0.25f, 0.125f, -1.0f, 0.75f, 0.375f}, net.stateDict().get("mlp.0.weight").toFloatArray());
    assertArrayEquals(new float[] {1.5f, 0.5f}, net.bn.runningVar().toFloatArray());
    assertEquals(7f, net.bn.numBatchesTracked().item());

    Map<String, Tensor> torch = SafeTensors.read(TorchNet.resource("torch_net_outputs.safetensors"));
    net.eval();
    assertClose(torch.get("mlp_out"), net.apply(torch.get("x")), 1e-6f);
    assertClose(torch.get("bn_out"), net.bn.apply(torch.get("bn_in")), 1e-6f);
  }

  @ParameterizedTest
  @ValueSource(strings = {"kiln_net.safetensors", "kiln_net.pt", "kiln_net.pth"}) // save picks the format by name
  void kilnFileLoadsIntoPyTorch(String fileName) throws IOException, InterruptedException {
    assumeTrue(Files.isExecutable(PYTHON), "needs " + PYTHON);
    TorchNet net = new TorchNet();
    for (int i = 0; i < 3; i++) {
      net.bn.apply(Tensor.randn(5, 2)); // non-trivial running statistics, num_batches_tracked = 3
    }
    Path file = dir.resolve(fileName);
    net.save(file);
    assertEquals(!fileName.endsWith(".safetensors"), dev.kiln.runtime.io.TorchFiles.isTorchFile(file), fileName);

    String output = runPython(TorchNet.resource("read_safetensors.py").toString(), "--load-net", file.toString());
    assertTrue(output.contains("load_state_dict(strict=True): <All keys matched successfully>"), output);
    net.stateDict().forEach((name, t) -> {
      String dtype = t.dtype() == DType.INT32 ? "int64" : "float32";
      String prefix = name + " " + dtype + " " + Arrays.toString(t.shape()) + " ";
      String line = output.lines().filter(l -> l.startsWith(prefix)).findFirst()
          .orElseThrow(() -> new AssertionError("no line '" + prefix + "...' in:\n" + output));
      assertArrayEquals(t.toFloatArray(), numbers(line.substring(prefix.length())), name + " bit for bit");
    });
    Tensor x = SafeTensors.read(TorchNet.resource("torch_net_outputs.safetensors")).get("x"); // make_torch_file.INPUT
    String mlpLine = output.lines().filter(l -> l.startsWith("mlp(INPUT) ")).findFirst().orElseThrow();
    assertClose(Tensor.of(numbers(mlpLine.substring("mlp(INPUT) ".length())), 4, 1), net.eval().apply(x), 1e-6f);
  }

  @Test
  void loadOfATorchCheckpointDictSaysHowToPickItsStateDict() {
    Path file = TorchNet.resource("torch_checkpoint.pt"); // {"model": state_dict, "epoch": 3, ...}
    String message = org.junit.jupiter.api.Assertions.assertThrows(dev.kiln.runtime.io.CheckpointFormatException.class,
        () -> new TorchNet().load(file)).getMessage();
    assertTrue(message.startsWith(file + ": holds a checkpoint dict with the keys ['model', 'model_vars', "), message);
    assertTrue(message.endsWith("read it with TorchFiles.read(file, \"model\")"), message);
  }

  /** Runs a Python script with Debian's python3; skips the test if torch is not installed. */
  static String runPython(String... args) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(List.of(PYTHON.toString()));
    command.addAll(List.of(args));
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), "python did not finish");
    assumeFalse(output.contains("No module named 'torch'"), "needs torch for python3");
    assertEquals(0, p.exitValue(), output);
    return output;
  }

  /** The numbers in Python's repr of a (nested) list, as floats: Python prints float32 values exactly. */
  private static float[] numbers(String text) {
    Matcher m = NUMBER.matcher(text);
    List<Float> out = new ArrayList<>();
    while (m.find()) {
      out.add(Float.parseFloat(m.group()));
    }
    float[] a = new float[out.size()];
    for (int i = 0; i < a.length; i++) {
      a[i] = out.get(i);
    }
    return a;
  }

  private static void assertClose(Tensor expected, Tensor actual, float tolerance) {
    assertArrayEquals(expected.shape(), actual.shape());
    assertArrayEquals(expected.toFloatArray(), actual.toFloatArray(), tolerance);
  }
}
