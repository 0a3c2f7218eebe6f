#!/usr/bin/python3
"""Writes reference.txt: PyTorch 1.13's MultiheadAttention with kdim/vdim, add_bias_kv and add_zero_attn,
TransformerDecoderLayer, TransformerDecoder and Transformer: outputs and gradients, for DecoderLayersTest.

Run with Debian's torch (1.13) from this directory: OPENBLAS_NUM_THREADS=1 /usr/bin/python3 make_reference.py

The fillings, the loss and the line format are the attention reference's (../attention/make_reference.py): inputs
x(i) = cos(0.29 i + shift) (shift 0.5 j for the j-th input: query/key/value, or tgt/memory, or src/tgt), parameters
sin(0.37 i + 0.1 k) / 2 by state-dict order (LayerNorm weights 1 + that / 2), the loss
sum(out * sin(0.71 i + 0.3)) (+ sum(weights * cos(0.43 i))). Boolean masks are written as 0/1 (1 = blocked).
"""
import importlib.util
import os

import torch


def _attention_reference():
    """../attention/make_reference.py (a module of the same name as this one), loaded under another name."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "attention", "make_reference.py")
    spec = importlib.util.spec_from_file_location("attention_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_ATTENTION = _attention_reference()
filled, inputs, line = _ATTENTION.filled, _ATTENTION.inputs, _ATTENTION.line
set_params, write_module = _ATTENTION.set_params, _ATTENTION.write_module


def padding(n, s, rows):
    """A boolean key padding mask [n, s] blocking the last `count` keys of each (row, count) in rows."""
    kpm = torch.zeros(n, s, dtype=torch.bool)
    for row, count in rows:
        kpm[row, s - count:] = True
    return kpm


def causal(length):
    return torch.ones(length, length).triu(1).bool()


def mha_cases(lines):
    # (case, module, query/key/value shapes, key padding mask rows, attn_mask kind, average)
    M = torch.nn.MultiheadAttention
    cases = [
        ("mha_kv", M(8, 2, kdim=5, vdim=3), [(4, 3, 8), (5, 3, 5), (5, 3, 3)], [(0, 1), (2, 2)], "float", True),
        ("mha_kv_bf", M(8, 4, bias=False, kdim=6, vdim=6, batch_first=True), [(2, 4, 8), (2, 5, 6), (2, 5, 6)], [],
         "bool", False),
        ("mha_bias_kv", M(8, 2, add_bias_kv=True, add_zero_attn=True), [(4, 3, 8), (5, 3, 8), (5, 3, 8)],
         [(1, 2)], "float", True),
        ("mha_zero_kdim", M(6, 3, add_zero_attn=True, kdim=4, vdim=5), [(3, 6), (4, 4), (4, 5)], [], "bool3", False),
        ("mha_bias_kv_one", M(8, 2, add_bias_kv=True, batch_first=True), [(4, 8), (5, 8), (5, 8)], [], None, True),
        ("mha_bias_kv_bool", M(8, 2, add_bias_kv=True, add_zero_attn=True, batch_first=True),
         [(2, 4, 8), (2, 5, 8), (2, 5, 8)], [(1, 2)], "bool", True),
    ]
    for case, mha, shapes, pad_rows, attn_kind, average in cases:
        set_params(mha)
        mha.eval()
        q, k, v = inputs(shapes)
        batched = q.dim() == 3
        n = (q.shape[0] if mha.batch_first else q.shape[1]) if batched else 1
        seq = 1 if (batched and mha.batch_first) else 0
        tgt, src = q.shape[seq], k.shape[seq]
        kpm = padding(n, src, pad_rows) if pad_rows else None
        mask = None
        if attn_kind == "float":
            mask = filled((tgt, src), torch.sin, 1.3, 0.2) * 2
        elif attn_kind == "bool":
            mask = torch.ones(tgt, src).triu(1).bool()
        elif attn_kind == "bool3":
            mask = torch.ones(tgt, src).triu(1).bool().expand(n * mha.num_heads, tgt, src).clone()
        out, weights = mha(q, k, v, key_padding_mask=kpm, need_weights=True, attn_mask=mask,
                           average_attn_weights=average)
        tensors = {"query": q, "key": k, "value": v, "key_padding_mask": kpm, "attn_mask": mask}
        write_module(lines, case, mha, tensors, out, weights)


def decoder_cases(lines):
    torch.manual_seed(0)
    D = torch.nn.TransformerDecoderLayer
    # (case, module, tgt shape, memory shape, batch first)
    cases = [
        ("dec_post", D(8, 2, 16, 0.1), (4, 3, 8), (5, 3, 8), False),
        ("dec_pre", D(8, 4, 12, 0.1, "gelu", 1e-6, batch_first=True, norm_first=True), (3, 4, 8), (3, 6, 8), True),
        ("decoder", torch.nn.TransformerDecoder(D(8, 2, 16, 0.0, batch_first=True), 2, torch.nn.LayerNorm(8)),
         (2, 4, 8), (2, 5, 8), True),
    ]
    for case, module, tshape, mshape, bf in cases:
        set_params(module)
        module.eval()
        tgt, memory = inputs([tshape, mshape])
        n, t = (tshape[0], tshape[1]) if bf else (tshape[1], tshape[0])
        s = mshape[1] if bf else mshape[0]
        tensors = {"tgt": tgt, "memory": memory, "tgt_mask": causal(t)}
        if case == "dec_post":
            tensors["tgt_key_padding_mask"] = padding(n, t, [(1, 1)])
            tensors["memory_key_padding_mask"] = padding(n, s, [(0, 2), (2, 1)])
        elif case == "dec_pre":
            tensors["memory_mask"] = filled((t, s), torch.sin, 1.3, 0.2) * 2
        else:
            tensors["memory_key_padding_mask"] = padding(n, s, [(1, 2)])
        out = module(**tensors)
        write_module(lines, case, module, tensors, out, None)


def transformer_cases(lines):
    torch.manual_seed(0)
    cases = [
        ("transformer", torch.nn.Transformer(8, 2, 2, 1, 16, 0.0), (5, 2, 8), (4, 2, 8), False),
        ("transformer_bf", torch.nn.Transformer(8, 4, 1, 2, 12, 0.0, "gelu", batch_first=True, norm_first=True),
         (2, 5, 8), (2, 3, 8), True),
    ]
    for case, module, sshape, tshape, bf in cases:
        set_params(module)
        module.eval()
        src, tgt = inputs([sshape, tshape])
        n, s, t = (sshape[0], sshape[1], tshape[1]) if bf else (sshape[1], sshape[0], tshape[0])
        tensors = {"src": src, "tgt": tgt, "tgt_mask": causal(t),
                   "src_key_padding_mask": padding(n, s, [(1, 2)]),
                   "memory_key_padding_mask": padding(n, s, [(1, 2)])}
        out = module(**tensors)
        write_module(lines, case, module, tensors, out, None)


def main():
    lines = [f"# written by make_reference.py with torch {torch.__version__}"]
    mha_cases(lines)
    decoder_cases(lines)
    transformer_cases(lines)
    with open("reference.txt", "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
