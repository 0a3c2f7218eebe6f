#!/usr/bin/python3
"""PyTorch's side of scripts/speed/CpuKernelTimes.java (run with OPENBLAS_NUM_THREADS=1): aten's layer norm forward
(native_layer_norm), its backward for dx, dw, db and for dx alone (native_layer_norm_backward with an output mask) over
4096 rows of 64, 1024 of 256 and 256 of 768, GELU's forward and backward (gelu, gelu_backward) over [16, 16, 16, 256];
fresh outputs (PyTorch's allocator reuses their blocks); thread CPU time at one thread, the median of 9 rounds of 10
calls after 30, and the lowest. Threads: argument 1 (default 1)."""
import sys, torch
from peer_timing import report
threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
torch.set_num_threads(threads); torch.manual_seed(0)
aten = torch.ops.aten
with torch.no_grad():
    for rows, inner in [(4096, 64), (1024, 256), (256, 768)]:
        x = torch.randn(rows, inner) + 0.5; g = torch.randn(rows, inner)
        w = 1 + 0.01 * torch.arange(inner, dtype=torch.float32); b = 0.02 * torch.arange(inner, dtype=torch.float32)
        y, mean, rstd = aten.native_layer_norm(x, [inner], w, b, 1e-6)
        t = "%dx%d" % (rows, inner)
        report("ln fwd " + t, lambda: aten.native_layer_norm(x, [inner], w, b, 1e-6), threads)
        report("ln bwd " + t, lambda: aten.native_layer_norm_backward(g, x, [inner], mean, rstd, w, b, [True, True, True]), threads)
        report("ln dx " + t, lambda: aten.native_layer_norm_backward(g, x, [inner], mean, rstd, w, b, [True, False, False]), threads)
    x = torch.randn(16, 16, 16, 256); g = torch.randn(16, 16, 16, 256)
    report("gelu fwd 16x16x16x256", lambda: aten.gelu(x), threads)
    report("gelu bwd 16x16x16x256", lambda: aten.gelu_backward(g, x), threads)
