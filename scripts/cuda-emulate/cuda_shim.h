// Just enough CUDA for g++ to compile Kiln's kernels (generated ones: check-generated; the runtime's own
// families: check-runtime) and run them on the CPU. Blocks run one after another (gridDim.x fastest, then y);
// a kernel that synchronises or uses warp shuffles runs its block's threads as real std::threads, which share
// the kernel's __shared__ (function-static) arrays and meet at a std::barrier in __syncthreads. Lanes of a warp
// (threads 32w..32w+31) exchange shuffled values through per-warp slots between two warp-wide barriers, so a
// shuffle that some lane of the warp never reaches (it returned early) hangs the warp: the watchdog reports it.
// Element-wise kernels (neither) run their threads one after another on the calling thread.
#pragma once
#include <atomic>
#include <barrier>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <memory>
#include <thread>
#include <type_traits>
#include <vector>

struct uint3 { unsigned int x = 0, y = 0, z = 0; };
struct dim3 { unsigned int x = 1, y = 1, z = 1; };
inline thread_local uint3 threadIdx, blockIdx;
inline thread_local dim3 blockDim, gridDim;
inline thread_local std::barrier<>* kiln_emu_barrier = nullptr;
inline thread_local std::barrier<>* kiln_emu_warp_barrier = nullptr;  // this thread's warp's
inline thread_local std::uint64_t* kiln_emu_lanes = nullptr;           // its warp's 32 exchange slots
inline thread_local unsigned kiln_emu_warp_size = 32;                  // lanes in its warp (fewer in a last partial warp)
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

// Each one rounded operation, never fused with another, as on the GPU, whatever the compiler's -ffp-contract
// (KILN_EMU_CONTRACT=1 compiles with fast contraction, which would fuse an inlined __fmul_rn into the __fadd_rn
// around it): out of line, so that the product is rounded before the caller sees it.
#define KILN_EMU_ROUNDED static __attribute__((noinline))
KILN_EMU_ROUNDED float __fmul_rn(float a, float b) { return a * b; }
KILN_EMU_ROUNDED float __fadd_rn(float a, float b) { return a + b; }
KILN_EMU_ROUNDED float __fsub_rn(float a, float b) { return a - b; }
KILN_EMU_ROUNDED float __fdiv_rn(float a, float b) { return a / b; }
KILN_EMU_ROUNDED float __fsqrt_rn(float a) { return std::sqrt(a); }
KILN_EMU_ROUNDED double __dmul_rn(double a, double b) { return a * b; }
KILN_EMU_ROUNDED double __dadd_rn(double a, double b) { return a + b; }
KILN_EMU_ROUNDED double __dsub_rn(double a, double b) { return a - b; }
inline int __float_as_int(float f) { int i; std::memcpy(&i, &f, sizeof i); return i; }
inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, sizeof f); return f; }
inline unsigned __float_as_uint(float f) { unsigned i; std::memcpy(&i, &f, sizeof i); return i; }
inline float __uint_as_float(unsigned i) { float f; std::memcpy(&f, &i, sizeof f); return f; }
inline double __longlong_as_double(long long i) { double d; std::memcpy(&d, &i, sizeof d); return d; }
inline long long __double_as_longlong(double d) { long long i; std::memcpy(&i, &d, sizeof i); return i; }

// CUDA's integer min and max (any mix of integer types, compared in their common type) and float ones (fminf, fmaxf:
// a NaN loses to a number).
template <class A, class B, class = std::enable_if_t<std::is_integral_v<A> && std::is_integral_v<B>>>
inline std::common_type_t<A, B> min(A a, B b) { using C = std::common_type_t<A, B>; return (C) a < (C) b ? (C) a : (C) b; }
template <class A, class B, class = std::enable_if_t<std::is_integral_v<A> && std::is_integral_v<B>>>
inline std::common_type_t<A, B> max(A a, B b) { using C = std::common_type_t<A, B>; return (C) a > (C) b ? (C) a : (C) b; }
inline float min(float a, float b) { return std::fmin(a, b); }
inline float max(float a, float b) { return std::fmax(a, b); }
inline double min(double a, double b) { return std::fmin(a, b); }
inline double max(double a, double b) { return std::fmax(a, b); }

// atomicAdd: with threads, a real atomic read-modify-write; returns the old value, as CUDA's does.
template <class T>
inline T atomicAdd(T* at, T v) { return std::atomic_ref<T>(*at).fetch_add(v); }

