package dev.kiln.runtime.io;

import static dev.kiln.runtime.io.SafeTensorsTorchFileTest.resource;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kiln.runtime.DType;
import dev.kiln.runtime.Tensor;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.math.BigInteger;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Reads the {@code torch.save} files that {@code io/make_torch_pt_files.py} wrote with PyTorch
 * 1.13, refuses the forbidden, legacy, truncated and corrupt ones with messages naming the file and
 * the problem, and writes files that read back (and, where PyTorch is installed, that {@code
 * torch.load(weights_only=True)} reads).
 */
class TorchFilesTest {
  @TempDir Path dir;

  @Test
  void readsEveryTensorOfAPyTorchStateDictAsTheContiguousFloat32Copy() throws IOException, URISyntaxException {
    Map<String, Tensor> state = TorchFiles.read(resource("torch_state.pt"));
    Map<String, Tensor> expected = SafeTensors.read(resource("torch_state_expected.safetensors"));
    assertEquals(List.copyOf(expected.keySet()), List.copyOf(state.keySet()));
    expected.forEach((name, e) -> {
      Tensor t = state.get(name);
      assertEquals(e.dtype(), t.dtype(), name);
      assertArrayEquals(e.shape(), t.shape(), name);
      assertArrayEquals(e.toFloatArray(), t.toFloatArray(), name);
    });
    // what the script built, spelled out
    assertEquals(List.of("lin.weight", "lin.bias", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var",
        "bn.num_batches_tracked", "conv.weight", "conv.bias", "bf16", "double", "int32", "mask", "transposed", "view_a",
        "view_b", "scalar", "empty"), List.copyOf(state.keySet()));
    assertEquals(DType.INT32, state.get("bn.num_batches_tracked").dtype());
    assertEquals(5f, state.get("bn.num_batches_tracked").item());
    assertArrayEquals(new int[] {2, 1, 2, 2}, state.get("conv.weight").shape()); // float16 in the file
    assertArrayEquals(new float[] {1.5f, -2.25f, 384f}, state.get("bf16").toFloatArray());
    assertArrayEquals(new float[] {0.1f, -1e-3f, 3f, 1e20f}, state.get("double").toFloatArray());
    assertArrayEquals(new float[] {-16777216, 0, 16777216}, state.get("int32").toFloatArray());
    assertArrayEquals(new float[] {1, 0, 1}, state.get("mask").toFloatArray());
    assertArrayEquals(new int[] {3, 2}, state.get("transposed").shape());
    assertArrayEquals(new float[] {0, 3, 1, 4, 2, 5}, state.get("transposed").toFloatArray());
    assertArrayEquals(new float[] {0.5f, 0.75f, 1, 1.25f, 1.5f, 1.75f, 2, 2.25f}, state.get("view_a").toFloatArray());
    assertArrayEquals(new float[] {0.25f, 1, 1.75f, 2.5f}, state.get("view_b").toFloatArray());
    assertArrayEquals(new int[0], state.get("scalar").shape());
    assertEquals(2.5f, state.get("scalar").item());
    assertArrayEquals(new int[] {0, 3}, state.get("empty").shape());
    assertTrue(TorchFiles.isTorchFile(resource("torch_state.pt")));
    assertFalse(TorchFiles.isTorchFile(resource("torch_net.safetensors")));
    assertFalse(TorchFiles.isTorchFile(dir.resolve("missing.pt")));
  }

