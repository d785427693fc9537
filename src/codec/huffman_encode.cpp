// The Huffman encoder: counts per segment, code lengths, the exact payload
// size (so a losing coding stops before any bit is written), then the 4
// bitstreams written in place.
#include <algorithm>

#include "codec/bytes.h"
#include "codec/huffman.h"

namespace qkv::codec {
namespace {

struct Segment {
  size_t begin = 0, end = 0;
};

std::array<Segment, kHuffmanStreams> segments(size_t n) {
  const size_t q = (n + kHuffmanStreams - 1) / kHuffmanStreams;
  std::array<Segment, kHuffmanStreams> s;
  for (size_t k = 0; k < kHuffmanStreams; ++k) s[k] = {std::min(k * q, n), std::min((k + 1) * q, n)};
  return s;
}

// Writes codes least significant bit first into a buffer with 8 bytes of
// slack: each put stores the whole 64-bit accumulator and keeps the bits of
// the unfinished byte, so no branch decides when to flush.
class BitWriter {
 public:
  explicit BitWriter(uint8_t* p) : p_(p) {}
  void put(uint32_t code, unsigned len) {
    acc_ |= static_cast<uint64_t>(code) << bits_;
    bits_ += len;
    std::memcpy(p_, &acc_, 8);
    p_ += bits_ >> 3;
    acc_ >>= bits_ & ~7u;
    bits_ &= 7;
  }
  // The end of the coded bytes (a partial last byte included).
  uint8_t* finish() { return p_ + (bits_ != 0 ? 1 : 0); }

 private:
  uint8_t* p_;
  uint64_t acc_ = 0;
  unsigned bits_ = 0;
};

}  // namespace

std::optional<std::vector<uint8_t>> huffman_encode(std::span<const uint8_t> data, size_t limit) {
  const auto seg = segments(data.size());
  std::array<std::array<uint64_t, 256>, kHuffmanStreams> hist{};
  for (size_t k = 0; k < kHuffmanStreams; ++k)
    for (size_t i = seg[k].begin; i < seg[k].end; ++i) ++hist[k][data[i]];
  std::array<uint64_t, 256> total{};
  for (const auto& h : hist)
    for (size_t s = 0; s < 256; ++s) total[s] += h[s];

  const auto lengths = huffman_code_lengths(total, kHuffmanMaxBits);
  std::vector<uint8_t> present_lengths;
  for (uint8_t l : lengths)
    if (l != 0) present_lengths.push_back(l);
  const size_t header = huffman_header_bytes(present_lengths.size());
  std::array<size_t, kHuffmanStreams> stream_bytes{};
  size_t size = header;
  for (size_t k = 0; k < kHuffmanStreams; ++k) {
    uint64_t bits = 0;
    for (size_t s = 0; s < 256; ++s) bits += hist[k][s] * lengths[s];
    stream_bytes[k] = static_cast<size_t>((bits + 7) / 8);
    size += stream_bytes[k];
  }
  if (size >= limit) return std::nullopt;

  std::vector<uint8_t> out;
  out.reserve(size + 8);
  for (size_t byte = 0; byte < 32; ++byte) {
    uint8_t bits = 0;
    for (size_t i = 0; i < 8; ++i) bits = static_cast<uint8_t>(bits | (lengths[8 * byte + i] != 0) << i);
    put_u8(out, bits);
  }
  present_lengths.push_back(0);  // pads an odd count
  for (size_t j = 0; j + 1 < present_lengths.size(); j += 2)
    put_u8(out, static_cast<uint8_t>(present_lengths[j] | present_lengths[j + 1] << 4));
  for (size_t k = 0; k + 1 < kHuffmanStreams; ++k) put_u32(out, static_cast<uint32_t>(stream_bytes[k]));

  const auto codes = huffman_reversed_codes(lengths);
  out.resize(size + 8);  // the writer's slack, dropped below
  uint8_t* w = out.data() + header;
  for (size_t k = 0; k < kHuffmanStreams; ++k) {
    BitWriter bw(w);
    for (size_t i = seg[k].begin; i < seg[k].end; ++i) bw.put(codes[data[i]], lengths[data[i]]);
    w = bw.finish();
  }
  out.resize(size);
  return out;
}

}  // namespace qkv::codec
