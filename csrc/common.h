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

// Throws std::invalid_argument("kitpose: " + reason) when an op's `<op>_params_error` gave one. The
// CPU twins and the bindings throw; the CUDA twins return cudaErrorInvalidValue instead, so they can
// sit in a TensorRT plugin.
inline void throw_if_invalid(const std::string& reason) {
  if (!reason.empty()) throw std::invalid_argument("kitpose: " + reason);
}

}  // namespace kitpose
