// Byte planes (codec 2): the bytes of multi-byte elements are far from
// equally predictable. In a bfloat16 weight the exponent is skewed (a few
// values cover most weights) while the sign and mantissa are close to
// random. Gathering byte i of every element into plane i and coding each
// plane on its own (stream.h picks raw, Huffman or zstd per plane) lets the
// entropy coder see the skew. Rotating every element left by one bit first
// (ZipNN's refinement) makes a float's exponent one whole byte: for bf16,
// plane 1 = exponent, plane 0 = mantissa << 1 | sign; for fp32, plane 3 =
// exponent, plane 2 = top mantissa bits << 1 | sign.
//
// Payload layout:
//
//   u8   width w: 1, 2 or 4 bytes per element
//   u8   flags: bit 0 = rotated (every element, read little-endian, was
//        rotated left by one bit before the split); other bits zero; a width-1
//        payload is never rotated
//   w streams (stream.h); stream i holds byte i of every (rotated) element
//   the chunk's last (size mod w) bytes, verbatim
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "qkv/codec.h"
#include "qkv/types.h"

namespace qkv::codec {

struct PlaneLayout {
  uint8_t width = 1;
  bool rotated = false;
};

// The layouts worth trying for elements of `type` (all of them when unknown).
std::vector<PlaneLayout> plane_layouts(std::optional<TensorType> type);

std::vector<uint8_t> byte_planes_encode(std::span<const uint8_t> chunk, PlaneLayout layout, const EncodeOptions& opts);
// Throws qkv::Error (Integrity) on any inconsistency.
void byte_planes_decode(std::span<const uint8_t> payload, std::span<uint8_t> out);

}  // namespace qkv::codec
