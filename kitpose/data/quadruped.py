"""A procedural quadruped: sampled body plan, AP-10K keypoints and OpenCV drawing.

The animal is built in a body frame (x forward, y down, unit body length), mirrored when it
faces left, rotated, scaled and placed. The side nearer the viewer is drawn on top in a lighter
shade and the far side behind the body in a darker one; which anatomical side is near follows
from the facing direction (an animal facing right shows its right side), so a horizontally
flipped image with swapped left/right labels is again a valid sample.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

_SHIFT = 4  # OpenCV fixed-point bits: sub-pixel drawing, so keypoints match the drawing
_ONE = 1 << _SHIFT
# Leg chains in AP-10K indices: (root, middle, paw) for front/back legs of each side.
_LEGS = {"left": ((5, 6, 7), (11, 12, 13)), "right": ((8, 9, 10), (14, 15, 16))}


@dataclass(frozen=True)
class Animal:
    """Sampled body plan, appearance and placement of one quadruped."""

    center: tuple[float, float]  # image pixels of the body centre
    length: float  # body length in pixels
    angle: float  # in-plane rotation, degrees
    facing: int  # +1 faces right, -1 faces left
    foreshorten: float  # < 1 shortens the body axis (oblique view)
    body_ratio: float  # body half-height / length
    neck: tuple[float, float]  # length, angle (deg, negative is up)
    head: tuple[float, float, float]  # half-length, half-height, tilt (deg)
    leg_length: float
    gait: tuple[float, ...]  # 8 leg-segment offsets (deg) on top of the walk cycle
    tail: tuple[float, float]  # length, droop angle (deg)
    colour: tuple[int, int, int]
    pattern_colour: tuple[int, int, int]
    pattern: str  # "plain" | "stripes" | "spots" | "noise"
    pattern_seed: int


def sample_animal(rng, image_size, length: float | None = None, center=None) -> Animal:
    """Draw a random animal that fits roughly in an (h, w) image."""
    h, w = image_size
    length = length if length is not None else rng.uniform(0.35, 0.8) * min(h, w)
    if center is None:
        center = (rng.uniform(0.1, 0.9) * w, rng.uniform(0.15, 0.85) * h)
    colour = rng.integers(30, 230, 3)
    pattern_colour = np.clip(colour + rng.choice([-1, 1]) * rng.integers(50, 110, 3), 0, 255)
    return Animal(
        center=(float(center[0]), float(center[1])), length=float(length),
        angle=float(rng.normal(0, 15) if rng.random() < 0.8 else rng.uniform(-90, 90)),
        facing=int(rng.choice([-1, 1])), foreshorten=float(rng.uniform(0.55, 1.0)),
        body_ratio=float(rng.uniform(0.14, 0.24)),
        neck=(float(rng.uniform(0.15, 0.3)), float(rng.uniform(-80, -15))),
        head=(float(rng.uniform(0.12, 0.2)), float(rng.uniform(0.06, 0.1)),
              float(rng.uniform(-20, 60))),
        leg_length=float(rng.uniform(0.35, 0.6)),
        gait=tuple(float(v) for v in rng.normal(0, 12, 8)),
        tail=(float(rng.uniform(0.15, 0.45)), float(rng.uniform(-70, 60))),
        colour=tuple(int(c) for c in colour), pattern_colour=tuple(int(c) for c in pattern_colour),
        pattern=str(rng.choice(["plain", "stripes", "spots", "noise"])),
        pattern_seed=int(rng.integers(0, 2**31)),
    )


def _polar(origin, length, deg):
    r = np.deg2rad(deg)
    return np.asarray(origin, np.float64) + length * np.array([np.cos(r), np.sin(r)])


def _leg(root, a: Animal, upper_deg: float, lower_deg: float):
    """Two-segment leg hanging down from root; angles measured from straight down."""
    half = a.leg_length * 0.5
    mid = _polar(root, half, 90 - upper_deg)
    return mid, _polar(mid, half, 90 - lower_deg)


def body_frame_points(a: Animal, phase: float) -> dict:
    """Keypoints (17, 2) and shape anchors in the unit body frame for a walk-cycle phase."""
    b = a.body_ratio
    near = "right" if a.facing > 0 else "left"
    far = "left" if near == "right" else "right"
    kp = np.zeros((17, 2))
    kp[3] = (0.42, -0.55 * b)
    kp[4] = (-0.45, -0.35 * b)
    head_c = _polar(kp[3], a.neck[0], a.neck[1])
    hl, hh, tilt = a.head
    rot = np.deg2rad(tilt)
    axes = np.array([[np.cos(rot), -np.sin(rot)], [np.sin(rot), np.cos(rot)]])
    kp[2] = head_c + axes @ (0.95 * hl, 0.25 * hh)
    eyes = {near: head_c + axes @ (0.25 * hl, -0.35 * hh),
            far: head_c + axes @ (0.4 * hl, -0.6 * hh)}
    kp[0], kp[1] = eyes["left"], eyes["right"]
    roots = {near: ((0.3, 0.35 * b), (-0.3, 0.35 * b)), far: ((0.34, 0.1 * b), (-0.26, 0.1 * b))}
    swing = 25.0 * np.sin(phase + np.array([0.0, np.pi, np.pi, 0.0]))
    for s_i, side in enumerate(("left", "right")):
        for l_i, (i_root, i_mid, i_paw) in enumerate(_LEGS[side]):
            j = 2 * l_i + s_i
            up = swing[j] + a.gait[2 * j]
            bend = (-25.0 if l_i == 0 else 30.0) * (0.5 + 0.5 * np.cos(phase + j)) + a.gait[2 * j + 1]
            kp[i_root] = roots[side][l_i]
            kp[i_mid], kp[i_paw] = _leg(kp[i_root], a, up, up + bend)
    tail = [kp[4]]
    for k in range(3):
        tail.append(_polar(tail[-1], a.tail[0] / 3, 180 + a.tail[1] * (k + 1) / 3
                           + 8 * np.sin(phase * 2)))
    return {"kp": kp, "head_c": head_c, "tail": np.array(tail), "near": near, "far": far}


def to_image(a: Animal, pts):
    """Map (..., 2) body-frame points to image pixels."""
    pts = np.asarray(pts, np.float64) * np.array([a.facing * a.foreshorten, 1.0])
    r = np.deg2rad(a.angle)
    rot = np.array([[np.cos(r), -np.sin(r)], [np.sin(r), np.cos(r)]])
    return np.asarray(a.center) + a.length * pts @ rot.T


def _fx(p):
    return tuple(int(round(v * _ONE)) for v in p)


def _ellipse(img, a: Animal, centre, half_axes, tilt_deg, colour, aa):
    """Body-frame ellipse (centre, half axes, tilt) drawn in the image."""
    c = to_image(a, centre)
    u = to_image(a, np.asarray(centre) + _polar((0, 0), half_axes[0], tilt_deg)) - c
    v = to_image(a, np.asarray(centre) + _polar((0, 0), half_axes[1], tilt_deg + 90)) - c
    # A mirrored/foreshortened ellipse is still drawn as one: fit its axes from the two vectors.
    m = np.stack([u, v], axis=1)
    eigval, eigvec = np.linalg.eigh(m @ m.T)
    ang = np.degrees(np.arctan2(eigvec[1, 1], eigvec[0, 1]))
    axes = (int(np.sqrt(eigval[1]) * _ONE), max(int(np.sqrt(eigval[0]) * _ONE), _ONE))
    cv2.ellipse(img, _fx(c), axes, ang, 0, 360, colour, -1, aa, _SHIFT)


def _line(img, p, q, colour, thick, aa):
    cv2.line(img, _fx(p), _fx(q), colour, max(int(round(thick)), 1), aa, _SHIFT)


def _shade(colour, factor):
    return tuple(int(min(255, max(0, c * factor + (20 if factor > 1 else 0)))) for c in colour)


def _legs(img, img_kp, side: str, colour, paw_colour, L: float, aa) -> None:
    for root, mid, paw in _LEGS[side]:
        _line(img, img_kp[root], img_kp[mid], colour, 0.075 * L, aa)
        _line(img, img_kp[mid], img_kp[paw], colour, 0.05 * L, aa)
        cv2.circle(img, _fx(img_kp[paw]), max(int(0.035 * L * _ONE), _ONE), paw_colour, -1, aa,
                   _SHIFT)


def _trunk(img, a: Animal, parts: dict, colours: dict, aa) -> None:
    """Tail, body, neck, head, eyes and nose."""
    img_kp, L = to_image(a, parts["kp"]), a.length
    tail = to_image(a, parts["tail"])
    for p, q in zip(tail[:-1], tail[1:]):
        _line(img, p, q, colours["tail"], 0.035 * L, aa)
    _ellipse(img, a, (0.0, 0.0), (0.5, a.body_ratio), 0.0, colours["body"], aa)
    _line(img, img_kp[3], to_image(a, parts["head_c"]), colours["body"], 0.13 * L, aa)
    _line(img, img_kp[3], to_image(a, (0.3, 0.0)), colours["body"], 0.18 * L, aa)
    hl, hh, tilt = a.head
    _ellipse(img, a, parts["head_c"], (hl, hh), tilt, colours["head"], aa)
    for i, r in ((0, 0.022), (1, 0.022), (2, 0.018)):
        cv2.circle(img, _fx(img_kp[i]), max(int(r * L * _ONE), _ONE), colours["eye"], -1, aa,
                   _SHIFT)


def _texture(img, a: Animal, body_mask) -> None:
    """Stripes, spots or noise inside the body silhouette."""
    if a.pattern == "plain":
        return
    rng = np.random.default_rng(a.pattern_seed)
    layer = img.copy()
    L = a.length
    if a.pattern == "stripes":
        for t in np.linspace(-0.45, 0.45, int(rng.integers(5, 12))):
            p = to_image(a, (t, -0.4)), to_image(a, (t + rng.uniform(-0.05, 0.05), 0.4))
            _line(layer, p[0], p[1], a.pattern_colour, rng.uniform(0.015, 0.04) * L, cv2.LINE_AA)
    elif a.pattern == "spots":
        for _ in range(int(rng.integers(6, 20))):
            c = to_image(a, (rng.uniform(-0.45, 0.45), rng.uniform(-0.2, 0.2)))
            cv2.circle(layer, _fx(c), max(int(rng.uniform(0.015, 0.04) * L * _ONE), _ONE),
                       a.pattern_colour, -1, cv2.LINE_AA, _SHIFT)
    else:
        noise = rng.normal(0, 25, img.shape[:2])[..., None]
        layer = np.clip(layer.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    sel = body_mask > 0
    img[sel] = layer[sel]


def draw_animal(img, a: Animal, phase: float = 0.0):
    """Draw one animal in place: far legs, trunk, texture, near legs.

    Args:
        img: (h, w, 3) uint8 BGR canvas, modified in place.
        a: the animal.
        phase: walk-cycle phase in radians.
    Returns:
        keypoints (17, 2) float64 image pixels (AP-10K order), silhouette mask (h, w) uint8.
    """
    parts = body_frame_points(a, phase)
    img_kp, base = to_image(a, parts["kp"]), a.colour
    colours = {"tail": _shade(base, 0.8), "body": base, "head": _shade(base, 0.9),
               "eye": (20, 20, 20)}
    mask = np.zeros(img.shape[:2], np.uint8)
    _trunk(mask, a, parts, {k: 255 for k in colours}, cv2.LINE_8)
    body_mask = np.zeros_like(mask)  # texture on the body only: eyes and nose stay visible
    _ellipse(body_mask, a, (0.0, 0.0), (0.5, a.body_ratio), 0.0, 255, cv2.LINE_8)
    for side in ("left", "right"):
        _legs(mask, img_kp, side, 255, 255, a.length, cv2.LINE_8)
    _legs(img, img_kp, parts["far"], _shade(base, 0.5), (30, 30, 30), a.length, cv2.LINE_AA)
    _trunk(img, a, parts, colours, cv2.LINE_AA)
    _texture(img, a, body_mask)
    _legs(img, img_kp, parts["near"], _shade(base, 1.3), (45, 45, 45), a.length, cv2.LINE_AA)
    return img_kp, mask
