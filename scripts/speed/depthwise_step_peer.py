#!/usr/bin/python3
"""PyTorch's side of scripts/speed/DepthwiseStep.java (run with OPENBLAS_NUM_THREADS=1): the same MobileNet-style net's
training step and inference on [16, 32, 32, 32], then the depthwise 3x3 layer alone, thread CPU time at one thread (else
wall time), the median of 9 rounds of 10 steps after 30, and the lowest. Threads: argument 1 (default 1)."""
import sys, torch
from peer_timing import report
import torch.nn as nn
import torch.nn.functional as F
threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
torch.set_num_threads(threads); torch.manual_seed(0)
net = nn.Sequential(
    nn.Conv2d(32, 32, 3, padding=1, groups=32, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
    nn.Conv2d(32, 64, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
    nn.Conv2d(64, 64, 3, stride=2, padding=1, groups=64, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
    nn.Conv2d(64, 128, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(),
    nn.Conv2d(128, 128, 7, padding=3, groups=128), nn.ReLU(),
    nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, 10))
opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
x = torch.randn(16, 32, 32, 32); y = torch.arange(16) % 10
crit = nn.CrossEntropyLoss()
def step():
    opt.zero_grad(); crit(net(x), y).backward(); opt.step()
def infer():
    with torch.no_grad(): net(x)
xs = torch.randn(16, 64, 32, 32, requires_grad=True); w = torch.randn(64, 1, 3, 3, requires_grad=True)
def dw_fwd():
    with torch.no_grad(): F.conv2d(xs, w, None, 1, 1, 1, 64)
def dw_both():
    xs.grad = None; w.grad = None; F.conv2d(xs, w, None, 1, 1, 1, 64).sum().backward()
report("train step", step, threads)
net.eval()
report("inference", infer, threads)
report("dw3x3 fwd", dw_fwd, threads)
report("dw3x3 f+b", dw_both, threads)
x1 = torch.randn(16, 32, 32, 32, requires_grad=True); w1 = torch.randn(64, 32, 1, 1, requires_grad=True)
x2 = torch.randn(16, 64, 16, 16, requires_grad=True); w2 = torch.randn(128, 64, 1, 1, requires_grad=True)
w7 = torch.randn(128, 1, 7, 7); x7 = torch.randn(16, 128, 8, 8)
def fwd(x, w, stride, pad, groups):
    def run():
        with torch.no_grad(): F.conv2d(x, w, None, stride, pad, 1, groups)
    return run
def both(x, w):
    def run():
        x.grad = None; w.grad = None; F.conv2d(x, w).sum().backward()
    return run
report("pw 32-64 fwd", fwd(x1, w1, 1, 0, 1), threads)
report("pw 32-64 f+b", both(x1, w1), threads)
report("pw 64-128 fwd", fwd(x2, w2, 1, 0, 1), threads)
report("pw 64-128 f+b", both(x2, w2), threads)
report("dw3x3 s2 fwd", fwd(xs, w, 2, 1, 64), threads)
report("dw7x7 fwd", fwd(x7, w7, 1, 3, 128), threads)
# twenty-third session (dwspeed): more stride-1 depthwise shapes, the eval batch norm + ReLU alone, 1x1 stride 2
x5 = torch.randn(16, 64, 16, 16, requires_grad=True); w5 = torch.randn(64, 1, 5, 5, requires_grad=True)
x7b = torch.randn(16, 32, 32, 32); w7b = torch.randn(32, 1, 7, 7)
report("dw5x5 fwd", fwd(x5, w5, 1, 2, 64), threads)
def dw5_both():
    x5.grad = None; w5.grad = None; F.conv2d(x5, w5, None, 1, 2, 1, 64).sum().backward()
report("dw5x5 f+b", dw5_both, threads)
report("dw7x7 32x32", fwd(x7b, w7b, 1, 3, 32), threads)
bn = nn.BatchNorm2d(64).eval()
with torch.no_grad(): conv = F.conv2d(xs, w, None, 1, 1, 1, 64)
def bn_relu():
    with torch.no_grad(): F.relu(bn(conv)).numpy().copy()
report("bn+relu eval", bn_relu, threads)
x3 = torch.randn(16, 64, 32, 32, requires_grad=True); w3 = torch.randn(128, 64, 1, 1, requires_grad=True)
report("1x1 s2 fwd", fwd(x3, w3, 2, 0, 1), threads)
def s2_both():
    x3.grad = None; w3.grad = None; F.conv2d(x3, w3, None, 2).sum().backward()
report("1x1 s2 f+b", s2_both, threads)
