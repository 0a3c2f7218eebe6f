package test;

import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * A VQ-VAE's quantizer: each position's nearest code ({@code dist.argmin(-1)}, ids of [N, 6]) looked up in the codebook,
 * and the farthest ({@code dist.max(-1).indices()}, PyTorch's {@code dist.max(-1).indices}) in the same table, its rows
 * subtracted; no gradient flows to the ids (neither is differentiable), the codebook's rows get theirs from both lookups,
 * summed by id before they meet each other as eager's engine sums them.
 */
@Model(input = {6, 8})
public class NearestCode extends Module {
  final Linear encode = new Linear(8, 4);
  final Embedding codebook = new Embedding(5, 4);
  final Linear score = new Linear(4, 5);
  final Linear decode = new Linear(24, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor z = encode.apply(x);                                          // [N, 6, 4]
    Tensor dist = score.apply(z).mul(-2f);                               // a distance to each of 5 codes: [N, 6, 5]
    Tensor q = codebook.apply(dist.argmin(-1, true).view(-1, 6));        // the nearest code's row: [N, 6, 4]
    Tensor far = codebook.apply(dist.max(-1).indices());                 // the farthest code's row
    return decode.apply(z.add(q).sub(far.mul(0.5f)).flatten(1, 2)).add(dist.mean(1).narrow(1, 0, 3)); // the distances trained too
  }
}
