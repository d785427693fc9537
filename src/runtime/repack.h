// Row-interleaved weights for the matrix products (done at load time).
//
// A matrix of Q4_0, Q8_0 or K-quant (Q2_K .. Q6_K) rows is regrouped so that
// 16 rows sit side by side, block by block: one 512-bit vpdpbusd computes a 4-element
// integer dot product for all 16 rows at once against a broadcast
// activation quad, and the outputs land in the lanes, with no horizontal
// sums. The float arithmetic per row is exactly that of the AVX-512
// row-at-a-time kernels (vec_dot_avx512.cpp): each block's integer total
// times d_w d_a, added into one float in block order. So a repacked product
// gives each output the bits vec_dot gives for its plain row, whatever the
// batch; the test holds it to that.
//
// Layout per group of 16 rows, for each 32-element block b in order:
//   Q4_0  d: 16 x fp16, then 4 x 64 bytes: in chunk p, byte 4r + i holds
//         element 8p + i of row r in its low nibble and 8p + 4 + i in its high.
//   Q8_0  d: 16 x fp16, then 8 x 64 bytes: in chunk g, byte 4r + i holds element 4g + i of row r.
//   Q4_K  per 256-element super-block: d, then dmin: 16 x fp16 each; the 8
//         scales, then the 8 mins, unpacked to bytes: [8][16] each; then 32 x 64
//         bytes: in chunk p, byte 4r + i holds element 4p + i of row r in its
//         low nibble and 128 + 4p + i in its high (2368 bytes, 2.8% more than plain).
//   Q5_K  as Q4_K, with 8 more 64-byte chunks of fifth bits: in chunk f, bit k of
//         byte 4r + i is that of element 4(f + 8k) + i (k < 4), 128 + 4(f + 8(k - 4)) + i
//         (chunk f sits before nibble chunk f; 2880 bytes, 2.3% more than plain).
//   Q2_K  per super-block: d, dmin: 16 x fp16 each; the packed scale|min bytes
//         [16][16]; 16 x 64 bytes: in chunk c, bits 2m, 2m + 1 of byte 4r + i hold
//         element 4(c + 16m) + i (as large as plain).
//   Q3_K  per super-block: d; the 16 scales unpacked to int8 [16][16]; the 2-bit
//         levels as Q2_K's, and 8 chunks of high bits (bit k of byte 4r + i:
//         element 4(h + 8k) + i), chunk h before 2-bit chunk h (3.6% more than plain).
//   Q6_K  per super-block: d: 16 x fp16; the 16 scales: [16][16] bytes; then for
//         h < 16, three 64-byte chunks, byte 4r + i of each for row r: the top 2
//         bits of elements 4(h + 16k) + i in bits 2k, 2k + 1; the low 4 bits of
//         elements 4h + i | 128 + 4h + i; those of 64 + 4h + i | 192 + 4h + i.
//         (One stream through memory; as large as plain.)
//   F16, BF16  (the register tiles of vec_dot_avx512.cpp) each tile's rows (8 for
//         F16, 4 for BF16), chunk by chunk of 16 F16 / 32 BF16 values: chunk c
//         of those rows side by side, so a tile reads one stream (as large as
//         plain). The tiles' arithmetic per output does not change with the layout.
// Rows past the last whole group stay plain.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "qkv/model.h"

namespace qkv::ops {

inline constexpr int kInterleave = 16;
inline constexpr size_t kQ4KGroupBlockBytes = 64 + 2 * 128 + 32 * 64;
inline constexpr size_t kQ5KGroupBlockBytes = kQ4KGroupBlockBytes + 8 * 64;
// Where nibble chunk p (and Q5_K's fifth-bit chunk f < 8, placed before
// nibble chunk f so that a group is read as one stream) start in a group's super-block.
constexpr size_t q45_K_nibbles(bool fifth, int p) { return 320 + 64 * p + (fifth ? 64 * (p < 8 ? p + 1 : 8) : 0); }
constexpr size_t q5_K_fifth(int f) { return 320 + 128 * f; }
inline constexpr size_t kQ2KGroupBlockBytes = 64 + 256 + 16 * 64;
inline constexpr size_t kQ3KGroupBlockBytes = 32 + 256 + 16 * 64 + 8 * 64;
// Q2_K / Q3_K: where 2-bit chunk c and Q3_K's high-bit chunk h (before 2-bit chunk h) start.
constexpr size_t low_K_levels_at(bool q3, int c) { return q3 ? 288 + 64 * c + 64 * (c < 8 ? c + 1 : 8) : 320 + 64 * c; }
constexpr size_t q3_K_high_at(int h) { return 288 + 128 * h; }
inline constexpr size_t kQ6KGroupBlockBytes = 32 + 256 + 32 * 64 + 16 * 64;

// Whether this CPU has a kernel for w's type in interleaved form and w has a whole group.
bool can_interleave(const Weight& w);

// The first rows / 16 * 16 rows of w, interleaved (64-byte aligned).
std::shared_ptr<uint8_t> interleave(const Weight& w);

// y[t * ldy + r] for the interleaved rows r < groups * 16 and tokens t < T,
// from activations already in Q8_0 (ab bytes per token). Quantized types only:
// the float tiles read interleaved rows themselves (ops.cpp).
void matmul_interleaved(const Weight& w, const uint8_t* acts, size_t ab, int64_t T, float* y, int64_t ldy,
                        int64_t group_begin, int64_t group_end);

}  // namespace qkv::ops
