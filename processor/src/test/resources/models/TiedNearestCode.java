package test;

import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * A VQ-VAE's quantizer in its own layout: the distances {@code |z|^2 - 2 z.e} to the codebook's rows (the product's
 * weight tied to the codebook), the nearest code's row and the farthest's looked up in that table. {@code z} is read by
 * a self-product and three other steps, the codebook's weight by the product and both lookups: each value's gradients
 * summed in eager's engine's order.
 */
@Model(input = {6, 8})
public class TiedNearestCode extends Module {
  final Linear encode = new Linear(8, 4);
  final Embedding codebook = new Embedding(5, 4);
  final Linear score = new Linear(4, 5);
  final Linear decode = new Linear(24, 3);

  public TiedNearestCode() {
    score.weight(codebook.weight());
  }

  @Override
  public Tensor forward(Tensor x) {
    Tensor z = encode.apply(x);                                              // [N, 6, 4]
    Tensor dist = z.mul(z).sum(-1, true).add(score.apply(z).mul(-2f));       // |z|^2 - 2 z.e (+ a bias): [N, 6, 5]
    Tensor q = codebook.apply(dist.argmin(-1, true).view(-1, 6));            // the nearest code's row: [N, 6, 4]
    Tensor far = codebook.apply(dist.max(-1).indices());                     // the farthest code's row
    return decode.apply(z.add(q).sub(far.mul(0.5f)).flatten(1, 2)).add(dist.mean(1).narrow(1, 0, 3));
  }
}
