// The Huffman decoder's hot loops: 4 bitstreams in lockstep, each refilled
// once per 5 table steps from a 64-bit little-endian load. A step is one
// lookup and a shift, and yields one symbol, or up to 4 where codes are
// short (the multi-symbol table). Loads near a bitstream's end are
// zero-extended instead of reading past it, so a corrupt payload can make
// wrong symbols but never an out-of-bounds access; each bitstream's final
// position is then checked against its length.
#include <algorithm>
#include <bit>
#include <limits>

#include "codec/bytes.h"
#include "codec/huffman.h"

namespace qkv::codec {
namespace {

constexpr uint32_t kTableSize = 1u << kHuffmanMaxBits;
constexpr uint64_t kMask = kTableSize - 1;
// A refill leaves at least 56 bits; 5 codes of at most 11 bits use 55.
constexpr size_t kPerRefill = 5;
static_assert(kPerRefill * kHuffmanMaxBits <= 56);

// Entry i: the symbol whose code is a prefix of the bits i (least
// significant first), and the code's length.
struct Entry {
  uint8_t sym, len;
};
using Table = std::array<Entry, kTableSize>;

Table build_table(const std::array<uint8_t, 256>& lengths) {
  const auto codes = huffman_reversed_codes(lengths);
  Table t{};
  for (uint32_t s = 0; s < 256; ++s) {
    const uint32_t l = lengths[s];
    if (l == 0) continue;
    for (uint32_t i = codes[s]; i < kTableSize; i += 1u << l) t[i] = {static_cast<uint8_t>(s), static_cast<uint8_t>(l)};
  }
  return t;
}

struct BitReader {
  const uint8_t* data;
  size_t len;
  size_t pos = 0;    // next byte to load
  uint64_t buf = 0;  // unread bits, next one lowest
  unsigned count = 0;

