package test;

import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * A VQ-VAE's quantizer: each position's nearest code (the squared distance less |z|^2, which is the same for every code;
 * b_k stands for |e_k|^2 / -2) ({@code dist.argmin(-1)}, ids of [N, 6]) looked up in the codebook,
 * an Embedding whose weight the distances' product reads too (a tie); no gradient flows to the ids (argmin is not
 * differentiable), the codebook's rows get theirs from the lookup and the product.
 */
@Model(input = {6, 8})
public class NearestCode extends Module {
  final Linear encode = new Linear(8, 4);
  final Embedding codebook = new Embedding(5, 4);
  final Linear score = new Linear(4, 5).weight(codebook.weight());  // z e_k + b_k: the codebook's rows, a learned bias
  final Linear decode = new Linear(24, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor z = encode.apply(x);                                          // [N, 6, 4]
    Tensor dist = score.apply(z).mul(-2f);                               // -2 z e_k - 2 b_k (|z|^2 ranks no code): [N, 6, 5]
    Tensor q = codebook.apply(dist.argmin(-1, true).view(-1, 6));        // the nearest code's row: [N, 6, 4]
    return decode.apply(z.add(q).flatten(1, 2)).add(dist.mean(1).narrow(1, 0, 3)); // the distances trained too
  }
}
