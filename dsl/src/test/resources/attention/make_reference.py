#!/usr/bin/python3
"""Writes reference.txt: PyTorch 1.13's attention layers' outputs and gradients, for AttentionLayersTest.

Run with Debian's torch (1.13) from this directory: OPENBLAS_NUM_THREADS=1 /usr/bin/python3 make_reference.py

Inputs are filled as x(i) = cos(0.29 i + shift) (i the flat index; shift 0 for the query, 0.5 for the key, 1 for the
value); every parameter k (state-dict order) as sin(0.37 i + 0.1 k) / 2, then LayerNorm weights as 1 + that / 2.
Each case back-propagates sum(out * sin(0.71 i + 0.3)) (+ sum(weights * cos(0.43 i)) where weights are returned)
and writes ``<case>.<name> [shape] values...``: the parameters, the inputs, masks, the output, the weights and the
gradients (``grad.<name>``). Boolean masks are written as 0/1 (1 = blocked, PyTorch's True), float masks as they are.
torch 1.13 has no F.scaled_dot_product_attention (PyTorch 2's): its reference is the formula written out,
softmax(q k^T / sqrt(E) + mask) v, with PyTorch 2's causal mask (ones(L, S).tril() kept).
"""
import math
import os
import sys

import torch

# filled(shape, fn, scale, shift) and line(name, t): the recurrent layers' reference script's
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "recurrent"))
from make_reference import filled, line  # noqa: E402


def inputs(shapes):
    return [filled(s, torch.cos, 0.29, 0.5 * j).requires_grad_(True) for j, s in enumerate(shapes)]


def set_params(module):
    with torch.no_grad():
        for k, (name, p) in enumerate(module.named_parameters()):
            v = filled(p.shape, torch.sin, 0.37, 0.1 * k) / 2
            p.copy_(1 + v / 2 if ".norm" in "." + name and name.endswith("weight") else v)


def loss_of(out, weights=None):
    loss = (out * filled(out.shape, torch.sin, 0.71, 0.3)).sum()
    if weights is not None:
        loss = loss + (weights * filled(weights.shape, torch.cos, 0.43, 0)).sum()
    return loss


def sdpa(q, k, v, mask=None, causal=False):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if causal:
        keep = torch.ones(q.shape[-2], k.shape[-2]).tril()
        scores = scores.masked_fill(keep == 0, float("-inf"))
    if mask is not None:
        scores = scores + mask
    return torch.softmax(scores, -1) @ v


def sdpa_cases(lines):
    for case, mask, causal in [("sdpa", None, False), ("sdpa_mask", True, False), ("sdpa_causal", None, True)]:
        q, k, v = inputs([(2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7)])
        m = filled((4, 6), torch.sin, 1.3, 0.2) * 2 if mask else None
        out = sdpa(q, k, v, m, causal)
        loss_of(out).backward()
        for name, t in [("q", q), ("k", k), ("v", v)] + ([("mask", m)] if mask else []) + [("out", out)]:
            lines.append(line(f"{case}.{name}", t))
        for name, t in [("q", q), ("k", k), ("v", v)]:
            lines.append(line(f"{case}.grad.{name}", t.grad))


def write_module(lines, case, module, tensors, out, weights):
    for name, p in module.named_parameters():
        lines.append(line(f"{case}.{name}", p))
    for name, t in tensors.items():
        if t is not None:
            lines.append(line(f"{case}.{name}", t.float() if t.dtype == torch.bool else t))
    lines.append(line(f"{case}.out", out))
    if weights is not None:
        lines.append(line(f"{case}.weights", weights))
    loss_of(out, weights).backward()
    for name, t in tensors.items():
        if t is not None and t.requires_grad:
            lines.append(line(f"{case}.grad.{name}", t.grad))
    for name, p in module.named_parameters():
        lines.append(line(f"{case}.grad.{name}", p.grad))


def mha_cases(lines):
    # (case, module, query/key/value shapes, self-attention, key padding mask, attn_mask kind, average)
    cases = [
        ("mha", torch.nn.MultiheadAttention(8, 2), [(4, 3, 8), (5, 3, 8), (5, 3, 8)], False, True, "float", True),
        ("mha_bf", torch.nn.MultiheadAttention(8, 4, bias=False, batch_first=True), [(3, 4, 8)], True, False, "bool3", False),
        ("mha_one", torch.nn.MultiheadAttention(6, 3), [(4, 6), (5, 6), (5, 6)], False, True, None, True),
    ]
    for case, mha, shapes, self_attn, padding, attn_kind, average in cases:
        set_params(mha)
        mha.eval()
        xs = inputs(shapes)
        q, k, v = (xs[0], xs[0], xs[0]) if self_attn else xs
        batched = q.dim() == 3
        n = (q.shape[0] if mha.batch_first else q.shape[1]) if batched else 1
        seq = 1 if (batched and mha.batch_first) else 0
        tgt, src = q.shape[seq], k.shape[seq]
        kpm = None
        if padding:
            kpm = torch.zeros(n, src, dtype=torch.bool)
            kpm[0, -1] = True
            kpm[-1, 1] = True
            if not batched:
                kpm = kpm[0]
        mask = None
        if attn_kind == "float":
            mask = filled((tgt, src), torch.sin, 1.3, 0.2) * 2
        elif attn_kind == "bool3":
            mask = torch.ones(tgt, src).triu(1).bool().expand(n * mha.num_heads, tgt, src).clone()
        out, weights = mha(q, k, v, key_padding_mask=kpm, need_weights=True, attn_mask=mask,
                           average_attn_weights=average)
        tensors = {"query": q} if self_attn else {"query": q, "key": k, "value": v}
        tensors.update({"key_padding_mask": kpm, "attn_mask": mask})
        write_module(lines, case, mha, tensors, out, weights)


def encoder_cases(lines):
    torch.manual_seed(0)
    cases = [
        ("enc_post", torch.nn.TransformerEncoderLayer(8, 2, 16, 0.1), (5, 3, 8), True),
        ("enc_pre", torch.nn.TransformerEncoderLayer(8, 4, 12, 0.1, "gelu", 1e-6, batch_first=True, norm_first=True),
         (3, 5, 8), False),
        ("encoder", torch.nn.TransformerEncoder(
            torch.nn.TransformerEncoderLayer(8, 2, 16, 0.0, batch_first=True), 2, torch.nn.LayerNorm(8)),
         (3, 5, 8), False),
        ("enc_act", torch.nn.TransformerEncoderLayer(8, 2, 12, 0.1, torch.nn.GELU(approximate="tanh"), 1e-5,
                                                     batch_first=True), (3, 5, 8), True),
    ]
    for case, module, shape, causal in cases:
        set_params(module)
        module.eval()
        (x,) = inputs([shape])
        n, s = (shape[1], shape[0]) if case == "enc_post" else (shape[0], shape[1])
        kpm = torch.zeros(n, s, dtype=torch.bool)
        kpm[1, -2:] = True
        mask = torch.ones(s, s).triu(1).bool() if causal else None
        if case == "encoder":
            out = module(x, src_key_padding_mask=kpm)
        else:
            out = module(x, src_mask=mask, src_key_padding_mask=kpm)
        write_module(lines, case, module, {"src": x, "src_key_padding_mask": kpm, "src_mask": mask}, out, None)


def main():
    lines = [f"# written by make_reference.py with torch {torch.__version__}"]
    sdpa_cases(lines)
    mha_cases(lines)
    encoder_cases(lines)
    with open("reference.txt", "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
