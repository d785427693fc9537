// UTF-8 helpers and GPT-2's byte <-> character mapping for byte-level BPE.
#include "model/tokenizer_impl.h"

namespace qkv::tok {

namespace {

std::string utf8_encode(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (cp >> 18));
    s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

// GPT-2 keeps the printable Latin-1 bytes as themselves and moves the rest
// (controls, space, DEL, NBSP, soft hyphen) to U+0100 onwards, in byte order,
// so that no BPE token contains whitespace or control characters.
bool printable(int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); }

std::array<uint32_t, 256> byte_codepoints() {
  std::array<uint32_t, 256> cp{};
  uint32_t next = 256;
  for (int b = 0; b < 256; ++b) cp[b] = printable(b) ? static_cast<uint32_t>(b) : next++;
  return cp;
}

}  // namespace

const std::array<std::string, 256>& byte_to_unicode() {
  static const std::array<std::string, 256> table = [] {
    std::array<std::string, 256> t;
    const auto cp = byte_codepoints();
    for (int b = 0; b < 256; ++b) t[b] = utf8_encode(cp[b]);
    return t;
  }();
  return table;
}

int unicode_to_byte(uint32_t codepoint) {
  // The mapped characters all lie below U+0144 (256 + the 68 moved bytes).
  static const std::array<int16_t, 0x144> table = [] {
    std::array<int16_t, 0x144> t;
    t.fill(-1);
    const auto cp = byte_codepoints();
    for (int b = 0; b < 256; ++b) t[cp[b]] = static_cast<int16_t>(b);
    return t;
  }();
  return codepoint < table.size() ? table[codepoint] : -1;
}

size_t utf8_len(uint8_t lead) {
  static constexpr uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[lead >> 4];
}

int32_t utf8_next(std::string_view s, size_t& i) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  const uint8_t b0 = byte(i);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  size_t n;
  uint32_t min;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2;
    min = 0x80;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3;
    min = 0x800;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4;
    min = 0x10000;
  } else {  // a continuation byte or a lead byte UTF-8 never uses
    ++i;
    return -1;
  }
  uint32_t cp = b0 & (0x7F >> n);
  bool ok = i + n <= s.size();
  for (size_t k = 1; ok && k < n; ++k) {
    ok = (byte(i + k) & 0xC0) == 0x80;
    cp = cp << 6 | (byte(i + k) & 0x3F);
  }
  // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are invalid too.
  if (!ok || cp < min || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
    ++i;
    return -1;
  }
  i += n;
  return static_cast<int32_t>(cp);
}

bool utf8_valid(std::string_view text) {
  for (size_t i = 0; i < text.size();)
    if (utf8_next(text, i) < 0) return false;
  return true;
}

std::string utf8_sanitize(std::string_view text) {
  static const std::string kReplacement = utf8_encode(0xFFFD);
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const size_t start = i;
    if (utf8_next(text, i) < 0)
      out += kReplacement;
    else
      out.append(text.substr(start, i - start));
  }
  return out;
}

}  // namespace qkv::tok
