// Kernels that use barriers in ways CUDA leaves undefined, for tests/ops/test_cuda_emulated.py: the
// emulator must report each one as an error instead of agreeing silently or hanging. Prints one line
// per case, "<case>: <error>" or "<case>: no error".
#include <cstdio>
#include <exception>

#include "cuda_runtime_api.h"

__global__ void split_syncthreads(int* out) {  // odd and even threads wait at different barriers
  if (threadIdx.x % 2) {
    __syncthreads();
  } else {
    __syncthreads();
  }
  out[threadIdx.x] = 1;
}

__global__ void shuffle_beside_syncthreads(int* out) {  // lane 0 shuffles alone, the rest sync
  if (threadIdx.x == 0) {
    out[0] = __shfl_sync(0xffffffffu, 1, 0);
  } else {
    __syncthreads();
  }
}

__global__ void uniform_barriers(int* out) {  // the well-formed control case
  out[threadIdx.x] = static_cast<int>(threadIdx.x);
  __syncthreads();
  out[threadIdx.x] += __shfl_down_sync(0xffffffffu, 1, 1);
}

template <typename Launch>
void report(const char* name, Launch launch) {
  try {
    launch();
    std::printf("%s: no error\n", name);
  } catch (const std::exception& err) {
    std::printf("%s: %s\n", name, err.what());
  }
}

int main() {
  int out[64] = {};
  report("split", [&] { ::emu::launch(dim3(1), dim3(64), [&] { split_syncthreads(out); }); });
  report("shuffle", [&] { ::emu::launch(dim3(1), dim3(64), [&] { shuffle_beside_syncthreads(out); }); });
  report("uniform", [&] { ::emu::launch(dim3(2), dim3(64), [&] { uniform_barriers(out); }); });
  return 0;
}
