// Canonical Huffman coding of a byte stream, codes at most 11 bits long so
// that one 2048-entry table lookup decodes a symbol (or, where codes are
// short, up to 4 of them) and five lookups fit in one 64-bit refill. The
// symbols are cut into 4 equal segments, each its own bitstream, and the
// decoder runs the 4 in lockstep: the lookups of different segments do not
// wait on each other.
//
// Payload layout (integers little-endian):
//
//   32 bytes   which byte values occur: bit s % 8 of byte s / 8 for symbol s
//   ceil(m/2)  the code lengths (1..11) of the m symbols that occur, in
//              ascending symbol order, two per byte, the first in the low
//              nibble (an unused last high nibble is zero). The lengths
//              form a complete prefix code (Kraft sum exactly 1).
//   3 x u32    byte lengths of bitstreams 0, 1, 2; bitstream 3 is the rest
//   bitstreams 0..3
//
// With n symbols and q = ceil(n / 4), bitstream k codes symbols
// [min(kq, n), min((k+1)q, n)). Codes are canonical (assigned in order of
// length, then symbol value, as in DEFLATE) and written least significant
// bit first: a code's first bit goes to the lowest free bit of the current
// byte. A bitstream's last byte is padded with zero bits.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <vector>

namespace qkv::codec {

constexpr int kHuffmanMaxBits = 11;
constexpr size_t kHuffmanStreams = 4;
// The bytes before the bitstreams when m symbols occur.
constexpr size_t huffman_header_bytes(size_t m) { return 32 + (m + 1) / 2 + 4 * (kHuffmanStreams - 1); }

// Optimal code lengths no longer than max_bits for the given symbol counts
// (package-merge). Symbols with count 0 get length 0, except that a code
// always has at least two symbols: with fewer than two used, the smallest
// unused symbol is given length 1 as well. Throws (Usage) when 2^max_bits is
// less than the number of symbols.
std::array<uint8_t, 256> huffman_code_lengths(const std::array<uint64_t, 256>& counts, int max_bits);
// The canonical code of each symbol, bit-reversed so that it can be written
// (and looked up) least significant bit first; lengths must be a prefix code.
std::array<uint16_t, 256> huffman_reversed_codes(const std::array<uint8_t, 256>& lengths);

// nullopt when the payload would not be smaller than `limit` bytes (the size
// is known from the counts before anything is coded).
std::optional<std::vector<uint8_t>> huffman_encode(std::span<const uint8_t> data,
                                                   size_t limit = std::numeric_limits<size_t>::max());
// Decodes exactly out.size() symbols; throws qkv::Error (Integrity) when the
// lengths are not a complete code or a bitstream does not end where its
// length says.
void huffman_decode(std::span<const uint8_t> payload, std::span<uint8_t> out);

}  // namespace qkv::codec
