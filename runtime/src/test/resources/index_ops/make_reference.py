#!/usr/bin/python3
"""Writes reference.txt: PyTorch 1.13's values and gradients for IndexOpsTest and PiecewiseOpsTest.

Run with Debian's torch (1.13) from this directory: OPENBLAS_NUM_THREADS=1 /usr/bin/python3 make_reference.py

Each case draws its inputs with torch.randn from its own seed (times a scale, plus a shift), applies
the op, and back-propagates sum(out * w) for a random w of the output's shape. Lines are
``<case>.<x|t|w|out|dx|dt|idx> [shape] values...``, float32 values printed with repr; the Java tests
read the inputs from here, run Kiln's op and compare what it gives with the rest.
"""
import os

import torch
import torch.nn.functional as F

# name: (op, input shapes, scale, shift); the op takes the inputs and returns the output (or values, indices)
CASES = {
    "pad_last": (lambda x: F.pad(x, [1, 2]), [(2, 3, 4)], 1, 0),
    "pad_two_dims_crop": (lambda x: F.pad(x, [1, 0, -1, 2], value=1.5), [(2, 3, 4)], 1, 0),
    "pad_three_dims": (lambda x: F.pad(x, [0, -2, 1, 1, 2, 0], value=-0.5), [(2, 3, 4)], 1, 0),
    "pad_crop_to_empty": (lambda x: F.pad(x, [-2, -2]), [(3, 4)], 1, 0),
    "flip_first_last": (lambda x: x.flip(0, 2), [(2, 3, 4)], 1, 0),
    "flip_negative": (lambda x: x.flip(-1), [(3, 5)], 1, 0),
    "repeat_new_dim": (lambda x: x.repeat(2, 1, 2), [(2, 3)], 1, 0),
    "repeat_vector": (lambda x: x.repeat(2, 3), [(3,)], 1, 0),
    "repeat_zero": (lambda x: x.repeat(1, 0), [(2, 3)], 1, 0),
    "cumsum_middle": (lambda x: x.cumsum(1), [(3, 4, 5)], 1, 0),
    "cumsum_last": (lambda x: x.cumsum(-1), [(3, 4, 5)], 1, 0),
    "cumsum_long": (lambda x: x.cumsum(0), [(300,)], 1, 0.5),
    "logsumexp_middle": (lambda x: x.logsumexp(1), [(3, 4, 5)], 10, 0),
    "logsumexp_large_keepdim": (lambda x: x.logsumexp(-1, keepdim=True), [(3, 4)], 40, 60),
    "norm_2": (lambda x: x.norm(2, 1), [(3, 4)], 1, 0),
    "norm_1": (lambda x: x.norm(1, 0), [(3, 4)], 1, 0),
    "norm_3_keepdim": (lambda x: x.norm(3, -1, keepdim=True), [(2, 3, 4)], 1, 0),
    "sort_ascending": (lambda x: x.sort(1), [(4, 6)], 1, 0),
    "sort_descending_dim0": (lambda x: x.sort(0, descending=True), [(5, 3)], 1, 0),
    "normalize": (lambda x: F.normalize(x), [(4, 5)], 1, 0),
    "normalize_p1_dim0": (lambda x: F.normalize(x, 1.0, 0, 1e-3), [(3, 4, 2)], 1, 0),
    "normalize_tiny_eps": (lambda x: F.normalize(x, 2.0, -1, 0.5), [(4, 3)], 0.2, 0),
    "cosine_similarity": (lambda x, t: F.cosine_similarity(x, t), [(4, 5), (4, 5)], 1, 0),
    "cosine_similarity_broadcast": (lambda x, t: F.cosine_similarity(x, t, -1), [(2, 3, 4), (3, 4)], 1, 0),
    "cosine_similarity_tiny_norms": (lambda x, t: F.cosine_similarity(x, t, 0, 1e-2), [(3, 4), (3, 4)], 3e-3, 0),
    "softplus": (lambda x: F.softplus(x), [(4, 5)], 3, 0),
    "softplus_beta_threshold": (lambda x: F.softplus(x, beta=2, threshold=3), [(4, 5)], 3, 0),
    "elu": (lambda x: F.elu(x), [(4, 5)], 2, 0),
    "elu_alpha": (lambda x: F.elu(x, alpha=0.3), [(4, 5)], 2, 0),
    "hardtanh": (lambda x: F.hardtanh(x), [(4, 5)], 2, 0),
    "hardtanh_bounds": (lambda x: F.hardtanh(x, -0.5, 2.0), [(4, 5)], 2, 0),
    "smooth_l1_none": (lambda x, t: F.smooth_l1_loss(x, t, reduction="none"), [(4, 5), (4, 5)], 1.5, 0),
    "smooth_l1_mean_beta": (lambda x, t: F.smooth_l1_loss(x, t, beta=0.5), [(4, 5), (4, 5)], 1.5, 0),
    "smooth_l1_sum_beta0": (lambda x, t: F.smooth_l1_loss(x, t, reduction="sum", beta=0.0), [(4, 5), (4, 5)], 1.5, 0),
    "huber_none": (lambda x, t: F.huber_loss(x, t, reduction="none"), [(4, 5), (4, 5)], 1.5, 0),
    "huber_mean_delta": (lambda x, t: F.huber_loss(x, t, delta=0.3), [(4, 5), (4, 5)], 1.5, 0),
    "huber_sum_delta": (lambda x, t: F.huber_loss(x, t, reduction="sum", delta=2.5), [(4, 5), (4, 5)], 1.5, 0),
}


def line(case, key, t):
    shape = "[" + ",".join(str(s) for s in t.shape) + "]"
    return f"{case}.{key} {shape} " + " ".join(repr(v) for v in t.detach().flatten().tolist())


def main():
    lines = [f"# written by make_reference.py with torch {torch.__version__}"]
    for seed, (case, (op, shapes, scale, shift)) in enumerate(CASES.items()):
        torch.manual_seed(1000 + seed)
        inputs = [(torch.randn(s) * scale + shift).requires_grad_() for s in shapes]
        result = op(*inputs)
        out, idx = (result.values, result.indices) if isinstance(result, tuple) else (result, None)
        w = torch.randn(out.shape)
        (out * w).sum().backward()
        for key, t in zip(("x", "t"), inputs):
            lines.append(line(case, key, t))
        lines.append(line(case, "w", w))
        lines.append(line(case, "out", out))
        if idx is not None:
            lines.append(line(case, "idx", idx.float()))
        for key, t in zip(("dx", "dt"), inputs):
            lines.append(line(case, key, t.grad if t.grad is not None else torch.zeros(t.shape)))
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference.txt")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {len(lines)} lines to {path}")


if __name__ == "__main__":
    main()
