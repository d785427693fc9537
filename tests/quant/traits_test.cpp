// The traits table (quant/traits.h): one row per type of the type table, in
// its order, whose columns agree with each other and with the kernels they
// name; and the block structs and scale packers of quant/blocks.h.
#include "quant/traits.h"

#include <gtest/gtest.h>

#include <random>

#include "quant/blocks.h"

namespace qkv {
namespace {

TEST(Traits, OneRowPerTypeInTheTypeTablesOrder) {
  const auto types = all_types();
  const auto traits = all_traits();
  ASSERT_EQ(traits.size(), types.size());
  for (size_t i = 0; i < types.size(); ++i) {
    EXPECT_EQ(traits[i].type, types[i].type) << types[i].name;
    EXPECT_EQ(find_traits(types[i].type), &traits[i]) << types[i].name;
    EXPECT_EQ(&traits[i].info(), &types[i]) << types[i].name;
  }
  EXPECT_EQ(find_traits(static_cast<TensorType>(4)), nullptr);  // Q4_2, long gone from ggml
}

TEST(Traits, ColumnsAgree) {
  for (const TypeTraits& t : all_traits()) {
    const std::string name(t.info().name);
    EXPECT_EQ(t.quantize_ref == nullptr, t.quantize_fast == nullptr) << name;
    EXPECT_EQ(t.dequantize_ref == nullptr, t.dequantize_fast == nullptr) << name;
    if (t.quantize_ref) {
      EXPECT_NE(t.dequantize_ref, nullptr) << name << " is written but not read";
    }
    if (t.imatrix != ImatrixUse::Ignored) {
      EXPECT_NE(t.quantize_ref, nullptr) << name << " uses an imatrix but is not written";
    }
    EXPECT_EQ(t.act == ops::ActType::None, t.dot_ref == nullptr) << name;
    // The dot tests compare each kernel with the dot of the dequantized rows.
    if (t.dot_ref) {
      EXPECT_NE(t.dequantize_ref, nullptr) << name;
    }
    for (const SimdDot& d : t.dots) {
      if (!d.variant) continue;
      const std::string what = name + " " + d.variant->isa;
      EXPECT_NE(t.dot_ref, nullptr) << what << " has no reference";
      EXPECT_TRUE(d.needs != nullptr) << what;
      EXPECT_EQ(d.variant->type, t.type) << what;
      EXPECT_NE(d.variant->one, nullptr) << what;
      EXPECT_GE(d.variant->max_tokens, 1) << what;
      EXPECT_LE(d.variant->max_tokens, ops::kMaxDotTokens) << what;
      if (!d.variant->rows) {
        EXPECT_EQ(d.variant->max_tokens, 1) << what;
      }
      if (d.variant->tile) {
        EXPECT_NE(d.variant->rows, nullptr) << what;
        EXPECT_GE(d.variant->tile_rows, 1) << what;
        EXPECT_GE(d.variant->tile_tokens, 1) << what;
      }
    }
  }
}

// The structs of quant/blocks.h have the type table's sizes.
TEST(Blocks, SizesAreTheTypeTables) {
  using T = TensorType;
  struct Block {
    TensorType type;
    size_t bytes;
    int elems;
  };
  const Block kBlocks[] = {
      {T::Q4_0, sizeof(block_q4_0), QK},         {T::Q4_1, sizeof(block_q4_1), QK},
      {T::Q5_0, sizeof(block_q5_0), QK},         {T::Q5_1, sizeof(block_q5_1), QK},
      {T::Q8_0, sizeof(block_q8_0), QK},         {T::Q8_1, sizeof(block_q8_1), QK},
      {T::IQ4_NL, sizeof(block_iq4_nl), QK},     {T::MXFP4, sizeof(block_mxfp4), QK},
      {T::Q2_K, sizeof(block_q2_K), QK_K},       {T::Q3_K, sizeof(block_q3_K), QK_K},
      {T::Q4_K, sizeof(block_q4_K), QK_K},       {T::Q5_K, sizeof(block_q5_K), QK_K},
      {T::Q6_K, sizeof(block_q6_K), QK_K},       {T::Q8_K, sizeof(block_q8_K), QK_K},
      {T::IQ4_XS, sizeof(block_iq4_xs), QK_K},   {T::TQ1_0, sizeof(block_tq1_0), QK_K},
      {T::TQ2_0, sizeof(block_tq2_0), QK_K},     {T::IQ2_XXS, sizeof(block_iq2_xxs), QK_K},
      {T::IQ2_XS, sizeof(block_iq2_xs), QK_K},   {T::IQ2_S, sizeof(block_iq2_s), QK_K},
      {T::IQ3_XXS, sizeof(block_iq3_xxs), QK_K}, {T::IQ3_S, sizeof(block_iq3_s), QK_K},
      {T::IQ1_S, sizeof(block_iq1_s), QK_K},     {T::IQ1_M, sizeof(block_iq1_m), QK_K},
  };
  for (const Block& b : kBlocks) {
    EXPECT_EQ(type_info(b.type).block_bytes, b.bytes) << type_name(b.type);
    EXPECT_EQ(type_info(b.type).block_elems, static_cast<uint32_t>(b.elems)) << type_name(b.type);
  }
}

TEST(Blocks, ScalePackersInvertTheUnpackers) {
  std::mt19937 rng(11);
  for (int rep = 0; rep < 1000; ++rep) {
    uint8_t scales[8], mins[8], packed[12], got_scales[8], got_mins[8];
    for (int j = 0; j < 8; ++j) scales[j] = rng() % 64, mins[j] = rng() % 64;
    pack_scales_mins_k4(scales, mins, packed);
    unpack_scales_mins_k4(packed, got_scales, got_mins);
    for (int j = 0; j < 8; ++j) {
      ASSERT_EQ(got_scales[j], scales[j]) << rep << " " << j;
      ASSERT_EQ(got_mins[j], mins[j]) << rep << " " << j;
    }
    int8_t biased[16], got[16];
    uint8_t packed3[12];
    for (int j = 0; j < 16; ++j) biased[j] = static_cast<int8_t>(rng() % 64);
    pack_scales_q3_K(biased, packed3);
    unpack_scales_q3_K(packed3, got);
    for (int j = 0; j < 16; ++j) ASSERT_EQ(got[j], biased[j] - 32) << rep << " " << j;
  }
}

// ggml's get_scale_min_k4 on a known block: scale 4 + j takes its top bits
// from byte j, its low nibble from byte 8 + j.
TEST(Blocks, K4ScalesOfAKnownBlock) {
  const uint8_t p[12] = {0xC1, 0x02, 0x03, 0x04, 0x45, 0x06, 0x07, 0x08, 0x9A, 0, 0, 0};
  uint8_t scales[8], mins[8];
  unpack_scales_mins_k4(p, scales, mins);
  EXPECT_EQ(scales[0], 0x01);
  EXPECT_EQ(mins[0], 0x05);
  EXPECT_EQ(scales[4], 0x3A);  // 0xA | 3 << 4
  EXPECT_EQ(mins[4], 0x19);    // 0x9 | 1 << 4
}

}  // namespace
}  // namespace qkv
