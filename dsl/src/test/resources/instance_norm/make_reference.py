#!/usr/bin/python3
"""Writes reference.txt: PyTorch 1.13's InstanceNorm1d and InstanceNorm2d, with and without track_running_stats, for
InstanceNormTest.

Run with Debian's torch (1.13) from this directory: OPENBLAS_NUM_THREADS=1 /usr/bin/python3 make_reference.py

Each case runs two training steps over x1 = cos(0.29 i) and x2 = 1.5 sin(0.37 i + 0.2) - 0.3 (i the flat index),
writing the outputs and the running statistics after each, then an evaluation over x3 = cos(0.41 i + 1) (unbatched
where the case says), writing its output. The affine cases' weight and bias start at 1 + sin(0.7 c) / 2 and cos(c) / 3.
Every output back-propagates sum(out * sin(0.71 i + 0.3)); the gradients of the inputs and parameters are written as
``<case>.grad.<name>``. Lines are the attention reference's: ``<name> [shape] values...``.
"""
import os
import sys

import torch

# filled(shape, fn, scale, shift) and line(name, t): the recurrent layers' reference script's
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "recurrent"))
from make_reference import filled, line  # noqa: E402


def loss_of(out):
    return (out * filled(out.shape, torch.sin, 0.71, 0.3)).sum()


CASES = {
    # case: (module, training shape, evaluation shape)
    "in1d": (lambda: torch.nn.InstanceNorm1d(3), (2, 3, 5), (2, 3, 4)),
    "in1d_affine_track": (lambda: torch.nn.InstanceNorm1d(3, momentum=0.2, affine=True, track_running_stats=True),
                          (2, 3, 5), (3, 4)),
    "in2d_track": (lambda: torch.nn.InstanceNorm2d(2, eps=1e-3, track_running_stats=True), (3, 2, 3, 4), (2, 2, 3)),
    "in2d_affine_track": (lambda: torch.nn.InstanceNorm2d(2, affine=True, track_running_stats=True), (2, 2, 2, 3),
                          (2, 2, 2, 3)),
}


def main():
    lines = [f"# written by make_reference.py with torch {torch.__version__}"]
    for case, (make, shape, eval_shape) in CASES.items():
        m = make()
        if m.affine:
            with torch.no_grad():
                c = torch.arange(m.num_features, dtype=torch.float32)
                m.weight.copy_(1 + torch.sin(0.7 * c) / 2)
                m.bias.copy_(torch.cos(c) / 3)
        xs = [filled(shape, torch.cos, 0.29, 0), filled(shape, torch.sin, 0.37, 0.2) * 1.5 - 0.3]
        m.train()
        for step, x in enumerate(xs, 1):
            x.requires_grad_(True)
            out = m(x)
            loss_of(out).backward()
            lines.append(line(f"{case}.x{step}", x))
            lines.append(line(f"{case}.out{step}", out))
            lines.append(line(f"{case}.grad.x{step}", x.grad))
            if m.track_running_stats:
                lines.append(line(f"{case}.running_mean{step}", m.running_mean))
                lines.append(line(f"{case}.running_var{step}", m.running_var))
        if m.affine:  # summed over both steps
            lines.append(line(f"{case}.grad.weight", m.weight.grad))
            lines.append(line(f"{case}.grad.bias", m.bias.grad))
        m.eval()
        x3 = filled(eval_shape, torch.cos, 0.41, 1).requires_grad_(True)
        out = m(x3)
        loss_of(out).backward()
        lines.append(line(f"{case}.x3", x3))
        lines.append(line(f"{case}.out3", out))
        lines.append(line(f"{case}.grad.x3", x3.grad))
    with open("reference.txt", "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
