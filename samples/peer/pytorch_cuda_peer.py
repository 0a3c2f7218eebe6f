#!/usr/bin/env python3
"""PyTorch on the GPU, the peer of `kiln-samples bench --device cuda`: the same models and step as
../shared/peers/pytorch_peer.py (the seeds' MLP and CNN, SGD lr 0.01 momentum 0.9, cross-entropy),
moved to CUDA, each step timed between torch.cuda.synchronize() calls. Eager PyTorch, FP32 with
TF32 off for matrix products and convolutions, as Kiln's CUDA backend computes by default.
  pytorch_cuda_peer.py step --model mlp|cnn|resnet --batch 64 --steps 200
  pytorch_cuda_peer.py infer --model mlp|cnn|resnet --batch 64 --steps 200
(resnet: samples' FashionResNet, from kiln_resnet.py beside this file)
Prints one 'key value' line: peer pytorch VERSION ... ms_median X.
"""
import argparse, os, statistics, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2, self.conv3 = nn.Conv2d(1, 32, 3, 1, 1), nn.Conv2d(32, 64, 3, 1, 1), nn.Conv2d(64, 128, 3, 1, 1)
        self.bn1, self.bn2, self.bn3 = nn.BatchNorm2d(32), nn.BatchNorm2d(64), nn.BatchNorm2d(128)
        self.fc1, self.fc2, self.fc3 = nn.Linear(1152, 512), nn.Linear(512, 512), nn.Linear(512, 10)
        self.bnFc1, self.bnFc2 = nn.BatchNorm1d(512), nn.BatchNorm1d(512)
        self.dropout = nn.Dropout(0.4)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        x = F.max_pool2d(F.relu(self.bn3(self.conv3(x))), 2)
        x = torch.flatten(x, 1)
        x = self.dropout(F.relu(self.bnFc1(self.fc1(x))))
        x = self.dropout(F.relu(self.bnFc2(self.fc2(x))))
        return self.fc3(x)


def timed(fn, steps, warmup):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times), max(times)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("task", choices=["step", "infer"])
    p.add_argument("--model", default="mlp", choices=["mlp", "cnn", "resnet"])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=200)
    a = p.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = False
    dev = torch.device("cuda")
    torch.manual_seed(0)
    if a.model == "resnet":
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from kiln_resnet import ResNet
    net = (mlp() if a.model == "mlp" else Cnn() if a.model == "cnn" else ResNet()).to(dev)
    x = torch.randn(a.batch, 1, 28, 28, device=dev)
    if a.task == "step":
        y = torch.randint(0, 10, (a.batch,), device=dev)
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
        net.train()

        def step():
            opt.zero_grad()
            F.cross_entropy(net(x), y).backward()
            opt.step()

        med, lo, hi = timed(step, a.steps, 20)
    else:
        net.eval()
        with torch.no_grad():
            med, lo, hi = timed(lambda: net(x), a.steps, 20)
    print(f"peer pytorch {torch.__version__} cuda {torch.cuda.get_device_name(0)} task {a.task} model {a.model} "
          f"batch {a.batch} ms_median {med * 1e3:.3f} ms_min {lo * 1e3:.3f} ms_max {hi * 1e3:.3f}")


if __name__ == "__main__":
    main()
