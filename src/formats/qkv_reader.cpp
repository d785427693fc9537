// The strict .qkv reader: header, trailer, index and chunk tables are checked
// on open, each payload's checksum when it is decoded. Nothing read from the
// file is trusted before it is checked against the file's size, so a hostile
// count never turns into a huge allocation.
#include <algorithm>
#include <cstring>
#include <set>
#include <string>

#include "formats/qkv_layout.h"
#include "qkv/error.h"
#include "qkv/parallel.h"
#include "qkv/qkv_file.h"

namespace qkv::qkvfile {
namespace {

constexpr const char* kRecompress = "; the file is corrupt: compress the original again";

uint64_t load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
uint32_t load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Reads the index, checking every length against what is left.
class Cursor {
 public:
  Cursor(std::span<const uint8_t> b, uint64_t base, const std::string& name) : b_(b), base_(base), name_(name) {}
  uint32_t u32() { return load32(take(4)); }
  uint64_t u64() { return load64(take(8)); }
  std::string str() {
    const uint32_t n = u32();
    const uint8_t* p = take(n);
    return std::string(reinterpret_cast<const char*>(p), n);
  }
  uint64_t left() const { return b_.size() - pos_; }
  uint64_t offset() const { return base_ + pos_; }
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(ErrorKind::Format, "index: " + what, name_, {}, offset());
  }

