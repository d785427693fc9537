// Serialising the .qkv header, trailer, index and chunk tables.
#include "formats/qkv_layout.h"

#include <xxhash.h>

#include <cstring>

namespace qkv::qkvfile::layout {
namespace {

void put32(std::vector<uint8_t>& o, uint32_t v) {
  for (int i = 0; i < 4; ++i) o.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put64(std::vector<uint8_t>& o, uint64_t v) {
  for (int i = 0; i < 8; ++i) o.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_str(std::vector<uint8_t>& o, const std::string& s) {
  put32(o, static_cast<uint32_t>(s.size()));
  o.insert(o.end(), s.begin(), s.end());
}
// Pads a 56-byte record to 64 with its own checksum in the last 8 bytes.
std::vector<uint8_t> sealed(std::vector<uint8_t> o) {
  o.resize(56, 0);
  put64(o, checksum(o));
  return o;
}

}  // namespace

uint64_t checksum(std::span<const uint8_t> b) { return XXH3_64bits(b.data(), b.size()); }

std::vector<uint8_t> header(SourceKind source) {
  std::vector<uint8_t> o(std::begin(kMagic), std::end(kMagic));
  put32(o, kVersion);
  put32(o, static_cast<uint32_t>(source));
  put64(o, kAlignment);
  return sealed(std::move(o));
}

std::vector<uint8_t> trailer(const Trailer& t) {
  std::vector<uint8_t> o(std::begin(kTrailerMagic), std::end(kTrailerMagic));
  put64(o, t.index_offset);
  put64(o, t.index_size);
  put64(o, t.index_checksum);
  return sealed(std::move(o));
}

std::vector<uint8_t> chunk_table(const Stream& s) {
  std::vector<uint8_t> o;
  o.reserve(s.chunks.size() * kChunkRecord);
  for (const Chunk& c : s.chunks) {
    o.push_back(static_cast<uint8_t>(c.codec));
    o.resize(o.size() + 7, 0);
    put64(o, c.offset);
    put64(o, c.payload_size);
    put64(o, c.checksum);
  }
  return o;
}

std::vector<uint8_t> index(const std::vector<Entry>& entries, const std::vector<std::vector<TableRef>>& tables) {
  std::vector<uint8_t> o;
  put32(o, static_cast<uint32_t>(entries.size()));
  for (size_t e = 0; e < entries.size(); ++e) {
    put_str(o, entries[e].path);
    put64(o, entries[e].size);
    put32(o, static_cast<uint32_t>(entries[e].streams.size()));
    for (size_t i = 0; i < entries[e].streams.size(); ++i) {
      const Stream& s = entries[e].streams[i];
      put_str(o, s.name);
      put32(o, s.type ? static_cast<uint32_t>(*s.type) : kNoType);
      put64(o, s.source_offset);
      put64(o, s.size);
      put64(o, s.chunk_size);
      put64(o, s.chunks.size());
      put64(o, tables[e][i].offset);
      put64(o, tables[e][i].checksum);
    }
  }
  return o;
}

}  // namespace qkv::qkvfile::layout
