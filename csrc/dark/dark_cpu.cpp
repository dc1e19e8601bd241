// CPU twin of DARK decoding: one map at a time, OpenMP over maps.
// The maths is dark_common.h's (blur_row / blur_column are the two halves of blur_at, so the same
// bits as the CUDA twin's direct evaluation); what changes is that shared work is done once: the
// argmax runs as a vectorisable max pass plus a first-index search, the horizontal blur sums are
// shared by the 13 points, and float16 maps are widened once per map instead of once per read.
#include <cstring>
#include <vector>

#include "dark/dark.h"
#include "dark/dark_common.h"

namespace kitpose {

namespace {

using namespace dark_detail;

// Maps per OpenMP work item: dynamic scheduling so a thread that loses its core to another
// process does not hold the whole call back; 16 maps keep the scheduling cost negligible.
constexpr int kChunk = 16;
// Below this many map entries a call stays on the calling thread. One thread decodes about 2.7 G
// entries/s (Xeon VM: 64 x 17 maps of 64x64 in 1.6 ms), so a team can save at most ~1.5 ms here,
// while a team woken right after an ONNX Runtime call waits for ORT's still-spinning pool to yield
// its cores: 8 ms for 16 x 17 maps of 32x32 in the ORT pipeline at 2^16 (it was 0.2 ms alone).
constexpr int64_t kParallelWork = int64_t(1) << 22;
// Columns px-2..px+2 and rows py-2-r..py+2+r hold every horizontal blur sum the 13 points use.
constexpr int kPatchCols = 5;
constexpr int kPatchRows = kDarkMaxKernel + 4;

// 4 x float in GCC/Clang vector extensions (SSE on x86, NEON on ARM): plain C++ loops with a
// select do not vectorise without fast-math, which would change the NaN and +-0 rules.
typedef float Vec __attribute__((vector_size(16)));
typedef int32_t Mask __attribute__((vector_size(16)));
constexpr int kVec = 4;
constexpr int kBlock = 4 * kVec;  // four independent registers per step

inline Vec load_clean(const float* m) {
  Vec v;
  std::memcpy(&v, m, sizeof v);
  return v == v ? v : Vec{};  // NaN -> 0
}

// Largest entry with NaN read as 0 (a value equal to it; +0 and -0 compare equal).
float map_max(const float* m, int64_t size) {
  float best = load(m, 0);
  int64_t i = 0;
  if (size >= kBlock) {
    Vec acc[4];
    for (int j = 0; j < 4; ++j) acc[j] = load_clean(m + j * kVec);
    for (i = kBlock; i + kBlock <= size; i += kBlock)
      for (int j = 0; j < 4; ++j) {
        const Vec v = load_clean(m + i + j * kVec);
        acc[j] = v > acc[j] ? v : acc[j];
      }
    for (int j = 0; j < 4; ++j)
      for (int l = 0; l < kVec; ++l) best = acc[j][l] > best ? acc[j][l] : best;
  }
  for (; i < size; ++i) {
    const float v = load(m, i);
    best = v > best ? v : best;
  }
  return best;
}

// First flat index whose entry (NaN read as 0) equals `target`, which is present in the map.
int64_t first_index_of(const float* m, int64_t size, float target) {
  const Vec t = {target, target, target, target};
  int64_t i = 0;
  for (; i + kBlock <= size; i += kBlock) {
    Mask hit = load_clean(m + i) == t;
    for (int j = 1; j < 4; ++j) hit |= load_clean(m + i + j * kVec) == t;
    if (hit[0] | hit[1] | hit[2] | hit[3]) break;
  }
  for (; i < size; ++i)
    if (load(m, i) == target) return i;
  return 0;
}

// Maximum of the whole blurred map: only needed where the 1e-10 clamp could bite. Separable (each
// row sum computed once) but the same per-pixel expression and the same scan order as before.
double blurred_max(const float* m, int h, int w, int k, const double* g) {
  std::vector<double> rows(static_cast<size_t>(h) * w);  // (H, W) horizontal sums
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) rows[static_cast<size_t>(y) * w + x] = blur_row(m, w, x, y, k, g);
  double best = 0.0;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const double b = blur_column([&](int yy) { return rows[static_cast<size_t>(yy) * w + x]; }, h, y, k, g);
      best = (y == 0 && x == 0) || b > best ? b : best;
    }
  return best;
}

