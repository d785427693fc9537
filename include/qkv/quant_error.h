// The error of a quantize -> dequantize round trip, optionally weighted by an
// importance matrix, measured on a deterministic sample of rows: what
// `qkv analyze` reports per type and what the adaptive planner
// (qkv/budget_plan.h) spends its budget by.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "qkv/types.h"

namespace qkv::quant {

// At most `max_elements` weights' worth of whole rows, evenly spread over
// [0, nrows) (row floor((i + 1/2) * nrows / k) for i < k); every row when
// max_elements is 0 or covers the tensor. At least one row.
std::vector<int64_t> sample_rows(int64_t nrows, int64_t n_per_row, uint64_t max_elements);

struct QuantError {
  TensorType type = TensorType::F16;
  uint64_t bytes = 0;          // the whole tensor at this type
  double bits_per_weight = 0;
  // sum_ij a_j (w_ij - q_ij)^2 / sum_ij a_j w_ij^2 with q = dequantize(quantize(w)),
  // a_j the importance of column j (1 without an importance matrix).
  double rel_error = 0;
  double abs_error = 0;        // the numerator alone, over the measured rows
  int64_t measured_rows = 0;
  bool imatrix_used = false;   // the quantizer itself was given the importance weights
  // 10 log10(1 / rel_error); +inf when the round trip is exact.
  double sqnr_db() const;
};

// `w`: rows x n_per_row floats making n_mat matrices (3-D expert tensors)
// one after another; `importance`: n_per_row * n_mat weights, or null. Only
// `rows` (ascending) are measured; importance weights go to the quantizer when
// uses_imatrix(t). Throws (Format) when the row is not a whole number of blocks.
QuantError quant_error(TensorType t, std::span<const float> w, int64_t n_per_row, int64_t n_mat,
                       const float* importance, std::span<const int64_t> rows, int threads = 1);

}  // namespace qkv::quant
