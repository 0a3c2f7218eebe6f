#!/usr/bin/python3
"""Reads a safetensors file (one Kiln wrote, say) with json, struct and torch only, and prints
each tensor: name, dtype, shape, values. The safetensors package is not needed. A file named
*.pt or *.pth is read with torch.load(weights_only=True) instead.

With --load-net, also loads the tensors into make_torch_file.Net with load_state_dict(strict=True),
as PyTorch users would, and prints Net's outputs for make_torch_file.INPUT in evaluation mode.

Usage: /usr/bin/python3 read_safetensors.py [--load-net] FILE
"""
import json
import os
import struct
import sys

import torch

# safetensors dtype -> (struct format code, bytes per element, torch dtype)
DTYPES = {
    "F32": ("f", 4, torch.float32),
    "F64": ("d", 8, torch.float64),
    "I32": ("i", 4, torch.int32),
    "I64": ("q", 8, torch.int64),
}


def read_safetensors(path):
    """The tensors of a safetensors file, in the header's order, and its metadata."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack_from("<Q", blob, 0)
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", {})
    data = blob[8 + n:]
    tensors = {}
    for name, info in header.items():
        code, size, dtype = DTYPES[info["dtype"]]
        begin, end = info["data_offsets"]
        values = struct.unpack_from("<%d%s" % ((end - begin) // size, code), data, begin)
        tensors[name] = torch.tensor(values, dtype=dtype).reshape(info["shape"])
    return tensors, metadata


def main():
    args = sys.argv[1:]
    load_net = "--load-net" in args
    paths = [a for a in args if a != "--load-net"]
    if len(paths) != 1:
        sys.exit(__doc__)
    if paths[0].endswith((".pt", ".pth")):  # torch.save's format (Kiln's TorchFiles.write)
        loaded = torch.load(paths[0], weights_only=True)
        print("torch.load:", type(loaded).__name__)
        tensors, metadata = dict(loaded), {}
    else:
        tensors, metadata = read_safetensors(paths[0])
    print("metadata", metadata)
    for name, t in tensors.items():
        print(name, str(t.dtype).replace("torch.", ""), list(t.shape), t.tolist())
    if load_net:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        sys.dont_write_bytecode = True  # no __pycache__ beside the test resources
        import make_torch_file

        net = make_torch_file.Net()
        print("load_state_dict(strict=True):", net.load_state_dict(tensors, strict=True))
        net.eval()
        with torch.no_grad():
            print("mlp(INPUT)", net.mlp(torch.tensor(make_torch_file.INPUT)).tolist())


if __name__ == "__main__":
    main()
