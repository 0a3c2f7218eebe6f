package dev.kiln.dsl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link ModuleList}: PyTorch's {@code nn.ModuleList} of blocks, with nanoGPT's key layout. */
class ModuleListTest {
  /** A transformer-ish block: a norm, a buffer and a Linear, as nanoGPT's Block holds layers and its attention a mask. */
  static class Block extends Module {
    final LayerNorm ln1 = new LayerNorm(4);
    final Linear fc = new Linear(4, 4);
    final Tensor mask = registerBuffer("mask", Tensor.ones(3, 3).tril());

    @Override
    public Tensor forward(Tensor x) {
      return x.add(fc.apply(ln1.apply(x)));
    }
  }

  static class Gpt extends Module {
    final Linear in = new Linear(2, 4);
    final ModuleList<Block> h = ModuleList.of(new Block(), new Block());

    @Override
    public Tensor forward(Tensor x) {
      x = in.apply(x);
      for (Block b : h) {
        x = b.apply(x);
      }
      return x;
    }
  }

  @Test
  void childrenAreNamedByPositionAsPyTorchNamesThem() {
    Gpt net = new Gpt();
    assertEquals(List.of("in.weight", "in.bias", "h.0.ln1.weight", "h.0.ln1.bias", "h.0.fc.weight", "h.0.fc.bias",
        "h.1.ln1.weight", "h.1.ln1.bias", "h.1.fc.weight", "h.1.fc.bias"), List.copyOf(net.namedParameters().keySet()));
    // a module's own buffers before its children's entries, as PyTorch's state_dict()
    assertEquals(List.of("in.weight", "in.bias", "h.0.mask", "h.0.ln1.weight", "h.0.ln1.bias", "h.0.fc.weight", "h.0.fc.bias",
        "h.1.mask", "h.1.ln1.weight", "h.1.ln1.bias", "h.1.fc.weight", "h.1.fc.bias"), List.copyOf(net.stateDict().keySet()));
    assertEquals(10, net.parameters().size());
    assertEquals(List.of("", "in", "h", "h.0", "h.0.ln1", "h.0.fc", "h.1", "h.1.ln1", "h.1.fc"),
        List.copyOf(net.namedModules().keySet()));
    assertSame(net.h.get(1), net.getSubmodule("h.1"));
  }

  @Test
  void getCountsNegativeIndicesFromTheEndAndNamesTheSize() {
    Block a = new Block();
    Block b = new Block();
    ModuleList<Block> list = ModuleList.of(a, b);
    assertEquals(2, list.size());
    assertSame(a, list.get(0));
    assertSame(b, list.get(-1));
    assertSame(a, list.get(-2));
    var e = assertThrows(IndexOutOfBoundsException.class, () -> list.get(2));
    assertEquals("ModuleList index 2 is out of range: it holds 2 modules (0..1, or -2..-1 from the end)", e.getMessage());
    assertThrows(IndexOutOfBoundsException.class, () -> list.get(-3));
    var empty = assertThrows(IndexOutOfBoundsException.class, () -> new ModuleList<Block>(List.of()).get(0));
    assertEquals("ModuleList index 0 is out of range: it holds 0 modules", empty.getMessage());
    List<Block> iterated = new ArrayList<>();
    list.forEach(iterated::add);
    assertEquals(List.of(a, b), iterated);
  }

  @Test
  void aListBuiltInALoopGivesTheSameKeys() {
    ModuleList<Linear> list = new ModuleList<>(IntStream.range(0, 3).mapToObj(i -> new Linear(2, 2)).collect(Collectors.toList()));
    assertEquals(List.of("0.weight", "0.bias", "1.weight", "1.bias", "2.weight", "2.bias"),
        List.copyOf(list.namedParameters().keySet()));
    var nullModule = assertThrows(IllegalArgumentException.class, () -> ModuleList.of(new Linear(2, 2), null));
    assertEquals("ModuleList: module 1 of 2 is null", nullModule.getMessage());
  }

  @Test
  void itIsNotCallableAsPyTorchsIsNot() {
    ModuleList<Linear> list = ModuleList.of(new Linear(2, 2));
    var e = assertThrows(UnsupportedOperationException.class, () -> list.apply(Tensor.zeros(1, 2)));
    assertTrue(e.getMessage().startsWith("ModuleList is not a layer and has no forward"), e.getMessage());
    assertThrows(UnsupportedOperationException.class, () -> list.outputShape(new int[] {-1, 2}));
  }

  @Test
  void trainEvalAndToStringReachTheModules() {
    Gpt net = new Gpt();
    net.eval();
    assertFalse(net.h.get(0).fc.isTraining());
    assertSame(net.h, net.h.train());
    assertTrue(net.h.get(1).ln1.isTraining());
    assertEquals("ModuleList(\n  (0): Linear(in_features=2, out_features=3, bias=True)\n)",
        ModuleList.of(new Linear(2, 3)).toString());
  }

  @Test
  void saveAndLoadRoundTripTheBlocks(@TempDir Path dir) throws IOException {
    Kiln.manualSeed(1);
    Gpt saved = new Gpt();
    Path f = dir.resolve("gpt.safetensors");
    saved.save(f);
    Kiln.manualSeed(2);
    Gpt loaded = new Gpt();
    loaded.load(f);
    saved.stateDict().forEach((k, t) -> assertArrayEquals(t.toFloatArray(), loaded.stateDict().get(k).toFloatArray(), k));
    Tensor x = Tensor.randn(3, 2);
    assertArrayEquals(saved.forward(x).toFloatArray(), loaded.forward(x).toFloatArray());
  }

  @Test
  void summaryListsTheBlocksLayers() {
    Gpt net = new Gpt();
    String table = net.summary(2);
    assertTrue(table.contains("LayerNorm-2"), table);
    assertTrue(table.contains("Linear-5"), table);
  }
}
