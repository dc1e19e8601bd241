// CUDA facts queried through the runtime API; compiled only in CUDA builds.
#include <cuda_runtime.h>

#include "cuda_info.h"

namespace kitpose {

int cuda_runtime_version() { return CUDART_VERSION; }

int cuda_device_count() {
  int count = 0;
  // No driver (CPU machines) or no device: the runtime returns an error, which means zero devices.
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error so later calls start clean
    return 0;
  }
  return count;
}

}  // namespace kitpose
