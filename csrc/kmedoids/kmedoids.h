// Batched k-medoids on cosine distance (KKZ seeding, lowest-index ties, per-instance convergence).
// Torch-free: shared by the pybind11 module and TensorRT plugins.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#if defined(KITPOSE_WITH_CUDA)
#include <cuda_runtime_api.h>
#endif

namespace kitpose {

// Problem sizes; x is (B, N, D) float32 row-major, C <= N <= kKMedoidsMaxPoints, C <= kKMedoidsMaxClusters.
struct KMedoidsParams {
  int64_t batch;     // B instances
  int64_t points;    // N points per instance
  int64_t dim;       // D features per point
  int64_t clusters;  // C medoids per instance
  int64_t max_iters; // assignment/update rounds before giving up on convergence
};

constexpr int64_t kKMedoidsMaxPoints = 64;
constexpr int64_t kKMedoidsMaxClusters = 8;

// Why p cannot be clustered (naming the bad size, max_iters >= 1 included), or "" when it can: the
// one C++ check of k-medoids' arguments (kmedoids_params.cpp), run once by each entry point below.
std::string kmedoids_params_error(const KMedoidsParams& p);

// Bytes of caller-owned workspace: the (B, N, N) Gram matrices in float32 (p is not checked).
size_t kmedoids_workspace_bytes(const KMedoidsParams& p);

// x (B, N, D) -> assign (B, N) int64, medoids (B, C) int64 ascending, means (B, C, D) float32.
// Throws std::invalid_argument when kmedoids_params_error(p) is not empty.
void kmedoids_cpu(const KMedoidsParams& p, const float* x, int64_t* assign, int64_t* medoids,
                  float* means, void* workspace);

#if defined(KITPOSE_WITH_CUDA)
// Same contract on device pointers; enqueued on `stream`, no host sync, no allocation. Returns
// cudaErrorInvalidValue (and launches nothing) when kmedoids_params_error(p) is not empty. Never throws.
cudaError_t kmedoids_cuda(const KMedoidsParams& p, const float* x, int64_t* assign, int64_t* medoids,
                          float* means, void* workspace, cudaStream_t stream);
#endif

}  // namespace kitpose
