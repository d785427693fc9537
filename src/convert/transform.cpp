#include "convert/transform.h"

#include <cstring>

#include "qkv/error.h"

namespace qkv::convert {

namespace {

void transpose(std::vector<float>& data, uint64_t rows, uint64_t cols) {
  std::vector<float> out(data.size());
  for (uint64_t r = 0; r < rows; ++r)
    for (uint64_t c = 0; c < cols; ++c) out[c * rows + r] = data[r * cols + c];
  data.swap(out);
}

// HF stores each head's rotary pairs as two halves [x_0 .. x_{h/2-1} | y_0 ..];
// ggml's "normal" RoPE wants them interleaved [x_0 y_0 x_1 y_1 ...].
// `interleave` goes HF -> GGUF, otherwise GGUF -> HF.
void permute_heads(std::vector<float>& data, uint64_t rows, uint64_t cols, uint32_t heads, bool interleave) {
  if (heads == 0 || rows % (2 * uint64_t(heads)) != 0)
    throw Error(ErrorKind::Format, "cannot split " + std::to_string(rows) + " rows into " + std::to_string(heads) +
                                       " rotary heads");
  std::vector<float> out(data.size());
  const uint64_t hd = rows / heads, half = hd / 2;
  for (uint64_t h = 0; h < heads; ++h)
    for (uint64_t i = 0; i < half; ++i)
      for (uint64_t j = 0; j < 2; ++j) {
        const uint64_t pair_row = h * hd + 2 * i + j, half_row = h * hd + j * half + i;
        const uint64_t to = interleave ? pair_row : half_row, from = interleave ? half_row : pair_row;
        std::memcpy(&out[to * cols], &data[from * cols], cols * sizeof(float));
      }
  data.swap(out);
}

}  // namespace

void apply_transform(Transform t, std::vector<float>& data, uint64_t rows, uint64_t cols, uint32_t heads) {
  if (t == Transform::Transpose) transpose(data, rows, cols);
  if (t == Transform::PermuteQ || t == Transform::PermuteK) permute_heads(data, rows, cols, heads, true);
}

void undo_transform(Transform t, std::vector<float>& data, uint64_t rows, uint64_t cols, uint32_t heads) {
  if (t == Transform::Transpose) transpose(data, rows, cols);
  if (t == Transform::PermuteQ || t == Transform::PermuteK) permute_heads(data, rows, cols, heads, false);
}

}  // namespace qkv::convert
