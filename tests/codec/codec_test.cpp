// The adaptive layer over all codecs: which codec wins for which data, the
// per-codec sizes, round trips of every codec over the awkward inputs
// (empty, one element, odd lengths, constant, random, every 16-bit value),
// corruption (every byte of a payload flipped, every truncation), and
// concurrent use.
#include "qkv/codec.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <random>
#include <thread>

#include "qkv/error.h"
#include "qkv/fp16.h"
#include "test_support.h"

namespace qkv::codec {
namespace {

using Bytes = std::vector<uint8_t>;
using Type = std::optional<TensorType>;

Bytes random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes b(n);
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  return b;
}

Bytes gaussian_bf16(size_t elems, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0, 0.02f);
  Bytes b(2 * elems);
  for (size_t i = 0; i < elems; ++i) {
    const uint16_t h = fp32_to_bf16(normal(rng));
    b[2 * i] = static_cast<uint8_t>(h), b[2 * i + 1] = static_cast<uint8_t>(h >> 8);
  }
  return b;
}

// 16-bit values drawn from 200 random ones: dict256 territory.
Bytes few_values(size_t elems, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint16_t> pool(200);
  for (auto& v : pool) v = static_cast<uint16_t>(rng());
  Bytes b(2 * elems);
  for (size_t i = 0; i < elems; ++i) {
    const uint16_t v = pool[rng() % pool.size()];
    b[2 * i] = static_cast<uint8_t>(v), b[2 * i + 1] = static_cast<uint8_t>(v >> 8);
  }
  return b;
}

