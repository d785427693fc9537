// The .qkv container: a GGUF file, a safetensors file or a whole Hugging Face
// folder, losslessly compressed chunk by chunk with the codecs of codec.h, so
// that `qkv decompress` gives back every original byte. Each original file is
// cut into streams that tile it exactly -- one per tensor (coded with its
// tensor type, so block-fields / dict256 / byte-planes are eligible) and byte
// streams for everything else (headers, metadata, padding, whole small files).
// Every chunk payload carries an xxHash3 checksum, every stream's chunk table
// and the index have their own, so a flipped byte or a truncation is reported
// with the tensor and chunk it hit. Byte layout: docs/qkv-format.md.
#pragma once

#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "qkv/codec.h"
#include "qkv/file.h"
#include "qkv/gguf.h"
#include "qkv/types.h"

namespace qkv::qkvfile {

inline constexpr uint8_t kMagic[8] = {0x89, 'Q', 'K', 'V', '\r', '\n', 0x1a, '\n'};
inline constexpr uint32_t kVersion = 1;
inline constexpr uint64_t kDefaultChunkSize = 4u << 20;
// A reader refuses larger chunks, so a hostile file cannot make it allocate more per chunk.
inline constexpr uint64_t kMaxChunkSize = 256u << 20;
inline constexpr uint64_t kAlignment = 64;  // every chunk payload starts at a multiple of this
inline constexpr uint64_t kHeaderSize = 64, kTrailerSize = 64;

// What was compressed. Written to files as-is: never renumber.
enum class SourceKind : uint32_t { GGUF = 1, Safetensors = 2, HFDirectory = 3 };
std::string_view source_kind_name(SourceKind k);

struct Chunk {
  codec::CodecId codec = codec::CodecId::Raw;
  uint64_t offset = 0;  // of the payload in the .qkv file
  uint64_t payload_size = 0;
  uint64_t raw_size = 0;  // derived: the stream's chunk size, less for the last chunk
  uint64_t checksum = 0;  // xxHash3-64 of the payload
};

// A contiguous piece of one original file: a tensor's data, or other bytes.
struct Stream {
  std::string name;                // the tensor name, or "[header]", "[padding after X]", "[file]" ...
  std::optional<TensorType> type;  // set for tensor streams
  uint64_t source_offset = 0;      // where it lies in the original file
  uint64_t size = 0;
  uint64_t chunk_size = 0;  // raw bytes per chunk (whole blocks of `type`)
  std::vector<Chunk> chunks;
  bool is_tensor() const { return type.has_value(); }
};

struct Entry {
  std::string path;             // relative path inside a folder; the input's file name otherwise
  uint64_t size = 0;            // of the original file
  std::vector<Stream> streams;  // in file order, tiling [0, size)
};

struct CompressOptions {
  uint64_t chunk_size = kDefaultChunkSize;
  int threads = 0;  // 0: all hardware threads
  codec::EncodeOptions codec;
  bool progress = true;
};

// Compresses a GGUF, a safetensors file or a Hugging Face folder into `out`
// (written atomically). Throws qkv::Error (Format/Unsupported) for other inputs.
void compress(const std::string& in, const std::string& out, const CompressOptions& opts = {});

// A strict reader over a mapped .qkv: the header, trailer, index and every
// chunk table are checked (sizes, bounds, checksums) on open; each payload's
// checksum is checked when it is decoded.
class Reader {
 public:
  static Reader open(const std::string& path);
  // Bytes owned by the caller (they must outlive the Reader); for the fuzzer and tests.
  static Reader parse(std::span<const uint8_t> bytes, const std::string& name);

  const std::string& path() const { return name_; }
  SourceKind source() const { return source_; }
  const std::vector<Entry>& entries() const { return entries_; }
  std::span<const uint8_t> bytes() const { return bytes_; }

  // The raw payload bytes of a chunk, its checksum verified (Integrity error
  // naming the tensor and chunk otherwise).
  std::span<const uint8_t> payload(const Stream& s, size_t chunk) const;
  // Decodes one chunk into `out` (exactly its raw_size bytes).
  void decode(const Stream& s, size_t chunk, std::span<uint8_t> out) const;
  // Restores entry `e` into `out` (exactly its size), chunks decoded in parallel.
  void restore(const Entry& e, std::span<uint8_t> out, int threads = 0) const;

 private:
  Reader() = default;
  std::shared_ptr<MappedFile> map_;
  std::span<const uint8_t> bytes_;
  std::string name_;
  SourceKind source_ = SourceKind::GGUF;
  std::vector<Entry> entries_;
};

struct DecompressOptions {
  int threads = 0;
  bool progress = true;
};

// Restores the original: a file for GGUF / safetensors sources, a folder
// (created if needed; each file written atomically) for a Hugging Face folder.
void decompress(const std::string& in, const std::string& out, const DecompressOptions& opts = {});

// What `qkv inspect` shows of one stream: its codec choices and what every
// codec would have given on each of its chunks (nullopt: not eligible).
struct StreamReport {
  const Stream* stream = nullptr;
  uint64_t payload = 0;                                    // compressed bytes
  size_t codec_chunks[std::size(codec::kAllCodecs)] = {};  // chunks per chosen codec
  std::optional<uint64_t> trials[std::size(codec::kAllCodecs)];
};
// Decodes every chunk (checksums verified) to run the trials, in parallel.
std::vector<StreamReport> inspect(const Reader& r, const Entry& e, const codec::EncodeOptions& opts = {},
                                  int threads = 0);

// True when the file starts with the .qkv magic (cheap; reads 8 bytes).
bool is_qkv(std::span<const uint8_t> bytes);

// A GGUF model held in a .qkv, decompressed tensor by tensor in parallel
// into memory owned by the returned File. Unsupported for other sources.
gguf::File load_gguf(const std::string& path, int threads = 0);

}  // namespace qkv::qkvfile
