// The checkpoint dtype table and the conversion of any checkpoint tensor to
// float32. Tensor bytes come straight from a memory map at whatever offset the
// file chose, so every element is loaded with memcpy, never through a cast
// pointer that might be misaligned.
#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>

#include "qkv/error.h"
#include "qkv/fp16.h"
#include "qkv/safetensors.h"

namespace qkv {
namespace {

static_assert(std::endian::native == std::endian::little, "checkpoint files are little-endian");

constexpr std::array<DTypeInfo, 15> kDTypes = {{
    {DType::F64, "F64", 8, TensorType::F64},
    {DType::F32, "F32", 4, TensorType::F32},
    {DType::F16, "F16", 2, TensorType::F16},
    {DType::BF16, "BF16", 2, TensorType::BF16},
    {DType::F8_E4M3, "F8_E4M3", 1, std::nullopt},
    {DType::F8_E5M2, "F8_E5M2", 1, std::nullopt},
    {DType::I64, "I64", 8, TensorType::I64},
    {DType::I32, "I32", 4, TensorType::I32},
    {DType::I16, "I16", 2, TensorType::I16},
    {DType::I8, "I8", 1, TensorType::I8},
    {DType::U64, "U64", 8, std::nullopt},
    {DType::U32, "U32", 4, std::nullopt},
    {DType::U16, "U16", 2, std::nullopt},
    {DType::U8, "U8", 1, std::nullopt},
    {DType::BOOL, "BOOL", 1, std::nullopt},
}};

constexpr bool table_in_enum_order() {
  for (size_t i = 0; i < kDTypes.size(); ++i)
    if (static_cast<size_t>(kDTypes[i].dtype) != i) return false;
  return true;
}
static_assert(table_in_enum_order());

// float8 E4M3 ("fn" variant): bias 7, no infinities; S.1111.111 is NaN, so
// the largest finite value is 448.
float f8_e4m3_to_f32(uint8_t b) {
  const uint32_t sign = static_cast<uint32_t>(b & 0x80u) << 24;
  const uint32_t exp = (b >> 3) & 0xFu;
  const uint32_t man = b & 0x7u;
  if (exp == 0xF && man == 0x7) return std::bit_cast<float>(sign | 0x7FC00000u);
  if (exp != 0) return std::bit_cast<float>(sign | ((exp + 127u - 7u) << 23) | (man << 20));
  // Zero or subnormal: man * 2^-9, exact in float.
  const float v = static_cast<float>(man) * 0x1p-9f;
  return std::bit_cast<float>(sign | std::bit_cast<uint32_t>(v));
}

// float8 E5M2 is the high byte of an IEEE half (same exponent, 2 mantissa bits).
float f8_e5m2_to_f32(uint8_t b) { return fp16_to_fp32(static_cast<uint16_t>(b << 8)); }

template <class T>
void convert_scalars(const uint8_t* src, float* dst, uint64_t n) {
  for (uint64_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, src + i * sizeof(T), sizeof(T));
    dst[i] = static_cast<float>(v);
  }
}

// 16-bit floats go through the vectorised row converters, staged through an
// aligned buffer because the source may sit at an odd address.
void convert_halves(const uint8_t* src, float* dst, uint64_t n, void (*row)(const uint16_t*, float*, size_t)) {
  constexpr uint64_t kChunk = 4096;
  std::array<uint16_t, kChunk> buf;
  for (uint64_t i = 0; i < n; i += kChunk) {
    const uint64_t k = std::min(kChunk, n - i);
    std::memcpy(buf.data(), src + i * 2, k * 2);
    row(buf.data(), dst + i, k);
  }
}

// The readers guarantee this; a hand-made descriptor might not.
void check_size(const CheckpointTensor& t, uint64_t floats) {
  const uint64_t n = t.n_elements();
  if (floats != n || t.data.size() / dtype_size(t.dtype) != n || t.data.size() % dtype_size(t.dtype) != 0)
    throw Error(ErrorKind::Usage,
                "to_f32: " + std::to_string(t.data.size()) + " bytes of " + std::string(dtype_name(t.dtype)) +
                    " cannot fill " + std::to_string(floats) + " floats for " + std::to_string(n) + " elements",
                {}, t.name);
}

}  // namespace

std::span<const DTypeInfo> all_dtypes() { return kDTypes; }

const DTypeInfo& dtype_info(DType d) {
  const auto i = static_cast<size_t>(d);
  if (i >= kDTypes.size()) throw Error(ErrorKind::Unsupported, "unknown dtype " + std::to_string(i));
  return kDTypes[i];
}

std::string_view dtype_name(DType d) { return dtype_info(d).name; }

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const auto& d : kDTypes)
    if (d.name == name) return d.dtype;
  return std::nullopt;
}

void to_f32(const CheckpointTensor& t, std::span<float> out) {
  check_size(t, out.size());
  const uint64_t n = out.size();
  if (n == 0) return;  // an empty span's data() may be null, which memcpy must not see
  const uint8_t* s = t.data.data();
  float* d = out.data();
  switch (t.dtype) {
    case DType::F64: convert_scalars<double>(s, d, n); break;
    case DType::F32: std::memcpy(d, s, n * 4); break;
    case DType::F16: convert_halves(s, d, n, fp16_to_fp32_row); break;
    case DType::BF16: convert_halves(s, d, n, bf16_to_fp32_row); break;
    case DType::F8_E4M3: std::transform(s, s + n, d, f8_e4m3_to_f32); break;
    case DType::F8_E5M2: std::transform(s, s + n, d, f8_e5m2_to_f32); break;
    case DType::I64: convert_scalars<int64_t>(s, d, n); break;
    case DType::I32: convert_scalars<int32_t>(s, d, n); break;
    case DType::I16: convert_scalars<int16_t>(s, d, n); break;
    case DType::I8: convert_scalars<int8_t>(s, d, n); break;
    case DType::U64: convert_scalars<uint64_t>(s, d, n); break;
    case DType::U32: convert_scalars<uint32_t>(s, d, n); break;
    case DType::U16: convert_scalars<uint16_t>(s, d, n); break;
    case DType::U8: convert_scalars<uint8_t>(s, d, n); break;
    // Any non-zero byte is true, as numpy and torch read a bool.
    case DType::BOOL: std::transform(s, s + n, d, [](uint8_t b) { return b ? 1.0f : 0.0f; }); break;
  }
}

std::vector<float> to_f32(const CheckpointTensor& t) {
  check_size(t, t.n_elements());  // before allocating what the descriptor claims
  std::vector<float> out(t.n_elements());
  to_f32(t, out);
  return out;
}

}  // namespace qkv
