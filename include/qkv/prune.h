// Pruning: zeroing the weights that matter least, one output row at a time.
//
// A GGUF row (ne[0] values) is one output's weights over the inputs, so every
// method compares weights within a row, as Wanda (Sun et al. 2023) does:
//   magnitude  score |w_j|; the lowest `sparsity` fraction of each row is zeroed.
//   wanda      score |w_j| * ||x_j||, with ||x_j|| from the importance matrix
//              (the root of its mean squared activation of input j).
//   N:M        in every group of M consecutive weights of a row, the M - N
//              lowest-scoring are zeroed (2:4 is what sparse tensor cores
//              run); scored as wanda with an importance matrix, else magnitude.
// Ties go to the lower index, so the result never depends on the sort.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "qkv/imatrix.h"
#include "qkv/types.h"

namespace qkv {

enum class PruneMethod { Magnitude, Wanda, NofM };

struct PruneOptions {
  PruneMethod method = PruneMethod::Magnitude;
  double sparsity = 0.5;  // magnitude and wanda: the fraction of each row zeroed
  int keep_n = 2, group_m = 4;  // N:M
  const quant::ImportanceMatrix* imatrix = nullptr;  // wanda needs one; N:M uses one when given
  bool embeddings = false;  // also token_embd.weight
  bool output = false;      // also output.weight
};

// Parses "magnitude", "wanda", or "N:M" (such as 2:4) into opts; throws (Usage) otherwise.
void parse_prune_method(const std::string& text, PruneOptions& opts);

// The fraction of weights a method zeroes: sparsity, or 1 - N/M.
double prune_fraction(const PruneOptions& opts);

// Whether `name` (a GGUF tensor with `shape`) is pruned: the 2-D weight
// matrices; never norms, biases or 1-D tensors; token_embd and output only when asked.
bool is_prunable(const std::string& name, const std::vector<uint64_t>& shape, const PruneOptions& opts);

// Zeroes weights of `rows` rows of `cols` floats in place; act_sq: per column,
// the mean squared input activation (null for magnitude). Returns how many
// weights are zero afterwards that were not before.
uint64_t prune_rows(const PruneOptions& opts, float* w, int64_t rows, int64_t cols, const float* act_sq);

}  // namespace qkv
