#!/usr/bin/env python3
"""PyTorch's functional layers one at a time, the peer of `kiln-samples bench --model layers`: the
same cases under the same names as samples/src/main/java/dev/kiln/samples/LayerBench.java (the
seed CNN's convolutions, batch norm, ReLU, pooling and first Linear, the CIFAR-10 net's 5x5
convolution, the smooth activations, and GELU and layer norm over [batch, 128, 256]), each timed as a forward under no_grad and as a training pass (forward, then
sum().backward() into input, weight and bias, the gradients dropped before the next pass).
  pytorch_layer_peer.py --batch 64 --steps 200 --device cpu --threads 2
  pytorch_layer_peer.py --batch 64 --steps 200 --device cuda      (FP32, TF32 off, synchronised)
  pytorch_layer_peer.py ... --only gelu,layer_norm                 (the cases whose names start so)
Prints 'peer pytorch VERSION ...', then one line per case: 'layer NAME | fwd_ms X train_ms Y'.
"""
import argparse, statistics, time
import torch
import torch.nn.functional as F


def cases(n):
    return [
        ("conv2d 1->32 3x3 pad 1", [(n, 1, 28, 28), (32, 1, 3, 3), (32,)], lambda x, w, b: F.conv2d(x, w, b, 1, 1)),
        ("conv2d 32->64 3x3 pad 1", [(n, 32, 14, 14), (64, 32, 3, 3), (64,)], lambda x, w, b: F.conv2d(x, w, b, 1, 1)),
        ("conv2d 64->128 3x3 pad 1", [(n, 64, 7, 7), (128, 64, 3, 3), (128,)], lambda x, w, b: F.conv2d(x, w, b, 1, 1)),
        ("conv2d 64->64 3x3 pad 1", [(n, 64, 16, 16), (64, 64, 3, 3), (64,)], lambda x, w, b: F.conv2d(x, w, b, 1, 1)),
        ("conv2d 3->32 5x5 pad 2", [(n, 3, 32, 32), (32, 3, 5, 5), (32,)], lambda x, w, b: F.conv2d(x, w, b, 1, 2)),
        ("batch_norm 2d, training", [(n, 32, 28, 28), (32,), (32,)],
         lambda x, w, b: F.batch_norm(x, None, None, w, b, True, 0.1, 1e-5)),
        ("relu", [(n, 32, 28, 28)], lambda x: F.relu(x)),
        ("max_pool2d 2", [(n, 32, 28, 28)], lambda x: F.max_pool2d(x, 2)),
        ("linear 1152->512", [(n, 1152), (512, 1152), (512,)], lambda x, w, b: F.linear(x, w, b)),
        ("sigmoid", [(n, 32, 28, 28)], lambda x: torch.sigmoid(x)),
        ("tanh", [(n, 32, 28, 28)], lambda x: torch.tanh(x)),
        ("silu", [(n, 32, 28, 28)], lambda x: F.silu(x)),
        ("gelu", [(n, 128, 256)], lambda x: F.gelu(x)),
        ("layer_norm 256", [(n, 128, 256), (256,), (256,)], lambda x, w, b: F.layer_norm(x, (256,), w, b, 1e-5)),
        ("softmax(-1), attention scores", [(n, 4, 64, 64)], lambda x: torch.softmax(x, -1)),
        ("mean (2, 3), global average pool", [(n, 256, 14, 14)], lambda x: x.mean(dim=(2, 3))),
        ("mean 3 then 2, global average pool", [(n, 256, 14, 14)], lambda x: x.mean(3).mean(2)),
        ("sum (0, 2, 3), per channel", [(n, 32, 28, 28)], lambda x: x.sum(dim=(0, 2, 3))),
        ("var (0, 2, 3), per channel", [(n, 32, 28, 28)], lambda x: x.var(dim=(0, 2, 3), unbiased=False)),
        ("mean (1, 3), two runs", [(n, 32, 28, 28)], lambda x: x.mean(dim=(1, 3))),
        ("logsumexp(-1), 50k classes", [(4, 50000)], lambda x: torch.logsumexp(x, -1)),
        ("norm 2 (-1), long rows", [(4, 50000)], lambda x: torch.linalg.vector_norm(x, 2, -1)),
        ("cumsum(-1), long rows", [(4, 50000)], lambda x: torch.cumsum(x, -1)),
        ("max(-1), 50k classes", [(4, 50000)], lambda x: x.max(-1).values),
        ("logsumexp(-1), short rows", [(n, 128, 100)], lambda x: torch.logsumexp(x, -1)),
        ("sort(-1), 1000 values", [(n, 1000)], lambda x: torch.sort(x, dim=-1, stable=True).values),
        ("sort(-1), 50k values", [(4, 50000)], lambda x: torch.sort(x, dim=-1, stable=True).values),
        ("topk(5, -1), 50k classes", [(4, 50000)], lambda x: x.topk(5, -1).values),
        ("sum(-1), long rows", [(4, 50000)], lambda x: x.sum(-1)),
        ("sum(0), long columns", [(50000, 32)], lambda x: x.sum(0)),
        ("var(-1), long rows", [(4, 50000)], lambda x: x.var(-1, unbiased=False)),
        ("cross_entropy, 50k classes", [(4, 50000)], lambda x: F.cross_entropy(x, labels_for(x))),
        ("cross_entropy, 1000 classes", [(n, 1000)], lambda x: F.cross_entropy(x, labels_for(x))),
        ("where, a row repeated", [(4096, 64), (64,)], lambda x, b: torch.where(x > 0, x, b)),
    ]


_labels = {}


def labels_for(x):
    """Row r's label 7919 r mod classes, made once a shape and device (LayerBench.labelsFor's)."""
    key = (tuple(x.shape), x.device)
    if key not in _labels:
        _labels[key] = torch.arange(x.shape[0], device=x.device) * 7919 % x.shape[1]
    return _labels[key]


def median_ms(fn, steps, sync):
    warm_until = time.perf_counter() + 1.0
    i = 0
    while i < 10 or time.perf_counter() < warm_until:
        fn()
        sync()
        i += 1
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--only", default="", help="comma-separated prefixes of case names (default: all)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    if a.device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        sync = torch.cuda.synchronize
    else:
        sync = lambda: None
    print(f"peer pytorch {torch.__version__} device {a.device} threads {torch.get_num_threads()}", flush=True)
    torch.manual_seed(0)
    only = [p for p in a.only.split(",") if p]
    for name, shapes, op in cases(a.batch):
        if only and not any(name.startswith(p) for p in only):
            continue
        inputs = [torch.randn(s, device=device) for s in shapes]
        with torch.no_grad():
            fwd = median_ms(lambda: op(*inputs), a.steps, sync)
        params = [t.clone().requires_grad_(True) for t in inputs]

        def train():
            for p in params:
                p.grad = None
            op(*params).sum().backward()

        print(f"layer {name} | fwd_ms {fwd:.4f} train_ms {median_ms(train, a.steps, sync):.4f}", flush=True)


if __name__ == "__main__":
    main()
