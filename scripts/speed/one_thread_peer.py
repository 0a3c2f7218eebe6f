#!/usr/bin/python3
"""PyTorch's side of scripts/speed/OneThread.java: the same cases under the same names, one thread
(torch.set_num_threads(1); run with OPENBLAS_NUM_THREADS=1), timed by time.thread_time: layers the lowest
of 5 rounds of 20 calls after 40, the ResNet step (samples/peer/kiln_resnet.py) the median of 30 after 20, as
its inference and the CNN's step and inference (the seeds' CNN of ../shared/peers/pytorch_peer.py)."""
import os, sys, time
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "samples", "peer"))
from kiln_resnet import ResNet  # noqa: E402

torch.set_num_threads(1)
torch.manual_seed(0)
only = sys.argv[1] if len(sys.argv) > 1 else ""
x = torch.randn(64, 32, 28, 28)
xg = torch.randn(64, 32, 28, 28, requires_grad=True)
c = torch.randn(64, 32, 14, 14)
w = torch.randn(32, 32, 3, 3)
cg = torch.randn(64, 32, 14, 14, requires_grad=True)
wg = torch.randn(32, 32, 3, 3, requires_grad=True)


def no_grad(f):
    def run():
        with torch.no_grad():
            f()
    return run


def train(f, *inputs):
    def run():
        for t in inputs:
            t.grad = None
        f().sum().backward()
    return run


cases = {
    "var (0, 2, 3) forward": no_grad(lambda: x.var(dim=(0, 2, 3), unbiased=False)),
    "var (0, 2, 3) training": train(lambda: xg.var(dim=(0, 2, 3), unbiased=False), xg),
    "var 1 forward": no_grad(lambda: x.var(1)),
    "mean (1, 3) forward": no_grad(lambda: x.mean(dim=(1, 3))),
    "mean (1, 3) training": train(lambda: xg.mean(dim=(1, 3)), xg),
    "conv2d 32->32 14x14 forward": no_grad(lambda: F.conv2d(c, w, None, 1, 1)),
    "conv2d 32->32 14x14 training": train(lambda: F.conv2d(cg, wg, None, 1, 1), cg, wg),
}
for name, f in cases.items():
    if not name.startswith(only):
        continue
    for _ in range(40):
        f()
    best = float("inf")
    for _ in range(5):
        t = time.thread_time()
        for _ in range(20):
            f()
        best = min(best, (time.thread_time() - t) / 20 * 1e3)
    print("%-30s %8.3f ms" % (name, best))

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "peers"))


def median(name, f):
    for _ in range(20):
        f()
    ms = []
    for _ in range(30):
        t = time.thread_time()
        f()
        ms.append((time.thread_time() - t) * 1e3)
    ms.sort()
    print("%-30s %8.3f ms" % (name, ms[len(ms) // 2]))


def train_step(net):
    net.train()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    crit = torch.nn.CrossEntropyLoss()
    xs = torch.randn(64, 1, 28, 28)
    ys = torch.randint(0, 10, (64,))

    def step():
        opt.zero_grad()
        crit(net(xs), ys).backward()
        opt.step()
    return step


def inference(net):
    net.eval()
    xs = torch.randn(64, 1, 28, 28)
    return no_grad(lambda: net(xs))


if "resnet train step".startswith(only):
    median("resnet train step", train_step(ResNet()))
# the twentieth session's rows: inference, and the seeds' CNN (../shared/peers/pytorch_peer.py) when named
if "resnet inference".startswith(only):
    median("resnet inference", inference(ResNet()))
if only and ("cnn train step".startswith(only) or "cnn inference".startswith(only)):
    from pytorch_peer import Cnn  # noqa: E402
    if "cnn train step".startswith(only):
        median("cnn train step", train_step(Cnn()))
    if "cnn inference".startswith(only):
        median("cnn inference", inference(Cnn()))
