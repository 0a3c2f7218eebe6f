package dev.kiln.dsl;

import dev.kiln.runtime.DType;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;

/**
 * What {@link InstanceNorm1d} and {@link InstanceNorm2d} share, PyTorch 1.13's {@code _InstanceNorm}: each sample's
 * channel normalised by its own mean and biased variance over its positions ({@link Ops#groupNorm} of one channel a
 * group), then, with {@code affine}, scaled by {@code weight} and shifted by {@code bias}. With
 * {@code trackRunningStats} the layer also keeps {@code running_mean} and {@code running_var} ({@code [C]}, zeros and
 * ones at first) and {@code num_batches_tracked} (which PyTorch's instance norms register but never count, so it stays
 * 0): each training forward moves them by {@code momentum} toward the batch's per-sample statistics averaged over the
 * batch (the variance unbiased), computed as PyTorch computes them ({@code batch_norm} over the {@code [1, N * C, *]}
 * view with the running statistics repeated N times, then their mean over the batch); evaluation normalises by them
 * instead of the input's own statistics. An unbatched input (no N) is normalised as a batch of one.
 */
public abstract class InstanceNorm<S extends InstanceNorm.Options> extends GroupNormLayer<S> {
  /** An instance norm's hyper-parameters: one group a channel, the momentum of the running statistics, and whether they are kept. */
  public interface Options extends GroupNorm.Options {
    int numFeatures();

    double momentum();

    boolean trackRunningStats();

    /** The batched input's rank: 3 for InstanceNorm1d, 4 for InstanceNorm2d. */
    int rank();

    @Override
    default int numGroups() {
      return numFeatures();
    }

    @Override
    default int numChannels() {
      return numFeatures();
    }
  }

  private final Tensor runningMean;
  private final Tensor runningVar;
  private final Tensor numBatchesTracked;

  InstanceNorm(S spec) {
    super(spec);
    int c = spec.numFeatures();
    boolean track = spec.trackRunningStats();
    runningMean = track ? registerBuffer("running_mean", Tensor.zeros(c)) : null;
    runningVar = track ? registerBuffer("running_var", Tensor.ones(c)) : null;
    numBatchesTracked = track ? registerBuffer("num_batches_tracked", Tensor.wrap(new float[1], DType.INT32)) : null;
  }

  /** The running mean ({@code [C]}), or null without {@code trackRunningStats}. */
  public Tensor runningMean() {
    return runningMean;
  }

  /** The running (unbiased) variance ({@code [C]}), or null without {@code trackRunningStats}. */
  public Tensor runningVar() {
    return runningVar;
  }

  /** PyTorch's {@code num_batches_tracked}, always 0 (instance norms do not count), or null without {@code trackRunningStats}. */
  public Tensor numBatchesTracked() {
    return numBatchesTracked;
  }

  @Override
  public Tensor forward(Tensor x) {
    S s = spec();
    if (x.dim() == s.rank() - 1) { // unbatched [C, *]
      return forward(x.unsqueeze(0)).squeeze(0);
    }
    if (runningMean == null) {
      return super.forward(x);
    }
    outputShape(x.shape());
    if (!isTraining()) {
      return Ops.batchNorm(x, runningMean, runningVar, weight(), bias(), false, s.momentum(), s.eps());
    }
    updateRunningStats(x);
    return super.forward(x);
  }

  /**
   * PyTorch's update of the running statistics from a training batch {@code x} ({@code [N, C, *]}): batch_norm of {@code [1,
   * N * C, *]} with the statistics repeated N times, then their mean over N. A training forward calls it; so does a compiled
   * model's, with its input's values, so that both keep the same statistics bit for bit.
   */
  public void updateRunningStats(Tensor x) {
    S s = spec();
    int[] shape = x.shape();
    int n = shape[0];
    int c = shape[1];
    int[] flat = shape.clone();
    flat[0] = 1;
    flat[1] = n * c;
    try (var g = Kiln.noGrad()) {
      Tensor mean = runningMean.repeat(n);
      Tensor var = runningVar.repeat(n);
      Ops.batchNorm(x.detach().reshape(flat), mean, var, null, null, true, s.momentum(), s.eps());
      runningMean.copyFrom(mean.view(n, c).mean(0));
      runningVar.copyFrom(var.view(n, c).mean(0));
    }
  }

  /** PyTorch's repr: {@code InstanceNorm2d(64, eps=1e-05, momentum=0.1, affine=False, track_running_stats=False)}. */
  static String repr(String layer, Options spec) {
    return layer + "(" + spec.numFeatures() + ", eps=" + pythonRepr(spec.eps()) + ", momentum=" + pythonRepr(spec.momentum())
        + ", affine=" + (spec.affine() ? "True" : "False") + ", track_running_stats="
        + (spec.trackRunningStats() ? "True" : "False") + ")";
  }

  /** The checks of an instance norm's hyper-parameters, the messages naming {@code layer}. */
  static void validate(String layer, int numFeatures, double eps, double momentum) {
    if (numFeatures <= 0) {
      throw new IllegalArgumentException(layer + "(" + numFeatures + "): num_features must be positive");
    }
    if (!(eps > 0) || Double.isInfinite(eps)) {
      throw new IllegalArgumentException(layer + "(" + numFeatures + "): eps must be a positive number, got " + eps);
    }
    if (!(momentum >= 0 && momentum <= 1)) {
      throw new IllegalArgumentException(layer + "(" + numFeatures + ", momentum=" + momentum + "): momentum must be in [0, 1]");
    }
  }
}
