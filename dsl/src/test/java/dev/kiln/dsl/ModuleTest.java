package dev.kiln.dsl;

import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.relu;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;

class ModuleTest {
  /** The tutorials' MLP as a hand-written module. */
  static class Mlp extends Module {
    final Linear fc1 = new Linear(784, 512);
    final Linear fc2 = new Linear(512, 512);
    final Linear fc3 = new Linear(512, 10);

    @Override
    public Tensor forward(Tensor x) {
      x = flatten(x);
      return fc3.apply(relu(fc2.apply(relu(fc1.apply(x)))));
    }
  }

  static Sequential tutorialMlp() {
    return Sequential.of(new Flatten(), new Linear(784, 512), new ReLU(), new Linear(512, 512), new ReLU(), new Linear(512, 10));
  }

  /** As PyTorch 1.13's Module.zero_grad(): zeroes in place (the same tensors), or drops them with setToNone. */
  @Test
  void zeroGradZeroesInPlaceOrDrops() {
    Linear fc = new Linear(3, 2);
    fc.apply(Tensor.randn(4, 3)).sum().backward();
    Tensor g = fc.weight().grad();
    fc.zeroGrad();
    assertSame(g, fc.weight().grad());
    assertArrayEquals(new float[6], g.toFloatArray());
    fc.zeroGrad(true);
    assertEquals(null, fc.weight().grad());
    fc.zeroGrad(); // nothing to zero: stays without
    assertEquals(null, fc.bias().grad());
  }

  @Test
  void sequentialChildrenAreNumberedLikePyTorch() {
    assertEquals(
        List.of("1.weight", "1.bias", "3.weight", "3.bias", "5.weight", "5.bias"),
        List.copyOf(tutorialMlp().namedParameters().keySet()));
  }

  /** Iterating a Sequential gives its layers in order, read-only, as {@code for layer in seq}; applying each is its forward. */
  @Test
  void aSequentialIteratesItsLayers() {
    Sequential net = Sequential.of(new Linear(3, 4), new ReLU(), new Linear(4, 2));
    List<Module> seen = new java.util.ArrayList<>();
    Tensor x = Tensor.randn(2, 3);
    Tensor y = x;
    for (Module layer : net) {
      seen.add(layer);
      y = layer.apply(y);
    }
    assertEquals(List.of(net.get(0), net.get(1), net.get(2)), seen);
    assertArrayEquals(net.apply(x).toFloatArray(), y.toFloatArray());
    assertThrows(UnsupportedOperationException.class, () -> {
      var it = net.iterator();
      it.next();
      it.remove();
    });
  }

  @Test
  void builderNamesChildren() {
    Sequential s = Sequential.builder().add("linear1", new Linear(4, 3)).add("relu1", new ReLU()).add(new Linear(3, 2)).build();
    assertEquals(List.of("linear1.weight", "linear1.bias", "2.weight", "2.bias"), List.copyOf(s.namedParameters().keySet()));
    assertTrue(s.get("relu1") instanceof ReLU);
    assertSame(s.get(0), s.get("linear1"));
    assertThrows(IllegalArgumentException.class, () -> Sequential.builder().add("a", new ReLU()).add("a", new ReLU()));
    var e = assertThrows(IllegalArgumentException.class, () -> s.get("nope"));
    assertTrue(e.getMessage().contains("linear1"), e.getMessage());
  }

  @Test
  void fieldsAreFoundInDeclarationOrder() {
    Mlp m = new Mlp();
    assertEquals(List.of("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"),
        List.copyOf(m.namedParameters().keySet()));
    assertEquals(784 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10, m.parameterCount());
    assertEquals(6, m.parameters().size());
  }

  @Test
  void nestedModulesGetDottedNames() {
    class Outer extends Module {
      final Sequential features = Sequential.of(new Linear(2, 2), new ReLU());
      final Linear head = new Linear(2, 1);

      @Override
      public Tensor forward(Tensor x) {
        return head.apply(features.apply(x));
      }
    }
    assertEquals(List.of("features.0.weight", "features.0.bias", "head.weight", "head.bias"),
        List.copyOf(new Outer().namedParameters().keySet()));
  }

