// Access to ../shared/golden/quant: ggml's own quantized bytes and
// dequantized floats for every case and type (see the README there).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace qkv::test {

struct GoldenResult {
  std::string type;       // "Q4_K"
  bool imatrix = false;   // quantized with the case's imatrix.f32
  std::filesystem::path quant, dequant;
  uint64_t row_size = 0;
};

struct GoldenCase {
  std::string name;
  int64_t nrows = 0, n_per_row = 0;
  std::filesystem::path input, imatrix;
  std::vector<GoldenResult> results;
};

// All cases from manifest.json; empty when ../shared is absent.
std::vector<GoldenCase> golden_cases();

}  // namespace qkv::test

namespace qkv::test {

using QuantizeRowFn = void (*)(const float* src, void* dst, int64_t n, const float* imatrix);
using DequantizeRowFn = void (*)(const void* src, float* dst, int64_t n);

// Checks every golden case of `type` (both imatrix variants where present):
// quantize each input row with `quantize` and compare with ggml's bytes, and
// dequantize ggml's bytes with `dequantize` and compare with ggml's floats,
// bit for bit. Failures name the case, row, block and the differing bytes.
// Returns the number of results checked (0 when ../shared is absent).
int check_golden_type(const std::string& type, QuantizeRowFn quantize, DequantizeRowFn dequantize,
                      int block_elems, int block_bytes);

// The dequantization half of check_golden_type, for types we only read.
int check_golden_dequant(const std::string& type, DequantizeRowFn dequantize, int block_elems, int block_bytes);

}  // namespace qkv::test
