// Strict safetensors reader. The header length is checked against a cap and
// the file size before a byte of JSON is read; every tensor's byte range is
// checked against its shape and dtype (with overflow checks) and against the
// data section. Like the reference implementation, the ranges must tile the
// data section exactly: an overlap, a hole between two tensors or bytes after
// the last one are errors, since a safetensors writer never produces them and
// bytes that no tensor claims usually mean an offset is wrong.
#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <tuple>
#include <unordered_set>

#include "qkv/error.h"
#include "qkv/safetensors.h"

namespace qkv::safetensors {
namespace {

using nlohmann::json;

constexpr const char* kCorruptHint = "the file is corrupt or was cut short; download or export it again";

// Root object (depth 0) > tensor entry or __metadata__ (1) > shape or
// data_offsets array (2) > numbers (3). Anything nested deeper is refused
// while parsing, before it is built.
constexpr int kMaxContainerDepth = 2;

struct Entry {
  std::string name;
  DType dtype = DType::F32;
  std::vector<uint64_t> shape;
  uint64_t begin = 0, end = 0;
};

// Parses the header JSON, refusing duplicate keys (nlohmann would keep the
// last silently) and needless nesting.
json parse_json(std::span<const uint8_t> text, const std::string& file) {
  // Keys of the object open at each depth (a key's depth is its object's + 1).
  std::unordered_set<std::string> keys[kMaxContainerDepth + 2];
  auto check = [&](int depth, json::parse_event_t ev, json& parsed) {
    if ((ev == json::parse_event_t::object_start || ev == json::parse_event_t::array_start) &&
        depth > kMaxContainerDepth)
      throw Error(ErrorKind::Format, "header JSON nests deeper than safetensors allows; " + std::string(kCorruptHint),
                  file);
    if (ev == json::parse_event_t::object_start) keys[depth + 1].clear();
    if (ev == json::parse_event_t::key && !keys[depth].insert(parsed.get<std::string>()).second)
      throw Error(ErrorKind::Format, "header JSON repeats the key '" + parsed.get<std::string>() + "'", file);
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), check);
  } catch (const json::parse_error& e) {
    throw Error(ErrorKind::Format, "header is not valid JSON (" + std::string(e.what()) + "); " + kCorruptHint, file,
                {}, 8 + (e.byte > 0 ? e.byte - 1 : 0));
  } catch (const json::exception& e) {  // e.g. a number too large for any JSON number type
    throw Error(ErrorKind::Format, "header is not valid JSON (" + std::string(e.what()) + "); " + kCorruptHint, file);
  }
}

uint64_t as_count(const json& v, const std::string& file, const std::string& tensor, const char* what) {
  if (!v.is_number_unsigned())
    throw Error(ErrorKind::Format, std::string(what) + " must be a non-negative integer, found " + v.dump(), file,
                tensor);
  return v.get<uint64_t>();
}

std::map<std::string, std::string> read_metadata(const json& md, const std::string& file) {
  if (!md.is_object())
    throw Error(ErrorKind::Format, "__metadata__ must be an object of strings, found " + std::string(md.type_name()),
                file);
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : md.items()) {
    if (!v.is_string())
      throw Error(ErrorKind::Format,
                  "__metadata__ value '" + k + "' must be a string, found " + std::string(v.type_name()), file);
    out.emplace(k, v.get<std::string>());
  }
  return out;
}

// One tensor entry, with its size checked against its dtype and shape.
Entry read_entry(const std::string& name, const json& e, const std::string& file) {
  if (!e.is_object())
    throw Error(ErrorKind::Format, "entry must be an object with dtype, shape and data_offsets", file, name);
  for (const auto& [k, v] : e.items())
    if (k != "dtype" && k != "shape" && k != "data_offsets")
      throw Error(ErrorKind::Format, "unexpected key '" + k + "' (expected dtype, shape, data_offsets)", file, name);
  for (const char* k : {"dtype", "shape", "data_offsets"})
    if (!e.contains(k)) throw Error(ErrorKind::Format, std::string("missing '") + k + "'", file, name);

  Entry t;
  t.name = name;
  const json& dt = e["dtype"];
  const std::string dt_name = dt.is_string() ? dt.get<std::string>() : dt.dump();
  const auto dtype = dtype_from_name(dt_name);
  if (!dtype) {
    std::string known;
    for (const auto& d : all_dtypes()) known.append(known.empty() ? "" : ", ").append(d.name);
    throw Error(ErrorKind::Unsupported, "unknown dtype " + dt.dump() + " (known: " + known + ")", file, name);
  }
  t.dtype = *dtype;

  const json& shape = e["shape"];
  if (!shape.is_array()) throw Error(ErrorKind::Format, "shape must be an array of integers", file, name);
  for (const auto& d : shape) t.shape.push_back(as_count(d, file, name, "each shape dimension"));

  const json& off = e["data_offsets"];
  if (!off.is_array() || off.size() != 2)
    throw Error(ErrorKind::Format, "data_offsets must be [begin, end]", file, name);
  t.begin = as_count(off[0], file, name, "data_offsets begin");
  t.end = as_count(off[1], file, name, "data_offsets end");
  if (t.end < t.begin)
    throw Error(ErrorKind::Format,
                "data_offsets end " + std::to_string(t.end) + " is before begin " + std::to_string(t.begin), file,
                name);

  uint64_t n = 0;
  try {
    n = element_count(t.shape);
  } catch (const Error&) {
    throw Error(ErrorKind::Format, "the element count of its shape overflows 64 bits", file, name);
  }
  const uint64_t es = dtype_size(t.dtype);
  if (n > UINT64_MAX / es) throw Error(ErrorKind::Format, "its byte size overflows 64 bits", file, name);
  if (t.end - t.begin != n * es) {
    std::string dims;
    for (uint64_t d : t.shape) dims.append(dims.empty() ? "" : ", ").append(std::to_string(d));
    throw Error(ErrorKind::Integrity,
                "data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) + "] hold " +
                    std::to_string(t.end - t.begin) + " bytes but shape [" + dims + "] of " +
                    std::string(dtype_name(t.dtype)) + " needs " + std::to_string(n * es) + "; " + kCorruptHint,
                file, name);
  }
  return t;
}

