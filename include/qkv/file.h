// Files: read-only memory maps for inputs, atomic writers for outputs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

namespace qkv {

// A whole file mapped read-only. Empty files map to an empty span.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  MappedFile(MappedFile&& o) noexcept;
  MappedFile& operator=(MappedFile&& o) noexcept;

  const std::string& path() const { return path_; }
  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Tells the kernel that a streaming reader is done with these mapped bytes:
// the whole pages inside the range leave the process's resident set (they stay
// in the page cache and fault back in if touched again). Without it, reading a
// 10 GB checkpoint through its map would grow RSS to 10 GB.
void release_mapped_pages(std::span<const uint8_t> range);

// Writes to "<dir>/.<name>.tmp-XXXXXX" beside the target; commit() flushes,
// fsyncs and renames it over the target, so a reader never sees half a file.
// Destroying an uncommitted writer removes the temp file. Write errors
// (including a full disk) throw qkv::Error naming the target path.
class AtomicFile {
 public:
  explicit AtomicFile(const std::string& path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t n);
  void write(std::span<const uint8_t> b) { write(b.data(), b.size()); }
  void write_zeros(size_t n);
  uint64_t position() const { return pos_; }
  // before_rename (optional) may inspect the complete temp file and throw to abandon it.
  void commit(const std::function<void(const std::string& temp_path)>& before_rename = {});
  const std::string& path() const { return path_; }

 private:
  void flush();
  std::string path_, tmp_;
  int fd_ = -1;
  uint64_t pos_ = 0;
  std::string buf_;  // write-behind buffer; large writes bypass it
  bool committed_ = false;
};

// The whole file; throws qkv::Error (IO) naming the path when it cannot be read.
std::string read_file(const std::string& path);
// Writes `bytes` to `path` atomically (through AtomicFile).
void write_file(const std::string& path, std::string_view bytes);

}  // namespace qkv
