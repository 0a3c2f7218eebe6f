#!/usr/bin/env python3
"""PyTorch on the CPU for samples' FashionResNet, the peer of `kiln-samples bench --model resnet`:
the shared peer (../shared/peers/pytorch_peer.py, or $KILN_SHARED_PEER) with the same commands,
recipe and output lines, its model replaced by kiln_resnet.ResNet.
  pytorch_resnet_peer.py step --batch 64 --threads 2 --steps 50
  pytorch_resnet_peer.py infer --batch 64 --threads 2
  pytorch_resnet_peer.py accuracy --epochs 5 --threads 2
"""
import argparse, importlib.util, os, sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from kiln_resnet import ResNet  # noqa: E402

shared = os.environ.get("KILN_SHARED_PEER", os.path.join(HERE, "..", "..", "..", "shared", "peers", "pytorch_peer.py"))
if not os.path.isfile(shared):
    shared = os.path.join(os.getcwd(), "..", "shared", "peers", "pytorch_peer.py")
spec = importlib.util.spec_from_file_location("pytorch_peer", shared)
base = importlib.util.module_from_spec(spec)
spec.loader.exec_module(base)
base.build = lambda name: ResNet()

if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("task", choices=["step", "infer", "accuracy"])
    p.add_argument("--model", default="resnet", choices=["resnet"])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--epochs", type=int, default=5)
    a = p.parse_args()
    {"step": base.cmd_step, "infer": base.cmd_infer, "accuracy": base.cmd_accuracy}[a.task](a)
