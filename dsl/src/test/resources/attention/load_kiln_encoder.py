#!/usr/bin/python3
"""Loads a Kiln TransformerEncoder's saved state dict into PyTorch's, strictly, and prints its output: for
AttentionLayersTest.kilnEncoderFileLoadsIntoPyTorch.

    /usr/bin/python3 load_kiln_encoder.py IO_RESOURCES_DIR FILE

The model: TransformerEncoder(TransformerEncoderLayer(8, 2, 16, 0.1, "gelu", batch_first=True, norm_first=True), 2,
LayerNorm(8)) in eval mode, over x = cos(0.29 i) [3, 5, 8] with the last two keys of sample 1 padded.
"""
import sys

import torch

sys.path.insert(0, sys.argv[1])
from read_safetensors import read_safetensors  # noqa: E402


def main():
    enc = torch.nn.TransformerEncoder(
        torch.nn.TransformerEncoderLayer(8, 2, 16, 0.1, "gelu", batch_first=True, norm_first=True), 2,
        torch.nn.LayerNorm(8))
    state, _ = read_safetensors(sys.argv[2])
    print("load_state_dict(strict=True):", enc.load_state_dict(state, strict=True))
    enc.eval()
    x = torch.cos(torch.arange(3 * 5 * 8, dtype=torch.float32) * 0.29).reshape(3, 5, 8)
    pad = torch.zeros(3, 5, dtype=torch.bool)
    pad[1, -2:] = True
    out = enc(x, src_key_padding_mask=pad)  # grad on: PyTorch's slow path, the one Kiln computes
    print("out " + " ".join(repr(v) for v in out.flatten().tolist()))


if __name__ == "__main__":
    main()
