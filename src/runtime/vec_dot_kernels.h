// The dot kernels of runtime/vec_dot.h, by instruction set, for the traits
// table (quant/traits.cpp), which says which type uses which and what each
// needs of the CPU. Use them through vec_dot.h's lookups.
#pragma once

#include <cstdint>

#include "runtime/vec_dot.h"

namespace qkv::ops {

// The scalar references: vec_dot_ref.cpp.
namespace ref {
float f32(const void* w, const void* a, int64_t n);
float f16(const void* w, const void* a, int64_t n);
float bf16(const void* w, const void* a, int64_t n);
float q4_0(const void* w, const void* a, int64_t n);
float q4_1(const void* w, const void* a, int64_t n);
float q5_0(const void* w, const void* a, int64_t n);
float q5_1(const void* w, const void* a, int64_t n);
float q8_0(const void* w, const void* a, int64_t n);
float iq4_nl(const void* w, const void* a, int64_t n);
float q2_K(const void* w, const void* a, int64_t n);
float q3_K(const void* w, const void* a, int64_t n);
float q4_K(const void* w, const void* a, int64_t n);
float q5_K(const void* w, const void* a, int64_t n);
float q6_K(const void* w, const void* a, int64_t n);
float iq4_xs(const void* w, const void* a, int64_t n);
}  // namespace ref

#if defined(__x86_64__)
// AVX2 + FMA + F16C: vec_dot_avx2.cpp.
namespace avx2 {
extern const VecDotVariant kF32, kF16, kBF16, kQ4_0, kQ4_1, kQ5_0, kQ5_1, kQ8_0, kIQ4_NL, kQ2_K, kQ3_K, kQ4_K, kQ5_K,
    kQ6_K, kIQ4_XS;
}
// AVX-512 (F16), AVX-512 BF16 (BF16) and AVX-512 VNNI (the rest): vec_dot_avx512.cpp.
namespace avx512 {
extern const VecDotVariant kF16, kBF16, kQ4_0, kQ5_0, kQ8_0, kIQ4_NL, kQ2_K, kQ3_K, kQ4_K, kQ5_K, kQ6_K, kIQ4_XS;
}
#endif

}  // namespace qkv::ops
