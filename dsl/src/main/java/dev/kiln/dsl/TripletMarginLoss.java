package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.cpu.PointwiseKernels;

/**
 * The triplet margin loss, as PyTorch's {@code nn.TripletMarginLoss(margin=1.0, p=2.0, eps=1e-6, swap=False,
 * reduction='mean')}: {@code max(d(a, p) - d(a, n) + margin, 0)} for anchors, positives and negatives {@code [N, D]} (or
 * {@code [D]}), {@code d(x, y) = ||x - y + eps||_p} along the last dimension; with {@code swap}, {@code d(a, n)} is the
 * smaller of it and {@code d(p, n)}. {@link #apply(Tensor, Tensor, Tensor)}.
 */
public class TripletMarginLoss extends Loss {
  private final double margin;
  private final double p;
  private final double eps;
  private final boolean swap;

  public TripletMarginLoss() {
    this(1.0, 2.0, 1e-6, false, Reduction.MEAN);
  }

  public TripletMarginLoss(double margin) {
    this(margin, 2.0, 1e-6, false, Reduction.MEAN);
  }

  public TripletMarginLoss(double margin, double p, double eps, boolean swap, Reduction reduction) {
    super(reduction);
    if (!Float.isFinite((float) margin) || !Float.isFinite((float) eps)) {
      throw new IllegalArgumentException("TripletMarginLoss: margin and eps must be finite floats, got " + margin + " and " + eps);
    }
    if (!(p > 0) || !Float.isFinite((float) p)) {
      throw new IllegalArgumentException("TripletMarginLoss: p must be a finite number above 0, got " + p);
    }
    this.margin = margin;
    this.p = p;
    this.eps = eps;
    this.swap = swap;
  }

  public double margin() {
    return margin;
  }

  public double p() {
    return p;
  }

  public double eps() {
    return eps;
  }

  public boolean swap() {
    return swap;
  }

  /** The loss of each anchor against its positive and its negative. */
  public Tensor apply(Tensor anchor, Tensor positive, Tensor negative) {
    return F.tripletMarginLoss(anchor, positive, negative, margin, p, eps, swap, reduction());
  }

  /** @throws IllegalArgumentException always: the loss takes three tensors */
  @Override
  public Tensor apply(Tensor prediction, Tensor target) {
    throw threeInputs(this, "anchor, positive, negative");
  }

  /** {@code F.triplet_margin_loss}'s per-sample losses. */
  static Tensor perSample(Tensor anchor, Tensor positive, Tensor negative, double margin, double p, double eps, boolean swap) {
    sameShape("triplet_margin_loss", "anchor", anchor, "positive", positive);
    sameShape("triplet_margin_loss", "anchor", anchor, "negative", negative);
    Tensor dPos = pairwiseDistance(anchor, positive, p, eps);
    Tensor dNeg = pairwiseDistance(anchor, negative, p, eps);
    if (swap) {
      dNeg = Ops.pointwise(PointwiseKernels.Binary.MINIMUM, dNeg, pairwiseDistance(positive, negative, p, eps));
    }
    return dPos.sub(dNeg).add((float) margin).clampMin(0f);
  }

  /** {@code F.pairwise_distance(x, y, p, eps)}: {@code ||x - y + eps||_p} along the last dimension. */
  static Tensor pairwiseDistance(Tensor x, Tensor y, double p, double eps) {
    return x.sub(y).add((float) eps).norm((float) p, x.shape().length - 1);
  }
}
