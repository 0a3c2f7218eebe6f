#!/usr/bin/python3
"""PyTorch's side of scripts/speed/TransformerOps.java: the same cases under the same names, one thread
(torch.set_num_threads(1); run with OPENBLAS_NUM_THREADS=1), timed by time.thread_time: ops the lowest of 5 rounds
of 20 calls after 40, steps (the transformer peer's model, the LSTM peer's) the median of 30 after 40."""
import math, os, sys, time
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "samples", "peer"))
from pytorch_transformer_peer import FashionTransformer  # noqa: E402
from pytorch_lstm_peer import SequenceClassifier  # noqa: E402

torch.set_num_threads(1)
torch.manual_seed(0)
only = sys.argv[1] if len(sys.argv) > 1 else ""
n, s, d, heads, dh = 64, 28, 64, 4, 16
x = torch.randn(n, s, d)
xg = torch.randn(n, s, d, requires_grad=True)
up = torch.randn(n, s, 2 * d)
upg = torch.randn(n, s, 2 * d, requires_grad=True)
q, k = torch.randn(n, heads, s, dh), torch.randn(n, heads, s, dh)
qg, kg = torch.randn(n, heads, s, dh, requires_grad=True), torch.randn(n, heads, s, dh, requires_grad=True)
att = torch.randn(n, heads, s, s)
attg = torch.randn(n, heads, s, s, requires_grad=True)
w, b = torch.ones(d, requires_grad=True), torch.zeros(d, requires_grad=True)


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
    "heads split forward": no_grad(lambda: x.view(-1, s, heads, dh).transpose(1, 2).contiguous()),
    "heads split training": train(lambda: xg.view(-1, s, heads, dh).transpose(1, 2), xg),
    "heads join forward": no_grad(lambda: q.transpose(1, 2).reshape(-1, s, d)),
    "heads join training": train(lambda: qg.transpose(1, 2).reshape(-1, s, d), qg),
    "scores forward": no_grad(lambda: q @ k.transpose(-2, -1) / math.sqrt(dh)),
    "scores training": train(lambda: qg @ kg.transpose(-2, -1) / math.sqrt(dh), qg, kg),
    "att @ v forward": no_grad(lambda: att @ q),
    "att @ v training": train(lambda: attg @ qg, attg, qg),
    "softmax forward": no_grad(lambda: att.softmax(-1)),
    "softmax training": train(lambda: attg.softmax(-1), attg),
    "layer norm forward": no_grad(lambda: F.layer_norm(x, (d,), w, b, 1e-5)),
    "layer norm training": train(lambda: F.layer_norm(xg, (d,), w, b, 1e-5), xg, w, b),
    "gelu forward": no_grad(lambda: F.gelu(up)),
    "gelu training": train(lambda: F.gelu(upg), upg),
    "residual add forward": no_grad(lambda: x + x),
    "residual add training": train(lambda: xg + xg, xg),
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


def median(step):
    for _ in range(40):
        step()
    ms = []
    for _ in range(30):
        t = time.thread_time()
        step()
        ms.append((time.thread_time() - t) * 1e3)
    ms.sort()
    return ms[len(ms) // 2]


if "step".startswith(only) or only.startswith("step"):
    torch.manual_seed(0)
    net = FashionTransformer()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    xs, ys = torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))

    def step():
        opt.zero_grad()
        F.cross_entropy(net(xs), ys).backward()
        opt.step()
    print("%-30s %8.3f ms" % ("step transformer train", median(step)))
    net.eval()
    print("%-30s %8.3f ms" % ("step transformer infer", median(no_grad(lambda: net(xs)))))
    lstm = SequenceClassifier()
    lstm.eval()
    xl = torch.randn(32, 50, 64)
    print("%-30s %8.3f ms" % ("step lstm infer", median(no_grad(lambda: lstm(xl)))))
