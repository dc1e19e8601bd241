// Runs every CUDA op of kitpose once per case through the emulated runtime, for the host sanitizers:
// built with -fsanitize=address,undefined it is the CPU stand-in for compute-sanitizer's memcheck
// (every buffer is allocated to its exact size, so a read or write one element past an end is
// reported), and with -fsanitize=thread the stand-in for racecheck (the emulated threads of a block
// share the kernels' __shared__ arrays; an access not ordered by a barrier is reported whatever the
// schedule). The cases follow tests/cuda_driver.py, smaller where the sanitizers slow things down.
// Built and run by tests/ops/test_cuda_sanitized.py; exits 0 after printing "all ops ran".
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "cuda_runtime_api.h"
#include "dark/dark.h"
#include "kmedoids/kmedoids.h"
#include "warp/warp.h"

namespace {

std::mt19937 rng(0);

std::vector<float> uniform(size_t n, float lo = 0.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) {
    std::fprintf(stderr, "%s failed\n", what);
    std::exit(1);
  }
}

void run_kmedoids(int64_t b, int64_t n, int64_t d, int64_t c, bool zero_rows) {
  const kitpose::KMedoidsParams p{b, n, d, c, 40};
  std::vector<float> x = zero_rows ? std::vector<float>(b * n * d, 0.0f) : uniform(b * n * d);
  std::vector<int64_t> assign(b * n), medoids(b * c);
  std::vector<float> means(b * c * d);
  std::vector<unsigned char> workspace(kitpose::kmedoids_workspace_bytes(p));
  check(kitpose::kmedoids_cuda(p, x.data(), assign.data(), medoids.data(), means.data(), workspace.data(), nullptr),
        "kmedoids");
}

// IEEE half bits of v (round to nearest; the values here are normal numbers in [0, 1)).
uint16_t to_half_bits(float v) {
  uint32_t f;
  std::memcpy(&f, &v, sizeof f);
  const uint32_t sign = (f >> 16) & 0x8000u;
  const int exp = static_cast<int>((f >> 23) & 0xff) - 127 + 15;
  if (exp <= 0) return static_cast<uint16_t>(sign);
  const uint32_t mant = (f >> 13) & 0x3ffu;
  return static_cast<uint16_t>(sign | (static_cast<uint32_t>(exp) << 10) | mant);
}

void run_dark(int64_t n, int64_t k, int64_t h, int64_t w) {
  const std::vector<float> maps = uniform(n * k * h * w);
  std::vector<uint16_t> half(maps.size());
  for (size_t i = 0; i < maps.size(); ++i) half[i] = to_half_bits(maps[i]);
  std::vector<float> affine(n * 5);
  for (int64_t i = 0; i < n; ++i) {
    const float row[5] = {100.0f, 80.0f, 1.2f, 1.5f, 30.0f};
    std::copy(row, row + 5, affine.begin() + i * 5);
  }
  std::vector<float> coords(n * k * 2), scores(n * k);
  for (int half_input = 0; half_input < 2; ++half_input)
    for (int with_affine = 0; with_affine < 2; ++with_affine) {
      const kitpose::DarkParams p{n, k, h, w, 11, half_input, with_affine};
      const void* data = half_input ? static_cast<const void*>(half.data()) : static_cast<const void*>(maps.data());
      check(kitpose::dark_decode_cuda(p, data, with_affine ? affine.data() : nullptr, coords.data(), scores.data(),
                                      nullptr, nullptr),
            "dark_decode");
    }
}

void run_warp(int64_t b, int64_t src_h, int64_t src_w, int64_t out_h, int64_t out_w) {
  std::vector<uint8_t> frame(src_h * src_w * 3);
  for (auto& v : frame) v = static_cast<uint8_t>(rng() & 0xff);
  std::vector<double> mats;
  for (int64_t i = 0; i < b; ++i) {  // rotated, scaled crops, some reaching outside the frame
    const double a = 0.3 * static_cast<double>(i), s = 0.5 + 0.25 * static_cast<double>(i);
    const double m[6] = {s * std::cos(a), -s * std::sin(a), -3.0 * static_cast<double>(i),
                         s * std::sin(a), s * std::cos(a), 2.0 - static_cast<double>(i)};
    mats.insert(mats.end(), m, m + 6);
  }
  std::vector<float> out(b * 3 * out_h * out_w);
  const kitpose::WarpParams p{b, src_h, src_w, out_h, out_w, 1, {0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}};
  check(kitpose::warp_affine_cuda(p, frame.data(), mats.data(), out.data(), nullptr, nullptr), "warp_affine");
}

}  // namespace

int main() {
  run_kmedoids(1, 1, 1, 1, false);
  run_kmedoids(3, 17, 256, 4, false);
  run_kmedoids(2, 64, 40, 8, false);   // N = 64: the whole shared distance matrix
  run_kmedoids(5, 8, 33, 8, false);    // C = N, and more instances than one launch chunk
  run_kmedoids(2, 17, 64, 4, true);    // all-zero rows
  run_dark(1, 1, 1, 1);
  run_dark(2, 17, 64, 48);
  run_dark(2, 3, 5, 7);
  run_warp(4, 37, 53, 9, 11);
  std::printf("all ops ran\n");
  return 0;
}
