#!/usr/bin/env python3
"""PyTorch on the CPU for samples' `autoencoder` command: the same model (two stride-2 Conv2d, two
ConvTranspose2d with output padding 1, Tanh), recipe (Adam lr 1e-3, batch 128, MSE against the
input, FashionMNIST in [-1, 1]) and printed losses, to compare losses and time with Kiln's.
Reads the shared peer's FashionMNIST loader (../shared/peers/pytorch_peer.py).
  OPENBLAS_NUM_THREADS=1 /usr/bin/python3 samples/peer/pytorch_autoencoder_peer.py --epochs 2 --threads 2
"""
import argparse, importlib.util, os, time

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
shared = os.environ.get("KILN_SHARED_PEER", os.path.join(HERE, "..", "..", "..", "shared", "peers", "pytorch_peer.py"))
if not os.path.isfile(shared):
    shared = os.path.join(os.getcwd(), "..", "shared", "peers", "pytorch_peer.py")
spec = importlib.util.spec_from_file_location("pytorch_peer", shared)
base = importlib.util.module_from_spec(spec)
spec.loader.exec_module(base)


def model():
    return nn.Sequential(
        nn.Sequential(nn.Conv2d(1, 16, 3, stride=2, padding=1), nn.ReLU(),
                      nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU()),
        nn.Sequential(nn.ConvTranspose2d(32, 16, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
                      nn.ConvTranspose2d(16, 1, 3, stride=2, padding=1, output_padding=1), nn.Tanh()))


def test_loss(net, x):
    net.eval()
    with torch.no_grad():
        return sum(nn.functional.mse_loss(net(x[i:i + 500]), x[i:i + 500]).item() * len(x[i:i + 500])
                   for i in range(0, len(x), 500)) / len(x)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    train, _ = base.fashion(True)
    test = base.fashion(False)[0][:2000]
    net = model()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    print("epoch 0: test reconstruction loss %.5f" % test_loss(net, test))
    start = time.perf_counter()
    for epoch in range(1, a.epochs + 1):
        net.train()
        order = torch.randperm(len(train))
        total, steps = 0.0, 0
        for i in range(0, len(train), a.batch):
            x = train[order[i:i + a.batch]]
            opt.zero_grad()
            loss = nn.functional.mse_loss(net(x), x)
            loss.backward()
            opt.step()
            total += loss.item()
            steps += 1
        print("epoch %d: train loss %.5f, test reconstruction loss %.5f" % (epoch, total / steps, test_loss(net, test)))
    print("trained %d epochs on %d images in %.1f s (PyTorch %s, %d threads)"
          % (a.epochs, len(train), time.perf_counter() - start, torch.__version__, a.threads))
