// Fast quantizers and dequantizers, one pair per type that has a scalar
// reference (quant/ref.h), with the same signatures and the same output bit
// for bit, with and without importance weights (tests/quant/fast_test.cpp).
//
// Each picks its SIMD code at run time (AVX2 on x86-64, see quant/simd.h) and
// falls back to the reference where the CPU has none. They live in
// src/quant/fast_<family>.cpp.
#pragma once

#include <cstdint>

namespace qkv::quant {

#define QKV_DECLARE_FAST(t)                                                                   \
  void quantize_row_##t##_fast(const float* src, void* dst, int64_t n, const float* imatrix); \
  void dequantize_row_##t##_fast(const void* src, float* dst, int64_t n);

// src/quant/fast_legacy.cpp
QKV_DECLARE_FAST(q4_0)
QKV_DECLARE_FAST(q4_1)
QKV_DECLARE_FAST(q5_0)
QKV_DECLARE_FAST(q5_1)
QKV_DECLARE_FAST(q8_0)
// src/quant/fast_kquants.cpp
QKV_DECLARE_FAST(q2_K)
QKV_DECLARE_FAST(q3_K)
QKV_DECLARE_FAST(q4_K)
QKV_DECLARE_FAST(q5_K)
QKV_DECLARE_FAST(q6_K)
// src/quant/fast_iq4.cpp
QKV_DECLARE_FAST(iq4_nl)
QKV_DECLARE_FAST(iq4_xs)
// src/quant/fast_ternary.cpp
QKV_DECLARE_FAST(tq1_0)
QKV_DECLARE_FAST(tq2_0)
// src/quant/fast_mxfp4.cpp
QKV_DECLARE_FAST(mxfp4)

#undef QKV_DECLARE_FAST

}  // namespace qkv::quant
