// Scalar reference quantizers and dequantizers, one pair per GGUF block type.
// They are the readable definition of each format and equal ggml's own
// quantize_chunk / to_float bit for bit (tests/quant/golden_test.cpp).
//
// Conventions for every function here:
//   quantize_row_<t>_ref(src, dst, n, imatrix)
//     src: n floats, n a multiple of the type's block size.
//     dst: row_bytes(<t>, n) bytes of blocks, laid out as ggml-common.h's block_<t>.
//     imatrix: n importance weights (one per column) or nullptr. Types whose ggml
//       quantizer ignores it ignore it too. With nullptr the result equals
//       ggml_quantize_chunk(..., imatrix = NULL), which for most types is a
//       different algorithm from the weighted one -- both are implemented.
//   dequantize_row_<t>_ref(src, dst, n): n floats from the blocks at src.
// All files under src/quant are compiled with -ffp-contract=off (see CMakeLists.txt).
#pragma once

#include <cstdint>

namespace qkv::quant {

#define QKV_DECLARE_REF(t)                                                              \
  void quantize_row_##t##_ref(const float* src, void* dst, int64_t n, const float* imatrix); \
  void dequantize_row_##t##_ref(const void* src, float* dst, int64_t n);

// legacy 32-element blocks: src/quant/legacy_ref.cpp
QKV_DECLARE_REF(q4_0)
QKV_DECLARE_REF(q4_1)
QKV_DECLARE_REF(q5_0)
QKV_DECLARE_REF(q5_1)
QKV_DECLARE_REF(q8_0)
// non-linear 4-bit: src/quant/iq4_ref.cpp
QKV_DECLARE_REF(iq4_nl)
QKV_DECLARE_REF(iq4_xs)
// ternary: src/quant/ternary_ref.cpp
QKV_DECLARE_REF(tq1_0)
QKV_DECLARE_REF(tq2_0)
// microscaling fp4: src/quant/mxfp4_ref.cpp
QKV_DECLARE_REF(mxfp4)
// k-quants: src/quant/kquants_ref.cpp
QKV_DECLARE_REF(q2_K)
QKV_DECLARE_REF(q3_K)
QKV_DECLARE_REF(q4_K)
QKV_DECLARE_REF(q5_K)
QKV_DECLARE_REF(q6_K)

// plain floats, each its own reference and fast path: src/quant/float_rows.cpp
void quantize_row_f32(const float* src, void* dst, int64_t n, const float* imatrix);
void dequantize_row_f32(const void* src, float* dst, int64_t n);
void quantize_row_f16(const float* src, void* dst, int64_t n, const float* imatrix);
void dequantize_row_f16(const void* src, float* dst, int64_t n);
void quantize_row_bf16(const float* src, void* dst, int64_t n, const float* imatrix);
void dequantize_row_bf16(const void* src, float* dst, int64_t n);

// codebook formats: quantizers in src/quant/iq{1,2,3}_ref.cpp, dequantizers
// in src/quant/iq_dequant_ref.cpp. IQ2_XXS, IQ2_XS and IQ1_S need an imatrix
// (as in ggml) and throw Error(Usage) without one.
QKV_DECLARE_REF(iq2_xxs)
QKV_DECLARE_REF(iq2_xs)
QKV_DECLARE_REF(iq2_s)
QKV_DECLARE_REF(iq3_xxs)
QKV_DECLARE_REF(iq3_s)
QKV_DECLARE_REF(iq1_s)
QKV_DECLARE_REF(iq1_m)

#undef QKV_DECLARE_REF

}  // namespace qkv::quant
