// The per-architecture tensor transforms applied on the way to GGUF.
#pragma once

#include <cstdint>
#include <vector>

#include "convert/arch.h"

namespace qkv::convert {

// Applies `t` to a tensor of `rows` x `cols` floats (PyTorch order, rows =
// first dimension; 1-D tensors are rows x 1) in place. Permute* reorders
// rows within each of `heads` head groups (llama's Q/K for ggml's
// adjacent-pair RoPE); Transpose swaps rows and columns (GPT-2's Conv1D).
void apply_transform(Transform t, std::vector<float>& data, uint64_t rows, uint64_t cols, uint32_t heads);

// The inverse of apply_transform, for GGUF -> Hugging Face: rows and cols
// describe `data` as it is now (GGUF's order: rows = ne[1], cols = ne[0]).
void undo_transform(Transform t, std::vector<float>& data, uint64_t rows, uint64_t cols, uint32_t heads);

}  // namespace qkv::convert
