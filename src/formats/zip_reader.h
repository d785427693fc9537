// A minimal read-only ZIP reader for the archives torch.save writes: it finds
// the end-of-central-directory record (ZIP64 when present, as torch always
// writes it), reads the central directory, and checks each entry's local
// header. Entries are only located, never decompressed: torch stores them
// uncompressed, so a STORED entry is a plain span of the input; any other
// method is refused when its bytes are asked for.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace qkv::zip {

struct Entry {
  std::string name;
  uint16_t method = 0;         // 0 = stored; 8 = deflate; ...
  uint64_t size = 0;           // uncompressed size
  uint64_t data_offset = 0;    // absolute offset of the entry's (stored or compressed) bytes
  uint64_t stored_bytes = 0;   // bytes at data_offset (the compressed size)
};

class Archive {
 public:
  // `name` is used in error messages. The bytes must outlive the Archive.
  static Archive parse(std::span<const uint8_t> bytes, const std::string& name);

  const std::vector<Entry>& entries() const { return entries_; }
  const Entry* find(std::string_view name) const;
  // Entries named "<folder>/<file>" for any one top-level folder (torch.save
  // names the folder after the file it wrote).
  std::vector<const Entry*> find_in_folders(std::string_view file) const;
  // The bytes of a STORED entry; throws qkv::Error (Unsupported) for any
  // other method.
  std::span<const uint8_t> data(const Entry& e) const;

 private:
  std::span<const uint8_t> bytes_;
  std::string name_;
  std::vector<Entry> entries_;
  std::unordered_map<std::string, size_t> by_name_;  // a storage per tensor is looked up by name
};

// True when the bytes start with a ZIP local file header ("PK\3\4").
bool looks_like_zip(std::span<const uint8_t> bytes);

}  // namespace qkv::zip
