// One register_<op>(m) function per op folder; module.cpp calls them all.
// Bound functions take raw pointers as Python ints (uintptr) and a stream handle int, so the
// torch-free runtime and the torch front call the very same entry points.
#pragma once

#include <cstdint>
#include <string>

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#if defined(KITPOSE_WITH_CUDA)
#include <cuda_runtime_api.h>
#endif

namespace kitpose {

namespace py = pybind11;

void register_kmedoids(py::module_& m);
void register_dark(py::module_& m);
void register_warp(py::module_& m);

template <typename T>
inline T* as_ptr(uintptr_t address) {
  return reinterpret_cast<T*>(address);
}

#if defined(KITPOSE_WITH_CUDA)
inline cudaStream_t as_stream(uintptr_t handle) { return reinterpret_cast<cudaStream_t>(handle); }

// Launch errors become Python RuntimeErrors that name the op.
inline void throw_on_cuda_error(cudaError_t err, const char* op) {
  if (err != cudaSuccess)
    throw std::runtime_error(std::string("kitpose: ") + op + " CUDA launch failed: " + cudaGetErrorString(err));
}
#endif

}  // namespace kitpose
