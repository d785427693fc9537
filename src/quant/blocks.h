// The block layouts of the GGUF quantized types: ggml-common.h's block_<t>
// structs, byte for byte, and the decoders of the packed sub-block scales that
// several kernels read. This header is the one place those facts live; the
// quantizers (src/quant), the dot kernels and the interleavers (src/runtime)
// take sizes from sizeof(block_<t>) and field positions from offsetof.
//
// Every field is an array of bytes (multi-byte fields are little-endian, their
// meaning in the comment: "half" is ggml_half, IEEE fp16), so a struct has no
// padding, alignment 1, and may overlay a block at any address. The names are
// ggml's, so that a field can be looked up in ggml-common.h and ggml-quants.c.
// The element counts per block are those of the type table (qkv/types.h).
//
// Header only, integer code only: the scalar helpers below are shared by
// src/quant (compiled with -ffp-contract=off) and src/runtime alike.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace qkv {

inline constexpr int QK = 32;     // elements of a legacy block (Q4_0 .. Q8_1, IQ4_NL, MXFP4)
inline constexpr int QK_K = 256;  // elements of a super-block (the K-quants, IQ, TQ)

// ---- 32-element blocks --------------------------------------------------------
// Nibble j of qs[16] holds element j in its low half and element j + 16 in its
// high half; where there is a qh, bit j of it (a little-endian uint32) is the
// fifth bit of element j.

struct block_q4_0 {  // x = d * (q - 8)
  uint8_t d[2];      // half
  uint8_t qs[QK / 2];
};
struct block_q4_1 {    // x = d * q + m
  uint8_t d[2], m[2];  // half
  uint8_t qs[QK / 2];
};
struct block_q5_0 {  // x = d * (q - 16)
  uint8_t d[2];      // half
  uint8_t qh[4];
  uint8_t qs[QK / 2];
};
struct block_q5_1 {    // x = d * q + m
  uint8_t d[2], m[2];  // half
  uint8_t qh[4];
  uint8_t qs[QK / 2];
};
// The legacy block with kBits-bit levels (4 or 5) and, with kHasMin, an
// offset m: code shared by the four types takes its layout from this.
template <int kBits, bool kHasMin>
using legacy_block_t = std::conditional_t<kBits == 4, std::conditional_t<kHasMin, block_q4_1, block_q4_0>,
                                          std::conditional_t<kHasMin, block_q5_1, block_q5_0>>;

struct block_q8_0 {  // x = d * q; also the activation format of Q4_0, Q5_0, Q8_0, IQ4_NL
  uint8_t d[2];      // half
  int8_t qs[QK];
};
struct block_q8_1 {    // activations only: x = d * q, s = d * sum(q) (for Q4_1, Q5_1)
  uint8_t d[2], s[2];  // half
  int8_t qs[QK];
};
struct block_iq4_nl {  // x = d * kIq4nlValues[q]
  uint8_t d[2];        // half
  uint8_t qs[QK / 2];
};
struct block_mxfp4 {  // x = E2M1(q) * 2^(e - 127)
  uint8_t e;          // E8M0 shared exponent
  uint8_t qs[QK / 2];
};

// ---- 256-element super-blocks ---------------------------------------------------
// The K-quants: sub-blocks of 16 or 32 elements whose scales (and mins) are
// quantized to a few bits against the super-block's half d (and dmin). See
// kquants_ref.cpp for which element sits in which bits.

