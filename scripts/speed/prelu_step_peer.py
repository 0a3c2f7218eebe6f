#!/usr/bin/python3
"""PyTorch's side of scripts/speed/PReluStep.java (run with OPENBLAS_NUM_THREADS=1): nn.PReLU(64) on [64, 64, 32, 32],
its no-grad forward, its forward and backward (the input's gradient and the slopes', from a fixed output gradient), and
the same inside a graph (`(prelu(x) * g).sum()`, so that the gradient reaching PReLU is autograd's own), and the
no-grad forward of nn.Sequential(PReLU(64), PReLU(64));
thread CPU time at one thread (else wall time), the median of 9 rounds of 10 steps after 30, and the lowest. Threads:
argument 1 (default 1)."""
import sys, torch
from peer_timing import report
import torch.nn as nn
threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
torch.set_num_threads(threads); torch.manual_seed(0)
act = nn.PReLU(64)
x = torch.randn(64, 64, 32, 32, requires_grad=True); g = torch.randn(64, 64, 32, 32)
def fwd():
    with torch.no_grad(): act(x)
two = nn.Sequential(nn.PReLU(64), nn.PReLU(64))
def seq():
    with torch.no_grad(): two(x)
def both():
    x.grad = None; act.weight.grad = None; act(x).backward(g)
report("prelu fwd", fwd, threads)
def graph():
    x.grad = None; act.weight.grad = None; (act(x) * g).sum().backward()
report("2 prelu seq fwd", seq, threads)
report("prelu f+b", both, threads)
report("prelu*g sum f+b", graph, threads)
