// Batched affine crop + bilinear resize + mean/std normalisation of one uint8 HWC frame.
// Torch-free: shared by the pybind11 module and TensorRT plugins.
#pragma once

#include <cstddef>
#include <cstdint>

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

// Throws std::invalid_argument naming the bad size.
void warp_check(const WarpParams& p);

size_t warp_workspace_bytes(const WarpParams& p);

// Matches cv2.warpAffine(frame, M, (out_w, out_h), INTER_LINEAR, BORDER_CONSTANT, 0) to the uint8 level.
void warp_affine_cpu(const WarpParams& p, const uint8_t* frame, const double* mats, float* out, void* workspace);

#if defined(KITPOSE_WITH_CUDA)
cudaError_t warp_affine_cuda(const WarpParams& p, const uint8_t* frame, const double* mats, float* out,
                             void* workspace, cudaStream_t stream);
#endif

}  // namespace kitpose
