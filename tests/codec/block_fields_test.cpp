// Block fields: every layout covers its block exactly (checked against the
// type table), the stream order and contents written out for Q4_K, round
// trips for every type with a layout, and the refusals.
#include "codec/block_fields.h"

#include <random>

#include "qkv/error.h"
#include "test_support.h"

namespace qkv::codec {
namespace {

using Bytes = std::vector<uint8_t>;

const EncodeOptions kRawOnly{.huffman = false, .zstd_level = 0};

Bytes random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes b(n);
  for (auto& x : b) x = static_cast<uint8_t>(rng() % 7);  // compressible, so every method gets used
  return b;
}

TEST(BlockFields, EveryLayoutCoversItsBlockExactly) {
  int with_layout = 0;
  for (const TypeInfo& t : all_types()) {
    const auto fields = block_fields(t.type);
    if (fields.empty()) continue;
    ++with_layout;
    EXPECT_TRUE(t.quantized) << t.name;
    uint32_t at = 0;
    for (const BlockField& f : fields) {
      EXPECT_EQ(f.offset, at) << t.name << "." << f.name << " leaves a gap or overlaps";
      EXPECT_GT(f.size, 0) << t.name << "." << f.name;
      EXPECT_EQ(f.size % f.elem_bytes, 0) << t.name << "." << f.name;
      at += f.size;
    }
    EXPECT_EQ(at, t.block_bytes) << t.name;
  }
  // The types of shared/golden/quant/README.md's table.
  for (TensorType t :
       {TensorType::Q4_0,   TensorType::Q4_1,    TensorType::Q5_0,    TensorType::Q5_1,   TensorType::Q8_0,
        TensorType::Q2_K,   TensorType::Q3_K,    TensorType::Q4_K,    TensorType::Q5_K,   TensorType::Q6_K,
        TensorType::IQ4_NL, TensorType::IQ4_XS,  TensorType::TQ1_0,   TensorType::TQ2_0,  TensorType::MXFP4,
        TensorType::IQ3_S,  TensorType::IQ3_XXS, TensorType::IQ2_XXS, TensorType::IQ2_XS, TensorType::IQ2_S,
        TensorType::IQ1_S,  TensorType::IQ1_M})
    EXPECT_FALSE(block_fields(t).empty()) << type_name(t);
  EXPECT_EQ(with_layout, 22);
  EXPECT_TRUE(block_fields(TensorType::F32).empty());
  EXPECT_TRUE(block_fields(static_cast<TensorType>(4)).empty());
}

TEST(BlockFields, Q4KStreamsInOrder) {
  // Two Q4_K blocks (144 bytes: d, dmin, scales[12], qs[128]) where every
  // byte is its offset in the chunk modulo 251, then 5 tail bytes.
  Bytes chunk(2 * 144 + 5);
  for (size_t i = 0; i < chunk.size(); ++i) chunk[i] = static_cast<uint8_t>(i % 251);
  // A raw stream of the bytes [offset, offset + per_block) of both blocks.
  auto stream = [](size_t offset, size_t per_block) {
    const size_t len = 2 * per_block;
    Bytes s = {0, static_cast<uint8_t>(len), static_cast<uint8_t>(len >> 8), 0, 0};
    for (size_t block = 0; block < 2; ++block)
      for (size_t j = 0; j < per_block; ++j) s.push_back(static_cast<uint8_t>((block * 144 + offset + j) % 251));
    return s;
  };
  Bytes expected = {12, 0, 0, 0};  // GGUF type Q4_K
  // d low bytes, d high bytes, dmin low, dmin high, scales, qs
  for (const Bytes& s : {stream(0, 1), stream(1, 1), stream(2, 1), stream(3, 1), stream(4, 12), stream(16, 128)})
    expected.insert(expected.end(), s.begin(), s.end());
  for (size_t i = 288; i < 293; ++i) expected.push_back(static_cast<uint8_t>(i % 251));

  const auto p = block_fields_encode(chunk, TensorType::Q4_K, kRawOnly);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(*p, expected);
  Bytes out(chunk.size());
  block_fields_decode(*p, out);
  EXPECT_EQ(out, chunk);
}

TEST(BlockFields, RoundTripsEveryTypeWithTails) {
  for (const TypeInfo& t : all_types()) {
    if (block_fields(t.type).empty()) continue;
    for (size_t blocks : {0u, 1u, 3u, 200u})
      for (size_t tail : {size_t{0}, size_t{1}, size_t{t.block_bytes - 1}}) {
        const Bytes chunk = random_bytes(blocks * t.block_bytes + tail, static_cast<uint32_t>(blocks + tail));
        for (const EncodeOptions& opts : {EncodeOptions{}, kRawOnly}) {
          const auto p = block_fields_encode(chunk, t.type, opts);
          ASSERT_TRUE(p.has_value()) << t.name;
          Bytes out(chunk.size(), 0xEE);
          block_fields_decode(*p, out);
          EXPECT_EQ(out, chunk) << t.name << " blocks=" << blocks << " tail=" << tail;
        }
      }
  }
  EXPECT_FALSE(block_fields_encode(Bytes(64), TensorType::F16, {}).has_value());
}

TEST(BlockFields, DecoderRefusesInconsistentPayloads) {
  const Bytes chunk = random_bytes(3 * 34 + 2, 1);
  const Bytes good = *block_fields_encode(chunk, TensorType::Q8_0, kRawOnly);
  Bytes out(chunk.size());
  auto expect_error = [&](const Bytes& payload, std::span<uint8_t> dst, const std::string& needle) {
    try {
      block_fields_decode(payload, dst);
      ADD_FAILURE() << "accepted; expected '" << needle << "'";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Integrity) << e.what();
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  Bytes b = good;
  b[0] = 0;  // F32: no field layout
  expect_error(b, out, "no field layout");
  b = good;
  b[0] = 99;
  expect_error(b, out, "no field layout");
  b = good;
  b.push_back(1);
  expect_error(b, out, "unexpected bytes");
  Bytes longer(chunk.size() + 34);
  expect_error(good, longer, "expected");
}

}  // namespace
}  // namespace qkv::codec