// Warp shuffles. Every lane of the warp must take part (mask 0xffffffff): each writes its value into its slot,
// the warp meets, each reads its source lane's slot, the warp meets again (so that no slot is overwritten before
// it is read). A source lane outside the lane's width-segment (shfl_down/up past its end) reads its own value.
template <class T>
inline T kiln_emu_shuffle(const char* what, unsigned mask, T v, int src) {
  static_assert(sizeof(T) <= sizeof(std::uint64_t), "shuffles of at most 8 bytes");
  unsigned full = kiln_emu_warp_size == 32 ? 0xffffffffu : (1u << kiln_emu_warp_size) - 1;
  if (kiln_emu_warp_barrier == nullptr) {
    std::fprintf(stderr, "cuda_shim: %s in a kernel launched without threads\n", what);
    std::abort();
  }
  if ((mask & full) != full) {
    std::fprintf(stderr, "cuda_shim: %s with mask %#x: only whole warps are emulated\n", what, mask);
    std::abort();
  }
  unsigned lane = threadIdx.x & 31;
  std::uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof v);
  kiln_emu_lanes[lane] = bits;
  kiln_emu_warp_barrier->arrive_and_wait();
  kiln_emu_progress++;
  std::uint64_t got = kiln_emu_lanes[(unsigned) src < kiln_emu_warp_size ? src : lane];
  kiln_emu_warp_barrier->arrive_and_wait();
  kiln_emu_progress++;
  T out;
  std::memcpy(&out, &got, sizeof out);
  return out;
}
template <class T>
inline T __shfl_sync(unsigned mask, T v, int srcLane, int width = 32) {
  int lane = threadIdx.x & 31;
  return kiln_emu_shuffle("__shfl_sync", mask, v, (lane & ~(width - 1)) + (srcLane & (width - 1)));
}
template <class T>
inline T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  int lane = threadIdx.x & 31;
  int src = lane + (int) delta;
  return kiln_emu_shuffle("__shfl_down_sync", mask, v, src / width == lane / width ? src : lane);
}
template <class T>
inline T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  int lane = threadIdx.x & 31;
  int src = lane - (int) delta;
  return kiln_emu_shuffle("__shfl_up_sync", mask, v, src >= 0 && src / width == lane / width ? src : lane);
}
template <class T>
inline T __shfl_xor_sync(unsigned mask, T v, int laneMask, int width = 32) {
  int lane = threadIdx.x & 31;
  int src = lane ^ laneMask;
  return kiln_emu_shuffle("__shfl_xor_sync", mask, v, src / width == lane / width ? src : lane);
}
inline void __syncwarp(unsigned mask = 0xffffffffu) { kiln_emu_shuffle("__syncwarp", mask, 0, 0); }

// Runs body() as every thread of every block of a gridX x gridY grid. Returns 0, or 1 when the threads of a
// block did not all pass the same number of __syncthreads (undefined behaviour on a GPU; here the barrier would
// pair up wrong calls). Threads left waiting at a barrier for ever (the same bug, another way, or a shuffle some
// lane of the warp never reached) end the process.
template <class Body>
int kiln_emu_launch(int gridX, int gridY, int block, bool threads, Body body) {
  if (!threads) {
    for (int by = 0; by < gridY; by++) {
      for (int bx = 0; bx < gridX; bx++) {
        for (int t = 0; t < block; t++) {
          gridDim = {(unsigned) gridX, (unsigned) gridY, 1};
          blockDim = {(unsigned) block, 1, 1};
          blockIdx = {(unsigned) bx, (unsigned) by, 0};
          threadIdx = {(unsigned) t, 0, 0};
          body();
        }
      }
    }
    return 0;
  }
  std::barrier<> bar(block);
  int warps = (block + 31) / 32;
  std::vector<std::unique_ptr<std::barrier<>>> warpBars;
  for (int w = 0; w < warps; w++) warpBars.push_back(std::make_unique<std::barrier<>>(std::min(32, block - 32 * w)));
  std::vector<std::uint64_t> lanes(32 * warps);
  std::vector<long> syncs(block);
  std::vector<std::thread> pool;
  std::atomic<int> done{0};
  for (int t = 0; t < block; t++) {
    pool.emplace_back([&, t] {
      gridDim = {(unsigned) gridX, (unsigned) gridY, 1};
      blockDim = {(unsigned) block, 1, 1};
      threadIdx = {(unsigned) t, 0, 0};
      kiln_emu_barrier = &bar;
      kiln_emu_warp_barrier = warpBars[t / 32].get();
      kiln_emu_lanes = &lanes[32 * (t / 32)];
      kiln_emu_warp_size = (unsigned) std::min(32, block - 32 * (t / 32));
      kiln_emu_syncs = 0;
      for (int by = 0; by < gridY; by++) {
        for (int bx = 0; bx < gridX; bx++) {
          blockIdx = {(unsigned) bx, (unsigned) by, 0};
          body();
          bar.arrive_and_wait();  // the block ends: the next may reuse the __shared__ arrays
          kiln_emu_progress++;
        }
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
      std::fprintf(stderr, "cuda_shim: no thread passed a barrier in 30 s: a deadlock (a __syncthreads, or a warp shuffle, that some thread of the block or lane of the warp never reached?)\n");
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
