"""Checks the runtime's own CUDA kernel families (CoreKernels, ElementwiseKernels, OptimKernels, BatchNormKernels),
run on the CPU by emulate.py, against PyTorch (float64) on the CPU and, where the float operations are the same, bit
for bit against the CPU kernels' formulas (cpu.CpuKernels, ActivationKernels, ConvKernels, NormKernels,
optim.SGD / AdamBase). Launched by check-runtime, which dumps the sources and constants; see there. Every launch
mirrors the Java launchers (ElementwiseKernels, CoreKernels, OptimKernels, BatchNormKernels with
CudaKernel.launch1d) and their callers in CudaOps, CudaLayerOps, SGD and AdamBase: argument order, grid and block
sizes, scratch buffers, which pointers are null when.

    python3 check_runtime.py WORKDIR [CLASSPATH]
        (WORKDIR holds {Core,Elementwise,Optim,BatchNorm}.cu, constants.txt)
"""
import collections
import os
import re
import struct
import subprocess
import sys
import zlib

import numpy as np
import torch
import torch.nn.functional as F

import check
import emulate
from check import rel, report

f32 = np.float32
rng = np.random.default_rng(20261124)


def seed(*case):
    """Each case draws its data from its own generator, seeded by its parameters: the same data whatever runs
    before it (ONLY=..., checks added)."""
    global rng
    rng = np.random.default_rng([20261124, zlib.crc32(repr(case).encode())])


NAN, INF = f32(np.nan), f32(np.inf)
# emulate.py's KILN_EMU_CONTRACT=1: a * b + c fused as on a GPU (nvrtc --fmad=true). The bit checks of kernels whose
# formulas have such a pattern would then differ from the CPU's in the last bit, so they are left out (FUSABLE). None
# now: tanh backward (g * (1 - y * y)) and cross-entropy backward (p * s - s at the target) round their products with
# __fmul_rn, which the GPU never fuses (nor does cuda_shim.h's, since it is out of line); BatchNormKernels' forward
# likewise (__fmul_rn, __fadd_rn), and its backward's a * g + b * x + k has no bit check.
CONTRACT = os.environ.get("KILN_EMU_CONTRACT") == "1"
FUSABLE = set()  # names as in check_activations ("tanh") and check_cross_entropy ("cross_entropy backward")
# Values where the rules differ: NaN, signed zeros, infinities, subnormals, overflow of exp, large and small
SPECIALS = np.array([np.nan, -0.0, 0.0, np.inf, -np.inf, 1e-45, -1e-45, 1e-38, -1e-38, 88.7, -88.7, 100, -100,
                     1e30, -1e30, 0.5, -0.5, 1, -1, 20, -20], f32)


# ----------------------------------------------------------------------------------------------------
# Comparisons

def compare(got, ref):
    """(relative error over the entries whose reference is finite, count of non-finite references not matched:
    the same infinity, or NaN for NaN)."""
    got = np.asarray(got, np.float64).reshape(-1)
    ref = np.asarray(ref, np.float64).reshape(-1)
    fin = np.isfinite(ref)
    e = rel(got[fin], ref[fin]) if fin.any() else 0.0
    g, r = got[~fin], ref[~fin]
    return e, int((~((g == r) | (np.isnan(g) & np.isnan(r)))).sum())


def errs(name, got, ref):
    """{name: relative error, name + ' nonfinite#': mismatches} (the latter only where the reference has some)."""
    e, bad = compare(got, ref)
    out = {name: e}
    if not np.isfinite(np.asarray(ref, np.float64)).all():
        out[name + " nonfinite#"] = bad
    return out


def bit_mismatches(got, want):
    """Entries whose float32 bits differ (any NaN matches any NaN: the GPU's NaN payloads are its own)."""
    g = np.ascontiguousarray(got, f32).reshape(-1)
    w = np.ascontiguousarray(want, f32).reshape(-1)
    return int(((g.view(np.int32) != w.view(np.int32)) & ~(np.isnan(g) & np.isnan(w))).sum())


def jmax(a, b):
    """Java's Math.max on floats: NaN if either is, +0 over -0."""
    a, b = np.broadcast_arrays(np.asarray(a, f32), np.asarray(b, f32))
    r = np.where(a > b, a, b)
    r = np.where((a == 0) & (b == 0), np.where(np.signbit(a) & np.signbit(b), a, f32(0)), r)
    return np.where(np.isnan(a) | np.isnan(b), NAN, r).astype(f32)


def jmin(a, b):
    """Java's Math.min on floats: NaN if either is, -0 over +0."""
    a, b = np.broadcast_arrays(np.asarray(a, f32), np.asarray(b, f32))
    r = np.where(a < b, a, b)
    r = np.where((a == 0) & (b == 0), np.where(np.signbit(a) | np.signbit(b), f32(-0.0), f32(0)), r)
    return np.where(np.isnan(a) | np.isnan(b), NAN, r).astype(f32)


def jsignum(d):
    """Java's Math.signum: +-1, the (signed) zero itself, NaN for NaN."""
    return np.where(d > 0, f32(1), np.where(d < 0, f32(-1), d)).astype(f32)


def as_float(ref):
    """A float64 reference rounded to float32's range: what overflows a float is infinite."""
    with np.errstate(over="ignore"):
        return np.asarray(ref, np.float64).astype(f32).astype(np.float64)


def t64(a):
    return torch.tensor(np.asarray(a, np.float64))


def torch_both(fn):
    """fn(dtype) -> dict of numpy results, run in float64 (the reference) and float32 (PyTorch's own float error)."""
    return fn(torch.float64), fn(torch.float32)


def torch32_errors(r64, r32, names):
    return {q: compare(r32[k], r64[k])[0] for q, k in names.items()}


# ----------------------------------------------------------------------------------------------------
# The Java launchers, mirrored

Entry = collections.namedtuple("Entry", "p g a b c s0 s1 n first")  # OptimKernels.Entry: addresses, 0 for none
keep = []  # buffers an entry list points into, alive until its launch


