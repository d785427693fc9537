// dict256 (codec 1), the project's founding idea: the 256 most frequent
// 16-bit values of a chunk become 1-byte indices into a codebook; every other
// value stays as its 2 raw bytes; a bitmap byte per group of 8 elements says
// which is which.
//
// Payload layout (all integers little-endian):
//
//   offset 0       u32   n, the number of 16-bit elements (chunk bytes / 2)
//   offset 4       u16   K, the codebook size (0..256; 0 exactly when n = 0)
//   offset 6       K x u16  the codebook: entry j is the value that index j stands for
//   offset 6 + 2K  ceil(n / 8) groups of up to 8 elements, each:
//                    u8 bitmap: bit i (LSB first) set = element i is coded;
//                       bits past the end of a short last group are zero
//                    then per element, in order: coded = u8 index (< K),
//                       raw = u16 value
//
// The codebook holds the min(256, distinct values) most frequent values,
// most frequent first; equal counts go to the smaller value first. Every
// element whose value is in the codebook is coded.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace qkv::codec {

// nullopt when the chunk is not a whole number of 16-bit values (odd length)
// or has more than 2^32 - 1 of them.
std::optional<std::vector<uint8_t>> dict256_encode(std::span<const uint8_t> chunk);
// Throws qkv::Error (Integrity) on any inconsistency.
void dict256_decode(std::span<const uint8_t> payload, std::span<uint8_t> out);

}  // namespace qkv::codec
