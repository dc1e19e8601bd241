// Maths both k-medoids twins share, so CPU and CUDA evaluate the same expressions in the same order.
#pragma once

#include <cmath>
#include <cstdint>

#include "common.h"

namespace kitpose {
namespace kmedoids_detail {

// Rows with a smaller norm normalise to (almost) the zero vector, as torch.nn.functional.normalize.
constexpr float kNormEps = 1e-12f;

KP_HOST_DEVICE inline float inv_norm(float sq_norm) {
  return 1.0f / fmaxf(sqrtf(sq_norm), kNormEps);
}

// d(i, j) = max(0, 1 - cos) from the Gram entry of i <= j; the caller mirrors it so d is exactly
// symmetric. The clamp keeps rounding (cos slightly above 1 for duplicate rows) from going negative.
KP_HOST_DEVICE inline float cosine_distance(float dot, float inv_i, float inv_j) {
  return fmaxf(0.0f, 1.0f - dot * inv_i * inv_j);
}

// Fill the (N, N) distances of one instance from its Gram matrix (only the upper triangle is read).
KP_HOST_DEVICE inline void distance_entry(const float* gram, int n, int i, int j, float* dist) {
  if (i == j) {
    dist[i * n + j] = 0.0f;
    return;
  }
  const int a = i < j ? i : j;
  const int b = i < j ? j : i;
  dist[i * n + j] = cosine_distance(gram[a * n + b], inv_norm(gram[a * n + a]), inv_norm(gram[b * n + b]));
}

// Nearest medoid of point i (medoid slots kept in ascending id order, so ties go to the lowest id),
// and a medoid always belongs to its own cluster.
KP_HOST_DEVICE inline int nearest_cluster(const float* dist, int n, const int* med, int c, int i) {
  int best = 0;
  float best_d = dist[med[0] * n + i];
  for (int k = 0; k < c; ++k) {
    if (med[k] == i) return k;
    const float d = dist[med[k] * n + i];
    if (d < best_d) {
      best_d = d;
      best = k;
    }
  }
  return best;
}

// Summed distance of point i to the members of cluster k (members in ascending order).
KP_HOST_DEVICE inline float member_cost(const float* dist, int n, const int* assign, int k, int i) {
  float s = 0.0f;
  for (int j = 0; j < n; ++j) {
    if (assign[j] == k) s += dist[i * n + j];
  }
  return s;
}

// Distance of point i to its nearest chosen medoid (the KKZ criterion).
KP_HOST_DEVICE inline float distance_to_chosen(const float* dist, int n, const int* med, int chosen, int i) {
  float m = dist[med[0] * n + i];
  for (int k = 1; k < chosen; ++k) m = fminf(m, dist[med[k] * n + i]);
  return m;
}

KP_HOST_DEVICE inline bool is_chosen(const int* med, int chosen, int i) {
  for (int k = 0; k < chosen; ++k)
    if (med[k] == i) return true;
  return false;
}

// Insertion sort of the C <= 8 medoid ids, ascending.
KP_HOST_DEVICE inline void sort_ids(int* med, int c) {
  for (int a = 1; a < c; ++a) {
    const int v = med[a];
    int b = a - 1;
    while (b >= 0 && med[b] > v) {
      med[b + 1] = med[b];
      --b;
    }
    med[b + 1] = v;
  }
}

}  // namespace kmedoids_detail
}  // namespace kitpose
