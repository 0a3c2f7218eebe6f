#!/usr/bin/python3
"""PyTorch's side of scripts/speed/ConvNeXtStep.java (run with OPENBLAS_NUM_THREADS=1): ConvNeXt's block (depthwise 7x7,
permute, LayerNorm(dim, eps 1e-6), Linear 4x, GELU, Linear, permute back, + input; no layer scale or drop path), its
training step (the input's gradient too, as for a block inside a network) and no-grad inference on [16, 64, 16, 16] and [16, 128, 8, 8], then the block's ops alone; thread CPU time
at one thread (else wall time), the median of 9 rounds of 10 steps after 30, and the lowest. Threads: argument 1
(default 1)."""
import sys, torch
from peer_timing import report
import torch.nn as nn
import torch.nn.functional as F
threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
torch.set_num_threads(threads); torch.manual_seed(0)


class Block(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * dim, dim)

    def forward(self, x):
        h = self.dwconv(x).permute(0, 2, 3, 1)
        h = self.pwconv2(self.act(self.pwconv1(self.norm(h))))
        return x + h.permute(0, 3, 1, 2)


for shape in [(16, 64, 16, 16), (16, 128, 8, 8)]:
    block = Block(shape[1])
    opt = torch.optim.SGD(block.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(*shape, requires_grad=True); g = torch.randn(*shape)  # a block inside a net: dx too
    name = "block %dx%d" % (shape[1], shape[2])
    block.train()
    def step():
        opt.zero_grad(); x.grad = None; (block(x) * g).mean().backward(); opt.step()
    report(name + " train", step, threads)
    block.eval()
    def infer():
        with torch.no_grad(): block(x)
    report(name + " infer", infer, threads)
x = torch.randn(16, 64, 16, 16, requires_grad=True); w = torch.randn(64, 1, 7, 7, requires_grad=True)
b = torch.randn(64, requires_grad=True)
def dw_fwd():
    with torch.no_grad(): F.conv2d(x, w, b, 1, 3, 1, 64)
def dw_both():
    x.grad = None; w.grad = None; b.grad = None; F.conv2d(x, w, b, 1, 3, 1, 64).sum().backward()
report("dw7x7 fwd", dw_fwd, threads)
report("dw7x7 f+b", dw_both, threads)
rows = torch.randn(16, 16, 16, 64, requires_grad=True); lw = torch.randn(64, requires_grad=True)
lb = torch.randn(64, requires_grad=True); lg = torch.randn(16, 16, 16, 64)
def ln_fwd():
    with torch.no_grad(): F.layer_norm(rows, (64,), lw, lb, 1e-6)
def ln_both():
    rows.grad = None; lw.grad = None; lb.grad = None; (F.layer_norm(rows, (64,), lw, lb, 1e-6) * lg).sum().backward()
report("layernorm fwd", ln_fwd, threads)
report("layernorm f+b", ln_both, threads)
up = torch.randn(16, 16, 16, 256, requires_grad=True); ug = torch.randn(16, 16, 16, 256)
def gelu_fwd():
    with torch.no_grad(): F.gelu(up)
def gelu_both():
    up.grad = None; (F.gelu(up) * ug).sum().backward()
report("gelu fwd", gelu_fwd, threads)
report("gelu f+b", gelu_both, threads)
