#!/usr/bin/env python3
"""PyTorch on the CPU for the samples' FashionLstm, the twin of `kiln-samples fashion-mnist --model lstm`:
the shared peer (../shared/peers/pytorch_peer.py, or $KILN_SHARED_PEER) with the same commands, recipe
(inputs (x/255-0.5)/0.5, batch 64, SGD lr 0.01 momentum 0.9, cross-entropy) and output lines, its model
replaced by an LSTM(28, 128, batch_first=True) over the image's 28 rows, its last step's output into
Linear(128, 10), as FashionLstm.java writes it (--model gru: the same with a GRU, for comparison).
  OPENBLAS_NUM_THREADS=1 pytorch_fashion_lstm_peer.py accuracy --epochs 5 --threads 2
  OPENBLAS_NUM_THREADS=1 pytorch_fashion_lstm_peer.py step --batch 64 --threads 2 --steps 50
"""
import argparse, importlib.util, os

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
shared = os.environ.get("KILN_SHARED_PEER", os.path.join(HERE, "..", "..", "..", "shared", "peers", "pytorch_peer.py"))
if not os.path.isfile(shared):
    shared = os.path.join(os.getcwd(), "..", "shared", "peers", "pytorch_peer.py")
spec = importlib.util.spec_from_file_location("pytorch_peer", shared)
base = importlib.util.module_from_spec(spec)
spec.loader.exec_module(base)


class FashionLstm(torch.nn.Module):
    def __init__(self, cell):
        super().__init__()
        self.lstm = cell(28, 128, batch_first=True)
        self.head = torch.nn.Linear(128, 10)

    def forward(self, x):
        out, _ = self.lstm(x.view(-1, 28, 28))  # [N, 1, 28, 28]: 28 rows of 28 pixels
        return self.head(out[:, -1])


base.build = lambda name: FashionLstm(torch.nn.GRU if name == "gru" else torch.nn.LSTM)

if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("task", choices=["step", "infer", "accuracy"])
    p.add_argument("--model", default="lstm", choices=["lstm", "gru"])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--epochs", type=int, default=5)
    a = p.parse_args()
    {"step": base.cmd_step, "infer": base.cmd_infer, "accuracy": base.cmd_accuracy}[a.task](a)
