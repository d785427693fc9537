// The pruning methods of qkv/prune.h, scalar and plain: pruning runs once
// per model, at the speed of reading it.
#include "qkv/prune.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numeric>

#include "qkv/error.h"

namespace qkv {
namespace {

// Zeroes the `k` lowest-scoring of w[idx[0..n)] (ties: lower index first) and
// counts those that were not zero already.
uint64_t zero_lowest(float* w, const float* score, int64_t* idx, int64_t n, int64_t k) {
  if (k <= 0) return 0;
  const auto lower = [score](int64_t a, int64_t b) { return score[a] < score[b] || (score[a] == score[b] && a < b); };
  if (k < n) std::nth_element(idx, idx + k, idx + n, lower);
  uint64_t zeroed = 0;
  for (int64_t j = 0; j < std::min(k, n); ++j) {
    zeroed += w[idx[j]] != 0.0f;
    w[idx[j]] = 0.0f;
  }
  return zeroed;
}

}  // namespace

void parse_prune_method(const std::string& text, PruneOptions& opts) {
  if (text == "magnitude") {
    opts.method = PruneMethod::Magnitude;
    return;
  }
  if (text == "wanda") {
    opts.method = PruneMethod::Wanda;
    return;
  }
  const size_t colon = text.find(':');
  int n = 0, m = 0;
  const char* end = text.data() + text.size();
  if (colon != std::string::npos &&
      std::from_chars(text.data(), text.data() + colon, n).ptr == text.data() + colon &&
      std::from_chars(text.data() + colon + 1, end, m).ptr == end && n > 0 && m > n && m <= 64) {
    opts.method = PruneMethod::NofM;
    opts.keep_n = n, opts.group_m = m;
    return;
  }
  throw Error(ErrorKind::Usage, "--method " + text + ": use magnitude, wanda, or N:M with 0 < N < M <= 64 (such as 2:4)");
}

double prune_fraction(const PruneOptions& o) {
  return o.method == PruneMethod::NofM ? 1.0 - double(o.keep_n) / o.group_m : o.sparsity;
}

bool is_prunable(const std::string& name, const std::vector<uint64_t>& shape, const PruneOptions& o) {
  if (shape.size() < 2 || shape[1] < 2 || !name.ends_with(".weight")) return false;
  if (name.find("norm") != std::string::npos) return false;
  if (name == "token_embd.weight") return o.embeddings;
  if (name == "output.weight") return o.output;
  return true;
}

uint64_t prune_rows(const PruneOptions& o, float* w, int64_t rows, int64_t cols, const float* act_sq) {
  if (o.method == PruneMethod::Wanda && !act_sq)
    throw Error(ErrorKind::Usage, "wanda scores weights by their input activations: pass --imatrix FILE");
  std::vector<float> score(static_cast<size_t>(cols));
  std::vector<int64_t> idx(static_cast<size_t>(cols));
  std::vector<float> norm(static_cast<size_t>(cols), 1.0f);
  if (act_sq && o.method != PruneMethod::Magnitude)
    for (int64_t j = 0; j < cols; ++j) norm[size_t(j)] = std::sqrt(std::max(act_sq[j], 0.0f));
  const int64_t k_row = int64_t(std::floor(o.sparsity * double(cols) + 1e-9));
  uint64_t zeroed = 0;
  for (int64_t r = 0; r < rows; ++r) {
    float* row = w + r * cols;
    for (int64_t j = 0; j < cols; ++j) score[size_t(j)] = std::fabs(row[j]) * norm[size_t(j)];
    if (o.method != PruneMethod::NofM) {
      std::iota(idx.begin(), idx.end(), int64_t{0});
      zeroed += zero_lowest(row, score.data(), idx.data(), cols, k_row);
      continue;
    }
    for (int64_t g = 0; g < cols; g += o.group_m) {
      const int64_t len = std::min<int64_t>(o.group_m, cols - g);
      std::iota(idx.begin(), idx.begin() + len, g);
      // A last, shorter group loses the same fraction, rounded down.
      zeroed += zero_lowest(row, score.data(), idx.data(), len, len * (o.group_m - o.keep_n) / o.group_m);
    }
  }
  return zeroed;
}

}  // namespace qkv
