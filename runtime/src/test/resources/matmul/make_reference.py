#!/usr/bin/python3
"""Writes reference.txt: torch.matmul's values and gradients for MatmulTest.

Run with Debian's torch (1.13) from this directory: /usr/bin/python3 make_reference.py

Each case multiplies a = sin(0.37 i - 1.1) and b = cos(0.53 i + 0.2) (i the flat index, in the
shapes of CASES) and back-propagates sum(out * w), w = sin(0.71 i + 0.3); each line is
``case<k>.<out|da|db> [shape] values...``, float32 values printed with repr.
"""
import os

import torch

CASES = [((3,), (3,)), ((3,), (3, 4)), ((2, 3), (3,)), ((4, 3), (3, 2)), ((2, 2, 3), (3, 4)), ((2, 3), (2, 3, 4)),
         ((2, 1, 2, 3), (3, 3, 2)), ((3,), (2, 3, 2)), ((2, 2, 3), (3,)), ((1, 2, 3), (4, 3, 2))]


def flat(shape, scale, shift, fn):
    n = 1
    for s in shape:
        n *= s
    return fn(torch.arange(n, dtype=torch.float32).reshape(shape) * scale + shift)


def main():
    lines = [f"# written by make_reference.py with torch {torch.__version__}"]
    for k, (sa, sb) in enumerate(CASES):
        a = flat(sa, 0.37, -1.1, torch.sin).requires_grad_()
        b = flat(sb, 0.53, 0.2, torch.cos).requires_grad_()
        out = a @ b
        (out * flat(list(out.shape), 0.71, 0.3, torch.sin)).sum().backward()
        for name, t in (("out", out.detach()), ("da", a.grad), ("db", b.grad)):
            shape = "[" + ",".join(str(s) for s in t.shape) + "]"
            lines.append(f"case{k}.{name} {shape} " + " ".join(repr(v) for v in t.flatten().tolist()))
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference.txt")
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {len(lines)} lines to {out}")


if __name__ == "__main__":
    main()
