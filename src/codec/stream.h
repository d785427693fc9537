// Streams: the unit the byte-plane and block-field codecs code separately
// (one byte plane, one block field). Each is stored the smallest of three
// ways (a coded way only if it saves at least 1/64), tried in turn:
//
//   u8   method: 0 = raw, 1 = Huffman (huffman.h), 2 = zstd (frames)
//   u32  little-endian byte length L of what follows
//   L bytes
//
// The decoded length is not stored: the enclosing codec knows it.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "codec/bytes.h"
#include "qkv/codec.h"

namespace qkv::codec {

enum class StreamMethod : uint8_t { Raw = 0, Huffman = 1, Zstd = 2 };

// Appends the smallest coding of `data` allowed by opts to `out`, where a
// coded stream must save at least 1/64 of the raw size to beat raw; ties go
// to the method that decodes faster (raw, then Huffman, then zstd).
void put_stream(std::vector<uint8_t>& out, std::span<const uint8_t> data, const EncodeOptions& opts);

// Reads one stream of n decoded bytes. A raw stream is returned in place
// (a view into the payload); the others are decoded into `scratch`, which
// is resized to n. Throws qkv::Error (Integrity) on any inconsistency.
std::span<const uint8_t> get_stream(PayloadReader& in, size_t n, std::vector<uint8_t>& scratch);

}  // namespace qkv::codec
