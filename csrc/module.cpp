// The pybind11 module kitpose._C: build facts plus one register_<op>(m) call per op folder.
#include "bindings.h"

#if defined(KITPOSE_WITH_CUDA)
#include "cuda_info.h"
#endif

namespace py = pybind11;

PYBIND11_MODULE(_C, m) {
  m.doc() = "kitpose compiled kernels (C++ CPU twins, CUDA twins when built with CUDA)";
#if defined(KITPOSE_WITH_CUDA)
  m.def("has_cuda", [] { return true; }, "True when the module was built with CUDA kernels.");
  m.def("cuda_version", [] { return kitpose::cuda_runtime_version(); },
        "CUDA runtime version the module was built against (e.g. 13000).");
  m.def("cuda_device_count", [] { return kitpose::cuda_device_count(); },
        "CUDA devices visible now (0 without a driver or GPU).");
#else
  m.def("has_cuda", [] { return false; }, "True when the module was built with CUDA kernels.");
  m.def("cuda_version", [] { return 0; }, "0: this is a CPU-only build.");
  m.def("cuda_device_count", [] { return 0; }, "0: this is a CPU-only build.");
#endif
  kitpose::register_kmedoids(m);
  kitpose::register_dark(m);
  kitpose::register_warp(m);
}
