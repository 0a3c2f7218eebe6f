// Just enough CUDA for g++ to compile Kiln's generated kernels and run them on the CPU (see check-generated).
// Blocks run one after another; a kernel that synchronises runs its block's threads as real std::threads,
// which share the kernel's __shared__ (function-static) arrays and meet at a std::barrier in __syncthreads.
// Element-wise kernels (no __syncthreads) run their threads one after another on the calling thread.
#pragma once
#include <atomic>
#include <barrier>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

struct uint3 { unsigned int x = 0, y = 0, z = 0; };
struct dim3 { unsigned int x = 1, y = 1, z = 1; };
inline thread_local uint3 threadIdx, blockIdx;
inline thread_local dim3 blockDim, gridDim;
inline thread_local std::barrier<>* kiln_emu_barrier = nullptr;
inline thread_local long kiln_emu_syncs = 0;
inline std::atomic<long> kiln_emu_progress{0};  // barrier waits passed, all threads: the launch's watchdog reads it

#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static

inline void __syncthreads() {
  if (kiln_emu_barrier == nullptr) {
    std::fprintf(stderr, "cuda_shim: __syncthreads in a kernel launched without threads\n");
    std::abort();
  }
  kiln_emu_syncs++;
  kiln_emu_barrier->arrive_and_wait();
  kiln_emu_progress++;
}

// Compiled with -ffp-contract=off: each is one rounded float operation, as on the GPU.
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline int __float_as_int(float f) { int i; std::memcpy(&i, &f, sizeof i); return i; }
inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, sizeof f); return f; }

// Runs body() as every thread of every block. Returns 0, or 1 when the threads of a block did not all
// pass the same number of __syncthreads (undefined behaviour on a GPU; here the barrier would pair up wrong
// calls). Threads left waiting at the barrier for ever (the same bug, another way) end the process.
template <class Body>
int kiln_emu_launch(int grid, int block, bool threads, Body body) {
  if (!threads) {
    for (int b = 0; b < grid; b++) {
      for (int t = 0; t < block; t++) {
        gridDim = {(unsigned) grid, 1, 1};
        blockDim = {(unsigned) block, 1, 1};
        blockIdx = {(unsigned) b, 0, 0};
        threadIdx = {(unsigned) t, 0, 0};
        body();
      }
    }
    return 0;
  }
  std::barrier<> bar(block);
  std::vector<long> syncs(block);
  std::vector<std::thread> pool;
  std::atomic<int> done{0};
  for (int t = 0; t < block; t++) {
    pool.emplace_back([&, t] {
      gridDim = {(unsigned) grid, 1, 1};
      blockDim = {(unsigned) block, 1, 1};
      threadIdx = {(unsigned) t, 0, 0};
      kiln_emu_barrier = &bar;
      kiln_emu_syncs = 0;
      for (int b = 0; b < grid; b++) {
        blockIdx = {(unsigned) b, 0, 0};
        body();
        bar.arrive_and_wait();  // the block ends: the next may reuse the __shared__ arrays
        kiln_emu_progress++;
      }
      syncs[t] = kiln_emu_syncs;
      done++;
    });
  }
  long seen = -1;
  for (int still = 0; done < block; still++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (kiln_emu_progress != seen) {
      seen = kiln_emu_progress;
      still = 0;
    } else if (still == 3000) {
      std::fprintf(stderr, "cuda_shim: no thread passed a barrier in 30 s: a deadlock (divergent __syncthreads?)\n");
      std::fflush(stderr);
      std::_Exit(3);
    }
  }
  for (auto& th : pool) th.join();
  for (int t = 1; t < block; t++) {
    if (syncs[t] != syncs[0]) return 1;
  }
  return 0;
}
