#!/usr/bin/python3
"""Writes reference.txt: PyTorch 1.13's F.pad in its non-constant modes and their gradients, for PadModesTest.

Run with Debian's torch (1.13) from this directory: OPENBLAS_NUM_THREADS=1 /usr/bin/python3 make_reference.py

Each case pads x = randn(shape) by `pad` in `mode`; w = randn like the output; out and dx the gradient of sum(out * w).
Lines are ``<case>.<x|w|out|dx> [shape] values...`` (TorchReference's format); the case name holds the mode and the
padding (``reflect_2_1_3_4``), which the test reads back.
"""
import torch
import torch.nn.functional as F

CASES = [
    ("reflect", (2, 3, 5, 6), (2, 1, 3, 4)),
    ("reflect", (2, 3, 7), (3, 2)),
    ("reflect", (1, 2, 3, 4, 5), (1, 2, 2, 1, 1, 0)),
    ("replicate", (2, 3, 5, 6), (2, 1, 3, 7)),
    ("replicate", (2, 3, 4), (0, 5)),
    ("circular", (2, 3, 5, 6), (2, 1, 5, 4)),
    ("circular", (2, 2, 4), (4, 1)),
]


def line(key, t):
    shape = ",".join(str(s) for s in t.shape)
    return f"{key} [{shape}] " + " ".join(repr(v) for v in t.detach().flatten().tolist())


def main():
    torch.manual_seed(3)
    lines = []
    for mode, shape, pad in CASES:
        name = mode + "_" + "_".join(str(p) for p in pad) + "_of_" + "x".join(str(s) for s in shape)
        x = torch.randn(shape).requires_grad_(True)
        out = F.pad(x, pad, mode=mode)
        w = torch.randn(out.shape)
        (out * w).sum().backward()
        lines += [line(name + ".x", x), line(name + ".w", w), line(name + ".out", out), line(name + ".dx", x.grad)]
    with open("reference.txt", "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