Bytes every_16bit_value(bool shuffled) {
  std::vector<uint16_t> v(65536);
  std::iota(v.begin(), v.end(), uint16_t{0});
  if (shuffled) std::shuffle(v.begin(), v.end(), std::mt19937(11));
  Bytes b(2 * v.size());
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

Bytes decode(CodecId c, const Bytes& payload, size_t size) {
  Bytes out(size, 0xEE);
  decode_chunk(c, payload, out);
  return out;
}

TEST(Codec, NamesAndIds) {
  for (CodecId c : kAllCodecs) EXPECT_EQ(codec_from_byte(static_cast<uint8_t>(c)), c);
  EXPECT_FALSE(codec_from_byte(4).has_value());
  EXPECT_EQ(codec_name(CodecId::Dict256), "dict256");
  EXPECT_EQ(codec_name(CodecId::BlockFields), "block-fields");
  Bytes out(1);
  try {
    decode_chunk(static_cast<CodecId>(9), Bytes{1}, out);
    ADD_FAILURE() << "unknown codec accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Unsupported);
  }
}

TEST(Codec, AdaptiveChoiceKeepsTheSmallest) {
  EXPECT_EQ(encode_chunk(random_bytes(5000, 1), TensorType::BF16).codec, CodecId::Raw);
  EXPECT_EQ(encode_chunk({}, std::nullopt).codec, CodecId::Raw);
  EXPECT_EQ(encode_chunk(few_values(5000, 2), TensorType::BF16).codec, CodecId::Dict256);
  EXPECT_EQ(encode_chunk(gaussian_bf16(5000, 3), TensorType::BF16).codec, CodecId::BytePlanes);

  const Bytes chunk = gaussian_bf16(3000, 4);
  const auto trials = trial_sizes(chunk, TensorType::BF16);
  ASSERT_EQ(trials.size(), std::size(kAllCodecs));
  EXPECT_EQ(trials[0].size, chunk.size());
  EXPECT_FALSE(trials[3].size.has_value());  // no block layout for BF16
  size_t smallest = chunk.size();
  for (const auto& t : trials) {
    if (!t.size) continue;
    EXPECT_EQ(t.size, encode_with(t.codec, chunk, TensorType::BF16)->size()) << codec_name(t.codec);
    smallest = std::min(smallest, *t.size);
  }
  const Encoded e = encode_chunk(chunk, TensorType::BF16);
  EXPECT_EQ(e.payload.size(), smallest);
  EXPECT_EQ(decode(e.codec, e.payload, chunk.size()), chunk);

  const auto odd = trial_sizes(Bytes(3), std::nullopt);
  EXPECT_FALSE(odd[1].size.has_value());  // dict256 needs 16-bit elements
  EXPECT_TRUE(odd[2].size.has_value());
}

TEST(Codec, EveryCodecRoundTripsAwkwardInputs) {
  const std::vector<std::pair<std::string, Bytes>> inputs = {
      {"empty", {}},
      {"one byte", {0x5A}},
      {"one element", {0x80, 0x3F}},
      {"three bytes", {1, 2, 3}},
      {"odd random", random_bytes(4097, 5)},
      {"random", random_bytes(10000, 6)},
      {"constant", Bytes(10000, 0x3C)},
      {"constant odd", Bytes(999, 0)},
      {"every 16-bit value", every_16bit_value(false)},
      {"every 16-bit value shuffled", every_16bit_value(true)},
      {"gaussian bf16", gaussian_bf16(20000, 7)},
      {"gaussian bf16 + 1 byte",
       [] {
         auto b = gaussian_bf16(777, 8);
         b.push_back(9);
         return b;
       }()},
      {"few values", few_values(3001, 9)},
  };
  const Type types[] = {std::nullopt,   TensorType::BF16, TensorType::F16,  TensorType::F32,
                        TensorType::I8, TensorType::Q4_K, TensorType::Q8_0, TensorType::IQ2_XXS};
  for (const auto& [name, chunk] : inputs)
    for (const Type& type : types) {
      const std::string where = name + ", type " + (type ? std::string(type_name(*type)) : "none");
      for (CodecId c : kAllCodecs) {
        const auto p = encode_with(c, chunk, type);
        if (!p) continue;
        EXPECT_EQ(decode(c, *p, chunk.size()), chunk) << where << ", codec " << codec_name(c);
      }
      const Encoded e = encode_chunk(chunk, type);
      EXPECT_LE(e.payload.size(), chunk.size()) << where;
      EXPECT_EQ(decode(e.codec, e.payload, chunk.size()), chunk) << where;
    }
}

TEST(Codec, WrongChunkSizeIsAnIntegrityError) {
  const Bytes chunk = gaussian_bf16(1000, 10);
  for (CodecId c : kAllCodecs) {
    const auto p = encode_with(c, chunk, TensorType::BF16);
    if (!p) continue;
    for (size_t size : {chunk.size() - 2, chunk.size() + 2}) {
      Bytes out(size);
      EXPECT_THROW(decode_chunk(c, *p, out), Error) << codec_name(c) << " size " << size;
    }
  }
}

// Each codec's payload for data it compresses, with Huffman-coded and
// zstd-coded streams, every byte flipped three ways and every truncation: a
// flip must either be caught as a qkv::Error or decode to something (the
// container's checksum catches that); a truncation must always be caught.
// Run under -fsanitize=address,undefined this also shows that no corrupt
// payload reads or writes out of bounds.
TEST(Codec, CorruptPayloadsNeverCrash) {
  Bytes q4k(8 * 144);  // skewed fields: compressible streams
  std::mt19937 rng(12);
  for (auto& b : q4k) b = static_cast<uint8_t>(std::countr_zero(rng() | 0x80u));
  const EncodeOptions huffman{.huffman = true, .zstd_level = 0}, zstd{.huffman = false, .zstd_level = 3};
  struct Case {
    CodecId codec;
    Bytes chunk;
    Type type;
    EncodeOptions opts;
  };
  const Case cases[] = {
      {CodecId::Raw, random_bytes(64, 13), std::nullopt, {}},
      {CodecId::Dict256, few_values(700, 14), TensorType::BF16, {}},
      {CodecId::BytePlanes, gaussian_bf16(1500, 15), TensorType::BF16, huffman},
      {CodecId::BytePlanes, gaussian_bf16(700, 15), TensorType::BF16, zstd},
      {CodecId::BlockFields, q4k, TensorType::Q4_K, huffman},
      {CodecId::BlockFields, q4k, TensorType::Q4_K, zstd},
  };
  for (const Case& c : cases) {
    const Bytes good = *encode_with(c.codec, c.chunk, c.type, c.opts);
    ASSERT_EQ(decode(c.codec, good, c.chunk.size()), c.chunk);
    size_t caught = 0, flips = 0;
    for (size_t i = 0; i < good.size(); ++i)
      for (uint8_t mask : {0x01, 0x80, 0xFF}) {
        Bytes bad = good;
        bad[i] ^= mask;
        Bytes out(c.chunk.size());
        ++flips;
        try {
          decode_chunk(c.codec, bad, out);
        } catch (const Error& e) {
          EXPECT_EQ(e.kind(), ErrorKind::Integrity) << e.what();
          ++caught;
        }
      }
    for (size_t len = 0; len < good.size(); ++len) {
      Bytes out(c.chunk.size());
      EXPECT_THROW(decode_chunk(c.codec, std::span(good).first(len), out), Error)
          << codec_name(c.codec) << " truncated to " << len << " of " << good.size();
    }
    std::printf("  %-12s payload %5zu bytes: %zu of %zu flips caught by the decoder\n",
                std::string(codec_name(c.codec)).c_str(), good.size(), caught, flips);
  }
}

TEST(Codec, ConcurrentUseGivesTheSameBytes) {
  std::vector<Bytes> chunks = {gaussian_bf16(50000, 16), few_values(40000, 17), random_bytes(30000, 18)};
  std::vector<Encoded> expected;
  for (const auto& c : chunks) expected.push_back(encode_chunk(c, TensorType::BF16));
  std::vector<int> ok(8, 0);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < ok.size(); ++t)
    threads.emplace_back([&, t] {
      bool good = true;
      for (int r = 0; r < 3; ++r)
        for (size_t i = 0; i < chunks.size(); ++i) {
          const size_t k = (i + t) % chunks.size();
          const Encoded e = encode_chunk(chunks[k], TensorType::BF16);
          Bytes out(chunks[k].size());
          decode_chunk(e.codec, e.payload, out);
          good = good && e.codec == expected[k].codec && e.payload == expected[k].payload && out == chunks[k];
        }
      ok[t] = good;
    });
  for (auto& th : threads) th.join();
  for (size_t t = 0; t < ok.size(); ++t) EXPECT_TRUE(ok[t]) << "thread " << t;
}

}  // namespace
}  // namespace qkv::codec
