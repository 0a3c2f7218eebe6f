#!/usr/bin/env python3
"""PyTorch on the CPU for the sequence classifier of `kiln-samples bench --model lstm`: an LSTM(64, 128,
batch_first) over [B, 50, 64] random sequences, its last step's output into Linear(128, 10), cross-entropy,
SGD with momentum 0.9 (lr 0.01), as BenchCommand.SequenceClassifier. Prints one line with ms_median, as the
shared peer does.
  pytorch_lstm_peer.py step --batch 32 --threads 2 --steps 50
  pytorch_lstm_peer.py infer --batch 32 --threads 2 --steps 50
"""
import argparse, statistics, time

import torch
import torch.nn.functional as F


class SequenceClassifier(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(64, 128, batch_first=True)
        self.head = torch.nn.Linear(128, 10)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


def timed(fn, steps, warmup=10):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times), max(times)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("task", choices=["step", "infer"])
    p.add_argument("--model", default="lstm", choices=["lstm"])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=50)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = SequenceClassifier()
    x, y = torch.randn(a.batch, 50, 64), torch.randint(0, 10, (a.batch,))
    if a.task == "step":
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)

        def step():
            opt.zero_grad()
            F.cross_entropy(net(x), y).backward()
            opt.step()
        med, lo, hi = timed(step, a.steps)
    else:
        net.eval()
        with torch.no_grad():
            med, lo, hi = timed(lambda: net(x), a.steps)
    print(f"peer pytorch {torch.__version__} task {a.task} model lstm batch {a.batch} threads {a.threads} "
          f"ms_median {med * 1e3:.3f} ms_min {lo * 1e3:.3f} ms_max {hi * 1e3:.3f} samples_per_s {a.batch / med:.0f}")
