// Where a parameter tensor goes in a GGUF file.
#pragma once

#include <cstdint>
#include <vector>

#include "qkv/train_model.h"

namespace qkv::train {

// ggml order: a matrix [rows x cols] is {cols, rows}, a vector {cols}.
inline std::vector<uint64_t> gguf_shape(const ParamInfo& t) {
  if (t.rows == 1) return {uint64_t(t.cols)};
  return {uint64_t(t.cols), uint64_t(t.rows)};
}

}  // namespace qkv::train
