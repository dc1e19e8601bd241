"""Pure-PyTorch oracles for the compiled ops: batched k-medoids and DARK heatmap decoding.

These functions are the semantics the C++/CUDA twins in `csrc/` must reproduce. They take
already-validated torch tensors (see `kitpose.ops.kmedoids` / `kitpose.ops.dark_decode` for the
checks) and run on whatever device the input is on.

k-medoids (a deliberate fix of the official routine, KITPOSE_SPEC.md section 4.1): the official code
picks the first KKZ medoid as the largest norm *after* L2-normalising every row, so float32 rounding
decides it, and a two-member cluster is an exact tie decided by the rounding of the self-distances;
CPU and GPU disagree. Here every step is defined so that only genuine near-ties depend on rounding:

- d(i, j) = 1 - <x_i / max(|x_i|, eps), x_j / max(|x_j|, eps)> with eps = 1e-12. The Gram matrix
  is computed once, only its strict upper triangle is kept and mirrored, so d is exactly symmetric,
  and d(i, i) = 0 exactly (no clamp: duplicate rows may sit at a rounding-size negative distance).
- Zero rows normalise to the zero vector, so d = 1 to every other point (d(i, i) stays 0).
- Distances are float32 for float32/float16/bfloat16 input, float64 for float64 input.
- KKZ seeding: the first medoid is the row with the largest squared L2 norm of the *original* row;
  each next medoid is the point farthest from its nearest chosen medoid, chosen points excluded
  (never re-picked: with all-equal rows the medoids are 0..C-1).
- Medoid slots are kept in ascending point-index order at every round (after seeding and after each
  update), so "ties to the lowest index" means the lowest point index everywhere.
- Assignment: every point goes to its nearest medoid, ties to the lowest medoid id; a medoid always
  belongs to its own cluster (its self-distance counts as strictly smallest), so no cluster is ever
  empty, even with duplicate rows.
- Update: every medoid moves to the member with the smallest summed distance to the cluster's
  members, ties to the lowest point index.
- Rounds repeat until no medoid of any instance moves, or `max_iters` rounds. Each instance is
  independent: a converged state is a fixed point, so iterating it further changes nothing, and the
  fixed-round form `kmedoids_fixed_reference(x, C, n)` equals the early-stopping form with
  `max_iters=n`. The final (sorted) medoids get one more assignment, so cluster k is the one whose
  medoid has the k-th smallest row id.
- C == N gives every point its own cluster (C > N is rejected by the front).

DARK (KITPOSE_SPEC.md section 12), computed in float64, returned as float32:

- NaN entries are treated as 0 before anything; +-inf is outside the contract (coordinates may be NaN).
- Integer argmax over the flattened map, ties to the lowest flat index y * W + x; score = map max.
- A map whose max is <= 0 (all-zero, all-negative, NaN-only) gets coordinates (0, 0) and score = max.
- Blur: separable Gaussian with the taps of cv2.getGaussianKernel(k, 0), as the official
  cv2.GaussianBlur(map, (k, k), 0) call: sigma = 0.3 * ((k-1)/2 - 1) + 0.8 (2.0 for k = 11), weights
  exp(-i^2 / (2 sigma^2)) normalised to sum 1; for k = 3, 5, 7 OpenCV's fixed binomial tables
  (1 2 1)/4, (1 4 6 4 1)/16, (1 3.5 7 9 7 3.5 1)/32 (SMALL_GAUSSIAN_TAPS). These are OpenCV 4's taps
  (the official environment; OpenCV 5 also tabulates k = 9). Zero padding of (k-1)/2.
- Rescale so the blurred max equals the original max, clamp at 1e-10, natural log.
- Taylor step only when 1 < px < W-2 and 1 < py < H-2 (strict), the blurred max is > 0 (it can only
  be <= 0 when negative values surround a small positive peak; then the argmax is kept) and
  det = dxx * dyy - dxy^2 != 0. With L the log map and L(dx, dy) the value at (px+dx, py+dy):
  gx = (L(1,0) - L(-1,0)) / 2, gy = (L(0,1) - L(0,-1)) / 2, dxx = (L(2,0) - 2L(0,0) + L(-2,0)) / 4,
  dyy = (L(0,2) - 2L(0,0) + L(0,-2)) / 4, dxy = (L(1,1) - L(1,-1) - L(-1,1) + L(-1,-1)) / 4,
  offset = -H^-1 g = (-(dyy*gx - dxy*gy) / det, -(dxx*gy - dxy*gx) / det); no clamp on the offset.
- Flat positive maps decode to (0, 0) (argmax tie at index 0, which is a border point).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

NORM_EPS = 1e-12  # rows with a smaller norm normalise to (nearly) the zero vector
LOG_FLOOR = 1e-10  # DARK clamps the rescaled blurred map here before the log (official value)
# OpenCV ignores sigma = 0's formula for these sizes and uses binomial tables (exact in binary)
SMALL_GAUSSIAN_TAPS = {
    3: (0.25, 0.5, 0.25),
    5: (0.0625, 0.25, 0.375, 0.25, 0.0625),
    7: (0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125),
}


# --------------------------------------------------------------------------- k-medoids

def kmedoids_compute_dtype(x: Tensor) -> Tensor:
    """Return x in the dtype distances are computed in: float64 stays, other floats become float32."""
    return x if x.dtype == torch.float64 else x.to(torch.float32)


def cosine_distances(x: Tensor) -> Tensor:
    """Exactly symmetric cosine distances with a zero diagonal.

    Args:
        x: (B, N, D) float rows.
    Returns:
        (B, N, N) distances in [0, 2] up to rounding, same dtype as x.
    """
    norms = x.pow(2).sum(dim=-1, keepdim=True).sqrt()  # (B, N, 1)
    unit = x / norms.clamp_min(NORM_EPS)  # (B, N, D)
    gram = unit @ unit.transpose(1, 2)  # (B, N, N)
    upper = torch.triu(1.0 - gram, diagonal=1)  # (B, N, N), diagonal exactly 0
    return upper + upper.transpose(1, 2)


def _rows(d: Tensor, idx: Tensor) -> Tensor:
    """Gather rows idx (B, C) of d (B, N, N) into (B, C, N)."""
    return d.gather(1, idx.unsqueeze(2).expand(-1, -1, d.size(2)))


def kkz_init(x: Tensor, d: Tensor, num_clusters: int) -> Tensor:
    """KKZ seeding: largest original norm first, then repeatedly the farthest point from the chosen set.

    Args:
        x: (B, N, D) original rows (not normalised).
        d: (B, N, N) distances from `cosine_distances`.
        num_clusters: C, 1 <= C <= N.
    Returns:
        (B, C) int64 medoid ids, sorted ascending.
    """
    points = torch.arange(d.size(2), device=d.device)  # (N,)
    first = x.pow(2).sum(dim=-1).argmax(dim=1, keepdim=True)  # (B, 1), ties to the lowest index
    chosen_ids = [first]
    nearest = _rows(d, first).squeeze(1)  # (B, N) distance to the nearest chosen medoid
    chosen = points == first  # (B, N)
    for _ in range(1, num_clusters):
        # chosen points get -1 (below any distance) so they are never re-picked, even when all d are 0
        nxt = nearest.masked_fill(chosen, -1.0).argmax(dim=1, keepdim=True)  # (B, 1)
        chosen_ids.append(nxt)
        nearest = torch.minimum(nearest, _rows(d, nxt).squeeze(1))
        chosen = chosen | (points == nxt)
    return torch.cat(chosen_ids, dim=1).sort(dim=1).values


def assign_points(d: Tensor, medoids: Tensor) -> Tensor:
    """Send every point to its nearest medoid slot; a medoid always lands in its own slot.

    Args:
        d: (B, N, N) distances.
        medoids: (B, C) int64 medoid ids, sorted ascending (so slot ties go to the lowest id).
    Returns:
        (B, N) int64 cluster slot per point.
    """
    points = torch.arange(d.size(2), device=d.device)  # (N,)
    to_medoids = _rows(d, medoids)  # (B, C, N)
    is_self = medoids.unsqueeze(2) == points  # (B, C, N)
    return to_medoids.masked_fill(is_self, -1.0).argmin(dim=1)  # ties to the lowest slot


def update_medoids(d: Tensor, assign: Tensor, num_clusters: int) -> Tensor:
    """Move every medoid to the member with the smallest summed distance to its cluster's members.

    Args:
        d: (B, N, N) distances.
        assign: (B, N) int64 cluster slot per point; every slot is non-empty.
        num_clusters: C.
    Returns:
        (B, C) int64 new medoid ids, sorted ascending.
    """
    slots = torch.arange(num_clusters, device=d.device).view(1, -1, 1)  # (1, C, 1)
    member = assign.unsqueeze(1) == slots  # (B, C, N)
    cost = member.to(d.dtype) @ d  # (B, C, N): summed distance of every point to cluster c
    cost = cost.masked_fill(~member, float("inf"))
    return cost.argmin(dim=2).sort(dim=1).values  # (B, C), ties to the lowest point id


def kmedoids_reference(x: Tensor, num_clusters: int, max_iters: int) -> tuple[Tensor, Tensor]:
    """k-medoids that stops as soon as no instance's medoids move (one host sync per round).

    Args:
        x: (B, N, D) float tensor, finite, B >= 1.
        num_clusters: C, 1 <= C <= N.
        max_iters: rounds at most, >= 1.
    Returns:
        assign (B, N) int64 in [0, C) and medoids (B, C) int64 sorted ascending.
    """
    x = kmedoids_compute_dtype(x)
    d = cosine_distances(x)  # (B, N, N)
    medoids = kkz_init(x, d, num_clusters)  # (B, C)
    for _ in range(max_iters):
        moved = update_medoids(d, assign_points(d, medoids), num_clusters)  # (B, C)
        if torch.equal(moved, medoids):
            break
        medoids = moved
    return assign_points(d, medoids), medoids


def kmedoids_fixed_reference(x: Tensor, num_clusters: int, num_iters: int) -> tuple[Tensor, Tensor]:
    """k-medoids with exactly num_iters rounds and no data-dependent control flow (traceable to ONNX).

    Args:
        x: (B, N, D) float tensor.
        num_clusters: C, 1 <= C <= N.
        num_iters: rounds, >= 1.
    Returns:
        assign (B, N) int64 and medoids (B, C) int64, equal to `kmedoids_reference(x, C, num_iters)`.
    """
    x = kmedoids_compute_dtype(x)
    d = cosine_distances(x)  # (B, N, N)
    medoids = kkz_init(x, d, num_clusters)  # (B, C)
    for _ in range(num_iters):
        medoids = update_medoids(d, assign_points(d, medoids), num_clusters)
    return assign_points(d, medoids), medoids


# --------------------------------------------------------------------------- DARK

def gaussian_kernel_1d(size: int, dtype: torch.dtype = torch.float64, device=None) -> Tensor:
    """The taps of cv2.getGaussianKernel(size, 0): fixed tables up to 7, else sigma = 0.3*((size-1)/2-1)+0.8.

    Returns:
        (size,) weights summing to 1.
    """
    if size in SMALL_GAUSSIAN_TAPS:
        return torch.tensor(SMALL_GAUSSIAN_TAPS[size], dtype=dtype, device=device)
    sigma = 0.3 * ((size - 1) / 2 - 1) + 0.8
    offsets = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2  # (size,)
    weights = torch.exp(-(offsets * offsets) / (2.0 * sigma * sigma))
    return weights / weights.sum()


def gaussian_blur(maps: Tensor, size: int) -> Tensor:
    """Zero-padded separable Gaussian blur that keeps the map size.

    Args:
        maps: (M, H, W) float maps.
        size: odd kernel size >= 3.
    Returns:
        (M, H, W) blurred maps, same dtype.
    """
    g = gaussian_kernel_1d(size, maps.dtype, maps.device)
    r = (size - 1) // 2
    out = F.conv2d(maps.unsqueeze(1), g.view(1, 1, 1, size), padding=(0, r))  # (M, 1, H, W)
    out = F.conv2d(out, g.view(1, 1, size, 1), padding=(r, 0))
    return out.squeeze(1)


def taylor_offsets(log_maps: Tensor, px: Tensor, py: Tensor) -> tuple[Tensor, Tensor]:
    """Newton step -H^-1 g of the log map at (px, py), from the finite differences in the docstring.

    Args:
        log_maps: (M, H, W) log of the rescaled blurred maps.
        px, py: (M,) int64 argmax column and row.
    Returns:
        offsets (M, 2) as (x, y), meaningless where det == 0 or near the border, and det (M,).
    """
    m, h, w = log_maps.shape
    padded = F.pad(log_maps, (2, 2, 2, 2)).reshape(m, -1)  # (M, (H+4)*(W+4)); pad only keeps gathers in range

    def at(dx: int, dy: int) -> Tensor:
        flat = (py + 2 + dy) * (w + 4) + (px + 2 + dx)  # (M,)
        return padded.gather(1, flat.unsqueeze(1)).squeeze(1)

    centre = at(0, 0)
    gx = 0.5 * (at(1, 0) - at(-1, 0))
    gy = 0.5 * (at(0, 1) - at(0, -1))
    dxx = 0.25 * (at(2, 0) - 2 * centre + at(-2, 0))
    dyy = 0.25 * (at(0, 2) - 2 * centre + at(0, -2))
    dxy = 0.25 * (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1))
    det = dxx * dyy - dxy * dxy
    safe = torch.where(det != 0, det, torch.ones_like(det))
    ox = -(dyy * gx - dxy * gy) / safe
    oy = -(dxx * gy - dxy * gx) / safe
    return torch.stack([ox, oy], dim=1), det


def dark_reference(heatmaps: Tensor, blur_kernel: int = 11) -> tuple[Tensor, Tensor]:
    """DARK decoding: argmax, Gaussian modulation, log and one Taylor step (float64 inside).

    Args:
        heatmaps: (N, K, H, W) float tensor.
        blur_kernel: odd kernel size >= 3.
    Returns:
        coords (N, K, 2) float32 (x, y) in heatmap pixels and scores (N, K) float32.
    """
    n, k, h, w = heatmaps.shape
    maps = heatmaps.to(torch.float64).reshape(n * k, h, w)  # (M, H, W)
    maps = torch.where(torch.isnan(maps), torch.zeros_like(maps), maps)
    flat = maps.reshape(n * k, h * w)  # (M, H*W)
    idx = flat.argmax(dim=1)  # (M,), ties to the lowest flat index
    maxval = flat.gather(1, idx.unsqueeze(1)).squeeze(1)  # (M,)
    px, py = idx % w, idx // w
    blurred = gaussian_blur(maps, blur_kernel)  # (M, H, W)
    bmax = blurred.amax(dim=(1, 2))  # (M,)
    usable = (maxval > 0) & (bmax > 0)
    scale = torch.where(usable, maxval / torch.where(usable, bmax, torch.ones_like(bmax)), torch.ones_like(bmax))
    log_maps = (blurred * scale.view(-1, 1, 1)).clamp_min(LOG_FLOOR).log()
    offsets, det = taylor_offsets(log_maps, px, py)  # (M, 2), (M,)
    interior = (px > 1) & (px < w - 2) & (py > 1) & (py < h - 2)
    step = usable & interior & (det != 0)
    coords = torch.stack([px, py], dim=1).to(torch.float64)  # (M, 2)
    coords = coords + torch.where(step.unsqueeze(1), offsets, torch.zeros_like(offsets))
    coords = torch.where((maxval > 0).unsqueeze(1), coords, torch.zeros_like(coords))
    return coords.to(torch.float32).reshape(n, k, 2), maxval.to(torch.float32).reshape(n, k)
