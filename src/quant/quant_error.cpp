// The error of a quantize -> dequantize round trip, optionally weighted by an
// importance matrix, measured on a deterministic sample of rows.
#include <algorithm>
#include <cmath>
#include <limits>

#include "qkv/quant_error.h"
#include "qkv/error.h"
#include "qkv/parallel.h"
#include "qkv/quant.h"

namespace qkv::quant {
namespace {

// Rows are quantized in groups of at most this many weights, so memory stays
// bounded whatever the sample.
constexpr int64_t kGroupElements = 1 << 22;

}  // namespace

double QuantError::sqnr_db() const {
  if (rel_error <= 0) return std::numeric_limits<double>::infinity();
  return -10.0 * std::log10(rel_error);
}

std::vector<int64_t> sample_rows(int64_t nrows, int64_t n_per_row, uint64_t max_elements) {
  std::vector<int64_t> rows;
  if (nrows <= 0) return rows;
  const uint64_t total = static_cast<uint64_t>(nrows) * static_cast<uint64_t>(std::max<int64_t>(n_per_row, 1));
  int64_t k = nrows;
  if (max_elements != 0 && total > max_elements)
    k = std::clamp<int64_t>(static_cast<int64_t>(max_elements / static_cast<uint64_t>(std::max<int64_t>(n_per_row, 1))),
                            1, nrows);
  rows.reserve(static_cast<size_t>(k));
  for (int64_t i = 0; i < k; ++i) rows.push_back(k == nrows ? i : (2 * i + 1) * nrows / (2 * k));
  return rows;
}

QuantError quant_error(TensorType t, std::span<const float> w, int64_t n_per_row, int64_t n_mat,
                       const float* importance, std::span<const int64_t> rows, int threads) {
  if (n_per_row <= 0 || n_mat <= 0 || w.size() % static_cast<size_t>(n_per_row) != 0)
    throw Error(ErrorKind::Format, "a tensor of " + std::to_string(w.size()) + " weights is not rows of " +
                                       std::to_string(n_per_row));
  const int64_t nrows = static_cast<int64_t>(w.size()) / n_per_row;
  if (nrows % n_mat != 0)
    throw Error(ErrorKind::Format, std::to_string(nrows) + " rows do not split into " + std::to_string(n_mat) + " matrices");
  const int64_t rows_per_mat = nrows / n_mat;
  const uint64_t rb = row_bytes(t, static_cast<uint64_t>(n_per_row));  // throws for a partial block

  QuantError r;
  r.type = t;
  r.bytes = rb * static_cast<uint64_t>(nrows);
  r.bits_per_weight = w.empty() ? 0 : 8.0 * static_cast<double>(r.bytes) / static_cast<double>(w.size());
  r.imatrix_used = importance && uses_imatrix(t);

  std::vector<double> err(rows.size()), norm(rows.size());
  const int64_t group_rows = std::max<int64_t>(1, kGroupElements / n_per_row);
  std::vector<float> src, back;
  std::vector<uint8_t> packed;
  for (size_t g = 0; g < rows.size();) {
    // Consecutive sampled rows of one matrix (they share its importance weights).
    const int64_t mat = rows[g] / rows_per_mat;
    size_t e = g;
    while (e < rows.size() && static_cast<int64_t>(e - g) < group_rows && rows[e] / rows_per_mat == mat) ++e;
    const int64_t n = static_cast<int64_t>(e - g);
    src.resize(static_cast<size_t>(n * n_per_row));
    for (int64_t i = 0; i < n; ++i)
      std::copy_n(w.data() + rows[g + static_cast<size_t>(i)] * n_per_row, n_per_row, src.data() + i * n_per_row);
    const float* a = importance ? importance + mat * n_per_row : nullptr;
    packed.resize(static_cast<size_t>(rb) * static_cast<size_t>(n));
    back.resize(src.size());
    quantize(t, src.data(), packed.data(), n, n_per_row, r.imatrix_used ? a : nullptr, threads);
    dequantize(t, packed.data(), back.data(), n, n_per_row, threads);
    parallel_for(n, threads, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        double se = 0, sn = 0;
        const float* x = src.data() + i * n_per_row;
        const float* q = back.data() + i * n_per_row;
        for (int64_t j = 0; j < n_per_row; ++j) {
          const double aj = a ? static_cast<double>(a[j]) : 1.0;
          const double d = static_cast<double>(x[j]) - static_cast<double>(q[j]);
          se += aj * d * d;
          sn += aj * static_cast<double>(x[j]) * static_cast<double>(x[j]);
        }
        err[g + static_cast<size_t>(i)] = se;
        norm[g + static_cast<size_t>(i)] = sn;
      }
    });
    g = e;
  }
  double se = 0, sn = 0;  // added in row order: the thread count cannot change them
  for (size_t i = 0; i < rows.size(); ++i) se += err[i], sn += norm[i];
  r.rel_error = sn > 0 ? se / sn : se > 0 ? std::numeric_limits<double>::infinity() : 0.0;
  r.abs_error = se;
  r.measured_rows = static_cast<int64_t>(rows.size());
  return r;
}

}  // namespace qkv::quant
