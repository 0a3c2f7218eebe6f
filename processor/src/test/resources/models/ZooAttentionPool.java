package test;

import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.MultiheadAttention;
import dev.kiln.runtime.Tensor;

/**
 * Attention pooling with a learned query (as timm's and open_clip's attention pools, the Perceiver's latents): a
 * parameter {@code query [1, 1, E]} expanded to the batch is the query of an {@code nn.MultiheadAttention(E, 4,
 * dropout=0.1, batch_first=True)} whose keys and values are the batch's tokens; the pooled token normalised and
 * classified. PyTorch: {@code q = self.query.expand(x.size(0), -1, -1); pooled, _ = self.attn(q, x, x)}.
 */
@Model(input = {ZooAttentionPool.S, ZooAttentionPool.E})
public class ZooAttentionPool extends Module {
  static final int S = 6;
  static final int E = 32;
  static final int HEADS = 4;
  static final int CLASSES = 5;

  final Tensor query = registerParameter("query", Tensor.randn(1, 1, E).mul(0.02).requiresGrad(true));
  final MultiheadAttention attn = new MultiheadAttention(E, HEADS, 0.1, true, true);
  final LayerNorm norm = new LayerNorm(E);
  final Linear head = new Linear(E, CLASSES);

  @Override
  public Tensor forward(Tensor x) {
    Tensor q = query.expand(x.size(0), -1, -1);                 // [N, 1, E]
    Tensor pooled = attn.forward(q, x, x).output();             // pooled, _ = self.attn(q, x, x)
    return head.apply(norm.apply(pooled.squeeze(1)));           // [N, E] -> [N, CLASSES]
  }
}
