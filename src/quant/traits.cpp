// The traits table (quant/traits.h): one row per type of the type table, in
// its order (tests/quant/traits_test.cpp holds it to that).
#include "quant/traits.h"

#include "quant/fast.h"
#include "quant/ref.h"
#include "runtime/vec_dot_kernels.h"

namespace qkv {
namespace {

using T = TensorType;
using A = ops::ActType;
namespace ref = ops::ref;

// Quantization columns: a reference and a fast path that equals it bit for
// bit (tests/quant/fast_test.cpp); a plain float type's conversion, which is
// both; formats we read but do not write yet; types we know only the size of.
#define QKV_QUANT(t)                                                                              \
  quant::quantize_row_##t##_ref, quant::quantize_row_##t##_fast, quant::dequantize_row_##t##_ref, \
      quant::dequantize_row_##t##_fast
#define QKV_FLOAT(t) \
  quant::quantize_row_##t, quant::quantize_row_##t, quant::dequantize_row_##t, quant::dequantize_row_##t
// QKV_REF_ONLY: a reference that is also the fast path until one is written.
#define QKV_REF_ONLY(t)                                                                          \
  quant::quantize_row_##t##_ref, quant::quantize_row_##t##_ref, quant::dequantize_row_##t##_ref, \
      quant::dequantize_row_##t##_ref
#define QKV_READ_ONLY(t) nullptr, nullptr, quant::dequantize_row_##t##_ref, quant::dequantize_row_##t##_ref
#define QKV_SIZE_ONLY \
  nullptr, nullptr, nullptr, nullptr, ImatrixUse::Ignored, A::None, nullptr, {}

// SIMD dot columns: a variant of runtime/vec_dot_kernels.h and the CPU
// feature (qkv/cpu.h) it needs, which vec_dot.cpp checks at run time.
#if defined(__x86_64__)
#define QKV_SIMD(feature, isa, T) \
  SimdDot { &CpuFeatures::feature, &ops::isa::k##T }
#else  // the SIMD kernels are x86-64 only
#define QKV_SIMD(feature, isa, T) \
  SimdDot {}
#endif
#define QKV_AVX2(T) QKV_SIMD(avx2, avx2, T)
#define QKV_AVX512(T) QKV_SIMD(avx512, avx512, T)
#define QKV_AVX512_BF16(T) QKV_SIMD(avx512_bf16, avx512, T)
#define QKV_VNNI(T) QKV_SIMD(avx512_vnni, avx512, T)

constexpr ImatrixUse kNoImatrix = ImatrixUse::Ignored, kImatrix = ImatrixUse::Optional,
                     kNeedsImatrix = ImatrixUse::Required;

// clang-format off
const TypeTraits kTraits[] = {
//   type        quantize, dequantize     imatrix        acts     dot ref      SIMD dots, slowest first
    {T::F32,     QKV_FLOAT(f32),          kNoImatrix,    A::F32,  ref::f32,    {QKV_AVX2(F32)}},
    {T::F16,     QKV_FLOAT(f16),          kNoImatrix,    A::F16,  ref::f16,    {QKV_AVX2(F16), QKV_AVX512(F16)}},
    {T::Q4_0,    QKV_QUANT(q4_0),         kImatrix,      A::Q8_0, ref::q4_0,   {QKV_AVX2(Q4_0), QKV_VNNI(Q4_0)}},
    {T::Q4_1,    QKV_QUANT(q4_1),         kImatrix,      A::Q8_1, ref::q4_1,   {QKV_AVX2(Q4_1)}},
    {T::Q5_0,    QKV_QUANT(q5_0),         kImatrix,      A::Q8_0, ref::q5_0,   {QKV_AVX2(Q5_0), QKV_VNNI(Q5_0)}},
    {T::Q5_1,    QKV_QUANT(q5_1),         kImatrix,      A::Q8_1, ref::q5_1,   {QKV_AVX2(Q5_1)}},
    {T::Q8_0,    QKV_QUANT(q8_0),         kNoImatrix,    A::Q8_0, ref::q8_0,   {QKV_AVX2(Q8_0), QKV_VNNI(Q8_0)}},
    {T::Q8_1,    QKV_SIZE_ONLY},  // an activation format
    {T::Q2_K,    QKV_QUANT(q2_K),         kImatrix,      A::Q8_K, ref::q2_K,   {QKV_AVX2(Q2_K), QKV_VNNI(Q2_K)}},
    {T::Q3_K,    QKV_QUANT(q3_K),         kImatrix,      A::Q8_K, ref::q3_K,   {QKV_AVX2(Q3_K), QKV_VNNI(Q3_K)}},
    {T::Q4_K,    QKV_QUANT(q4_K),         kImatrix,      A::Q8_K, ref::q4_K,   {QKV_AVX2(Q4_K), QKV_VNNI(Q4_K)}},
    {T::Q5_K,    QKV_QUANT(q5_K),         kImatrix,      A::Q8_K, ref::q5_K,   {QKV_AVX2(Q5_K), QKV_VNNI(Q5_K)}},
    {T::Q6_K,    QKV_QUANT(q6_K),         kImatrix,      A::Q8_K, ref::q6_K,   {QKV_AVX2(Q6_K), QKV_VNNI(Q6_K)}},
    {T::Q8_K,    QKV_SIZE_ONLY},  // an activation format
    {T::IQ2_XXS, QKV_REF_ONLY(iq2_xxs),   kNeedsImatrix, A::None, nullptr,     {}},
    {T::IQ2_XS,  QKV_REF_ONLY(iq2_xs),    kNeedsImatrix, A::None, nullptr,     {}},
    {T::IQ3_XXS, QKV_REF_ONLY(iq3_xxs),   kImatrix,      A::None, nullptr,     {}},
    {T::IQ1_S,   QKV_REF_ONLY(iq1_s),     kNeedsImatrix, A::None, nullptr,     {}},
    {T::IQ4_NL,  QKV_QUANT(iq4_nl),       kImatrix,      A::Q8_0, ref::iq4_nl, {QKV_AVX2(IQ4_NL), QKV_VNNI(IQ4_NL)}},
    {T::IQ3_S,   QKV_REF_ONLY(iq3_s),     kImatrix,      A::None, nullptr,     {}},
    {T::IQ2_S,   QKV_REF_ONLY(iq2_s),     kImatrix,      A::None, nullptr,     {}},
    {T::IQ4_XS,  QKV_QUANT(iq4_xs),       kImatrix,      A::Q8_K, ref::iq4_xs, {QKV_AVX2(IQ4_XS), QKV_VNNI(IQ4_XS)}},
    {T::I8,      QKV_SIZE_ONLY},
    {T::I16,     QKV_SIZE_ONLY},
    {T::I32,     QKV_SIZE_ONLY},
    {T::I64,     QKV_SIZE_ONLY},
    {T::F64,     QKV_SIZE_ONLY},
    {T::IQ1_M,   QKV_REF_ONLY(iq1_m),     kImatrix,      A::None, nullptr,     {}},
    {T::BF16,    QKV_FLOAT(bf16),         kNoImatrix,    A::BF16, ref::bf16,   {QKV_AVX2(BF16), QKV_AVX512_BF16(BF16)}},
    {T::TQ1_0,   QKV_QUANT(tq1_0),        kNoImatrix,    A::None, nullptr,     {}},
    {T::TQ2_0,   QKV_QUANT(tq2_0),        kNoImatrix,    A::None, nullptr,     {}},
    {T::MXFP4,   QKV_QUANT(mxfp4),        kNoImatrix,    A::None, nullptr,     {}},
    {T::NVFP4,   QKV_SIZE_ONLY},
    {T::Q1_0,    QKV_SIZE_ONLY},
    {T::Q2_0,    QKV_SIZE_ONLY},
};
// clang-format on

#undef QKV_QUANT
#undef QKV_FLOAT
#undef QKV_REF_ONLY
#undef QKV_READ_ONLY
#undef QKV_SIZE_ONLY
#undef QKV_SIMD
#undef QKV_AVX2
#undef QKV_AVX512
#undef QKV_AVX512_BF16
#undef QKV_VNNI

}  // namespace

std::span<const TypeTraits> all_traits() { return kTraits; }

const TypeTraits* find_traits(TensorType t) {
  for (const TypeTraits& k : kTraits)
    if (k.type == t) return &k;
  return nullptr;
}

}  // namespace qkv