  @Test
  void transientFieldsAndSubmodulePaths() {
    class Holder extends Module {
      final Sequential features = Sequential.of(new Linear(2, 2), new ReLU());
      final transient Linear alias = (Linear) features.get(0);

      @Override
      public Tensor forward(Tensor x) {
        return features.apply(x);
      }
    }
    Holder h = new Holder();
    assertEquals(List.of("features.0.weight", "features.0.bias"), List.copyOf(h.namedParameters().keySet()));
    assertSame(h.alias, h.getSubmodule("features.0"));
    var e = assertThrows(IllegalArgumentException.class, () -> h.getSubmodule("features.3"));
    assertTrue(e.getMessage().contains("'3' is not among [0, 1]"), e.getMessage());
  }

  @Test
  void toStringMatchesPyTorchRepr() {
    assertEquals(
        "Sequential(\n"
            + "  (0): Flatten(start_dim=1, end_dim=-1)\n"
            + "  (1): Linear(in_features=784, out_features=512, bias=True)\n"
            + "  (2): ReLU()\n"
            + "  (3): Linear(in_features=512, out_features=512, bias=True)\n"
            + "  (4): ReLU()\n"
            + "  (5): Linear(in_features=512, out_features=10, bias=True)\n"
            + ")",
        tutorialMlp().toString());
    assertEquals("Mlp(\n  (fc1): Linear(in_features=784, out_features=512, bias=True)\n"
        + "  (fc2): Linear(in_features=512, out_features=512, bias=True)\n"
        + "  (fc3): Linear(in_features=512, out_features=10, bias=True)\n)", new Mlp().toString());
  }

  @Test
  void trainAndEvalReachEveryChild() {
    Sequential s = Sequential.of(Sequential.of(new ReLU()), new ReLU());
    s.eval();
    assertFalse(((Sequential) s.get(0)).get(0).isTraining());
    s.train();
    assertTrue(((Sequential) s.get(0)).get(0).isTraining());
  }

  @Test
  void linearInitialisationIsPyTorchsUniformBound() {
    Kiln.manualSeed(0);
    Linear l = new Linear(100, 50);
    float bound = 0.1f;
    float max = 0;
    for (float v : l.weight().toFloatArray()) {
      assertTrue(Math.abs(v) <= bound, "weight " + v + " outside ±" + bound);
      max = Math.max(max, Math.abs(v));
    }
    assertTrue(max > 0.09f, "weights should fill the range, max |w| = " + max);
    for (float v : l.bias().toFloatArray()) {
      assertTrue(Math.abs(v) <= bound);
    }
    assertEquals(null, new Linear(3, 2, false).bias());
    assertEquals(List.of("weight"), List.copyOf(new Linear(3, 2, false).namedParameters().keySet()));
  }

  @Test
  void seedMakesModelsIdentical() {
    Kiln.manualSeed(5);
    float[] a = new Mlp().fc1.weight().toFloatArray();
    Kiln.manualSeed(5);
    float[] b = new Mlp().fc1.weight().toFloatArray();
    assertArrayEquals(a, b);
  }

  @Test
  void shapeRulesAndRuntimeShapeErrorsNameTheLayer() {
    assertArrayEquals(new int[] {-1, 10}, tutorialMlp().outputShape(new int[] {-1, 1, 28, 28}));
    var e = assertThrows(ShapeException.class, () -> new Linear(1152, 10).outputShape(new int[] {-1, 6272}));
    assertEquals("Linear(in_features=1152, out_features=10, bias=True) expects [N, 1152], receives [N, 6272]", e.getMessage());
    e = assertThrows(ShapeException.class, () -> new Mlp().forward(Tensor.zeros(2, 1, 28, 27)));
    assertTrue(e.getMessage().contains("receives [2, 756]"), e.getMessage());
    assertThrows(ShapeException.class, () -> new Mlp().outputShape(new int[] {-1, 784}));
  }

