// An independent reference for qkv/prune.h, written the slow, obvious way:
// every row (or group) fully sorted by (score, index), the lowest zeroed.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

namespace qkv::test {

// Zeroes, within each span [begin, begin + len) of `row`, the `k` entries of
// lowest |w| * sqrt(act), ties to the lower index.
inline void zero_lowest_sorted(float* row, const float* act, int64_t begin, int64_t len, int64_t k) {
  std::vector<int64_t> idx(static_cast<size_t>(len));
  std::iota(idx.begin(), idx.end(), begin);
  auto score = [&](int64_t j) { return std::fabs(row[j]) * (act ? std::sqrt(act[j]) : 1.0f); };
  std::sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) {
    return score(a) < score(b) || (score(a) == score(b) && a < b);
  });
  for (int64_t j = 0; j < k && j < len; ++j) row[idx[size_t(j)]] = 0.0f;
}

// Unstructured per-row pruning: floor(sparsity * cols) per row.
inline void prune_reference(float* w, int64_t rows, int64_t cols, double sparsity, const float* act) {
  const int64_t k = static_cast<int64_t>(sparsity * double(cols) + 1e-9);
  for (int64_t r = 0; r < rows; ++r) zero_lowest_sorted(w + r * cols, act, 0, cols, k);
}

// N:M: M - N of every M consecutive weights.
inline void prune_reference_nm(float* w, int64_t rows, int64_t cols, int n, int m, const float* act) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < cols; g += m) {
      const int64_t len = std::min<int64_t>(m, cols - g);
      zero_lowest_sorted(w + r * cols, act, g, len, len * (m - n) / m);
    }
}

}  // namespace qkv::test
