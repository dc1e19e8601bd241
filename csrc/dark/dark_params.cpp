// DARK's argument check and workspace size, shared by both twins (and a TensorRT plugin) so that the
// CUDA twin links without the CPU file.
#include <string>

#include "dark/dark.h"

namespace kitpose {

std::string dark_params_error(const DarkParams& p) {
  if (p.batch < 0 || p.keypoints < 0)
    return "dark_decode: N and K must be >= 0, got N=" + std::to_string(p.batch) + " K=" + std::to_string(p.keypoints);
  if (p.height < 1 || p.width < 1)
    return "dark_decode: heatmaps need H, W >= 1, got H=" + std::to_string(p.height) + " W=" + std::to_string(p.width);
  if (p.height * p.width >= (int64_t(1) << 31)) return "dark_decode: H*W must stay below 2^31";
  if (p.blur_kernel < kDarkMinKernel || p.blur_kernel > kDarkMaxKernel || p.blur_kernel % 2 == 0)
    return "dark_decode: blur_kernel must be odd and in [3, 31], got " + std::to_string(p.blur_kernel);
  return {};
}

size_t dark_workspace_bytes(const DarkParams&) { return 0; }

}  // namespace kitpose
