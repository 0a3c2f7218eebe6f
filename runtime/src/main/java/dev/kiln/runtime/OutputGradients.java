package dev.kiln.runtime;

import java.util.Arrays;

/**
 * The gradients that reach the outputs of one compiled forward returning several tensors (a
 * record of an output and a hidden activation, say), for generated code.
 *
 * <p>The tape gives every tensor one node, and a node runs once per {@link Tensor#backward()}
 * with the gradient of its own tensor. So one output, the <em>anchor</em>, carries the compiled
 * backward node (inputs: {@code x} and the parameters); every other output gets a small node
 * whose only input is the anchor. That node stashes the gradient of its output here and (the
 * first of a backward) passes a zero gradient on to the anchor, so the compiled backward always
 * runs, and runs after every stash of the same {@code backward()} (the anchor is an input of the
 * stashing nodes); that zero alone reads as "the loss did not use the anchor". The
 * compiled backward then {@link #take takes} the gradient of each output, {@code null} where the
 * loss did not use that output, and clears the stash: each gradient is added once.
 */
public final class OutputGradients {
  private final Tensor[] stashed;
  private final int anchor;
  /**
   * The zero gradient the first stash of this backward sent the anchor (later stashes send none:
   * one is enough to run it), so that {@link #take} can tell it from a gradient the loss sent.
   */
  private Tensor sentZero;
  /**
   * The thread and its {@link Tensor#backwardRound} it was sent in (a backward cut short by an
   * exception leaves it behind; another thread's backward is another round).
   */
  private long sentRound;
  private Thread sentThread;

  /**
   * @param count how many outputs the forward returns
   * @param anchor the index of the output that carries the compiled backward node
   */
  public OutputGradients(int count, int anchor) {
    if (anchor < 0 || anchor >= count) {
      throw new IllegalArgumentException("anchor " + anchor + " of " + count + " outputs");
    }
    this.stashed = new Tensor[count];
    this.anchor = anchor;
  }

  /**
   * Output {@code index} (not the anchor) over {@code data}: a tensor whose node hands its
   * gradient to this stash and a zero gradient to {@code anchorOutput}.
   */
  public Tensor output(int index, float[] data, int[] shape, Tensor anchorOutput) {
    if (index == anchor) {
      throw new IllegalArgumentException("output " + index + " is the anchor: it carries the compiled backward node");
    }
    return Tensor.ofNode(data, shape, new Stash(index, anchorOutput));
  }

  /**
   * The gradient of every output for the compiled backward: {@code anchorGradient} at the anchor
   * ({@code null} when it is only the zero a stash sent, the loss not using the anchor), what was
   * stashed since the last call elsewhere ({@code null} where nothing arrived). Clears the stash.
   */
  public Tensor[] take(Tensor anchorGradient) {
    Tensor[] grads = stashed.clone();
    Arrays.fill(stashed, null);
    grads[anchor] = anchorGradient == sentZero ? null : anchorGradient;
    sentZero = null;
    return grads;
  }

  /** The node of a non-anchor output. */
  private final class Stash extends Node {
    private final int index;
    private final Tensor anchorOutput;

    Stash(int index, Tensor anchorOutput) {
      super(anchorOutput);
      this.index = index;
      this.anchorOutput = anchorOutput;
    }

    @Override
    protected boolean savesTensors() {
      return false; // it only passes the gradient on to the anchor, whose own node decides
    }

    @Override
    public String name() {
      return "output" + index;
    }

    @Override
    protected Tensor[] backward(Tensor gradOutput) {
      Tensor previous = stashed[index];
      stashed[index] = previous == null ? gradOutput : previous.add(gradOutput);
      if (sentZero != null && sentThread == Thread.currentThread() && sentRound == Tensor.backwardRound()) {
        return new Tensor[] {null}; // the anchor runs already: another stash sent it a gradient in this backward
      }
      sentZero = Tensor.zeros(anchorOutput.shape());
      sentRound = Tensor.backwardRound();
      sentThread = Thread.currentThread();
      return new Tensor[] {sentZero};
    }
  }
}
