package test;

import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * A text classifier over padded token ids (PAD = 0) pooling by the mean over the real tokens alone, as PyTorch code
 * writes masked mean pooling: {@code keep = (ids != 0).float()}, {@code (h * keep[..., None]).sum(1) / keep.sum(1,
 * keepdim=True)}. The mask is a 0/1 float value here, computed once and read twice.
 */
@Model(input = {6})
public class PaddedMeanPool extends Module {
  final Embedding tok = new Embedding(11, 8, 0);
  final Linear fc = new Linear(8, 8);
  final Linear head = new Linear(8, 3);

  @Override
  public Tensor forward(Tensor ids) {
    Tensor keep = ids.ne(0);                                                     // [N, S]: 1 at the real tokens
    Tensor h = relu(fc.apply(tok.apply(ids)));                                   // [N, S, D]
    Tensor pooled = h.mul(keep.unsqueeze(-1)).sum(1).div(keep.sum(1, true));      // [N, D]: the mean over the real tokens
    return head.apply(pooled);
  }
}
