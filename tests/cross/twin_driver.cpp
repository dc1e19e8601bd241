// Runs the C++ CPU twins on cases read from a file and writes their outputs to another, so the same
// cases can go through an x86-64 build (natively) and an aarch64 build (under qemu-aarch64) and the
// outputs be compared (tests/ops/test_aarch64.py; tests/cross_build.py builds it with CMake).
//
//   twin_driver CASES OUT
//
// CASES is a sequence of records, each an int64 op tag and that op's sizes and inputs, in native
// byte order (little-endian on both targets); OUT receives each record's outputs in turn:
//   0 kmedoids: int64 B N D C iters, float32 x[B*N*D]
//               -> int64 assign[B*N], int64 medoids[B*C], float32 means[B*C*D]
//   1 dark:     int64 N K H W kernel half has_affine, maps (float32, or uint16 half bits)[N*K*H*W],
//               float32 affine[N*5] when has_affine -> float32 coords[N*K*2], float32 scores[N*K]
//   2 warp:     int64 B src_h src_w out_h out_w swap_rb, float32 mean[3] std[3],
//               uint8 frame[src_h*src_w*3], float64 mats[B*6] -> float32 out[B*3*out_h*out_w]
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "dark/dark.h"
#include "kmedoids/kmedoids.h"
#include "warp/warp.h"

namespace {

FILE* in_file;
FILE* out_file;

template <typename T>
std::vector<T> read(int64_t n) {
  std::vector<T> v(static_cast<size_t>(n));
  if (n > 0 && std::fread(v.data(), sizeof(T), v.size(), in_file) != v.size()) {
    std::fprintf(stderr, "twin_driver: truncated case file\n");
    std::exit(2);
  }
  return v;
}

template <typename T>
void write(const std::vector<T>& v) {
  std::fwrite(v.data(), sizeof(T), v.size(), out_file);
}

void run_kmedoids() {
  const auto s = read<int64_t>(5);
  const kitpose::KMedoidsParams p{s[0], s[1], s[2], s[3], s[4]};
  const auto x = read<float>(p.batch * p.points * p.dim);
  std::vector<int64_t> assign(p.batch * p.points), medoids(p.batch * p.clusters);
  std::vector<float> means(p.batch * p.clusters * p.dim);
  std::vector<unsigned char> workspace(kitpose::kmedoids_workspace_bytes(p));
  kitpose::kmedoids_cpu(p, x.data(), assign.data(), medoids.data(), means.data(), workspace.data());
  write(assign);
  write(medoids);
  write(means);
}

void run_dark() {
  const auto s = read<int64_t>(7);
  const kitpose::DarkParams p{s[0], s[1], s[2], s[3], s[4], static_cast<int32_t>(s[5]), static_cast<int32_t>(s[6])};
  const int64_t size = p.batch * p.keypoints * p.height * p.width;
  const auto maps32 = p.half_input ? std::vector<float>() : read<float>(size);
  const auto maps16 = p.half_input ? read<uint16_t>(size) : std::vector<uint16_t>();
  const auto affine = read<float>(p.has_affine ? p.batch * 5 : 0);
  std::vector<float> coords(p.batch * p.keypoints * 2), scores(p.batch * p.keypoints);
  const void* maps = p.half_input ? static_cast<const void*>(maps16.data()) : static_cast<const void*>(maps32.data());
  kitpose::dark_decode_cpu(p, maps, p.has_affine ? affine.data() : nullptr, coords.data(), scores.data(), nullptr);
  write(coords);
  write(scores);
}

void run_warp() {
  const auto s = read<int64_t>(6);
  const auto stats = read<float>(6);
  kitpose::WarpParams p{s[0], s[1], s[2], s[3], s[4], static_cast<int32_t>(s[5]),
                        {stats[0], stats[1], stats[2]}, {stats[3], stats[4], stats[5]}};
  const auto frame = read<uint8_t>(p.src_h * p.src_w * 3);
  const auto mats = read<double>(p.batch * 6);
  std::vector<float> out(p.batch * 3 * p.out_h * p.out_w);
  kitpose::warp_affine_cpu(p, frame.data(), mats.data(), out.data(), nullptr);
  write(out);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: twin_driver CASES OUT\n");
    return 2;
  }
  in_file = std::fopen(argv[1], "rb");
  out_file = std::fopen(argv[2], "wb");
  if (in_file == nullptr || out_file == nullptr) {
    std::fprintf(stderr, "twin_driver: cannot open %s or %s\n", argv[1], argv[2]);
    return 2;
  }
  int64_t op;
  while (std::fread(&op, sizeof op, 1, in_file) == 1) {
    if (op == 0) run_kmedoids();
    else if (op == 1) run_dark();
    else if (op == 2) run_warp();
    else {
      std::fprintf(stderr, "twin_driver: unknown op tag %lld\n", static_cast<long long>(op));
      return 2;
    }
  }
  std::fclose(out_file);
  return 0;
}
