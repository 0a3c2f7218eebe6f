package dev.kiln.dsl;

import dev.kiln.runtime.DType;
import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;

/**
 * What {@link BatchNorm1d} and {@link BatchNorm2d} share, as PyTorch's {@code _BatchNorm}: each
 * channel (dimension 1) is normalised with the batch's mean and variance in training and with the
 * running statistics in evaluation ({@link #eval()}), then scaled and shifted.
 *
 * <p>State, under PyTorch's names: parameters {@code weight [C]} (ones) and {@code bias [C]}
 * (zeros) when affine; buffers {@code running_mean [C]} (zeros), {@code running_var [C]} (ones),
 * updated by every training batch with {@code momentum} (the variance unbiased), and
 * {@code num_batches_tracked}, a rank-0 count of training batches (exact up to 2^24).
 */
public abstract class BatchNorm<S extends BatchNorm.Options> extends Layer<S> {
  static final double DEFAULT_EPS = 1e-5;
  static final double DEFAULT_MOMENTUM = 0.1;

  /** The hyper-parameters both layers' {@code Spec} records hold. */
  public interface Options extends LayerSpec {
    /** C, the number of channels. */
    int numFeatures();

    /** Added to the variance before its square root. */
    double eps();

    /** Weight of the new batch in the running statistics. */
    double momentum();

    /** Whether the layer has a learnable {@code weight} and {@code bias}. */
    boolean affine();
  }

  private final Tensor weight;
  private final Tensor bias;
  private final Tensor runningMean;
  private final Tensor runningVar;
  private final Tensor numBatchesTracked;

  BatchNorm(S options) {
    super(options);
    int c = options.numFeatures();
    this.weight = options.affine() ? registerParameter("weight", Tensor.ones(c).requiresGrad(true)) : null;
    this.bias = options.affine() ? registerParameter("bias", Tensor.zeros(c).requiresGrad(true)) : null;
    this.runningMean = registerBuffer("running_mean", Tensor.zeros(c));
    this.runningVar = registerBuffer("running_var", Tensor.ones(c));
    this.numBatchesTracked = registerBuffer("num_batches_tracked", Tensor.wrap(new float[1], DType.INT32));
  }

  /** The scale {@code [C]}, or {@code null} when not affine. */
  public Tensor weight() {
    return weight;
  }

  /** The shift {@code [C]}, or {@code null} when not affine. */
  public Tensor bias() {
    return bias;
  }

  /** The running mean {@code [C]}, updated in place by training batches. */
  public Tensor runningMean() {
    return runningMean;
  }

  /** The running (unbiased) variance {@code [C]}, updated in place by training batches. */
  public Tensor runningVar() {
    return runningVar;
  }

  /** How many training batches have passed, as a rank-0 {@link DType#INT32} tensor. */
  public Tensor numBatchesTracked() {
    return numBatchesTracked;
  }

  /**
   * Normalises {@code x} (shape as the layer's spec says); in training also updates the running
   * statistics and counts the batch.
   *
   * @throws ShapeException naming the layer when x's shape does not fit
   * @throws IllegalArgumentException when training on one value per channel, as PyTorch
   */
  @Override
  public Tensor forward(Tensor x) {
    outputShape(x.shape());
    Tensor y = Ops.batchNorm(x, runningMean, runningVar, weight, bias, isTraining(), spec().momentum(), spec().eps());
    if (isTraining()) {
      numBatchesTracked.buffer()[numBatchesTracked.offset()] += 1;
    }
    return y;
  }



  // ---- shared by the Spec records

  /** Checks the hyper-parameters; the message starts with the layer's name. */
  static void validate(String layer, int numFeatures, double eps, double momentum) {
    if (numFeatures <= 0) {
      throw new IllegalArgumentException(layer + "(" + numFeatures + "): num_features must be positive");
    }
    if (!(eps > 0 && eps < Double.POSITIVE_INFINITY)) {
      throw new IllegalArgumentException(layer + "(" + numFeatures + ", eps=" + eps + "): eps must be positive and finite");
    }
    if (!(momentum >= 0 && momentum <= 1)) {
      throw new IllegalArgumentException(layer + "(" + numFeatures + ", momentum=" + momentum + "): momentum must be in [0, 1]");
    }
  }

  /**
   * The shape rule: the input's rank is one of {@code ranks} and its dimension 1 is C; the output
   * has the input's shape.
   *
   * @param expected the accepted shapes in words, for the message, e.g. {@code [N, 32, H, W]}
   */
  static int[] checkInput(Options spec, int[] in, String expected, int... ranks) {
    boolean rankFits = false;
    for (int rank : ranks) {
      rankFits |= in.length == rank;
    }
    if (!rankFits || in[1] != spec.numFeatures()) {
      throw new ShapeException(spec + " expects " + expected + ", receives " + Shapes.toString(in));
    }
    return in.clone();
  }

  /** PyTorch's repr: {@code BatchNorm2d(32, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)}. */
  static String repr(String layer, Options spec) {
    return layer + "(" + spec.numFeatures() + ", eps=" + pythonRepr(spec.eps()) + ", momentum=" + pythonRepr(spec.momentum())
        + ", affine=" + (spec.affine() ? "True" : "False") + ", track_running_stats=True)";
  }
}
