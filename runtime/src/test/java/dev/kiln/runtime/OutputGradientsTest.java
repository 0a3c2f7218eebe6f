package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The chained nodes of a compiled forward with several outputs, on the real tape. */
class OutputGradientsTest {
  /** Stands for a compiled backward: records the output gradients it receives per call. */
  private static final class Recorder extends Node {
    final List<Tensor[]> calls = new ArrayList<>();
    OutputGradients grads;

    Recorder(Tensor x) {
      super(x);
    }

    @Override
    public String name() {
      return "recorder";
    }

    @Override
    protected Tensor[] backward(Tensor g) {
      calls.add(grads.take(g));
      return new Tensor[] {null};
    }
  }

  private record Outputs(Recorder node, Tensor output, Tensor hidden) {}

  /** output (index 0) chained to hidden (index 1, the anchor). */
  private static Outputs outputs() {
    Tensor x = Tensor.zeros(2).requiresGrad(true);
    Recorder node = new Recorder(x);
    node.grads = new OutputGradients(2, 1);
    Tensor hidden = Tensor.ofNode(new float[] {1, 2, 3}, new int[] {3}, node);
    Tensor output = node.grads.output(0, new float[] {4, 5}, new int[] {2}, hidden);
    return new Outputs(node, output, hidden);
  }

  @Test
  void lossOnTheChainedOutputAloneStillRunsTheCompiledBackward() {
    Outputs o = outputs();
    o.output().mul(3f).sum().backward();
    assertEquals(1, o.node().calls.size());
    Tensor[] g = o.node().calls.get(0);
    assertArrayEquals(new float[] {3, 3}, g[0].toFloatArray());
    assertNull(g[1]); // the zero gradient passed on to the anchor only made it run: the loss did not use the anchor
  }

  /**
   * Two chained outputs used, the anchor not: one zero reaches the anchor (so its gradient reads
   * as unused, not as a sum of zeros that could be a real one); then the anchor used as well.
   */
  @Test
  void theAnchorReadsAsUnusedWhateverNumberOfOtherOutputsAreUsed() {
    Tensor x = Tensor.zeros(2).requiresGrad(true);
    Recorder node = new Recorder(x);
    node.grads = new OutputGradients(3, 0);
    Tensor anchor = Tensor.ofNode(new float[] {1, 2}, new int[] {2}, node);
    Tensor a = node.grads.output(1, new float[] {3}, new int[] {1}, anchor);
    Tensor b = node.grads.output(2, new float[] {4}, new int[] {1}, anchor);
    a.sum().add(b.sum()).backward(true);
    assertNull(node.calls.get(0)[0]);
    assertArrayEquals(new float[] {1}, node.calls.get(0)[1].toFloatArray());
    a.sum().add(anchor.mul(0f).sum()).backward(true); // used, with a zero gradient: not "unused"
    assertArrayEquals(new float[] {0, 0}, node.calls.get(1)[0].toFloatArray());
  }

  @Test
  void lossOnTheAnchorAloneHasNoOtherGradient() {
    Outputs o = outputs();
    o.hidden().sum().backward();
    Tensor[] g = o.node().calls.get(0);
    assertNull(g[0]);
    assertArrayEquals(new float[] {1, 1, 1}, g[1].toFloatArray());
  }

  @Test
  void lossOnBothRunsOnceWithBothAndClearsTheStash() {
    Outputs o = outputs();
    o.output().sum().add(o.hidden().mul(2f).sum()).backward(true); // retain the graph for the second one
    assertEquals(1, o.node().calls.size());
    assertArrayEquals(new float[] {1, 1}, o.node().calls.get(0)[0].toFloatArray());
    assertArrayEquals(new float[] {2, 2, 2}, o.node().calls.get(0)[1].toFloatArray());
    o.hidden().sum().backward(); // a second backward: the output's gradient is not added again
    assertNull(o.node().calls.get(1)[0]);
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
