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
// The activation blocks are ggml's block_q8_0, block_q8_1 and block_q8_K
// (quant/blocks.h), as are the weight blocks; which kernels and activation
// format each weight type has is the traits table's (quant/traits.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "qkv/fp16.h"
#include "qkv/types.h"

namespace qkv::ops {

// Which activation format a weight type's dot product consumes; None: not
// supported (the caller dequantizes the weights instead).
// F16: the values rounded to fp16, as llama.cpp rounds F16 products' inputs,
// but stored widened to float32, so the kernels widen only the weights.
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
// Up to tile_rows weight rows against up to tile_tokens tokens: y[t * ldy + r]
// for r < n_rows, t < n_tokens, each with the bits of `one` for that row and
// token. A row is read in chunks of tile_chunk elements: chunk c of row r at
// w + r * row_step + c * chunk_step. Plain rows: row_step is the row's size
// and chunk_step the chunk's (2 * tile_chunk bytes). Interleaved rows
// (repack.h: chunk c of 8 rows side by side): row_step is the chunk's size and
// chunk_step 8 chunks, so a tile reads one stream; those rows hold whole
// chunks only (a plain row's tail past its last chunk is read after it).
// Float types only: their products are compute-bound, and a register tile reuses every load.
using VecDotTileFn = void (*)(const void* w, size_t row_step, size_t chunk_step, const void* a, size_t stride,
                              int n_rows, int n_tokens, int64_t n, float* y, size_t ldy);

// One SIMD implementation of a weight type's dot product.
struct VecDotVariant {
  TensorType type;
  const char* isa;     // "avx2", "avx512_vnni"
  VecDotFn one;        // one token
  VecDotRowsFn rows;   // several tokens, or nullptr (loop over `one`)
  int max_tokens;      // what `rows` takes per call
  VecDotTileFn tile = nullptr;  // a tile of rows x tokens, or nullptr
  int tile_rows = 0, tile_tokens = 0;
  int tile_chunk = 0;  // elements per chunk of a row
};
// Every SIMD variant for `type` that this CPU can run, fastest last (tests
// hold each one to the reference, and its `rows` to its `one`).
std::vector<VecDotVariant> vec_dot_variants(TensorType type);
// The fastest of them, or nullptr (the reference serves).
const VecDotVariant* vec_dot_best(TensorType type);

// Block fields that the reference and the SIMD kernels both decode.
namespace detail {

inline float load_half(const uint8_t* p) { return fp16_to_fp32(static_cast<uint16_t>(p[0] | p[1] << 8)); }

}  // namespace detail
}  // namespace qkv::ops
