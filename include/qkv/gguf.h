// GGUF: the container llama.cpp reads. A strict reader over an mmap (it
// checks every count and length against the file before trusting it) and a
// streaming writer (header first, then tensor data one tensor at a time).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "qkv/file.h"
#include "qkv/types.h"

namespace qkv::gguf {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as little-endian uint32
constexpr uint64_t kDefaultAlignment = 32;
constexpr int kMaxDims = 4;

enum class ValueType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, U64 = 10, I64 = 11, F64 = 12,
};
std::string_view value_type_name(ValueType t);
// Size in bytes of a scalar value type; 0 for STRING and ARRAY.
size_t scalar_size(ValueType t);

// One metadata value. Scalars keep their raw little-endian bits so that a
// read-then-write round trip is byte-identical whatever the type.
struct Value {
  ValueType type = ValueType::U8;
  uint64_t bits = 0;                 // scalar types
  std::string str;                   // STRING
  ValueType elem_type = ValueType::U8;  // ARRAY
  std::vector<Value> items;          // ARRAY (items may themselves be arrays)

  static Value u8(uint8_t v) { return scalar(ValueType::U8, v); }
  static Value i8(int8_t v) { return scalar(ValueType::I8, static_cast<uint8_t>(v)); }
  static Value u16(uint16_t v) { return scalar(ValueType::U16, v); }
  static Value i16(int16_t v) { return scalar(ValueType::I16, static_cast<uint16_t>(v)); }
  static Value u32(uint32_t v) { return scalar(ValueType::U32, v); }
  static Value i32(int32_t v) { return scalar(ValueType::I32, static_cast<uint32_t>(v)); }
  static Value u64(uint64_t v) { return scalar(ValueType::U64, v); }
  static Value i64(int64_t v) { return scalar(ValueType::I64, static_cast<uint64_t>(v)); }
  static Value f32(float v);
  static Value f64(double v);
  static Value boolean(bool v) { return scalar(ValueType::BOOL, v ? 1 : 0); }
  static Value string(std::string s);
  static Value array(ValueType elem, std::vector<Value> items);
  static Value string_array(const std::vector<std::string>& items);
  static Value scalar(ValueType t, uint64_t raw_bits);

  bool is_integer() const;
  bool is_float() const { return type == ValueType::F32 || type == ValueType::F64; }
  // Conversions throw qkv::Error (Format) on a type that does not fit.
  uint64_t as_u64() const;
  int64_t as_i64() const;
  double as_f64() const;
  bool as_bool() const;
  const std::string& as_string() const;
  // Human-readable rendering; arrays longer than max_items are abbreviated.
  std::string to_string(size_t max_items = 8) const;
};

// Key/value pairs in file order (order matters for byte-identical round trips).
class Metadata {
 public:
  const Value* find(std::string_view key) const;
  // nullptr-safe typed getters with defaults.
  uint64_t get_u64(std::string_view key, uint64_t def) const;
  std::string get_string(std::string_view key, const std::string& def = {}) const;
  void set(const std::string& key, Value v);  // replaces in place, or appends
  // Appends without looking for an existing key (the caller guarantees it is
  // new); keeps reading n keys linear rather than quadratic.
  void append(std::string key, Value v) { kv_.emplace_back(std::move(key), std::move(v)); }
  bool erase(std::string_view key);
  const std::vector<std::pair<std::string, Value>>& entries() const { return kv_; }
  size_t size() const { return kv_.size(); }

 private:
  std::vector<std::pair<std::string, Value>> kv_;
};

struct TensorInfo {
  std::string name;
  std::vector<uint64_t> shape;  // ggml order: shape[0] is the row length
  TensorType type = TensorType::F32;
  uint64_t offset = 0;          // relative to the start of the data section
  uint64_t nbytes() const { return tensor_bytes(type, shape); }
  uint64_t n_elements() const { return element_count(shape); }
};

struct ReadOptions {
  // Enforce the tensor layout rules (alignment, data inside the file, no
  // overlap). `qkv check` and `qkv repair` read with this off and audit instead.
  bool strict_layout = true;
};

class File {
 public:
  static File open(const std::string& path, ReadOptions opts = {});
  // Parses bytes owned by the caller (they must outlive the File); `name`
  // is used in error messages. Used by the fuzzer and by tests.
  static File parse(std::span<const uint8_t> bytes, const std::string& name, ReadOptions opts = {});
  // Parses bytes that `owner` keeps alive as long as the File (a decompressed .qkv).
  static File parse_owned(std::shared_ptr<const void> owner, std::span<const uint8_t> bytes, const std::string& name,
                          ReadOptions opts = {});

  const std::string& path() const { return name_; }
  uint32_t version() const { return version_; }
  const Metadata& metadata() const { return metadata_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const;
  uint64_t alignment() const { return alignment_; }
  uint64_t header_end() const { return header_end_; }    // first byte after the tensor infos
  uint64_t data_offset() const { return data_offset_; }  // start of the data section
  std::span<const uint8_t> bytes() const { return bytes_; }
  // Exactly nbytes() of tensor i; throws (Integrity) if it lies outside the file.
  std::span<const uint8_t> tensor_data(size_t i) const;

 private:
  File() = default;
  std::shared_ptr<const void> owner_;  // keeps bytes_ alive: the map, or an owned buffer
  std::span<const uint8_t> bytes_;
  std::string name_;
  uint32_t version_ = 3;
  Metadata metadata_;
  std::vector<TensorInfo> tensors_;
  uint64_t alignment_ = kDefaultAlignment, header_end_ = 0, data_offset_ = 0;
};

// Alignment declared by metadata (general.alignment), validated; default 32.
uint64_t alignment_of(const Metadata& md);
inline uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

// Streaming writer. The constructor writes the header and tensor infos, with
// offsets assigned in the order given, each aligned; then write_tensor()
// must be called once per tensor in that order with exactly nbytes() bytes
// (it pads with zeros to the alignment); finish() commits the file atomically.
class Writer {
 public:
  Writer(const std::string& path, const Metadata& metadata, std::vector<TensorInfo> tensors,
         uint32_t version = 3);
  void write_tensor(std::span<const uint8_t> data);
  // Writes one tensor in pieces: begin with its total, then append chunks.
  void begin_tensor();
  void append(std::span<const uint8_t> chunk);
  void end_tensor();
  // verify (optional) reads the complete temp file and throws to abandon it.
  void finish(const std::function<void(const std::string& temp_path)>& verify = {});
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  uint64_t bytes_written() const { return out_.position(); }

 private:
  AtomicFile out_;
  std::vector<TensorInfo> tensors_;
  uint64_t alignment_, data_start_ = 0;
  size_t next_ = 0;
  uint64_t in_tensor_ = 0;  // bytes appended to the current tensor
  bool open_tensor_ = false;
};

// Serialises header + metadata + tensor infos (no padding) for a file; used
// by the writer and by tools that need the header size up front.
std::vector<uint8_t> serialize_header(const Metadata& metadata, const std::vector<TensorInfo>& tensors,
                                      uint32_t version = 3);

}  // namespace qkv::gguf