struct block_q2_K {           // x = d * (sc & 15) * q - dmin * (sc >> 4), per 16 elements
  uint8_t scales[QK_K / 16];  // 4-bit scale | 4-bit min << 4
  uint8_t qs[QK_K / 4];       // 2-bit levels
  uint8_t d[2], dmin[2];      // half
};
struct block_q3_K {         // x = d * scale * (q - 4 * !hbit), per 16 elements
  uint8_t hmask[QK_K / 8];  // the third bit of each level
  uint8_t qs[QK_K / 4];     // the low 2 bits
  uint8_t scales[12];       // 16 six-bit scales, biased by 32: unpack_scales_q3_K
  uint8_t d[2];             // half
};
struct block_q4_K {       // x = d * scale * q - dmin * min, per 32 elements
  uint8_t d[2], dmin[2];  // half
  uint8_t scales[12];     // 8 six-bit scales and 8 mins: unpack_scales_mins_k4
  uint8_t qs[QK_K / 2];   // 4-bit levels
};
struct block_q5_K {       // as Q4_K with a fifth bit per level
  uint8_t d[2], dmin[2];  // half
  uint8_t scales[12];     // as Q4_K's
  uint8_t qh[QK_K / 8];   // the fifth bits
  uint8_t qs[QK_K / 2];   // the low 4 bits
};
struct block_q6_K {      // x = d * scale * (q - 32), per 16 elements
  uint8_t ql[QK_K / 2];  // the low 4 bits
  uint8_t qh[QK_K / 4];  // the top 2 bits
  int8_t scales[QK_K / 16];
  uint8_t d[2];  // half
};
struct block_q8_K {  // activations only, for the K-quants and IQ4_XS: x = d * q
  uint8_t d[4];      // float
  int8_t qs[QK_K];
  uint8_t bsums[QK_K / 16 * 2];  // int16[16]: the sums of each 16 levels
};
struct block_iq4_xs {           // x = d * (scale - 32) * kIq4nlValues[q], per 32 elements
  uint8_t d[2];                 // half
  uint8_t scales_h[2];          // uint16: the top 2 bits of the 8 six-bit scales (iq4_xs_scale)
  uint8_t scales_l[QK_K / 64];  // their low nibbles
  uint8_t qs[QK_K / 2];         // 8 IQ4_NL-style groups of 16 bytes
};

// The ternary formats (see ternary_ref.cpp for the packing): x = d * {-1, 0, +1}.
struct block_tq1_0 {
  uint8_t qs[(QK_K - 4 * QK_K / 64) / 5];  // 5 trits per byte
  uint8_t qh[QK_K / 64];                   // 4 trits per byte
  uint8_t d[2];                            // half
};
struct block_tq2_0 {
  uint8_t qs[QK_K / 4];  // 2 bits per trit
  uint8_t d[2];          // half
};

// The codebook formats, read only (iq_dequant_ref.cpp).
struct block_iq2_xxs {
  uint8_t d[2];              // half
  uint8_t qs[QK_K / 8 * 2];  // uint16[32]: grid indices, signs and scales
};
struct block_iq2_xs {
  uint8_t d[2];              // half
  uint8_t qs[QK_K / 8 * 2];  // uint16[32]: 9-bit grid index | 7 sign bits << 9
  uint8_t scales[QK_K / 32];
};
struct block_iq2_s {
  uint8_t d[2];             // half
  uint8_t qs[QK_K / 8];     // grid indices, low 8 bits
  uint8_t signs[QK_K / 8];  // (ggml: the second half of qs[QK_K / 4])
  uint8_t qh[QK_K / 32];    // grid indices, top 2 bits
  uint8_t scales[QK_K / 32];
};
struct block_iq3_xxs {
  uint8_t d[2];                    // half
  uint8_t qs[QK_K / 4];            // grid indices
  uint8_t scales_signs[QK_K / 8];  // (ggml: the last quarter of qs[3 * QK_K / 8])
};
struct block_iq3_s {
  uint8_t d[2];  // half
  uint8_t qs[QK_K / 4];
  uint8_t qh[QK_K / 32];
  uint8_t signs[QK_K / 8];
  uint8_t scales[QK_K / 64];
};
struct block_iq1_s {
  uint8_t d[2];  // half
  uint8_t qs[QK_K / 8];
  uint8_t qh[QK_K / 32 * 2];  // uint16[8]
};
struct block_iq1_m {  // its half d is spread over the top nibbles of scales
  uint8_t qs[QK_K / 8];
  uint8_t qh[QK_K / 16];
  uint8_t scales[QK_K / 32];  // uint16[4]
};

// The sizes ggml-common.h asserts (src/core/types.cpp pins the same numbers).
static_assert(sizeof(block_q4_0) == 18 && sizeof(block_q4_1) == 20 && sizeof(block_q5_0) == 22 &&
              sizeof(block_q5_1) == 24 && sizeof(block_q8_0) == 34 && sizeof(block_q8_1) == 36);
