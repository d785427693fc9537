// Block fields (codec 3): a quantized tensor is a run of fixed-size blocks,
// each a few fields of very different statistics (Q4_K: fp16 scales d and
// dmin, 12 bytes of packed 6-bit sub-scales, 128 bytes of 4-bit quants).
// Gathering each field of every block into its own stream (all d's, all
// scales, all qs) and coding each stream on its own (stream.h: raw, Huffman
// or zstd, whichever is smallest) lets each coder see one distribution.
// Fields of multi-byte elements (the fp16 scales) are further split into
// byte planes, since their high byte (sign + exponent) is far more
// predictable than their low one.
//
// Payload layout:
//
//   u32  the GGUF type (types.h) whose block layout was used
//   one stream (stream.h) per field and byte plane: for each field of the
//        type's layout in order, for each byte b of its elements, byte b of
//        every element of that field, block by block
//   the chunk's last (size mod block bytes) bytes, verbatim
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "qkv/codec.h"
#include "qkv/types.h"

namespace qkv::codec {

struct BlockField {
  std::string_view name;
  uint16_t offset = 0;     // bytes from the start of the block
  uint16_t size = 0;       // bytes in the block
  uint8_t elem_bytes = 1;  // > 1: little-endian elements, split into that many byte planes
};

// The fields of one block of `type`, in byte order, covering the block
// exactly; empty when QKV Core has no layout for the type.
std::span<const BlockField> block_fields(TensorType type);

// nullopt when `type` has no field layout.
std::optional<std::vector<uint8_t>> block_fields_encode(std::span<const uint8_t> chunk, TensorType type,
                                                        const EncodeOptions& opts);
// Throws qkv::Error (Integrity) on any inconsistency.
void block_fields_decode(std::span<const uint8_t> payload, std::span<uint8_t> out);

}  // namespace qkv::codec
