// The one table of block field layouts, from the block_* structs of ggml's
// ggml-common.h (the table in shared/golden/quant/README.md). A layout only
// steers compression: any split of a block into fields restores the same
// bytes, so a field that mixes two kinds of data costs ratio, never data.
// The codec tests check that every layout covers its block exactly.
#include <array>

#include "codec/block_fields.h"

namespace qkv::codec {
namespace {

using T = TensorType;

struct Row {
  TensorType type;
  BlockField field;
};

constexpr uint8_t kHalf = 2;  // an fp16 scale: split into low and high byte

// Rows of one type are consecutive and in byte order.
constexpr std::array kLayouts = {
    Row{T::Q4_0, {"d", 0, 2, kHalf}},
    Row{T::Q4_0, {"qs", 2, 16}},
    Row{T::Q4_1, {"d", 0, 2, kHalf}},
    Row{T::Q4_1, {"m", 2, 2, kHalf}},
    Row{T::Q4_1, {"qs", 4, 16}},
    Row{T::Q5_0, {"d", 0, 2, kHalf}},
    Row{T::Q5_0, {"qh", 2, 4}},
    Row{T::Q5_0, {"qs", 6, 16}},
    Row{T::Q5_1, {"d", 0, 2, kHalf}},
    Row{T::Q5_1, {"m", 2, 2, kHalf}},
    Row{T::Q5_1, {"qh", 4, 4}},
    Row{T::Q5_1, {"qs", 8, 16}},
    Row{T::Q8_0, {"d", 0, 2, kHalf}},
    Row{T::Q8_0, {"qs", 2, 32}},
    Row{T::Q2_K, {"scales", 0, 16}},
    Row{T::Q2_K, {"qs", 16, 64}},
    Row{T::Q2_K, {"d", 80, 2, kHalf}},
    Row{T::Q2_K, {"dmin", 82, 2, kHalf}},
    Row{T::Q3_K, {"hmask", 0, 32}},
    Row{T::Q3_K, {"qs", 32, 64}},
    Row{T::Q3_K, {"scales", 96, 12}},
    Row{T::Q3_K, {"d", 108, 2, kHalf}},
    Row{T::Q4_K, {"d", 0, 2, kHalf}},
    Row{T::Q4_K, {"dmin", 2, 2, kHalf}},
    Row{T::Q4_K, {"scales", 4, 12}},
    Row{T::Q4_K, {"qs", 16, 128}},
    Row{T::Q5_K, {"d", 0, 2, kHalf}},
    Row{T::Q5_K, {"dmin", 2, 2, kHalf}},
    Row{T::Q5_K, {"scales", 4, 12}},
    Row{T::Q5_K, {"qh", 16, 32}},
    Row{T::Q5_K, {"qs", 48, 128}},
    Row{T::Q6_K, {"ql", 0, 128}},
    Row{T::Q6_K, {"qh", 128, 64}},
    Row{T::Q6_K, {"scales", 192, 16}},
    Row{T::Q6_K, {"d", 208, 2, kHalf}},
    Row{T::IQ2_XXS, {"d", 0, 2, kHalf}},
    Row{T::IQ2_XXS, {"qs", 2, 64}},  // u16[32]: grid indices, signs and scales interleaved
    Row{T::IQ2_XS, {"d", 0, 2, kHalf}},
    Row{T::IQ2_XS, {"qs", 2, 64}},
    Row{T::IQ2_XS, {"scales", 66, 8}},
    Row{T::IQ3_XXS, {"d", 0, 2, kHalf}},
    Row{T::IQ3_XXS, {"grid", 2, 64}},           // qs[0..64): grid indices
    Row{T::IQ3_XXS, {"scales_signs", 66, 32}},  // qs[64..96)
    Row{T::IQ1_S, {"d", 0, 2, kHalf}},
    Row{T::IQ1_S, {"qs", 2, 32}},
    Row{T::IQ1_S, {"qh", 34, 16, 2}},
    Row{T::IQ4_NL, {"d", 0, 2, kHalf}},
    Row{T::IQ4_NL, {"qs", 2, 16}},
    Row{T::IQ3_S, {"d", 0, 2, kHalf}},
    Row{T::IQ3_S, {"qs", 2, 64}},
    Row{T::IQ3_S, {"qh", 66, 8}},
    Row{T::IQ3_S, {"signs", 74, 32}},
    Row{T::IQ3_S, {"scales", 106, 4}},
    Row{T::IQ2_S, {"d", 0, 2, kHalf}},
    Row{T::IQ2_S, {"grid", 2, 32}},    // qs[0..32): grid indices
    Row{T::IQ2_S, {"signs", 34, 32}},  // qs[32..64)
    Row{T::IQ2_S, {"qh", 66, 8}},
    Row{T::IQ2_S, {"scales", 74, 8}},
    Row{T::IQ4_XS, {"d", 0, 2, kHalf}},
    Row{T::IQ4_XS, {"scales_h", 2, 2, 2}},
    Row{T::IQ4_XS, {"scales_l", 4, 4}},
    Row{T::IQ4_XS, {"qs", 8, 128}},
    Row{T::IQ1_M, {"qs", 0, 32}},
    Row{T::IQ1_M, {"qh", 32, 16}},
    Row{T::IQ1_M, {"scales", 48, 8}},  // the fp16 super-scale hides in their top nibbles
    Row{T::TQ1_0, {"qs", 0, 48}},
    Row{T::TQ1_0, {"qh", 48, 4}},
    Row{T::TQ1_0, {"d", 52, 2, kHalf}},
    Row{T::TQ2_0, {"qs", 0, 64}},
    Row{T::TQ2_0, {"d", 64, 2, kHalf}},
    Row{T::MXFP4, {"e", 0, 1}},  // E8M0 shared exponent
    Row{T::MXFP4, {"qs", 1, 16}},
};

// The rows as plain fields, so that one type's rows are a contiguous span.
constexpr auto kFields = [] {
  std::array<BlockField, kLayouts.size()> f{};
  for (size_t i = 0; i < kLayouts.size(); ++i) f[i] = kLayouts[i].field;
  return f;
}();

}  // namespace

std::span<const BlockField> block_fields(TensorType type) {
  size_t begin = 0;
  while (begin < kLayouts.size() && kLayouts[begin].type != type) ++begin;
  size_t end = begin;
  while (end < kLayouts.size() && kLayouts[end].type == type) ++end;
  return std::span<const BlockField>(kFields).subspan(begin, end - begin);
}

}  // namespace qkv::codec
