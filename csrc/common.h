// Shared macros for the kitpose kernels. No torch, no pybind11 here: these headers are also
// compiled into TensorRT plugins.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#if defined(__CUDACC__)
#define KP_HOST_DEVICE __host__ __device__
#else
#define KP_HOST_DEVICE
#endif

namespace kitpose {

// Argument check that survives release builds (unlike assert) and names what was wrong.
#define KP_CHECK(cond, msg)                                                          \
  do {                                                                               \
    if (!(cond)) throw std::invalid_argument(std::string("kitpose: ") + (msg));     \
  } while (0)

}  // namespace kitpose
