// CPU twin of the warp: OpenMP over (crop, row).
#include "warp/warp.h"
#include "warp/warp_common.h"

namespace kitpose {

void warp_affine_cpu(const WarpParams& p, const uint8_t* frame, const double* mats, float* out, void*) {
  throw_if_invalid(warp_params_error(p));
  const int h = static_cast<int>(p.src_h), w = static_cast<int>(p.src_w);
  const int64_t plane = p.out_h * p.out_w;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t y = 0; y < p.out_h; ++y) {
      float inv[6];
      warp_detail::inverse_matrix(mats + 6 * b, inv);
      for (int c = 0; c < 3; ++c) {
        const int src_c = p.swap_rb ? 2 - c : c;
        float* row = out + (b * 3 + c) * plane + y * p.out_w;
        for (int64_t x = 0; x < p.out_w; ++x) {
          const float v = warp_detail::sample(frame, h, w, inv, static_cast<int>(x), static_cast<int>(y), src_c);
          row[x] = warp_detail::normalise(v, p.mean[c], p.std[c]);
        }
      }
    }
}

}  // namespace kitpose
