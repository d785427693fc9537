// GGUF metadata values and the ordered key/value table.
#include <bit>
#include <cstring>

#include "qkv/error.h"
#include "qkv/gguf.h"

namespace qkv::gguf {

std::string_view value_type_name(ValueType t) {
  switch (t) {
    case ValueType::U8: return "u8";
    case ValueType::I8: return "i8";
    case ValueType::U16: return "u16";
    case ValueType::I16: return "i16";
    case ValueType::U32: return "u32";
    case ValueType::I32: return "i32";
    case ValueType::F32: return "f32";
    case ValueType::BOOL: return "bool";
    case ValueType::STRING: return "string";
    case ValueType::ARRAY: return "array";
    case ValueType::U64: return "u64";
    case ValueType::I64: return "i64";
    case ValueType::F64: return "f64";
  }
  return "?";
}

size_t scalar_size(ValueType t) {
  switch (t) {
    case ValueType::U8: case ValueType::I8: case ValueType::BOOL: return 1;
    case ValueType::U16: case ValueType::I16: return 2;
    case ValueType::U32: case ValueType::I32: case ValueType::F32: return 4;
    case ValueType::U64: case ValueType::I64: case ValueType::F64: return 8;
    case ValueType::STRING: case ValueType::ARRAY: return 0;
  }
  return 0;
}

Value Value::scalar(ValueType t, uint64_t raw_bits) {
  Value v;
  v.type = t;
  v.bits = raw_bits;
  return v;
}
Value Value::f32(float f) { return scalar(ValueType::F32, std::bit_cast<uint32_t>(f)); }
Value Value::f64(double d) { return scalar(ValueType::F64, std::bit_cast<uint64_t>(d)); }
Value Value::string(std::string s) {
  Value v;
  v.type = ValueType::STRING;
  v.str = std::move(s);
  return v;
}
Value Value::array(ValueType elem, std::vector<Value> items) {
  Value v;
  v.type = ValueType::ARRAY;
  v.elem_type = elem;
  v.items = std::move(items);
  return v;
}
Value Value::string_array(const std::vector<std::string>& items) {
  std::vector<Value> vs;
  vs.reserve(items.size());
  for (const auto& s : items) vs.push_back(string(s));
  return array(ValueType::STRING, std::move(vs));
}

bool Value::is_integer() const {
  switch (type) {
    case ValueType::U8: case ValueType::I8: case ValueType::U16: case ValueType::I16:
    case ValueType::U32: case ValueType::I32: case ValueType::U64: case ValueType::I64: return true;
    default: return false;
  }
}

namespace {
[[noreturn]] void wrong_type(const Value& v, const char* want) {
  throw Error(ErrorKind::Format, std::string("metadata value is ") + std::string(value_type_name(v.type)) +
                                     ", expected " + want);
}
}  // namespace

int64_t Value::as_i64() const {
  switch (type) {
    case ValueType::U8: return static_cast<uint8_t>(bits);
    case ValueType::I8: return static_cast<int8_t>(bits);
    case ValueType::U16: return static_cast<uint16_t>(bits);
    case ValueType::I16: return static_cast<int16_t>(bits);
    case ValueType::U32: return static_cast<uint32_t>(bits);
    case ValueType::I32: return static_cast<int32_t>(bits);
    case ValueType::I64: return static_cast<int64_t>(bits);
    case ValueType::U64:
      if (bits > static_cast<uint64_t>(INT64_MAX)) wrong_type(*this, "a value that fits int64");
      return static_cast<int64_t>(bits);
    default: wrong_type(*this, "an integer");
  }
}

uint64_t Value::as_u64() const {
  if (type == ValueType::U64) return bits;
  const int64_t v = as_i64();
  if (v < 0) wrong_type(*this, "a non-negative integer");
  return static_cast<uint64_t>(v);
}

double Value::as_f64() const {
  if (type == ValueType::F32) return std::bit_cast<float>(static_cast<uint32_t>(bits));
  if (type == ValueType::F64) return std::bit_cast<double>(bits);
  if (is_integer()) return static_cast<double>(as_i64());
  wrong_type(*this, "a number");
}

bool Value::as_bool() const {
  if (type != ValueType::BOOL) wrong_type(*this, "bool");
  return bits != 0;
}

const std::string& Value::as_string() const {
  if (type != ValueType::STRING) wrong_type(*this, "string");
  return str;
}

namespace {
std::string quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') out += '\\', out += static_cast<char>(c);
    else if (c == '\n') out += "\\n";
    else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else out += static_cast<char>(c);
  }
  return out + "\"";
}
}  // namespace

std::string Value::to_string(size_t max_items) const {
  switch (type) {
    case ValueType::STRING: return quote(str.size() > 200 ? str.substr(0, 200) + "..." : str);
    case ValueType::BOOL: return bits ? "true" : "false";
    case ValueType::F32: case ValueType::F64: {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.9g", as_f64());
      return buf;
    }
    case ValueType::U64: return std::to_string(bits);
    case ValueType::ARRAY: {
      std::string s = "[";
      for (size_t i = 0; i < items.size() && i < max_items; ++i) {
        if (i) s += ", ";
        s += items[i].to_string(max_items);
      }
      if (items.size() > max_items) s += ", ... (" + std::to_string(items.size()) + " items)";
      return s + "]";
    }
    default: return std::to_string(as_i64());
  }
}

const Value* Metadata::find(std::string_view key) const {
  for (const auto& [k, v] : kv_)
    if (k == key) return &v;
  return nullptr;
}

uint64_t Metadata::get_u64(std::string_view key, uint64_t def) const {
  const Value* v = find(key);
  return v ? v->as_u64() : def;
}

std::string Metadata::get_string(std::string_view key, const std::string& def) const {
  const Value* v = find(key);
  return v ? v->as_string() : def;
}

void Metadata::set(const std::string& key, Value v) {
  for (auto& [k, old] : kv_)
    if (k == key) {
      old = std::move(v);
      return;
    }
  kv_.emplace_back(key, std::move(v));
}

bool Metadata::erase(std::string_view key) {
  for (auto it = kv_.begin(); it != kv_.end(); ++it)
    if (it->first == key) {
      kv_.erase(it);
      return true;
    }
  return false;
}

}  // namespace qkv::gguf
