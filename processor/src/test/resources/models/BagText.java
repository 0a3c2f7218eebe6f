package test;

import dev.kiln.dsl.EmbeddingBag;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;
import java.util.List;

/**
 * PyTorch's text classifier over bags of token ids, each sample's ids one bag ({@code [N, 5]}, PyTorch's 2-D input to
 * {@code nn.EmbeddingBag}): the sum, the mean without the padding id 0, and the maximum of each bag's rows, joined
 * and classified.
 */
@Model(input = {5})
public class BagText extends Module {
  final EmbeddingBag sum = new EmbeddingBag(11, 4, EmbeddingBag.Mode.SUM);
  final EmbeddingBag mean = new EmbeddingBag(11, 4).paddingIdx(0);
  final EmbeddingBag max = new EmbeddingBag(11, 4, EmbeddingBag.Mode.MAX).paddingIdx(0);
  final Linear head = new Linear(12, 3);

  @Override
  public Tensor forward(Tensor ids) {
    Tensor bags = Tensor.cat(List.of(sum.apply(ids), mean.apply(ids), max.apply(ids)), 1);   // [N, 12]
    return head.apply(bags);
  }
}
