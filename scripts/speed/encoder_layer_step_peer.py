"""PyTorch's side of EncoderLayerStep.java: the same encoder-layer training step, inference and attention core on one thread,
thread CPU time (time.thread_time), the median of 100 after 50. Run with OPENBLAS_NUM_THREADS=1."""
import math
import time

import torch

torch.set_num_threads(1)
torch.manual_seed(0)


def median(step):
    t = []
    for i in range(150):
        t0 = time.thread_time()
        step()
        t.append(1000 * (time.thread_time() - t0))
    kept = sorted(t[50:])
    return f"{kept[50]:.2f} ms (quartiles {kept[25]:.2f}, {kept[75]:.2f})"


layer = torch.nn.TransformerEncoderLayer(128, 4, 256, 0.1, "relu", 1e-5, batch_first=True)
layer.train()
opt = torch.optim.SGD(layer.parameters(), lr=0.01)
x = torch.randn(64, 28, 128)
w = torch.randn(64, 28, 128)


def step():
    opt.zero_grad()
    (layer(x) * w).mean().backward()
    opt.step()


print("pytorch encoder layer train step:", median(step))
layer.eval()


def infer(module):
    with torch.no_grad():
        module(x)


print("pytorch encoder layer inference:", median(lambda: infer(layer)))
encoder = torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
encoder.eval()
print("pytorch 2-layer encoder inference:", median(lambda: infer(encoder)))
q, k, v = (torch.randn(64, 4, 28, 32, requires_grad=True) for _ in range(3))
g = torch.randn(64, 4, 28, 32)


def core():
    (torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(32), -1) @ v * g).sum().backward()


print("pytorch attention by hand forward+backward:", median(core))
