package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;

/**
 * The cosine embedding loss, as PyTorch's {@code nn.CosineEmbeddingLoss(margin=0.0, reduction='mean')}: for inputs
 * {@code x1, x2 [N, D]} (or {@code [D]}) and a target {@code y [N]} (or a scalar) of 1 or -1, {@code 1 - cos(x1, x2)}
 * where y is 1 and {@code max(0, cos(x1, x2) - margin)} where it is -1 (0 for any other target);
 * {@link #apply(Tensor, Tensor, Tensor)}.
 */
public class CosineEmbeddingLoss extends Loss {
  /** PyTorch's guard added to each squared norm. */
  private static final float EPSILON = 1e-12f;

  private final double margin;

  public CosineEmbeddingLoss() {
    this(0.0, Reduction.MEAN);
  }

  public CosineEmbeddingLoss(double margin) {
    this(margin, Reduction.MEAN);
  }

  public CosineEmbeddingLoss(double margin, Reduction reduction) {
    super(reduction);
    if (!Float.isFinite((float) margin)) {
      throw new IllegalArgumentException("CosineEmbeddingLoss: margin must be a finite float, got " + margin);
    }
    this.margin = margin;
  }

  public double margin() {
    return margin;
  }

  /** The loss of the pairs {@code input1, input2}, similar or not as {@code target} (1 or -1) says. */
  public Tensor apply(Tensor input1, Tensor input2, Tensor target) {
    return F.cosineEmbeddingLoss(input1, input2, target, margin, reduction());
  }

  /** @throws IllegalArgumentException always: the loss takes three tensors */
  @Override
  public Tensor apply(Tensor prediction, Tensor target) {
    throw threeInputs(this, "input1, input2, target");
  }

  /** {@code F.cosine_embedding_loss}'s per-sample losses, PyTorch's formula step by step. */
  static Tensor perSample(Tensor input1, Tensor input2, Tensor target, double margin) {
    sameShape("cosine_embedding_loss", "input1", input1, "input2", input2);
    int dim = target.shape().length;
    if (input1.shape().length != dim + 1 || dim > 1 || (dim == 1 && target.shape()[0] != input1.shape()[0])) {
      throw new IllegalArgumentException("cosine_embedding_loss: inputs [N, D] need a target [N], inputs [D] a 0-d target; got inputs "
          + Shapes.toString(input1.shape()) + " and target " + Shapes.toString(target.shape()));
    }
    Tensor prod = input1.mul(input2).sum(dim);
    Tensor mag1 = input1.mul(input1).sum(dim).add(EPSILON);
    Tensor mag2 = input2.mul(input2).sum(dim).add(EPSILON);
    Tensor cos = prod.div(mag1.mul(mag2).sqrt());
    Tensor zeros = Tensor.zeros(cos.shape()).to(cos.device());
    Tensor pos = cos.neg().add(1f);
    Tensor neg = cos.sub((float) margin).clampMin(0f);
    return Ops.where(target.eq(1f), pos, zeros).add(Ops.where(target.eq(-1f), neg, zeros));
  }
}
