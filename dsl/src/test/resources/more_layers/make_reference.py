#!/usr/bin/python3
"""Writes reference.txt: PyTorch 1.13's values and gradients for MoreLayersTest (the activations, rearrangements and
losses added after the first layers: ReLU6 ... PixelUnshuffle, KLDivLoss ... PoissonNLLLoss).

Run with Debian's torch (1.13) from this directory: OPENBLAS_NUM_THREADS=1 /usr/bin/python3 make_reference.py

Each case draws its inputs from its own seed (make), applies the module or function, and back-propagates sum(out * w)
for a random w of the output's shape. Lines are ``<case>.<x|t|v|w|out|dx|dt|dv|weight|grad.weight> [shape] values...``,
float32 values printed with repr; a gradient line only for an input that takes one.
"""
import os

import torch
import torch.nn as nn
import torch.nn.functional as F


def randn(*shape, scale=1.0, shift=0.0):
    return torch.randn(shape) * scale + shift


def sign(*shape):
    return torch.where(torch.randn(shape) > 0, 1.0, -1.0)


def probs(*shape):
    return torch.softmax(torch.randn(shape), -1)


# name: (module or function, make() -> inputs, which inputs take a gradient)
CASES = {
    "relu6": (nn.ReLU6(), lambda: [randn(4, 5, scale=4, shift=2)], "x"),
    "hardswish": (nn.Hardswish(), lambda: [randn(4, 5, scale=3)], "x"),
    "hardsigmoid": (nn.Hardsigmoid(), lambda: [randn(4, 5, scale=3)], "x"),
    "mish": (nn.Mish(), lambda: [randn(4, 5, scale=3)], "x"),
    "selu": (nn.SELU(), lambda: [randn(4, 5, scale=2)], "x"),
    "celu": (nn.CELU(), lambda: [randn(4, 5, scale=2)], "x"),
    "celu_alpha": (nn.CELU(0.5), lambda: [randn(4, 5, scale=2)], "x"),
    "softsign": (nn.Softsign(), lambda: [randn(4, 5, scale=3)], "x"),
    "logsigmoid": (nn.LogSigmoid(), lambda: [randn(4, 5, scale=5)], "x"),
    "tanhshrink": (nn.Tanhshrink(), lambda: [randn(4, 5, scale=2)], "x"),
    "glu": (nn.GLU(), lambda: [randn(4, 6)], "x"),
    "glu_dim1": (nn.GLU(1), lambda: [randn(2, 4, 3)], "x"),
    "softmin": (nn.Softmin(1), lambda: [randn(3, 5, scale=2)], "x"),
    "prelu": (nn.PReLU(), lambda: [randn(2, 3, 4)], "x"),
    "prelu_channels": (nn.PReLU(3), lambda: [randn(2, 3, 4)], "x"),
    "prelu_channels_2d": (nn.PReLU(3, 0.1), lambda: [randn(5, 3)], "x"),
    "pixel_shuffle": (nn.PixelShuffle(2), lambda: [randn(2, 8, 3, 3)], "x"),
    "pixel_unshuffle": (nn.PixelUnshuffle(2), lambda: [randn(2, 2, 4, 6)], "x"),
    "unflatten": (nn.Unflatten(1, (2, -1)), lambda: [randn(2, 6)], "x"),
    "kl_div": (nn.KLDivLoss(), lambda: [torch.log_softmax(randn(3, 4), -1), probs(3, 4)], "xt"),
    "kl_div_batchmean": (nn.KLDivLoss(reduction="batchmean"), lambda: [torch.log_softmax(randn(3, 4), -1), probs(3, 4)], "xt"),
    "kl_div_none_zero": (nn.KLDivLoss(reduction="none"), lambda: [randn(3, 4), probs(3, 4) * (torch.randn(3, 4) > 0)], "x"),
    "kl_div_log_target_sum": (nn.KLDivLoss(reduction="sum", log_target=True),
                              lambda: [torch.log_softmax(randn(3, 4), -1), torch.log_softmax(randn(3, 4), -1)], "xt"),
    "margin_ranking": (nn.MarginRankingLoss(), lambda: [randn(6), randn(6), sign(6)], "xtv"),
    "margin_ranking_margin_none": (nn.MarginRankingLoss(0.5, reduction="none"), lambda: [randn(6), randn(6), sign(6)], "xt"),
    "cosine_embedding": (nn.CosineEmbeddingLoss(), lambda: [randn(6, 4), randn(6, 4), sign(6)], "xt"),
    "cosine_embedding_margin_sum": (nn.CosineEmbeddingLoss(0.2, reduction="sum"), lambda: [randn(6, 4), randn(6, 4), sign(6)], "xt"),
    "triplet": (nn.TripletMarginLoss(), lambda: [randn(5, 4), randn(5, 4), randn(5, 4)], "xtv"),
    "triplet_swap_p1_none": (nn.TripletMarginLoss(margin=0.5, p=1, swap=True, reduction="none"),
                             lambda: [randn(5, 4), randn(5, 4), randn(5, 4)], "xtv"),
    "soft_margin": (nn.SoftMarginLoss(), lambda: [randn(3, 4, scale=2), sign(3, 4)], "x"),
    "multilabel_soft_margin": (nn.MultiLabelSoftMarginLoss(), lambda: [randn(3, 5, scale=2), (torch.randn(3, 5) > 0).float()], "x"),
    "multilabel_soft_margin_weight_none": (nn.MultiLabelSoftMarginLoss(weight=torch.tensor([0.5, 1.0, 2.0, 1.5, 0.25]),
                                                                      reduction="none"),
                                           lambda: [randn(3, 5, scale=2), (torch.randn(3, 5) > 0).float()], "x"),
    "gaussian_nll": (nn.GaussianNLLLoss(), lambda: [randn(4, 3), randn(4, 3), torch.rand(4, 3) + 0.1], "xtv"),
    "gaussian_nll_full_sum_shared": (nn.GaussianNLLLoss(full=True, reduction="sum"), lambda: [randn(4, 3), randn(4, 3), torch.rand(4, 1) + 0.1],
                                     "xtv"),
    "gaussian_nll_none_no_last": (nn.GaussianNLLLoss(reduction="none"), lambda: [randn(4, 3), randn(4, 3), torch.rand(4) + 0.1], "xtv"),
    "poisson_nll": (nn.PoissonNLLLoss(), lambda: [randn(3, 4), torch.poisson(torch.rand(3, 4) * 4)], "xt"),
    "poisson_nll_rate_full_none": (nn.PoissonNLLLoss(log_input=False, full=True, reduction="none"),
                                   lambda: [torch.rand(3, 4) * 3 + 0.1, torch.poisson(torch.rand(3, 4) * 4) + 1], "xt"),
}


