// Strict GGUF reader. Every count and length in the header is checked against
// the bytes that remain before anything is allocated for it, so a crafted
// file gets a typed error naming the offset, never a huge allocation.
#include <algorithm>
#include <cstring>
#include <unordered_set>

#include "qkv/error.h"
#include "qkv/gguf.h"

namespace qkv::gguf {
namespace {

constexpr int kMaxArrayNesting = 8;

// Minimum bytes a serialized item can take; used to bound counts.
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;              // key length, type, 1-byte value
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;  // name length, n_dims, one dim, type, offset

class Cursor {
 public:
  Cursor(std::span<const uint8_t> b, const std::string& name) : b_(b), name_(name) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return b_.size() - pos_; }

  [[noreturn]] void fail(const std::string& msg, uint64_t at) const {
    throw Error(ErrorKind::Format, msg, name_, {}, at);
  }
  void need(uint64_t n, const char* what) const {
    if (n > remaining())
      fail(std::string("file is truncated: ") + what + " needs " + std::to_string(n) + " bytes but only " +
               std::to_string(remaining()) + " remain",
           pos_);
  }
  template <class T>
  T read(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, b_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  uint64_t read_raw(size_t n, const char* what) {
    need(n, what);
    uint64_t v = 0;
    std::memcpy(&v, b_.data() + pos_, n);
    pos_ += n;
    return v;
  }
  std::string read_string(const char* what) {
    const uint64_t at = pos_;
    const uint64_t len = read<uint64_t>(what);
    if (len > remaining())
      fail(std::string(what) + " claims " + std::to_string(len) + " bytes but only " + std::to_string(remaining()) +
               " remain in the file",
           at);
    std::string s(reinterpret_cast<const char*>(b_.data() + pos_), len);
    pos_ += len;
    return s;
  }

 private:
  std::span<const uint8_t> b_;
  const std::string& name_;
  uint64_t pos_ = 0;
};

bool valid_value_type(uint32_t t) { return t <= static_cast<uint32_t>(ValueType::F64); }

Value read_value(Cursor& c, ValueType type, int depth, const std::string& key);

Value read_array(Cursor& c, int depth, const std::string& key) {
  const uint64_t at = c.pos();
  if (depth >= kMaxArrayNesting)
    c.fail("metadata '" + key + "': arrays nested deeper than " + std::to_string(kMaxArrayNesting), at);
  const uint32_t et = c.read<uint32_t>("array element type");
  if (!valid_value_type(et)) c.fail("metadata '" + key + "': unknown array element type " + std::to_string(et), at);
  const auto elem = static_cast<ValueType>(et);
  const uint64_t n = c.read<uint64_t>("array length");
  // Strings need 8 bytes each (length), arrays 12 (type + count), scalars their size.
  const uint64_t min_each = elem == ValueType::STRING ? 8 : elem == ValueType::ARRAY ? 12 : scalar_size(elem);
  if (n > c.remaining() / min_each)
    c.fail("metadata '" + key + "': array claims " + std::to_string(n) + " elements, more than the " +
               std::to_string(c.remaining()) + " remaining bytes can hold",
           at);
  std::vector<Value> items;
  items.reserve(n);
  for (uint64_t i = 0; i < n; ++i) items.push_back(read_value(c, elem, depth + 1, key));
  return Value::array(elem, std::move(items));
}

Value read_value(Cursor& c, ValueType type, int depth, const std::string& key) {
  switch (type) {
    case ValueType::STRING: return Value::string(c.read_string("string value"));
    case ValueType::ARRAY: return read_array(c, depth, key);
    case ValueType::BOOL: {
      const uint64_t at = c.pos();
      const uint64_t b = c.read_raw(1, "bool value");
      if (b > 1) c.fail("metadata '" + key + "': bool value " + std::to_string(b) + " is neither 0 nor 1", at);
      return Value::scalar(type, b);
    }
    default: return Value::scalar(type, c.read_raw(scalar_size(type), "metadata value"));
  }
}

}  // namespace

uint64_t alignment_of(const Metadata& md) {
  const Value* v = md.find("general.alignment");
  if (!v) return kDefaultAlignment;
  if (v->type != ValueType::U32)
    throw Error(ErrorKind::Format, "general.alignment must be a u32, found " +
                                       std::string(value_type_name(v->type)));
  const uint64_t a = v->bits;
  if (a == 0 || (a & (a - 1)) != 0)
    throw Error(ErrorKind::Format, "general.alignment " + std::to_string(a) + " is not a power of two");
  return a;
}

File File::open(const std::string& path, ReadOptions opts) {
  auto map = std::make_shared<MappedFile>(path);
  File f = parse(map->bytes(), path, opts);
  f.owner_ = std::move(map);
  return f;
}

File File::parse_owned(std::shared_ptr<const void> owner, std::span<const uint8_t> bytes, const std::string& name,
                       ReadOptions opts) {
  File f = parse(bytes, name, opts);
  f.owner_ = std::move(owner);
  return f;
}

File File::parse(std::span<const uint8_t> bytes, const std::string& name, ReadOptions opts) {
  File f;
  f.bytes_ = bytes;
  f.name_ = name;
  Cursor c(bytes, f.name_);

  const uint32_t magic = c.read<uint32_t>("magic");
  if (magic != kMagic) c.fail("not a GGUF file (the first 4 bytes are not 'GGUF')", 0);
  const uint64_t version_at = c.pos();
  f.version_ = c.read<uint32_t>("version");
  if (f.version_ == 1) throw Error(ErrorKind::Unsupported, "GGUF version 1 is obsolete; re-convert the model", name, {}, version_at);
  if (f.version_ != 2 && f.version_ != 3) {
    // A big-endian 2 or 3 reads as 0x02000000 / 0x03000000: its low half is zero.
    if (f.version_ != 0 && (f.version_ & 0xFFFF) == 0)
      throw Error(ErrorKind::Unsupported, "big-endian GGUF files are not supported", name, {}, version_at);
    c.fail("unknown GGUF version " + std::to_string(f.version_) + " (supported: 2 and 3)", version_at);
  }
  const uint64_t counts_at = c.pos();
  const uint64_t n_tensors = c.read<uint64_t>("tensor count");
  const uint64_t n_kv = c.read<uint64_t>("metadata count");
  if (n_kv > c.remaining() / kMinKvBytes)
    c.fail("metadata count " + std::to_string(n_kv) + " is impossible for a file of " +
               std::to_string(bytes.size()) + " bytes",
           counts_at + 8);
  if (n_tensors > c.remaining() / kMinTensorInfoBytes)
    c.fail("tensor count " + std::to_string(n_tensors) + " is impossible for a file of " +
               std::to_string(bytes.size()) + " bytes",
           counts_at);

  std::unordered_set<std::string> keys;
  for (uint64_t i = 0; i < n_kv; ++i) {
    const uint64_t at = c.pos();
    std::string key = c.read_string("metadata key");
    if (key.empty()) c.fail("metadata key " + std::to_string(i) + " is empty", at);
    if (!keys.insert(key).second) c.fail("duplicate metadata key '" + key + "'", at);
    const uint64_t type_at = c.pos();
    const uint32_t t = c.read<uint32_t>("metadata value type");
    if (!valid_value_type(t)) c.fail("metadata '" + key + "': unknown value type " + std::to_string(t), type_at);
    Value v = read_value(c, static_cast<ValueType>(t), 0, key);
    f.metadata_.append(std::move(key), std::move(v));
  }
  try {
    f.alignment_ = alignment_of(f.metadata_);
  } catch (const Error& e) {
    throw e.with_file(name);
  }

  std::unordered_set<std::string> names;
  f.tensors_.reserve(n_tensors);
  for (uint64_t i = 0; i < n_tensors; ++i) {
    const uint64_t at = c.pos();
    TensorInfo t;
    t.name = c.read_string("tensor name");
    if (t.name.empty()) c.fail("tensor " + std::to_string(i) + " has an empty name", at);
    if (!names.insert(t.name).second) c.fail("duplicate tensor name '" + t.name + "'", at);
    const uint32_t n_dims = c.read<uint32_t>("tensor dimension count");
    if (n_dims == 0 || n_dims > kMaxDims)
      throw Error(ErrorKind::Format, std::to_string(n_dims) + " dimensions (GGUF allows 1 to 4)", name, t.name, at);
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t dim = c.read<uint64_t>("tensor dimension");
      if (dim > static_cast<uint64_t>(INT64_MAX))
        throw Error(ErrorKind::Format, "dimension " + std::to_string(d) + " is negative or too large", name, t.name, at);
      t.shape.push_back(dim);
    }
    const uint64_t type_at = c.pos();
    const uint32_t type = c.read<uint32_t>("tensor type");
    const TypeInfo* ti = find_type(type);
    if (!ti)
      throw Error(ErrorKind::Unsupported, "unknown tensor type " + std::to_string(type) +
                                              " (a newer or removed ggml type)", name, t.name, type_at);
    t.type = ti->type;
    t.offset = c.read<uint64_t>("tensor offset");
    try {
      const uint64_t n = t.n_elements();
      if (n > static_cast<uint64_t>(INT64_MAX)) throw Error(ErrorKind::Format, "element count overflows int64");
      if (t.shape[0] % ti->block_elems != 0)
        throw Error(ErrorKind::Format, "row length " + std::to_string(t.shape[0]) + " is not a whole number of " +
                                           std::string(ti->name) + " blocks (" + std::to_string(ti->block_elems) +
                                           " elements each)");
      // row_bytes() multiplies blocks by block bytes unchecked: 2^62 F64
      // elements would wrap to a size of 0 and pass every bounds check.
      if (n / ti->block_elems > UINT64_MAX / ti->block_bytes)
        throw Error(ErrorKind::Format, "tensor byte size overflows 64 bits");
      const uint64_t nb = t.nbytes();
      // The data section starts inside the file, so bounding offset + size by
      // 2^64 - file size keeps every absolute end offset (here and in the
      // audit's messages) from wrapping.
      if (nb > UINT64_MAX - bytes.size() || t.offset > UINT64_MAX - bytes.size() - nb)
        throw Error(ErrorKind::Format, "offset + size overflows 64 bits");
    } catch (const Error& e) {
      throw Error(e.kind(), e.message(), name, t.name, at);
    }
    f.tensors_.push_back(std::move(t));
  }
  f.header_end_ = c.pos();
  f.data_offset_ = n_tensors ? align_up(f.header_end_, f.alignment_) : f.header_end_;
  if (n_tensors && f.data_offset_ > bytes.size())
    throw Error(ErrorKind::Format, "file is truncated: it ends before the tensor data section (" +
                                       std::to_string(f.data_offset_) + " bytes)",
                name, {}, bytes.size());

