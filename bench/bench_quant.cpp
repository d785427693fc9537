// Quantize / dequantize throughput per type, in MB/s of float32 input, for
// the scalar reference (the baseline, measured in this same run), the fast
// path on one thread and the fast path on all threads.
//
//   build/bench/bench_quant [TYPE ...]      (default: every type we can write)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "qkv/parallel.h"
#include "qkv/quant.h"

using namespace qkv;

namespace {

constexpr int64_t kRows = 256, kCols = 4096;

// Best-of-N wall time of fn, in seconds; repeats until ~0.3 s have been spent.
double time_best(const std::function<void()>& fn) {
  double best = 1e30, spent = 0;
  for (int i = 0; i < 50 && (i < 3 || spent < 0.3); ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, s);
    spent += s;
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<TensorType> types;
  for (int i = 1; i < argc; ++i)
    if (auto t = type_from_name(argv[i])) types.push_back(*t);
  if (types.empty())
    for (const auto& t : all_types())
      if (t.quantized && quant::can_quantize(t.type)) types.push_back(t.type);

  // LLM-like weights: gaussian rows with a few outlier columns, and an imatrix.
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> x(kRows * kCols), imatrix(kCols), back(kRows * kCols);
  for (auto& v : x) v = normal(rng);
  for (int64_t c = 0; c < kCols; c += 97)
    for (int64_t r = 0; r < kRows; ++r) x[r * kCols + c] *= 8;
  for (int64_t c = 0; c < kCols; ++c) imatrix[c] = 1.0f + static_cast<float>((37 * c) % 101) / 10.0f;
  const double mb = x.size() * sizeof(float) / 1e6;
  const int threads = hardware_threads();

  std::printf("float32 input: %lld x %lld (%.1f MB); %d threads; MB/s of float32; ratio = fast / reference\n\n",
              static_cast<long long>(kRows), static_cast<long long>(kCols), mb, threads);
  std::printf("%-8s | %10s %10s %7s %10s %7s | %10s %10s %7s %10s %7s\n", "type", "q ref", "q fast", "ratio",
              "q fast xT", "ratio", "dq ref", "dq fast", "ratio", "dq fast xT", "ratio");
  for (TensorType t : types) {
    std::vector<uint8_t> q(row_bytes(t, kCols) * kRows), q2(q.size());
    const float* w = quant::uses_imatrix(t) ? imatrix.data() : nullptr;
    const double q_ref = time_best([&] { quant::quantize_reference(t, x.data(), q.data(), kRows, kCols, w); });
    const double q_1 = time_best([&] { quant::quantize(t, x.data(), q2.data(), kRows, kCols, w, 1); });
    const double q_n = time_best([&] { quant::quantize(t, x.data(), q2.data(), kRows, kCols, w, threads); });
    const bool same = q == q2;
    const double d_ref = time_best([&] { quant::dequantize_reference(t, q.data(), back.data(), kRows, kCols); });
    const double d_1 = time_best([&] { quant::dequantize(t, q.data(), back.data(), kRows, kCols, 1); });
    const double d_n = time_best([&] { quant::dequantize(t, q.data(), back.data(), kRows, kCols, threads); });
    std::printf("%-8s | %10.1f %10.1f %6.2fx %10.1f %6.2fx | %10.1f %10.1f %6.2fx %10.1f %6.2fx%s\n",
                std::string(type_name(t)).c_str(), mb / q_ref, mb / q_1, q_ref / q_1, mb / q_n, q_ref / q_n,
                mb / d_ref, mb / d_1, d_ref / d_1, mb / d_n, d_ref / d_n,
                same ? "" : "   FAST != REFERENCE");
  }
  return 0;
}
