package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;
import java.util.Arrays;

/**
 * Scaled dot-product attention as {@link F#scaledDotProductAttention} and {@link MultiheadAttention} compute it,
 * written with the ops a user writes by hand ({@code q.matmul(k.transpose(-2, -1)).mul(scale).softmax(-1)
 * .matmul(v)}) so that eager mode's fusions apply unchanged: the key's transpose is read in place by the product,
 * the scale is taken into the softmax ({@code Deferred.Scale}) when no mask comes between, and under no grad the
 * scores are never an array of their own (docs/design-notes.md, "Eager transformer steps").
 */
final class Attention {
  private Attention() {}

  /** The output {@code [..., L, Ev]} and the attention weights {@code [..., L, S]} (after dropout, as PyTorch 1.13's). */
  record Result(Tensor output, Tensor weights) {}

  /**
   * @param who the caller, for messages ({@code "scaledDotProductAttention"}, the layer's repr)
   * @param mask a float mask added to the scaled scores, broadcast to {@code [..., L, S]}, or null
   */
  static Result compute(String who, Tensor q, Tensor k, Tensor v, Tensor mask, double dropoutP, boolean isCausal) {
    int[] qs = q.shape();
    int[] ks = k.shape();
    int[] vs = v.shape();
    if (qs.length < 2 || ks.length < 2 || vs.length < 2) {
      throw new ShapeException(who + ": query, key and value need at least 2 dimensions ([..., L, E], [..., S, E],"
          + " [..., S, Ev]), got " + Shapes.toString(qs) + ", " + Shapes.toString(ks) + ", " + Shapes.toString(vs));
    }
    int r = qs.length;
    if (ks.length != r || vs.length != r
        || !Arrays.equals(Arrays.copyOf(qs, r - 2), Arrays.copyOf(ks, r - 2))
        || !Arrays.equals(Arrays.copyOf(qs, r - 2), Arrays.copyOf(vs, r - 2))) {
      throw new ShapeException(who + ": query, key and value must have the same leading (batch) dimensions, got "
          + Shapes.toString(qs) + ", " + Shapes.toString(ks) + ", " + Shapes.toString(vs));
    }
    if (qs[r - 1] != ks[r - 1]) {
      throw new ShapeException(who + ": query's last dimension (E = " + qs[r - 1] + ") must equal key's (" + ks[r - 1]
          + "), got query " + Shapes.toString(qs) + ", key " + Shapes.toString(ks));
    }
    if (ks[r - 2] != vs[r - 2]) {
      throw new ShapeException(who + ": key and value must have the same length S, got key " + Shapes.toString(ks)
          + ", value " + Shapes.toString(vs));
    }
    if (!(dropoutP >= 0 && dropoutP <= 1)) {
      throw new IllegalArgumentException(who + ": dropout probability has to be between 0 and 1, but got " + dropoutP);
    }
    int l = qs[r - 2];
    int s = ks[r - 2];
    int[] scoresShape = Arrays.copyOf(qs, r);
    scoresShape[r - 1] = s;
    if (mask != null) {
      requireBroadcasts(who, "attn_mask", mask.shape(), scoresShape);
      if (isCausal) {
        throw new IllegalArgumentException(who + ": an explicit attn_mask must not be given with isCausal=true"
            + " (PyTorch's rule); add the causal mask to it yourself, or pass one of the two");
      }
    }
    Tensor scores = q.matmul(k.transpose(-2, -1)).mul(1.0 / Math.sqrt(qs[r - 1]));
    if (isCausal) {
      scores = scores.maskedFill(causalBlocked(l, s, q), Float.NEGATIVE_INFINITY);
    } else if (mask != null) {
      scores = scores.add(mask);
    }
    Tensor weights = scores.softmax(-1);
    if (dropoutP > 0) {
      weights = Ops.dropout(weights, dropoutP, true);
    }
    return new Result(weights.matmul(v), weights);
  }

  /** 1 above the diagonal of {@code [L, S]} (the positions a causal query may not see), on {@code like}'s device. */
  static Tensor causalBlocked(int l, int s, Tensor like) {
    return Tensor.ones(l, s).triu(1).to(like.device());
  }

  /** Fails unless {@code mask} broadcasts to {@code target} (right-aligned, each dimension equal or 1). */
  static void requireBroadcasts(String who, String name, int[] mask, int[] target) {
    boolean ok = mask.length <= target.length;
    for (int i = 1; ok && i <= mask.length; i++) {
      int m = mask[mask.length - i];
      ok = m == 1 || m == target[target.length - i];
    }
    if (!ok) {
      throw new ShapeException(who + ": " + name + " of shape " + Shapes.toString(mask) + " does not broadcast to the"
          + " scores' shape " + Shapes.toString(target) + " ([..., L, S])");
    }
  }

  /**
   * A 0/1 mask where 1 marks what may not be attended to (PyTorch {@code nn.MultiheadAttention}'s boolean
   * {@code True}), as the float mask Kiln adds: 0 where allowed, -inf where blocked.
   */
  static Tensor additive(Tensor blocked) {
    return Tensor.zeros(blocked.shape()).to(blocked.device()).maskedFill(blocked, Float.NEGATIVE_INFINITY);
  }
}
