// The Huffman coder: code lengths against hand-worked and independently
// computed optima, one payload written out byte by byte, round trips over
// the sizes where the 4 segments and the 5-symbol groups have edge cases,
// and the decoder's refusals.
#include "codec/huffman.h"

#include <algorithm>
#include <cmath>
#include <queue>
#include <random>

#include "qkv/error.h"
#include "test_support.h"

namespace qkv::codec {
namespace {

using Bytes = std::vector<uint8_t>;
using Counts = std::array<uint64_t, 256>;

uint64_t kraft_units(const std::array<uint8_t, 256>& lengths, int max_bits) {
  uint64_t sum = 0;
  for (uint8_t l : lengths)
    if (l) sum += uint64_t{1} << (max_bits - l);
  return sum;
}

uint64_t cost(const Counts& counts, const std::array<uint8_t, 256>& lengths) {
  uint64_t c = 0;
  for (size_t s = 0; s < 256; ++s) c += counts[s] * lengths[s];
  return c;
}

// The textbook Huffman cost (no length limit): the sum of all merged weights.
uint64_t unlimited_huffman_cost(const Counts& counts) {
  std::priority_queue<uint64_t, std::vector<uint64_t>, std::greater<>> q;
  for (uint64_t c : counts)
    if (c) q.push(c);
  uint64_t total = 0;
  while (q.size() > 1) {
    const uint64_t a = q.top();
    q.pop();
    const uint64_t b = q.top();
    q.pop();
    total += a + b;
    q.push(a + b);
  }
  return total;
}

Bytes roundtrip(const Bytes& data) {
  const auto payload = huffman_encode(data);
  EXPECT_TRUE(payload.has_value());
  Bytes out(data.size(), 0xEE);
  huffman_decode(*payload, out);
  return out;
}

TEST(HuffmanLengths, LimitBindsHandWorked) {
  // Weights 1 1 2 4 8: unlimited Huffman gives lengths 4 4 3 2 1 (cost 30).
  // With at most 3 bits the complete codes are {1,3,3,3,3} (cost 8 + 3*8 =
  // 32) and {2,2,2,3,3} (cost 34): the optimum keeps 1 bit for the 8.
  Counts c{};
  c[10] = 1, c[11] = 1, c[12] = 2, c[13] = 4, c[14] = 8;
  auto l = huffman_code_lengths(c, 8);
  EXPECT_EQ(std::vector<int>(l.begin() + 10, l.begin() + 15), (std::vector<int>{4, 4, 3, 2, 1}));
  l = huffman_code_lengths(c, 3);
  EXPECT_EQ(std::vector<int>(l.begin() + 10, l.begin() + 15), (std::vector<int>{3, 3, 3, 3, 1}));
  EXPECT_EQ(cost(c, l), 32u);
  EXPECT_THROW(huffman_code_lengths(c, 2), Error);  // 5 symbols need 3 bits
}

TEST(HuffmanLengths, OneOrNoSymbolStillMakesACompleteCode) {
  Counts c{};
  c[0] = 5;
  auto l = huffman_code_lengths(c, kHuffmanMaxBits);
  EXPECT_EQ(l[0], 1);
  EXPECT_EQ(l[1], 1);  // the smallest unused symbol
  EXPECT_EQ(kraft_units(l, kHuffmanMaxBits), 1u << kHuffmanMaxBits);
  c = {};
  c[200] = 1;
  l = huffman_code_lengths(c, kHuffmanMaxBits);
  EXPECT_EQ(l[200], 1);
  EXPECT_EQ(l[0], 1);
  l = huffman_code_lengths(Counts{}, kHuffmanMaxBits);
  EXPECT_EQ(l[0], 1);
  EXPECT_EQ(l[1], 1);
}

TEST(HuffmanLengths, OptimalWhenTheLimitDoesNotBindAndValidWhenItDoes) {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    Counts c{};
    const int used = 2 + static_cast<int>(rng() % 255);
    for (int i = 0; i < used; ++i) c[rng() % 256] = 1 + rng() % (trial % 2 ? 1000000 : 20);
    const auto l = huffman_code_lengths(c, kHuffmanMaxBits);
    EXPECT_EQ(kraft_units(l, kHuffmanMaxBits), 1u << kHuffmanMaxBits);
    for (size_t s = 0; s < 256; ++s) EXPECT_EQ(l[s] != 0, c[s] != 0) << "symbol " << s;
    EXPECT_LE(*std::max_element(l.begin(), l.end()), kHuffmanMaxBits);
    const auto unlimited = huffman_code_lengths(c, 64);
    EXPECT_EQ(cost(c, unlimited), unlimited_huffman_cost(c));
    if (*std::max_element(unlimited.begin(), unlimited.end()) <= kHuffmanMaxBits) {
      EXPECT_EQ(cost(c, l), cost(c, unlimited));
    }
  }
  // Fibonacci weights: the unlimited code is 25 deep; the limit holds.
  Counts fib{};
  fib[0] = fib[1] = 1;
  for (int s = 2; s < 26; ++s) fib[s] = fib[s - 1] + fib[s - 2];
  const auto deep = huffman_code_lengths(fib, 64);
  EXPECT_EQ(*std::max_element(deep.begin(), deep.end()), 25);
  const auto l = huffman_code_lengths(fib, kHuffmanMaxBits);
  EXPECT_EQ(*std::max_element(l.begin(), l.end()), kHuffmanMaxBits);
  EXPECT_EQ(kraft_units(l, kHuffmanMaxBits), 1u << kHuffmanMaxBits);
}

TEST(Huffman, PayloadLayoutByHand) {
  // "aab": a and b get 1 bit each; canonical order gives a = 0, b = 1. With
  // q = 1, segments are "a", "a", "b", "": bitstreams 0x00, 0x00, 0x01, -.
  const Bytes data = {'a', 'a', 'b'};
  Bytes expected(32, 0);
  expected[12] = 0x06;  // 'a' = 97 = 8 * 12 + 1 and 'b' = 98: bits 1 and 2 of byte 12
  const Bytes rest = {
      0x11,                    // lengths of a (low nibble) and b: 1 and 1
      0x01, 0x00, 0x00, 0x00,  // bitstream 0 is 1 byte long
      0x01, 0x00, 0x00, 0x00,  // bitstream 1 too
      0x01, 0x00, 0x00, 0x00,  // bitstream 2 too; bitstream 3 is empty
      0x00, 0x00, 0x01,        // the bitstreams
  };
  expected.insert(expected.end(), rest.begin(), rest.end());
  EXPECT_EQ(huffman_encode(data), expected);
  EXPECT_EQ(roundtrip(data), data);
}

TEST(Huffman, CodesAreWrittenLeastSignificantBitFirst) {
  // Counts a:4 b:2 c:1 d:1 -> lengths 1 2 3 3, canonical codes a=0, b=10,
  // c=110, d=111. 8 symbols make q = 2: bitstream k codes symbols 2k and
  // 2k+1. Bitstream 0 is a (0) then b (first bit 1, then 0); least
  // significant bit first that is 0b010 = 0x02.
  const Bytes data = {'a', 'b', 'a', 'c', 'a', 'd', 'a', 'b'};
  const auto p = huffman_encode(data);
  ASSERT_TRUE(p.has_value());
  const size_t h = huffman_header_bytes(4);
  ASSERT_EQ(p->size(), h + 4);
  EXPECT_EQ((*p)[32], 0x21);     // lengths of a and b
  EXPECT_EQ((*p)[33], 0x33);     // lengths of c and d
  EXPECT_EQ((*p)[h + 0], 0x02);  // a b
  EXPECT_EQ((*p)[h + 1], 0x06);  // a c: 0, 1 1 0 -> 0b0110
  EXPECT_EQ((*p)[h + 2], 0x0E);  // a d: 0, 1 1 1 -> 0b1110
  EXPECT_EQ((*p)[h + 3], 0x02);  // a b
  EXPECT_EQ(roundtrip(data), data);
}

TEST(Huffman, RoundTripsEverySmallSizeAndShape) {
  std::mt19937 rng(3);
  for (size_t n = 0; n < 200; ++n) {
    Bytes random(n), constant(n, 0x42), skewed(n);
    for (auto& b : random) b = static_cast<uint8_t>(rng());
    for (auto& b : skewed) b = static_cast<uint8_t>(std::min<unsigned>(std::countr_zero(rng() | 0x800u), 255));
    EXPECT_EQ(roundtrip(random), random) << n;
    EXPECT_EQ(roundtrip(constant), constant) << n;
    EXPECT_EQ(roundtrip(skewed), skewed) << n;
  }
}

TEST(Huffman, RoundTripsLargeInputsNearTheEntropy) {
  std::mt19937 rng(4);
  std::normal_distribution<double> normal(0, 12);
  Bytes data(1 << 20);
  for (auto& b : data) b = static_cast<uint8_t>(static_cast<int>(std::lround(normal(rng))) & 0xFF);
  std::array<double, 256> c{};
  for (uint8_t b : data) ++c[b];
  double entropy_bits = 0;
  for (double x : c)
    if (x) entropy_bits -= x * std::log2(x / static_cast<double>(data.size()));
  const auto p = huffman_encode(data);
  ASSERT_TRUE(p.has_value());
  EXPECT_LT(static_cast<double>(p->size()) * 8, entropy_bits * 1.01 + 8 * huffman_header_bytes(256) + 32);
  EXPECT_EQ(roundtrip(data), data);

  Bytes fib;  // very skewed: the 11-bit limit binds
  for (int s = 0, reps = 1, prev = 1; s < 20; ++s) {
    fib.insert(fib.end(), static_cast<size_t>(reps), static_cast<uint8_t>(s));
    std::tie(reps, prev) = std::pair(reps + prev, reps);
  }
  std::shuffle(fib.begin(), fib.end(), rng);
  EXPECT_EQ(roundtrip(fib), fib);
}

// Short codes over at least 10000 symbols take the multi-symbol path; its
// rounds end near each segment's end, so try many lengths there.
TEST(Huffman, RoundTripsTheMultiSymbolPath) {
  std::mt19937 rng(6);
  for (size_t n : {10000u, 10001u, 10002u, 10003u, 10004u, 10005u, 10023u, 65543u}) {
    Bytes data(n);
    for (auto& b : data) b = static_cast<uint8_t>(std::countr_zero(rng() | 0x1000u) + 100);
    EXPECT_EQ(roundtrip(data), data) << n;
    data[n / 3] = 7;  // one rare symbol with a long code
    EXPECT_EQ(roundtrip(data), data) << n;
  }
}

// Every byte flipped three ways, on both decoding paths: the decoder either
// reports an Integrity error or yields some bytes, never touching memory
// outside the payload and the output (run under ASan + UBSan).
TEST(Huffman, CorruptPayloadsNeverCrash) {
  std::mt19937 rng(8);
  for (size_t n : {3000u, 12000u}) {
    Bytes data(n);
    for (auto& b : data) b = static_cast<uint8_t>(std::countr_zero(rng() | 0x400u));
    const Bytes good = *huffman_encode(data);
    Bytes out(n);
    for (size_t i = 0; i < good.size(); ++i)
      for (uint8_t mask : {0x01, 0x10, 0xFF}) {
        Bytes bad = good;
        bad[i] ^= mask;
        try {
          huffman_decode(bad, out);
        } catch (const Error& e) {
          EXPECT_EQ(e.kind(), ErrorKind::Integrity);
        }
      }
  }
}

TEST(Huffman, LimitSkipsCodingThatWouldNotWin) {
  Bytes random(1000);
  std::mt19937 rng(5);
  for (auto& b : random) b = static_cast<uint8_t>(rng());
  EXPECT_FALSE(huffman_encode(random, random.size()).has_value());
  EXPECT_TRUE(huffman_encode(Bytes(1000, 1), 1000).has_value());
}

void expect_integrity_error(const Bytes& payload, size_t n, const std::string& needle) {
  Bytes out(n);
  try {
    huffman_decode(payload, out);
    ADD_FAILURE() << "payload accepted; expected an error mentioning '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Integrity) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Huffman, DecoderRefusesInconsistentPayloads) {
  const Bytes data = {'a', 'b', 'a', 'c', 'a', 'd', 'a', 'b'};
  const Bytes good = *huffman_encode(data);  // lengths a=1 b=2 c=3 d=3 at bytes 32, 33
  Bytes b = good;
  b[32] = 0x2C;  // a: 12 bits
  expect_integrity_error(b, 8, "is not 1..11");
  b[32] = 0x20;  // a: 0 bits, yet a occurs
  expect_integrity_error(b, 8, "is not 1..11");
  b[32] = 0x22;  // a: 2 bits, so the Kraft sum is below 1
  expect_integrity_error(b, 8, "complete prefix code");
  b = good;
  b[34] = 0xFF;  // bitstream 0 claims more than there is
  expect_integrity_error(b, 8, "claim");
  b = good;
  b.push_back(0);  // bitstream 3 one byte too long
  expect_integrity_error(b, 8, "bitstream 3");
  b = *huffman_encode(Bytes{'a', 'a', 'b', 'c'});  // 3 lengths: the last byte's high nibble is padding
  b[33] |= 0x10;
  expect_integrity_error(b, 4, "pad nibble");
  expect_integrity_error(good, 9, "bitstream");  // more symbols than coded
  expect_integrity_error(Bytes(good.begin(), good.begin() + 20), 8, "truncated");
}

}  // namespace
}  // namespace qkv::codec
