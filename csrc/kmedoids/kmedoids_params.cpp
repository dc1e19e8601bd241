// k-medoids' argument check and workspace size, shared by both twins (and a TensorRT plugin) so that
// the CUDA twin links without the CPU file.
#include <string>

#include "kmedoids/kmedoids.h"

namespace kitpose {

std::string kmedoids_params_error(const KMedoidsParams& p) {
  if (p.batch < 0) return "kmedoids: batch B must be >= 0, got " + std::to_string(p.batch);
  if (p.points < 1 || p.points > kKMedoidsMaxPoints)
    return "kmedoids: points N must be in [1, 64], got " + std::to_string(p.points);
  if (p.dim < 1) return "kmedoids: feature dim D must be >= 1, got " + std::to_string(p.dim);
  if (p.clusters < 1 || p.clusters > kKMedoidsMaxClusters || p.clusters > p.points)
    return "kmedoids: clusters C must be in [1, min(8, N)], got C=" + std::to_string(p.clusters) +
           " with N=" + std::to_string(p.points);
  if (p.max_iters < 1) return "kmedoids: max_iters must be >= 1, got " + std::to_string(p.max_iters);
  return {};
}

size_t kmedoids_workspace_bytes(const KMedoidsParams& p) {
  return static_cast<size_t>(p.batch * p.points * p.points) * sizeof(float);
}

}  // namespace kitpose
