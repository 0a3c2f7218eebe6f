package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The nodes of a compiled forward with several outputs, on the real tape. */
class OutputGradientsTest {
  /** Stands for a compiled backward: records the output gradients it receives per call. */
  private static final class Recorder extends Node {
    final List<Tensor[]> calls = new ArrayList<>();
    final OutputGradients grads;

    Recorder(Tensor x, int outputs) {
      super(x);
      grads = new OutputGradients(outputs);
    }

    @Override
    public String name() {
      return "recorder";
    }

    boolean failNext;

    @Override
    protected Tensor[] backward(Tensor g) {
      assertArrayEquals(new int[0], g.shape(), "the anchor's gradient: the one zero a stash sent");
      if (failNext) {
        failNext = false;
        throw new IllegalStateException("a backward cut short");
      }
      calls.add(grads.take());
      return new Tensor[] {null};
    }
  }

  private record Outputs(Recorder node, Tensor output, Tensor hidden) {}

  /** output (index 0) and hidden (index 1), both handing their gradients to one hidden anchor. */
  private static Outputs outputs() {
    Tensor x = Tensor.zeros(2).requiresGrad(true);
    Recorder node = new Recorder(x, 2);
    Tensor anchor = OutputGradients.anchor(node);
    Tensor hidden = node.grads.output(1, new float[] {1, 2, 3}, new int[] {3}, anchor);
    Tensor output = node.grads.output(0, new float[] {4, 5}, new int[] {2}, anchor);
    return new Outputs(node, output, hidden);
  }

  @Test
  void lossOnOneOutputRunsTheCompiledBackwardWithThatGradientAlone() {
    Outputs o = outputs();
    o.output().mul(3f).sum().backward();
    assertEquals(1, o.node().calls.size());
    Tensor[] g = o.node().calls.get(0);
    assertArrayEquals(new float[] {3, 3}, g[0].toFloatArray());
    assertNull(g[1]);
    o = outputs();
    o.hidden().sum().backward();
    g = o.node().calls.get(0);
    assertNull(g[0]);
    assertArrayEquals(new float[] {1, 1, 1}, g[1].toFloatArray());
  }

  /** A zero gradient the loss sends is a gradient, not "unused". */
  @Test
  void aZeroGradientFromTheLossIsKept() {
    Outputs o = outputs();
    o.output().sum().add(o.hidden().mul(0f).sum()).backward();
    assertArrayEquals(new float[] {0, 0, 0}, o.node().calls.get(0)[1].toFloatArray());
  }

  @Test
  void lossOnBothRunsOnceWithBothAndClearsTheStash() {
    Outputs o = outputs();
    o.output().sum().add(o.hidden().mul(2f).sum()).backward(true); // retain the graph for the second one
    assertEquals(1, o.node().calls.size());
    assertArrayEquals(new float[] {1, 1}, o.node().calls.get(0)[0].toFloatArray());
    assertArrayEquals(new float[] {2, 2, 2}, o.node().calls.get(0)[1].toFloatArray());
    o.hidden().sum().backward(); // a second backward: the output's gradient is not added again
    assertEquals(2, o.node().calls.size());
    assertNull(o.node().calls.get(1)[0]);
    assertArrayEquals(new float[] {1, 1, 1}, o.node().calls.get(1)[1].toFloatArray());
  }

  @Test
  void aBackwardCutShortLeavesNothingForTheNext() {
    Outputs o = outputs();
    o.node().failNext = true;
    assertThrows(IllegalStateException.class, () -> o.output().sum().backward(true));
    o.output().sum().backward(); // its gradient once, not the first attempt's as well
    assertArrayEquals(new float[] {1, 1}, o.node().calls.get(0)[0].toFloatArray());
  }

  @Test
  void anOutputReadTwiceByTheLossGetsTheSum() {
    Outputs o = outputs();
    o.output().sum().add(o.output().mul(2f).sum()).backward();
    assertArrayEquals(new float[] {3, 3}, o.node().calls.get(0)[0].toFloatArray());
  }

  @Test
  void addOutputGradientCopiesOrAdds() {
    float[] d = {9, 9};
    assertFalse(Compiled.addOutputGradient(d, 0, null, false));
    assertTrue(Compiled.addOutputGradient(d, 0, Tensor.of(new float[] {1, 2}, 2), false));
    assertArrayEquals(new float[] {1, 2}, d);
    assertTrue(Compiled.addOutputGradient(d, 0, Tensor.of(new float[] {1, 2}, 2), true));
    assertArrayEquals(new float[] {2, 4}, d);
    assertTrue(Compiled.addOutputGradient(d, 0, null, true));
  }
}
