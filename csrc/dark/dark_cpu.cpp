// CPU twin of DARK decoding: one map at a time, OpenMP over maps.
#include <string>

#include "dark/dark.h"
#include "dark/dark_common.h"

namespace kitpose {

void dark_check(const DarkParams& p) {
  KP_CHECK(p.batch >= 0 && p.keypoints >= 0,
           "dark_decode: N and K must be >= 0, got N=" + std::to_string(p.batch) + " K=" + std::to_string(p.keypoints));
  KP_CHECK(p.height >= 1 && p.width >= 1,
           "dark_decode: heatmaps need H, W >= 1, got H=" + std::to_string(p.height) + " W=" + std::to_string(p.width));
  KP_CHECK(p.height * p.width < (int64_t(1) << 31), "dark_decode: H*W must stay below 2^31");
  KP_CHECK(p.blur_kernel >= 1 && p.blur_kernel <= kDarkMaxKernel && p.blur_kernel % 2 == 1,
           "dark_decode: blur_kernel must be odd and in [1, 31], got " + std::to_string(p.blur_kernel));
}

size_t dark_workspace_bytes(const DarkParams&) { return 0; }

namespace {

using namespace dark_detail;

template <typename T>
void argmax(const T* m, int64_t size, int64_t* idx, float* val) {
  int64_t best = 0;
  float best_v = load(m, 0);
  for (int64_t i = 1; i < size; ++i) {
    const float v = load(m, i);
    if (v > best_v) {
      best_v = v;
      best = i;
    }
  }
  *idx = best;
  *val = best_v;
}

// Maximum of the whole blurred map: only needed where the 1e-10 clamp could bite.
template <typename T>
double blurred_max(const T* m, int h, int w, int k, const double* g) {
  double best = blur_at(m, h, w, 0, 0, k, g);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const double b = blur_at(m, h, w, x, y, k, g);
      best = b > best ? b : best;
    }
  return best;
}

// Sub-pixel refinement of an interior peak (px, py) with maximum `maxval`.
template <typename T>
void refine(const T* m, int h, int w, int k, int px, int py, float maxval, double* x, double* y) {
  double g[kDarkMaxKernel], b[kPoints], logs[kPoints];
  gaussian_taps(k, g);
  bool safe = true;
  for (int i = 0; i < kPoints; ++i) {
    int dx, dy;
    point_offset(i, &dx, &dy);
    b[i] = blur_at(m, h, w, px + dx, py + dy, k, g);
    safe = safe && b[i] > kSafeBlur;
  }
  const double scale = safe ? 1.0 : rescale(maxval, blurred_max(m, h, w, k, g));
  if (scale <= 0.0) return;
  for (int i = 0; i < kPoints; ++i) logs[i] = modulated_log(b[i], scale);
  taylor_step(logs, x, y);
}

template <typename T>
void decode_map(const DarkParams& p, const T* m, const float* affine, float* coord, float* score) {
  const int h = static_cast<int>(p.height), w = static_cast<int>(p.width);
  int64_t idx;
  float maxval;
  argmax(m, p.height * p.width, &idx, &maxval);
  double x = 0.0, y = 0.0;
  if (maxval > 0.0f) {
    const int px = static_cast<int>(idx % w), py = static_cast<int>(idx / w);
    x = px;
    y = py;
    if (interior(px, py, w, h)) refine(m, h, w, static_cast<int>(p.blur_kernel), px, py, maxval, &x, &y);
  }
  *score = maxval;
  if (affine != nullptr) {
    inverse_affine(affine, w, h, x, y, coord);
  } else {
    coord[0] = static_cast<float>(x);
    coord[1] = static_cast<float>(y);
  }
}

template <typename T>
void decode_all(const DarkParams& p, const T* maps, const float* affine, float* coords, float* scores) {
  const int64_t maps_n = p.batch * p.keypoints, hw = p.height * p.width;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < maps_n; ++i) {
    const float* a = p.has_affine ? affine + (i / p.keypoints) * 5 : nullptr;
    decode_map(p, maps + i * hw, a, coords + 2 * i, scores + i);
  }
}

}  // namespace

void dark_decode_cpu(const DarkParams& p, const void* heatmaps, const float* affine, float* coords,
                     float* scores, void*) {
  dark_check(p);
  if (p.half_input)
    decode_all(p, static_cast<const uint16_t*>(heatmaps), affine, coords, scores);
  else
    decode_all(p, static_cast<const float*>(heatmaps), affine, coords, scores);
}

}  // namespace kitpose
