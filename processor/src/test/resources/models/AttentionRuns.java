package test;

import static dev.kiln.dsl.F.flatten;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.MultiheadAttention;
import dev.kiln.runtime.Tensor;

/**
 * PyTorch's {@code out, w = attn(x, x, x)} compiled: {@code var o = attn.forward(x, x, x)} is one run of the layer (one
 * dropout draw in training, as eager's one call), {@code o.output()} its output and {@code o.weights()} its weights
 * averaged over the heads; {@code r}, a cross-attention with a key padding mask held as a zero buffer, gives its weights
 * per head ({@code average_attn_weights=False}).
 */
@Model(input = {6, 8})
public class AttentionRuns extends Module {
  final Linear pairs = new Linear(16, 8);
  final MultiheadAttention attn = new MultiheadAttention(8, 2, 0.1, true, true);
  final MultiheadAttention cross = new MultiheadAttention(8, 2, 0.0, true, true);
  final Linear head = new Linear(48, 3);

  @Override
  public Tensor forward(Tensor x) {
    var o = attn.forward(x, x, x);
    Tensor h = o.output().add(o.weights().matmul(x));                         // [N, 6, 8]
    Tensor memory = pairs.apply(x.view(-1, 3, 16));
    MultiheadAttention.Output r = cross.forward(h, memory, memory, null, true, null, false);
    h = h.add(r.output()).add(r.weights().sum(1).matmul(memory));
    return head.apply(flatten(h));
  }
}
