package dev.kiln.runtime;

/**
 * One recorded operation on the autograd tape: the inputs it read and how to turn the gradient of
 * its output into gradients of those inputs. Activation gradients are returned fresh ("="); the
 * engine accumulates them ("+=") into whatever else flows to the same tensor and into leaf
 * {@code grad()}s.
 */
public abstract class Node {
  final Tensor[] inputs;
  /** Set once a backward pass has run this node without retaining the graph: PyTorch frees its saved tensors then. */
  boolean released;

  /**
   * Whether the backward reads tensors saved by the forward (an input, the output, a mask), as
   * PyTorch's saved tensors: such a node goes through one backward unless the graph is retained.
   * A node whose backward needs only the incoming gradient (an add, a reshape, a sum) says false
   * and may be gone through again, as in PyTorch, by a backward from another loss.
   */
  /**
   * Throws when what this node's backward needs is gone (a compiled model's activations overwritten
   * by later forwards). Called for every node of a backward before any gradient is added, so a
   * refused backward changes nothing; nothing to check by default.
   */
  protected void checkIntact() {}

  /**
   * Whether the backward running now is the last one through this node (not {@code
   * backward(true)}, PyTorch's retain_graph): what it saved may be given up after it.
   */
  protected final boolean lastBackward() {
    return released;
  }

  protected boolean savesTensors() {
    return true;
  }

  /**
   * Of a node that {@link #savesTensors()}: whether its backward reads its inputs' values, so that
   * writing to an input between the forward and the backward is refused. False for an operation
   * whose backward reads only its output ({@code exp}, {@code sigmoid}), or a mask of its own.
   */
  protected boolean savesInputs() {
    return true;
  }

  /**
   * Whether the backward reads the output's values ({@code exp}, {@code relu}, {@code softmax}):
   * writing to the output (or a view of it) before the backward is then refused, as PyTorch
   * refuses it.
   */
  protected boolean savesOutput() {
    return false;
  }

  /** Each input's storage version when the node was recorded (after its forward ran). */
  final int[] versions;
  /** Whether each input required grad when the node was recorded: PyTorch's graph is fixed at the forward. */
  final boolean[] recordedNeed;
  /** The output's storage version when its tensor was made (set by Tensor). */
  int outputVersion;

  protected Node(Tensor... inputs) {
    this.inputs = inputs;
    this.versions = new int[inputs.length];
    this.recordedNeed = new boolean[inputs.length];
    for (int i = 0; i < inputs.length; i++) {
      versions[i] = inputs[i] == null ? 0 : inputs[i].version();
      recordedNeed[i] = inputs[i] != null && inputs[i].requiresGrad();
    }
  }

  /** A short name for error messages and {@code toString}, e.g. {@code "linear"}. */
  public abstract String name();

  /**
   * Gradients of the inputs, index for index; an entry may be {@code null} where that input needs
   * no gradient ({@link Tensor#requiresGrad()} false).
   *
   * @param gradOutput gradient of the loss with respect to this node's output (same shape)
   */
  protected abstract Tensor[] backward(Tensor gradOutput);

  /**
   * Whether the output's storage is at the version it had when the forward made it (no write since), set by the
   * engine before each backward: a backward may then read values the forward wrote there.
   */
  boolean outputIntact;

  /** The incoming gradient of the backward running now when the engine owned it ({@link Tensor#gradient}), else null. */
  Tensor lent;

  /**
   * The array of {@code g}, the gradient this backward was given, when nothing but the engine held
   * it ({@link Tensor#gradient}): the backward may write its input's gradient there and return it
   * as {@link Tensor#gradient} over the same array, instead of filling a new one. Null when {@code
   * g} must be left as it is (the caller's, a view, shared). At most once per backward.
   */
  final float[] takeGradient(Tensor g) {
    if (lent == null || lent != g || g.offset() != 0 || g.device().isCuda()) {
      return null;
    }
    lent = null;
    return g.buffer();
  }

  /**
   * Gives the array of {@code g}, the gradient this backward was given, to the thread's {@link ArrayPool} when
   * only the engine held it ({@link #takeGradient}): for a backward that has finished reading {@code g} and
   * returns nothing that shares its array. Later eager arrays of its length (a forward's output, another
   * gradient) are then made in it rather than zeroed anew.
   */
  final void recycle(Tensor g) {
    float[] own = takeGradient(g);
    if (own != null) {
      ArrayPool.give(own);
    }
  }

  protected final boolean needsGrad(int input) {
    return recordedNeed[input] && inputs[input].requiresGrad();
  }
}
