#include "codec/dict256.h"

#include <algorithm>
#include <bit>
#include <limits>

#include "codec/bytes.h"

namespace qkv::codec {
namespace {

constexpr size_t kMaxCodebook = 256;
constexpr size_t kGroup = 8;
constexpr uint16_t kNotCoded = 0xFFFF;  // in the value -> index map

// The min(256, distinct) most frequent values, most frequent first, equal
// counts by value ascending.
std::vector<uint16_t> build_codebook(const uint8_t* p, size_t n) {
  std::vector<uint32_t> count(65536, 0);
  for (size_t i = 0; i < n; ++i) ++count[load_u16(p + 2 * i)];
  std::vector<uint16_t> values;
  for (uint32_t v = 0; v < 65536; ++v)
    if (count[v] != 0) values.push_back(static_cast<uint16_t>(v));
  const size_t k = std::min(values.size(), kMaxCodebook);
  std::partial_sort(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(k), values.end(),
                    [&](uint16_t a, uint16_t b) { return count[a] != count[b] ? count[a] > count[b] : a < b; });
  values.resize(k);
  return values;
}

}  // namespace

std::optional<std::vector<uint8_t>> dict256_encode(std::span<const uint8_t> chunk) {
  if (chunk.size() % 2 != 0 || chunk.size() / 2 > std::numeric_limits<uint32_t>::max()) return std::nullopt;
  const size_t n = chunk.size() / 2;
  const std::vector<uint16_t> book = build_codebook(chunk.data(), n);

  std::vector<uint16_t> index_of(65536, kNotCoded);
  for (size_t j = 0; j < book.size(); ++j) index_of[book[j]] = static_cast<uint16_t>(j);

  std::vector<uint8_t> out;
  put_u32(out, static_cast<uint32_t>(n));
  put_u16(out, static_cast<uint16_t>(book.size()));
  for (uint16_t v : book) put_u16(out, v);

  // Worst case: every element raw, plus one bitmap byte per group.
  const size_t head = out.size();
  out.resize(head + (n + kGroup - 1) / kGroup + 2 * n);
  uint8_t* w = out.data() + head;
  for (size_t g = 0; g < n; g += kGroup) {
    uint8_t* bitmap = w++;
    uint8_t bits = 0;
    const size_t m = std::min(kGroup, n - g);
    for (size_t i = 0; i < m; ++i) {
      const uint16_t v = load_u16(chunk.data() + 2 * (g + i));
      const uint16_t idx = index_of[v];
      if (idx != kNotCoded) {
        bits |= static_cast<uint8_t>(1u << i);
        *w++ = static_cast<uint8_t>(idx);
      } else {
        std::memcpy(w, chunk.data() + 2 * (g + i), 2);
        w += 2;
      }
    }
    *bitmap = bits;
  }
  out.resize(static_cast<size_t>(w - out.data()));
  return out;
}

void dict256_decode(std::span<const uint8_t> payload, std::span<uint8_t> out) {
  PayloadReader r(payload);
  const uint32_t n = r.u32("element count");
  if (out.size() % 2 != 0 || n != out.size() / 2)
    corrupt("dict256 payload holds " + std::to_string(n) + " 16-bit elements but the chunk has " +
                std::to_string(out.size()) + " bytes",
            0);
  const uint16_t k = r.u16("codebook size");
  if (k > kMaxCodebook || k > n || (n > 0 && k == 0))
    corrupt("dict256 codebook size " + std::to_string(k) + " is impossible for " + std::to_string(n) + " elements", 4);
  uint16_t book[kMaxCodebook];
  const size_t book_at = r.pos();
  const auto book_bytes = r.bytes(2 * size_t{k}, "codebook");
  std::vector<bool> seen(65536, false);
  for (size_t j = 0; j < k; ++j) {
    book[j] = load_u16(book_bytes.data() + 2 * j);
    if (seen[book[j]]) corrupt("dict256 codebook holds value " + std::to_string(book[j]) + " twice", book_at + 2 * j);
    seen[book[j]] = true;
  }

  // The body: each group's length follows from its bitmap, so it is checked
  // once per group and the element loop reads without further checks.
  const size_t body_at = r.pos();
  const auto body = r.bytes(r.left(), "groups");
  const uint8_t* p = body.data();
  const uint8_t* const end = p + body.size();
  uint8_t* o = out.data();
  for (size_t g = 0; g < n; g += kGroup) {
    const size_t at = body_at + static_cast<size_t>(p - body.data());
    if (p == end) corrupt("dict256 payload ends before group " + std::to_string(g / kGroup), at);
    const uint8_t bits = *p++;
    const size_t m = std::min<size_t>(kGroup, n - g);
    if (m < kGroup && (bits >> m) != 0)
      corrupt("dict256 bitmap of the last group flags elements past the end of the chunk", at);
    const size_t coded = static_cast<size_t>(std::popcount(bits));
    const size_t need = coded + 2 * (m - coded);
    if (static_cast<size_t>(end - p) < need)
      corrupt("dict256 group " + std::to_string(g / kGroup) + " needs " + std::to_string(need) + " bytes, " +
                  std::to_string(end - p) + " remain",
              at + 1);
    for (size_t i = 0; i < m; ++i, o += 2) {
      if (bits >> i & 1u) {
        const uint8_t idx = *p++;
        if (idx >= k)
          corrupt("dict256 index " + std::to_string(idx) + " is past the codebook (" + std::to_string(k) + " entries)",
                  body_at + static_cast<size_t>(p - 1 - body.data()));
        std::memcpy(o, &book[idx], 2);
      } else {
        std::memcpy(o, p, 2);
        p += 2;
      }
    }
  }
  if (p != end)
    corrupt(std::to_string(end - p) + " unexpected bytes after the last dict256 group",
            body_at + static_cast<size_t>(p - body.data()));
}

}  // namespace qkv::codec
