// Streaming safetensors writer: the header is known up front (shapes and
// dtypes fix every size), so tensors can be written one at a time as a
// conversion produces them, and the file appears only when complete.
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "qkv/error.h"
#include "qkv/safetensors.h"

namespace qkv::safetensors {

Writer::Writer(const std::string& path, std::vector<TensorSpec> tensors,
               const std::map<std::string, std::string>& metadata)
    : out_(path), tensors_(std::move(tensors)) {
  // ordered_json keeps __metadata__ first and the tensors in data order, so
  // the header reads in the same order as the file.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::unordered_set<std::string> names;
  uint64_t offset = 0;
  for (const TensorSpec& t : tensors_) {
    if (t.name == "__metadata__" || !names.insert(t.name).second)
      throw Error(ErrorKind::Usage, "tensor name is reserved or used twice", path, t.name);
    const uint64_t n = element_count(t.shape);
    const uint64_t es = dtype_size(t.dtype);
    if (n > UINT64_MAX / es || n * es > UINT64_MAX - offset)
      throw Error(ErrorKind::Usage, "tensor sizes overflow 64 bits", path, t.name);
    sizes_.push_back(n * es);
    header[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + n * es}}};
    offset += n * es;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::type_error& e) {
    throw Error(ErrorKind::Usage, "a tensor name or metadata string is not valid UTF-8 (" + std::string(e.what()) + ")",
                path);
  }
  // Spaces are valid JSON padding; 8 + header length stays a multiple of 8
  // so that 8-byte elements in the data section are aligned in a memory map.
  text.append((8 - text.size() % 8) % 8, ' ');
  if (text.size() > kMaxHeaderSize)
    throw Error(ErrorKind::Usage, "header of " + std::to_string(text.size()) + " bytes exceeds the " +
                                      std::to_string(kMaxHeaderSize) + "-byte limit readers enforce",
                path);
  const uint64_t n = text.size();
  out_.write(&n, 8);
  out_.write(text.data(), text.size());
}

void Writer::write_tensor(std::span<const uint8_t> data) {
  if (next_ >= tensors_.size())
    throw Error(ErrorKind::Usage, "write_tensor called more often than the " + std::to_string(tensors_.size()) +
                                      " tensors declared",
                out_.path());
  if (data.size() != sizes_[next_])
    throw Error(ErrorKind::Usage, "got " + std::to_string(data.size()) + " bytes, the declared shape needs " +
                                      std::to_string(sizes_[next_]),
                out_.path(), tensors_[next_].name);
  out_.write(data);
  ++next_;
}

void Writer::finish() {
  if (next_ != tensors_.size())
    throw Error(ErrorKind::Usage, "only " + std::to_string(next_) + " of " + std::to_string(tensors_.size()) +
                                      " tensors were written",
                out_.path());
  out_.commit();
}

}  // namespace qkv::safetensors
