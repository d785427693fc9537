// Importance matrices as llama.cpp's llama-imatrix writes them: per tensor,
// one weight per input column (per expert for 3-D expert tensors).
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

namespace qkv::quant {

struct ImportanceMatrix {
  // tensor name (e.g. "blk.0.ffn_down.weight") -> n_per_row * n_experts weights
  std::unordered_map<std::string, std::vector<float>> weights;
  std::vector<std::string> datasets;
  const std::vector<float>* find(const std::string& tensor) const;
};

// Reads the GGUF format ("<tensor>.in_sum2" and "<tensor>.counts" pairs; the
// weight is in_sum2 / count, 1 where a matrix was never used) or the legacy
// binary .dat format. The format is decided from the file's bytes. Non-finite
// weights are refused.
ImportanceMatrix load_imatrix(const std::string& path);

}  // namespace qkv::quant