// Blurred values at the 13 Taylor points around the interior peak (px, py).
void blur_points(const float* m, int h, int w, int k, int px, int py, const double* g, double* b) {
  const int r = k / 2, y0 = py - 2 - r;
  double patch[kPatchRows][kPatchCols];  // (rows py-2-r.., columns px-2..px+2) horizontal sums
  for (int c = 0; c < kPatchCols; ++c) {
    const int reach = 2 - (c > 2 ? c - 2 : 2 - c);  // the points in column c span py-reach..py+reach
    for (int t = 2 - reach; t < k + 2 + reach; ++t) {
      const int yy = y0 + t;
      if (yy >= 0 && yy < h) patch[t][c] = blur_row(m, w, px - 2 + c, yy, k, g);
    }
  }
  for (int i = 0; i < kPoints; ++i) {
    int dx, dy;
    point_offset(i, &dx, &dy);
    b[i] = blur_column([&](int yy) { return patch[yy - y0][dx + 2]; }, h, py + dy, k, g);
  }
}

// Sub-pixel refinement of an interior peak (px, py) with maximum `maxval`.
void refine(const float* m, int h, int w, int k, const double* g, int px, int py, float maxval, double* x,
            double* y) {
  double b[kPoints], logs[kPoints];
  blur_points(m, h, w, k, px, py, g, b);
  bool safe = true;
  for (int i = 0; i < kPoints; ++i) safe = safe && b[i] > kSafeBlur;
  const double scale = safe ? 1.0 : rescale(maxval, blurred_max(m, h, w, k, g));
  if (scale <= 0.0) return;
  for (int i = 0; i < kPoints; ++i) logs[i] = modulated_log(b[i], scale);
  taylor_step(logs, x, y);
}

void decode_map(const DarkParams& p, const float* m, const double* g, const float* affine, float* coord,
                float* score) {
  const int h = static_cast<int>(p.height), w = static_cast<int>(p.width);
  const int64_t idx = first_index_of(m, p.height * p.width, map_max(m, p.height * p.width));
  const float maxval = load(m, idx);  // the first maximum itself (keeps the sign of a zero)
  double x = 0.0, y = 0.0;
  if (maxval > 0.0f) {
    const int px = static_cast<int>(idx % w), py = static_cast<int>(idx / w);
    x = px;
    y = py;
    if (interior(px, py, w, h)) refine(m, h, w, static_cast<int>(p.blur_kernel), g, px, py, maxval, &x, &y);
  }
  *score = maxval;
  if (affine != nullptr) {
    inverse_affine(affine, w, h, x, y, coord);
  } else {
    coord[0] = static_cast<float>(x);
    coord[1] = static_cast<float>(y);
  }
}

const float* widen(const uint16_t* m, int64_t size, float* out) {
  for (int64_t i = 0; i < size; ++i) out[i] = half_bits_to_float(m[i]);
  return out;
}

void decode_all(const DarkParams& p, const void* maps, const float* affine, float* coords, float* scores) {
  const int64_t maps_n = p.batch * p.keypoints, hw = p.height * p.width;
  double g[kDarkMaxKernel];
  gaussian_taps(static_cast<int>(p.blur_kernel), g);
#pragma omp parallel if (maps_n > 1 && maps_n * hw >= kParallelWork)
  {
    std::vector<float> wide(p.half_input ? hw : 0);  // this thread's float copy of a float16 map
#pragma omp for schedule(dynamic, kChunk)
    for (int64_t i = 0; i < maps_n; ++i) {
      const float* m = p.half_input ? widen(static_cast<const uint16_t*>(maps) + i * hw, hw, wide.data())
                                    : static_cast<const float*>(maps) + i * hw;
      const float* a = p.has_affine ? affine + (i / p.keypoints) * 5 : nullptr;
      decode_map(p, m, g, a, coords + 2 * i, scores + i);
    }
  }
}

}  // namespace

void dark_decode_cpu(const DarkParams& p, const void* heatmaps, const float* affine, float* coords,
                     float* scores, void*) {
  throw_if_invalid(dark_params_error(p));
  decode_all(p, heatmaps, affine, coords, scores);
}

}  // namespace kitpose
