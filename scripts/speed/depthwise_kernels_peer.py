#!/usr/bin/python3
"""PyTorch's side of scripts/speed/DepthwiseKernels.java (run with OPENBLAS_NUM_THREADS=1): the depthwise convolution's
forward, input gradient alone and weight and bias gradients alone (aten's convolution_backward with one output mask),
fresh outputs, one thread, thread CPU time, the median of 9 rounds of 10 calls after 30, and the lowest."""
import torch
from peer_timing import report
torch.set_num_threads(1)
# a plain convolution first: depthwise ones ran 4x slower before any (oneDNN's set-up), 3x3 over [16, 64, 32, 32] 4 ms
torch.nn.functional.conv2d(torch.randn(16, 32, 32, 32), torch.randn(64, 32, 1, 1))
for (n, c, h, w, k) in [(16, 128, 8, 8, 7), (16, 32, 32, 32, 7), (16, 64, 16, 16, 7), (16, 64, 32, 32, 3), (16, 64, 16, 16, 5)]:
    x = torch.randn(n, c, h, w); wt = torch.randn(c, 1, k, k); b = torch.randn(c); g = torch.randn(n, c, h, w)
    tag = "%dx%d [%d,%d,%d,%d]" % (k, k, n, c, h, w)
    def fwd():
        torch.conv2d(x, wt, b, 1, k // 2, 1, c)
    def grad(mask):
        return lambda: torch.ops.aten.convolution_backward(g, x, wt, [c], [1, 1], [k // 2, k // 2], [1, 1], False, [0, 0], c, mask)
    report(tag + " fwd", fwd, 1)
    report(tag + " dx", grad([True, False, False]), 1)
    report(tag + " dw+db", grad([False, True, True]), 1)
