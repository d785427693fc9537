// Dot products of quantized weight rows with quantized activations, the way
// ggml-cpu computes a matrix-vector product: the activations (one token's input
// vector) are converted once into a format paired with the weight type (8-bit
// blocks for the quantized types, fp16 / bf16 for the 16-bit ones), and each
// output is then an integer dot product per block, scaled by the two blocks'
// scales. This is what llama.cpp does, so our logits follow its rounding, and
// it reads the weights in their compact form.
//
// Every kernel has a scalar reference (vec_dot_ref.cpp, the arithmetic of
// ggml's ggml_vec_dot_<w>_<a>_generic) and may have SIMD fast paths
// (vec_dot_avx2.cpp, vec_dot_avx512.cpp) chosen at run time. Integer parts are exact in all of
// them; only the order of the float additions differs.
//
// Activation block layouts (little-endian, as in ggml-common.h):
//   Q8_0  d:half, qs:int8[32]                         x = d * q
//   Q8_1  d:half, s:half, qs:int8[32]                 x = d * q, s = d * sum(q)
//   Q8_K  d:float, qs:int8[256], bsums:int16[16]      x = d * q, bsums: sums of 16 q
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "qkv/fp16.h"
#include "qkv/types.h"

namespace qkv::ops {

// Which activation format a weight type's dot product consumes; None: not
// supported (the caller dequantizes the weights instead).
enum class ActType { None, F32, F16, BF16, Q8_0, Q8_1, Q8_K };
ActType act_type_for(TensorType weight);

// Quantize n activations into the format (activation_row_bytes(t, n) bytes).
// n must be a whole number of the format's blocks. Rounding follows
// llama.cpp's x86 CPU backend (quantize_act.cpp says where that differs from
// ggml's scalar reference).
void quantize_activations(ActType t, const float* x, void* out, int64_t n);
size_t activation_row_bytes(ActType t, int64_t n);

// dot(weight row w (n elements stored as `type`), activations a, already in
// act_type_for(type)). Throws (Unsupported) for a type without a kernel.
float vec_dot(TensorType type, const void* w, const void* a, int64_t n);

using VecDotFn = float (*)(const void* w, const void* a, int64_t n);

// The kernel vec_dot uses for `type` (the fastest this CPU runs); nullptr
// when act_type_for(type) is None. Resolve it once per matrix, not per row.
VecDotFn vec_dot_kernel(TensorType type);

// The scalar reference for `type` (nullptr when none): vec_dot_ref.cpp.
VecDotFn vec_dot_reference(TensorType type);

// One weight row against several tokens' activations at once: out[t] =
// dot(w, a + t * stride) for t < n_tokens (1..max_tokens of its variant).
// Each weight block is unpacked once for all of them, which is what makes a
// batch or a prompt cheaper per token than generation; every out[t] has
// exactly the bits of the same variant's one-token kernel for that row alone.
inline constexpr int kMaxDotTokens = 8;  // the most any variant takes
using VecDotRowsFn = void (*)(const void* w, const void* a, size_t stride, int n_tokens, int64_t n, float* out);
// Up to tile_rows weight rows (w_stride bytes apart) against up to
// tile_tokens tokens: y[t * ldy + r] for r < n_rows, t < n_tokens, each with
// the bits of `one` for that row and token. Float types only: their products
// are compute-bound, and a register tile reuses every load.
using VecDotTileFn = void (*)(const void* w, size_t w_stride, const void* a, size_t stride, int n_rows, int n_tokens,
                              int64_t n, float* y, size_t ldy);

// One SIMD implementation of a weight type's dot product.
struct VecDotVariant {
  TensorType type;
  const char* isa;     // "avx2", "avx512_vnni"
  VecDotFn one;        // one token
  VecDotRowsFn rows;   // several tokens, or nullptr (loop over `one`)
  int max_tokens;      // what `rows` takes per call
  VecDotTileFn tile = nullptr;  // a tile of rows x tokens, or nullptr
  int tile_rows = 0, tile_tokens = 0;
};
// Every SIMD variant for `type` that this CPU can run, fastest last (tests
// hold each one to the reference, and its `rows` to its `one`).
std::vector<VecDotVariant> vec_dot_variants(TensorType type);
// The fastest of them, or nullptr (the reference serves).
const VecDotVariant* vec_dot_best(TensorType type);

// Per instruction set (vec_dot_avx2.cpp, vec_dot_avx512.cpp): nullptr for a
// type without a kernel there or a CPU without the instructions (qkv/cpu.h).
const VecDotVariant* vec_dot_avx2(TensorType type);
const VecDotVariant* vec_dot_avx512(TensorType type);

// Block fields that the reference and the SIMD kernels both decode.
namespace detail {

inline float load_half(const uint8_t* p) { return fp16_to_fp32(static_cast<uint16_t>(p[0] | p[1] << 8)); }

// Q4_K / Q5_K: 8 six-bit scales and 8 six-bit mins packed into 12 bytes
// (ggml's get_scale_min_k4): bytes 0..3 hold scales 0..3, bytes 4..7 mins
// 0..3, each with 2 spare bits that carry the top bits of scales / mins 4..7,
// whose low nibbles sit in bytes 8..11.
inline void k4_scales_mins(const uint8_t* p, uint8_t* scales, uint8_t* mins) {
  for (int j = 0; j < 4; ++j) {
    scales[j] = p[j] & 63;
    mins[j] = p[j + 4] & 63;
    scales[j + 4] = static_cast<uint8_t>((p[j + 8] & 0xF) | (p[j] >> 6) << 4);
    mins[j + 4] = static_cast<uint8_t>((p[j + 8] >> 4) | (p[j + 4] >> 6) << 4);
  }
}

// Q3_K: 16 six-bit scales in 12 bytes, stored biased by 32: the low nibbles of
// scales 0..7 then 8..15 share bytes 0..7, the top 2 bits come from bytes 8..11.
inline void q3_K_scales(const uint8_t* p, int8_t* scales) {
  for (int j = 0; j < 16; ++j) {
    const int low = j < 8 ? p[j] & 0xF : p[j - 8] >> 4;
    const int high = (p[8 + j % 4] >> (2 * (j / 4))) & 3;
    scales[j] = static_cast<int8_t>((low | high << 4) - 32);
  }
}

// IQ4_NL / IQ4_XS: the 16 levels a 4-bit index selects (ggml's kvalues_iq4nl).
inline constexpr int8_t kIq4nlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

// IQ4_XS: the 6-bit scale (biased by 32) of 32-element block ib of a
// super-block: its low nibble from scales_l, its top 2 bits from scales_h.
inline int iq4_xs_scale(const uint8_t* block, int ib) {
  const int scales_h = block[2] | block[3] << 8;
  return ((block[4 + ib / 2] >> (4 * (ib % 2))) & 0xF) | ((scales_h >> (2 * ib)) & 3) << 4;
}

}  // namespace detail
}  // namespace qkv::ops
