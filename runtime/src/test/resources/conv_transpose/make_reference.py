#!/usr/bin/python3
"""Writes reference.txt: PyTorch 1.13's conv_transpose2d values and gradients for ConvTranspose2dOpsTest.

Run with Debian's torch (1.13) from this directory: OPENBLAS_NUM_THREADS=1 /usr/bin/python3 make_reference.py

Each case draws x, weight [in, out / groups, kH, kW] and bias (or none) with torch.randn from its own seed, applies
F.conv_transpose2d(x, weight, bias, stride, padding, output_padding, groups, dilation) and back-propagates
sum(out * w) for a random w of the output's shape. Lines are ``<case>.<x|weight|bias|w|out|dx|dweight|dbias> [shape]
values...`` (TorchReference's format); a comment line per case gives its arguments.
"""
import torch
import torch.nn.functional as F

# name: (x shape, weight shape, bias, stride, padding, output_padding, groups, dilation)
CASES = {
    "grouped_dilated": ((2, 4, 5, 6), (4, 3, 3, 3), True, (2, 1), (1, 2), (1, 0), 2, (2, 1)),
    "grouped_stride2": ((2, 6, 4, 3), (6, 2, 3, 2), True, (2, 2), (1, 0), (1, 1), 3, (1, 1)),
    "depthwise": ((2, 6, 4, 4), (6, 1, 3, 3), True, (2, 2), (1, 1), (1, 1), 6, (1, 1)),
    "depthwise_multiplier_dilated": ((2, 4, 6, 5), (4, 2, 3, 3), False, (1, 1), (2, 2), (0, 0), 4, (2, 2)),
    "output_padding_above_stride": ((2, 4, 4, 5), (4, 2, 3, 3), True, (1, 2), (1, 1), (2, 1), 2, (3, 2)),
    "dilated_one_group": ((1, 3, 4, 4), (3, 2, 2, 3), True, (3, 2), (0, 1), (2, 1), 1, (2, 3)),
}


def line(case, key, t):
    shape = "[" + ",".join(str(s) for s in t.shape) + "]"
    return f"{case}.{key} {shape} " + " ".join(repr(v) for v in t.detach().flatten().tolist())


def main():
    lines = []
    for i, (name, (xs, ws, has_bias, stride, padding, output_padding, groups, dilation)) in enumerate(CASES.items()):
        torch.manual_seed(200 + i)
        x = torch.randn(xs).requires_grad_(True)
        weight = torch.randn(ws).requires_grad_(True)
        bias = torch.randn(ws[1] * groups).requires_grad_(True) if has_bias else None
        out = F.conv_transpose2d(x, weight, bias, stride, padding, output_padding, groups, dilation)
        w = torch.randn(out.shape)
        (out * w).sum().backward()
        lines.append(f"# {name}: stride {stride}, padding {padding}, output_padding {output_padding}, groups {groups},"
                     f" dilation {dilation}")
        for key, t in [("x", x), ("weight", weight), ("bias", bias), ("w", w), ("out", out), ("dx", x.grad),
                       ("dweight", weight.grad), ("dbias", None if bias is None else bias.grad)]:
            if t is not None:
                lines.append(line(name, key, t))
    with open("reference.txt", "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
