// Moments and standardised histograms of one tensor's values.
#include <algorithm>
#include <cmath>
#include <mutex>

#include "qkv/analysis.h"
#include "qkv/parallel.h"

namespace qkv::analysis {
namespace {

// Pieces of a fixed size, whatever the thread count: their sums are added in
// piece order, so the figures are the same on any machine.
constexpr int64_t kPiece = 1 << 16;

int64_t piece_count(size_t n) { return static_cast<int64_t>((n + kPiece - 1) / kPiece); }

template <class Fn>
void for_each_piece(size_t n, int threads, Fn&& fn) {
  parallel_for(piece_count(n), threads, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const size_t lo = static_cast<size_t>(p * kPiece), hi = std::min(n, lo + static_cast<size_t>(kPiece));
      fn(p, lo, hi);
    }
  });
}

struct FirstPass {
  uint64_t count = 0, nonfinite = 0, zeros = 0;
  double sum = 0, max_abs = 0;
};

struct SecondPass {
  double d1 = 0, d2 = 0, d4 = 0;  // sums of (w - mean)^1, ^2, ^4
};

}  // namespace

Stats compute_stats(std::span<const float> w, int threads) {
  Stats s;
  std::vector<FirstPass> first(static_cast<size_t>(piece_count(w.size())));
  for_each_piece(w.size(), threads, [&](int64_t p, size_t lo, size_t hi) {
    FirstPass f;
    for (size_t i = lo; i < hi; ++i) {
      const float x = w[i];
      if (!std::isfinite(x)) {
        ++f.nonfinite;
        continue;
      }
      ++f.count;
      f.zeros += x == 0.0f;
      f.sum += x;
      f.max_abs = std::max(f.max_abs, static_cast<double>(std::fabs(x)));
    }
    first[static_cast<size_t>(p)] = f;
  });
  double sum = 0;
  for (const auto& f : first) {
    s.count += f.count;
    s.nonfinite += f.nonfinite;
    s.zeros += f.zeros;
    sum += f.sum;
    s.max_abs = std::max(s.max_abs, f.max_abs);
  }
  if (s.count == 0) return s;
  s.mean = sum / static_cast<double>(s.count);

  std::vector<SecondPass> second(first.size());
  const double mean = s.mean;
  for_each_piece(w.size(), threads, [&](int64_t p, size_t lo, size_t hi) {
    SecondPass m;
    for (size_t i = lo; i < hi; ++i) {
      if (!std::isfinite(w[i])) continue;
      const double d = static_cast<double>(w[i]) - mean, d2 = d * d;
      m.d1 += d;
      m.d2 += d2;
      m.d4 += d2 * d2;
    }
    second[static_cast<size_t>(p)] = m;
  });
  SecondPass m;
  for (const auto& x : second) m.d1 += x.d1, m.d2 += x.d2, m.d4 += x.d4;
  const double n = static_cast<double>(s.count);
  // The corrected two-pass variance: the d1 term removes the mean's rounding.
  const double var = std::max(0.0, m.d2 / n - (m.d1 / n) * (m.d1 / n));
  s.stddev = std::sqrt(var);
  s.kurtosis = var > 0 ? (m.d4 / n) / (var * var) : 0;

  const double limit = 6 * s.stddev;
  std::vector<uint64_t> beyond(first.size());
  for_each_piece(w.size(), threads, [&](int64_t p, size_t lo, size_t hi) {
    uint64_t k = 0;
    for (size_t i = lo; i < hi; ++i)
      k += std::isfinite(w[i]) && std::fabs(static_cast<double>(w[i]) - mean) > limit;
    beyond[static_cast<size_t>(p)] = k;
  });
  for (uint64_t k : beyond) s.beyond_6_sigma += k;
  return s;
}

uint64_t Histogram::total() const {
  uint64_t t = below + above;
  for (uint64_t b : bins) t += b;
  return t;
}

void Histogram::add(const Histogram& o) {
  for (size_t i = 0; i < bins.size() && i < o.bins.size(); ++i) bins[i] += o.bins[i];
  below += o.below;
  above += o.above;
}

Histogram standardized_histogram(std::span<const float> w, const Stats& s, int threads) {
  Histogram h;
  std::mutex mu;
  const double scale = s.stddev > 0 ? 1.0 / s.stddev : 0.0;  // a constant tensor lands in the bin of 0
  parallel_for(static_cast<int64_t>(w.size()), threads, [&](int64_t begin, int64_t end) {
    Histogram local;
    for (int64_t i = begin; i < end; ++i) {
      const float x = w[static_cast<size_t>(i)];
      if (!std::isfinite(x)) continue;
      const double z = (static_cast<double>(x) - s.mean) * scale;
      const double pos = std::floor((z + Histogram::kRange) * (Histogram::kBins / (2 * Histogram::kRange)));
      if (pos < 0) ++local.below;
      else if (pos >= Histogram::kBins) ++local.above;
      else ++local.bins[static_cast<size_t>(pos)];
    }
    std::lock_guard lock(mu);
    h.add(local);  // integer counts: the order of the merges does not matter
  }, kPiece);
  return h;
}

}  // namespace qkv::analysis
