package test;

import static dev.kiln.dsl.F.flatten;

import dev.kiln.dsl.Input;
import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * Two causal attention layers sharing one mask held in a local, computed once in forward from a buffer
 * ({@code Tensor causal = tril.view(1, 1, S, S).eq(0);}) and read by both masked fills; the method of several
 * inputs adds a padding mask of its own, made from its further input ({@code mask.view(-1, 1, 1, S).eq(0)}).
 */
@Model(input = {6, 8})
public class CausalLocal extends Module {
  static final int S = 6;
  static final int D = 8;
  static final int H = 2;
  static final int DH = D / H;

  final Tensor tril = registerBuffer("tril", Tensor.ones(S, S).tril());
  final LayerNorm norm1 = new LayerNorm(D);
  final Linear query1 = new Linear(D, D);
  final Linear key1 = new Linear(D, D, false);
  final Linear value1 = new Linear(D, D);
  final LayerNorm norm2 = new LayerNorm(D);
  final Linear query2 = new Linear(D, D);
  final Linear key2 = new Linear(D, D, false);
  final Linear value2 = new Linear(D, D);
  final Linear head = new Linear(S * D, 3);

  public Tensor forwardPadded(Tensor x, @Input({S}) Tensor mask) {
    Tensor causal = tril.view(1, 1, S, S).eq(0);
    Tensor pad = mask.view(-1, 1, 1, S).eq(0);                      // [N, 1, 1, S]
    Tensor h = norm1.apply(x);
    Tensor q = query1.apply(h).view(-1, S, H, DH).transpose(1, 2);
    Tensor k = key1.apply(h).view(-1, S, H, DH).transpose(1, 2);
    Tensor v = value1.apply(h).view(-1, S, H, DH).transpose(1, 2);
    Tensor att = q.matmul(k.transpose(-2, -1)).div(Math.sqrt(DH));
    att = att.maskedFill(causal, Float.NEGATIVE_INFINITY).maskedFill(pad, Float.NEGATIVE_INFINITY).softmax(-1);
    x = x.add(att.matmul(v).transpose(1, 2).reshape(-1, S, D));
    Tensor g = norm2.apply(x);
    Tensor q2 = query2.apply(g).view(-1, S, H, DH).transpose(1, 2);
    Tensor k2 = key2.apply(g).view(-1, S, H, DH).transpose(1, 2);
    Tensor v2 = value2.apply(g).view(-1, S, H, DH).transpose(1, 2);
    Tensor att2 = q2.matmul(k2.transpose(-2, -1)).div(Math.sqrt(DH));
    att2 = att2.maskedFill(pad, Float.NEGATIVE_INFINITY).maskedFill(causal, Float.NEGATIVE_INFINITY).softmax(-1);
    x = x.add(att2.matmul(v2).transpose(1, 2).reshape(-1, S, D));
    return head.apply(flatten(x));
  }

  @Override
  public Tensor forward(Tensor x) {
    Tensor causal = tril.view(1, 1, S, S).eq(0);                     // no look ahead: [1, 1, S, S]
    Tensor h = norm1.apply(x);
    Tensor q = query1.apply(h).view(-1, S, H, DH).transpose(1, 2);
    Tensor k = key1.apply(h).view(-1, S, H, DH).transpose(1, 2);
    Tensor v = value1.apply(h).view(-1, S, H, DH).transpose(1, 2);
    Tensor att = q.matmul(k.transpose(-2, -1)).div(Math.sqrt(DH));
    att = att.maskedFill(causal, Float.NEGATIVE_INFINITY).softmax(-1);
    x = x.add(att.matmul(v).transpose(1, 2).reshape(-1, S, D));
    Tensor g = norm2.apply(x);
    Tensor q2 = query2.apply(g).view(-1, S, H, DH).transpose(1, 2);
    Tensor k2 = key2.apply(g).view(-1, S, H, DH).transpose(1, 2);
    Tensor v2 = value2.apply(g).view(-1, S, H, DH).transpose(1, 2);
    Tensor att2 = q2.matmul(k2.transpose(-2, -1)).div(Math.sqrt(DH));
    att2 = att2.maskedFill(causal, Float.NEGATIVE_INFINITY).softmax(-1);
    x = x.add(att2.matmul(v2).transpose(1, 2).reshape(-1, S, D));
    return head.apply(flatten(x));
  }
}
