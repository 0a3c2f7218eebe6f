"""PyTorch's side of CharGptStep.java: the twin's training step on one thread, timed by time.thread_time.

The median of 200 steps after 100, windows of random ids, AdamW as char-gpt's (one group here: the timing is the
same). Run with OPENBLAS_NUM_THREADS=1 from the repository root.
"""
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "samples", "peer"))
from pytorch_char_gpt_peer import CharGpt  # noqa: E402

torch.set_num_threads(1)
torch.manual_seed(0)
net = CharGpt()
opt = torch.optim.AdamW(net.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)
g = torch.Generator().manual_seed(0)
times = []
for step in range(300):
    x = torch.randint(0, 76, (32, 32), generator=g)
    y = torch.randint(0, 76, (32 * 32,), generator=g)
    t0 = time.thread_time()
    opt.zero_grad()
    loss = torch.nn.functional.cross_entropy(net(x).view(-1, 96), y)
    loss.backward()
    opt.step()
    last = loss.item()
    if step >= 100:
        times.append(time.thread_time() - t0)
times.sort()
print(f"pytorch one thread: {1000 * times[100]:.2f} ms/step CPU (median of 200; quartiles {1000 * times[50]:.2f}, "
      f"{1000 * times[150]:.2f}), last loss {last:.4f}")
