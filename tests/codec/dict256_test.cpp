// dict256's exact byte layout on hand-built chunks (the expected payloads are
// written out here from the layout in src/codec/dict256.h, not produced by
// the encoder), and its decoder's refusals.
#include "codec/dict256.h"

#include "qkv/error.h"
#include "test_support.h"

namespace qkv::codec {
namespace {

using Bytes = std::vector<uint8_t>;

// Little-endian bytes of 16-bit values.
Bytes le16(std::initializer_list<uint16_t> values) {
  Bytes b;
  for (uint16_t v : values) {
    b.push_back(static_cast<uint8_t>(v));
    b.push_back(static_cast<uint8_t>(v >> 8));
  }
  return b;
}

Bytes encode(const Bytes& chunk) {
  auto p = dict256_encode(chunk);
  EXPECT_TRUE(p.has_value());
  return p.value_or(Bytes{});
}

Bytes decode(const Bytes& payload, size_t size) {
  Bytes out(size);
  dict256_decode(payload, out);
  return out;
}

void expect_integrity_error(const Bytes& payload, size_t size, const std::string& needle) {
  try {
    decode(payload, size);
    ADD_FAILURE() << "payload accepted; expected an error mentioning '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Integrity) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Dict256, EmptyChunkIsAHeaderOnly) {
  EXPECT_EQ(encode({}), (Bytes{0, 0, 0, 0, 0, 0}));
  EXPECT_TRUE(decode({0, 0, 0, 0, 0, 0}, 0).empty());
}

TEST(Dict256, OddLengthIsNotEligible) {
  EXPECT_FALSE(dict256_encode(Bytes{1, 2, 3}).has_value());
  EXPECT_FALSE(dict256_encode(Bytes{7}).has_value());
}

TEST(Dict256, AllCodedShortGroup) {
  // 3 elements: 0x1234 twice, 0xABCD once -> codebook [0x1234, 0xABCD].
  const Bytes chunk = le16({0x1234, 0xABCD, 0x1234});
  const Bytes expected = {
      0x03, 0x00, 0x00, 0x00,  // n = 3
      0x02, 0x00,              // K = 2
      0x34, 0x12, 0xCD, 0xAB,  // codebook
      0x07, 0x00, 0x01, 0x00,  // bitmap 0b111 (bits 3..7 zero), indices 0 1 0
  };
  EXPECT_EQ(encode(chunk), expected);
  EXPECT_EQ(decode(expected, chunk.size()), chunk);
}

TEST(Dict256, FullGroupThenTail) {
  // 5 appears 7 times, 9 twice, 7 once: codebook [5, 9, 7].
  const Bytes chunk = le16({5, 5, 5, 9, 5, 5, 5, 5, 9, 7});
  const Bytes expected = {
      0x0A, 0x00, 0x00, 0x00,                                // n = 10
      0x03, 0x00,                                            // K = 3
      0x05, 0x00, 0x09, 0x00, 0x07, 0x00,                    // codebook
      0xFF, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,  // group 0
      0x03, 0x01, 0x02,                                      // group 1: 2 elements
  };
  EXPECT_EQ(encode(chunk), expected);
  EXPECT_EQ(decode(expected, chunk.size()), chunk);
}

TEST(Dict256, EqualCountsGoToTheSmallerValueFirst) {
  const Bytes chunk = le16({0x0300, 0x0100, 0x0200});
  const Bytes expected = {
      0x03, 0x00, 0x00, 0x00, 0x03, 0x00,  // n = 3, K = 3
      0x00, 0x01, 0x00, 0x02, 0x00, 0x03,  // codebook 0x0100, 0x0200, 0x0300
      0x07, 0x02, 0x00, 0x01,
  };
  EXPECT_EQ(encode(chunk), expected);
}

// More than 256 distinct values: 0..255 twice each (in pairs), then 8 values
// seen once (a group with nothing coded), then 7, 2000, 7 (a mixed 3-element
// tail). Counts: 7 -> 4, every other v < 256 -> 2, the rest 1. Codebook:
// 7, then 0..6 and 8..255 ascending; so index(7) = 0, index(v < 7) = v + 1,
// index(v > 7) = v. 1000..1007 and 2000 stay raw.
TEST(Dict256, MoreThan256DistinctValuesMixesCodedAndRaw) {
  Bytes chunk;
  auto push = [&](uint16_t v) {
    chunk.push_back(static_cast<uint8_t>(v));
    chunk.push_back(static_cast<uint8_t>(v >> 8));
  };
  for (uint16_t v = 0; v < 256; ++v) push(v), push(v);
  for (uint16_t v = 1000; v < 1008; ++v) push(v);
  push(7), push(2000), push(7);
  ASSERT_EQ(chunk.size(), 2u * 523);

  Bytes expected = {0x0B, 0x02, 0x00, 0x00,  // n = 523
                    0x00, 0x01,              // K = 256
                    0x07, 0x00};             // codebook[0] = 7
  for (uint8_t v = 0; v < 7; ++v) expected.insert(expected.end(), {v, 0x00});
  for (int v = 8; v < 256; ++v) expected.insert(expected.end(), {static_cast<uint8_t>(v), 0x00});
  auto index = [](int v) { return static_cast<uint8_t>(v == 7 ? 0 : v < 7 ? v + 1 : v); };
  for (int g = 0; g < 64; ++g) {  // group g: 4g, 4g, 4g+1, 4g+1, ..., all coded
    expected.push_back(0xFF);
    for (int v = 4 * g; v < 4 * g + 4; ++v) expected.insert(expected.end(), {index(v), index(v)});
  }
  expected.push_back(0x00);  // 1000..1007, all raw
  for (int v = 1000; v < 1008; ++v) expected.insert(expected.end(), {static_cast<uint8_t>(v & 0xFF), 0x03});
  expected.insert(expected.end(), {0x05, 0x00, 0xD0, 0x07, 0x00});  // 7, raw 2000, 7

  EXPECT_EQ(encode(chunk), expected);
  EXPECT_EQ(decode(expected, chunk.size()), chunk);
}

TEST(Dict256, DecoderAcceptsRawValuesThatAreInTheCodebook) {
  // Not what the encoder writes, but a valid reading of the layout.
  const Bytes payload = {0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x34, 0x12, 0x00, 0x34, 0x12};
  EXPECT_EQ(decode(payload, 2), le16({0x1234}));
}

TEST(Dict256, DecoderRefusesInconsistentPayloads) {
  const Bytes good = {0x03, 0x00, 0x00, 0x00, 0x02, 0x00, 0x34, 0x12, 0xCD, 0xAB, 0x07, 0x00, 0x01, 0x00};
  ASSERT_EQ(decode(good, 6), le16({0x1234, 0xABCD, 0x1234}));

  expect_integrity_error(good, 8, "16-bit elements");  // chunk size disagrees with n
  expect_integrity_error(good, 5, "16-bit elements");  // odd chunk size
  Bytes b = good;
  b[4] = 0x04;  // K = 4 > n = 3
  expect_integrity_error(b, 6, "codebook size");
  b = good;
  b[4] = 0x01, b[5] = 0x01;  // K = 257
  expect_integrity_error(b, 6, "codebook size");
  b = good;
  b[4] = 0x00;  // K = 0 with elements
  expect_integrity_error(b, 6, "codebook size");
  b = good;
  b[8] = 0x34, b[9] = 0x12;  // codebook holds 0x1234 twice
  expect_integrity_error(b, 6, "twice");
  b = good;
  b[12] = 0x02;  // index 2 with K = 2
  expect_integrity_error(b, 6, "past the codebook");
  b = good;
  b[10] = 0x0F;  // bitmap flags a 4th element
  expect_integrity_error(b, 6, "past the end");
  b = good;
  b.push_back(0);
  expect_integrity_error(b, 6, "unexpected bytes");
  b = good;
  b.pop_back();
  expect_integrity_error(b, 6, "needs 3 bytes");
  b = good;
  b[10] = 0x03;  // element 2 raw: the group needs 4 bytes, 3 remain
  expect_integrity_error(b, 6, "needs 4 bytes");
  expect_integrity_error(Bytes(good.begin(), good.begin() + 10), 6, "ends before group 0");
  expect_integrity_error(Bytes(good.begin(), good.begin() + 5), 6, "truncated");
}

}  // namespace
}  // namespace qkv::codec
