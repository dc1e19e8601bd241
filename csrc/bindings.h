// One register_<op>(m) function per op folder; module.cpp calls them all.
// Bound functions take raw pointers as Python ints (uintptr) and a stream handle int, so the
// torch-free runtime and the torch front call the very same entry points (kitpose/native_calls.py).
// The bindings check nothing themselves: each twin entry point checks its arguments once; the CPU
// twins throw std::invalid_argument (ValueError in Python) and the CUDA twins' status is turned into
// the same ValueError here.
#pragma once

#include <cstdint>
#include <string>

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "common.h"

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

// A CUDA entry point's status as a Python exception that names the op: arguments it refused
// (cudaErrorInvalidValue with a reason from its `<op>_params_error`, evaluated only on this error
// path) become ValueError, any other failure RuntimeError.
template <typename Reason>
inline void throw_on_cuda_error(cudaError_t err, const char* op, const Reason& reason) {
  if (err == cudaSuccess) return;
  if (err == cudaErrorInvalidValue) throw_if_invalid(reason());
  throw std::runtime_error(std::string("kitpose: ") + op + " CUDA launch failed: " + cudaGetErrorString(err));
}
#endif

}  // namespace kitpose
