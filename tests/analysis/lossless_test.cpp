// Entropies of distributions whose entropy is known, and codec sizes against
// codec::encode_chunk itself.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "qkv/analysis.h"
#include "qkv/codec.h"
#include "qkv/fp16.h"

namespace qkv::analysis {
namespace {

TEST(AnalysisLossless, EntropyOfKnownDistributions) {
  EXPECT_DOUBLE_EQ(entropy_bits(std::vector<uint64_t>{5}), 0.0);
  EXPECT_DOUBLE_EQ(entropy_bits(std::vector<uint64_t>{}), 0.0);
  EXPECT_NEAR(entropy_bits(std::vector<uint64_t>(256, 7)), 8.0, 1e-12);
  // p = 1/2, 1/4, 1/8, 1/8: 1.75 bits.
  EXPECT_NEAR(entropy_bits(std::vector<uint64_t>{400, 200, 100, 100, 0}), 1.75, 1e-12);
  // p = 0.9, 0.1.
  EXPECT_NEAR(entropy_bits(std::vector<uint64_t>{900, 100}),
              -(0.9 * std::log2(0.9) + 0.1 * std::log2(0.1)), 1e-12);
}

TEST(AnalysisLossless, SixteenBitEntropies) {
  // 1024 distinct values, each equally often: 4 high bytes x 256 low bytes.
  std::vector<uint16_t> v;
  for (int rep = 0; rep < 64; ++rep)
    for (uint16_t hi : {0x3Cu, 0x3Du, 0xBCu, 0xBDu})
      for (unsigned lo = 0; lo < 256; ++lo) v.push_back(static_cast<uint16_t>(hi << 8 | lo));
  const Lossless l = lossless_16bit(v, TensorType::BF16, false, 3);
  EXPECT_NEAR(l.entropy16, 10.0, 1e-12);
  EXPECT_NEAR(l.entropy_high, 2.0, 1e-12);
  EXPECT_NEAR(l.entropy_low, 8.0, 1e-12);
  EXPECT_GT(l.codec_bits, 0.0);
  EXPECT_LT(l.codec_bits, 16.0) << "two bits of high byte must compress";
  const auto bytes = std::span(reinterpret_cast<const uint8_t*>(v.data()), v.size() * 2);
  EXPECT_EQ(l.codec_bits, 8.0 * double(codec::encode_chunk(bytes, TensorType::BF16).payload.size()) / double(v.size()));
}

TEST(AnalysisLossless, CodecSizeCutsChunksLikeCompress) {
  // 6 MiB of F16 Gaussian values: one 4 MiB chunk and one of 2 MiB.
  std::mt19937 rng(5);
  std::normal_distribution<float> g(0, 0.02f);
  std::vector<uint16_t> v(3u << 20);
  for (auto& x : v) x = fp32_to_fp16(g(rng));
  const auto bytes = std::span(reinterpret_cast<const uint8_t*>(v.data()), v.size() * 2);
  const CodecSize c = codec_size(bytes, TensorType::F16, 2);
  const size_t chunk = 4u << 20;
  const auto a = codec::encode_chunk(bytes.subspan(0, chunk), TensorType::F16);
  const auto b = codec::encode_chunk(bytes.subspan(chunk), TensorType::F16);
  EXPECT_EQ(c.bytes_in, bytes.size());
  EXPECT_EQ(c.bytes_out, a.payload.size() + b.payload.size());
  EXPECT_EQ(c.main_codec, a.codec);
  EXPECT_LT(c.bytes_out, c.bytes_in);
}

}  // namespace
}  // namespace qkv::analysis
