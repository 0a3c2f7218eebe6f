#!/usr/bin/python3
"""PyTorch's side of scripts/speed/Conv1dStep.java (run with OPENBLAS_NUM_THREADS=1): the same 1-d CNN's training step
and inference on [64, 16, 128], thread CPU time at one thread (else wall time), the median of 9 rounds of 10 steps
after 30, and the lowest. Threads: argument 1 (default 1)."""
import sys, torch
from peer_timing import report
import torch.nn as nn
threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
torch.set_num_threads(threads); torch.manual_seed(0)
net = nn.Sequential(nn.Conv1d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2),
                    nn.Conv1d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool1d(2),
                    nn.Conv1d(64, 64, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(64, 10))
opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
x = torch.randn(64, 16, 128); y = torch.arange(64) % 10
crit = nn.CrossEntropyLoss()
def step():
    opt.zero_grad(); crit(net(x), y).backward(); opt.step()
def infer():
    with torch.no_grad(): net(x)
report("train step", step, threads)
net.eval()
report("inference", infer, threads)
