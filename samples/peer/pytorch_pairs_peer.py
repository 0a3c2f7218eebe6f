#!/usr/bin/env python3
"""PyTorch on the CPU for the samples' siamese network, the twin of `kiln-samples pairs`: FashionMNIST
((x/255-0.5)/0.5), pairs drawn from each shuffled batch of 64 as PairsCommand.java draws them (even
positions paired with another image of their class where the batch has one, odd ones with another
class's), one tower Flatten-Linear(784, 128)-ReLU-Linear(128, 32) applied to both images, the head
Linear(64, 2) on relu(cat(ea * eb, (ea - eb)^2)), cross-entropy, SGD lr 0.01 momentum 0.9; test pair
accuracy on the first 2000 test images (batches of 500) after each epoch. Prints the sample's lines.
  OPENBLAS_NUM_THREADS=1 python3 samples/peer/pytorch_pairs_peer.py --epochs 2 --threads 2
"""
import argparse, gzip, os, random, struct, time

import torch
import torch.nn.functional as F

DATA = os.environ.get("KILN_DATA", "/usr/share/datasets/fashion-mnist")


def idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    dims = struct.unpack(">I", raw[:4])[0] & 0xFF
    shape = struct.unpack(">" + "I" * dims, raw[4:4 + 4 * dims])
    return torch.frombuffer(bytearray(raw[4 + 4 * dims:]), dtype=torch.uint8).reshape(shape)


def fashion(prefix):
    x = idx(os.path.join(DATA, prefix + "-images-idx3-ubyte.gz")).float().div(255).sub(0.5).div(0.5).unsqueeze(1)
    return x, idx(os.path.join(DATA, prefix + "-labels-idx1-ubyte.gz")).long()


class SiameseNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.tower = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 32))
        self.head = torch.nn.Linear(64, 2)

    def forward(self, a, b):
        ea, eb = self.tower(a), self.tower(b)
        d = ea - eb
        return self.head(F.relu(torch.cat([ea * eb, d * d], 1)))


def pairs(x, y, rng):
    n = len(y)
    partner, same = [], []
    for i in range(n):
        want, j = i % 2 == 0, -1
        for _ in range(4 * n):
            c = rng.randrange(n)
            if c != i and (y[c] == y[i]) == want:
                j = c
                break
        j = j if j >= 0 else (i + 1) % n
        partner.append(j)
        same.append(int(y[j] == y[i]))
    return x, x[partner], torch.tensor(same)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    xtr, ytr = fashion("train")
    xte, yte = fashion("t10k")
    xte, yte = xte[:2000], yte[:2000]
    net = SiameseNet()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    rng = random.Random(a.seed)
    start = time.perf_counter()
    for epoch in range(1, a.epochs + 1):
        net.train()
        perm = torch.randperm(len(ytr))
        total, steps = 0.0, 0
        for i in range(0, len(ytr), 64):
            b = perm[i:i + 64]
            xa, xb, same = pairs(xtr[b], ytr[b].tolist(), rng)
            opt.zero_grad()
            loss = F.cross_entropy(net(xa, xb), same)
            loss.backward()
            opt.step()
            total += loss.item()
            steps += 1
        net.eval()
        test_rng, right = random.Random(a.seed + 1), 0
        with torch.no_grad():
            for i in range(0, len(yte), 500):
                xa, xb, same = pairs(xte[i:i + 500], yte[i:i + 500].tolist(), test_rng)
                right += (net(xa, xb).argmax(1) == same).sum().item()
        print(f"epoch {epoch}: train loss {total / steps:.4f}, test pair accuracy {100 * right / len(yte):.1f}%")
    print(f"trained {a.epochs} epochs on {len(ytr)} images in {time.perf_counter() - start:.1f} s on cpu (PyTorch {torch.__version__})")


if __name__ == "__main__":
    main()
