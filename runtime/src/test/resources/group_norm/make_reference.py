#!/usr/bin/python3
"""Writes reference.txt: PyTorch 1.13's group norm values and gradients for GroupNormTest.

Run with Debian's torch (1.13) from this directory: OPENBLAS_NUM_THREADS=1 /usr/bin/python3 make_reference.py

Each case draws x with torch.randn from its own seed (times a scale, plus a shift), a weight and bias near 1 and 0
(or none), applies F.group_norm, and back-propagates sum(out * w) for a random w of the output's shape. Lines are
``<case>.<x|weight|bias|w|out|dx|dweight|dbias> [shape] values...``, float32 values printed with repr (TorchReference's
format). far_from_zero's values and gradients are computed in float64 from the float32 inputs: PyTorch's float32 kernel
loses about 1e-3 of x = 1000 + 0.1 N(0, 1) (its statistics are float sums), Kiln's (statistics in double) does not.
"""
import torch
import torch.nn.functional as F

# name: (x shape, groups, eps, affine, scale, shift)
CASES = {
    "rank2": ((4, 6), 3, 1e-5, True, 1, 0),
    "rank3": ((3, 6, 5), 2, 1e-5, True, 1, 0),
    "rank4": ((2, 8, 3, 4), 4, 1e-5, True, 1, 0),
    "rank5": ((2, 4, 2, 3, 2), 2, 1e-3, True, 1, 0),
    "one_group": ((2, 6, 3, 3), 1, 1e-5, True, 1, 0),
    "instance": ((2, 5, 4, 4), 5, 1e-5, True, 1, 0),
    "no_affine": ((3, 4, 6), 2, 1e-5, False, 1, 0),
    "far_from_zero": ((2, 4, 8, 8), 2, 1e-5, True, 0.1, 1000),
    "long_rows": ((2, 4, 16, 16), 2, 1e-5, True, 2, 0.5),
}


def line(case, key, t):
    shape = "[" + ",".join(str(s) for s in t.shape) + "]"
    return f"{case}.{key} {shape} " + " ".join(repr(v) for v in t.detach().flatten().tolist())


def main():
    lines = []
    for i, (name, (shape, groups, eps, affine, scale, shift)) in enumerate(CASES.items()):
        torch.manual_seed(100 + i)
        x = (torch.randn(shape) * scale + shift).requires_grad_(True)
        c = shape[1]
        weight = (1 + 0.5 * torch.randn(c)).requires_grad_(True) if affine else None
        bias = (0.5 * torch.randn(c)).requires_grad_(True) if affine else None
        w = torch.randn(x.shape)
        if name == "far_from_zero":  # float64 from the same float32 inputs
            x64, w64, b64 = (t.detach().double().requires_grad_(True) for t in (x, weight, bias))
            out = F.group_norm(x64, groups, w64, b64, eps)
            (out * w.double()).sum().backward()
            out = out.float()
            x.grad, weight.grad, bias.grad = x64.grad.float(), w64.grad.float(), b64.grad.float()
        else:
            out = F.group_norm(x, groups, weight, bias, eps)
            (out * w).sum().backward()
        lines.append(f"# {name}: groups {groups}, eps {eps!r}")
        lines.append(line(name, "x", x))
        if affine:
            lines.append(line(name, "weight", weight))
            lines.append(line(name, "bias", bias))
        lines.append(line(name, "w", w))
        lines.append(line(name, "out", out))
        lines.append(line(name, "dx", x.grad))
        if affine:
            lines.append(line(name, "dweight", weight.grad))
            lines.append(line(name, "dbias", bias.grad))
    with open("reference.txt", "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
