#!/usr/bin/python3
"""PyTorch's side of scripts/speed/ConvLayers.java (run with OPENBLAS_NUM_THREADS=1): conv2d and
aten.convolution_backward (input only, weight and bias only, both) on the same shapes, batch 64, wall time (one thread: thread CPU time), lowest of
7 rounds of 5 calls after 20. Threads: argument 2 (default 2)."""
import sys, time, torch
import torch.nn.functional as F
only = sys.argv[1] if len(sys.argv) > 1 else ""
threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
torch.set_num_threads(threads); torch.manual_seed(0)
clock = time.thread_time if threads == 1 else time.perf_counter  # one thread: its CPU time, as ConvLayers.java
cases = [
 ("resnet stem 1->32 28x28", 1, 28, 32, 3, 1, 1, False, False),
 ("resnet conv1/2 32->32 14x14", 32, 14, 32, 3, 1, 1, False, True),
 ("resnet conv3 32->64 s2 14x14", 32, 14, 64, 3, 2, 1, False, True),
 ("resnet shortcut 32->64 1x1 s2", 32, 14, 64, 1, 2, 0, False, True),
 ("resnet conv4 64->64 7x7", 64, 7, 64, 3, 1, 1, False, True),
 ("cnn conv1 1->32 28x28", 1, 28, 32, 3, 1, 1, True, False),
 ("cnn conv2 32->64 14x14", 32, 14, 64, 3, 1, 1, True, True),
 ("cnn conv3 64->128 7x7", 64, 7, 128, 3, 1, 1, True, True),
]
def lowest(f):
    for _ in range(20): f()
    best = 1e9
    for _ in range(7):
        t = clock()
        for _ in range(5): f()
        best = min(best, (clock() - t) / 5 * 1e3)
    return best
with torch.no_grad():
    for name, ci, hw, co, k, st, pd, bias, data in cases:
        if not name.startswith(only): continue
        x = torch.randn(64, ci, hw, hw); w = torch.randn(co, ci, k, k); b = torch.randn(co) if bias else None
        y = F.conv2d(x, w, b, st, pd); dy = torch.randn_like(y)
        bw = lambda mask: (lambda: torch.ops.aten.convolution_backward(dy, x, w, [co] if bias else None, [st, st], [pd, pd],
                                                                        [1, 1], False, [0, 0], 1, mask))
        fwd = lowest(lambda: F.conv2d(x, w, b, st, pd))
        d = lowest(bw([True, False, False])) if data else 0
        fl = lowest(bw([False, True, bias]))
        both = lowest(bw([True, True, bias])) if data else fl
        print("%-32s fwd %7.3f  data %7.3f  filter %7.3f  both %7.3f ms" % (name, fwd, d, fl, both))
