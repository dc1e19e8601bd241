// CPU twin of k-medoids: blocked Gram per instance (vectorised lanes), OpenMP over instances.
#include <algorithm>
#include <cstring>
#include <vector>

#include "kmedoids/kmedoids.h"
#include "kmedoids/kmedoids_common.h"

namespace kitpose {

namespace {

constexpr int kLanes = 8;  // independent partial sums per dot product: the compiler vectorises them
constexpr int kTileI = 2;
constexpr int kTileJ = 4;

// x86-64: an AVX2 clone beside the SSE2 baseline, picked at load time. aarch64: NEON is the
// baseline, so the plain loop vectorises as it is (4 lanes a register, two registers per kLanes).
// Both evaluate the same products and sums in the same order (no contraction, see CMakeLists.txt).
#if defined(__x86_64__)
#define KP_DOT_TILE_CLONES __attribute__((target_clones("avx2,fma", "default")))
#else
#define KP_DOT_TILE_CLONES
#endif

// Dot products of rows a[0..1] with rows b[0..3]; every pair uses the same lane order, so the
// result of a pair does not depend on where it sits in a tile.
KP_DOT_TILE_CLONES
void dot_tile(const float* const* a, const float* const* b, int64_t d, float out[kTileI][kTileJ]) {
  float acc[kTileI][kTileJ][kLanes] = {};
  const int64_t body = d - d % kLanes;
  for (int64_t k = 0; k < body; k += kLanes)
    for (int i = 0; i < kTileI; ++i)
      for (int j = 0; j < kTileJ; ++j)
        for (int l = 0; l < kLanes; ++l) acc[i][j][l] += a[i][k + l] * b[j][k + l];
  for (int64_t k = body; k < d; ++k)
    for (int i = 0; i < kTileI; ++i)
      for (int j = 0; j < kTileJ; ++j) acc[i][j][k - body] += a[i][k] * b[j][k];
  for (int i = 0; i < kTileI; ++i)
    for (int j = 0; j < kTileJ; ++j) {
      float s = 0.0f;
      for (int l = 0; l < kLanes; ++l) s += acc[i][j][l];
      out[i][j] = s;
    }
}

// Upper triangle (with diagonal) of the (N, N) Gram matrix of one instance.
void gram_upper(const float* x, int n, int64_t d, float* gram) {
  for (int i0 = 0; i0 < n; i0 += kTileI) {
    const float* a[kTileI];
    for (int i = 0; i < kTileI; ++i) a[i] = x + std::min(i0 + i, n - 1) * d;
    for (int j0 = i0 - i0 % kTileJ; j0 < n; j0 += kTileJ) {
      const float* b[kTileJ];
      for (int j = 0; j < kTileJ; ++j) b[j] = x + std::min(j0 + j, n - 1) * d;
      float out[kTileI][kTileJ];
      dot_tile(a, b, d, out);
      for (int i = 0; i < kTileI; ++i)
        for (int j = 0; j < kTileJ; ++j)
          if (i0 + i < n && j0 + j < n && i0 + i <= j0 + j) gram[(i0 + i) * n + j0 + j] = out[i][j];
    }
  }
}

// KKZ seeding: largest original norm first, then the point farthest from its nearest chosen medoid.
void kkz_seed(const float* gram, const float* dist, int n, int c, int* med) {
  using namespace kmedoids_detail;
  int first = 0;
  for (int i = 1; i < n; ++i)
    if (gram[i * n + i] > gram[first * n + first]) first = i;
  med[0] = first;
  for (int k = 1; k < c; ++k) {
    int best = -1;
    float best_d = 0.0f;
    for (int i = 0; i < n; ++i) {
      if (is_chosen(med, k, i)) continue;
      const float m = distance_to_chosen(dist, n, med, k, i);
      if (best < 0 || m > best_d) {
        best = i;
        best_d = m;
      }
    }
    med[k] = best;
  }
  kmedoids_detail::sort_ids(med, c);  // slots stay in ascending id order at every round
}

// Move every medoid to its cheapest member; returns true when one moved.
bool update_medoids(const float* dist, int n, const int* assign, int c, int* med) {
  using namespace kmedoids_detail;
  bool moved = false;
  for (int k = 0; k < c; ++k) {
    int best = -1;
    float best_cost = 0.0f;
    for (int i = 0; i < n; ++i) {
      if (assign[i] != k) continue;
      const float cost = member_cost(dist, n, assign, k, i);
      if (best < 0 || cost < best_cost) {
        best = i;
        best_cost = cost;
      }
    }
    moved = moved || best != med[k];
    med[k] = best;
  }
  kmedoids_detail::sort_ids(med, c);
  return moved;
}

void assign_all(const float* dist, int n, const int* med, int c, int* assign) {
  for (int i = 0; i < n; ++i) assign[i] = kmedoids_detail::nearest_cluster(dist, n, med, c, i);
}

// Per-cluster mean of the original rows, members summed in ascending order.
void cluster_means(const float* x, int n, int64_t d, const int* assign, int c, float* means) {
  for (int k = 0; k < c; ++k) {
    float* out = means + k * d;
    std::fill(out, out + d, 0.0f);
    int count = 0;
    for (int i = 0; i < n; ++i) {
      if (assign[i] != k) continue;
      ++count;
      const float* row = x + i * d;
      for (int64_t e = 0; e < d; ++e) out[e] += row[e];
    }
    const float inv = 1.0f / static_cast<float>(count);
    for (int64_t e = 0; e < d; ++e) out[e] *= inv;
  }
}

void kmedoids_instance(const KMedoidsParams& p, const float* x, float* gram, int64_t* assign_out,
                       int64_t* med_out, float* means) {
  const int n = static_cast<int>(p.points), c = static_cast<int>(p.clusters);
  gram_upper(x, n, p.dim, gram);
  float dist[kKMedoidsMaxPoints * kKMedoidsMaxPoints];
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) kmedoids_detail::distance_entry(gram, n, i, j, dist);
  int med[kKMedoidsMaxClusters], assign[kKMedoidsMaxPoints];
  kkz_seed(gram, dist, n, c, med);
  for (int64_t it = 0; it < p.max_iters; ++it) {
    assign_all(dist, n, med, c, assign);
    if (!update_medoids(dist, n, assign, c, med)) break;
  }
  assign_all(dist, n, med, c, assign);
  for (int i = 0; i < n; ++i) assign_out[i] = assign[i];
  for (int k = 0; k < c; ++k) med_out[k] = med[k];
  cluster_means(x, n, p.dim, assign, c, means);
}

}  // namespace

void kmedoids_cpu(const KMedoidsParams& p, const float* x, int64_t* assign, int64_t* medoids,
                  float* means, void* workspace) {
  throw_if_invalid(kmedoids_params_error(p));
  float* gram = static_cast<float*>(workspace);
  const int64_t nn = p.points * p.points;
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t b = 0; b < p.batch; ++b) {
    kmedoids_instance(p, x + b * p.points * p.dim, gram + b * nn, assign + b * p.points,
                      medoids + b * p.clusters, means + b * p.clusters * p.dim);
  }
}

}  // namespace kitpose
