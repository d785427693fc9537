// FNV-1a, 64-bit: fingerprints that tell whether tokenized data and a
// vocabulary are still the ones a checkpoint was trained on. Not for security.
#pragma once

#include <cstdint>
#include <string_view>

namespace qkv::train {

class Fnv64 {
 public:
  Fnv64& bytes(const void* data, size_t n) {
    const auto* p = static_cast<const uint8_t*>(data);
    for (size_t i = 0; i < n; ++i) h_ = (h_ ^ p[i]) * 0x100000001B3ull;
    return *this;
  }
  Fnv64& str(std::string_view s) {
    u64(s.size());
    return bytes(s.data(), s.size());
  }
  Fnv64& u64(uint64_t v) { return bytes(&v, sizeof v); }
  uint64_t value() const { return h_; }

 private:
  uint64_t h_ = 0xCBF29CE484222325ull;
};

}  // namespace qkv::train
