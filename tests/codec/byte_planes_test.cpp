// Streams (the per-plane choice of raw, Huffman or zstd) and the byte-plane
// codec: which method wins for which data, the plane and header bytes
// written out by hand, round trips for every layout, and the refusals.
#include "codec/byte_planes.h"

#include <algorithm>
#include <numeric>
#include <random>

#include "codec/huffman.h"
#include "codec/stream.h"
#include "qkv/error.h"
#include "qkv/fp16.h"
#include "test_support.h"

namespace qkv::codec {
namespace {

using Bytes = std::vector<uint8_t>;

const EncodeOptions kRawOnly{.huffman = false, .zstd_level = 0};

template <class F>
void expect_integrity_error(F&& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "accepted; expected an error mentioning '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Integrity) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

Bytes random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes b(n);
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  return b;
}

// The method put_stream picks, after checking that the stream reads back.
StreamMethod method_of(const Bytes& data, const EncodeOptions& opts = {}) {
  Bytes out;
  put_stream(out, data, opts);
  PayloadReader r(out);
  Bytes scratch;
  const auto back = get_stream(r, data.size(), scratch);
  EXPECT_EQ(Bytes(back.begin(), back.end()), data);
  EXPECT_EQ(r.left(), 0u);
  return static_cast<StreamMethod>(out[0]);
}

TEST(Stream, EachMethodWinsWhereItShould) {
  EXPECT_EQ(method_of(random_bytes(4096, 1)), StreamMethod::Raw);
  Bytes skewed(4096);
  std::mt19937 rng(2);
  for (auto& b : skewed) b = static_cast<uint8_t>(std::countr_zero(rng() | 0x100u) * 17);
  EXPECT_EQ(method_of(skewed), StreamMethod::Huffman);
  // A shuffled 0..255 repeated: flat byte counts, so only zstd's matches help.
  Bytes pattern(256);
  std::iota(pattern.begin(), pattern.end(), uint8_t{0});
  std::shuffle(pattern.begin(), pattern.end(), std::mt19937(3));
  Bytes repeated;
  for (int i = 0; i < 16; ++i) repeated.insert(repeated.end(), pattern.begin(), pattern.end());
  EXPECT_EQ(method_of(repeated), StreamMethod::Zstd);
  EXPECT_EQ(method_of(repeated, {.huffman = true, .zstd_level = 0}), StreamMethod::Raw);
  EXPECT_EQ(method_of(skewed, kRawOnly), StreamMethod::Raw);
  EXPECT_EQ(method_of({}), StreamMethod::Raw);
}

// A coded stream must save 1/64 of the raw size: decoding a near-random
// plane costs more than its last percent is worth.
TEST(Stream, CodingMustSaveAtLeastOneSixtyFourth) {
  // Bytes uniform over 0..255, with a share of them drawn from 0..63 only:
  // with 20 % Huffman saves 0.8 %, with 50 % 5 %.
  auto mixed = [](double share) {
    std::mt19937 rng(21);
    std::bernoulli_distribution low(share);
    Bytes b(1 << 16);
    for (auto& x : b) x = static_cast<uint8_t>(low(rng) ? rng() % 64 : rng() % 256);
    return b;
  };
  const Bytes little_gain = mixed(0.2);
  ASSERT_LT(huffman_encode(little_gain)->size(), little_gain.size());
  const EncodeOptions huffman{.huffman = true, .zstd_level = 0};
  EXPECT_EQ(method_of(little_gain, huffman), StreamMethod::Raw);
  EXPECT_EQ(method_of(mixed(0.5), huffman), StreamMethod::Huffman);
}

TEST(Stream, RawLayoutAndRefusals) {
  Bytes out;
  put_stream(out, Bytes{9, 8, 7}, kRawOnly);
  EXPECT_EQ(out, (Bytes{0, 3, 0, 0, 0, 9, 8, 7}));
  Bytes scratch;
  expect_integrity_error(
      [&] {
        PayloadReader r(out);
        get_stream(r, 4, scratch);
      },
      "where 4 are expected");
  Bytes b = out;
  b[0] = 3;
  expect_integrity_error(
      [&] {
        PayloadReader r(b);
        get_stream(r, 3, scratch);
      },
      "unknown stream method 3");
  b = out;
  b[1] = 4;
  expect_integrity_error(
      [&] {
        PayloadReader r(b);
        get_stream(r, 4, scratch);
      },
      "truncated");

  Bytes z;
  put_stream(z, Bytes(1000, 5), {.huffman = false, .zstd_level = 3});
  ASSERT_EQ(z[0], static_cast<uint8_t>(StreamMethod::Zstd));
  expect_integrity_error(
      [&] {
        PayloadReader r(z);
        get_stream(r, 999, scratch);
      },
      "zstd stream");
  expect_integrity_error(
      [&] {
        PayloadReader r(z);
        get_stream(r, 1001, scratch);
      },
      "zstd stream");
}

TEST(BytePlanes, RotatedBf16PutsTheExponentInPlaneOne) {
  // 1.0 = 0x3F80, -1.0 = 0xBF80, 3.140625 = 0x4049; rotated left by one bit:
  // 0x7F00, 0x7F01, 0x8092. Plane 0 = low bytes (mantissa << 1 | sign),
  // plane 1 = high bytes (the exponent). One tail byte past the elements.
  const Bytes chunk = {0x80, 0x3F, 0x80, 0xBF, 0x49, 0x40, 0xAA};
  const Bytes expected = {
      2,    1,                             // width 2, rotated
      0,    3, 0, 0, 0, 0x00, 0x01, 0x92,  // plane 0, raw
      0,    3, 0, 0, 0, 0x7F, 0x7F, 0x80,  // plane 1, raw
      0xAA,                                // tail
  };
  EXPECT_EQ(byte_planes_encode(chunk, {2, true}, kRawOnly), expected);
  Bytes out(chunk.size());
  byte_planes_decode(expected, out);
  EXPECT_EQ(out, chunk);
}

TEST(BytePlanes, PlainF32PlanesAreTheLittleEndianBytes) {
  const Bytes chunk = {1, 2, 3, 4, 5, 6, 7, 8};
  const Bytes expected = {4, 0, 0, 2, 0, 0, 0, 1, 5, 0, 2, 0, 0, 0, 2, 6, 0, 2, 0, 0, 0, 3, 7, 0, 2, 0, 0, 0, 4, 8};
  EXPECT_EQ(byte_planes_encode(chunk, {4, false}, kRawOnly), expected);
}

TEST(BytePlanes, LayoutsPerType) {
  auto widths = [](std::optional<TensorType> t) {
    std::vector<std::pair<int, bool>> v;
    for (const auto& l : plane_layouts(t)) v.emplace_back(l.width, l.rotated);
    return v;
  };
  using V = std::vector<std::pair<int, bool>>;
  EXPECT_EQ(widths(TensorType::BF16), (V{{2, true}, {2, false}}));
  EXPECT_EQ(widths(TensorType::F32), (V{{4, true}, {4, false}}));
  EXPECT_EQ(widths(TensorType::Q4_K), (V{{1, false}}));
  EXPECT_EQ(widths(std::nullopt).size(), 5u);
}

TEST(BytePlanes, RoundTripsEveryLayoutSizeAndOption) {
  std::mt19937 rng(9);
  std::normal_distribution<float> normal(0, 0.02f);
  for (size_t n : {0u, 1u, 2u, 3u, 5u, 7u, 8u, 9u, 63u, 1000u, 4099u}) {
    Bytes gauss(n);
    for (size_t i = 0; i + 1 < n; i += 2) {
      const uint16_t h = fp32_to_bf16(normal(rng));
      gauss[i] = static_cast<uint8_t>(h), gauss[i + 1] = static_cast<uint8_t>(h >> 8);
    }
    for (const Bytes& chunk : {gauss, random_bytes(n, static_cast<uint32_t>(n)), Bytes(n, 0x3C)})
      for (const auto& layout : plane_layouts(std::nullopt))
        for (const EncodeOptions& opts : {EncodeOptions{}, kRawOnly, EncodeOptions{.huffman = false}}) {
          const Bytes p = byte_planes_encode(chunk, layout, opts);
          Bytes out(n, 0xEE);
          byte_planes_decode(p, out);
          EXPECT_EQ(out, chunk) << "n=" << n << " width=" << int(layout.width) << " rotated=" << layout.rotated;
        }
  }
}

TEST(BytePlanes, DecoderRefusesInconsistentPayloads) {
  const Bytes chunk = {0x80, 0x3F, 0x80, 0xBF, 0x49, 0x40, 0xAA};
  const Bytes good = byte_planes_encode(chunk, {2, true}, kRawOnly);
  Bytes out(chunk.size());
  Bytes b = good;
  b[0] = 3;
  expect_integrity_error([&] { byte_planes_decode(b, out); }, "width 3");
  b = good;
  b[1] = 2;
  expect_integrity_error([&] { byte_planes_decode(b, out); }, "flags");
  b = good;
  b.push_back(0);
  expect_integrity_error([&] { byte_planes_decode(b, out); }, "unexpected bytes");
  b = good;
  b.pop_back();
  expect_integrity_error([&] { byte_planes_decode(b, out); }, "tail bytes");
  Bytes longer(chunk.size() + 2);
  expect_integrity_error([&] { byte_planes_decode(good, longer); }, "expected");
  const Bytes w1 = {1, 1, 0, 0, 0, 0, 0};  // width 1 cannot be rotated
  Bytes none;
  expect_integrity_error([&] { byte_planes_decode(w1, none); }, "flags");
}

}  // namespace
}  // namespace qkv::codec
