// Maths both warp twins share: OpenCV's float32 bilinear path (inverse in double, coordinates and
// interpolation in float32, round half to even), so the twins reproduce its uint8 result.
#pragma once

#include <cmath>
#include <cstdint>

#include "common.h"

namespace kitpose {
namespace warp_detail {

// a * b + c with two roundings on both sides (no fused multiply-add), as OpenCV's scalar path.
KP_HOST_DEVICE inline float mul_add(float a, float b, float c) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(__fmul_rn(a, b), c);
#else
  return a * b + c;
#endif
}

// Inverse of the forward 2x3 matrix m (crop -> frame), in double then float32, as cv2.warpAffine.
KP_HOST_DEVICE inline void inverse_matrix(const double* m, float* inv) {
  double d = m[0] * m[4] - m[1] * m[3];
  d = d != 0.0 ? 1.0 / d : 0.0;
  const double a11 = m[4] * d, a22 = m[0] * d, a12 = -m[1] * d, a21 = -m[3] * d;
  const double b1 = -a11 * m[2] - a12 * m[5];
  const double b2 = -a21 * m[2] - a22 * m[5];
  inv[0] = static_cast<float>(a11);
  inv[1] = static_cast<float>(a12);
  inv[2] = static_cast<float>(b1);
  inv[3] = static_cast<float>(a21);
  inv[4] = static_cast<float>(a22);
  inv[5] = static_cast<float>(b2);
}

KP_HOST_DEVICE inline float tap(const uint8_t* f, int h, int w, int x, int y, int ch) {
  if (x < 0 || y < 0 || x >= w || y >= h) return 0.0f;
  return static_cast<float>(f[(static_cast<int64_t>(y) * w + x) * 3 + ch]);
}

KP_HOST_DEVICE inline float lerp(float a, float b, float t) { return a + t * (b - a); }

// uint8 value OpenCV writes at crop pixel (x, y), channel ch, given the inverse matrix.
KP_HOST_DEVICE inline float sample(const uint8_t* f, int h, int w, const float* inv, int x, int y, int ch) {
  const float fx = static_cast<float>(x), fy = static_cast<float>(y);
  const float sx = mul_add(fx, inv[0], mul_add(fy, inv[1], inv[2]));
  const float sy = mul_add(fx, inv[3], mul_add(fy, inv[4], inv[5]));
  const float flx = floorf(sx), fly = floorf(sy);
  if (!(flx > -2.0f && fly > -2.0f && flx < w + 1.0f && fly < h + 1.0f)) return 0.0f;
  const int ix = static_cast<int>(flx), iy = static_cast<int>(fly);
  const float ax = sx - flx, ay = sy - fly;
  const float v0 = lerp(tap(f, h, w, ix, iy, ch), tap(f, h, w, ix + 1, iy, ch), ax);
  const float v1 = lerp(tap(f, h, w, ix, iy + 1, ch), tap(f, h, w, ix + 1, iy + 1, ch), ax);
  const float v = rintf(lerp(v0, v1, ay));
  return v < 0.0f ? 0.0f : (v > 255.0f ? 255.0f : v);
}

KP_HOST_DEVICE inline float normalise(float v, float mean, float std) { return (v / 255.0f - mean) / std; }

}  // namespace warp_detail
}  // namespace kitpose
