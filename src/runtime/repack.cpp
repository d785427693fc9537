// Interleaving Q4_0 and Q8_0 rows in groups of 16 (repack.h), and the
// dispatch of the interleaved products.
#include "runtime/repack.h"

#include <cstdlib>
#include <cstring>

#include "qkv/cpu.h"
#include "qkv/error.h"

namespace qkv::ops {

// repack_avx512.cpp
void matmul_x16_avx512(TensorType type, const uint8_t* group, int64_t blocks, const uint8_t* acts, size_t ab,
                       int64_t T, float* y, int64_t ldy);

namespace {

constexpr int64_t kBlock = 32;
constexpr size_t kQ4_0Bytes = 18, kQ8_0Bytes = 34;

size_t block_bytes(TensorType t) { return t == TensorType::Q4_0 ? kQ4_0Bytes : kQ8_0Bytes; }

// One block of 16 rows (src points at block b of row 0; rows are `row` bytes apart).
void interleave_block(TensorType t, const uint8_t* src, size_t row, uint8_t* out) {
  for (int r = 0; r < kInterleave; ++r) std::memcpy(out + 2 * r, src + r * row, 2);  // the scales
  uint8_t* q = out + 2 * kInterleave;
  for (int r = 0; r < kInterleave; ++r) {
    const uint8_t* b = src + r * row;
    int e[kBlock];  // the row's 32 stored levels, in element order
    if (t == TensorType::Q4_0) {
      for (int j = 0; j < 16; ++j) e[j] = b[2 + j] & 0xF, e[j + 16] = b[2 + j] >> 4;
      for (int p = 0; p < 4; ++p)
        for (int i = 0; i < 4; ++i) q[64 * p + 4 * r + i] = uint8_t(e[8 * p + i] | e[8 * p + 4 + i] << 4);
    } else {
      for (int j = 0; j < kBlock; ++j) e[j] = b[2 + j];
      for (int g = 0; g < 8; ++g)
        for (int i = 0; i < 4; ++i) q[64 * g + 4 * r + i] = uint8_t(e[4 * g + i]);
    }
  }
}

}  // namespace

bool can_interleave(const Weight& w) {
  return (w.type == TensorType::Q4_0 || w.type == TensorType::Q8_0) && cpu().avx512_vnni &&
         w.rows >= kInterleave && w.cols % kBlock == 0;
}

std::shared_ptr<uint8_t> interleave(const Weight& w) {
  if (!can_interleave(w)) throw Error(ErrorKind::Unsupported, "interleave: no interleaved kernel for this weight");
  const int64_t groups = int64_t(w.rows) / kInterleave, blocks = int64_t(w.cols) / kBlock;
  const size_t bb = block_bytes(w.type), row = w.row_size(), size = size_t(groups) * kInterleave * row;
  auto* out = static_cast<uint8_t*>(std::aligned_alloc(64, (size + 63) / 64 * 64));
  if (!out) throw Error(ErrorKind::IO, "out of memory interleaving a weight");
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t b = 0; b < blocks; ++b)
      interleave_block(w.type, w.data + g * kInterleave * row + b * bb, row,
                       out + (g * blocks + b) * kInterleave * bb);
  return std::shared_ptr<uint8_t>(out, [](uint8_t* p) { std::free(p); });
}

void matmul_interleaved(const Weight& w, const uint8_t* acts, size_t ab, int64_t T, float* y, int64_t ldy,
                        int64_t group_begin, int64_t group_end) {
  const int64_t blocks = int64_t(w.cols) / kBlock;
  const size_t group_bytes = size_t(blocks) * kInterleave * block_bytes(w.type);
  for (int64_t g = group_begin; g < group_end; ++g)
    matmul_x16_avx512(w.type, w.interleaved + g * group_bytes, blocks, acts, ab, T, y + g * kInterleave, ldy);
}

}  // namespace qkv::ops