def line(case, key, t):
    shape = "[" + ",".join(str(s) for s in t.shape) + "]"
    return f"{case}.{key} {shape} " + " ".join(repr(v) for v in t.detach().flatten().tolist())


def main():
    lines = [f"# written by make_reference.py with torch {torch.__version__}"]
    for seed, (case, (op, make, grads)) in enumerate(CASES.items()):
        torch.manual_seed(2000 + seed)
        if isinstance(op, nn.PReLU):
            with torch.no_grad():
                op.weight.copy_(torch.rand(op.weight.shape))
            lines.append(line(case, "weight", op.weight))
        inputs = make()
        keys = "xtv"[:len(inputs)]
        for key, t in zip(keys, inputs):
            if key in grads:
                t.requires_grad_()
        out = op(*inputs)
        w = torch.randn(out.shape)
        (out * w).sum().backward()
        for key, t in zip(keys, inputs):
            lines.append(line(case, key, t))
        lines.append(line(case, "w", w))
        lines.append(line(case, "out", out))
        for key, t in zip(keys, inputs):
            if key in grads:
                lines.append(line(case, "d" + key, t.grad))
        if isinstance(op, nn.PReLU):
            lines.append(line(case, "grad.weight", op.weight.grad))
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference.txt")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {len(lines)} lines to {path}")


if __name__ == "__main__":
    main()
