// A CPU stand-in for the parts of the CUDA runtime and language the kitpose kernels use, so that
// tests can run the kernel code itself on a machine with no GPU (tests/ops/test_cuda_emulated.py).
//
// It executes one block at a time with one OS thread per CUDA thread: __syncthreads and __syncwarp
// are barrier waits, warp shuffles exchange through a per-warp slot array between two barrier
// waits, and __shared__ variables become function statics (shared by the threads of the running
// block). Launch limits are checked as the hardware would reject them. A thread that returns early
// leaves every barrier, as an exited CUDA thread no longer counts towards __syncthreads. Two kinds
// of undefined behaviour become errors instead of silent agreement or a hang: threads of one block
// (or warp) meeting at barriers on different source lines ("divergent __syncthreads"), and a barrier
// phase not completed within EMU_BARRIER_TIMEOUT_S seconds (default 60). Either fails the launch with
// std::runtime_error. What this cannot show: the GPU memory model, races this schedule happens to
// order (tests/ops/test_cuda_sanitized.py runs ThreadSanitizer for those), and speed.
//
// Test-only: never compiled into kitpose. It is found first on the include path, in place of
// CUDA's <cuda_runtime_api.h>, by the build in tests/ops/test_cuda_emulated.py.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
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
enum cudaError_t { cudaSuccess = 0, cudaErrorInvalidValue = 1 };
inline cudaError_t cudaGetLastError() { return cudaSuccess; }  // a bad launch throws instead
inline const char* cudaGetErrorString(cudaError_t err) { return err == cudaSuccess ? "no error" : "invalid argument"; }
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

inline std::chrono::seconds barrier_timeout() {
  const char* env = std::getenv("EMU_BARRIER_TIMEOUT_S");
  return std::chrono::seconds(env ? std::atoi(env) : 60);
}

// A barrier for `count` threads that checks every phase's arrivals come from one source line, and
// breaks (every waiter throws) on divergence, a timeout, or break_with() from a failing thread.
class Barrier {
 public:
  explicit Barrier(unsigned count) : count_(count) {}

  void arrive_and_wait(const char* what, const char* file, int line) {
    std::unique_lock<std::mutex> lock(mutex_);
    throw_if_broken();
    if (arrived_ == 0) {
      file_ = file;
      line_ = line;
    } else if (line != line_ || std::strcmp(file, file_) != 0) {
      fail(std::string("divergent ") + what + ": threads wait at " + file_ + ":" + std::to_string(line_) +
           " and at " + file + ":" + std::to_string(line) + " in the same phase");
    }
    const uint64_t phase = phase_;
    if (++arrived_ == count_) {
      advance();
      return;
    }
    if (!cv_.wait_for(lock, barrier_timeout(), [&] { return phase_ != phase || broken_; }))
      fail(std::string(what) + " at " + file + ":" + std::to_string(line) + ": " + std::to_string(arrived_) +
           " of " + std::to_string(count_) + " threads arrived before the timeout (a barrier in divergent code?)");
    throw_if_broken();
  }

  // An exited thread: no longer counted in this phase or later ones.
  void arrive_and_drop() {
    std::lock_guard<std::mutex> lock(mutex_);
    --count_;
    if (arrived_ > 0 && arrived_ == count_) advance();
  }

  void break_with(const std::string& why) {
    std::lock_guard<std::mutex> lock(mutex_);
    break_locked(why);
  }

 private:
  void advance() {
    arrived_ = 0;
    ++phase_;
    cv_.notify_all();
  }
  void break_locked(const std::string& why) {  // mutex_ held; the first reason is kept
    if (!broken_) why_ = why;
    broken_ = true;
    cv_.notify_all();
  }
  [[noreturn]] void fail(const std::string& why) {  // mutex_ held
    break_locked(why);
    throw std::runtime_error("emulated CUDA: " + why_);
  }
  void throw_if_broken() const {
    if (broken_) throw std::runtime_error("emulated CUDA: " + why_);
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  unsigned count_, arrived_ = 0;
  uint64_t phase_ = 0;
  const char* file_ = "";
  int line_ = 0;
  bool broken_ = false;
  std::string why_;
};

struct Warp {
  explicit Warp(unsigned lanes) : size(lanes), bar(lanes) {}
  unsigned size;
  Barrier bar;
  std::array<uint64_t, kWarpSize> slots{};  // one value per lane during a shuffle
};

struct Block {
  explicit Block(unsigned threads) : bar(threads) {
    for (unsigned first = 0; first < threads; first += kWarpSize)
      warps.push_back(std::make_unique<Warp>(std::min(kWarpSize, threads - first)));
  }
  // The first error of any thread; every barrier breaks so the other threads stop waiting.
  void fail(const std::string& why) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (error.empty()) error = why;
    }
    bar.break_with(why);
    for (auto& w : warps) w->bar.break_with(why);
  }
  Barrier bar;
  std::vector<std::unique_ptr<Warp>> warps;
  std::mutex mutex;
  std::string error;
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
            try {
              body();
            } catch (const std::exception& err) {
              state.fail(err.what());
            }
            warp().bar.arrive_and_drop();  // an exited thread stops counting at every barrier
            state.bar.arrive_and_drop();
          });
        }
        for (auto& th : pool) th.join();
        if (!state.error.empty()) throw std::runtime_error(state.error);
      }
}

template <typename T>
T shuffle(T value, int src, bool in_range, const char* file, int line) {
  static_assert(sizeof(T) <= sizeof(uint64_t), "emulated shuffle of a value wider than 64 bits");
  Warp& w = warp();
  std::memcpy(&w.slots[lane()], &value, sizeof(T));
  w.bar.arrive_and_wait("warp shuffle", file, line);  // every lane has published its value
  T out = value;
  if (in_range && src >= 0 && static_cast<unsigned>(src) < w.size) std::memcpy(&out, &w.slots[src], sizeof(T));
  w.bar.arrive_and_wait("warp shuffle", file, line);  // every lane has read before the slots are reused
  return out;
}

template <typename T>
T shfl_down(T value, unsigned delta, const char* file, int line) {
  const unsigned src = lane() + delta;
  return shuffle(value, static_cast<int>(src), src < kWarpSize, file, line);  // beyond the warp: own value
}

template <typename T>
T shfl(T value, int src_lane, const char* file, int line) {
  return shuffle(value, src_lane % static_cast<int>(kWarpSize), true, file, line);
}

}  // namespace emu

// Macros, so that every barrier knows the source line it was called from.
#define __syncthreads() ::emu::current_block->bar.arrive_and_wait("__syncthreads", __FILE__, __LINE__)
#define __syncwarp(...) ::emu::warp().bar.arrive_and_wait("__syncwarp", __FILE__, __LINE__)
#define __shfl_down_sync(mask, value, delta) ::emu::shfl_down((value), (delta), __FILE__, __LINE__)
#define __shfl_sync(mask, value, src_lane) ::emu::shfl((value), (src_lane), __FILE__, __LINE__)
