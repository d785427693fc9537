// Byte layout of the .qkv header, trailer, index and chunk tables (shared by
// the writer and the reader; docs/qkv-format.md describes the same bytes).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "qkv/qkv_file.h"

namespace qkv::qkvfile::layout {

inline constexpr uint8_t kTrailerMagic[8] = {'Q', 'K', 'V', 'I', 'N', 'D', 'E', 'X'};
inline constexpr uint64_t kChunkRecord = 32;      // bytes per chunk table entry
inline constexpr uint32_t kNoType = 0xFFFFFFFFu;  // a byte stream's type field

uint64_t checksum(std::span<const uint8_t> b);  // xxHash3-64

std::vector<uint8_t> header(SourceKind source);
struct Trailer {
  uint64_t index_offset = 0, index_size = 0, index_checksum = 0;
};
std::vector<uint8_t> trailer(const Trailer& t);
// Chunk tables live beside the payloads; the index refers to them.
std::vector<uint8_t> chunk_table(const Stream& s);
// `tables[e][s]` = {offset, checksum} of entry e's stream s's chunk table.
struct TableRef {
  uint64_t offset = 0, checksum = 0;
};
std::vector<uint8_t> index(const std::vector<Entry>& entries, const std::vector<std::vector<TableRef>>& tables);

}  // namespace qkv::qkvfile::layout
