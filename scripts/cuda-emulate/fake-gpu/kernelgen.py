#!/usr/bin/env python3
"""Compiles one CUDA C source (as Kiln hands it to nvrtcCreateProgram) for the CPU with the cuda_shim.h of
Kiln's scripts/cuda-emulate, adding per extern "C" __global__ kernel a launcher

    extern "C" int kiln_fake_launch_<name>(int gridX, int gridY, int block, void** kernelParams)

that reads argument i from *(T_i*) kernelParams[i] (T_i deduced from the kernel's own signature, so any
scalar, pointer or by-value struct works, as the driver reads it) and runs the grid through
kiln_emu_launch (threads as std::threads when the kernel, directly or not, syncs or shuffles).

usage: kernelgen.py SOURCE.cu OUT.so      (exit status != 0 and g++'s errors on stderr when it fails)
"""
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SHIM = os.environ.get("FAKEGPU_SHIM", os.path.join(HERE, "..", "cuda_shim.h"))
KERNEL = re.compile(r'extern\s+"C"\s+__global__\s+void\s+(\w+)\s*\(')
sys.path.insert(0, os.path.join(HERE, ".."))
from emulate import Module  # noqa: E402  (its rule for which functions run a block's threads as threads)


def main():
    src, out = sys.argv[1], sys.argv[2]
    text = open(src).read()
    kernels = KERNEL.findall(text)
    sync = Module._threaded(text)
    lines = [f'#include "{SHIM}"', f'#include "{os.path.abspath(src)}"', "#include <utility>", "#include <type_traits>", "#include <tuple>",
             "template <class... A, std::size_t... I>",
             "static void kiln_fake_call(void (*f)(A...), void** kp, std::index_sequence<I...>) {",
             "  f(*(std::remove_cv_t<A>*) kp[I]...);",
             "}",
             "template <class... A>",
             "static int kiln_fake_launch(void (*f)(A...), int gx, int gy, int block, bool threads, void** kp) {",
             "  return kiln_emu_launch(gx, gy, block, threads, [&] { kiln_fake_call(f, kp, std::index_sequence_for<A...>{}); });",
             "}",
             "template <class... A> static constexpr int kiln_fake_arity(void (*)(A...)) { return sizeof...(A); }"]
    lines += ["// The driver copies the arguments at the launch: capture does, run launches from the copy (and frees it).",
              "template <class... A, std::size_t... I>",
              "static void* kiln_fake_cap(void (*f)(A...), void** kp, std::index_sequence<I...>) {",
              "  return new std::tuple<std::remove_cv_t<A>...>(*(std::remove_cv_t<A>*) kp[I]...);",
              "}",
              "template <class... A>",
              "static void* kiln_fake_capture(void (*f)(A...), void** kp) { return kiln_fake_cap(f, kp, std::index_sequence_for<A...>{}); }",
              "template <class... A>",
              "static int kiln_fake_run(void (*f)(A...), int gx, int gy, int block, bool threads, void* cap) {",
              "  auto* t = (std::tuple<std::remove_cv_t<A>...>*) cap;",
              "  int r = kiln_emu_launch(gx, gy, block, threads, [&] { std::apply(f, *t); });",
              "  delete t;",
              "  return r;",
              "}"]
    for k in kernels:
        lines.append(f'extern "C" int kiln_fake_launch_{k}(int gx, int gy, int block, void** kp) '
                     f'{{ return kiln_fake_launch({k}, gx, gy, block, {str(k in sync).lower()}, kp); }}')
        lines.append(f'extern "C" void* kiln_fake_capture_{k}(void** kp) '
                     f'{{ return kiln_fake_capture({k}, kp); }}')
        lines.append(f'extern "C" int kiln_fake_run_{k}(int gx, int gy, int block, void* cap) '
                     f'{{ return kiln_fake_run({k}, gx, gy, block, {str(k in sync).lower()}, cap); }}')
        lines.append(f'extern "C" int kiln_fake_arity_{k}() {{ return kiln_fake_arity({k}); }}')
    cpp = out + ".cpp"
    with open(cpp, "w") as f:
        f.write("\n".join(lines) + "\n")
    fp = ["-O2", "-ffp-contract=fast", "-mfma"] if os.environ.get("KILN_EMU_CONTRACT") == "1" else ["-O1", "-ffp-contract=off"]
    r = subprocess.run(["g++", "-std=c++20", *fp, "-fPIC", "-shared", "-pthread", "-w", "-o", out + ".tmp", cpp])
    if r.returncode != 0:
        sys.exit(1)
    os.replace(out + ".tmp", out)


if __name__ == "__main__":
    main()