static_assert(sizeof(block_iq4_nl) == 18 && sizeof(block_mxfp4) == 17);
static_assert(sizeof(block_q2_K) == 84 && sizeof(block_q3_K) == 110 && sizeof(block_q4_K) == 144 &&
              sizeof(block_q5_K) == 176 && sizeof(block_q6_K) == 210 && sizeof(block_q8_K) == 292);
static_assert(sizeof(block_iq4_xs) == 136 && sizeof(block_tq1_0) == 54 && sizeof(block_tq2_0) == 66);
static_assert(sizeof(block_iq2_xxs) == 66 && sizeof(block_iq2_xs) == 74 && sizeof(block_iq2_s) == 82 &&
              sizeof(block_iq3_xxs) == 98 && sizeof(block_iq3_s) == 110 && sizeof(block_iq1_s) == 50 &&
              sizeof(block_iq1_m) == 56);

// ---- packed sub-block scales ------------------------------------------------------

// Q4_K / Q5_K: 8 six-bit scales and 8 six-bit mins in 12 bytes (ggml's
// get_scale_min_k4): bytes 0..3 hold scales 0..3, bytes 4..7 mins 0..3, each
// with 2 spare bits that carry the top bits of scales / mins 4..7, whose low
// nibbles sit in bytes 8..11.
inline void unpack_scales_mins_k4(const uint8_t* p, uint8_t* scales, uint8_t* mins) {
  for (int j = 0; j < 4; ++j) {
    scales[j] = p[j] & 63;
    mins[j] = p[j + 4] & 63;
    scales[j + 4] = static_cast<uint8_t>((p[j + 8] & 0xF) | (p[j] >> 6) << 4);
    mins[j + 4] = static_cast<uint8_t>((p[j + 8] >> 4) | (p[j + 4] >> 6) << 4);
  }
}
// Its inverse, for six-bit values (like ggml's quantizers, it does not mask them).
inline void pack_scales_mins_k4(const uint8_t* scales, const uint8_t* mins, uint8_t* p) {
  for (int j = 0; j < 4; ++j) {
    p[j] = static_cast<uint8_t>(scales[j] | (scales[j + 4] >> 4) << 6);
    p[j + 4] = static_cast<uint8_t>(mins[j] | (mins[j + 4] >> 4) << 6);
    p[j + 8] = static_cast<uint8_t>((scales[j + 4] & 0xF) | (mins[j + 4] & 0xF) << 4);
  }
}

// Q3_K: 16 six-bit scales in 12 bytes, stored biased by 32: the low nibbles of
// scales 0..7 then 8..15 share bytes 0..7 (low, high nibble); the top 2 bits
// of scale j sit at bit 2 (j / 4) of byte 8 + j % 4. Unpacked without the bias.
inline void unpack_scales_q3_K(const uint8_t* p, int8_t* scales) {
  for (int j = 0; j < 16; ++j) {
    const int low = j < 8 ? p[j] & 0xF : p[j - 8] >> 4;
    const int high = (p[8 + j % 4] >> (2 * (j / 4))) & 3;
    scales[j] = static_cast<int8_t>((low | high << 4) - 32);
  }
}
// Its inverse, for scales already biased (0..63).
inline void pack_scales_q3_K(const int8_t* biased, uint8_t* p) {
  for (int j = 0; j < 12; ++j) p[j] = 0;
  for (int j = 0; j < 16; ++j) {
    const int l = biased[j];
    if (j < 8)
      p[j] = static_cast<uint8_t>(l & 0xF);
    else
      p[j - 8] |= static_cast<uint8_t>((l & 0xF) << 4);
    p[8 + j % 4] |= static_cast<uint8_t>((l >> 4) << (2 * (j / 4)));
  }
}

// IQ4_NL / IQ4_XS: the 16 levels a 4-bit index selects (ggml's kvalues_iq4nl).
inline constexpr int8_t kIq4nlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

// IQ4_XS: the 6-bit scale (biased by 32) of 32-element group ib of block b:
// its low nibble from scales_l, its top 2 bits from scales_h.
inline int iq4_xs_scale(const block_iq4_xs& b, int ib) {
  const int scales_h = b.scales_h[0] | b.scales_h[1] << 8;
  return ((b.scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF) | ((scales_h >> (2 * ib)) & 3) << 4;
}

}  // namespace qkv
