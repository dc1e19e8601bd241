// Maths both DARK twins share, so CPU and CUDA evaluate the same expressions in the same order.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "common.h"

namespace kitpose {
namespace dark_detail {

// The blurred map is clamped at this value before the log (official DARK).
constexpr double kLogFloor = 1e-10;
// Blurred values above this cannot reach the clamp after the rescale (the rescale factor is >= 1),
// so the rescale is a constant after the log and cancels; below it the exact rescale is computed.
constexpr double kSafeBlur = 4e-10;
constexpr int kPoints = 13;

// Bit casts between float and its IEEE bits: the CUDA intrinsics on the device, memcpy on the host.
KP_HOST_DEVICE inline float float_from_bits(uint32_t bits) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(bits);
#else
  float out;
  std::memcpy(&out, &bits, sizeof out);
  return out;
#endif
}

KP_HOST_DEVICE inline uint32_t bits_of_float(float v) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(v);
#else
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  return bits;
#endif
}

// IEEE half -> float, exact for every bit pattern (NaN payloads aside; NaN is read as 0 anyway). No
// CUDA headers and no branches, so both twins share it and the CPU twin widens a map in vector code.
KP_HOST_DEVICE inline float half_bits_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t em = h & 0x7fffu;  // exponent and mantissa
  const uint32_t normal = (em << 13) + ((127u - 15u) << 23);
  const uint32_t special = 0x7f800000u | ((em & 0x3ffu) << 13);  // inf, NaN
  // subnormal halves (and zero): em * 2^-24, exact in float
  const uint32_t tiny = bits_of_float(static_cast<float>(static_cast<int32_t>(em)) * 5.9604644775390625e-8f);
  const uint32_t is_special = 0u - static_cast<uint32_t>(em >= 0x7c00u);  // all ones or zero
  const uint32_t is_normal = 0u - static_cast<uint32_t>(em >= 0x0400u);
  const uint32_t magnitude = (special & is_special) | (normal & is_normal & ~is_special) | (tiny & ~is_normal);
  return float_from_bits(sign | magnitude);
}

// Heatmap entry with NaN read as 0.
KP_HOST_DEVICE inline float load(const float* m, int64_t i) {
  const float v = m[i];
  return v != v ? 0.0f : v;
}
KP_HOST_DEVICE inline float load(const uint16_t* m, int64_t i) {
  const float v = half_bits_to_float(m[i]);
  return v != v ? 0.0f : v;
}

// Gaussian taps of cv2.getGaussianKernel(k, 0), as the reference (kitpose/ops/reference.py): OpenCV's
// fixed binomial tables for k = 3, 5, 7, else sigma = 0.3*((k-1)/2-1)+0.8 (2.0 for k = 11), normalised.
KP_HOST_DEVICE inline void gaussian_taps(int k, double* g) {
  if (k == 3 || k == 5 || k == 7) {
    const double t3[3] = {0.25, 0.5, 0.25};
    const double t5[5] = {0.0625, 0.25, 0.375, 0.25, 0.0625};
    const double t7[7] = {0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125};
    const double* t = k == 3 ? t3 : (k == 5 ? t5 : t7);
    for (int i = 0; i < k; ++i) g[i] = t[i];
    return;
  }
  const double sigma = 0.3 * ((k - 1) * 0.5 - 1.0) + 0.8;
  double sum = 0.0;
  for (int i = 0; i < k; ++i) {
    const double t = i - (k - 1) * 0.5;
    g[i] = exp(-t * t / (2.0 * sigma * sigma));
    sum += g[i];
  }
  for (int i = 0; i < k; ++i) g[i] /= sum;
}

// Horizontal blur sum of row y at column x: the k taps with zero padding, columns ascending (the
// bounds test is hoisted where the whole kernel lies inside the row; same terms in the same order).
template <typename T>
KP_HOST_DEVICE inline double blur_row(const T* m, int w, int x, int y, int k, const double* g) {
  const int r = k / 2;
  const int64_t row0 = static_cast<int64_t>(y) * w;
  double row = 0.0;
  if (x - r >= 0 && x + r < w) {
    for (int b = 0; b < k; ++b) row += g[b] * load(m, row0 + x - r + b);
    return row;
  }
  for (int b = 0; b < k; ++b) {
    const int xx = x + b - r;
    if (xx >= 0 && xx < w) row += g[b] * load(m, row0 + xx);
  }
  return row;
}

