// CUDA twin of k-medoids: tiled Gram kernel, one block per instance for KKZ + iterations with the
// N x N distances in shared memory, then a cluster-mean kernel. No host sync, no allocation.
#include "kmedoids/kmedoids.h"
#include "kmedoids/kmedoids_common.h"

namespace kitpose {

namespace {

constexpr int kTile = 16;          // Gram tile side (kTile x kTile threads, one entry each)
constexpr int kChunk = 16;         // features staged in shared memory per step
constexpr int kClusterThreads = 64;  // one thread per point (N <= 64)
constexpr int kMeanThreads = 256;
constexpr int kMaxN = static_cast<int>(kKMedoidsMaxPoints);
constexpr int kMaxC = static_cast<int>(kKMedoidsMaxClusters);
// Instances per launch: CUDA's limit on gridDim.z. The emulated build of the tests lowers it
// (tests/ops/test_cuda_emulated.py) so that small batches already take the chunked path.
#ifndef KITPOSE_KMEDOIDS_GRID_Z
#define KITPOSE_KMEDOIDS_GRID_Z 65535
#endif
constexpr int64_t kMaxGridZ = KITPOSE_KMEDOIDS_GRID_Z;

// Upper-triangle tiles of the (N, N) Gram matrix of each instance; every entry sums over D in
// ascending order, so results are deterministic.
__global__ void gram_kernel(KMedoidsParams p, const float* __restrict__ x, float* __restrict__ gram) {
  if (blockIdx.y > blockIdx.x) return;  // lower tiles: never read
  __shared__ float rows_i[kTile][kChunk + 1];
  __shared__ float rows_j[kTile][kChunk + 1];
  const int n = static_cast<int>(p.points);
  const int64_t d = p.dim;
  const float* xb = x + blockIdx.z * n * d;
  const int ti = threadIdx.y, tj = threadIdx.x;
  const int i = blockIdx.y * kTile + ti, j = blockIdx.x * kTile + tj;
  float acc = 0.0f;
  for (int64_t k0 = 0; k0 < d; k0 += kChunk) {
    const int li = blockIdx.y * kTile + ti, lj = blockIdx.x * kTile + ti;
    const int64_t k = k0 + tj;
    rows_i[ti][tj] = (li < n && k < d) ? xb[li * d + k] : 0.0f;
    rows_j[ti][tj] = (lj < n && k < d) ? xb[lj * d + k] : 0.0f;
    __syncthreads();
    for (int e = 0; e < kChunk; ++e) acc = fmaf(rows_i[ti][e], rows_j[tj][e], acc);
    __syncthreads();
  }
  if (i < n && j < n && i <= j) gram[(blockIdx.z * n + i) * n + j] = acc;
}

// Thread 0 picks the next KKZ medoid from the per-point criterion in `crit` (-1: already chosen).
__device__ void pick_farthest(const float* crit, int n, int* med, int k) {
  int best = -1;
  for (int i = 0; i < n; ++i) {
    if (crit[i] < 0.0f) continue;
    if (best < 0 || crit[i] > crit[best]) best = i;
  }
  med[k] = best;
}

// Thread 0 moves every medoid to its cheapest member (ascending scan, strict <: lowest index wins).
__device__ bool pick_cheapest(const float* cost, const int* assign, int n, int c, int* med) {
  bool moved = false;
  for (int k = 0; k < c; ++k) {
    int best = -1;
    for (int i = 0; i < n; ++i) {
      if (assign[i] != k) continue;
      if (best < 0 || cost[i] < cost[best]) best = i;
    }
    moved = moved || best != med[k];
    med[k] = best;
  }
  kmedoids_detail::sort_ids(med, c);  // slots stay in ascending id order at every round
  return moved;
}

__global__ void cluster_kernel(KMedoidsParams p, const float* __restrict__ gram, int64_t* __restrict__ assign_out,
                               int64_t* __restrict__ med_out) {
  using namespace kmedoids_detail;
  __shared__ float dist[kMaxN * kMaxN];
  __shared__ float crit[kMaxN];
  __shared__ int assign[kMaxN];
  __shared__ int med[kMaxC];
  __shared__ int moved;
  const int n = static_cast<int>(p.points), c = static_cast<int>(p.clusters), t = threadIdx.x;
  const float* g = gram + blockIdx.x * n * n;
  for (int e = t; e < n * n; e += blockDim.x) distance_entry(g, n, e / n, e % n, dist);
  if (t == 0) {
    int first = 0;
    for (int i = 1; i < n; ++i)
      if (g[i * n + i] > g[first * n + first]) first = i;
    med[0] = first;
  }
  __syncthreads();
  for (int k = 1; k < c; ++k) {
    if (t < n) crit[t] = is_chosen(med, k, t) ? -1.0f : distance_to_chosen(dist, n, med, k, t);
    __syncthreads();
    if (t == 0) pick_farthest(crit, n, med, k);
    __syncthreads();
  }
  if (t == 0) sort_ids(med, c);
  __syncthreads();
  for (int64_t it = 0; it < p.max_iters; ++it) {
    if (t < n) assign[t] = nearest_cluster(dist, n, med, c, t);
    __syncthreads();
    if (t < n) crit[t] = member_cost(dist, n, assign, assign[t], t);
    __syncthreads();
    if (t == 0) moved = pick_cheapest(crit, assign, n, c, med) ? 1 : 0;
    __syncthreads();
    if (!moved) break;
  }
  if (t < n) assign_out[blockIdx.x * n + t] = nearest_cluster(dist, n, med, c, t);
  if (t < c) med_out[blockIdx.x * c + t] = med[t];
}

// Per-cluster mean of the original rows, members summed in ascending order (as the CPU twin).
__global__ void means_kernel(KMedoidsParams p, const float* __restrict__ x, const int64_t* __restrict__ assign,
                             float* __restrict__ means) {
  const int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (e >= p.dim) return;
  const int64_t b = blockIdx.z, k = blockIdx.y, n = p.points, d = p.dim;
  float s = 0.0f;
  int count = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (assign[b * n + i] != k) continue;
    ++count;
    s += x[(b * n + i) * d + e];
  }
  means[(b * p.clusters + k) * d + e] = s * (1.0f / static_cast<float>(count));
}

// The three kernels for instances [0, q.batch) of the given pointers; q.batch <= kMaxGridZ.
void launch_chunk(const KMedoidsParams& q, const float* x, int64_t* assign, int64_t* medoids, float* means,
                  float* gram, cudaStream_t stream) {
  const unsigned tiles = static_cast<unsigned>((q.points + kTile - 1) / kTile);
  gram_kernel<<<dim3(tiles, tiles, static_cast<unsigned>(q.batch)), dim3(kTile, kTile), 0, stream>>>(q, x, gram);
  cluster_kernel<<<static_cast<unsigned>(q.batch), kClusterThreads, 0, stream>>>(q, gram, assign, medoids);
  const dim3 mean_grid(static_cast<unsigned>((q.dim + kMeanThreads - 1) / kMeanThreads),
                       static_cast<unsigned>(q.clusters), static_cast<unsigned>(q.batch));
  means_kernel<<<mean_grid, kMeanThreads, 0, stream>>>(q, x, assign, means);
}

}  // namespace

cudaError_t kmedoids_cuda(const KMedoidsParams& p, const float* x, int64_t* assign, int64_t* medoids,
                          float* means, void* workspace, cudaStream_t stream) {
  if (!kmedoids_params_error(p).empty()) return cudaErrorInvalidValue;  // the binding raises the reason
  float* gram = static_cast<float*>(workspace);
  // gridDim.z (the instance axis of the Gram and mean grids) stops at 65535: larger batches are
  // launched in chunks on the same stream, which still needs no host synchronisation.
  for (int64_t b0 = 0; b0 < p.batch; b0 += kMaxGridZ) {
    KMedoidsParams q = p;
    q.batch = p.batch - b0 < kMaxGridZ ? p.batch - b0 : kMaxGridZ;
    launch_chunk(q, x + b0 * p.points * p.dim, assign + b0 * p.points, medoids + b0 * p.clusters,
                 means + b0 * p.clusters * p.dim, gram + b0 * p.points * p.points, stream);
  }
  return cudaGetLastError();
}

}  // namespace kitpose
