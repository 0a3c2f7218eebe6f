#!/usr/bin/python3
"""Loads a Kiln model's saved state dict into PyTorch's twin, strictly, and prints its output: for
DecoderLayersTest.kilnFilesLoadIntoPyTorch.

    /usr/bin/python3 load_kiln_model.py IO_RESOURCES_DIR FILE transformer|mha

transformer: Transformer(8, 2, 1, 2, 16, 0.1, "gelu", batch_first=True, norm_first=True) in eval mode over
src = cos(0.29 i) [3, 5, 8] (the last two keys of sample 1 padded, in the encoder and over the memory) and
tgt = cos(0.29 i + 0.5) [3, 4, 8] with the causal target mask.
mha: MultiheadAttention(8, 2, add_bias_kv=True, add_zero_attn=True, kdim=5, vdim=3) over query cos(0.29 i) [4, 3, 8],
key cos(0.29 i + 0.5) [6, 3, 5], value cos(0.29 i + 1) [6, 3, 3]; prints the output then the averaged weights.
"""
import sys

import torch

sys.path.insert(0, sys.argv[1])
from read_safetensors import read_safetensors  # noqa: E402


def filled(shape, shift):
    n = 1
    for s in shape:
        n *= s
    return torch.cos(torch.arange(n, dtype=torch.float32) * 0.29 + shift).reshape(shape)


def main():
    state, _ = read_safetensors(sys.argv[2])
    if sys.argv[3] == "transformer":
        model = torch.nn.Transformer(8, 2, 1, 2, 16, 0.1, "gelu", batch_first=True, norm_first=True)
    else:
        model = torch.nn.MultiheadAttention(8, 2, add_bias_kv=True, add_zero_attn=True, kdim=5, vdim=3)
    print("load_state_dict(strict=True):", model.load_state_dict(state, strict=True))
    model.eval()
    if sys.argv[3] == "transformer":
        pad = torch.zeros(3, 5, dtype=torch.bool)
        pad[1, -2:] = True
        out = model(filled((3, 5, 8), 0), filled((3, 4, 8), 0.5), tgt_mask=model.generate_square_subsequent_mask(4),
                    src_key_padding_mask=pad, memory_key_padding_mask=pad)
        outputs = [out]
    else:
        outputs = list(model(filled((4, 3, 8), 0), filled((6, 3, 5), 0.5), filled((6, 3, 3), 1.0)))
    print("out " + " ".join(repr(v) for t in outputs for v in t.flatten().tolist()))


if __name__ == "__main__":
    main()