// Vertical blur at row y of horizontal sums `rows(yy)` (one column): zero padding, rows ascending.
template <typename Rows>
KP_HOST_DEVICE inline double blur_column(const Rows& rows, int h, int y, int k, const double* g) {
  const int r = k / 2;
  double s = 0.0;
  for (int a = 0; a < k; ++a) {
    const int yy = y + a - r;
    if (yy < 0 || yy >= h) continue;
    s += g[a] * rows(yy);
  }
  return s;
}

// The horizontal sums of column x, computed as blur_column reads them.
template <typename T>
struct RowSums {
  const T* m;
  int w, x, k;
  const double* g;
  KP_HOST_DEVICE double operator()(int yy) const { return blur_row(m, w, x, yy, k, g); }
};

// Blurred value at (x, y): the k x k neighbourhood with zero padding, rows then columns ascending.
// The CPU twin evaluates the same blur_row / blur_column terms, sharing row sums between points.
template <typename T>
KP_HOST_DEVICE inline double blur_at(const T* m, int h, int w, int x, int y, int k, const double* g) {
  return blur_column(RowSums<T>{m, w, x, k, g}, h, y, k, g);
}

// Offsets of the 13 points the Taylor step reads: centre, x+-1, x+-2, y+-1, y+-2, diagonals.
KP_HOST_DEVICE inline void point_offset(int i, int* dx, int* dy) {
  const int ox[kPoints] = {0, 1, -1, 2, -2, 0, 0, 0, 0, 1, 1, -1, -1};
  const int oy[kPoints] = {0, 0, 0, 0, 0, 1, -1, 2, -2, 1, -1, 1, -1};
  *dx = ox[i];
  *dy = oy[i];
}

// True when the peak has the 2-pixel margin the Taylor step needs (strict, as the official code).
KP_HOST_DEVICE inline bool interior(int px, int py, int w, int h) {
  return 1 < px && px < w - 2 && 1 < py && py < h - 2;
}

// Rescale factor maxval / (blurred max) when the clamp could bite; <= 0 means "no Taylor step"
// (the blurred max is <= 0 only when negative values surround a small positive peak).
KP_HOST_DEVICE inline double rescale(float maxval, double blurred_max) {
  return blurred_max > 0.0 ? static_cast<double>(maxval) / blurred_max : 0.0;
}

// log(max(b * scale, floor)); scale = 1 where the rescale provably cancels.
KP_HOST_DEVICE inline double modulated_log(double b, double scale) {
  const double v = b * scale;
  return log(v > kLogFloor ? v : kLogFloor);
}

// Newton step from the 13 log values; leaves (x, y) alone when the Hessian is singular.
KP_HOST_DEVICE inline void taylor_step(const double* h, double* x, double* y) {
  const double gx = 0.5 * (h[1] - h[2]);
  const double gy = 0.5 * (h[5] - h[6]);
  const double dxx = 0.25 * (h[3] - 2.0 * h[0] + h[4]);
  const double dyy = 0.25 * (h[7] - 2.0 * h[0] + h[8]);
  const double dxy = 0.25 * (h[9] - h[10] - h[11] + h[12]);
  const double det = dxx * dyy - dxy * dxy;
  if (det == 0.0) return;
  *x -= (dyy * gx - dxy * gy) / det;
  *y -= (dxx * gy - dxy * gx) / det;
}

// Heatmap (u, v) -> image coordinates: inverse of the "size-1" crop (spec 10.3).
KP_HOST_DEVICE inline void inverse_affine(const float* a, int w, int h, double u, double v, float* out) {
  const double kPi = 3.14159265358979323846;
  const double f = (w - 1.0) / (static_cast<double>(a[2]) * 200.0 - 1.0);
  const double rad = static_cast<double>(a[4]) * kPi / 180.0;
  const double cs = cos(rad), sn = sin(rad);
  const double du = (u - (w - 1.0) * 0.5) / f, dv = (v - (h - 1.0) * 0.5) / f;
  out[0] = static_cast<float>(a[0] + cs * du - sn * dv);
  out[1] = static_cast<float>(a[1] + sn * du + cs * dv);
}

}  // namespace dark_detail
}  // namespace kitpose
