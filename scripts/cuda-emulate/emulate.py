"""Runs CUDA C kernels on the CPU: compiles a source with cuda_shim.h and generated launch wrappers
(g++ -O1 -ffp-contract=off) into a shared library and launches its kernels through ctypes.

Kernel parameters: pointers take Buffers (float*, int*, double*: float32, int32, float64) or None; int and
long long take ints, float takes a float (passed as float32); any other type is a struct passed by value,
given as its bytes (the wrapper copies them into the parameter at the launch, as the driver does, and checks
their length against sizeof). Grids are an int or (gridX, gridY).

KILN_EMU_CONTRACT=1 in the environment compiles with -O2 -ffp-contract=fast -mfma instead: g++ then fuses a * b + c
into one rounding where it can, as NVRTC does by default (--fmad=true), though not necessarily at the same places.

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
        threaded = self._threaded(text)
        wrappers = [f'#include "{os.path.join(HERE, "cuda_shim.h")}"', f'#include "{name}.cu"']
        self.structs = sorted({t for params in self.kernels.values() for t, _ in params if self._is_struct(t)})
        for t in self.structs:
            wrappers.append(f'extern "C" long long kiln_emu_sizeof_{t}() {{ return sizeof({t}); }}')
        for k, params in self.kernels.items():
            decl = ", ".join(f"const {t}* {n}_bytes" if self._is_struct(t) else f"{t} {n}" for t, n in params)
            copies = "".join(f"  {t} {n} = *{n}_bytes;\n" for t, n in params if self._is_struct(t))
            call = ", ".join(n for _, n in params)
            wrappers.append(f'extern "C" int launch_{k}(int gridX, int gridY, int block, {decl}) {{\n{copies}'
                            f'  return kiln_emu_launch(gridX, gridY, block, {str(k in threaded).lower()}, [&] {{ {k}({call}); }});\n}}')
        cpp = "\n".join(wrappers) + "\n"
        fp = ["-O2", "-ffp-contract=fast", "-mfma"] if os.environ.get("KILN_EMU_CONTRACT") == "1" else ["-O1", "-ffp-contract=off"]
        key = hashlib.sha1((text + cpp + open(os.path.join(HERE, "cuda_shim.h")).read() + " ".join(fp)).encode()).hexdigest()[:12]
        so = os.path.join(workdir, f"{name}-{key}.so")
        if not os.path.exists(so):
            with open(os.path.join(workdir, f"{name}.cu"), "w") as f:
                f.write(text)
            with open(os.path.join(workdir, f"{name}-launch.cpp"), "w") as f:
                f.write(cpp)
            subprocess.run(["g++", "-std=c++20", *fp, "-fPIC", "-shared", "-pthread", "-w",
                            "-I", workdir, "-o", so + ".tmp", os.path.join(workdir, f"{name}-launch.cpp")], check=True)
            os.replace(so + ".tmp", so)
        self.lib = ctypes.CDLL(so)
        self.sizeof = {}
        for t in self.structs:
            fn = getattr(self.lib, "kiln_emu_sizeof_" + t)
            fn.restype = ctypes.c_longlong
            self.sizeof[t] = fn()
        for k, params in self.kernels.items():
            fn = getattr(self.lib, "launch_" + k)
            fn.restype = ctypes.c_int
            fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int] + [self._ctype(t) for t, _ in params]

    @staticmethod
    def _params(text):
        out = []
        for p in text.split(","):
            m = re.fullmatch(r"\s*(.*?[\s*])(\w+)\s*", p)
            out.append((" ".join(m.group(1).split()), m.group(2)))
        return out

    SCALARS = {"long long": ctypes.c_longlong, "int": ctypes.c_int, "float": ctypes.c_float}

    @classmethod
    def _is_struct(cls, t):
        return "*" not in t and t not in cls.SCALARS

    @classmethod
    def _ctype(cls, t):
        if "*" in t or cls._is_struct(t):
            return ctypes.c_void_p
        return cls.SCALARS[t]

    @staticmethod
    def _threaded(text):
        """The functions that call __syncthreads or a warp shuffle, directly or through other functions of the
        source: their launches run a block's threads as threads."""
        bodies, starts = {}, [(m.start(), m.group(1)) for m in FUNCTION.finditer(text)]
        for i, (at, fname) in enumerate(starts):
            bodies[fname] = text[at:starts[i + 1][0] if i + 1 < len(starts) else len(text)]
        syncing = {f for f, b in bodies.items() if re.search(r"\b(__syncthreads|__syncwarp|__shfl\w*_sync)\b", b)}
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

    POINTEES = {"int": np.int32, "float": np.float32, "double": np.float64}

    def launch(self, kernel, grid, block, *args):
        params = self.kernels[kernel]
        if len(args) != len(params):
            raise TypeError(f"{kernel}: {len(args)} arguments for {len(params)} parameters")
        gx, gy = (grid, 1) if isinstance(grid, (int, np.integer)) else grid
        cargs, keep = [], []
        for (t, pname), a in zip(params, args):
            if "*" in t:
                if a is not None and not isinstance(a, Buffer):
                    raise TypeError(f"{kernel}({pname}): a Buffer or None, got {type(a).__name__}")
                pointee = t.replace("const ", "").replace("*", "").strip()
                if a is not None and a.dtype != self.POINTEES[pointee]:
                    raise TypeError(f"{kernel}({pname}): {t} given a {a.dtype} buffer")
                cargs.append(None if a is None else a.ptr)
            elif self._is_struct(t):
                if not isinstance(a, (bytes, bytearray)) or len(a) != self.sizeof[t]:
                    raise TypeError(f"{kernel}({pname}): {t} wants {self.sizeof[t]} bytes, got "
                                    + (f"{len(a)}" if isinstance(a, (bytes, bytearray)) else type(a).__name__))
                keep.append(ctypes.create_string_buffer(bytes(a), len(a)))
                cargs.append(ctypes.addressof(keep[-1]))
            elif t == "float":
                if not isinstance(a, (float, np.floating, int, np.integer)) or isinstance(a, bool):
                    raise TypeError(f"{kernel}({pname}): {t} given {type(a).__name__}")
                cargs.append(float(np.float32(a)))
            else:
                if not isinstance(a, (int, np.integer)) or isinstance(a, bool):
                    raise TypeError(f"{kernel}({pname}): {t} given {type(a).__name__}")
                cargs.append(int(a))
        if getattr(self.lib, "launch_" + kernel)(gx, gy, block, *cargs) != 0:
            raise RuntimeError(f"{kernel}: the threads of a block passed different numbers of __syncthreads")
        for b in self.buffers:
            if not b.guards_intact():
                raise RuntimeError(f"{kernel}: wrote outside a buffer")

    def launch1d(self, kernel, count, *args):
        """CudaKernel.launch1d: blocks of 256 threads covering count."""
        self.launch(kernel, (count + 255) // 256, 256, *args)
