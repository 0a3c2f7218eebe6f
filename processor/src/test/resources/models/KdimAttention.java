package test;

import static dev.kiln.dsl.F.flatten;

import dev.kiln.dsl.Input;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.MultiheadAttention;
import dev.kiln.runtime.Tensor;

/**
 * MultiheadAttention's full constructor compiled: {@code cross} attends from the tokens over a memory of 3 whose keys
 * are 12 wide and values 4 ({@code kdim=12, vdim=4}: {@code q_proj_weight}, {@code k_proj_weight}, {@code
 * v_proj_weight}) with {@code add_bias_kv}; {@code extra} is self-attention with {@code add_bias_kv} and {@code
 * add_zero_attn} (two keys more) and dropout 0.1 on its weights. {@code forwardPadded} gives both key padding masks,
 * padded with zeros for the keys appended, as eager's.
 */
@Model(input = {6, 8})
public class KdimAttention extends Module {
  final Linear keys = new Linear(16, 12);
  final Linear values = new Linear(16, 4);
  final MultiheadAttention cross = new MultiheadAttention(8, 2, 0.0, true, true, false, 12, 4, true);
  final MultiheadAttention extra = new MultiheadAttention(8, 2, 0.1, true, true, true, 8, 8, true);
  final Linear head = new Linear(48, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor pairs = x.view(-1, 3, 16);
    Tensor h = x.add(cross.forward(x, keys.apply(pairs), values.apply(pairs)).output());
    h = h.add(extra.apply(h));
    return head.apply(flatten(h));
  }

  public Tensor forwardPadded(Tensor x, @Input({6}) Tensor pad, @Input({3}) Tensor memoryPad) {
    Tensor pairs = x.view(-1, 3, 16);
    Tensor h = x.add(cross.forward(x, keys.apply(pairs), values.apply(pairs), memoryPad, false, null).output());
    h = h.add(extra.forward(h, h, h, pad, false, null).output());
    return head.apply(flatten(h));
  }
}
