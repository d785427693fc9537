// Quantization kernels: float rows to GGUF blocks and back, bit-exact with
// ggml. Each type has a scalar reference (the readable definition) and a fast
// path (SIMD, runtime dispatch) that must equal it bit for bit; the public
// entry points use the fast path and spread rows over threads.
#pragma once

#include <cstdint>

#include "qkv/types.h"

namespace qkv::quant {

bool can_quantize(TensorType t);    // we can write this type from floats
bool can_dequantize(TensorType t);  // we can read this type into floats
bool uses_imatrix(TensorType t);    // ggml's quantizer for t honours importance weights
bool requires_imatrix(TensorType t);  // and refuses without them (IQ2_XXS, IQ2_XS, IQ1_S)

// src: nrows * n_per_row floats; dst: nrows * row_bytes(t, n_per_row) bytes.
// imatrix: n_per_row weights (one per column) or nullptr. threads <= 0: all cores.
// Throws (Unsupported) for a type we cannot write, (Usage) for a type that
// requires_imatrix without one, (Format) for a row length that is not a
// whole number of blocks.
void quantize(TensorType t, const float* src, void* dst, int64_t nrows, int64_t n_per_row,
              const float* imatrix = nullptr, int threads = 1);
void dequantize(TensorType t, const void* src, float* dst, int64_t nrows, int64_t n_per_row, int threads = 1);

// The scalar references, single-threaded (tests and benchmarks compare against them).
void quantize_reference(TensorType t, const float* src, void* dst, int64_t nrows, int64_t n_per_row,
                        const float* imatrix = nullptr);
void dequantize_reference(TensorType t, const void* src, float* dst, int64_t nrows, int64_t n_per_row);

}  // namespace qkv::quant
