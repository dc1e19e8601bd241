// Fused DARK heatmap decoding: argmax, Gaussian-modulated Taylor refinement, optional inverse affine.
// Torch-free: shared by the pybind11 module and TensorRT plugins.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#if defined(KITPOSE_WITH_CUDA)
#include <cuda_runtime_api.h>
#endif

namespace kitpose {

// heatmaps (N, K, H, W) row-major, float32 or float16 (IEEE half bits); affine (N, 5) float32 rows
// (centre x, centre y, scale w, scale h, rotation degrees), scale in units of 200 px, or null.
struct DarkParams {
  int64_t batch;      // N instances
  int64_t keypoints;  // K maps per instance
  int64_t height;     // H
  int64_t width;      // W
  int64_t blur_kernel;  // odd Gaussian kernel size k (cv2.getGaussianKernel(k, 0) weights)
  int32_t half_input;   // 1: heatmaps hold float16 bits
  int32_t has_affine;   // 1: map coordinates back to the image with `affine`
};

constexpr int64_t kDarkMinKernel = 3;
constexpr int64_t kDarkMaxKernel = 31;

// Why p cannot be decoded (naming the bad size), or "" when it can: the one C++ check of DARK's
// arguments (dark_params.cpp), run once by each entry point below.
std::string dark_params_error(const DarkParams& p);

// DARK needs no workspace; kept so every op has the same calling convention.
size_t dark_workspace_bytes(const DarkParams& p);

// -> coords (N, K, 2) float32 (x, y), scores (N, K) float32 (the map maxima, NaN read as 0).
// Throws std::invalid_argument when dark_params_error(p) is not empty.
void dark_decode_cpu(const DarkParams& p, const void* heatmaps, const float* affine, float* coords,
                     float* scores, void* workspace);

#if defined(KITPOSE_WITH_CUDA)
// Same contract on device pointers, enqueued on `stream`; returns cudaErrorInvalidValue (and launches
// nothing) when dark_params_error(p) is not empty. Never throws.
cudaError_t dark_decode_cuda(const DarkParams& p, const void* heatmaps, const float* affine, float* coords,
                             float* scores, void* workspace, cudaStream_t stream);
#endif

}  // namespace kitpose
