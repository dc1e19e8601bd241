// pybind11 entry points of the warp: raw pointers in, GIL released around the kernel.
#include <array>

#include "bindings.h"
#include "warp/warp.h"

namespace kitpose {

namespace {

WarpParams make_params(int64_t b, int64_t sh, int64_t sw, int64_t oh, int64_t ow, bool swap_rb,
                       const std::array<float, 3>& mean, const std::array<float, 3>& std) {
  return WarpParams{b, sh, sw, oh, ow, swap_rb ? 1 : 0, {mean[0], mean[1], mean[2]}, {std[0], std[1], std[2]}};
}

}  // namespace

void register_warp(py::module_& m) {
  m.def("warp_affine_cpu",
        [](uintptr_t frame, uintptr_t mats, uintptr_t out, int64_t b, int64_t sh, int64_t sw, int64_t oh,
           int64_t ow, bool swap_rb, std::array<float, 3> mean, std::array<float, 3> std) {
          const WarpParams p = make_params(b, sh, sw, oh, ow, swap_rb, mean, std);
          py::gil_scoped_release release;
          warp_affine_cpu(p, as_ptr<const uint8_t>(frame), as_ptr<const double>(mats), as_ptr<float>(out), nullptr);
        },
        "Affine crops of a uint8 (h, w, 3) frame: mats (B, 2, 3) f64 -> out (B, 3, out_h, out_w) f32 normalised.",
        py::arg("frame"), py::arg("mats"), py::arg("out"), py::arg("batch"), py::arg("src_h"), py::arg("src_w"),
        py::arg("out_h"), py::arg("out_w"), py::arg("swap_rb"), py::arg("mean"), py::arg("std"));
#if defined(KITPOSE_WITH_CUDA)
  m.def("warp_affine_cuda",
        [](uintptr_t frame, uintptr_t mats, uintptr_t out, int64_t b, int64_t sh, int64_t sw, int64_t oh,
           int64_t ow, bool swap_rb, std::array<float, 3> mean, std::array<float, 3> std, uintptr_t stream) {
          const WarpParams p = make_params(b, sh, sw, oh, ow, swap_rb, mean, std);
          cudaError_t err;
          {
            py::gil_scoped_release release;
            err = warp_affine_cuda(p, as_ptr<const uint8_t>(frame), as_ptr<const double>(mats), as_ptr<float>(out),
                                   nullptr, as_stream(stream));
          }
          throw_on_cuda_error(err, "warp_affine", [&] { return warp_params_error(p); });
        },
        "Affine crops on device pointers, enqueued on `stream` (a cudaStream_t as int).",
        py::arg("frame"), py::arg("mats"), py::arg("out"), py::arg("batch"), py::arg("src_h"), py::arg("src_w"),
        py::arg("out_h"), py::arg("out_w"), py::arg("swap_rb"), py::arg("mean"), py::arg("std"),
        py::arg("stream"));
#endif
}

}  // namespace kitpose
