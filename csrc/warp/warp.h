// Batched affine crop + bilinear resize + mean/std normalisation of one uint8 HWC frame.
// Torch-free: shared by the pybind11 module and TensorRT plugins.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#if defined(KITPOSE_WITH_CUDA)
#include <cuda_runtime_api.h>
#endif

namespace kitpose {

// frame (src_h, src_w, 3) uint8; mats (B, 2, 3) float64 forward affines (frame -> crop, the
// cv2.warpAffine convention); out (B, 3, out_h, out_w) float32 = (value / 255 - mean[c]) / std[c].
struct WarpParams {
  int64_t batch;
  int64_t src_h, src_w;
  int64_t out_h, out_w;
  int32_t swap_rb;  // 1: output channel c reads frame channel 2 - c (BGR frame -> RGB input)
  float mean[3];
  float std[3];
};

// Why p cannot be warped (naming the bad size), or "" when it can: the one C++ check of the warp's
// arguments (warp_params.cpp), run once by each entry point below.
std::string warp_params_error(const WarpParams& p);

size_t warp_workspace_bytes(const WarpParams& p);

// Matches cv2.warpAffine(frame, M, (out_w, out_h), INTER_LINEAR, BORDER_CONSTANT, 0) to the uint8 level.
// Throws std::invalid_argument when warp_params_error(p) is not empty.
void warp_affine_cpu(const WarpParams& p, const uint8_t* frame, const double* mats, float* out, void* workspace);

#if defined(KITPOSE_WITH_CUDA)
// Same contract on device pointers, enqueued on `stream`; returns cudaErrorInvalidValue (and launches
// nothing) when warp_params_error(p) is not empty. Never throws.
cudaError_t warp_affine_cuda(const WarpParams& p, const uint8_t* frame, const double* mats, float* out,
                             void* workspace, cudaStream_t stream);
#endif

}  // namespace kitpose