  @Test
  void readsACheckpointDictWithItsPlainValuesAndPicksTheStateDictByKey() throws IOException, URISyntaxException {
    Path file = resource("torch_checkpoint.pt");
    Map<String, Object> checkpoint = TorchFiles.readCheckpoint(file);
    assertEquals(List.of("model", "model_vars", "optimizer", "epoch", "best", "name", "done", "none", "big", "pair"),
        List.copyOf(checkpoint.keySet()));
    assertEquals(3L, checkpoint.get("epoch"));
    assertEquals(0.875, checkpoint.get("best"));
    assertEquals("tiny", checkpoint.get("name"));
    assertEquals(false, checkpoint.get("done"));
    assertTrue(checkpoint.containsKey("none"));
    assertNull(checkpoint.get("none"));
    assertEquals(BigInteger.TWO.pow(70), checkpoint.get("big"));
    assertEquals(List.of(1L, 2L), checkpoint.get("pair"));
    Map<?, ?> optimizer = (Map<?, ?>) checkpoint.get("optimizer");
    Map<?, ?> group = (Map<?, ?>) ((List<?>) optimizer.get("param_groups")).get(0);
    assertEquals(0.1, group.get("lr"));
    assertEquals(0.9, group.get("momentum"));
    assertEquals(List.of(0L, 1L, 2L, 3L, 4L, 5L), group.get("params"));
    assertThrows(UnsupportedOperationException.class, () -> checkpoint.put("epoch", 4L));
    assertThrows(UnsupportedOperationException.class, optimizer::clear);

    Map<String, Tensor> model = TorchFiles.read(file, "model");
    Map<String, Tensor> parameters = TorchFiles.read(file, "model_vars"); // nn.Parameter: _rebuild_parameter
    assertEquals(List.copyOf(model.keySet()), List.copyOf(parameters.keySet()));
    model.forEach((name, t) -> assertArrayEquals(t.toFloatArray(), parameters.get(name).toFloatArray(), name));
    assertArrayEquals(TorchFiles.read(resource("torch_state.pt")).get("lin.weight").toFloatArray(),
        model.get("lin.weight").toFloatArray());

    assertMessage(() -> TorchFiles.read(file), file + ": holds a checkpoint dict with the keys ['model', 'model_vars', "
        + "'optimizer', 'epoch', 'best', 'name', 'done', 'none', 'big', 'pair'], not a state dict of tensors; the state "
        + "dict is under \"model\", \"model_vars\": read it with TorchFiles.read(file, \"model\")");
    assertMessage(() -> TorchFiles.read(file, "epoch"), file + ": \"epoch\" holds 3, not a state dict (a dict of "
        + "tensors by name); the keys are ['model', 'model_vars', 'optimizer', 'epoch', 'best', 'name', 'done', 'none', "
        + "'big', 'pair']");
    assertMessage(() -> TorchFiles.read(file, "weights"), file + ": has no key \"weights\"; its keys are ['model', "
        + "'model_vars', 'optimizer', 'epoch', 'best', 'name', 'done', 'none', 'big', 'pair']");
  }

  @Test
  void refusesAPickleThatNamesAGlobalOutsideTheAllowList() throws URISyntaxException {
    Path file = resource("torch_forbidden.pt");
    String message = assertThrows(CheckpointFormatException.class, () -> TorchFiles.read(file)).getMessage();
    assertTrue(message.startsWith(file + ": torch_forbidden/data.pkl, opcode at offset 2: not a state dict: the pickle "
        + "refers to the global os.system, and Kiln's restricted unpickler refuses to run arbitrary code (as "
        + "torch.load(weights_only=True)); it allows only collections.OrderedDict, torch._utils._rebuild_tensor_v2, "),
        message);
  }

  @Test
  void refusesTheLegacyFormatWithAdvice() throws URISyntaxException {
    Path file = resource("torch_legacy.pt");
    assertTrue(TorchFiles.isTorchFile(file));
    assertMessage(() -> TorchFiles.read(file), file + ": the legacy format of torch.save before PyTorch 1.6 (or "
        + "_use_new_zipfile_serialization=False), which Kiln does not read: re-save it with a current PyTorch, "
        + "torch.save(torch.load(\"torch_legacy.pt\"), \"model.pt\")");
  }

