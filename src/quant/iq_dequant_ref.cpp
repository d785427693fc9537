// Dequantization of the codebook ("IQ") formats IQ1_S, IQ1_M, IQ2_XXS,
// IQ2_XS, IQ2_S, IQ3_XXS and IQ3_S, so every GGUF llama.cpp writes can be
// read. Each 256-element super-block holds a fp16 scale, small per-32 or
// per-16 scales, codebook indices (iq_grids.h) and sign bits. The float
// operations follow ggml's order exactly: results are bit-identical. The
// block layouts are in quant/blocks.h.
#include "qkv/fp16.h"
#include "quant/blocks.h"
#include "quant/iq_grids.h"
#include "quant/ref.h"
#include "quant/ref_common.h"

namespace qkv::quant {
namespace {

using detail::load_half;
using detail::load_u16;
using detail::load_u32;

constexpr float kIq1Delta = 0.125f;

// Sign patterns: 7 stored bits, the 8th chosen so the number of minus signs is even.
uint8_t ksigns(uint32_t seven_bits) {
  return static_cast<uint8_t>(seven_bits | (__builtin_popcount(seven_bits) & 1) << 7);
}
float sign_of(uint8_t signs, int j) { return (signs >> j) & 1 ? -1.f : 1.f; }

}  // namespace

void dequantize_row_iq2_xxs_ref(const void* src, float* y, int64_t n) {
  const auto* b = static_cast<const block_iq2_xxs*>(src);
  for (int64_t i = 0; i < n / QK_K; ++i, ++b) {
    const float d = load_half(b->d);
    for (int ib = 0; ib < 8; ++ib) {
      const uint32_t idx = load_u32(b->qs + 8 * ib), meta = load_u32(b->qs + 8 * ib + 4);
      const float db = d * (0.5f + static_cast<float>(meta >> 28)) * 0.25f;
      for (int l = 0; l < 4; ++l) {
        const uint8_t* g = iq2xxs_grid[(idx >> (8 * l)) & 255];
        const uint8_t s = ksigns((meta >> (7 * l)) & 127);
        for (int j = 0; j < 8; ++j) *y++ = db * g[j] * sign_of(s, j);
      }
    }
  }
}

void dequantize_row_iq2_xs_ref(const void* src, float* y, int64_t n) {
  const auto* b = static_cast<const block_iq2_xs*>(src);
  for (int64_t i = 0; i < n / QK_K; ++i, ++b) {
    const float d = load_half(b->d);
    for (int ib = 0; ib < 8; ++ib) {
      const uint8_t sc = b->scales[ib];
      const float db[2] = {d * (0.5f + (sc & 0xf)) * 0.25f, d * (0.5f + (sc >> 4)) * 0.25f};
      for (int l = 0; l < 4; ++l) {
        const uint16_t q = load_u16(b->qs + 2 * (4 * ib + l));
        const uint8_t* g = iq2xs_grid[q & 511];
        const uint8_t s = ksigns(q >> 9);
        for (int j = 0; j < 8; ++j) *y++ = db[l / 2] * g[j] * sign_of(s, j);
      }
    }
  }
}

void dequantize_row_iq2_s_ref(const void* src, float* y, int64_t n) {
  const auto* b = static_cast<const block_iq2_s*>(src);
  for (int64_t i = 0; i < n / QK_K; ++i, ++b) {
    const float d = load_half(b->d);
    const uint8_t *qs = b->qs, *signs = b->signs, *qh = b->qh, *scales = b->scales;
    for (int ib = 0; ib < 8; ++ib) {
      const float db[2] = {d * (0.5f + (scales[ib] & 0xf)) * 0.25f, d * (0.5f + (scales[ib] >> 4)) * 0.25f};
      for (int l = 0; l < 4; ++l) {
        const uint8_t* g = iq2s_grid[qs[4 * ib + l] | ((qh[ib] << (8 - 2 * l)) & 0x300)];
        for (int j = 0; j < 8; ++j) *y++ = db[l / 2] * g[j] * sign_of(signs[4 * ib + l], j);
      }
    }
  }
}

void dequantize_row_iq3_xxs_ref(const void* src, float* y, int64_t n) {
  const auto* b = static_cast<const block_iq3_xxs*>(src);
  for (int64_t i = 0; i < n / QK_K; ++i, ++b) {
    const float d = load_half(b->d);
    const uint8_t *qs = b->qs, *scales_and_signs = b->scales_signs;
    for (int ib = 0; ib < 8; ++ib) {
      const uint32_t meta = load_u32(scales_and_signs + 4 * ib);
      const float db = d * (0.5f + static_cast<float>(meta >> 28)) * 0.5f;
      for (int l = 0; l < 4; ++l) {
        const uint8_t s = ksigns((meta >> (7 * l)) & 127);
        const uint8_t* g1 = iq3xxs_grid[qs[8 * ib + 2 * l]];
        const uint8_t* g2 = iq3xxs_grid[qs[8 * ib + 2 * l + 1]];
        for (int j = 0; j < 4; ++j) y[j] = db * g1[j] * sign_of(s, j);
        for (int j = 0; j < 4; ++j) y[j + 4] = db * g2[j] * sign_of(s, j + 4);
        y += 8;
      }
    }
  }
}

void dequantize_row_iq3_s_ref(const void* src, float* y, int64_t n) {
  const auto* b = static_cast<const block_iq3_s*>(src);
  for (int64_t i = 0; i < n / QK_K; ++i, ++b) {
    const float d = load_half(b->d);
    const uint8_t *qs = b->qs, *qh = b->qh, *signs = b->signs, *scales = b->scales;
    for (int ib = 0; ib < 8; ++ib) {
      const float db = d * static_cast<float>(1 + 2 * ((scales[ib / 2] >> (4 * (ib % 2))) & 0xf));
      for (int l = 0; l < 4; ++l) {
        const uint8_t* g1 = iq3s_grid[qs[8 * ib + 2 * l] | ((qh[ib] << (8 - 2 * l)) & 256)];
        const uint8_t* g2 = iq3s_grid[qs[8 * ib + 2 * l + 1] | ((qh[ib] << (7 - 2 * l)) & 256)];
        const uint8_t s = signs[4 * ib + l];
        for (int j = 0; j < 4; ++j) y[j] = db * g1[j] * sign_of(s, j);
        for (int j = 0; j < 4; ++j) y[j + 4] = db * g2[j] * sign_of(s, j + 4);
        y += 8;
      }
    }
  }
}

void dequantize_row_iq1_s_ref(const void* src, float* y, int64_t n) {
  const auto* b = static_cast<const block_iq1_s*>(src);
  for (int64_t i = 0; i < n / QK_K; ++i, ++b) {
    const float d = load_half(b->d);
    for (int ib = 0; ib < 8; ++ib) {
      const uint16_t qh = load_u16(b->qh + 2 * ib);
      const float dl = d * static_cast<float>(2 * ((qh >> 12) & 7) + 1);
      const float delta = qh & 0x8000 ? -kIq1Delta : kIq1Delta;
      for (int l = 0; l < 4; ++l) {
        const int8_t* g = iq1s_grid[b->qs[4 * ib + l] | (((qh >> (3 * l)) & 7) << 8)];
        for (int j = 0; j < 8; ++j) *y++ = dl * (g[j] + delta);
      }
    }
  }
}

void dequantize_row_iq1_m_ref(const void* src, float* y, int64_t n) {
  const auto* b = static_cast<const block_iq1_m*>(src);
  for (int64_t i = 0; i < n / QK_K; ++i, ++b) {
    const uint8_t *qs = b->qs, *qh = b->qh;
    uint16_t sc[4];
    for (int k = 0; k < 4; ++k) sc[k] = load_u16(b->scales + 2 * k);
    // The fp16 super-block scale is spread over the top nibbles of the four scale words.
    const float d = fp16_to_fp32(static_cast<uint16_t>((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) |
                                                       ((sc[2] >> 4) & 0x0f00) | (sc[3] & 0xf000)));
    for (int ib = 0; ib < 8; ++ib) {
      const int shift = 6 * (ib % 2);
      const float dl[2] = {d * static_cast<float>(2 * ((sc[ib / 2] >> shift) & 7) + 1),
                           d * static_cast<float>(2 * ((sc[ib / 2] >> (shift + 3)) & 7) + 1)};
      for (int l = 0; l < 4; ++l) {
        const uint8_t h = qh[2 * ib + l / 2];
        const int index = qs[4 * ib + l] | ((h << (l % 2 ? 4 : 8)) & 0x700);
        const float delta = h & (l % 2 ? 0x80 : 0x08) ? -kIq1Delta : kIq1Delta;
        const int8_t* g = iq1s_grid[index];
        for (int j = 0; j < 8; ++j) *y++ = dl[l / 2] * (g[j] + delta);
      }
    }
  }
}

}  // namespace qkv::quant