  @Test
  void flattenShapeKeepsSymbolicBatch() {
    assertArrayEquals(new int[] {-1, 784}, new Flatten().outputShape(new int[] {-1, 1, 28, 28}));
    assertArrayEquals(new int[] {-1, 28, 28}, new Flatten(1, 2).outputShape(new int[] {-1, 1, 28, 28}));
    assertArrayEquals(new int[] {2, 3, 20}, new Flatten(2, 3).forward(Tensor.zeros(2, 3, 4, 5)).shape());
  }

  @Test
  void forwardAndBackwardThroughTheMlp() {
    Kiln.manualSeed(0);
    Sequential net = tutorialMlp();
    Tensor logits = net.forward(Tensor.randn(4, 1, 28, 28));
    assertArrayEquals(new int[] {4, 10}, logits.shape());
    new CrossEntropyLoss().apply(logits, Tensor.labels(1, 2, 3, 4)).backward();
    for (Tensor p : net.parameters()) {
      assertArrayEquals(p.shape(), p.grad().shape());
    }
  }

  @Test
  void crossEntropyReductions() {
    Tensor logits = Tensor.of(new float[] {1, 2, 3, 3, 2, 1}, 2, 3);
    Tensor y = Tensor.labels(2, 2);
    float a = 0.40760596f; // -log softmax([1,2,3])[2]
    float b = 2.40760596f; // -log softmax([3,2,1])[2]
    assertEquals((a + b) / 2, new CrossEntropyLoss().apply(logits, y).item(), 1e-6f);
    assertEquals(a + b, new CrossEntropyLoss(Reduction.SUM).apply(logits, y).item(), 1e-6f);
    assertArrayEquals(new float[] {a, b}, new CrossEntropyLoss(Reduction.NONE).apply(logits, y).toFloatArray(), 1e-6f);
  }

  /** Mistakes found by the misuse audit, each named in the user's terms instead of a JDK exception. */
  @Test
  void sequentialMistakesAreNamed() {
    Sequential net = Sequential.builder().add("fc1", new Linear(4, 3)).add("fc2", new Linear(5, 2)).build();
    var shape = assertThrows(ShapeException.class, () -> net.apply(Tensor.ones(2, 4)));
    assertTrue(shape.getMessage().startsWith("Sequential layer 'fc2': Linear(in_features=5"), shape.getMessage());
    Sequential outer = Sequential.of(Sequential.of(new Linear(4, 3), new Linear(5, 2)));
    var nested = assertThrows(ShapeException.class, () -> outer.apply(Tensor.ones(2, 4)));
    assertTrue(nested.getMessage().startsWith("Sequential layer '0' > '1': Linear(in_features=5"), nested.getMessage());

    var index = assertThrows(IndexOutOfBoundsException.class, () -> net.get(10));
    assertEquals("Sequential has 2 layers (0..1), asked for index 10", index.getMessage());
    var nul = assertThrows(IllegalArgumentException.class, () -> Sequential.of(new Linear(3, 4), null));
    assertEquals("Sequential: layer '1' is null", nul.getMessage());
    var registered = assertThrows(IllegalArgumentException.class, () -> new Module() {
      {
        registerModule("m", null);
      }

      @Override
      public Tensor forward(Tensor x) {
        return x;
      }
    });
    assertTrue(registered.getMessage().endsWith("module 'm' must not be null"), registered.getMessage());
  }

  /** As PyTorch: a frozen layer's parameters may go to the optimizer, which leaves them alone. */
  @Test
  void frozenParametersAreAcceptedAndLeftAlone() {
    Kiln.manualSeed(0);
    Sequential net = Sequential.of(new Linear(3, 4), new ReLU(), new Linear(4, 2));
    Linear first = net.get(0); // typed as assigned, as PyTorch's net[0]
    first.requiresGrad(false); // PyTorch's first.requires_grad_(False)
    assertTrue(first.parameters().stream().noneMatch(Tensor::requiresGrad));
    float[] frozen = first.weight().toFloatArray();
    var opt = new dev.kiln.runtime.optim.SGD(net.parameters(), 0.1).momentum(0.9);
    for (int i = 0; i < 3; i++) {
      opt.zeroGrad();
      net.apply(Tensor.randn(5, 3)).pow(2).mean().backward();
      opt.step();
    }
    assertArrayEquals(frozen, first.weight().toFloatArray());
    assertTrue(((Linear) net.get(2)).weight().grad() != null);
  }

