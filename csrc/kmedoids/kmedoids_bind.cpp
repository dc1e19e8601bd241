// pybind11 entry points of k-medoids: raw pointers in, GIL released around the kernel.
#include "bindings.h"
#include "kmedoids/kmedoids.h"

namespace kitpose {

namespace {

KMedoidsParams make_params(int64_t b, int64_t n, int64_t d, int64_t c, int64_t iters) {
  return KMedoidsParams{b, n, d, c, iters};
}

}  // namespace

void register_kmedoids(py::module_& m) {
  m.def("kmedoids_workspace_bytes",
        [](int64_t b, int64_t n, int64_t d, int64_t c) {
          // The one check of this entry point, before a caller allocates: the round count does not
          // change the workspace, so any valid one stands in for it.
          const KMedoidsParams p = make_params(b, n, d, c, 1);
          throw_if_invalid(kmedoids_params_error(p));
          return kmedoids_workspace_bytes(p);
        },
        "Workspace bytes k-medoids needs for x of shape (B, N, D) and C clusters.", py::arg("batch"),
        py::arg("points"), py::arg("dim"), py::arg("clusters"));
  m.def("kmedoids_cpu",
        [](uintptr_t x, uintptr_t assign, uintptr_t medoids, uintptr_t means, uintptr_t ws, int64_t b,
           int64_t n, int64_t d, int64_t c, int64_t iters) {
          const KMedoidsParams p = make_params(b, n, d, c, iters);
          py::gil_scoped_release release;
          kmedoids_cpu(p, as_ptr<const float>(x), as_ptr<int64_t>(assign), as_ptr<int64_t>(medoids),
                       as_ptr<float>(means), as_ptr<void>(ws));
        },
        "k-medoids on host pointers: x (B, N, D) f32 -> assign (B, N) i64, medoids (B, C) i64, "
        "means (B, C, D) f32; ws holds kmedoids_workspace_bytes.",
        py::arg("x"), py::arg("assign"), py::arg("medoids"), py::arg("means"), py::arg("workspace"),
        py::arg("batch"), py::arg("points"), py::arg("dim"), py::arg("clusters"), py::arg("max_iters"));
#if defined(KITPOSE_WITH_CUDA)
  m.def("kmedoids_cuda",
        [](uintptr_t x, uintptr_t assign, uintptr_t medoids, uintptr_t means, uintptr_t ws, int64_t b,
           int64_t n, int64_t d, int64_t c, int64_t iters, uintptr_t stream) {
          const KMedoidsParams p = make_params(b, n, d, c, iters);
          cudaError_t err;
          {
            py::gil_scoped_release release;
            err = kmedoids_cuda(p, as_ptr<const float>(x), as_ptr<int64_t>(assign), as_ptr<int64_t>(medoids),
                                as_ptr<float>(means), as_ptr<void>(ws), as_stream(stream));
          }
          throw_on_cuda_error(err, "kmedoids", [&] { return kmedoids_params_error(p); });
        },
        "k-medoids on device pointers, enqueued on `stream` (a cudaStream_t as int; 0 = legacy default).",
        py::arg("x"), py::arg("assign"), py::arg("medoids"), py::arg("means"), py::arg("workspace"),
        py::arg("batch"), py::arg("points"), py::arg("dim"), py::arg("clusters"), py::arg("max_iters"),
        py::arg("stream"));
#endif
}

}  // namespace kitpose
