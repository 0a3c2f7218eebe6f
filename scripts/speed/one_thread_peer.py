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
if only:  # the twentieth session's attention ops, the samples' FashionTransformer's at batch 64, asked for by name
    S, D, HEADS, DH = 28, 64, 4, 16
    ax, axg = torch.randn(64, S, D), torch.randn(64, S, D, requires_grad=True)
    up, upg = torch.randn(64, S, 2 * D), torch.randn(64, S, 2 * D, requires_grad=True)
    q, k = torch.randn(64, HEADS, S, DH), torch.randn(64, HEADS, S, DH)
    qg, kg = torch.randn(64, HEADS, S, DH, requires_grad=True), torch.randn(64, HEADS, S, DH, requires_grad=True)
    att, attg = torch.randn(64, HEADS, S, S), torch.randn(64, HEADS, S, S, requires_grad=True)
    lw, lb = torch.ones(D, requires_grad=True), torch.zeros(D, requires_grad=True)
    cases.update({
        "attention heads split forward": no_grad(lambda: ax.view(-1, S, HEADS, DH).transpose(1, 2).contiguous()),
        "attention heads split training": train(lambda: axg.view(-1, S, HEADS, DH).transpose(1, 2), axg),
        "attention heads join forward": no_grad(lambda: q.transpose(1, 2).reshape(-1, S, D)),
        "attention heads join training": train(lambda: qg.transpose(1, 2).reshape(-1, S, D), qg),
        "attention scores forward": no_grad(lambda: q @ k.transpose(-2, -1) / 4.0),
        "attention scores training": train(lambda: qg @ kg.transpose(-2, -1) / 4.0, qg, kg),
        "attention att @ v forward": no_grad(lambda: att @ q),
        "attention att @ v training": train(lambda: attg @ qg, attg, qg),
        "attention softmax forward": no_grad(lambda: att.softmax(-1)),
        "attention softmax training": train(lambda: attg.softmax(-1), attg),
        "attention layer norm forward": no_grad(lambda: F.layer_norm(ax, (D,), lw, lb, 1e-5)),
        "attention layer norm training": train(lambda: F.layer_norm(axg, (D,), lw, lb, 1e-5), axg, lw, lb),
        "attention gelu forward": no_grad(lambda: F.gelu(up)),
        "attention gelu training": train(lambda: F.gelu(upg), upg),
        "attention residual add forward": no_grad(lambda: ax + ax),
        "attention residual add training": train(lambda: axg + axg, axg),
    })
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


def median_ms(fn, warm):
    for _ in range(warm):
        fn()
    ms = []
    for _ in range(30):
        t = time.thread_time()
        fn()
        ms.append((time.thread_time() - t) * 1e3)
    ms.sort()
    return ms[len(ms) // 2]


def sgd_step(net, xs, ys):
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    crit = torch.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        crit(net(xs), ys).backward()
        opt.step()
    return step


if "resnet train step".startswith(only):
    net = ResNet()
    net.train()
    print("%-30s %8.3f ms" % ("resnet train step", median_ms(sgd_step(net, torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))), 20)))
# the twentieth session's transformer and LSTM (samples/peer's twins of the bench's models), asked for by name
if only and ("transformer train step".startswith(only) or "transformer infer".startswith(only)):
    from pytorch_transformer_peer import FashionTransformer  # noqa: E402
    torch.manual_seed(0)
    net = FashionTransformer()
    xs = torch.randn(64, 1, 28, 28)
    if "transformer train step".startswith(only):
        print("%-30s %8.3f ms" % ("transformer train step", median_ms(sgd_step(net, xs, torch.randint(0, 10, (64,))), 40)))
    if "transformer infer".startswith(only):
        net.eval()
        print("%-30s %8.3f ms" % ("transformer infer", median_ms(no_grad(lambda: net(xs)), 40)))
if only and "lstm infer".startswith(only):
    from pytorch_lstm_peer import SequenceClassifier  # noqa: E402
    net = SequenceClassifier()
    net.eval()
    xl = torch.randn(32, 50, 64)
    print("%-30s %8.3f ms" % ("lstm infer", median_ms(no_grad(lambda: net(xl)), 40)))
# the twentieth session's eager convolutional rows: inference, and the seeds' CNN (../shared/peers/pytorch_peer.py) when named
def inference(net):
    net.eval()
    xs = torch.randn(64, 1, 28, 28)
    return no_grad(lambda: net(xs))


if "resnet inference".startswith(only):
    print("%-30s %8.3f ms" % ("resnet inference", median_ms(inference(ResNet()), 20)))
if only and ("cnn train step".startswith(only) or "cnn inference".startswith(only)):
    from pytorch_peer import Cnn  # noqa: E402
    if "cnn train step".startswith(only):
        print("%-30s %8.3f ms" % ("cnn train step", median_ms(sgd_step(Cnn().train(), torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))), 20)))
    if "cnn inference".startswith(only):
        print("%-30s %8.3f ms" % ("cnn inference", median_ms(inference(Cnn()), 20)))