class Kiln:
    """ElementwiseKernels, CoreKernels, OptimKernels and BatchNormKernels as the Java code launches them."""

    def __init__(self, workdir, constants):
        self.c = constants
        self.core, self.ew, self.opt, self.bn = (emulate.Module(n, open(os.path.join(workdir, n + ".cu")).read(), workdir)
                                                 for n in ("Core", "Elementwise", "Optim", "BatchNorm"))
        self.core.buffers = self.opt.buffers = self.bn.buffers = self.ew.buffers  # every launch checks every buffer's guards
        self.BN_THREADS = constants["BatchNormKernels.THREADS"]
        self.BLOCK = constants["CudaKernel.BLOCK"]
        self.THREADS = constants["ElementwiseKernels.THREADS"]
        self.ROWS_PER_BLOCK = constants["ElementwiseKernels.ROWS_PER_BLOCK"]
        self.SUM_BLOCKS = constants["ElementwiseKernels.SUM_BLOCKS"]
        self.ROWS_PER_CHUNK = constants["ElementwiseKernels.ROWS_PER_CHUNK"]
        self.LINE_THREADS = constants["IndexKernels.THREADS"]
        self.BLOCK_LINE = constants["IndexKernels.BLOCK_LINE"]
        self.WARP_LINE = constants["IndexKernels.WARP_LINE"]
        self.MANY_STRIDED_LINES = constants["IndexKernels.MANY_STRIDED_LINES"]
        self.LIST = constants["OptimKernels.LIST"]
        self.CHUNK = constants["OptimKernels.CHUNK"]
        self.tables = []  # (entries of one OptimKernels.launch call, [(blocks, bytes) per table]) for the Java check
        self.launches = collections.Counter()

    def array(self, values, dtype=f32):
        return self.ew.array(values, dtype)

    def empty(self, n, dtype=f32):
        return self.ew.empty(n, dtype)

    def _launch(self, m, kernel, grid, block, *args):
        self.launches[kernel] += 1
        m.launch(kernel, grid, block, *args)

    def launch1d(self, m, kernel, count, *args):
        """CudaKernel.launch1d: nothing for count <= 0, else blocks of BLOCK threads covering count."""
        if count <= 0:
            return
        self._launch(m, kernel, (count + self.BLOCK - 1) // self.BLOCK, self.BLOCK, *args)

    @staticmethod
    def blocks(count, per):
        return (count + per - 1) // per

    def line_group(self, lines, size, inner):
        """IndexKernels.lineGroup: threads a line of [outer, size, inner] takes."""
        if inner > 1 and lines >= self.MANY_STRIDED_LINES:
            return 1
        return self.LINE_THREADS if size >= self.BLOCK_LINE else 32 if size >= self.WARP_LINE else 1

    def launch_lines(self, kernel, lines, group, *args):
        """IndexKernels.launchLines: THREADS / group lines a block of THREADS."""
        per = self.LINE_THREADS // group
        if lines > 0:
            self._launch(self.ew, kernel, self.blocks(lines, per), self.LINE_THREADS, *args)

    # CoreKernels
    def fill(self, out, value, n):
        self.launch1d(self.core, "kiln_fill", n, out, value, n)

    def add_into(self, out, x, n):
        self.launch1d(self.core, "kiln_add_into", n, out, x, n)

    def add(self, out, a, b, n):
        self.launch1d(self.core, "kiln_add", n, out, a, b, n)

    # ElementwiseKernels: the one-thread-per-element ones
    def pointwise(self, kernel, n, *args):
        self.launch1d(self.ew, "kiln_" + kernel, n, *args)

    def sum(self, out, x, n, factor):
        blocks = max(1, min(self.SUM_BLOCKS, self.blocks(n, self.THREADS)))
        partial = self.empty(blocks, np.float64)  # Java: 2 * blocks floats from the allocator, uninitialised
        self._launch(self.ew, "kiln_sum_partials", blocks, self.THREADS, partial, x, n)
        self._launch(self.ew, "kiln_sum_finish", 1, self.THREADS, out, partial, blocks, factor)

    def sum_rows(self, out, x, rows, cols):
        if cols == 0:
            return
        column_blocks = self.blocks(cols, 32)
        chunks = max(1, min(65535, (rows + self.ROWS_PER_CHUNK - 1) // self.ROWS_PER_CHUNK))
        rows_per_chunk = max(1, (rows + chunks - 1) // chunks)
        if chunks == 1:
            self._launch(self.ew, "kiln_sum_rows", (column_blocks, 1), self.THREADS, out, x, rows, cols, rows_per_chunk)
            return
        partial = self.empty(chunks * cols)
        self._launch(self.ew, "kiln_sum_rows", (column_blocks, chunks), self.THREADS, partial, x, rows, cols, rows_per_chunk)
        self.sum_rows(out, partial, chunks, cols)

    def softmax_forward(self, y, x, outer, size, inner, take_log):
        if outer * size * inner == 0:
            return
        if inner == 1:
            self._launch(self.ew, "kiln_softmax_rows_forward", self.blocks(outer, self.ROWS_PER_BLOCK), self.THREADS,
                         y, x, outer, size, int(take_log))
        else:
            self.launch1d(self.ew, "kiln_softmax_strided_forward", outer * inner, y, x, outer, size, inner, int(take_log))

    def softmax_backward(self, dx, g, y, outer, size, inner, take_log):
        if outer * size * inner == 0:
            return
        if inner == 1:
            self._launch(self.ew, "kiln_softmax_rows_backward", self.blocks(outer, self.ROWS_PER_BLOCK), self.THREADS,
                         dx, g, y, outer, size, int(take_log))
        else:
            self.launch1d(self.ew, "kiln_softmax_strided_backward", outer * inner, dx, g, y, outer, size, inner, int(take_log))

    def cross_entropy_forward(self, losses, probs, logits, targets, rows, classes):
        assert rows == 0 or classes > 0
        if rows == 0:
            return
        group = self.line_group(rows, classes, 1)
        if group == self.LINE_THREADS:  # a long row: a block (LINE_REDUCE's)
            self.launch_lines("kiln_cross_entropy_lines_forward", rows, group, losses, probs, logits, targets, rows, classes,
                              group)
            return
        self._launch(self.ew, "kiln_cross_entropy_forward", self.blocks(rows, self.ROWS_PER_BLOCK), self.THREADS,
                     losses, probs, logits, targets, rows, classes)

    def cross_entropy_backward(self, dlogits, probs, targets, scale, stride, factor, rows, classes):
        n = rows * classes
        self.launch1d(self.ew, "kiln_cross_entropy_backward", n, dlogits, probs, targets, scale, stride, factor, classes, n)

    def max_pool2d_forward(self, out, argmax, x, planes, h, w, oh, ow, kh, kw, sh, sw, ph, pw):
        self.launch1d(self.ew, "kiln_max_pool2d_forward", planes * oh * ow, out, argmax, x, planes, h, w, oh, ow,
                      kh, kw, sh, sw, ph, pw)

    def max_pool2d_backward(self, dx, g, argmax, planes, plane_in, plane_out):
        n = planes * plane_out
        self.launch1d(self.ew, "kiln_max_pool2d_backward", n, dx, g, argmax, plane_in, plane_out, n)

    # OptimKernels
    def table(self, entries):
        """OptimKernels.Table: the kiln_param_list bytes at the Java class's offsets, little-endian, and the blocks."""
        c = lambda k: self.c["OptimKernels.Table." + k]
        assert len(entries) <= self.LIST
        b = bytearray(c("BYTES"))
        block = 0
        for t, e in enumerate(entries):
            for field, at in (("p", "P"), ("g", "G"), ("a", "A"), ("b", "B"), ("c", "C")):
                struct.pack_into("<q", b, c(at) + 8 * t, getattr(e, field))
            struct.pack_into("<f", b, c("S0") + 4 * t, f32(e.s0))
            struct.pack_into("<f", b, c("S1") + 4 * t, f32(e.s1))
            struct.pack_into("<i", b, c("N") + 4 * t, e.n)
            struct.pack_into("<i", b, c("FLAG") + 4 * t, 1 if e.first else 0)
            struct.pack_into("<i", b, c("START") + 4 * t, block)
            block += (e.n + self.CHUNK - 1) // self.CHUNK
        struct.pack_into("<i", b, c("START") + 4 * len(entries), block)
        struct.pack_into("<i", b, c("COUNT"), len(entries))
        return bytes(b), block

    def optim_launch(self, kernel, entries, *scalars):
        """OptimKernels.launch: tables of LIST entries, one launch each of table.blocks blocks, none when 0."""
        made = []
        for start in range(0, len(entries), self.LIST):
            tb, blocks = self.table(entries[start:start + self.LIST])
            made.append((blocks, tb))
            if blocks == 0:
                continue
            self._launch(self.opt, kernel, blocks, self.BLOCK, tb, *scalars)
        self.tables.append((list(entries), made))

    # BatchNormKernels: eps and momentum as the raw bits of a double (Double.doubleToRawLongBits)
    def bn_statistics(self, mean, var, factors, running_mean, running_var, weight, bias, x, n, c, l, eps, momentum):
        if c == 0:
            return
        self._launch(self.bn, "kiln_bn_statistics", c, self.BN_THREADS, mean, var, factors, running_mean, running_var,
                     weight, bias, x, n, c, l, double_bits(eps), double_bits(momentum))

    def bn_factors(self, factors, mean, var, weight, bias, c, eps):
        self.launch1d(self.bn, "kiln_bn_factors", c, factors, mean, var, weight, bias, c, double_bits(eps))

    def bn_forward(self, y, x, factors, c, l, count):
        self.launch1d(self.bn, "kiln_bn_forward", count, y, x, factors, c, l, count)

    def bn_backward_reduce(self, coef, dweight, dbias, g, x, mean, var, weight, n, c, l, eps, training, acc_w, acc_b):
        if c == 0:
            return
        self._launch(self.bn, "kiln_bn_backward_reduce", c, self.BN_THREADS, coef, dweight, dbias, g, x, mean, var, weight,
                     n, c, l, double_bits(eps), int(training), int(acc_w), int(acc_b))

    def bn_backward(self, dx, g, x, coef, c, l, count):
        self.launch1d(self.bn, "kiln_bn_backward", count, dx, g, x, coef, c, l, count)


def double_bits(d):
    """Double.doubleToRawLongBits: a Java long (signed)."""
    return struct.unpack("<q", struct.pack("<d", float(d)))[0]


# ----------------------------------------------------------------------------------------------------
# CoreKernels

def check_core(k):
    for n in (1, 255, 256, 257, 5000):
        seed("core", n)
        a = rng.standard_normal(n).astype(f32)
        b = rng.standard_normal(n).astype(f32)
        b[: min(n, len(SPECIALS))] = SPECIALS[: min(n, len(SPECIALS))]
        for value in (f32(3.25), f32(-0.0), NAN):
            out = k.empty(n)
            k.fill(out, value, n)
            report(f"core fill {value!r} n={n}", {"out bits#": bit_mismatches(out.a, np.full(n, value, f32))})
        out = k.array(a)
        k.add_into(out, k.array(b), n)
        report(f"core add_into n={n}", {**errs("out", out.a, a.astype(np.float64) + b), "out bits#": bit_mismatches(out.a, a + b)})
        out = k.empty(n)
        k.add(out, k.array(a), k.array(b), n)
        report(f"core add n={n}", {**errs("out", out.a, a.astype(np.float64) + b), "out bits#": bit_mismatches(out.a, a + b)})


# ----------------------------------------------------------------------------------------------------
# Activations: forward vs PyTorch and the CPU formulas; backward from the kernel's own forward output

ACTIVATIONS = {
    # name: (torch function, CPU forward in float32 or None (it computes in double), CPU backward (g, x, y) in float32)
    "relu": (torch.relu, lambda x, s: jmax(x, f32(0)),
             lambda g, x, y, s: g * jmin(jmax(y * f32(2.0 ** 100) * f32(2.0 ** 49), f32(0)), f32(1))),
    "sigmoid": (torch.sigmoid, None, lambda g, x, y, s: g * y * (f32(1) - y)),
    "tanh": (torch.tanh, None, lambda g, x, y, s: g * (f32(1) - y * y)),
    "leaky_relu": (None, lambda x, s: np.where(x > 0, x, s * x), lambda g, x, y, s: np.where(x > 0, g, s * g)),
}


# Backward kernels that take the forward's output: compared with PyTorch's backward of the same output (the kernel's
# float y), so that y's own rounding (1 - y^2 near |y| = 1 loses digits) does not count against the backward.
FROM_OUTPUT = {"sigmoid": torch.ops.aten.sigmoid_backward, "tanh": torch.ops.aten.tanh_backward}


def run_activation(k, name, x, g, slope):
    n = x.size
    xb, gb, y, dx = k.array(x), k.array(g), k.empty(n), k.empty(n)
    if name == "leaky_relu":
        k.pointwise("leaky_relu_forward", n, y, xb, slope, n)
        k.pointwise("leaky_relu_backward", n, dx, gb, xb, slope, n)  # from the input x
    else:
        k.pointwise(name + "_forward", n, y, xb, n)
        k.pointwise(name + "_backward", n, dx, gb, y, n)  # from the output y (CudaOps.unary passes out)
    return y.a.copy(), dx.a.copy()


def check_activations(k):
    for name, (tfn, cpu_fwd, cpu_bwd) in ACTIVATIONS.items():
        for slope in ((0.01, -0.3) if name == "leaky_relu" else (None,)):
            s = f32(slope) if slope is not None else None
            fn = tfn if tfn else (lambda t: F.leaky_relu(t, float(s)))
            label = name + (f"({slope})" if slope is not None else "")
            for n in (1, 1000, 4099):
                seed(name, slope, n)
                x = (3 * rng.standard_normal(n)).astype(f32)
                g = rng.standard_normal(n).astype(f32)
                y, dx = run_activation(k, name, x, g, s)

                def ref(dt):
                    xt = torch.tensor(x, dtype=dt, requires_grad=True)
                    yt = fn(xt)
                    yt.backward(torch.tensor(g, dtype=dt))
                    dx = xt.grad.numpy()
                    if name in FROM_OUTPUT:  # PyTorch's backward from the output, given the kernel's own y
                        dx = FROM_OUTPUT[name](torch.tensor(g, dtype=dt), torch.tensor(y, dtype=dt)).numpy()
                    return dict(y=yt.detach().numpy(), dx=dx)

                r64, r32 = torch_both(ref)
                e = {**errs("y", y, r64["y"]), **errs("dx", dx, r64["dx"])}
                with np.errstate(all="ignore"):
                    if cpu_fwd:
                        e["y cpu#"] = bit_mismatches(y, cpu_fwd(x, s))
                    if not (CONTRACT and name in FUSABLE):
                        e["dx cpu#"] = bit_mismatches(dx, cpu_bwd(g, x, y, s))
                report(f"{label} forward+backward n={n}", e, torch32_errors(r64, r32, {"y": "y", "dx": "dx"}))
            # special values: x and g over SPECIALS (every pair), forward vs PyTorch; backward vs the CPU formula (the
            # documented NaN rules differ from PyTorch's: a NaN y passes NaN on), and vs PyTorch where y is not NaN
            x = np.repeat(SPECIALS, len(SPECIALS))
            g = np.tile(SPECIALS, len(SPECIALS))
            y, dx = run_activation(k, name, x, g, s)
            xt = torch.tensor(x.astype(np.float64), requires_grad=True)
            yt = fn(xt)
            yt.backward(t64(g))
            e = errs("y", y, yt.detach().numpy())
            with np.errstate(all="ignore"):
                if cpu_fwd:
                    e["y cpu#"] = bit_mismatches(y, cpu_fwd(x, s))
                if not (CONTRACT and name in FUSABLE):
                    e["dx cpu#"] = bit_mismatches(dx, cpu_bwd(g, x, y, s))
            if name == "relu":
                e["-0 -> +0#"] = bit_mismatches(y[x == 0], np.zeros((x == 0).sum(), f32))
                e["NaN passes#"] = int((~np.isnan(y[np.isnan(x)])).sum())
            fin = np.isfinite(g) & ~np.isnan(y)
            ref_dx = FROM_OUTPUT[name](t64(g), t64(y)).numpy() if name in FROM_OUTPUT else xt.grad.numpy()
            e.update(errs("dx (no NaN y)", dx[fin], ref_dx[fin]))
            report(f"{label} special values (NaN, +-0, +-inf, subnormal, overflow)", e)


# ----------------------------------------------------------------------------------------------------
# Arithmetic, broadcasting and their reductions (CudaOps.add / mul / scale / reduceTo)

def check_arithmetic(k):
    for n in (1, 700, 4099):
        seed("arithmetic", n)
        a = (2 * rng.standard_normal(n)).astype(f32)
        b = (2 * rng.standard_normal(n)).astype(f32)
        b[: min(n, len(SPECIALS))] = SPECIALS[: min(n, len(SPECIALS))]
        out = k.empty(n)
        k.pointwise("mul", n, out, k.array(a), k.array(b), n)
        with np.errstate(all="ignore"):
            report(f"mul n={n}", {**errs("out", out.a, a.astype(np.float64) * b), "out bits#": bit_mismatches(out.a, a * b)})
            for s in (f32(-1), f32(0.37), f32(0)):
                out = k.empty(n)
                k.pointwise("scale", n, out, k.array(b), s, n)
                report(f"scale {s!r} n={n}", {**errs("out", out.a, b.astype(np.float64) * np.float64(s)),
                                              "out bits#": bit_mismatches(out.a, b * s)})
        for factor in (f32(1), f32(1 / 3)):
            out = k.empty(n)
            gs = f32(-2.5)
            k.pointwise("fill_scaled", n, out, k.array([gs]), factor, n)
            report(f"fill_scaled factor={factor!r} n={n}", {**errs("out", out.a, np.full(n, np.float64(gs) * np.float64(factor))),
                                                            "out bits#": bit_mismatches(out.a, np.full(n, gs * factor, f32))})
    # a of shape big, b of its trailing dimensions: forward (add_repeated / mul_repeated, or the same-shape kernels
    # when repeats is 1) and backward (db summed back over the repeats by sum_rows)
    shapes = [((4, 3, 5), (3, 5)), ((2000, 7), (7,)), ((3, 5), (3, 5)), ((1, 6), (6,)), ((1500, 40), (40,)),
              ((64, 3, 33), (3, 33)), ((0, 7), (7,)), ((5, 0), (0,))]
    for big, small in shapes:
        for op in ("add", "mul"):
            check_broadcast(k, op, big, small)


def check_broadcast(k, op, big, small):
    nb, ns = int(np.prod(big)), int(np.prod(small))
    repeats = nb // max(1, ns)  # Ops.broadcastRepeats
    seed(op, big, small)
    a = rng.standard_normal(nb).astype(f32)
    b = rng.standard_normal(ns).astype(f32)
    g = rng.standard_normal(nb).astype(f32)
    ab, bb, gb = k.array(a), k.array(b), k.array(g)

    def product(big_b, small_b, reps, n_small):  # CudaOps.product
        o = k.empty(nb)
        if reps == 1:
            k.pointwise("mul", nb, o, big_b, small_b, nb)
        else:
            k.pointwise("mul_repeated", nb, o, big_b, small_b, n_small, nb)
        return o

    def reduce_to(gd):  # CudaOps.reduceTo
        if repeats == 1:
            return gd
        o = k.empty(ns)
        k.sum_rows(o, gd, repeats, ns)
        return o

    if op == "add":
        out = k.empty(nb)
        if repeats == 1:
            k.add(out, ab, bb, nb)
        else:
            k.pointwise("add_repeated", nb, out, ab, bb, ns, nb)
        da, db = gb, reduce_to(gb)
    else:
        out = product(ab, bb, repeats, ns)
        da = product(gb, bb, repeats, ns)
        db = reduce_to(product(gb, ab, 1, ns))

    def ref(dt):
        at = torch.tensor(a.reshape(big), dtype=dt, requires_grad=True)
        bt = torch.tensor(b.reshape(small), dtype=dt, requires_grad=True)
        yt = at + bt if op == "add" else at * bt
        yt.backward(torch.tensor(g.reshape(big), dtype=dt))
        return dict(y=yt.detach().numpy(), da=at.grad.numpy(), db=bt.grad.numpy())

    r64, r32 = torch_both(ref)
    rep = np.tile(b, repeats) if ns else b
    exact = a + rep if op == "add" else a * rep
    e = {**errs("out", out.a, r64["y"]), **errs("da", da.a, r64["da"]), **errs("db", db.a, r64["db"]),
         "out bits#": bit_mismatches(out.a, exact)}
    report(f"{op} {big} by {small} (repeats {repeats}) forward+backward", e,
           torch32_errors(r64, r32, {"out": "y", "da": "da", "db": "db"}))


# ----------------------------------------------------------------------------------------------------
# Sums: ElementwiseKernels.sum (sum_partials + sum_finish) and sum_rows

def check_sums(k):
    for n in (0, 1, 1000, 65537, 300001):  # 300001: the 1024 blocks take grid-stride shares
        seed("sum", n)
        x = (rng.standard_normal(n) + 0.25).astype(f32)
        for factor in dict.fromkeys((f32(1), f32(1 / max(n, 1)))):  # a sum, a mean
            out = k.empty(1)
            k.sum(out, k.array(x), n, factor)
            r = x.astype(np.float64).sum() * np.float64(factor)
            cpu = f32(x.astype(np.float64).sum() * np.float64(factor))  # Ops.reduceAll: (float) (double sum * factor)
            r32 = torch.tensor(x).sum().item() * float(factor)
            report(f"sum n={n} factor={factor:.6g} ({max(1, min(k.SUM_BLOCKS, k.blocks(n, k.THREADS)))} blocks)",
                   {"out": rel(out.a, r), "out cpu#": bit_mismatches(out.a, [cpu])}, {"out": rel(r32, r)})
    # rows below, at and above the 1024-row chunk; 1050000 rows: chunks of 1024 rows, then a second pass over
    # 1026 chunk sums, then a third over 2
    for rows, cols in ((0, 5), (1, 1), (7, 33), (1000, 31), (1024, 64), (1025, 3), (5000, 100), (3000, 257), (1050000, 1)):
        seed("sum_rows", rows, cols)
        x = (rng.standard_normal((rows, cols)) + 0.5).astype(f32)
        out = k.empty(cols)
        k.sum_rows(out, k.array(x), rows, cols)
        r = x.astype(np.float64).sum(axis=0)
        chunks = max(1, min(65535, (rows + k.ROWS_PER_CHUNK - 1) // k.ROWS_PER_CHUNK))
        report(f"sum_rows {rows}x{cols} ({chunks} chunk{'s' if chunks > 1 else ''})", {"out": rel(out.a, r)},
               {"out": rel(torch.tensor(x).sum(0).numpy(), r)})


# ----------------------------------------------------------------------------------------------------
# Softmax and log-softmax along a dimension: [outer, size, inner]

def check_softmax(k):
    cases = [(1, 1, 1), (3, 10, 1), (20, 32, 1), (9, 33, 1), (17, 100, 1), (5, 1000, 1), (8, 2, 1),
             (2, 37, 5), (3, 4, 12), (1, 1, 3), (4, 100, 2), (3, 33, 40)]
    for outer, size, inner in cases:
        for take_log in (False, True):
            for data in ("normal", "special", "nan/inf", "confident"):
                if data != "normal" and size < 4 or data == "nan/inf" and outer < 2:
                    continue
                seed("softmax", outer, size, inner, take_log, data)
                x = (3 * rng.standard_normal((outer, size, inner))).astype(f32)
                top = rng.integers(0, size, (outer, inner))
                if data == "confident":
                    x = confident(x, top)
                if data == "special":  # a -inf entry, large magnitudes, a row of equal values
                    x[0, 1, :] = -np.inf
                    x[-1, :, :] = 7.0
                    x[outer // 2, 2, :] = 1e4
                    x[outer // 2, 3, :] = -1e4
                if data == "nan/inf":  # a NaN in one slice, +inf in another: NaN all along each, as on the CPU
                    x[0, 1, 0] = np.nan
                    x[1, 2, inner - 1] = np.inf
                g = rng.standard_normal((outer, size, inner)).astype(f32)
                n = x.size
                y, dx = k.empty(n), k.empty(n)
                xb = k.array(x)
                k.softmax_forward(y, xb, outer, size, inner, take_log)
                k.softmax_backward(dx, k.array(g), y, outer, size, inner, take_log)

                def ref(dt):
                    xt = torch.tensor(x, dtype=dt)
                    yt = (F.log_softmax if take_log else F.softmax)(xt, 1)
                    # the backward from the kernel's own y, as the kernel computes it (PyTorch's backward of that output)
                    back = torch._log_softmax_backward_data if take_log else torch._softmax_backward_data
                    dx = back(torch.tensor(g, dtype=dt), torch.tensor(y.a.reshape(x.shape), dtype=dt), 1, dt)
                    return dict(y=yt.numpy(), dx=dx.numpy())

                r64, r32 = torch_both(ref)
                # at each slice's largest x: the entry a loss reads when the prediction is right (for the log-softmax,
                # a value near 0 beside logits far from 0)
                at_max = lambda a: np.take_along_axis(np.asarray(a).reshape(outer, size, inner), x.argmax(1)[:, None, :], 1)
                for r in (r64, r32):
                    r["y at max"] = at_max(r["y"])
                name = ("log_softmax" if take_log else "softmax") + (" rows" if inner == 1 else " strided")
                report(f"{name} [{outer}, {size}, {inner}] {data} forward+backward",
                       {**errs("y", y.a, r64["y"]), **errs("y at max", at_max(y.a), r64["y at max"]), **errs("dx", dx.a, r64["dx"])},
                       torch32_errors(r64, r32, {"y": "y", "y at max": "y at max", "dx": "dx"}))


# ----------------------------------------------------------------------------------------------------
# Cross-entropy: forward (losses, probs, the mean or sum by ElementwiseKernels.sum) and backward (scale stride 0, 1)

def confident(x, at, offset=30.0):
    """Logits of a classifier that has learnt: all about `offset`, the one at `at` (along axis 1) above the others by
    log(100 (classes - 1)), so that the loss (-log-softmax at the target) is about 1e-2, far below the logits."""
    margin = np.log(100 * max(x.shape[1] - 1, 1))
    x = (np.asarray(x, np.float64) / 3 + offset)
    np.put_along_axis(x, np.expand_dims(at, 1), np.take_along_axis(x, np.expand_dims(at, 1), 1) + margin, 1)
    return x.astype(f32)


def check_cross_entropy(k):
    for rows, classes, data in ((1, 1, "normal"), (9, 10, "normal"), (64, 33, "normal"), (17, 100, "normal"),
                                (5, 1000, "normal"), (3, 1025, "normal"), (2, 5001, "normal"), (3, 2, "normal"), (8, 32, "normal"), (40, 7, "normal"),
                                (64, 10, "confident"), (9, 100, "confident"), (9, 40, "nan/inf")):
        seed("cross_entropy", rows, classes, data)
        x = (3 * rng.standard_normal((rows, classes))).astype(f32)
        if data == "nan/inf":
            x[0, 0], x[1, classes - 1] = np.nan, np.inf
        if rows > 2 and data == "normal":
            x[1] *= 300  # a row of large logits
        t = rng.integers(0, classes, rows)
        t[0], t[-1] = 0, classes - 1
        if data == "confident":
            x = confident(x, t)
        targets = t.astype(f32)  # class indices stored as floats
        losses, probs = k.empty(rows), k.empty(rows * classes)
        xb, tb = k.array(x), k.array(targets)
        k.cross_entropy_forward(losses, probs, xb, tb, rows, classes)
        xt = t64(x)
        ref_loss = F.cross_entropy(xt, torch.tensor(t), reduction="none").numpy()
        ref_probs = F.softmax(xt, 1).numpy()
        l32 = F.cross_entropy(torch.tensor(x), torch.tensor(t), reduction="none").numpy()
        p32 = F.softmax(torch.tensor(x), 1).numpy()
        # CpuKernels.crossEntropyForward's formulas, in double: probs from exp(x - max) summed in double
        e = {**errs("losses", losses.a, ref_loss), **errs("probs", probs.a, ref_probs)}
        report(f"cross_entropy forward {rows}x{classes}" + {"normal": "", "nan/inf": " nan/inf",
                                                             "confident": " confident (logits ~30, loss ~1e-2)"}[data], e,
               {"losses": compare(l32, ref_loss)[0], "probs": compare(p32, ref_probs)[0]})
        for mode in ("mean", "sum", "none"):
            if mode == "none":  # crossEntropyPerSample: per-sample gradients, stride 1, factor 1
                g = rng.standard_normal(rows).astype(f32)
                stride, factor, total = 1, f32(1), None
            else:  # crossEntropy: sum(losses) * factor, one gradient for every row, stride 0
                g = np.array([rng.standard_normal()], f32)
                stride, factor = 0, f32(1) / f32(rows) if mode == "mean" else f32(1)
                total = k.empty(1)
                k.sum(total, losses, rows, factor)
            d = k.empty(rows * classes)
            k.cross_entropy_backward(d, probs, tb, k.array(g), stride, factor, rows, classes)

            def ref(dt):
                xt2 = torch.tensor(x, dtype=dt, requires_grad=True)
                loss = F.cross_entropy(xt2, torch.tensor(t), reduction=mode)
                loss.backward(torch.tensor(g if mode == "none" else g[0], dtype=dt))
                return dict(loss=loss.detach().numpy(), d=xt2.grad.numpy())

            r64, r32 = torch_both(ref)
            e = errs("dlogits", d.a, r64["d"])
            if total is not None:
                e.update(errs("loss", total.a, r64["loss"]))
            # CpuKernels.crossEntropyBackward on the kernel's probs: p * s, then s subtracted at the target
            s = (g[np.arange(rows) * stride] * factor).astype(f32)
            want = (probs.a.reshape(rows, classes) * s[:, None]).astype(f32)
            want[np.arange(rows), t] -= s
            if not (CONTRACT and "cross_entropy backward" in FUSABLE):
                e["dlogits cpu#"] = bit_mismatches(d.a, want)
            report(f"cross_entropy {mode} backward {rows}x{classes} (scale stride {stride})"
                   + ("" if data == "normal" else " " + data), e,
                   torch32_errors(r64, r32, {"dlogits": "d", "loss": "loss"}))


# ----------------------------------------------------------------------------------------------------
# L1 and squared error per element; the target's gradient is scale(dx, -1)

def check_losses(k):
    for name in ("l1", "mse"):
        for n in (1, 1000, 4099, 0):
            seed(name, n)
            x = rng.standard_normal(n).astype(f32)
            t = rng.standard_normal(n).astype(f32)
            if n > 10:
                t[:5] = x[:5]  # equal: L1's gradient is 0 there
                x[5], t[5] = -0.0, 0.0
                x[6], t[6] = 0.0, -0.0
            g = rng.standard_normal(n).astype(f32)
            xb, tb, gb = k.array(x), k.array(t), k.array(g)
            out, dx, dt = k.empty(n), k.empty(n), k.empty(n)
            k.pointwise(name + "_forward", n, out, xb, tb, n)
            k.pointwise(name + "_backward", n, dx, gb, xb, tb, n)
            k.pointwise("scale", n, dt, dx, f32(-1), n)  # CudaOps.pointwiseLoss: the target's gradient

            def ref(dty):
                xt = torch.tensor(x, dtype=dty, requires_grad=True)
                tt = torch.tensor(t, dtype=dty, requires_grad=True)
                lo = (F.l1_loss if name == "l1" else F.mse_loss)(xt, tt, reduction="none")
                lo.backward(torch.tensor(g, dtype=dty))
                return dict(out=lo.detach().numpy(), dx=xt.grad.numpy(), dt=tt.grad.numpy())

            r64, r32 = torch_both(ref)
            d = x - t
            cpu_out = np.abs(d) if name == "l1" else d * d
            cpu_dx = g * jsignum(d) if name == "l1" else g * f32(2) * d
            e = {**errs("out", out.a, r64["out"]), **errs("dx", dx.a, r64["dx"]), **errs("dtarget", dt.a, r64["dt"]),
                 "out cpu#": bit_mismatches(out.a, cpu_out), "dx cpu#": bit_mismatches(dx.a, cpu_dx)}
            report(f"{name} loss n={n} forward+backward" + (" (x == t at 7)" if n > 10 else ""), e,
                   torch32_errors(r64, r32, {"out": "out", "dx": "dx", "dtarget": "dt"}) if n else None)
        # special values: every pair, against the CPU formulas (Math.signum: a signed 0 where equal, NaN for NaN)
        x = np.repeat(SPECIALS, len(SPECIALS))
        t = np.tile(SPECIALS, len(SPECIALS))
        seed(name, "special")
        g = rng.standard_normal(x.size).astype(f32)
        n = x.size
        out, dx = k.empty(n), k.empty(n)
        k.pointwise(name + "_forward", n, out, k.array(x), k.array(t), n)
        k.pointwise(name + "_backward", n, dx, k.array(g), k.array(x), k.array(t), n)
        with np.errstate(all="ignore"):
            d = x - t
            cpu_out = np.abs(d) if name == "l1" else d * d
            cpu_dx = g * jsignum(d) if name == "l1" else g * f32(2) * d
            report(f"{name} loss special values (NaN, +-0, +-inf)",
                   {**errs("out", out.a, as_float(np.abs(x.astype(np.float64) - t) if name == "l1" else (x.astype(np.float64) - t) ** 2)),
                    "out cpu#": bit_mismatches(out.a, cpu_out), "dx cpu#": bit_mismatches(dx.a, cpu_dx)})


# ----------------------------------------------------------------------------------------------------
# Max pooling: Pool2dShape's geometry, ConvKernels.maxPool2dForward's rules, PyTorch's F.max_pool2d

def out_size(n, kernel, stride, pad, ceil):
    """Pool2dShape.outSize."""
    span = n + 2 * pad - kernel
    out = ((span + stride - 1) // stride if ceil else span // stride) + 1
    if ceil and (out - 1) * stride >= n + pad:
        out -= 1
    return out


def cpu_max_pool(x, h, w, oh, ow, kh, kw, sh, sw, ph, pw):
    """ConvKernels' general maxPool loop: the window in row-major order, argmax = v > max ? i : argmax,
    max = Math.max(max, v), starting from -inf at the window's first element inside the input."""
    planes = x.shape[0]
    r = np.arange(oh)[:, None]
    c = np.arange(ow)[None, :]
    out = np.full((planes, oh, ow), -np.inf, f32)
    arg = np.broadcast_to(np.maximum(r * sh - ph, 0) * w + np.maximum(c * sw - pw, 0), (planes, oh, ow)).astype(np.int64)
    for dh in range(kh):
        for dw in range(kw):
            ih, iw = r * sh - ph + dh, c * sw - pw + dw
            valid = (ih >= 0) & (ih < h) & (iw >= 0) & (iw < w)
            v = x[:, np.clip(ih, 0, h - 1), np.clip(iw, 0, w - 1)]
            arg = np.where(valid & (v > out), ih * w + iw, arg)
            out = np.where(valid, jmax(out, v), out)
    return out, arg


def check_max_pool(k):
    # (batch, channels, H, W, kernel, stride, padding, ceil)
    cases = [(2, 3, 8, 8, (2, 2), (2, 2), (0, 0), False),
             (2, 3, 7, 5, (2, 2), (2, 2), (0, 0), False),
             (2, 3, 7, 5, (2, 2), (2, 2), (0, 0), True),
             (2, 2, 6, 7, (2, 2), (1, 1), (0, 0), False),
             (1, 4, 9, 9, (3, 3), (1, 1), (1, 1), False),
             (2, 2, 10, 11, (3, 3), (2, 2), (1, 1), True),
             (2, 2, 10, 11, (3, 3), (2, 2), (0, 0), True),
             (2, 2, 9, 8, (3, 3), (3, 3), (0, 0), True),
             (1, 3, 8, 9, (3, 2), (2, 1), (1, 0), False),
             (3, 2, 5, 5, (3, 3), (1, 2), (1, 1), True),
             (64, 16, 14, 14, (2, 2), (2, 2), (0, 0), False)]
    for bn, ch, h, w, (kh, kw), (sh, sw), (ph, pw), ceil in cases:
        assert ph <= kh // 2 and pw <= kw // 2  # Pool2dShape.checkWindow
        oh, ow = out_size(h, kh, sh, ph, ceil), out_size(w, kw, sw, pw, ceil)
        planes = bn * ch
        for data in ("normal", "ties", "zeros", "nan/inf"):
            seed("max_pool2d", bn, ch, h, w, kh, kw, sh, sw, ph, pw, ceil, data)
            if data == "normal":
                x = rng.standard_normal((planes, h, w)).astype(f32)
            elif data == "ties":  # few levels: windows with several equal maxima
                x = rng.integers(-2, 2, (planes, h, w)).astype(f32)
            elif data == "zeros":  # -0 and +0 (the value is +0 when either is there; the argmax the first) and negatives
                x = rng.choice(np.array([-0.0, 0.0, -1.0, -3.0], f32), (planes, h, w))
            else:
                x = rng.standard_normal((planes, h, w)).astype(f32)
                x.reshape(-1)[rng.choice(x.size, max(1, x.size // 20), replace=False)] = np.nan
                x.reshape(-1)[rng.choice(x.size, max(1, x.size // 10), replace=False)] = -np.inf
                x.reshape(-1)[rng.choice(x.size, max(1, x.size // 30), replace=False)] = np.inf
                x[0, : min(h, kh), : min(w, kw)] = -np.inf  # a window of -inf only
            out, argmax = k.empty(planes * oh * ow), k.empty(planes * oh * ow, np.int32)
            xb = k.array(x)
            k.max_pool2d_forward(out, argmax, xb, planes, h, w, oh, ow, kh, kw, sh, sw, ph, pw)
            xt = torch.tensor(x.reshape(bn, ch, h, w).astype(np.float64), requires_grad=True)
            ry, ri = F.max_pool2d(xt, (kh, kw), (sh, sw), (ph, pw), ceil_mode=ceil, return_indices=True)
            assert ry.shape[2:] == (oh, ow), (ry.shape, oh, ow)
            cpu_out, cpu_arg = cpu_max_pool(x, h, w, oh, ow, kh, kw, sh, sw, ph, pw)
            e = {**errs("out", out.a, ry.detach().numpy()), "out cpu#": bit_mismatches(out.a, cpu_out),
                 "argmax cpu#": int((argmax.a != cpu_arg.reshape(-1)).sum())}
            if data != "nan/inf":  # PyTorch records the last NaN of a window; Kiln the largest value before the first
                e["argmax torch#"] = int((argmax.a != ri.numpy().reshape(-1)).sum())
            # backward: into a zeroed dx (Tensor.zeros), atomic adds at the recorded maxima
            g = rng.standard_normal(planes * oh * ow).astype(f32)
            dx = k.array(np.zeros(planes * h * w, f32))
            k.max_pool2d_backward(dx, k.array(g), argmax, planes, h * w, oh * ow)
            scatter = np.zeros((planes, h * w))
            np.add.at(scatter, (np.repeat(np.arange(planes), oh * ow), argmax.a.astype(np.int64)), g.astype(np.float64))
            e.update(errs("dx (own argmax)", dx.a, scatter))
            if data != "nan/inf":
                ry.backward(t64(g.reshape(ry.shape)))
                e.update(errs("dx", dx.a, xt.grad.numpy()))
            overlap = kh > sh or kw > sw
            report(f"max_pool2d {bn}x{ch}x{h}x{w} k{kh}x{kw} s{sh}x{sw} p{ph}x{pw}{' ceil' if ceil else ''}"
                   f"{' overlap' if overlap else ''} [{data}]", e)


# ----------------------------------------------------------------------------------------------------
# Batch norm: BatchNormKernels as CudaLayerOps.batchNorm calls them (training: statistics, forward; evaluation: the
# running statistics copied, factors, forward; backward: backward_reduce, then backward when dx is wanted), against
# F.batch_norm in float64 with autograd, and bit for bit against NormKernels' float arithmetic given the kernel's own
# statistics (scaleOf / shiftOf, x * scale + shift, updateRunningStatistics)

def layer_batch_norm(k, x, running_mean, running_var, weight, bias, training, momentum, eps, n, c, l):
    """CudaLayerOps.batchNorm's forward: (mean, var, factors, out), the first two kept for the backward."""
    count = n * c * l
    mean, var, factors = k.empty(c), k.empty(c), k.empty(2 * c)  # Tensor.empty
    if training:
        k.bn_statistics(mean, var, factors, running_mean, running_var, weight, bias, x, n, c, l, eps, momentum)
    else:
        mean.a[:], var.a[:] = running_mean.a, running_var.a  # Cuda.copy of the running statistics
        k.bn_factors(factors, mean, var, weight, bias, c, eps)
    out = k.empty(count)
    k.bn_forward(out, x, factors, c, l, count)
    return mean, var, factors, out


def layer_batch_norm_backward(k, g, x, mean, var, weight, dw, db, acc_w, acc_b, want_dx, training, eps, n, c, l):
    """CudaLayerOps.batchNorm's backward node: dw / db None when not wanted (GradSink.address 0), the accumulate flags
    only where there is a sink; dx None when not wanted (no backward launch)."""
    count = n * c * l
    coef = k.empty(3 * c)
    k.bn_backward_reduce(coef, dw, db, g, x, mean, var, weight, n, c, l, eps, training,
                         dw is not None and acc_w, db is not None and acc_b)
    if not want_dx:
        return None
    dx = k.empty(count)
    k.bn_backward(dx, g, x, coef, c, l, count)
    return dx


def bn_reference(x, shape, rm0, rv0, w, b, training, momentum, eps, g, dt):
    """F.batch_norm in dtype: y, the running statistics after, the gradients of sum(y * g), and the batch's mean and
    biased variance."""
    t = lambda a: None if a is None else torch.tensor(np.asarray(a), dtype=dt)
    xt = t(x).reshape(shape).requires_grad_()
    wt, bt = (t(w).requires_grad_(), t(b).requires_grad_()) if w is not None else (None, None)
    rmt, rvt = t(rm0), t(rv0)
    y = F.batch_norm(xt, rmt, rvt, wt, bt, training, momentum, eps)
    y.backward(t(g).reshape(shape))
    xs = xt.detach().reshape(shape[0], shape[1], int(np.prod(shape[2:], dtype=np.int64)))
    var, mean = torch.var_mean(xs, dim=(0, 2), unbiased=False)
    grad = lambda p: None if p is None else p.grad.numpy()
    return dict(y=y.detach().numpy(), rm=None if rmt is None else rmt.numpy(), rv=None if rvt is None else rvt.numpy(),
                dx=xt.grad.numpy(), dw=grad(wt), db=grad(bt), mean=mean.numpy(), var=var.numpy())


def cpu_factors(mean, var, w, b, eps):
    """NormKernels.scaleOf / shiftOf: double arithmetic on the float statistics, rounded to float."""
    c = mean.size
    rstd = 1.0 / np.sqrt(var.astype(np.float64) + eps)
    w64 = np.ones(c) if w is None else w.astype(np.float64)
    b64 = np.zeros(c) if b is None else b.astype(np.float64)
    return (w64 * rstd).astype(f32), (b64 - mean.astype(np.float64) * w64 * rstd).astype(f32)


U = 2.0 ** -24  # float's unit roundoff


def bn_float_bounds(x, g, mu, var, w, b, training, eps):
    """Bounds on the errors (norms of per-entry bounds) of the float arithmetic BatchNormKernels shares with NormKernels,
    for the quantities whose inputs cancel when the mean is large against the spread (mean 1000) or when the batch
    gives two values per channel (xhat = +-1 whatever x, dx = 0 but for eps), from float64 values: the mean kept as a
    float (training; up to U |mean|, which moves xhat by U |mean| rstd), the variance kept as a float (rstd by U / 2),
    each float coefficient and operation rounded (U of its size). out = x * scale + shift; dx = a * g + b * x + k
    with a = w rstd, b = -w rstd^2 mean(g xhat), k = w rstd (rstd mean(g xhat) mean - mean(g)); dweight =
    rstd sum(g (x - mean)) in double, rounded (and added to a float when accumulating)."""
    x, g = x.astype(np.float64), g.astype(np.float64)
    c = mu.size
    w = np.ones(c) if w is None else w.astype(np.float64)
    b = np.zeros(c) if b is None else b.astype(np.float64)
    rstd = 1.0 / np.sqrt(var + eps)
    ch = lambda v: np.asarray(v)[None, :, None]
    xhat = (x - ch(mu)) * ch(rstd)
    ws, mean_rounding = w * rstd, (np.abs(mu) if training else np.zeros(c))
    y = xhat * ch(w) + ch(b)
    out = U * (ch(mean_rounding * np.abs(ws)) + 2 * np.abs(x * ch(ws)) + ch(np.abs(b - mu * ws)) + 1.5 * np.abs(y))
    sum_g, sum_gxhat = g.sum(axis=(0, 2)), (g * xhat).sum(axis=(0, 2))
    m = x.shape[0] * x.shape[2]
    dw = U * (mean_rounding * rstd * np.abs(sum_g) + 2.5 * np.abs(sum_gxhat))  # 2.5: with the add of an accumulation
    mean_g, mean_gxhat = (sum_g / m, sum_gxhat / m) if training else (np.zeros(c), np.zeros(c))
    a, bx = ch(ws) * g, ch(-ws * rstd * mean_gxhat) * x
    k = ch(ws * (rstd * mean_gxhat * mu - mean_g))
    dx_ref = a + bx + k
    dx = U * (3 * np.abs(a) + 3 * np.abs(bx) + np.abs(k) + 2 * np.abs(dx_ref)
              + ch(mean_rounding * ws * rstd) * (ch(np.abs(mean_gxhat)) + np.abs(xhat * ch(mean_g))))
    norm = np.linalg.norm
    ratio = lambda bound, ref: norm(bound) / norm(ref) if norm(ref) > 0 else norm(bound)  # as rel(): absolute for a 0 ref
    return {"out": ratio(out, y), "dx": ratio(dx, dx_ref), "dweight": ratio(dw, sum_gxhat)}


# [N, C] (BatchNorm1d), [N, C, L], [N, C, H, W]: odd sizes, C = 1, a batch of 2, channels of N*L below 256 values,
# of more (the block's threads loop) and not a multiple of 256, and 8x3x40x40 (12800 values: 50 per thread)
BN_SHAPES = [(7, 5), (2, 1), (64, 3), (1000, 4), (5, 3, 1), (3, 4, 7), (2, 1, 300), (2, 3, 5, 7), (4, 1, 9, 9),
             (3, 2, 17, 19), (8, 3, 40, 40), (1, 4), (0, 3, 4)]  # the last two: evaluation only (one value, none a channel)
# (training, running statistics, affine, momentum, eps, data); evaluation always has running statistics
BN_CONFIGS = [(True, True, True, 0.1, 1e-5, "normal"), (True, True, False, 1.0, 1e-8, "normal"),
              (True, False, True, 0.1, 1e-8, "normal"), (True, False, False, 0.1, 1e-5, "normal"),
              (False, True, True, 0.1, 1e-5, "normal"), (False, True, False, 0.1, 1e-8, "normal"),
              (True, True, True, 0.1, 1e-5, "mean 1000"), (False, True, True, 0.1, 1e-5, "mean 1000"),
              (True, False, False, 1.0, 1e-8, "mean 1000"), (True, True, True, 0.1, 1e-5, "mean 1e6")]
# backward runs: (dweight, dbias) as "=" (written: a fresh Tensor.empty), "+=" (added into a leaf's gradient), None
# (not wanted: address 0), and whether dx is wanted; the two flags differ in each run where both have a sink
BN_RUNS_AFFINE = [("+=", "=", True), ("=", None, False), (None, "+=", True)]


def check_batch_norm(k):
    for shape in BN_SHAPES:
        for training, running, affine, momentum, eps, data in BN_CONFIGS:
            if training and shape[0] * int(np.prod(shape[2:], dtype=np.int64)) < 2:
                continue  # Ops.batchNorm refuses training on fewer than two values a channel
            check_bn_case(k, shape, training, running, affine, momentum, eps, data)


def check_bn_case(k, shape, training, running, affine, momentum, eps, data):
    seed("batch_norm", shape, training, running, affine, momentum, eps, data)
    n, c = shape[:2]
    l = int(np.prod(shape[2:], dtype=np.int64))
    m = n * l  # values per channel
    if data == "normal":
        centre, spread = rng.normal(0, 2, c), rng.uniform(0.2, 3, c)
        if c >= 3:  # a variance of about 1e-6 about 0: eps (1e-5 or 1e-8) matters
            centre[-1], spread[-1] = 0.0, 1e-3
    elif data == "mean 1000":  # large against the spread: E[x^2] - E[x]^2 in float would lose every digit
        centre, spread = 1000 + rng.normal(0, 5, c), np.ones(c)
    else:  # "mean 1e6": E[x^2] - E[x]^2 would lose digits even in double (the values are steps of 1/16)
        centre, spread = 1e6 + rng.normal(0, 50, c), np.ones(c)
    statistics_only = data == "mean 1e6"  # the float mean alone moves xhat by up to 0.03: outputs are not comparable
    x = (centre[None, :, None] + spread[None, :, None] * rng.standard_normal((n, c, l))).astype(f32)
    w = rng.uniform(0.5, 1.5, c).astype(f32) if affine else None
    b = rng.normal(0, 0.5, c).astype(f32) if affine else None
    if training:
        rm0, rv0 = rng.normal(0, 1, c).astype(f32), rng.uniform(0.5, 2, c).astype(f32)
    else:  # running statistics near the data's, so that the output is of order 1
        rm0 = (centre + spread * rng.normal(0, 0.3, c)).astype(f32)
        rv0 = (spread ** 2 * rng.uniform(0.5, 2, c)).astype(f32)
    g = rng.standard_normal((n, c, l)).astype(f32)

    xb = k.array(x)
    rm, rv = (k.array(rm0), k.array(rv0)) if running else (None, None)
    wb, bb = (k.array(w), k.array(b)) if affine else (None, None)
    mean, var, factors, out = layer_batch_norm(k, xb, rm, rv, wb, bb, training, momentum, eps, n, c, l)

    ref_args = (x, shape, rm0 if running else None, rv0 if running else None, w, b, training, momentum, eps, g)
    r64, r32 = bn_reference(*ref_args, torch.float64), bn_reference(*ref_args, torch.float32)
    e, names = {}, {}  # quantity -> error; quantity -> its key in the references, for PyTorch float32's error
    if not statistics_only:
        e.update(errs("out", out.a, r64["y"]))
        names["out"] = "y"
    if training:
        e.update(mean=rel(mean.a, r64["mean"]), var=rel(var.a, r64["var"]))
        names.update(mean="mean", var="var")
    if running and training:
        e.update(runningMean=rel(rm.a, r64["rm"]), runningVar=rel(rv.a, r64["rv"]))
        names.update(runningMean="rm", runningVar="rv")
        # NormKernels.updateRunningStatistics on the kernel's mean and var
        want_rm = ((1 - momentum) * rm0.astype(np.float64) + momentum * mean.a.astype(np.float64)).astype(f32)
        want_rv = ((1 - momentum) * rv0.astype(np.float64) + momentum * var.a.astype(np.float64) * (m / (m - 1))).astype(f32)
        e["running cpu#"] = bit_mismatches(rm.a, want_rm) + bit_mismatches(rv.a, want_rv)
    if running and not training:
        e["running unchanged#"] = bit_mismatches(rm.a, rm0) + bit_mismatches(rv.a, rv0)
    sc, sh = cpu_factors(mean.a, var.a, w, b, eps)  # the CPU's arithmetic, given the kernel's statistics
    e["factors cpu#"] = bit_mismatches(factors.a, np.concatenate([sc, sh]))
    e["out cpu#"] = bit_mismatches(out.a, x * sc[None, :, None] + sh[None, :, None])

    if not statistics_only:
        gb = k.array(g)
        for mode_w, mode_b, want_dx in BN_RUNS_AFFINE if affine else [(None, None, True)]:
            start_w, start_b = rng.standard_normal(c).astype(f32), rng.standard_normal(c).astype(f32)
            sink = lambda mode, start: None if mode is None else k.array(start) if mode == "+=" else k.empty(c)
            dw, db = sink(mode_w, start_w), sink(mode_b, start_b)
            dx = layer_batch_norm_backward(k, gb, xb, mean, var, wb, dw, db, mode_w == "+=", mode_b == "+=", want_dx,
                                           training, eps, n, c, l)
            if dx is not None:
                e["dx"] = max(e.get("dx", 0.0), rel(dx.a, r64["dx"]))
            for got, mode, start, q, r in ((dw, mode_w, start_w, "dweight", "dw"), (db, mode_b, start_b, "dbias", "db")):
                if got is not None:
                    name = q + ("+=" if mode == "+=" else "")
                    e[name] = max(e.get(name, 0.0), rel(got.a, r64[r] + (start if mode == "+=" else 0)))
        names.update({"dx": "dx", "dweight": "dw", "dbias": "db"} if affine else {"dx": "dx"})
    t32 = {q: rel(r32[r], r64[r]) for q, r in names.items()}
    # 1e-5, or the float arithmetic's own bound where that is larger (bn_float_bounds): mean 1000, two values a channel
    xs = x.astype(np.float64)
    mu, v = (xs.mean(axis=(0, 2)), xs.var(axis=(0, 2))) if training else (rm0.astype(np.float64), rv0.astype(np.float64))
    bounds = bn_float_bounds(x, g, mu, v, w, b, training, eps)
    bounds["dweight+="] = bounds["dweight"]
    tolerances = {q: max(check.TOLERANCE, bound) for q, bound in bounds.items() if q in e}
    loose = ", ".join(f"{q} {t:.1e}" for q, t in tolerances.items() if t > check.TOLERANCE)
    desc = ("train" if training else "eval") + (f" running m={momentum:g}" if running and training else " running" if running
                                                else " no running") + (" affine" if affine else "") + f" eps={eps:g}"
    what = "statistics" if statistics_only else "forward + backward" + (" (dw/db: +=/=, =/null no dx, null/+=)" if affine else "")
    if loose and training and m == 2:
        loose += " (two values a channel: xhat = +-1 whatever x, dx is 0 but for eps)"
    report(f"batch_norm {list(shape)} {desc}" + ("" if data == "normal" else f" [{data}]") + f" {what}", e, t32, tolerances,
           note=f"float bound: {loose}" if loose else "")


# ----------------------------------------------------------------------------------------------------
# Optimizers: SGD and Adam / AdamW through OptimKernels (tables of 32), against torch.optim in float64

# 37 parameters: tables of 32 and 5; sizes of 1, of 2048 (one whole block), of more (several blocks), of 0 (no block:
# one at the start of the second table and one last)
OPT_SIZES = [1, 2048, 2049, 5000, 0, 3, 4096, 1, 17, 300, 2047, 6145, 1, 2, 5, 64, 65, 33, 1000, 255, 256, 257,
             1, 9, 4097, 10, 11, 12, 13, 14, 15, 16, 0, 2050, 1, 700, 0]
LATE = {3, 33}  # no gradient at the first step (Optimizer.step leaves them out): their state starts a step later


def opt_params(sizes):
    p0 = [(0.5 * rng.standard_normal(n)).astype(f32) for n in sizes]
    # the third step's gradients 100 times smaller: the second moment v falls, so that amsgrad's running maximum matters
    grads = [[(rng.standard_normal(n) * rng.uniform(0.1, 2) * scale).astype(f32) for n in sizes] for scale in (1, 1, 0.01, 1)]
    return p0, grads


def torch_run(make, p0, grads, dt, late):
    ps = [torch.tensor(p, dtype=dt) for p in p0]
    opt = make(ps)
    for step, gs in enumerate(grads):
        for i, p in enumerate(ps):
            p.grad = None if (step == 0 and i in late) else torch.tensor(gs[i], dtype=dt)
        opt.step()
    return ps, opt


def per_param(got, ref, sizes):
    """The worst relative error over the parameters (of at least one value)."""
    return max((rel(g, r) for g, r, n in zip(got, ref, sizes) if n), default=0.0)


def all_params(got, ref):
    """The relative error over all parameters together: for the change of p over the steps, which may be near 0 for
    a small parameter, where the float32 rounding of p (half an ulp of p at each step) would then dominate."""
    return rel(np.concatenate([np.asarray(g, np.float64).reshape(-1) for g in got]),
               np.concatenate([np.asarray(r, np.float64).reshape(-1) for r in ref]))


def check_sgd(k, sizes, label, late):
    lr = 0.05
    configs = [dict(momentum=0.0), dict(momentum=0.9), dict(momentum=0.9, weight_decay=1e-2, dampening=0.1),
               dict(momentum=0.9, nesterov=True, weight_decay=1e-3), dict(momentum=0.0, weight_decay=0.1),
               dict(momentum=0.5, dampening=0.5, nesterov=False)]
    for cfg in configs:
        seed("sgd", label, tuple(sorted(cfg.items())))
        p0, grads = opt_params(sizes)
        momentum, dampening = f32(cfg.get("momentum", 0)), f32(cfg.get("dampening", 0))  # SGD's float fields
        wd, nesterov = f32(cfg.get("weight_decay", 0)), cfg.get("nesterov", False)
        params = [k.array(p) for p in p0]
        bufs = {}
        for step, gs in enumerate(grads):  # SGD.updateGroup
            entries = []
            for i, n in enumerate(sizes):
                if step == 0 and i in late:
                    continue
                first = momentum != 0 and i not in bufs
                if momentum != 0 and i not in bufs:
                    bufs[i] = k.array(np.zeros(n, f32))  # Tensor.zeros
                buf = bufs.get(i)
                g = k.array(gs[i])
                entries.append(Entry(params[i].ptr, g.ptr, buf.ptr if buf else 0, 0, 0, 0.0, 0.0, n, first))
                keep.append(g)  # the gradients stay alive until the launch (SGD's `kept`)
            k.optim_launch("kiln_sgd", entries, f32(lr), momentum, dampening, wd, int(nesterov))
            keep.clear()

        def make(ps):
            return torch.optim.SGD(ps, lr=lr, **cfg)

        r64, o64 = torch_run(make, p0, grads, torch.float64, late)
        r32, o32 = torch_run(make, p0, grads, torch.float32, late)
        ref_p = [p.numpy() for p in r64]
        e = {"p": per_param([b.a for b in params], ref_p, sizes),
             "delta p": all_params([b.a - p for b, p in zip(params, p0)], [r - p for r, p in zip(ref_p, p0)])}
        t32 = {"p": per_param([p.numpy() for p in r32], ref_p, sizes),
               "delta p": all_params([p.numpy() - q for p, q in zip(r32, p0)], [r - q for r, q in zip(ref_p, p0)])}
        if momentum != 0:
            rb = [o64.state[p]["momentum_buffer"].numpy() for p in r64]
            e["momentum_buffer"] = per_param([bufs[i].a for i in range(len(sizes))], rb, sizes)
            t32["momentum_buffer"] = per_param([o32.state[p]["momentum_buffer"].numpy() for p in r32], rb, sizes)
        desc = ", ".join(f"{a}={v}" for a, v in cfg.items())
        report(f"sgd {label} ({desc}) 4 steps", e, t32)


def check_adam(k, sizes, label, late):
    lr = 1e-2
    configs = [("Adam", dict()), ("Adam", dict(weight_decay=1e-2, amsgrad=True)), ("AdamW", dict(weight_decay=1e-2)),
               ("AdamW", dict(weight_decay=0.1, amsgrad=True, betas=(0.8, 0.99), eps=1e-6)),
               ("Adam", dict(betas=(0.5, 0.9), eps=1e-3, amsgrad=False))]
    for kind, cfg in configs:
        seed(kind, label, tuple(sorted(cfg.items())))
        p0, grads = opt_params(sizes)
        beta1, beta2 = cfg.get("betas", (0.9, 0.999))
        eps, wd, amsgrad = cfg.get("eps", 1e-8), cfg.get("weight_decay", 0.0), cfg.get("amsgrad", False)
        decoupled = kind == "AdamW"
        if decoupled:
            cfg.setdefault("weight_decay", 0.0)  # torch's AdamW defaults to 1e-2; Kiln's AdamW is given it
        params = [k.array(p) for p in p0]
        state = {}  # i -> [t, m, v, vmax]
        for step, gs in enumerate(grads):  # AdamBase.updateGroup
            entries = []
            for i, n in enumerate(sizes):
                if step == 0 and i in late:
                    continue
                s = state.setdefault(i, [0, k.array(np.zeros(n, f32)), k.array(np.zeros(n, f32)), None])
                if amsgrad and s[3] is None:
                    s[3] = k.array(np.zeros(n, f32))
                s[0] += 1
                t = s[0]
                g = k.array(gs[i])
                keep.append(g)
                entries.append(Entry(params[i].ptr, g.ptr, s[1].ptr, s[2].ptr, s[3].ptr if s[3] else 0,
                                     f32(lr / (1 - beta1 ** t)), f32(np.sqrt(1 - beta2 ** t)), n, False))
            l2 = f32(0) if decoupled else f32(wd)
            shrink = f32(1 - lr * wd) if decoupled else f32(1)
            k.optim_launch("kiln_adam", entries, f32(beta1), f32(beta2), f32(1 - beta1), f32(1 - beta2), l2, shrink, f32(eps))
            keep.clear()

        def make(ps):
            return (torch.optim.AdamW if decoupled else torch.optim.Adam)(ps, lr=lr, **cfg)

        r64, o64 = torch_run(make, p0, grads, torch.float64, late)
        r32, o32 = torch_run(make, p0, grads, torch.float32, late)
        ref_p = [p.numpy() for p in r64]
        e = {"p": per_param([b.a for b in params], ref_p, sizes),
             "delta p": all_params([b.a - p for b, p in zip(params, p0)], [r - p for r, p in zip(ref_p, p0)])}
        t32 = {"p": per_param([p.numpy() for p in r32], ref_p, sizes),
               "delta p": all_params([p.numpy() - q for p, q in zip(r32, p0)], [r - q for r, q in zip(ref_p, p0)])}
        for q, key, at in (("exp_avg", "exp_avg", 1), ("exp_avg_sq", "exp_avg_sq", 2), ("max_exp_avg_sq", "max_exp_avg_sq", 3)):
            if at == 3 and not amsgrad:
                continue
            ref = [o64.state[p][key].numpy() for p in r64]
            e[q] = per_param([state[i][at].a for i in range(len(sizes))], ref, sizes)
            t32[q] = per_param([o32.state[p][key].numpy() for p in r32], ref, sizes)
        desc = ", ".join(f"{a}={v}" for a, v in cfg.items())
        report(f"{kind.lower()} {label} ({desc}) 4 steps", e, t32)


def check_tables(k, classpath, workdir):
    """The C struct's layout (offsetof, sizeof with g++) against OptimKernels.Table's offsets, and the bytes Java's
    Table writes against those this script's table() wrote, for every list launched."""
    src = open(os.path.join(workdir, "Optim.cu")).read()
    body = re.search(r"struct kiln_param_list \{.*?\n\};", src, re.S).group(0)
    defines = "\n".join(re.findall(r"^#define KILN_\w+ .*$", src, re.M))
    prog = os.path.join(workdir, "layout.cpp")
    with open(prog, "w") as f:
        f.write(f"#include <cstddef>\n#include <cstdio>\n{defines}\n{body}\nint main() {{\n")
        for field in ("p", "g", "a", "b", "c", "s0", "s1", "n", "flag", "start", "count"):
            f.write(f'  std::printf("{field.upper()}=%zu\\n", offsetof(kiln_param_list, {field}));\n')
        f.write('  std::printf("BYTES=%zu\\n", sizeof(kiln_param_list));\n}\n')
    subprocess.run(["g++", "-std=c++20", "-o", prog[:-4], prog], check=True)
    c_layout = dict(line.split("=") for line in subprocess.run([prog[:-4]], capture_output=True, text=True, check=True).stdout.split())
    differ = [f"{name}: C {v}, Java {k.c['OptimKernels.Table.' + name]}" for name, v in c_layout.items()
              if int(v) != k.c["OptimKernels.Table." + name]]
    for d in differ:
        print("  layout:", d)
    report("kiln_param_list layout: offsetof/sizeof (g++) vs OptimKernels.Table", {"fields differing#": len(differ)},
           note=f"{len(c_layout)} fields")
    if not classpath:
        check.rows_out.append(("OptimKernels.Table bytes (Java) vs this script's", None, "", True, None, "skipped: no classpath"))
        return
    spec = os.path.join(workdir, "tables.spec")
    with open(spec, "w") as f:
        for entries, _ in k.tables:
            f.write(";".join(f"{e.p},{e.g},{e.a},{e.b},{e.c},{f32(e.s0).view(np.int32)},{f32(e.s1).view(np.int32)},{e.n},"
                             f"{int(bool(e.first))}" for e in entries) + "\n")
    here = os.path.dirname(os.path.abspath(__file__))
    run = subprocess.run(["java", "-cp", classpath, os.path.join(here, "RuntimeSources.java"), "tables", spec],
                         capture_output=True, text=True)
    if run.returncode != 0:
        print(run.stderr, file=sys.stderr)
        check.rows_out.append(("OptimKernels.Table bytes (Java, JavaCPP) vs this script's", None, "", False, None,
                               "RuntimeSources.java tables failed (above)"))
        return
    out = run.stdout.split("\n")
    java = collections.defaultdict(list)
    for line in filter(None, out):
        li, _, blocks, hexbytes = line.split()
        java[int(li)].append((int(blocks), bytes.fromhex(hexbytes)))
    mism_bytes = mism_blocks = tables = 0
    for li, (_, made) in enumerate(k.tables):
        theirs = java.get(li, [])
        if len(theirs) != len(made):
            mism_blocks += 1
        for (b1, t1), (b2, t2) in zip(made, theirs):
            tables += 1
            mism_blocks += b1 != b2
            mism_bytes += sum(x != y for x, y in zip(t1, t2)) + abs(len(t1) - len(t2))
    report("OptimKernels.Table bytes (Java, JavaCPP) vs this script's", {"bytes#": mism_bytes, "tables or blocks#": mism_blocks},
           note=f"{tables} tables of {len(k.tables)} launches")


# ----------------------------------------------------------------------------------------------------
# Element-wise math: exp, log, sqrt, abs, neg, pow, launched as CudaOps does (forward, then backward from the
# input or the output), against float64; the forwards also bit for bit against the CPU's formula (double, rounded
# once: MathKernels)

def check_math(k):
    with np.errstate(all="ignore"):
        for n in (1, 1000, 4099):
            seed("math", n)
            x = (2 * rng.standard_normal(n)).astype(f32)
            pos = rng.uniform(0.05, 5.0, n).astype(f32)
            g = rng.standard_normal(n).astype(f32)
            x[: min(n, len(SPECIALS))] = SPECIALS[: min(n, len(SPECIALS))]
            cases = [  # name, input, forward kernel args, reference y(x64), backward kernel, from ("x"/"y"), dx(x64, g64)
                ("exp", x, (), np.exp, "mul", "y", lambda a, gg: gg * np.exp(a)),
                ("log", pos, (), np.log, "log_backward", "x", lambda a, gg: gg / a),
                ("sqrt", pos, (), np.sqrt, "sqrt_backward", "y", lambda a, gg: gg / (2 * np.sqrt(a))),
                ("abs", x, (), np.abs, "abs_backward", "x", lambda a, gg: gg * np.sign(a)),
                ("neg", x, (), np.negative, "neg", None, lambda a, gg: -gg),
            ]
            for e in (3.0, -1.5, 0.0):
                base = x if e == 3.0 or e == 0.0 else pos
                cases.append((f"pow {e}", base, (f32(e),), lambda a, e=e: np.power(a, e), "pow_backward", "x",
                              lambda a, gg, e=e: np.zeros_like(a) if e == 0 else gg * e * np.power(a, e - 1)))
            for name, xin, extra, fref, bwd, src, dref in cases:
                kname = "neg" if name == "neg" else name.split()[0] + "_forward"
                xb, gb, y, dx = k.array(xin), k.array(g), k.empty(n), k.empty(n)
                k.pointwise(kname, n, y, xb, *extra, n)
                if bwd == "mul":
                    k.pointwise("mul", n, dx, gb, y, n)
                elif bwd == "neg":
                    k.pointwise("neg", n, dx, gb, n)
                else:
                    k.pointwise(bwd, n, dx, gb, xb if src == "x" else y, *extra, n)
                x64, g64 = xin.astype(np.float64), g.astype(np.float64)
                cpu = fref(x64).astype(f32)  # MathKernels: the double result rounded once
                report(f"{name} n={n}", {**errs("y", y.a, in_float_range(fref(x64))),
                                         **errs("dx", dx.a, in_float_range(dref(x64, g64))),
                                         "y cpu#": bit_mismatches(y.a, cpu)})
            # std (CudaOps.sqrtOfVariance): sqrt forward, then kiln_std_backward from the output: sqrt's gradient,
            # 0 where the standard deviation is 0 (a constant row) even for an infinite incoming gradient
            var = pos.copy()
            var[::3] = 0
            gi = g.copy()
            gi[: min(n, 2)] = np.inf
            vb, gb, y, dx = k.array(var), k.array(gi), k.empty(n), k.empty(n)
            k.pointwise("sqrt_forward", n, y, vb, n)
            k.pointwise("std_backward", n, dx, gb, y, n)
            v64, g64 = var.astype(np.float64), gi.astype(np.float64)
            want = np.where(v64 == 0, 0.0, g64 / (2 * np.sqrt(v64)))
            cpu = np.where(y.a == 0, f32(0), gi / (f32(2) * y.a)).astype(f32)  # MathKernels.stdBackward
            report(f"std n={n}", {**errs("dx", dx.a, in_float_range(want)), "dx cpu#": bit_mismatches(dx.a, cpu)})


def check_along(k):
    """kiln_sum_along / kiln_spread_along as CudaOps.reduceAlong launches them: bit for bit the CPU's double sum in
    its order (MathKernels.sumAlong: a row of inner == 1 over sum8's eight accumulators, a column of inner > 1 in
    index order), and the spread gradient exactly."""
    for outer, size, inner in ((1, 1, 1), (5, 7, 33), (1, 4099, 1), (1000, 3, 1), (6, 8, 1), (7, 63, 1), (4, 17, 1),
                               (3, 0, 4), (2, 5, 0), (0, 3, 2)):
        for factor in (f32(1), f32(1) / f32(max(size, 1))):
            seed("along", outer, size, inner, float(factor))
            x = rng.standard_normal((outer, size, inner)).astype(f32)
            if (outer, size, inner) == (4, 17, 1):  # 2^60 + x1 loses x1 in index order, not in the eight lanes
                x[:, 0, 0], x[:, 8, 0] = f32(2.0 ** 60), f32(-2.0 ** 60)
            g = rng.standard_normal((outer, inner)).astype(f32)
            out, dx = k.empty(outer * inner), k.empty(outer * size * inner)
            if outer * inner > 0:
                k.launch1d(k.ew, "kiln_sum_along", outer * inner, out, k.array(x.reshape(-1)), outer, size, inner, factor)
            if outer * size * inner > 0:
                k.launch1d(k.ew, "kiln_spread_along", outer * size * inner, dx, k.array(g.reshape(-1)), size, inner, factor,
                           outer * size * inner)
            if inner == 1:  # MathKernels.sum8: value k of the first 8 * (size // 8) into s[k % 8], the rest into s[0]
                s8 = np.zeros((8, outer), np.float64)
                whole = size // 8 * 8
                for kk in range(size):
                    s8[kk % 8 if kk < whole else 0] += x[:, kk, 0].astype(np.float64)
                acc = (((s8[0] + s8[1]) + (s8[2] + s8[3])) + ((s8[4] + s8[5]) + (s8[6] + s8[7])))[:, None]
            else:
                acc = np.zeros((outer, inner), np.float64)
                for kk in range(size):  # index order, in double
                    acc += x[:, kk, :].astype(np.float64)
            want = (acc * np.float64(factor)).astype(f32)
            spread = np.repeat((g * factor)[:, None, :], size, axis=1).astype(f32)
            report(f"sum_along [{outer}, {size}, {inner}] factor={float(factor):.4g}",
                   {**errs("out", out.a, acc * np.float64(factor)), "out cpu#": bit_mismatches(out.a, want),
                    "dx#": bit_mismatches(dx.a, spread)})


def check_lines(k):
    """The long-line reductions ElementwiseKernels launches by IndexKernels.lineGroup's groups (kiln_sum_lines,
    kiln_variance_lines, kiln_where_lines_backward; cross-entropy's rows in check_cross_entropy): against float64, and
    the same bits from a second launch."""
    for outer, size, inner in ((3, 33, 1), (2, 1025, 1), (1, 50001, 1), (2, 40, 3), (1, 1100, 5)):
        group = k.line_group(outer * inner, size, inner)
        assert group > 1
        seed("sum_lines", outer, size, inner)
        x = rng.standard_normal((outer, size, inner)).astype(f32)
        factor = f32(1) / f32(size)
        xb, outs = k.array(x.reshape(-1)), [k.empty(outer * inner) for _ in range(2)]
        for out in outs:
            k.launch_lines("kiln_sum_lines", outer * inner, group, out, xb, size, inner, outer * inner, group, factor)
        report(f"sum_lines [{outer}, {size}, {inner}] group {group}",
               {**errs("out", outs[0].a, x.astype(np.float64).sum(1).reshape(-1) * np.float64(factor)),
                "repeat#": bit_mismatches(outs[0].a, outs[1].a)})
    # runs padded to nine (kept, reduced, ..., kept): batch norm's [1, N, C, H*W, 1], a reduced first dimension, four runs
    for runs in ((1, 1, 1, 1, 1, 4, 3, 400, 1), (1, 1, 1, 1, 1, 1, 1, 700, 6), (2, 3, 1, 5, 2, 1, 1, 17, 3),
                 (1, 1, 1, 1, 1, 1, 2, 33, 1)):
        outputs = runs[0] * runs[2] * runs[4] * runs[6] * runs[8]
        count = runs[1] * runs[3] * runs[5] * runs[7]
        group = k.line_group(outputs, count, runs[8])
        assert group > 1
        seed("variance_lines", *runs)
        x = (rng.standard_normal(runs) + 100).astype(f32)
        x64 = x.astype(np.float64)
        want = x64.var(axis=(1, 3, 5, 7), ddof=1).reshape(-1)
        xb = k.array(x.reshape(-1))
        got = [(k.empty(outputs), k.empty(outputs)) for _ in range(2)]
        for out, mean in got:
            k.launch_lines("kiln_variance_lines", outputs, group, out, mean, xb, outputs, *runs, count - 1, group)
        report(f"variance_lines runs {list(runs)} group {group}",
               {**errs("var", got[0][0].a, want), **errs("mean", got[0][1].a, x64.mean(axis=(1, 3, 5, 7)).reshape(-1)),
                "repeat#": bit_mismatches(got[0][0].a, got[1][0].a)})
    for m, repeats, nc in ((1, 5000, 5000), (4, 33, 4), (6, 1025, 6 * 1025), (3, 2000, 1)):
        n = m * repeats
        group = k.line_group(m, repeats, m)
        assert group > 1
        seed("where_lines", m, repeats, nc)
        g = rng.standard_normal(n).astype(f32)
        c = (rng.standard_normal(nc) > 0).astype(f32)
        for taken in (1, 0):
            chosen = (np.resize(c, n) != 0) == bool(taken)
            want = np.where(chosen, g.astype(np.float64), 0).reshape(repeats, m).sum(0)
            outs = [k.empty(m) for _ in range(2)]
            gb, cb = k.array(g), k.array(c)
            for dx in outs:
                k.launch_lines("kiln_where_lines_backward", m, group, dx, gb, cb, nc, m, taken, n, group)
            report(f"where_lines_backward m={m} repeats={repeats} nc={nc} taken={taken} group {group}",
                   {**errs("dx", outs[0].a, want), "repeat#": bit_mismatches(outs[0].a, outs[1].a)})


def check_transpose(k):
    for rows, cols in ((1, 1), (1, 7), (37, 301), (300, 2), (0, 5)):
        seed("transpose", rows, cols)
        x = rng.standard_normal((rows, cols)).astype(f32)
        out = k.empty(rows * cols)
        if rows * cols > 0:
            k.launch1d(k.ew, "kiln_transpose", rows * cols, out, k.array(x.reshape(-1)), rows, cols)
        report(f"transpose {rows}x{cols}", {"out#": bit_mismatches(out.a, x.T.reshape(-1))})


def in_float_range(ref):
    """A float64 reference whose values beyond float32's range are the infinity a float result overflows to."""
    r = np.asarray(ref, np.float64)
    return np.where(np.abs(r) > np.finfo(f32).max, np.copysign(np.inf, r), r)


# ----------------------------------------------------------------------------------------------------
# Dropout: the mask drawn on the device from the host generator's SplitMix64 stream

M64 = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15


def mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def draw(start, i):
    """Generator.doubleAt(start, i): the i-th nextDouble() after state start."""
    return (mix64((start + (i + 1) * GAMMA) & M64) >> 11) * 2.0 ** -53


def java_long(u):
    return u - (1 << 64) if u >= 1 << 63 else u


def check_dropout(k):
    # The reference is pinned to Java: new SplittableRandom(42).nextDouble() three times (Generator's draws).
    want = [4604854642168692077, 4594929399376720760, 4598690451703514086]
    got = [double_bits(draw(42, i)) for i in range(3)]
    report("dropout reference vs SplittableRandom(42)", {"draws#": sum(a != b for a, b in zip(got, want))})
    for n in (1, 700, 4099):
        for start in (0, 42, java_long(0xDEADBEEFCAFEBABE), java_long(M64 - 5 * GAMMA % (1 << 64))):
            for p in (0.0, 0.25, 0.5, 1.0 - 1e-7, 1.0):
                seed("dropout", n, start & 0xFFFF, p)
                x = (2 * rng.standard_normal(n)).astype(f32)
                x[: min(n, len(SPECIALS))] = SPECIALS[: min(n, len(SPECIALS))]
                keep = f32(np.float64(1.0) / (np.float64(1.0) - np.float64(p))) if p < 1 else f32(np.inf)
                ref_mask = np.array([f32(0) if draw(start & M64, i) < p else keep for i in range(n)], dtype=f32)
                out, mask = k.empty(n), k.empty(n)
                k.pointwise("dropout", n, out, mask, k.array(x), start, double_bits(p), keep, n)
                with np.errstate(all="ignore"):
                    ref_out = x * ref_mask
                report(f"dropout n={n} start={start} p={p}",
                       {"mask bits#": bit_mismatches(mask.a, ref_mask), "out bits#": bit_mismatches(out.a, ref_out)},
                       note=f"kept {int(np.count_nonzero(ref_mask))}/{n}")


# ----------------------------------------------------------------------------------------------------

def main():
    workdir = sys.argv[1]
    classpath = sys.argv[2] if len(sys.argv) > 2 else None
    torch.set_num_threads(1)
    constants = {}
    for line in open(os.path.join(workdir, "constants.txt")):
        name, value = line.strip().split("=")
        constants[name] = int(value)
    k = Kiln(workdir, constants)
    sections = [("core", check_core), ("activations", check_activations), ("arithmetic", check_arithmetic),
                ("sums", check_sums), ("softmax", check_softmax), ("cross-entropy", check_cross_entropy),
                ("losses", check_losses), ("max pooling", check_max_pool), ("bn", check_batch_norm),
                ("math", check_math), ("along", check_along), ("lines", check_lines), ("transpose", check_transpose), ("dropout", check_dropout),
                ("sgd", lambda k: check_sgd(k, OPT_SIZES, "37 params", LATE)),
                ("sgd", lambda k: check_sgd(k, [5] * 32 + [0], "32 + one empty", set())),
                ("adam", lambda k: check_adam(k, OPT_SIZES, "37 params", LATE)),
                ("adam", lambda k: check_adam(k, [5] * 32 + [0], "32 + one empty", set())),
                ("tables", lambda k: check_tables(k, classpath, workdir))]
    only = os.environ.get("ONLY")
    for name, fn in sections:
        if only and name not in only.split(","):
            continue
        print(f"{name} ...", flush=True)
        fn(k)
    kernels = set(k.core.kernels) | set(k.ew.kernels) | set(k.opt.kernels) | set(k.bn.kernels)
    unlaunched = sorted(kernels - set(k.launches))
    if not only:
        check.rows_out.append(("every kernel of the four sources launched", len(unlaunched), "unlaunched#", not unlaunched,
                               None, " ".join(unlaunched)))
    return check.print_table()


if __name__ == "__main__":
    sys.exit(main())
