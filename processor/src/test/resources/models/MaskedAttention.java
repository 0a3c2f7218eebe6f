package test;

import dev.kiln.dsl.Input;
import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * Two-head self-attention over padded sequences: a padding mask per sample (1 where a token is real)
 * keeps every query from the padding, as PyTorch code writes {@code scores.masked_fill(mask[:, None, None, :] == 0,
 * -inf)}, and zeroes the padded positions before the mean over the sequence. forward attends to every position.
 */
@Model(input = {6, 8})
public class MaskedAttention extends Module {
  static final int S = 6;
  static final int D = 8;
  static final int H = 2;
  static final int DH = D / H;

  final LayerNorm norm = new LayerNorm(D);
  final Linear query = new Linear(D, D);
  final Linear key = new Linear(D, D, false);
  final Linear value = new Linear(D, D);
  final Linear proj = new Linear(D, D);
  final Linear head = new Linear(D, 3);

  public Tensor forwardMasked(Tensor x, @Input({S}) Tensor mask) {
    Tensor h = norm.apply(x);
    Tensor q = query.apply(h).view(-1, S, H, DH).transpose(1, 2);
    Tensor k = key.apply(h).view(-1, S, H, DH).transpose(1, 2);
    Tensor v = value.apply(h).view(-1, S, H, DH).transpose(1, 2);
    Tensor att = q.matmul(k.transpose(-2, -1)).div(Math.sqrt(DH));
    att = att.maskedFill(mask.reshape(-1, 1, 1, S).eq(0), Float.NEGATIVE_INFINITY).softmax(-1);   // [N, H, S, S]
    Tensor o = att.matmul(v).transpose(1, 2).reshape(-1, S, D);
    x = x.add(proj.apply(o)).maskedFill(mask.reshape(-1, S, 1).eq(0), 0f);                     // padding rows zero
    return head.apply(x.mean(1));
  }

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = norm.apply(x);
    Tensor q = query.apply(h).view(-1, S, H, DH).transpose(1, 2);
    Tensor k = key.apply(h).view(-1, S, H, DH).transpose(1, 2);
    Tensor v = value.apply(h).view(-1, S, H, DH).transpose(1, 2);
    Tensor att = q.matmul(k.transpose(-2, -1)).div(Math.sqrt(DH)).softmax(-1);
    Tensor o = att.matmul(v).transpose(1, 2).reshape(-1, S, D);
    return head.apply(x.add(proj.apply(o)).mean(1));
  }
}