// The ranges, in offset order, must cover [0, data_size) exactly.
void check_tiling(const std::vector<Entry>& sorted, uint64_t data_size, uint64_t data_offset,
                  const std::string& file) {
  uint64_t expected = 0;
  const Entry* prev = nullptr;
  for (const Entry& t : sorted) {
    if (t.end > data_size)
      throw Error(ErrorKind::Integrity,
                  "data [" + std::to_string(t.begin) + ", " + std::to_string(t.end) + ") extends past the " +
                      std::to_string(data_size) + "-byte data section; " + kCorruptHint,
                  file, t.name, data_offset + t.begin);
    if (t.begin < expected)
      throw Error(ErrorKind::Integrity, "data overlaps tensor '" + prev->name + "' (which ends at " +
                                            std::to_string(expected) + "); " + kCorruptHint,
                  file, t.name, data_offset + t.begin);
    if (t.begin > expected)
      throw Error(ErrorKind::Integrity,
                  std::to_string(t.begin - expected) + " bytes before it belong to no tensor (a hole after " +
                      (prev ? "'" + prev->name + "'" : std::string("the header")) +
                      "); the reference safetensors library refuses such files too",
                  file, t.name, data_offset + expected);
    expected = t.end;
    prev = &t;
  }
  if (expected != data_size)
    throw Error(ErrorKind::Integrity,
                std::to_string(data_size - expected) + " bytes after the last tensor belong to no tensor; " +
                    kCorruptHint,
                file, {}, data_offset + expected);
}

}  // namespace

File File::open(const std::string& path) {
  auto map = std::make_shared<MappedFile>(path);
  File f = parse(map->bytes(), path);
  f.map_ = std::move(map);
  return f;
}

File File::parse(std::span<const uint8_t> bytes, const std::string& name) {
  File f;
  f.bytes_ = bytes;
  f.name_ = name;
  if (bytes.size() < 8)
    throw Error(ErrorKind::Format,
                "file is truncated: " + std::to_string(bytes.size()) +
                    " bytes, but a safetensors file starts with an 8-byte header length",
                name);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  if (n > kMaxHeaderSize)
    throw Error(ErrorKind::Format,
                "header length " + std::to_string(n) + " exceeds the " + std::to_string(kMaxHeaderSize) +
                    "-byte limit; this is not a safetensors file or it is corrupt",
                name, {}, 0);
  if (n > bytes.size() - 8)
    throw Error(ErrorKind::Format,
                "file is truncated: the header claims " + std::to_string(n) + " bytes but only " +
                    std::to_string(bytes.size() - 8) + " follow; " + kCorruptHint,
                name, {}, 0);
  if (n == 0 || bytes[8] != '{')
    throw Error(ErrorKind::Format, "the header must be a JSON object starting with '{'; " + std::string(kCorruptHint),
                name, {}, 8);
  f.data_offset_ = 8 + n;

  const json header = parse_json(bytes.subspan(8, n), name);
  if (!header.is_object()) throw Error(ErrorKind::Format, "the header must be a JSON object", name, {}, 8);
  std::vector<Entry> entries;
  entries.reserve(header.size());
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__")
      f.metadata_ = read_metadata(value, name);
    else
      entries.push_back(read_entry(key, value, name));
  }
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name); });
  check_tiling(entries, bytes.size() - f.data_offset_, f.data_offset_, name);

  f.tensors_.reserve(entries.size());
  for (Entry& e : entries)
    f.tensors_.push_back({std::move(e.name), e.dtype, std::move(e.shape),
                          bytes.subspan(f.data_offset_ + e.begin, e.end - e.begin)});
  return f;
}

const CheckpointTensor* File::find(std::string_view n) const {
  for (const auto& t : tensors_)
    if (t.name == n) return &t;
  return nullptr;
}

}  // namespace qkv::safetensors