  // Tops the buffer up to 56..63 bits (Giesen's branch-free refill): the
  // load may overlap bytes already buffered, which OR in as the same bits.
  // Needs pos + 8 <= len.
  void refill_unchecked() {
    buf |= load_u64(data + pos) << count;
    pos += (63 - count) >> 3;
    count |= 56;
  }
  // Near the end, the bytes past the bitstream read as zeros.
  void refill() {
    if (pos + 8 <= len) return refill_unchecked();
    uint64_t v = 0;
    if (pos < len) std::memcpy(&v, data + pos, len - pos);
    buf |= v << count;
    pos += (63 - count) >> 3;
    count |= 56;
  }
  // How many unchecked refills are safe from here: each advances pos by at most 7.
  size_t unchecked_refills() const { return pos + 8 <= len ? (len - pos - 8) / 7 + 1 : 0; }
  uint8_t decode(const Table& t) {
    const Entry e = t[buf & kMask];
    buf >>= e.len;
    count -= e.len;
    return e.sym;
  }
  uint64_t bits_consumed() const { return uint64_t{pos} * 8 - count; }
};

// Entry i of the multi-symbol table: every symbol whose whole code lies in
// the 11 bits i (least significant first), up to 4, and their total length.
// Where codes are short (a float's exponent averages under 3 bits) one
// lookup yields 3 or 4 symbols instead of 1.
constexpr size_t kMultiMax = 4;
struct MultiEntry {
  uint8_t syms[kMultiMax];
  uint8_t count, bits;
};
using MultiTable = std::array<MultiEntry, kTableSize>;

MultiTable build_multi_table(const Table& single) {
  MultiTable t{};
  for (uint32_t i = 0; i < kTableSize; ++i) {
    MultiEntry& e = t[i];
    uint32_t rest = i, avail = kHuffmanMaxBits;
    while (e.count < kMultiMax) {
      const Entry s = single[rest & kMask];  // valid only if the code fits the bits left
      if (s.len > avail) break;
      e.syms[e.count++] = s.sym;
      e.bits = static_cast<uint8_t>(e.bits + s.len);
      rest >>= s.len;
      avail -= s.len;
    }
  }
  return t;
}

// Multi-symbol lookups pay off when codes average under 6 bits; building
// their table costs about as much as decoding 10000 symbols one by one.
constexpr size_t kMultiMinSymbols = 10000;
constexpr size_t kMultiMaxAverageBits = 6;

// Decodes the four bitstreams in lockstep: groups of one refill and
// kPerRefill table steps, each step writing at most kStepBytes bytes (a
// multi-symbol step stores kMultiMax bytes and keeps `count` of them).
// Each round runs as many groups as every stream can take without a bounds
// check on its input (unchecked refills) or its output (its segment end);
// the last few symbols of each segment are left to the careful loop.
// The readers are copied into named locals so that their state lives in
// registers: the byte stores could otherwise alias them.
template <size_t kStepBytes, class Step>
void decode_lockstep(std::array<BitReader, kHuffmanStreams>& in, std::array<uint8_t*, kHuffmanStreams>& out,
                     const std::array<uint8_t*, kHuffmanStreams>& end, Step step) {
  static_assert(kHuffmanStreams == 4);
  constexpr size_t kGroupBytes = kPerRefill * kStepBytes;
  for (;;) {
    size_t groups = std::numeric_limits<size_t>::max();
    for (size_t k = 0; k < kHuffmanStreams; ++k)
      groups = std::min({groups, in[k].unchecked_refills(), static_cast<size_t>(end[k] - out[k]) / kGroupBytes});
    if (groups == 0) return;
    BitReader a = in[0], b = in[1], c = in[2], d = in[3];
    uint8_t *oa = out[0], *ob = out[1], *oc = out[2], *od = out[3];
    for (size_t g = 0; g < groups; ++g) {
      a.refill_unchecked();
      b.refill_unchecked();
      c.refill_unchecked();
      d.refill_unchecked();
#pragma GCC unroll 5
      for (size_t j = 0; j < kPerRefill; ++j) {
        step(a, oa);
        step(b, ob);
        step(c, oc);
        step(d, od);
      }
    }
    in = {a, b, c, d};
    out = {oa, ob, oc, od};
  }
}

}  // namespace

void huffman_decode(std::span<const uint8_t> payload, std::span<uint8_t> out) {
  PayloadReader r(payload);
  const auto present = r.bytes(32, "symbol bitmap");
  size_t m = 0;
  for (uint8_t byte : present) m += static_cast<size_t>(std::popcount(byte));
  const size_t lengths_at = r.pos();
  const auto packed = r.bytes((m + 1) / 2, "code lengths");
  std::array<uint8_t, 256> lengths{};
  uint32_t kraft = 0;
  for (size_t s = 0, j = 0; s < 256; ++s) {
    if ((present[s / 8] >> (s % 8) & 1) == 0) continue;
    const auto l = static_cast<uint8_t>(packed[j / 2] >> (j % 2 * 4) & 0xF);
    if (l == 0 || l > kHuffmanMaxBits)
      corrupt("Huffman code length " + std::to_string(l) + " of symbol " + std::to_string(s) + " is not 1.." +
                  std::to_string(kHuffmanMaxBits),
              lengths_at + j / 2);
    lengths[s] = l;
    kraft += kTableSize >> l;
    ++j;
  }
  if (m % 2 == 1 && packed[m / 2] >> 4 != 0)
    corrupt("Huffman code lengths end in a nonzero pad nibble", lengths_at + m / 2);
  if (kraft != kTableSize) corrupt("Huffman code lengths do not form a complete prefix code", 0);

  std::array<size_t, kHuffmanStreams> len{};
  size_t used = 0;
  for (size_t k = 0; k + 1 < kHuffmanStreams; ++k) used += len[k] = r.u32("bitstream length");
  if (used > r.left())
    corrupt("Huffman bitstreams claim " + std::to_string(used) + " bytes, " + std::to_string(r.left()) + " remain",
            r.pos());
  len[kHuffmanStreams - 1] = r.left() - used;

  const Table table = build_table(lengths);
  const size_t n = out.size(), q = (n + kHuffmanStreams - 1) / kHuffmanStreams;
  std::array<BitReader, kHuffmanStreams> in{};
  std::array<uint8_t*, kHuffmanStreams> o{}, seg_end{};  // segment k is [o[k], seg_end[k])
  std::array<size_t, kHuffmanStreams> at{};
  for (size_t k = 0; k < kHuffmanStreams; ++k) {
    at[k] = r.pos();
    in[k] = BitReader{r.bytes(len[k], "bitstream").data(), len[k]};
    o[k] = out.data() + std::min(k * q, n);
    seg_end[k] = out.data() + std::min((k + 1) * q, n);
  }

  const size_t coded_bytes = used + len[kHuffmanStreams - 1];
  if (n >= kMultiMinSymbols && coded_bytes * 8 < kMultiMaxAverageBits * n) {
    const MultiTable multi = build_multi_table(table);
    decode_lockstep<kMultiMax>(in, o, seg_end, [&](BitReader& br, uint8_t*& dst) {
      const MultiEntry& e = multi[br.buf & kMask];
      std::memcpy(dst, e.syms, kMultiMax);
      dst += e.count;
      br.buf >>= e.bits;
      br.count -= e.bits;
    });
  } else {
    decode_lockstep<1>(in, o, seg_end, [&](BitReader& br, uint8_t*& dst) { *dst++ = br.decode(table); });
  }
  for (size_t k = 0; k < kHuffmanStreams; ++k) {
    while (o[k] != seg_end[k]) {
      in[k].refill();
      *o[k]++ = in[k].decode(table);
    }
    if ((in[k].bits_consumed() + 7) / 8 != len[k])
      corrupt("Huffman bitstream " + std::to_string(k) + " is " + std::to_string(len[k]) +
                  " bytes long but its symbols end after " + std::to_string(in[k].bits_consumed()) + " bits",
              at[k]);
  }
}

}  // namespace qkv::codec
