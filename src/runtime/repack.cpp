// Interleaving Q4_0, Q8_0, the K-quants', F16 and BF16 rows (repack.h), and the
// dispatch of the interleaved products.
#include "runtime/repack.h"

#include <cstdlib>
#include <cstring>
#include <vector>

#include "qkv/cpu.h"
#include "qkv/error.h"
#include "qkv/parallel.h"
#include "quant/blocks.h"
#include "runtime/vec_dot.h"

namespace qkv::ops {

// repack_avx512.cpp. q4_0_offsets: per token and block, -8 * the sum of its
// 32 activations (Q4_0's levels are q - 8), or nullptr for the other types.
void matmul_x16_avx512(TensorType type, const uint8_t* group, int64_t blocks, const uint8_t* acts, size_t ab,
                       const int32_t* q4_0_offsets, int64_t T, float* y, int64_t ldy);

namespace {

// Elements per block, bytes per plain block, bytes per block of a group.
struct Layout {
  int64_t elems;
  size_t plain, group;
};
Layout layout(TensorType t) {
  switch (t) {
    case TensorType::Q4_0: return {QK, sizeof(block_q4_0), 32 + 4 * 64};
    case TensorType::Q8_0: return {QK, sizeof(block_q8_0), 32 + 8 * 64};
    case TensorType::Q4_K: return {QK_K, sizeof(block_q4_K), kQ4KGroupBlockBytes};
    case TensorType::Q5_K: return {QK_K, sizeof(block_q5_K), kQ5KGroupBlockBytes};
    case TensorType::Q6_K: return {QK_K, sizeof(block_q6_K), kQ6KGroupBlockBytes};
    case TensorType::Q2_K: return {QK_K, sizeof(block_q2_K), kQ2KGroupBlockBytes};
    case TensorType::Q3_K: return {QK_K, sizeof(block_q3_K), kQ3KGroupBlockBytes};
    default: return {0, 0, 0};
  }
}

// Q4_K / Q5_K: d and dmin of each row, its 8 six-bit scales and mins
// unpacked to bytes, and its nibbles four elements per row per 64-byte chunk;
// Q5_K's fifth bits in 8 more chunks, chunk j placed before nibble chunk j.
void interleave_q45_K(bool fifth, const uint8_t* src, size_t row, uint8_t* out) {
  // Q4_K and Q5_K agree on d, dmin and scales; qh is Q5_K's alone.
  static_assert(offsetof(block_q4_K, scales) == offsetof(block_q5_K, scales));
  const size_t qs = fifth ? offsetof(block_q5_K, qs) : offsetof(block_q4_K, qs);
  for (int r = 0; r < kInterleave; ++r) {
    const uint8_t* b = src + r * row;
    std::memcpy(out + 2 * r, b + offsetof(block_q4_K, d), 2);
    std::memcpy(out + 32 + 2 * r, b + offsetof(block_q4_K, dmin), 2);
    uint8_t scales[8], mins[8];
    unpack_scales_mins_k4(b + offsetof(block_q4_K, scales), scales, mins);
    for (int s = 0; s < 8; ++s) out[64 + 16 * s + r] = scales[s], out[192 + 16 * s + r] = mins[s];
    // Element 64 j + i is the low nibble of qs[32 j + i], 64 j + 32 + i its high
    // nibble; Q5_K's fifth bits are bits 2 j and 2 j + 1 of qh[i].
    int e[256];
    for (int j = 0; j < 4; ++j)
      for (int i = 0; i < 32; ++i) {
        const int q = b[qs + 32 * j + i], h = fifth ? b[offsetof(block_q5_K, qh) + i] : 0;
        e[64 * j + i] = (q & 0xF) | ((h >> (2 * j)) & 1) << 4;
        e[64 * j + 32 + i] = (q >> 4) | ((h >> (2 * j + 1)) & 1) << 4;
      }
    for (int p = 0; p < 32; ++p)
      for (int i = 0; i < 4; ++i)
        out[q45_K_nibbles(fifth, p) + 4 * r + i] = uint8_t((e[4 * p + i] & 0xF) | (e[128 + 4 * p + i] & 0xF) << 4);
    if (fifth)
      for (int f = 0; f < 8; ++f)
        for (int i = 0; i < 4; ++i) {
          int bits = 0;  // bit k: quad f + 8k (k < 4), then quad 32 + f + 8(k - 4)
          for (int k = 0; k < 4; ++k)
            bits |= (e[4 * (f + 8 * k) + i] >> 4) << k | (e[128 + 4 * (f + 8 * k) + i] >> 4) << (4 + k);
          out[q5_K_fifth(f) + 4 * r + i] = uint8_t(bits);
        }
  }
}

// Q6_K: d of each row, its 16 scales, then per h < 16 three 64-byte chunks:
// the top 2 bits of quads h, h + 16, h + 32, h + 48 (bits 0-1, 2-3, 4-5,
// 6-7), and the nibbles of quads h | h + 32 and h + 16 | h + 48 (low | high).
void interleave_q6_K(const uint8_t* src, size_t row, uint8_t* out) {
  for (int r = 0; r < kInterleave; ++r) {
    const auto& b = *reinterpret_cast<const block_q6_K*>(src + r * row);
    std::memcpy(out + 2 * r, b.d, 2);
    for (int s = 0; s < 16; ++s) out[32 + 16 * s + r] = uint8_t(b.scales[s]);
    // The row's 256 levels (0..63) in element order, as dot_q6_K in vec_dot_ref.cpp reads them.
    int e[256];
    for (int c = 0; c < 2; ++c)
      for (int j = 0; j < 32; ++j) {
        const uint8_t l0 = b.ql[64 * c + j], l1 = b.ql[64 * c + 32 + j], h = b.qh[32 * c + j];
        e[128 * c + j] = (l0 & 0xF) | (h & 3) << 4;
        e[128 * c + 32 + j] = (l1 & 0xF) | ((h >> 2) & 3) << 4;
        e[128 * c + 64 + j] = (l0 >> 4) | ((h >> 4) & 3) << 4;
        e[128 * c + 96 + j] = (l1 >> 4) | ((h >> 6) & 3) << 4;
      }
    for (int h = 0; h < 16; ++h)
      for (int i = 0; i < 4; ++i) {
        uint8_t* run = out + 288 + 192 * h + 4 * r + i;  // top bits, nibbles of quads h, h + 16
        int bits = 0;
        for (int k = 0; k < 4; ++k) bits |= (e[4 * (h + 16 * k) + i] >> 4) << (2 * k);
        run[0] = uint8_t(bits);
        for (int m = 0; m < 2; ++m) {
          const int p = h + 16 * m;
          run[64 * (1 + m)] = uint8_t((e[4 * p + i] & 0xF) | (e[128 + 4 * p + i] & 0xF) << 4);
        }
      }
  }
}

// Q2_K / Q3_K: the row's 256 levels in element order (Q2_K 0..3; Q3_K 0..7,
// q + 4 * hbit, as dot_q2_K / dot_q3_K in vec_dot_ref.cpp read them).
void low_K_levels(bool q3, const uint8_t* b, int* e) {
  const uint8_t* qs = b + (q3 ? offsetof(block_q3_K, qs) : offsetof(block_q2_K, qs));
  const uint8_t* hmask = b + offsetof(block_q3_K, hmask);
  for (int c = 0; c < 2; ++c)
    for (int g = 0; g < 4; ++g)
      for (int l = 0; l < 32; ++l) {
        const int k = 128 * c + 32 * g + l;
        e[k] = (qs[32 * c + l] >> (2 * g)) & 3;
        if (q3) e[k] |= ((hmask[l] >> (4 * c + g)) & 1) << 2;
      }
}

// Q2_K: d, dmin, the packed scale|min bytes [16][16], then 16 chunks of 2-bit
// levels: in chunk c, bits 2m, 2m + 1 of byte 4r + i are element 4(c + 16m) + i.
// Q3_K: d, the scales unpacked to int8 [16][16], then per chunk c the 2-bit
// chunk, with c < 8 preceded by high-bit chunk c: bit k of byte 4r + i is the
// high bit of element 4(c + 8k) + i.
void interleave_low_K(bool q3, const uint8_t* src, size_t row, uint8_t* out) {
  for (int r = 0; r < kInterleave; ++r) {
    const uint8_t* b = src + r * row;
    if (q3) {
      std::memcpy(out + 2 * r, b + offsetof(block_q3_K, d), 2);
      int8_t scales[16];
      unpack_scales_q3_K(b + offsetof(block_q3_K, scales), scales);
      for (int s = 0; s < 16; ++s) out[32 + 16 * s + r] = uint8_t(scales[s]);
    } else {
      std::memcpy(out + 2 * r, b + offsetof(block_q2_K, d), 2);
      std::memcpy(out + 32 + 2 * r, b + offsetof(block_q2_K, dmin), 2);
      for (int s = 0; s < 16; ++s) out[64 + 16 * s + r] = b[offsetof(block_q2_K, scales) + s];
    }
    int e[256];
    low_K_levels(q3, b, e);
    for (int c = 0; c < 16; ++c)
      for (int i = 0; i < 4; ++i) {
        int bits = 0;
        for (int m = 0; m < 4; ++m) bits |= (e[4 * (c + 16 * m) + i] & 3) << (2 * m);
        out[low_K_levels_at(q3, c) + 4 * r + i] = uint8_t(bits);
      }
    if (q3)
      for (int h = 0; h < 8; ++h)
        for (int i = 0; i < 4; ++i) {
          int bits = 0;
          for (int k = 0; k < 8; ++k) bits |= (e[4 * (h + 8 * k) + i] >> 2) << k;
          out[q3_K_high_at(h) + 4 * r + i] = uint8_t(bits);
        }
  }
}

// One block of 16 rows (src points at block b of row 0; rows are `row` bytes apart).
void interleave_block(TensorType t, const uint8_t* src, size_t row, uint8_t* out) {
  if (t == TensorType::Q4_K || t == TensorType::Q5_K) return interleave_q45_K(t == TensorType::Q5_K, src, row, out);
  if (t == TensorType::Q6_K) return interleave_q6_K(src, row, out);
  if (t == TensorType::Q2_K || t == TensorType::Q3_K) return interleave_low_K(t == TensorType::Q3_K, src, row, out);
  // Q4_0 and Q8_0: d, then qs.
  static_assert(offsetof(block_q4_0, qs) == offsetof(block_q8_0, qs));
  for (int r = 0; r < kInterleave; ++r) std::memcpy(out + 2 * r, src + r * row, 2);  // the scales
  uint8_t* q = out + 2 * kInterleave;
  for (int r = 0; r < kInterleave; ++r) {
    const uint8_t* qs = src + r * row + offsetof(block_q4_0, qs);
    int e[32];  // the row's 32 stored levels, in element order
    if (t == TensorType::Q4_0) {
      for (int j = 0; j < 16; ++j) e[j] = qs[j] & 0xF, e[j + 16] = qs[j] >> 4;
      for (int p = 0; p < 4; ++p)
        for (int i = 0; i < 4; ++i) q[64 * p + 4 * r + i] = uint8_t(e[8 * p + i] | e[8 * p + 4 + i] << 4);
    } else {
      for (int j = 0; j < 32; ++j) e[j] = qs[j];
      for (int g = 0; g < 8; ++g)
        for (int i = 0; i < 4; ++i) q[64 * g + 4 * r + i] = uint8_t(e[4 * g + i]);
    }
  }
}

}  // namespace

namespace {

// F16 / BF16: the tile kernel's chunks of each 8 rows side by side (repack.h).
const VecDotVariant* float_tiles(const Weight& w) {
  const VecDotVariant* v = type_info(w.type).quantized ? nullptr : vec_dot_best(w.type);
  return v && v->tile && kInterleave % v->tile_rows == 0 ? v : nullptr;
}

std::shared_ptr<uint8_t> aligned_buffer(size_t size) {
  auto* out = static_cast<uint8_t*>(std::aligned_alloc(64, (size + 63) / 64 * 64));
  if (!out) throw Error(ErrorKind::IO, "out of memory interleaving a weight");
  return std::shared_ptr<uint8_t>(out, [](uint8_t* p) { std::free(p); });
}

}  // namespace

bool can_interleave(const Weight& w) {
  if (const VecDotVariant* v = float_tiles(w)) return w.rows >= kInterleave && w.cols % uint64_t(v->tile_chunk) == 0;
  const Layout l = layout(w.type);
  return l.elems > 0 && cpu().avx512_vnni && w.rows >= kInterleave && w.cols % l.elems == 0;
}

std::shared_ptr<uint8_t> interleave(const Weight& w) {
  if (!can_interleave(w)) throw Error(ErrorKind::Unsupported, "interleave: no interleaved kernel for this weight");
  const int64_t groups = int64_t(w.rows) / kInterleave;
  const size_t row = w.row_size();
  if (const VecDotVariant* v = float_tiles(w)) {
    const int64_t sub = v->tile_rows, chunks = int64_t(w.cols) / v->tile_chunk;
    const size_t chunk = size_t(v->tile_chunk) * 2;  // both types are 2 bytes a value
    auto out = aligned_buffer(size_t(groups) * kInterleave * row);
    parallel_for(groups * kInterleave / sub, 0, [&](int64_t begin, int64_t end) {
      for (int64_t g = begin; g < end; ++g)
        for (int64_t c = 0; c < chunks; ++c)
          for (int64_t r = 0; r < sub; ++r)
            std::memcpy(out.get() + g * sub * row + (c * sub + r) * chunk, w.data + (g * sub + r) * row + c * chunk, chunk);
    });
    return out;
  }
  const Layout l = layout(w.type);
  const int64_t blocks = int64_t(w.cols) / l.elems;
  auto out = aligned_buffer(size_t(groups) * size_t(blocks) * l.group);
  parallel_for(groups, 0, [&](int64_t begin, int64_t end) {  // at load time: all cores
    for (int64_t g = begin; g < end; ++g)
      for (int64_t b = 0; b < blocks; ++b)
        interleave_block(w.type, w.data + g * kInterleave * row + b * l.plain, row, out.get() + (g * blocks + b) * l.group);
  });
  return out;
}

void matmul_interleaved(const Weight& w, const uint8_t* acts, size_t ab, int64_t T, float* y, int64_t ldy,
                        int64_t group_begin, int64_t group_end) {
  const Layout l = layout(w.type);
  const int64_t blocks = int64_t(w.cols) / l.elems;
  const size_t group_bytes = size_t(blocks) * l.group;
  // Q4_0's offset of 8 comes off through each activation block's sum: taken
  // once here for every group, not once per group.
  std::vector<int32_t> offsets;
  if (w.type == TensorType::Q4_0) {
    offsets.resize(size_t(T * blocks));
    for (int64_t t = 0; t < T; ++t)
      for (int64_t b = 0; b < blocks; ++b) {
        const auto& block = reinterpret_cast<const block_q8_0*>(acts + t * ab)[b];
        const int8_t* q = block.qs;
        int sum = 0;
        for (int j = 0; j < 32; ++j) sum += q[j];
        offsets[size_t(t * blocks + b)] = -8 * sum;
      }
  }
  const int32_t* q4_0_offsets = offsets.empty() ? nullptr : offsets.data();
  for (int64_t g = group_begin; g < group_end; ++g)
    matmul_x16_avx512(w.type, w.interleaved + g * group_bytes, blocks, acts, ab, q4_0_offsets, T, y + g * kInterleave,
                      ldy);
}

}  // namespace qkv::ops
