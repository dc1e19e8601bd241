// The warp's argument check and workspace size, shared by both twins (and a TensorRT plugin) so that
// the CUDA twin links without the CPU file.
#include <string>

#include "warp/warp.h"

namespace kitpose {

std::string warp_params_error(const WarpParams& p) {
  if (p.batch < 0) return "warp_affine: batch B must be >= 0, got " + std::to_string(p.batch);
  if (p.src_h < 1 || p.src_w < 1)
    return "warp_affine: frame must be (h, w, 3) with h, w >= 1, got (" + std::to_string(p.src_h) + ", " +
           std::to_string(p.src_w) + ")";
  if (p.out_h < 1 || p.out_w < 1)
    return "warp_affine: output size (h, w) must be >= 1, got (" + std::to_string(p.out_h) + ", " +
           std::to_string(p.out_w) + ")";
  if (p.src_h >= (1 << 24) || p.src_w >= (1 << 24)) return "warp_affine: frame sides must stay below 2^24";
  for (int c = 0; c < 3; ++c)
    if (p.std[c] == 0.0f) return "warp_affine: std must be non-zero";
  return {};
}

size_t warp_workspace_bytes(const WarpParams&) { return 0; }

}  // namespace kitpose
