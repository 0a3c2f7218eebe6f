#!/usr/bin/python3
"""PyTorch's side of scripts/speed/Conv1dStep.java (run with OPENBLAS_NUM_THREADS=1): the same 1-d CNN's training step
and inference on [64, 16, 128], thread CPU time at one thread (else wall time), the median of 9 rounds of 10 steps
after 30, and the lowest. Threads: argument 1 (default 1)."""
import sys, time, torch
import torch.nn as nn
threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
torch.set_num_threads(threads); torch.manual_seed(0)
clock = time.thread_time if threads == 1 else time.perf_counter
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
def report(name, f):
    for _ in range(30): f()
    rounds = []
    for _ in range(9):
        t = clock()
        for _ in range(10): f()
        rounds.append((clock() - t) / 10 * 1e3)
    rounds.sort()
    print("%-12s median %7.3f  lowest %7.3f ms" % (name, rounds[len(rounds) // 2], rounds[0]))
report("train step", step)
net.eval()
report("inference", infer)
