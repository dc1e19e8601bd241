"""Top-down geometry: box sanitising, box -> (centre, scale), the UDP "size-1" affine, augmentations.

Conventions (KITPOSE_SPEC.md 10.2, 10.3, 10.5): boxes are (x, y, w, h) in pixels, scale is the
crop size in units of PIXEL_STD = 200 px, sizes are (h, w), rotations in degrees. Random
augmentations are pure functions of a `np.random.Generator` so a sample is a function of its seed.
"""
from __future__ import annotations

import numpy as np

PIXEL_STD = 200.0


def sanitize_box(box, image_size, inclusive_width: bool = False):
    """Clip a box to the image as the official loaders do (spec 10.2).

    Args:
        box: (4,) x, y, w, h.
        image_size: (h, w) of the image.
        inclusive_width: Animal Kingdom convention, width = x2 - x1 + 1.
    Returns:
        (4,) float64 x, y, w, h, or None when nothing of the box lies in the image.
    """
    x, y, w, h = (float(v) for v in box)
    img_h, img_w = image_size
    x1, y1 = max(0.0, x), max(0.0, y)
    x2 = min(img_w - 1.0, x1 + max(0.0, w - 1.0))
    y2 = min(img_h - 1.0, y1 + max(0.0, h - 1.0))
    if x2 < x1 or y2 < y1 or (w <= 0 and h <= 0):
        return None
    extra = 1.0 if inclusive_width else 0.0
    out = np.array([x1, y1, x2 - x1 + extra, y2 - y1 + extra])
    return out if out[2] > 0 or out[3] > 0 else None


def box_to_center_scale(box, aspect_ratio: float, padding: float = 1.25):
    """Centre and scale of the crop around an (already sanitised) box.

    Args:
        box: (4,) x, y, w, h.
        aspect_ratio: model input w / h.
        padding: enlargement factor (1.25 in every official config).
    Returns:
        center (2,) float64 pixels, scale (2,) float64 in units of 200 px.
    """
    x, y, w, h = (float(v) for v in box)
    center = np.array([x + w * 0.5, y + h * 0.5])
    if w > aspect_ratio * h:
        h = w / aspect_ratio
    elif w < aspect_ratio * h:
        w = h * aspect_ratio
    return center, np.array([w, h]) / PIXEL_STD * padding


def get_affine_transform(center, scale, rot_deg: float, output_size, inverse: bool = False):
    """UDP "size-1" crop transform (spec 10.3), in closed form.

    The box centre goes to ((w_out-1)/2, (h_out-1)/2); lengths scale by (w_out-1)/(scale_w*200-1);
    the source is rotated by `rot_deg` (positive rotates the crop content anticlockwise on screen
    for the image-y-down convention of the official three-point construction).

    Args:
        center: (2,) source centre x, y.
        scale: (2,) crop size / 200 (only the width enters, as in the official code).
        rot_deg: rotation in degrees.
        output_size: (h, w) of the output.
        inverse: return the output -> source map instead.
    Returns:
        (2, 3) float64 affine matrix.
    """
    out_h, out_w = output_size
    src_w = float(scale[0]) * PIXEL_STD
    s = (out_w - 1.0) / (src_w - 1.0)
    r = np.deg2rad(rot_deg)
    cos, sin = np.cos(r), np.sin(r)
    dst_c = np.array([(out_w - 1.0) * 0.5, (out_h - 1.0) * 0.5])
    c = np.asarray(center, dtype=np.float64)
    if inverse:
        lin = np.array([[cos, -sin], [sin, cos]]) / s
        return np.hstack([lin, (c - lin @ dst_c)[:, None]])
    lin = s * np.array([[cos, sin], [-sin, cos]])
    return np.hstack([lin, (dst_c - lin @ c)[:, None]])


def affine_points(points, matrix):
    """Apply a (2, 3) affine to points.

    Args:
        points: (..., 2) x, y.
        matrix: (2, 3).
    Returns:
        (..., 2) float64 transformed points.
    """
    pts = np.asarray(points, dtype=np.float64)
    return pts @ matrix[:, :2].T + matrix[:, 2]


def flip_keypoints(keypoints, image_width: int, flip_pairs):
    """Mirror keypoints horizontally (x -> W - x - 1) and swap left/right pairs.

    Args:
        keypoints: (K, 2+) x, y[, v, ...].
        image_width: width of the image the keypoints live in.
        flip_pairs: 0-based (left, right) pairs.
    Returns:
        (K, 2+) flipped copy.
    """
    out = np.array(keypoints, dtype=np.float64, copy=True)
    out[:, 0] = image_width - out[:, 0] - 1.0
    for a, b in flip_pairs:
        out[[a, b]] = out[[b, a]]
    return out


def flip_heatmaps(heatmaps, flip_pairs):
    """Mirror heatmaps (..., K, H, W) along W and swap left/right channels (flip test)."""
    out = np.array(heatmaps[..., ::-1], copy=True)
    for a, b in flip_pairs:
        out[..., [a, b], :, :] = out[..., [b, a], :, :]
    return out


def half_body_box(keypoints, upper_body, lower_body, aspect_ratio: float, rng):
    """Half-body crop (spec 10.5): pick the upper or lower set of visible joints.

    Args:
        keypoints: (K, 3) x, y, v.
        upper_body / lower_body: keypoint indices.
        aspect_ratio: model input w / h.
        rng: np.random.Generator.
    Returns:
        (center (2,), scale (2,)) or None when fewer than 2 joints are selected.
    """
    vis = keypoints[:, 2] > 0
    upper = [i for i in upper_body if vis[i]]
    lower = [i for i in lower_body if vis[i]]
    if rng.standard_normal() < 0.5 and len(upper) > 2:
        chosen = upper
    else:
        chosen = lower if len(lower) > 2 else upper
    if len(chosen) < 2:
        return None
    pts = keypoints[chosen, :2]
    center = pts.mean(axis=0)
    w, h = pts.max(axis=0) - pts.min(axis=0) + 1.0
    box = [center[0] - w * 0.5, center[1] - h * 0.5, w, h]
    _, scale = box_to_center_scale(box, aspect_ratio, padding=1.5)
    return center, scale


def random_scale_rotation(scale, rng, scale_factor: float, rot_factor: float,
                          rot_prob: float = 0.6):
    """Random zoom and rotation (spec 10.5).

    Args:
        scale: (2,) crop scale.
        rng: np.random.Generator.
        scale_factor: sf, scale *= clip(1 + N(0,1) sf, 1 - sf, 1 + sf).
        rot_factor: rf, rotation = clip(N(0,1) rf, -2 rf, 2 rf) with probability rot_prob.
        rot_prob: probability of rotating.
    Returns:
        (scale (2,), rotation degrees).
    """
    zoom = np.clip(rng.standard_normal() * scale_factor + 1.0, 1.0 - scale_factor,
                   1.0 + scale_factor)
    rot = float(np.clip(rng.standard_normal() * rot_factor, -2 * rot_factor, 2 * rot_factor))
    if rng.random() > rot_prob:
        rot = 0.0
    return np.asarray(scale, dtype=np.float64) * zoom, rot
