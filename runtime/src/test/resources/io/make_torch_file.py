#!/usr/bin/python3
"""Writes two safetensors files from PyTorch, for Kiln's interop tests.

torch_net.safetensors: the state_dict of Net (below): a Sequential(Linear(3, 2), ReLU(),
Linear(2, 1)) under "mlp." and a BatchNorm1d(2) under "bn.", with fixed values (NET_VALUES) that
the Java tests repeat; num_batches_tracked is int64, as PyTorch keeps it.

torch_net_outputs.safetensors: PyTorch's outputs for a fixed input, in evaluation mode, for the
Java tests to compare Kiln's forward passes with: x, mlp_out = net.mlp(x), bn_in = net.mlp[0](x),
bn_out = net.bn(bn_in).

The safetensors package is not needed: the bytes are written by hand with json and struct, as the
format specifies (8-byte little-endian header length, JSON header padded with spaces to a multiple
of 8, raw little-endian data), and as safetensors.torch.save_file lays them out.

Usage: /usr/bin/python3 make_torch_file.py [output directory, default: this script's directory]
"""
import json
import os
import struct
import sys

import torch
from torch import nn

NET_VALUES = {
    "mlp.0.weight": [[0.5, -0.25, 0.125], [-1.0, 0.75, 0.375]],
    "mlp.0.bias": [0.1, -0.2],
    "mlp.2.weight": [[1.5, -2.0]],
    "mlp.2.bias": [0.3],
    "bn.weight": [1.25, 0.8],
    "bn.bias": [-0.1, 0.05],
    "bn.running_mean": [0.2, -0.4],
    "bn.running_var": [1.5, 0.5],
    "bn.num_batches_tracked": 7,
}

INPUT = [[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0], [0.25, -3.0, 1.0], [2.0, 1.0, -4.0]]

# torch dtype -> (safetensors dtype, struct format code)
DTYPES = {
    torch.float32: ("F32", "f"),
    torch.float64: ("F64", "d"),
    torch.int32: ("I32", "i"),
    torch.int64: ("I64", "q"),
}


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
        self.bn = nn.BatchNorm1d(2)


def make_net():
    """A Net holding NET_VALUES, in evaluation mode."""
    net = Net()
    state = net.state_dict()
    with torch.no_grad():
        for name, value in NET_VALUES.items():
            state[name].copy_(torch.tensor(value, dtype=state[name].dtype))
    return net.eval()


def save_safetensors(path, tensors, metadata=None):
    """Writes a dict of tensors as safetensors: header keys in the dict's order, contiguous data."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    chunks = []
    offset = 0
    for name, t in tensors.items():
        dtype, code = DTYPES[t.dtype]
        t = t.detach().contiguous()
        data = struct.pack("<%d%s" % (t.numel(), code), *t.flatten().tolist())
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for data in chunks:
            f.write(data)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    net = make_net()
    state = net.state_dict()
    save_safetensors(os.path.join(out, "torch_net.safetensors"), state, {"format": "pt"})
    with torch.no_grad():
        x = torch.tensor(INPUT)
        bn_in = net.mlp[0](x)
        outputs = {"x": x, "mlp_out": net.mlp(x), "bn_in": bn_in, "bn_out": net.bn(bn_in)}
    save_safetensors(os.path.join(out, "torch_net_outputs.safetensors"), outputs)
    for name, t in list(state.items()) + list(outputs.items()):
        print(name, str(t.dtype).replace("torch.", ""), list(t.shape), t.tolist())


if __name__ == "__main__":
    main()