 private:
  const uint8_t* take(uint64_t n) {
    if (n > left()) fail("ends early (wants " + std::to_string(n) + " bytes, " + std::to_string(left()) + " left)");
    const uint8_t* p = b_.data() + pos_;
    pos_ += n;
    return p;
  }
  std::span<const uint8_t> b_;
  uint64_t base_, pos_ = 0;
  const std::string& name_;
};

// A relative path that stays inside the output folder.
bool safe_path(const std::string& p) {
  if (p.empty() || p.front() == '/' || p.find('\0') != std::string::npos || p.find('\\') != std::string::npos)
    return false;
  size_t start = 0;
  while (start <= p.size()) {
    const size_t end = std::min(p.find('/', start), p.size());
    const std::string part = p.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

// Payloads and chunk tables must not overlap, and the padding between them
// (and before the index) must be zeros: with that, every byte of the file is
// covered by a checksum or a rule, so any flipped byte is caught.
struct Region {
  uint64_t begin, end;
  const std::string* tensor;
};

void check_regions(const Reader& r, std::vector<Region> regions, uint64_t data_end) {
  std::sort(regions.begin(), regions.end(),
            [](const Region& a, const Region& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
  const auto b = r.bytes();
  uint64_t pos = kHeaderSize;
  auto zeros = [&](uint64_t end, const std::string& before, const std::string& tensor) {
    for (uint64_t i = pos; i < end; ++i)
      if (b[i] != 0)
        throw Error(ErrorKind::Integrity, "non-zero byte in the padding before " + before + kRecompress, r.path(),
                    tensor, i);
  };
  for (const Region& g : regions) {
    if (g.begin < pos) throw Error(ErrorKind::Format, "payloads or chunk tables overlap", r.path(), *g.tensor, g.begin);
    zeros(g.begin, "a payload or chunk table", *g.tensor);
    pos = g.end;
  }
  zeros(data_end, "the index", {});
}

}  // namespace

std::string_view source_kind_name(SourceKind k) {
  switch (k) {
    case SourceKind::GGUF:
      return "GGUF";
    case SourceKind::Safetensors:
      return "safetensors";
    case SourceKind::HFDirectory:
      return "Hugging Face folder";
  }
  return "unknown";
}

bool is_qkv(std::span<const uint8_t> bytes) {
  return bytes.size() >= sizeof kMagic && std::memcmp(bytes.data(), kMagic, sizeof kMagic) == 0;
}

Reader Reader::open(const std::string& path) {
  auto map = std::make_shared<MappedFile>(path);
  Reader r = parse(map->bytes(), path);
  r.map_ = std::move(map);
  return r;
}

Reader Reader::parse(std::span<const uint8_t> b, const std::string& name) {
  using namespace layout;
  Reader r;
  r.bytes_ = b;
  r.name_ = name;
  auto fail = [&](ErrorKind k, const std::string& what, uint64_t at, const std::string& tensor = {}) {
    throw Error(k, what, name, tensor, at);
  };
  if (!is_qkv(b)) fail(ErrorKind::Format, "not a .qkv file (wrong magic)", 0);
  if (b.size() < kHeaderSize + kTrailerSize)
    fail(ErrorKind::Integrity, "truncated: " + std::to_string(b.size()) + " bytes is shorter than header and trailer",
         b.size());
  if (checksum(b.first(56)) != load64(b.data() + 56))
    fail(ErrorKind::Integrity, "header checksum mismatch" + std::string(kRecompress), 56);
  const uint32_t version = load32(b.data() + 8);
  if (version != kVersion)
    fail(ErrorKind::Unsupported,
         ".qkv version " + std::to_string(version) + " is not supported (this build reads " + std::to_string(kVersion) +
             "); use a newer qkv",
         8);
  const uint32_t source = load32(b.data() + 12);
  if (source < 1 || source > 3) fail(ErrorKind::Format, "unknown source kind " + std::to_string(source), 12);
  r.source_ = static_cast<SourceKind>(source);
  if (load64(b.data() + 16) != kAlignment) fail(ErrorKind::Format, "unexpected payload alignment", 16);

  const uint64_t tpos = b.size() - kTrailerSize;
  const auto t = b.subspan(tpos);
  if (std::memcmp(t.data(), kTrailerMagic, sizeof kTrailerMagic) != 0 || checksum(t.first(56)) != load64(t.data() + 56))
    fail(ErrorKind::Integrity, "the trailer at the end is missing or damaged: the file is truncated or corrupt", tpos);
  const uint64_t index_offset = load64(t.data() + 8), index_size = load64(t.data() + 16);
  if (index_offset < kHeaderSize || index_offset > tpos || index_size != tpos - index_offset)
    fail(ErrorKind::Integrity, "the trailer's index position disagrees with the file size", tpos + 8);
  const auto index_bytes = b.subspan(index_offset, index_size);
  if (checksum(index_bytes) != load64(t.data() + 24))
    fail(ErrorKind::Integrity, "index checksum mismatch" + std::string(kRecompress), index_offset);

  // Payloads and chunk tables lie between the header and the index.
  const uint64_t data_end = index_offset;
  Cursor c(index_bytes, index_offset, name);
  const uint32_t n_entries = c.u32();
  if (n_entries > c.left() / 16) c.fail("claims " + std::to_string(n_entries) + " files");
  if (r.source_ != SourceKind::HFDirectory && n_entries != 1) c.fail("a single-file source must hold exactly one file");
  std::set<std::string> paths;
  std::vector<Region> regions;  // every payload and chunk table, for check_regions
  r.entries_.resize(n_entries);
  for (Entry& e : r.entries_) {
    e.path = c.str();
    if (!safe_path(e.path)) c.fail("file path '" + e.path + "' is not a plain relative path");
    if (!paths.insert(e.path).second) c.fail("file '" + e.path + "' appears twice");
    e.size = c.u64();
    const uint32_t n_streams = c.u32();
    if (n_streams > c.left() / 56) c.fail("file '" + e.path + "' claims " + std::to_string(n_streams) + " streams");
    e.streams.resize(n_streams);
    uint64_t pos = 0;
    for (Stream& s : e.streams) {
      s.name = c.str();
      const uint32_t type = c.u32();
      if (type != kNoType) {
        if (!find_type(type)) c.fail("tensor '" + s.name + "' has unknown type " + std::to_string(type));
        s.type = static_cast<TensorType>(type);
      }
      s.source_offset = c.u64();
      s.size = c.u64();
      s.chunk_size = c.u64();
      const uint64_t n_chunks = c.u64(), table_offset = c.u64(), table_checksum = c.u64();
      auto bad = [&](const std::string& what) {
        throw Error(ErrorKind::Format, "index: " + what, name, s.name, c.offset());
      };
      if (s.source_offset != pos || s.size > e.size - pos) bad("streams do not tile file '" + e.path + "'");
      pos += s.size;
      if ((s.size > 0 && s.chunk_size == 0) || s.chunk_size > kMaxChunkSize)
        bad("chunk size " + std::to_string(s.chunk_size) + " outside 1.." + std::to_string(kMaxChunkSize));
      const uint64_t want = s.size == 0 ? 0 : s.size / s.chunk_size + (s.size % s.chunk_size != 0);
      if (n_chunks != want) bad(std::to_string(n_chunks) + " chunks where the sizes say " + std::to_string(want));
      // An empty stream has no table; its offset is 0.
      if (n_chunks == 0 ? table_offset != 0
                        : n_chunks > (data_end - kHeaderSize) / kChunkRecord || table_offset < kHeaderSize ||
                              table_offset > data_end - n_chunks * kChunkRecord)
        bad("chunk table lies outside the file");
      const auto table = b.subspan(table_offset, n_chunks * kChunkRecord);
      if (checksum(table) != table_checksum)
        throw Error(ErrorKind::Integrity, "chunk table checksum mismatch" + std::string(kRecompress), name, s.name,
                    table_offset);
      s.chunks.resize(n_chunks);
      if (n_chunks) regions.push_back({table_offset, table_offset + table.size(), &s.name});
      for (uint64_t i = 0; i < n_chunks; ++i) {
        const uint8_t* rec = table.data() + i * kChunkRecord;
        Chunk& ch = s.chunks[i];
        const auto id = codec::codec_from_byte(rec[0]);
        const std::string where = "chunk " + std::to_string(i) + " of " + std::to_string(n_chunks);
        if (!id) bad(where + ": unknown codec " + std::to_string(rec[0]));
        ch.codec = *id;
        ch.offset = load64(rec + 8);
        ch.payload_size = load64(rec + 16);
        ch.checksum = load64(rec + 24);
        ch.raw_size = i + 1 < n_chunks ? s.chunk_size : s.size - i * s.chunk_size;
        if (ch.offset % kAlignment != 0 || ch.offset < kHeaderSize || ch.offset > data_end ||
            ch.payload_size > data_end - ch.offset)
          bad(where + ": payload lies outside the file or is misaligned");
        if (ch.codec == codec::CodecId::Raw && ch.payload_size != ch.raw_size)
          bad(where + ": raw payload of wrong size");
        regions.push_back({ch.offset, ch.offset + ch.payload_size, &s.name});
      }
    }
    if (pos != e.size)
      c.fail("streams of file '" + e.path + "' end at " + std::to_string(pos) + " of " + std::to_string(e.size) +
             " bytes");
  }
  if (c.left() != 0) c.fail(std::to_string(c.left()) + " unexpected bytes after the last file");
  check_regions(r, std::move(regions), index_offset);
  return r;
}

std::span<const uint8_t> Reader::payload(const Stream& s, size_t i) const {
  const Chunk& ch = s.chunks.at(i);
  const auto p = bytes_.subspan(ch.offset, ch.payload_size);
  if (layout::checksum(p) != ch.checksum)
    throw Error(ErrorKind::Integrity,
                "chunk " + std::to_string(i) + " of " + std::to_string(s.chunks.size()) +
                    ": payload checksum mismatch" + kRecompress,
                name_, s.name, ch.offset);
  return p;
}

void Reader::decode(const Stream& s, size_t i, std::span<uint8_t> out) const {
  const auto p = payload(s, i);
  try {
    codec::decode_chunk(s.chunks[i].codec, p, out);
  } catch (const Error& e) {
    // The checksum matched, so the writer itself produced a bad payload.
    throw Error(e.kind(), "chunk " + std::to_string(i) + ": " + e.message(), name_, s.name, s.chunks[i].offset);
  }
}

void Reader::restore(const Entry& e, std::span<uint8_t> out, int threads) const {
  if (out.size() != e.size) throw Error(ErrorKind::Usage, "restore: output buffer of the wrong size", name_);
  struct Job {
    const Stream* s;
    size_t chunk;
    uint64_t at;
  };
  std::vector<Job> jobs;
  for (const Stream& s : e.streams)
    for (size_t i = 0; i < s.chunks.size(); ++i) jobs.push_back({&s, i, s.source_offset + i * s.chunk_size});
  parallel_for(static_cast<int64_t>(jobs.size()), resolve_threads(threads), [&](int64_t lo, int64_t hi) {
    for (int64_t j = lo; j < hi; ++j) {
      const Job& job = jobs[j];
      decode(*job.s, job.chunk, out.subspan(job.at, job.s->chunks[job.chunk].raw_size));
    }
  });
}

}  // namespace qkv::qkvfile
