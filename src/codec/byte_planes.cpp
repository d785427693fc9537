#include "codec/byte_planes.h"

#include <array>
#include <bit>

#include "codec/stream.h"

namespace qkv::codec {
namespace {

constexpr size_t kMaxWidth = 4;
constexpr uint8_t kRotated = 1;

template <class T>
T load_le(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// The split and join loops are written per width and rotation so that the
// compiler sees fixed-size elements and vectorizes them.
template <class T, bool Rotate>
void split(const uint8_t* src, size_t n, std::array<uint8_t*, kMaxWidth> planes) {
  for (size_t i = 0; i < n; ++i) {
    T v = load_le<T>(src + i * sizeof(T));
    if constexpr (Rotate) v = std::rotl(v, 1);
    for (size_t b = 0; b < sizeof(T); ++b) planes[b][i] = static_cast<uint8_t>(v >> (8 * b));
  }
}

template <class T, bool Rotate>
void join(std::array<const uint8_t*, kMaxWidth> planes, size_t n, uint8_t* dst) {
  for (size_t i = 0; i < n; ++i) {
    T v = 0;
    for (size_t b = 0; b < sizeof(T); ++b) v = static_cast<T>(v | static_cast<T>(planes[b][i]) << (8 * b));
    if constexpr (Rotate) v = std::rotr(v, 1);
    std::memcpy(dst + i * sizeof(T), &v, sizeof(T));
  }
}

template <class T>
void split_as(bool rotated, const uint8_t* src, size_t n, std::array<uint8_t*, kMaxWidth> planes) {
  rotated ? split<T, true>(src, n, planes) : split<T, false>(src, n, planes);
}

template <class T>
void join_as(bool rotated, std::array<const uint8_t*, kMaxWidth> planes, size_t n, uint8_t* dst) {
  rotated ? join<T, true>(planes, n, dst) : join<T, false>(planes, n, dst);
}

}  // namespace

std::vector<PlaneLayout> plane_layouts(std::optional<TensorType> type) {
  if (!type) return {{1, false}, {2, false}, {2, true}, {4, false}, {4, true}};
  switch (*type) {
    case TensorType::BF16:
    case TensorType::F16:
      return {{2, true}, {2, false}};
    case TensorType::F32:
      return {{4, true}, {4, false}};
    case TensorType::I16:
      return {{2, false}};
    case TensorType::I32:
      return {{4, false}};
    default:
      return {{1, false}};
  }
}

std::vector<uint8_t> byte_planes_encode(std::span<const uint8_t> chunk, PlaneLayout layout, const EncodeOptions& opts) {
  const size_t w = layout.width;
  if (w != 1 && w != 2 && w != 4)
    throw Error(ErrorKind::Usage, "byte planes: width " + std::to_string(w) + " is not 1, 2 or 4");
  const size_t n = chunk.size() / w;
  std::array<std::vector<uint8_t>, kMaxWidth> planes;
  std::array<uint8_t*, kMaxWidth> p{};
  for (size_t b = 0; b < w; ++b) {
    planes[b].resize(n);
    p[b] = planes[b].data();
  }
  switch (w) {
    case 1:
      copy_bytes(p[0], chunk.data(), n);
      break;
    case 2:
      split_as<uint16_t>(layout.rotated, chunk.data(), n, p);
      break;
    case 4:
      split_as<uint32_t>(layout.rotated, chunk.data(), n, p);
      break;
  }
  std::vector<uint8_t> out;
  put_u8(out, static_cast<uint8_t>(w));
  put_u8(out, layout.rotated && w > 1 ? kRotated : 0);
  for (size_t b = 0; b < w; ++b) put_stream(out, planes[b], opts);
  put_bytes(out, chunk.subspan(n * w));
  return out;
}

void byte_planes_decode(std::span<const uint8_t> payload, std::span<uint8_t> out) {
  PayloadReader r(payload);
  const size_t w = r.u8("plane width");
  if (w != 1 && w != 2 && w != 4) corrupt("byte-plane width " + std::to_string(w) + " is not 1, 2 or 4", 0);
  const uint8_t flags = r.u8("plane flags");
  if ((flags & ~kRotated) != 0 || (w == 1 && flags != 0))
    corrupt("byte-plane flags " + std::to_string(flags) + " are not valid for width " + std::to_string(w), 1);
  const bool rotated = flags & kRotated;

  const size_t n = out.size() / w;
  std::array<std::vector<uint8_t>, kMaxWidth> scratch;
  std::array<const uint8_t*, kMaxWidth> planes{};
  for (size_t b = 0; b < w; ++b) planes[b] = get_stream(r, n, scratch[b]).data();
  const auto tail = r.bytes(out.size() - n * w, "tail bytes");
  r.expect_end();

  switch (w) {
    case 1:
      copy_bytes(out.data(), planes[0], n);
      break;
    case 2:
      join_as<uint16_t>(rotated, planes, n, out.data());
      break;
    case 4:
      join_as<uint32_t>(rotated, planes, n, out.data());
      break;
  }
  copy_bytes(out.data() + n * w, tail.data(), tail.size());
}

}  // namespace qkv::codec
