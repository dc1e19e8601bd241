// CUDA twin of the warp: one thread per output pixel (all three channels).
#include "warp/warp.h"
#include "warp/warp_common.h"

namespace kitpose {

namespace {

constexpr int kThreads = 256;

__global__ void warp_kernel(WarpParams p, const uint8_t* __restrict__ frame, const double* __restrict__ mats,
                            float* __restrict__ out) {
  const int64_t plane = p.out_h * p.out_w;
  const int64_t e = blockIdx.x * static_cast<int64_t>(kThreads) + threadIdx.x;
  if (e >= p.batch * plane) return;
  const int64_t b = e / plane, pix = e % plane;
  const int x = static_cast<int>(pix % p.out_w), y = static_cast<int>(pix / p.out_w);
  float inv[6];
  warp_detail::inverse_matrix(mats + 6 * b, inv);
  for (int c = 0; c < 3; ++c) {
    const int src_c = p.swap_rb ? 2 - c : c;
    const float v = warp_detail::sample(frame, static_cast<int>(p.src_h), static_cast<int>(p.src_w), inv, x, y, src_c);
    out[(b * 3 + c) * plane + pix] = warp_detail::normalise(v, p.mean[c], p.std[c]);
  }
}

}  // namespace

cudaError_t warp_affine_cuda(const WarpParams& p, const uint8_t* frame, const double* mats, float* out, void*,
                             cudaStream_t stream) {
  if (!warp_params_error(p).empty()) return cudaErrorInvalidValue;  // the binding raises the reason
  const int64_t total = p.batch * p.out_h * p.out_w;
  if (total == 0) return cudaSuccess;
  const unsigned blocks = static_cast<unsigned>((total + kThreads - 1) / kThreads);
  warp_kernel<<<blocks, kThreads, 0, stream>>>(p, frame, mats, out);
  return cudaGetLastError();
}

}  // namespace kitpose