  if (opts.strict_layout) {
    const uint64_t data_size = bytes.size() - f.data_offset_;
    std::vector<const TensorInfo*> by_offset;
    for (const auto& t : f.tensors_) {
      if (t.offset % f.alignment_ != 0)
        throw Error(ErrorKind::Integrity, "data offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
                                              std::to_string(f.alignment_) + " (run 'qkv repair')",
                    name, t.name, f.data_offset_ + t.offset);
      if (t.offset > data_size || t.nbytes() > data_size - t.offset)
        throw Error(ErrorKind::Integrity, "data (" + std::to_string(t.nbytes()) + " bytes) extends past the end of the file; the file is truncated",
                    name, t.name, f.data_offset_ + t.offset);
      by_offset.push_back(&t);
    }
    // A zero-size tensor may share its offset with the next (the writer lays
    // them out so); sorting it first keeps it from looking like an overlap.
    std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) {
      return a->offset != b->offset ? a->offset < b->offset : a->nbytes() < b->nbytes();
    });
    for (size_t i = 1; i < by_offset.size(); ++i)
      if (by_offset[i - 1]->offset + by_offset[i - 1]->nbytes() > by_offset[i]->offset)
        throw Error(ErrorKind::Integrity, "data overlaps tensor '" + by_offset[i]->name + "'", name,
                    by_offset[i - 1]->name, f.data_offset_ + by_offset[i - 1]->offset);
  }
  return f;
}

const TensorInfo* File::find_tensor(std::string_view n) const {
  for (const auto& t : tensors_)
    if (t.name == n) return &t;
  return nullptr;
}

std::span<const uint8_t> File::tensor_data(size_t i) const {
  const TensorInfo& t = tensors_.at(i);
  const uint64_t nb = t.nbytes();
  if (data_offset_ > bytes_.size() || t.offset > bytes_.size() - data_offset_ ||
      nb > bytes_.size() - data_offset_ - t.offset)
    throw Error(ErrorKind::Integrity, "data extends past the end of the file", name_, t.name, data_offset_ + t.offset);
  return bytes_.subspan(data_offset_ + t.offset, nb);
}

}  // namespace qkv::gguf
