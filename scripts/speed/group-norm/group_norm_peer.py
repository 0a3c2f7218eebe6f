#!/usr/bin/python3
"""PyTorch's side of GroupNormStep.java: nn.GroupNorm(32, 64) over [32, 64, 32, 32], a forward under no_grad and a
training step (forward, backward of a fixed output gradient into input, weight and bias), one thread
(torch.set_num_threads(1); run with OPENBLAS_NUM_THREADS=1), time.thread_time, the median of 30 after 20."""
import time

import torch

torch.set_num_threads(1)
torch.manual_seed(0)
x = torch.randn(32, 64, 32, 32)
g = torch.randn(32, 64, 32, 32)
gn = torch.nn.GroupNorm(32, 64)
xg = x.clone().requires_grad_(True)


def median(name, f):
    for _ in range(20):
        f()
    ms = []
    for _ in range(30):
        t0 = time.thread_time()
        f()
        ms.append((time.thread_time() - t0) * 1e3)
    ms.sort()
    print(f"{name:34s} {ms[len(ms) // 2]:8.3f} ms (min {ms[0]:.3f})")


def forward():
    with torch.no_grad():
        gn(x)


def training():
    xg.grad = None
    gn.weight.grad = None
    gn.bias.grad = None
    gn(xg).backward(g)


median("group_norm forward pytorch", forward)
median("group_norm training pytorch", training)
