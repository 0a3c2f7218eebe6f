package dev.kiln.runtime;

import java.util.Arrays;

/**
 * The gradients that reach the outputs of one compiled forward returning several tensors (a
 * record of an output and a hidden activation, say), for generated code.
 *
 * <p>The tape gives every tensor one node, and a node runs once per {@link Tensor#backward()}
 * with the gradient of its own tensor. So a hidden <em>anchor</em> tensor of one value, never
 * returned, carries the compiled backward node (inputs: {@code x} and the parameters), and every
 * output that records gets a small node whose only input is the anchor. That node stashes the
 * gradient of its output here and (the first of a backward) passes a zero gradient on to the
 * anchor, so the compiled backward runs, and runs after every stash of the same
 * {@code backward()} (the anchor is an input of the stashing nodes). The compiled backward then
 * {@link #take takes} the gradient of each output, {@code null} where the loss did not use that
 * output, and clears the stash: each gradient is added once.
 *
 * <p>An output none of whose steps records (its parameters frozen, x without gradient) is a plain
 * tensor without a node, as eager mode's would be: it does not require grad, and a backward from
 * it alone throws.
 */
public final class OutputGradients {
  private final Tensor[] stashed;
  /**
   * The thread and its {@link Tensor#backwardRound} a stash last sent the anchor its zero in (a
   * backward cut short by an exception leaves it behind; another thread's backward is another
   * round): later stashes of that backward send none, one being enough to run it.
   */
  private long sentRound = -1;
  private Thread sentThread;

  /** @param count how many outputs the forward returns */
  public OutputGradients(int count) {
    this.stashed = new Tensor[count];
  }

  /** The hidden tensor that carries {@code backward}, the compiled backward node; the outputs' nodes read it. */
  public static Tensor anchor(Node backward) {
    return Tensor.ofNode(new float[1], new int[0], backward);
  }

  /**
   * Output {@code index} over {@code data}: a tensor whose node hands its gradient to this stash
   * and a zero gradient to {@code anchor} (from {@link #anchor}).
   */
  public Tensor output(int index, float[] data, int[] shape, Tensor anchor) {
    if (index < 0 || index >= stashed.length) {
      throw new IllegalArgumentException("output " + index + " of " + stashed.length);
    }
    return Tensor.ofNode(data, shape, new Stash(index, anchor));
  }

  /**
   * The gradient of every output for the compiled backward: what was stashed since the last call
   * ({@code null} where nothing arrived). Clears the stash.
   */
  public Tensor[] take() {
    Tensor[] grads = stashed.clone();
    Arrays.fill(stashed, null);
    sentThread = null;
    return grads;
  }

  /** The node of an output. */
  private final class Stash extends Node {
    private final int index;

    Stash(int index, Tensor anchor) {
      super(anchor);
      this.index = index;
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
      boolean first = sentThread != Thread.currentThread() || sentRound != Tensor.backwardRound();
      if (first) { // the first stash of this backward: what an earlier one cut short by an exception left goes
        Arrays.fill(stashed, null);
        sentRound = Tensor.backwardRound();
        sentThread = Thread.currentThread();
      }
      Tensor previous = stashed[index];
      stashed[index] = previous == null ? gradOutput : previous.add(gradOutput);
      // one zero runs the anchor; later stashes of the same backward send none
      return new Tensor[] {first ? Tensor.zeros() : null};
    }
  }
}