  @Test
  void refusesTruncatedFilesNamingThem() throws IOException, URISyntaxException {
    byte[] bytes = Files.readAllBytes(resource("torch_state.pt"));
    for (int length : new int[] {0, 3, 100, bytes.length / 2, bytes.length - 30, bytes.length - 1}) {
      Path file = dir.resolve("cut" + length + ".pt");
      Files.write(file, java.util.Arrays.copyOf(bytes, length));
      CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> TorchFiles.read(file));
      assertEquals(file, e.file());
      assertTrue(e.getMessage().startsWith(file + ": "), e.getMessage());
    }
    assertMessage(() -> TorchFiles.read(write("empty.pt", new byte[0])), dir.resolve("empty.pt") + ": not a PyTorch "
        + "file: it is empty (PyTorch 1.6 and later write zip archives; a .safetensors file is read by SafeTensors.read)");
    String cut = assertThrows(CheckpointFormatException.class,
        () -> TorchFiles.read(write("cut.pt", java.util.Arrays.copyOf(bytes, bytes.length / 2)))).getMessage();
    assertTrue(cut.contains("truncated or corrupt: not a readable zip archive"), cut);
  }

  @Test
  void refusesCorruptPicklesAndStoragesNamingTheProblem() throws IOException {
    Tensor w = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
    byte[] pickle = TorchFileWriter.pickle(List.of("w"), List.of(w));
    byte[] data = new byte[24];

    Path cutPickle = zip("cutpickle", java.util.Arrays.copyOf(pickle, pickle.length - 5), data);
    assertContains(cutPickle, "cutpickle/data.pkl, opcode at offset ", "truncated: the pickle ends at byte "
        + (pickle.length - 5));
    byte[] badOpcode = pickle.clone();
    badOpcode[2] = (byte) 0xff; // where GLOBAL was
    assertContains(zip("badop", badOpcode, data), "badop/data.pkl, opcode at offset 2: opcode 0xff is not an opcode "
        + "of a state dict pickle");
    assertContains(zip("nostorage", pickle, null), "storage 0 has no entry nostorage/data/0 in the archive");
    assertContains(zip("short", pickle, new byte[20]), "entry short/data/0 holds 20 bytes, but the pickle declares 6 "
        + "elements of torch.FloatStorage (24 bytes)");
    Path notTorch = dir.resolve("other.pt");
    try (ZipOutputStream z = new ZipOutputStream(Files.newOutputStream(notTorch))) {
      z.putNextEntry(new ZipEntry("readme.txt"));
      z.write("hello".getBytes(StandardCharsets.UTF_8));
    }
    assertContains(notTorch, "a zip file without the <name>/data.pkl entry that torch.save writes");
    assertContains(write("plain.pt", new byte[] {(byte) 0x80, 2, 'N', '.'}), "not a PyTorch file: it is a plain pickle");
  }

  @Test
  void readsBigEndianStoragesWhereByteorderSaysSo() throws IOException {
    Tensor w = Tensor.of(new float[] {1, -2, 0.5f}, 3);
    byte[] pickle = TorchFileWriter.pickle(List.of("w"), List.of(w));
    java.nio.ByteBuffer big = java.nio.ByteBuffer.allocate(12).putFloat(1).putFloat(-2).putFloat(0.5f);
    assertArrayEquals(w.toFloatArray(), TorchFiles.read(zip("big", pickle, big.array(), "big")).get("w").toFloatArray());
    assertContains(zip("odd", pickle, big.array(), "middle"), "odd/byteorder holds \"middle\", not little or big");
  }

  @Test
  void readsHostileStructuresSafely() throws IOException {
    ByteArrayOutputStream deep = pickleOfDictWithKeyK();
    for (int i = 0; i < 600; i++) {
      deep.write(']');
    }
    for (int i = 1; i < 600; i++) {
      deep.write('a'); // each list into the one below it: 600 deep
    }
    deep.writeBytes(new byte[] {'s', '.'});
    Path deepFile = zip("deep", deep.toByteArray(), null);
    assertMessage(() -> TorchFiles.readCheckpoint(deepFile), deepFile + ": dicts and lists nested more than 500 deep");

    ByteArrayOutputStream listKey = pickleOfDictWithKeyK();
    listKey.writeBytes(new byte[] {'K', 1, 's', ']', 'K', 2, 's', '.'});
    assertContains(zip("listkey", listKey.toByteArray(), null), "a dict key that is a list; Kiln reads keys that are");

    ByteArrayOutputStream cycle = pickleOfDictWithKeyK();
    cycle.writeBytes(new byte[] {']', 'q', 0, 'h', 0, 'a', 's', '.'}); // l = []; l.append(l)
    List<?> l = (List<?>) TorchFiles.readCheckpoint(zip("cycle", cycle.toByteArray(), null)).get("k");
    assertTrue(l.get(0) == l);
  }

  /** PROTO 2, EMPTY_DICT, BINUNICODE "k": a pickle that goes on with the value and SETITEM. */
  private static ByteArrayOutputStream pickleOfDictWithKeyK() {
    ByteArrayOutputStream p = new ByteArrayOutputStream();
    p.writeBytes(new byte[] {(byte) 0x80, 2, '}', 'X', 1, 0, 0, 0, 'k'});
    return p;
  }

  @Test
  void writesAFileThatReadsBackExactly() throws IOException {
    Map<String, Tensor> state = new LinkedHashMap<>();
    state.put("w", Tensor.of(new float[] {1.5f, -2f, Float.MIN_VALUE, 3e38f, -0f, 7f}, 2, 3));
    state.put("count", Tensor.wrap(new float[] {12345}, DType.INT32));
    state.put("idx", Tensor.wrap(new float[] {-16777216, 0, 16777216}, DType.INT32, 3));
    state.put("empty", Tensor.zeros(0, 4));
    state.put("big", Tensor.randn(300, 70)); // more than one 64 KiB chunk; a stride past BININT2
    state.put("naïve ✓", Tensor.of(new float[] {1}, 1, 1, 1));
    Path file = dir.resolve("kiln.pt");
    TorchFiles.write(file, state);
    assertTrue(TorchFiles.isTorchFile(file));
    Map<String, Tensor> back = TorchFiles.read(file);
    assertEquals(List.copyOf(state.keySet()), List.copyOf(back.keySet()));
    state.forEach((name, t) -> {
      assertEquals(t.dtype(), back.get(name).dtype(), name);
      assertArrayEquals(t.shape(), back.get(name).shape(), name);
      assertArrayEquals(t.toFloatArray(), back.get(name).toFloatArray(), name);
    });
    assertDataAligned(Files.readAllBytes(file));
  }

  /** PyTorch reads what Kiln wrote (skipped where python3 has no torch, as on CI). */
  @Test
  void pyTorchLoadsTheFileKilnWrote() throws IOException, InterruptedException {
    Path python = Path.of("/usr/bin/python3");
    assumeTrue(Files.isExecutable(python), "needs " + python);
    Map<String, Tensor> state = new LinkedHashMap<>();
    state.put("lin.weight", Tensor.of(new float[] {0.5f, -0.25f, 0.125f, -1f, 0.75f, 0.375f}, 2, 3));
    state.put("bn.num_batches_tracked", Tensor.wrap(new float[] {7}, DType.INT32));
    state.put("empty", Tensor.zeros(0, 2));
    Path file = dir.resolve("kiln.pt");
    TorchFiles.write(file, state);
    String script = "import sys, torch\n"
        + "sd = torch.load(sys.argv[1], weights_only=True)\n"
        + "print(type(sd).__name__)\n"
        + "for k, v in sd.items(): print(k, str(v.dtype), list(v.shape), v.is_contiguous(), v.flatten().tolist())\n";
    ProcessBuilder pb = new ProcessBuilder(python.toString(), "-c", script, file.toString()).redirectErrorStream(true);
    pb.environment().put("OPENBLAS_NUM_THREADS", "1");
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(120, TimeUnit.SECONDS));
    assumeTrue(!out.contains("No module named 'torch'"), "needs torch");
    assertEquals(0, p.exitValue(), out);
    assertEquals("OrderedDict\n"
        + "lin.weight torch.float32 [2, 3] True [0.5, -0.25, 0.125, -1.0, 0.75, 0.375]\n"
        + "bn.num_batches_tracked torch.int64 [] True [7]\n"
        + "empty torch.float32 [0, 2] True []\n", out);
  }

  /** Every local header's data starts at a multiple of 64, as PyTorch's writer (and its mmap) wants. */
  private static void assertDataAligned(byte[] zip) {
    int entries = 0;
    for (int at = 0; at + 30 <= zip.length; at++) {
      if (zip[at] == 'P' && zip[at + 1] == 'K' && zip[at + 2] == 3 && zip[at + 3] == 4) {
        int nameLength = (zip[at + 26] & 0xFF) | (zip[at + 27] & 0xFF) << 8;
        int extraLength = (zip[at + 28] & 0xFF) | (zip[at + 29] & 0xFF) << 8;
        assertEquals(0, (at + 30 + nameLength + extraLength) % 64, "entry at " + at);
        entries++;
      }
    }
    assertTrue(entries >= 3, "entries " + entries);
  }

  private Path write(String name, byte[] bytes) throws IOException {
    return Files.write(dir.resolve(name), bytes);
  }

  /** A zip as torch.save lays it out under {@code name/}, with the pickle and storage 0 (none if null). */
  private Path zip(String name, byte[] pickle, byte[] storage) throws IOException {
    return zip(name, pickle, storage, null);
  }

  private Path zip(String name, byte[] pickle, byte[] storage, String byteOrder) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ZipOutputStream z = new ZipOutputStream(bytes)) {
      z.putNextEntry(new ZipEntry(name + "/data.pkl"));
      z.write(pickle);
      if (storage != null) {
        z.putNextEntry(new ZipEntry(name + "/data/0"));
        z.write(storage);
      }
      if (byteOrder != null) {
        z.putNextEntry(new ZipEntry(name + "/byteorder"));
        z.write(byteOrder.getBytes(StandardCharsets.US_ASCII));
      }
      z.putNextEntry(new ZipEntry(name + "/version"));
      z.write("3\n".getBytes(StandardCharsets.US_ASCII));
    }
    return write(name + ".pt", bytes.toByteArray());
  }

  private static void assertContains(Path file, String... parts) {
    String message = assertThrows(CheckpointFormatException.class, () -> TorchFiles.read(file)).getMessage();
    assertTrue(message.startsWith(file + ": "), message);
    for (String part : parts) {
      assertTrue(message.contains(part), message);
    }
  }

  private static void assertMessage(org.junit.jupiter.api.function.Executable call, String expected) {
    assertEquals(expected, assertThrows(CheckpointFormatException.class, call).getMessage());
  }
}
