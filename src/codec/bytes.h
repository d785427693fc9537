// Little-endian byte helpers shared by the codecs: appending fixed-width
// integers to a payload, and a cursor that checks every read against the
// bytes that remain (a short or inconsistent payload is an Integrity error
// naming the payload offset).
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "qkv/error.h"

namespace qkv::codec {

static_assert(std::endian::native == std::endian::little, "the codecs load payload words as little-endian");

inline uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
inline uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint64_t load_u64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// memcpy that accepts empty (possibly null) spans.
inline void copy_bytes(uint8_t* dst, const uint8_t* src, size_t n) {
  if (n != 0) std::memcpy(dst, src, n);
}

inline void put_u8(std::vector<uint8_t>& out, uint8_t v) { out.push_back(v); }
inline void put_u16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v));
  out.push_back(static_cast<uint8_t>(v >> 8));
}
inline void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
inline void put_bytes(std::vector<uint8_t>& out, std::span<const uint8_t> b) {
  out.insert(out.end(), b.begin(), b.end());
}

[[noreturn]] inline void corrupt(const std::string& what, uint64_t offset) {
  throw Error(ErrorKind::Integrity, what, {}, {}, offset);
}

class PayloadReader {
 public:
  explicit PayloadReader(std::span<const uint8_t> b) : b_(b) {}

  size_t pos() const { return pos_; }
  size_t left() const { return b_.size() - pos_; }

  std::span<const uint8_t> bytes(size_t n, const char* what) {
    if (n > left())
      corrupt(std::string("payload is truncated: ") + what + " needs " + std::to_string(n) + " bytes, " +
                  std::to_string(left()) + " remain",
              pos_);
    const auto s = b_.subspan(pos_, n);
    pos_ += n;
    return s;
  }
  uint8_t u8(const char* what) { return bytes(1, what)[0]; }
  uint16_t u16(const char* what) { return load_u16(bytes(2, what).data()); }
  uint32_t u32(const char* what) { return load_u32(bytes(4, what).data()); }

  // A payload must be used up exactly: trailing bytes mean it is not what the encoder wrote.
  void expect_end() const {
    if (left() != 0) corrupt(std::to_string(left()) + " unexpected bytes at the end of the payload", pos_);
  }

 private:
  std::span<const uint8_t> b_;
  size_t pos_ = 0;
};

}  // namespace qkv::codec
