// A CPU stand-in for the parts of the CUDA runtime and language the kitpose kernels use, so that
// tests can run the kernel code itself on a machine with no GPU (tests/ops/test_cuda_emulated.py).
//
// It executes one block at a time with one OS thread per CUDA thread: __syncthreads and __syncwarp
// are std::barrier waits, warp shuffles exchange through a per-warp slot array between two barrier
// waits, and __shared__ variables become function statics (shared by the threads of the running
// block). Launch limits are checked as the hardware would reject them. What this cannot show: the
// GPU memory model, races between threads that this schedule happens to order, and speed. A thread
// that returns early leaves every barrier (arrive_and_drop), as an exited CUDA thread no longer
// counts towards __syncthreads.
//
// Test-only: never compiled into kitpose. It is found first on the include path, in place of
// CUDA's <cuda_runtime_api.h>, by the build in tests/ops/test_cuda_emulated.py.
#pragma once

#include <algorithm>
#include <array>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static

#define CUDART_VERSION 0  // kitpose._C.cuda_version() of the emulated build

using cudaStream_t = void*;
enum cudaError_t { cudaSuccess = 0 };
inline cudaError_t cudaGetLastError() { return cudaSuccess; }  // a bad launch throws instead
inline const char* cudaGetErrorString(cudaError_t) { return "no error"; }
inline cudaError_t cudaGetDeviceCount(int* count) {
  *count = 0;  // no device: the kernels run on the host
  return cudaSuccess;
}

struct dim3 {
  unsigned x, y, z;
  dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

inline thread_local dim3 threadIdx(0, 0, 0);
inline thread_local dim3 blockIdx(0, 0, 0);
inline thread_local dim3 blockDim;
inline thread_local dim3 gridDim;

namespace emu {

constexpr unsigned kWarpSize = 32;

struct Warp {
  explicit Warp(unsigned lanes) : size(lanes), bar(lanes) {}
  unsigned size;
  std::barrier<> bar;
  std::array<uint64_t, kWarpSize> slots{};  // one value per lane during a shuffle
};

struct Block {
  explicit Block(unsigned threads) : bar(threads) {
    for (unsigned first = 0; first < threads; first += kWarpSize)
      warps.push_back(std::make_unique<Warp>(std::min(kWarpSize, threads - first)));
  }
  std::barrier<> bar;
  std::vector<std::unique_ptr<Warp>> warps;
};

inline thread_local Block* current_block = nullptr;

inline unsigned linear_thread() { return threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z); }
inline unsigned lane() { return linear_thread() % kWarpSize; }
inline Warp& warp() { return *current_block->warps[linear_thread() / kWarpSize]; }

// The hardware's launch limits (compute capability 9.0).
inline void check_launch(dim3 grid, dim3 block) {
  const unsigned long long threads = 1ull * block.x * block.y * block.z;
  if (grid.x == 0 || grid.y == 0 || grid.z == 0 || threads == 0)
    throw std::runtime_error("emulated launch: empty grid or block (cudaErrorInvalidConfiguration)");
  if (grid.x > 2147483647u || grid.y > 65535u || grid.z > 65535u)
    throw std::runtime_error("emulated launch: grid (" + std::to_string(grid.x) + ", " + std::to_string(grid.y) +
                             ", " + std::to_string(grid.z) + ") beyond (2^31-1, 65535, 65535)");
  if (threads > 1024 || block.z > 64)
    throw std::runtime_error("emulated launch: block of " + std::to_string(threads) + " threads beyond 1024");
}

// kernel<<<grid, block, smem, stream>>>(args) becomes launch(grid, block, [&] { kernel(args); }).
template <typename Body>
void launch(dim3 grid, dim3 block, Body body) {
  check_launch(grid, block);
  const unsigned threads = block.x * block.y * block.z;
  for (unsigned bz = 0; bz < grid.z; ++bz)
    for (unsigned by = 0; by < grid.y; ++by)
      for (unsigned bx = 0; bx < grid.x; ++bx) {
        Block state(threads);
        std::vector<std::thread> pool;
        pool.reserve(threads);
        for (unsigned t = 0; t < threads; ++t) {
          pool.emplace_back([&, t] {
            threadIdx = dim3(t % block.x, (t / block.x) % block.y, t / (block.x * block.y));
            blockIdx = dim3(bx, by, bz);
            blockDim = block;
            gridDim = grid;
            current_block = &state;
            body();
            warp().bar.arrive_and_drop();  // an exited thread stops counting at every barrier
            state.bar.arrive_and_drop();
          });
        }
        for (auto& th : pool) th.join();
      }
}

template <typename T>
T shuffle(T value, int src, bool in_range) {
  static_assert(sizeof(T) <= sizeof(uint64_t), "emulated shuffle of a value wider than 64 bits");
  Warp& w = warp();
  std::memcpy(&w.slots[lane()], &value, sizeof(T));
  w.bar.arrive_and_wait();  // every lane has published its value
  T out = value;
  if (in_range && src >= 0 && static_cast<unsigned>(src) < w.size) std::memcpy(&out, &w.slots[src], sizeof(T));
  w.bar.arrive_and_wait();  // every lane has read before the slots are reused
  return out;
}

}  // namespace emu

inline void __syncthreads() { emu::current_block->bar.arrive_and_wait(); }
inline void __syncwarp(unsigned = 0xffffffffu) { emu::warp().bar.arrive_and_wait(); }

template <typename T>
T __shfl_down_sync(unsigned, T value, unsigned delta) {
  const unsigned src = emu::lane() + delta;
  return emu::shuffle(value, static_cast<int>(src), src < emu::kWarpSize);  // beyond the warp: own value
}

template <typename T>
T __shfl_sync(unsigned, T value, int src_lane) {
  return emu::shuffle(value, src_lane % static_cast<int>(emu::kWarpSize), true);
}
