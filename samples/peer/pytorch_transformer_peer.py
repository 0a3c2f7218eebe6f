#!/usr/bin/env python3
"""PyTorch for the transformer rows of `kiln-samples bench --model transformer`: the samples' FashionTransformer
(FashionMNIST's 28 rows as tokens, Linear 28->64 plus a learned position table [1, 28, 64], one pre-norm block of 4-head self-attention and a GELU MLP of
width 128, a final LayerNorm, Linear 28*64->10), written as FashionTransformer.java writes it; cross-entropy, SGD
with momentum 0.9 (lr 0.01), random [B, 1, 28, 28] images. Prints one line with ms_median, as the shared peer does.
--model encoder is the samples' FashionEncoder: the same network with nn.TransformerEncoder(nn.TransformerEncoderLayer(64,
4, 128, 0.0, "gelu", batch_first=True, norm_first=True), 1, nn.LayerNorm(64)) in place of the hand-written block.
  pytorch_transformer_peer.py step --batch 64 --threads 2 --steps 50
  pytorch_transformer_peer.py infer --batch 64 --threads 2 --steps 50
  pytorch_transformer_peer.py step --batch 64 --device cuda            (FP32, TF32 off, synchronised)
"""
import argparse, math, statistics, time

import torch
import torch.nn.functional as F

TOKENS, D, HEADS = 28, 64, 4
DH = D // HEADS


class FashionTransformer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Linear(28, D)
        self.pos = torch.nn.Parameter(torch.zeros(1, TOKENS, D))
        torch.nn.init.normal_(self.pos, std=0.02)  # ViT's initialisation
        self.norm1 = torch.nn.LayerNorm(D)
        self.query = torch.nn.Linear(D, D)
        self.key = torch.nn.Linear(D, D, bias=False)
        self.value = torch.nn.Linear(D, D)
        self.proj = torch.nn.Linear(D, D)
        self.norm2 = torch.nn.LayerNorm(D)
        self.up = torch.nn.Linear(D, 2 * D)
        self.down = torch.nn.Linear(2 * D, D)
        self.norm = torch.nn.LayerNorm(D)
        self.head = torch.nn.Linear(TOKENS * D, 10)

    def forward(self, x):
        x = self.embed(x.view(-1, TOKENS, 28)) + self.pos
        h = self.norm1(x)
        q = self.query(h).view(-1, TOKENS, HEADS, DH).transpose(1, 2)
        k = self.key(h).view(-1, TOKENS, HEADS, DH).transpose(1, 2)
        v = self.value(h).view(-1, TOKENS, HEADS, DH).transpose(1, 2)
        att = (q @ k.transpose(-2, -1) / math.sqrt(DH)).softmax(-1)
        h = (att @ v).transpose(1, 2).reshape(-1, TOKENS, D)
        x = x + self.proj(h)
        x = x + self.down(F.gelu(self.up(self.norm2(x))))
        return self.head(torch.flatten(self.norm(x), 1))


class FashionEncoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Linear(28, D)
        self.pos = torch.nn.Parameter(torch.zeros(1, TOKENS, D))
        torch.nn.init.normal_(self.pos, std=0.02)
        layer = torch.nn.TransformerEncoderLayer(D, HEADS, 2 * D, 0.0, "gelu", batch_first=True, norm_first=True)
        self.encoder = torch.nn.TransformerEncoder(layer, 1, torch.nn.LayerNorm(D))
        self.head = torch.nn.Linear(TOKENS * D, 10)

    def forward(self, x):
        x = self.embed(x.view(-1, TOKENS, 28)) + self.pos
        return self.head(torch.flatten(self.encoder(x), 1))


def timed(fn, steps, sync, clock=time.perf_counter):
    """The median, lowest and highest time of `steps` calls after >= 1 s of warm-up, each ended by `sync`, by `clock`
    (pytorch_seq2seq_peer.py passes time.thread_time at one thread)."""
    warm_until = time.perf_counter() + 1.0
    i = 0
    while i < 10 or time.perf_counter() < warm_until:
        fn()
        sync()
        i += 1
    times = []
    for _ in range(steps):
        t = clock()
        fn()
        sync()
        times.append(clock() - t)
    return statistics.median(times), min(times), max(times)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("task", choices=["step", "infer"])
    p.add_argument("--model", default="transformer", choices=["transformer", "encoder"])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    sync = torch.cuda.synchronize if a.device == "cuda" else (lambda: None)
    torch.manual_seed(0)
    net = (FashionEncoder() if a.model == "encoder" else FashionTransformer()).to(a.device)
    x = torch.randn(a.batch, 1, 28, 28, device=a.device)
    y = torch.randint(0, 10, (a.batch,), device=a.device)
    if a.task == "step":
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)

        def step():
            opt.zero_grad()
            F.cross_entropy(net(x), y).backward()
            opt.step()
        med, lo, hi = timed(step, a.steps, sync)
    else:
        net.eval()
        with torch.no_grad():
            med, lo, hi = timed(lambda: net(x), a.steps, sync)
    print(f"peer pytorch {torch.__version__} task {a.task} model {a.model} batch {a.batch} threads {a.threads} "
          f"device {a.device} ms_median {med * 1e3:.3f} ms_min {lo * 1e3:.3f} ms_max {hi * 1e3:.3f} "
          f"samples_per_s {a.batch / med:.0f}")
