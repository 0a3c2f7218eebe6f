#!/usr/bin/python3
"""Writes reference.txt: PyTorch 1.13's F.gelu(x, approximate='tanh') and its gradient for GeluTanhTest.

Run with Debian's torch (1.13) from this directory: OPENBLAS_NUM_THREADS=1 /usr/bin/python3 make_reference.py

One case, "grid": x every 1/64 over [-16, 16], then +-2^(k/4) for k in -120..260 (every magnitude from 1e-9 to
4e19); w = randn; out and dx the gradient of sum(out * w). Lines are ``grid.<x|w|out|dx> [n] values...`` (TorchReference's
format). PyTorch's gradient is NaN where x^2 overflows (|x| above 1.8e19): written "NaN", as Java reads it.
"""
import torch
import torch.nn.functional as F


def line(key, t):
    return f"grid.{key} [{t.numel()}] " + " ".join("NaN" if v != v else repr(v) for v in t.detach().flatten().tolist())


def main():
    grid = [i / 64 for i in range(-16 * 64, 16 * 64 + 1)]
    mags = [2.0 ** (k / 4) for k in range(-120, 261)]
    x = torch.tensor(grid + mags + [-m for m in mags], dtype=torch.float32).requires_grad_(True)
    torch.manual_seed(5)
    w = torch.randn(x.shape)
    out = F.gelu(x, approximate="tanh")
    (out * w).sum().backward()
    lines = [line("x", x), line("w", w), line("out", out), line("dx", x.grad)]
    with open("reference.txt", "w") as f:
        f.write("\n".join(lines) + "\n")


main()
