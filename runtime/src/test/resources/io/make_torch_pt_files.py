#!/usr/bin/python3
"""Writes the PyTorch checkpoint files (torch.save's zip format) that Kiln's TorchFiles tests read.

In this directory (runtime/src/test/resources/io):
  torch_state.pt        a state dict of a Linear + BatchNorm1d + Conv2d (float32, the conv in float16),
                        num_batches_tracked int64, and extra tensors: bfloat16, float64, int32, bool, a
                        transposed (non-contiguous) tensor, two views of one storage, a 0-d scalar and an
                        empty tensor.
  torch_state_expected.safetensors   the same tensors, contiguous, float32 (integers as int64), for
                        the Java test to compare with.
  torch_checkpoint.pt   {"model": state_dict, "model_vars": state_dict(keep_vars=True) (Parameters:
                        _rebuild_parameter), "optimizer": SGD's state_dict, "epoch": 3, "best": 0.875,
                        "name": "tiny", "done": False, "none": None, "big": 2**70, "pair": (1, 2)}
  torch_net.pt          make_torch_file.make_net()'s state dict (torch_net.safetensors's tensors), by torch.save.
  torch_legacy.pt       the state dict in the legacy format (_use_new_zipfile_serialization=False).
  torch_forbidden.pt    a zip laid out as torch.save's whose pickle calls os.system("echo pwned"):
                        built byte by byte here and never loaded; Kiln must refuse it.
In ../../../../../samples/src/test/resources/io:
  fashion_cnn.pt        the state dict of the samples' PyTorch peer CNN (samples/peer/pytorch_cuda_peer.py
                        Cnn, the twin of Kiln's FashionCnn) in evaluation mode; to keep the file small, every
                        float tensor is a strided view into one shared storage of random values (rows
                        overlap), which torch.save keeps as views.
  fashion_cnn_io.safetensors  x (2, 1, 28, 28) and the peer's output y = cnn.eval()(x).

Usage: OPENBLAS_NUM_THREADS=1 /usr/bin/python3 make_torch_pt_files.py  (PyTorch 1.13)
"""
import os
import sys
import zipfile

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", "..", "..", ".."))
sys.dont_write_bytecode = True  # no __pycache__ beside the test resources
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "samples", "peer"))
from make_torch_file import save_safetensors, make_net, DTYPES  # noqa: E402
from pytorch_cuda_peer import Cnn  # noqa: E402

DTYPES[torch.bool] = ("BOOL", "?")


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 2)
        self.bn = nn.BatchNorm1d(2)
        self.conv = nn.Conv2d(1, 2, 2)


def tiny_state():
    """Tiny's state dict with values exact in float16 and bfloat16 (multiples of 1/8), and the extras."""
    torch.manual_seed(0)
    m = Tiny()
    with torch.no_grad():
        for i, (name, t) in enumerate(m.state_dict().items()):
            if t.is_floating_point():
                t.copy_((torch.arange(t.numel(), dtype=torch.float32).reshape(t.shape) - 2 + i) / 8)
        m.bn.num_batches_tracked.fill_(5)
        m.bn.running_var.add_(3)
    m.conv.half()
    state = m.state_dict()
    base = torch.arange(12, dtype=torch.float32) / 4
    state["bf16"] = torch.tensor([1.5, -2.25, 384.0], dtype=torch.bfloat16)
    state["double"] = torch.tensor([[0.1, -1e-3], [3.0, 1e20]], dtype=torch.float64)
    state["int32"] = torch.tensor([-16777216, 0, 16777216], dtype=torch.int32)
    state["mask"] = torch.tensor([True, False, True])
    state["transposed"] = torch.arange(6, dtype=torch.float32).reshape(2, 3).t()  # stride (1, 3)
    state["view_a"] = base[2:10].view(2, 4)  # offset 2 into base's storage
    state["view_b"] = base[1::3]  # the same storage, offset 1, stride 3
    state["scalar"] = torch.tensor(2.5)
    state["empty"] = torch.zeros(0, 3)
    return m, state


def write_forbidden(path):
    """A torch.save-shaped zip whose pickle is os.system("echo pwned"): written here, never unpickled."""
    pickle = b"\x80\x02cos\nsystem\nq\x00X\x0a\x00\x00\x00echo pwnedq\x01\x85q\x02Rq\x03."
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name, data in (("data.pkl", pickle), ("version", b"3\n")):
            z.writestr(zipfile.ZipInfo("torch_forbidden/" + name, date_time=(1980, 1, 1, 0, 0, 0)), data)


def strided_view(base, shape, offset):
    """A view of `base` with the given shape whose rows overlap: strides 1, then small primes."""
    primes = [1, 7, 3, 5, 2]
    stride = [1] * len(shape)
    for d in range(len(shape) - 2, -1, -1):
        stride[d] = primes[(len(shape) - 1 - d) % len(primes)]
    need = offset + sum((s - 1) * st for s, st in zip(shape, stride)) + 1
    assert need <= base.numel(), (shape, need)
    return base.as_strided(shape, stride, offset)


def fashion_cnn(out_dir):
    torch.manual_seed(1)
    cnn = Cnn()
    base = torch.randn(6000) * 0.08
    positive = (torch.rand(600) + 0.5) * 0.004  # running variances of the order of the activations
    means = torch.randn(600) * 0.02
    state = {}
    for i, (name, t) in enumerate(cnn.state_dict().items()):
        if name.endswith("num_batches_tracked"):
            state[name] = torch.tensor(100 + i)
        elif name.endswith("running_var"):
            state[name] = strided_view(positive, list(t.shape), i)
        elif name.endswith("running_mean"):
            state[name] = strided_view(means, list(t.shape), i)
        else:
            state[name] = strided_view(base, list(t.shape), 13 * i)
    cnn.load_state_dict(state)
    cnn.eval()
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        y = cnn(x)
    torch.save(state, os.path.join(out_dir, "fashion_cnn.pt"))
    save_safetensors(os.path.join(out_dir, "fashion_cnn_io.safetensors"), {"x": x, "y": y})
    print("fashion_cnn.pt", os.path.getsize(os.path.join(out_dir, "fashion_cnn.pt")), "bytes; y =", y.tolist())


def main():
    m, state = tiny_state()
    torch.save(state, os.path.join(HERE, "torch_state.pt"))
    expected = {}
    for name, t in state.items():
        t = t.contiguous()
        expected[name] = t.to(torch.int64) if not t.is_floating_point() else t.float()
    save_safetensors(os.path.join(HERE, "torch_state_expected.safetensors"), expected)

    optimizer = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    checkpoint = {"model": m.state_dict(), "model_vars": m.state_dict(keep_vars=True),
                  "optimizer": optimizer.state_dict(), "epoch": 3, "best": 0.875, "name": "tiny", "done": False,
                  "none": None, "big": 2 ** 70, "pair": (1, 2)}
    torch.save(checkpoint, os.path.join(HERE, "torch_checkpoint.pt"))
    torch.save(make_net().state_dict(), os.path.join(HERE, "torch_net.pt"))
    torch.save(m.state_dict(), os.path.join(HERE, "torch_legacy.pt"), _use_new_zipfile_serialization=False)
    write_forbidden(os.path.join(HERE, "torch_forbidden.pt"))
    fashion_cnn(os.path.join(ROOT, "samples", "src", "test", "resources", "io"))
    for name in sorted(os.listdir(HERE)):
        if name.endswith(".pt"):
            print(name, os.path.getsize(os.path.join(HERE, name)), "bytes")


if __name__ == "__main__":
    main()
