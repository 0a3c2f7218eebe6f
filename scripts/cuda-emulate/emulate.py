"""Runs CUDA C kernels on the CPU: compiles a source with cuda_shim.h and generated launch wrappers
(g++ -O1 -ffp-contract=off) into a shared library and launches its kernels through ctypes.

Device memory is emulated by Buffers: numpy arrays with guard zones on both sides that must stay
untouched (a write out of bounds is an error) and, when made with empty(), filled with a NaN pattern,
as cudaMalloc'd memory is garbage (a read out of bounds, or of something never written, shows as NaN).
"""
import ctypes
import hashlib
import os
import re
import subprocess
import weakref

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
KERNEL = re.compile(r'extern "C" __global__ void (\w+)\s*\(([^)]*)\)')
FUNCTION = re.compile(r'(?:__device__|__global__)[^;{]*?\b(\w+)\s*\([^)]*\)\s*\{')
GUARD = 64
POISON = 0x7FA5A5A5  # as float32 a NaN; as int32 (argmax) an index past every plane


class Buffer:
    """Emulated device memory of `n` float32 or int32 values between two guard zones."""

    def __init__(self, n, dtype, fill=None):
        self.dtype = np.dtype(dtype)
        self.store = np.empty(n + 2 * GUARD, self.dtype)
        self.store.view(np.int32)[:] = POISON
        self.a = self.store[GUARD:GUARD + n]  # the contents
        if fill is not None:
            self.a[:] = np.asarray(fill, self.dtype).reshape(-1)
        self.ptr = self.store.ctypes.data + GUARD * self.dtype.itemsize

    def guards_intact(self):
        bits = self.store.view(np.int32)
        return bool((bits[:GUARD] == POISON).all() and (bits[-GUARD:] == POISON).all())


class Module:
    """The kernels of one CUDA C source, compiled for the CPU."""

    def __init__(self, name, text, workdir):
        self.name = name
        self.buffers = weakref.WeakSet()
        self.kernels = {k: self._params(p) for k, p in KERNEL.findall(text)}
        syncing = self._syncing(text)
        wrappers = [f'#include "{os.path.join(HERE, "cuda_shim.h")}"', f'#include "{name}.cu"']
        for k, params in self.kernels.items():
            decl = ", ".join(f"{t} {n}" for t, n in params)
            call = ", ".join(n for _, n in params)
            wrappers.append(f'extern "C" int launch_{k}(int grid, int block, {decl}) {{\n'
                            f'  return kiln_emu_launch(grid, block, {str(k in syncing).lower()}, [&] {{ {k}({call}); }});\n}}')
        cpp = "\n".join(wrappers) + "\n"
        key = hashlib.sha1((text + cpp + open(os.path.join(HERE, "cuda_shim.h")).read()).encode()).hexdigest()[:12]
        so = os.path.join(workdir, f"{name}-{key}.so")
        if not os.path.exists(so):
            with open(os.path.join(workdir, f"{name}.cu"), "w") as f:
                f.write(text)
            with open(os.path.join(workdir, f"{name}-launch.cpp"), "w") as f:
                f.write(cpp)
            subprocess.run(["g++", "-std=c++20", "-O1", "-ffp-contract=off", "-fPIC", "-shared", "-pthread", "-w",
                            "-I", workdir, "-o", so + ".tmp", os.path.join(workdir, f"{name}-launch.cpp")], check=True)
            os.replace(so + ".tmp", so)
        self.lib = ctypes.CDLL(so)
        for k, params in self.kernels.items():
            fn = getattr(self.lib, "launch_" + k)
            fn.restype = ctypes.c_int
            fn.argtypes = [ctypes.c_int, ctypes.c_int] + [self._ctype(t) for t, _ in params]

    @staticmethod
    def _params(text):
        out = []
        for p in text.split(","):
            m = re.fullmatch(r"\s*(.*?[\s*])(\w+)\s*", p)
            out.append((" ".join(m.group(1).split()), m.group(2)))
        return out

    @staticmethod
    def _ctype(t):
        if "*" in t:
            return ctypes.c_void_p
        return {"long long": ctypes.c_longlong, "int": ctypes.c_int, "float": ctypes.c_float}[t]

    @staticmethod
    def _syncing(text):
        """The functions that call __syncthreads, directly or through other functions of the source."""
        bodies, starts = {}, [(m.start(), m.group(1)) for m in FUNCTION.finditer(text)]
        for i, (at, fname) in enumerate(starts):
            bodies[fname] = text[at:starts[i + 1][0] if i + 1 < len(starts) else len(text)]
        syncing = {f for f, b in bodies.items() if "__syncthreads" in b}
        while True:
            more = {f for f, b in bodies.items() if f not in syncing and any(re.search(rf"\b{s}\s*\(", b) for s in syncing)}
            if not more:
                return syncing
            syncing |= more

    def array(self, values, dtype=np.float32):
        b = Buffer(np.asarray(values).size, dtype, values)
        self.buffers.add(b)
        return b

    def empty(self, n, dtype=np.float32):
        b = Buffer(n, dtype)
        self.buffers.add(b)
        return b

    def launch(self, kernel, grid, block, *args):
        params = self.kernels[kernel]
        if len(args) != len(params):
            raise TypeError(f"{kernel}: {len(args)} arguments for {len(params)} parameters")
        cargs = []
        for (t, pname), a in zip(params, args):
            if "*" in t:
                if a is not None and not isinstance(a, Buffer):
                    raise TypeError(f"{kernel}({pname}): a Buffer or None, got {type(a).__name__}")
                if a is not None and a.dtype != (np.int32 if t.replace("const ", "") == "int*" else np.float32):
                    raise TypeError(f"{kernel}({pname}): {t} given a {a.dtype} buffer")
                cargs.append(None if a is None else a.ptr)
            else:
                if not isinstance(a, (int, np.integer)):
                    raise TypeError(f"{kernel}({pname}): {t} given {type(a).__name__}")
                cargs.append(int(a))
        if getattr(self.lib, "launch_" + kernel)(grid, block, *cargs) != 0:
            raise RuntimeError(f"{kernel}: the threads of a block passed different numbers of __syncthreads")
        for b in self.buffers:
            if not b.guards_intact():
                raise RuntimeError(f"{kernel}: wrote outside a buffer")

    def launch1d(self, kernel, count, *args):
        """CudaKernel.launch1d: blocks of 256 threads covering count."""
        self.launch(kernel, (count + 255) // 256, 256, *args)
