// CUDA twin of DARK decoding: one warp per map (argmax by warp reduction, the 13 blurred points on
// 13 lanes, the Newton step on lane 0). No host sync, no allocation.
#include <cfloat>

#include "dark/dark.h"
#include "dark/dark_common.h"

namespace kitpose {

namespace {

constexpr int kWarp = 32;
constexpr int kWarpsPerBlock = 4;
constexpr int kThreads = kWarp * kWarpsPerBlock;

// First maximum in row-major order: larger value wins, equal values go to the lower index.
__device__ void warp_argmax(float* v, int* idx) {
  for (int off = kWarp / 2; off > 0; off /= 2) {
    const float ov = __shfl_down_sync(0xffffffffu, *v, off);
    const int oi = __shfl_down_sync(0xffffffffu, *idx, off);
    if (oi >= 0 && (*idx < 0 || ov > *v || (ov == *v && oi < *idx))) {
      *v = ov;
      *idx = oi;
    }
  }
  *v = __shfl_sync(0xffffffffu, *v, 0);
  *idx = __shfl_sync(0xffffffffu, *idx, 0);
}

// Maximum of the whole blurred map (only where the 1e-10 clamp could bite); max is order-free.
// Separable, as the CPU twin: each lane walks its columns top to bottom keeping the last k row sums
// in a ring, so a pixel costs 2k taps instead of k*k; every blurred value is the same expression
// blur_at evaluates (blur_row sums, then blur_column over them in the same order).
template <typename T>
__device__ double warp_blurred_max(const T* m, int h, int w, int k, const double* g, int lane) {
  using namespace dark_detail;
  const int r = k / 2;
  double best = -DBL_MAX;
  for (int x = lane; x < w; x += kWarp) {
    double ring[kDarkMaxKernel];  // row sums of rows next-k .. next-1 at ring[row % k]
    int next = 0;
    for (int y = 0; y < h; ++y) {
      const int last = y + r < h ? y + r : h - 1;  // the lowest row still needed is y - r
      for (; next <= last; ++next) ring[next % k] = blur_row(m, w, x, next, k, g);
      best = fmax(best, blur_column([&](int yy) { return ring[yy % k]; }, h, y, k, g));
    }
  }
  for (int off = kWarp / 2; off > 0; off /= 2) best = fmax(best, __shfl_down_sync(0xffffffffu, best, off));
  return __shfl_sync(0xffffffffu, best, 0);
}

template <typename T>
__global__ void dark_kernel(DarkParams p, const T* __restrict__ maps, const float* __restrict__ affine,
                            float* __restrict__ coords, float* __restrict__ scores) {
  using namespace dark_detail;
  __shared__ double blurred[kWarpsPerBlock][kPoints];
  const int64_t map = (blockIdx.x * static_cast<int64_t>(kThreads) + threadIdx.x) / kWarp;
  const int lane = threadIdx.x % kWarp, wib = threadIdx.x / kWarp;
  if (map >= p.batch * p.keypoints) return;  // whole warps leave together
  const int h = static_cast<int>(p.height), w = static_cast<int>(p.width), k = static_cast<int>(p.blur_kernel);
  const T* m = maps + map * p.height * p.width;
  float maxval = 0.0f;
  int idx = -1;
  for (int e = lane; e < h * w; e += kWarp) {
    const float v = load(m, e);
    if (idx < 0 || v > maxval) {
      maxval = v;
      idx = e;
    }
  }
  warp_argmax(&maxval, &idx);
  const int px = idx % w, py = idx / w;
  double x = 0.0, y = 0.0;
  if (maxval > 0.0f) {
    x = px;
    y = py;
    if (interior(px, py, w, h)) {
      double g[kDarkMaxKernel];
      gaussian_taps(k, g);
      if (lane < kPoints) {
        int dx, dy;
        point_offset(lane, &dx, &dy);
        blurred[wib][lane] = blur_at(m, h, w, px + dx, py + dy, k, g);
      }
      __syncwarp();
      bool safe = true;
      for (int i = 0; i < kPoints; ++i) safe = safe && blurred[wib][i] > kSafeBlur;
      const double scale = safe ? 1.0 : rescale(maxval, warp_blurred_max(m, h, w, k, g, lane));
      if (scale > 0.0) {
        double logs[kPoints];
        for (int i = 0; i < kPoints; ++i) logs[i] = modulated_log(blurred[wib][i], scale);
        taylor_step(logs, &x, &y);
      }
    }
  }
  if (lane != 0) return;
  scores[map] = maxval;
  if (p.has_affine) {
    inverse_affine(affine + (map / p.keypoints) * 5, w, h, x, y, coords + 2 * map);
  } else {
    coords[2 * map] = static_cast<float>(x);
    coords[2 * map + 1] = static_cast<float>(y);
  }
}

}  // namespace

cudaError_t dark_decode_cuda(const DarkParams& p, const void* heatmaps, const float* affine, float* coords,
                             float* scores, void*, cudaStream_t stream) {
  if (!dark_params_error(p).empty()) return cudaErrorInvalidValue;  // the binding raises the reason
  const int64_t maps_n = p.batch * p.keypoints;
  if (maps_n == 0) return cudaSuccess;
  const unsigned blocks = static_cast<unsigned>((maps_n + kWarpsPerBlock - 1) / kWarpsPerBlock);
  if (p.half_input)
    dark_kernel<<<blocks, kThreads, 0, stream>>>(p, static_cast<const uint16_t*>(heatmaps), affine, coords, scores);
  else
    dark_kernel<<<blocks, kThreads, 0, stream>>>(p, static_cast<const float*>(heatmaps), affine, coords, scores);
  return cudaGetLastError();
}

}  // namespace kitpose
