// Streaming GGUF writer: header and tensor infos first, then each tensor's
// data in order, zero-padded to the alignment, so that no more than one
// tensor ever needs to be in memory.
#include <cstring>

#include "qkv/error.h"
#include "qkv/gguf.h"

namespace qkv::gguf {
namespace {

class Buffer {
 public:
  template <class T>
  void put(T v) {
    const size_t at = b_.size();
    b_.resize(at + sizeof(T));
    std::memcpy(b_.data() + at, &v, sizeof(T));
  }
  void put_raw(uint64_t bits, size_t n) {
    const size_t at = b_.size();
    b_.resize(at + n);
    std::memcpy(b_.data() + at, &bits, n);  // little-endian host
  }
  void put_string(const std::string& s) {
    put<uint64_t>(s.size());
    b_.insert(b_.end(), s.begin(), s.end());
  }
  std::vector<uint8_t>& bytes() { return b_; }

 private:
  std::vector<uint8_t> b_;
};

void put_value(Buffer& b, const Value& v) {
  switch (v.type) {
    case ValueType::STRING: b.put_string(v.str); break;
    case ValueType::ARRAY:
      b.put<uint32_t>(static_cast<uint32_t>(v.elem_type));
      b.put<uint64_t>(v.items.size());
      for (const auto& item : v.items) {
        if (item.type != v.elem_type)
          throw Error(ErrorKind::Usage, "array of " + std::string(value_type_name(v.elem_type)) + " holds a " +
                                            std::string(value_type_name(item.type)));
        put_value(b, item);
      }
      break;
    default: b.put_raw(v.bits, scalar_size(v.type));
  }
}

}  // namespace

std::vector<uint8_t> serialize_header(const Metadata& metadata, const std::vector<TensorInfo>& tensors,
                                      uint32_t version) {
  Buffer b;
  b.put<uint32_t>(kMagic);
  b.put<uint32_t>(version);
  b.put<uint64_t>(tensors.size());
  b.put<uint64_t>(metadata.size());
  for (const auto& [key, value] : metadata.entries()) {
    b.put_string(key);
    b.put<uint32_t>(static_cast<uint32_t>(value.type));
    try {
      put_value(b, value);
    } catch (const Error& e) {
      throw Error(e.kind(), "metadata '" + key + "': " + e.message());
    }
  }
  for (const auto& t : tensors) {
    b.put_string(t.name);
    b.put<uint32_t>(static_cast<uint32_t>(t.shape.size()));
    for (uint64_t d : t.shape) b.put<uint64_t>(d);
    b.put<uint32_t>(static_cast<uint32_t>(t.type));
    b.put<uint64_t>(t.offset);
  }
  return std::move(b.bytes());
}

Writer::Writer(const std::string& path, const Metadata& metadata, std::vector<TensorInfo> tensors,
               uint32_t version)
    : out_(path), tensors_(std::move(tensors)), alignment_(alignment_of(metadata)) {
  if (version != 2 && version != 3) throw Error(ErrorKind::Usage, "GGUF version must be 2 or 3", path);
  uint64_t offset = 0;
  for (auto& t : tensors_) {
    if (t.shape.empty() || t.shape.size() > kMaxDims)
      throw Error(ErrorKind::Usage, "a tensor needs 1 to 4 dimensions", path, t.name);
    t.offset = offset;
    offset = align_up(offset + t.nbytes(), alignment_);  // nbytes() validates whole blocks
  }
  const auto header = serialize_header(metadata, tensors_, version);
  out_.write(header.data(), header.size());
  if (!tensors_.empty()) out_.write_zeros(align_up(header.size(), alignment_) - header.size());
  data_start_ = out_.position();
}

void Writer::begin_tensor() {
  if (open_tensor_) throw Error(ErrorKind::Usage, "begin_tensor while a tensor is open", out_.path());
  if (next_ >= tensors_.size()) throw Error(ErrorKind::Usage, "more tensor data than tensor infos", out_.path());
  open_tensor_ = true;
  in_tensor_ = 0;
}

void Writer::append(std::span<const uint8_t> chunk) {
  if (!open_tensor_) throw Error(ErrorKind::Usage, "append outside begin_tensor/end_tensor", out_.path());
  const TensorInfo& t = tensors_[next_];
  if (in_tensor_ + chunk.size() > t.nbytes())
    throw Error(ErrorKind::Integrity, "more bytes than its type and shape allow (" + std::to_string(t.nbytes()) + ")",
                out_.path(), t.name);
  out_.write(chunk.data(), chunk.size());
  in_tensor_ += chunk.size();
}

void Writer::end_tensor() {
  const TensorInfo& t = tensors_.at(next_);
  // Surgical alignment: the data must be exactly the size its type and shape require.
  if (in_tensor_ != t.nbytes())
    throw Error(ErrorKind::Integrity, "got " + std::to_string(in_tensor_) + " bytes, its type and shape require " +
                                          std::to_string(t.nbytes()),
                out_.path(), t.name);
  out_.write_zeros(align_up(in_tensor_, alignment_) - in_tensor_);
  if (out_.position() - data_start_ != align_up(t.offset + in_tensor_, alignment_))
    throw Error(ErrorKind::Integrity, "writer position disagrees with the planned offset", out_.path(), t.name);
  open_tensor_ = false;
  ++next_;
}

void Writer::write_tensor(std::span<const uint8_t> data) {
  begin_tensor();
  append(data);
  end_tensor();
}

void Writer::finish(const std::function<void(const std::string&)>& verify) {
  if (open_tensor_ || next_ != tensors_.size())
    throw Error(ErrorKind::Usage, "finish() before all " + std::to_string(tensors_.size()) + " tensors were written",
                out_.path());
  out_.commit(verify);
}

}  // namespace qkv::gguf