  static class Base extends Module {
    final Linear body = new Linear(4, 4);
    final Linear head = new Linear(4, 10);

    @Override public Tensor forward(Tensor x) {
      return head.apply(body.apply(x));
    }
  }

  /** Fine-tuning as PyTorch writes it (self.head = nn.Linear(4, 2)): assigning the inherited field replaces the child. */
  static class Reassigned extends Base2 {
    Reassigned() {
      head = new Linear(4, 2);
    }
  }

  static class Base2 extends Module {
    final Linear body = new Linear(4, 4);
    Linear head = new Linear(4, 10);

    @Override public Tensor forward(Tensor x) {
      return head.apply(body.apply(x));
    }
  }

  /** A field hiding an inherited one of the same name would drop one layer from parameters(): refused in words. */
  static class Hiding extends Base {
    final Linear head = new Linear(4, 2);

    @Override public Tensor forward(Tensor x) {
      return head.apply(body.apply(x));
    }
  }

  static class RegistersOverAField extends Module {
    final Linear fc = new Linear(3, 3);

    RegistersOverAField() {
      registerModule("fc", new Linear(3, 5));
    }

    @Override public Tensor forward(Tensor x) {
      return fc.apply(x);
    }
  }

  @Test
  void aChildNameHeldByTwoLayersIsRefusedAndReassigningReplaces() {
    assertEquals(List.of(4, 2), List.of(new Reassigned().stateDict().get("head.weight").shape()[1],
        new Reassigned().stateDict().get("head.weight").shape()[0]));
    var e = assertThrows(IllegalStateException.class, () -> new Hiding().parameters());
    assertTrue(e.getMessage().startsWith("Hiding: two modules are named 'head': the field Hiding.head and another of that name"),
        e.getMessage());
    var r = assertThrows(IllegalStateException.class, () -> new RegistersOverAField().stateDict());
    assertTrue(r.getMessage().startsWith("RegistersOverAField: two modules are named 'fc'"), r.getMessage());
  }

  /** A table computed in the constructor, kept out of checkpoints as PyTorch's register_buffer(..., persistent=False). */
  static class WithTable extends Module {
    final Linear fc = new Linear(4, 2);
    final Tensor table = registerBuffer("table", Tensor.ones(3, 4), false);
    final Tensor mask = registerBuffer("mask", Tensor.ones(3, 3).tril());

    @Override
    public Tensor forward(Tensor x) {
      return fc.apply(x.add(table));
    }
  }

  @Test
  void nonPersistentBufferIsLeftOutOfTheStateDictOnly() {
    WithTable m = new WithTable();
    assertEquals(List.of("mask", "fc.weight", "fc.bias"), List.copyOf(m.stateDict().keySet()));
    assertEquals(List.of("table", "mask"), List.copyOf(m.namedBuffers().keySet()));
    WithTable other = new WithTable();
    other.loadStateDict(m.stateDict()); // strict: the table is neither written nor expected
    var missing = other.loadStateDict(java.util.Map.of("mask", Tensor.zeros(3, 3)), false);
    assertEquals(List.of("fc.weight", "fc.bias"), missing.missingKeys());
    var extra = assertThrows(IllegalArgumentException.class, () -> other.loadStateDict(java.util.Map.of("table", Tensor.zeros(3, 4),
        "mask", Tensor.zeros(3, 3), "fc.weight", Tensor.zeros(2, 4), "fc.bias", Tensor.zeros(2))));
    assertTrue(extra.getMessage().contains("Unexpected key(s) in state_dict: \"table\""), extra.getMessage());
  }
}
