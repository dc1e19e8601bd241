// pybind11 entry points of DARK decoding: raw pointers in, GIL released around the kernel.
#include "bindings.h"
#include "dark/dark.h"

namespace kitpose {

namespace {

DarkParams make_params(int64_t n, int64_t k, int64_t h, int64_t w, int64_t blur, bool half, uintptr_t affine) {
  return DarkParams{n, k, h, w, blur, half ? 1 : 0, affine != 0 ? 1 : 0};
}

}  // namespace

void register_dark(py::module_& m) {
  m.def("dark_decode_cpu",
        [](uintptr_t maps, uintptr_t affine, uintptr_t coords, uintptr_t scores, int64_t n, int64_t k,
           int64_t h, int64_t w, int64_t blur, bool half) {
          const DarkParams p = make_params(n, k, h, w, blur, half, affine);
          py::gil_scoped_release release;
          dark_decode_cpu(p, as_ptr<const void>(maps), as_ptr<const float>(affine), as_ptr<float>(coords),
                          as_ptr<float>(scores), nullptr);
        },
        "DARK decode on host pointers: heatmaps (N, K, H, W) f32 or f16 (half=True), affine (N, 5) f32 "
        "or 0 -> coords (N, K, 2) f32, scores (N, K) f32.",
        py::arg("heatmaps"), py::arg("affine"), py::arg("coords"), py::arg("scores"), py::arg("batch"),
        py::arg("keypoints"), py::arg("height"), py::arg("width"), py::arg("blur_kernel"), py::arg("half"));
#if defined(KITPOSE_WITH_CUDA)
  m.def("dark_decode_cuda",
        [](uintptr_t maps, uintptr_t affine, uintptr_t coords, uintptr_t scores, int64_t n, int64_t k,
           int64_t h, int64_t w, int64_t blur, bool half, uintptr_t stream) {
          const DarkParams p = make_params(n, k, h, w, blur, half, affine);
          cudaError_t err;
          {
            py::gil_scoped_release release;
            err = dark_decode_cuda(p, as_ptr<const void>(maps), as_ptr<const float>(affine),
                                   as_ptr<float>(coords), as_ptr<float>(scores), nullptr, as_stream(stream));
          }
          throw_on_cuda_error(err, "dark_decode", [&] { return dark_params_error(p); });
        },
        "DARK decode on device pointers, enqueued on `stream` (a cudaStream_t as int).",
        py::arg("heatmaps"), py::arg("affine"), py::arg("coords"), py::arg("scores"), py::arg("batch"),
        py::arg("keypoints"), py::arg("height"), py::arg("width"), py::arg("blur_kernel"), py::arg("half"),
        py::arg("stream"));
#endif
}

}  // namespace kitpose
