package test;

import static dev.kiln.dsl.F.flatten;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.MultiheadAttention;
import dev.kiln.runtime.Tensor;

/**
 * MultiheadAttention's weights read in a compiled forward ({@code out, w = attn(x, x, x)}'s {@code w}): averaged over the
 * heads, PyTorch's default ({@code [N, L, S]}, dropout 0.1 in training, drawn as eager's), and per head ({@code
 * average_attn_weights=False}, {@code [N, H, L, S]}) of a cross-attention over a memory of 3, each weighing the values
 * again by hand; beside the self-attention's output, a call of its own (each call runs the layer, in eager mode too).
 */
@Model(input = {6, 8})
public class AttentionWeights extends Module {
  final Linear pairs = new Linear(16, 8);
  final MultiheadAttention attn = new MultiheadAttention(8, 2, 0.1, true, true);
  final MultiheadAttention cross = new MultiheadAttention(8, 2, 0.0, true, true);
  final Linear head = new Linear(48, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor memory = pairs.apply(x.view(-1, 3, 16));                            // [N, 3, 8]
    Tensor w = attn.forward(x, x, x).weights();                                // [N, 6, 6]
    Tensor c = cross.forward(x, memory, memory, null, true, null, false).weights(); // [N, 2, 6, 3]
    Tensor h = attn.forward(x, x, x, null, false, null).output();
    h = h.add(w.matmul(x)).add(c.sum(1).matmul(memory));
    return head.apply(flatten(h));
  }
}
