// Checkpoint tensors and the safetensors format.
//
// A checkpoint reader (this one, torch_checkpoint.h) yields CheckpointTensor
// descriptors: a name, an element type, a shape in PyTorch order and a span
// of bytes inside the reader's memory map. Nothing is copied or converted
// until a caller asks for it, so converting a large model touches one tensor
// at a time.
//
// safetensors layout: an 8-byte little-endian header length N, N bytes of
// JSON ({"__metadata__": {str: str}, "<name>": {"dtype", "shape",
// "data_offsets": [begin, end]}, ...}), then the data section; offsets are
// relative to its start (byte 8 + N).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "qkv/file.h"
#include "qkv/types.h"

namespace qkv {

// Element types of Hugging Face / PyTorch checkpoints; a wider set than
// GGUF's (booleans, unsigned ints, fp8). Names are safetensors' dtype strings.
enum class DType : uint8_t {
  F64, F32, F16, BF16, F8_E4M3, F8_E5M2, I64, I32, I16, I8, U64, U32, U16, U8, BOOL,
};

struct DTypeInfo {
  DType dtype;
  std::string_view name;             // "F32", "BF16", "F8_E4M3" ...
  uint32_t size;                     // bytes per element
  std::optional<TensorType> gguf;    // the GGUF type that holds it unchanged, if any
};

// Every dtype, in enum order.
std::span<const DTypeInfo> all_dtypes();
const DTypeInfo& dtype_info(DType d);
std::string_view dtype_name(DType d);
inline uint32_t dtype_size(DType d) { return dtype_info(d).size; }
// Exact, case-sensitive safetensors name; nullopt when unknown.
std::optional<DType> dtype_from_name(std::string_view name);

struct CheckpointTensor {
  std::string name;
  DType dtype = DType::F32;
  // PyTorch order: row-major, the LAST dimension is contiguous (the reverse of
  // GGUF's ne[] order). Empty for a 0-dimensional (scalar) tensor.
  std::vector<uint64_t> shape;
  // Exactly n_elements() * dtype_size(dtype) bytes inside the reader's map;
  // valid while the reader lives. Not necessarily aligned to the element size.
  std::span<const uint8_t> data;

  uint64_t n_elements() const { return element_count(shape); }
};

// Converts a tensor to float32: floats exactly (F64 rounds to nearest), fp8
// exactly (E4M3 has no infinities, 0x7F/0xFF are NaN; E5M2 is IEEE-like),
// integers and BOOL to their value (rounded above 2^24). `out` must hold
// n_elements() floats.
void to_f32(const CheckpointTensor& t, std::span<float> out);
std::vector<float> to_f32(const CheckpointTensor& t);

}  // namespace qkv

namespace qkv::safetensors {

// Like the reference implementation's MAX_HEADER_SIZE: a larger claim is
// refused before anything is read or allocated for it.
constexpr uint64_t kMaxHeaderSize = 100'000'000;

// Strict reader: besides every field, it checks that the tensors' byte ranges
// tile the data section exactly, as the reference implementation does -- an
// overlap, a hole between tensors or bytes after the last one is an error
// (Integrity), not a warning, because no safetensors writer produces them
// and unclaimed bytes usually mean a wrong offset.
class File {
 public:
  static File open(const std::string& path);
  // Parses bytes owned by the caller (they must outlive the File); `name`
  // is used in error messages. Used by the fuzzer and by tests.
  static File parse(std::span<const uint8_t> bytes, const std::string& name);

  const std::string& path() const { return name_; }
  // The "__metadata__" map (empty when absent).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // Every tensor, in data-offset order.
  const std::vector<CheckpointTensor>& tensors() const { return tensors_; }
  const CheckpointTensor* find(std::string_view name) const;
  // Where the data section starts (8 + header length).
  uint64_t data_offset() const { return data_offset_; }
  std::span<const uint8_t> bytes() const { return bytes_; }

 private:
  File() = default;
  std::shared_ptr<MappedFile> map_;
  std::span<const uint8_t> bytes_;
  std::string name_;
  std::map<std::string, std::string> metadata_;
  std::vector<CheckpointTensor> tensors_;
  uint64_t data_offset_ = 0;
};

struct TensorSpec {
  std::string name;
  DType dtype = DType::F32;
  std::vector<uint64_t> shape;  // PyTorch order
};

// Streaming writer. The constructor writes the header (tensors laid out
// back to back in the order given, the header padded with spaces to a
// multiple of 8 as the reference writer does); write_tensor() is then called
// once per tensor in that order with exactly its size in bytes; finish()
// commits the file atomically. An unfinished writer leaves no file behind.
class Writer {
 public:
  Writer(const std::string& path, std::vector<TensorSpec> tensors,
         const std::map<std::string, std::string>& metadata = {});
  void write_tensor(std::span<const uint8_t> data);
  void finish();

 private:
  AtomicFile out_;
  std::vector<TensorSpec> tensors_;
  std::vector<uint64_t> sizes_;
  size_t next_ = 0;
};

}  // namespace qkv::safetensors
