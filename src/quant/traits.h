// One row per tensor type of the type table (qkv/types.h), saying everything
// QKV Core can do with the type and which kernels do it: quantize and
// dequantize (reference and fast), whether the quantizer uses an imatrix, and
// the dot products of runtime/vec_dot.h (the activation format they pair with,
// the scalar reference, the SIMD variants and what each needs of the CPU).
//
// The code dispatches through this table (quant.h's entry points, vec_dot.h's
// lookups) and the tests iterate it, so a new type is a row here plus its
// kernels, and a new instruction set a column plus its kernel file.
#pragma once

#include <cstdint>
#include <span>

#include "qkv/cpu.h"
#include "qkv/types.h"
#include "runtime/vec_dot.h"

namespace qkv {

// Rows of n floats to blocks and back (quant/ref.h). imatrix: n importance
// weights, or nullptr.
using QuantizeRowFn = void (*)(const float* src, void* dst, int64_t n, const float* imatrix);
using DequantizeRowFn = void (*)(const void* src, float* dst, int64_t n);

// What ggml's quantizer for a type does with an importance vector.
enum class ImatrixUse : uint8_t {
  Ignored,   // the same bytes with or without one
  Optional,  // honoured when given
  Required,  // ggml refuses to quantize without one (IQ2_XXS, IQ2_XS, IQ1_S)
};

// A SIMD dot product (runtime/vec_dot_kernels.h) and the CPU feature it needs.
struct SimdDot {
  bool CpuFeatures::*needs = nullptr;
  const ops::VecDotVariant* variant = nullptr;  // nullptr: an empty slot
};
inline constexpr int kMaxSimdDots = 2;  // instruction sets per type

struct TypeTraits {
  TensorType type;
  // quant/ref.h and quant/fast.h; the fast ones equal the references bit for
  // bit. nullptr: we cannot (quantize_*: types we read but do not write).
  QuantizeRowFn quantize_ref, quantize_fast;
  DequantizeRowFn dequantize_ref, dequantize_fast;
  ImatrixUse imatrix;
  // The activation format of its dot products (None: it has none, and matmul
  // dequantizes the weights), their scalar reference, and their SIMD variants,
  // slowest first.
  ops::ActType act;
  ops::VecDotFn dot_ref;
  SimdDot dots[kMaxSimdDots];

  // Block size and bytes.
  const TypeInfo& info() const { return type_info(type); }
};

// Every type of all_types(), in the same order.
std::span<const TypeTraits> all_traits();
// nullptr for a value that is not a known type.
const TypeTraits* find_traits(TensorType t);

}  // namespace qkv
