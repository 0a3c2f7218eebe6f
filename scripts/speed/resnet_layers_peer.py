#!/usr/bin/python3
"""PyTorch's side of scripts/speed/ResNetLayers.java (one thread; run with OPENBLAS_NUM_THREADS=1): the same layers under the same names."""
import sys, time, torch
import torch.nn.functional as F
torch.set_num_threads(1); torch.manual_seed(0)
only = sys.argv[1] if len(sys.argv) > 1 else ""
r = lambda *s: torch.randn(*s, requires_grad=True)
a=r(64,1,28,28); ws=r(32,1,3,3); b=r(64,32,28,28); c=r(64,32,14,14); c2=r(64,32,14,14)
w3=r(64,32,3,3); w1=r(64,32,1,1); d=r(64,64,7,7); w4=r(64,64,3,3); w33=r(32,32,3,3)
g32=torch.ones(32,requires_grad=True); b32=torch.zeros(32,requires_grad=True); rm32=torch.zeros(32); rv32=torch.ones(32)
g64=torch.ones(64,requires_grad=True); b64=torch.zeros(64,requires_grad=True); rm64=torch.zeros(64); rv64=torch.ones(64)
cases = {
 "stem conv 1->32 28x28": lambda: F.conv2d(a, ws, None, 1, 1),
 "bn32 28x28": lambda: F.batch_norm(b, rm32, rv32, g32, b32, True, 0.1, 1e-5),
 "relu 32x28x28": lambda: F.relu(b),
 "maxpool 32x28x28": lambda: F.max_pool2d(b, 2),
 "conv 32->32 14x14": lambda: F.conv2d(c, w33, None, 1, 1),
 "bn32 14x14": lambda: F.batch_norm(c, rm32, rv32, g32, b32, True, 0.1, 1e-5),
 "relu 32x14x14": lambda: F.relu(c),
 "add 32x14x14": lambda: c + c2,
 "conv 32->64 s2 14x14": lambda: F.conv2d(c, w3, None, 2, 1),
 "conv 32->64 1x1 s2": lambda: F.conv2d(c, w1, None, 2, 0),
 "conv 64->64 7x7": lambda: F.conv2d(d, w4, None, 1, 1),
 "bn64 7x7": lambda: F.batch_norm(d, rm64, rv64, g64, b64, True, 0.1, 1e-5),
 "maxpool 64x7x7": lambda: F.max_pool2d(d, 2),
}
def lowest(f):
    for _ in range(30): f()
    best=1e9
    for _ in range(5):
        t=time.thread_time()
        for _ in range(10): f()
        best=min(best,(time.thread_time()-t)/10*1e3)
    return best
def nog(f):
    def g():
        with torch.no_grad(): f()
    return g
for k,f in cases.items():
    if not k.startswith(only): continue
    print("%-26s fwd %7.3f  train %7.3f ms" % (k, lowest(nog(f)), lowest(lambda: f().sum().backward())))
