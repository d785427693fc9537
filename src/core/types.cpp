#include "qkv/types.h"

#include <array>
#include <cctype>

#include "qkv/error.h"

namespace qkv {
namespace {

using T = TensorType;
constexpr uint32_t QK_K = 256;

// Layouts follow ggml-common.h; the static_asserts below pin the ones that are
// easy to get wrong (sizes of the super-block types).
constexpr std::array kTypes = {
    TypeInfo{T::F32, "F32", 1, 4, false},
    TypeInfo{T::F16, "F16", 1, 2, false},
    TypeInfo{T::Q4_0, "Q4_0", 32, 2 + 16, true},
    TypeInfo{T::Q4_1, "Q4_1", 32, 2 + 2 + 16, true},
    TypeInfo{T::Q5_0, "Q5_0", 32, 2 + 4 + 16, true},
    TypeInfo{T::Q5_1, "Q5_1", 32, 2 + 2 + 4 + 16, true},
    TypeInfo{T::Q8_0, "Q8_0", 32, 2 + 32, true},
    TypeInfo{T::Q8_1, "Q8_1", 32, 2 + 2 + 32, true},
    TypeInfo{T::Q2_K, "Q2_K", QK_K, QK_K / 16 + QK_K / 4 + 2 + 2, true},
    TypeInfo{T::Q3_K, "Q3_K", QK_K, QK_K / 8 + QK_K / 4 + 12 + 2, true},
    TypeInfo{T::Q4_K, "Q4_K", QK_K, 2 + 2 + 12 + QK_K / 2, true},
    TypeInfo{T::Q5_K, "Q5_K", QK_K, 2 + 2 + 12 + QK_K / 8 + QK_K / 2, true},
    TypeInfo{T::Q6_K, "Q6_K", QK_K, QK_K / 2 + QK_K / 4 + QK_K / 16 + 2, true},
    TypeInfo{T::Q8_K, "Q8_K", QK_K, 4 + QK_K + QK_K / 16 * 2, true},
    TypeInfo{T::IQ2_XXS, "IQ2_XXS", QK_K, 2 + QK_K / 8 * 2, true},
    TypeInfo{T::IQ2_XS, "IQ2_XS", QK_K, 2 + QK_K / 8 * 2 + QK_K / 32, true},
    TypeInfo{T::IQ3_XXS, "IQ3_XXS", QK_K, 2 + 3 * QK_K / 8, true},
    TypeInfo{T::IQ1_S, "IQ1_S", QK_K, 2 + QK_K / 8 + QK_K / 32 * 2, true},
    TypeInfo{T::IQ4_NL, "IQ4_NL", 32, 2 + 16, true},
    TypeInfo{T::IQ3_S, "IQ3_S", QK_K, 2 + QK_K / 4 + QK_K / 32 + QK_K / 8 + QK_K / 64, true},
    TypeInfo{T::IQ2_S, "IQ2_S", QK_K, 2 + QK_K / 4 + QK_K / 32 + QK_K / 32, true},
    TypeInfo{T::IQ4_XS, "IQ4_XS", QK_K, 2 + 2 + QK_K / 64 + QK_K / 2, true},
    TypeInfo{T::I8, "I8", 1, 1, false},
    TypeInfo{T::I16, "I16", 1, 2, false},
    TypeInfo{T::I32, "I32", 1, 4, false},
    TypeInfo{T::I64, "I64", 1, 8, false},
    TypeInfo{T::F64, "F64", 1, 8, false},
    TypeInfo{T::IQ1_M, "IQ1_M", QK_K, QK_K / 8 + QK_K / 16 + QK_K / 32, true},
    TypeInfo{T::BF16, "BF16", 1, 2, false},
    TypeInfo{T::TQ1_0, "TQ1_0", QK_K, (QK_K - 4 * QK_K / 64) / 5 + QK_K / 64 + 2, true},
    TypeInfo{T::TQ2_0, "TQ2_0", QK_K, QK_K / 4 + 2, true},
    TypeInfo{T::MXFP4, "MXFP4", 32, 1 + 16, true},
    TypeInfo{T::NVFP4, "NVFP4", 64, 4 + 32, true},
    TypeInfo{T::Q1_0, "Q1_0", 128, 2 + 16, true},
    TypeInfo{T::Q2_0, "Q2_0", 64, 2 + 16, true},
};

constexpr const TypeInfo& info_of(T t) {
  for (const auto& i : kTypes)
    if (i.type == t) return i;
  throw "unknown type";  // compile-time only
}

// Pinned layouts (bytes per block), the numbers ggml-common.h asserts.
static_assert(info_of(T::Q4_0).block_bytes == 18);
static_assert(info_of(T::Q4_1).block_bytes == 20);
static_assert(info_of(T::Q5_0).block_bytes == 22);
static_assert(info_of(T::Q5_1).block_bytes == 24);
static_assert(info_of(T::Q8_0).block_bytes == 34);
static_assert(info_of(T::Q8_1).block_bytes == 36);
static_assert(info_of(T::Q2_K).block_bytes == 84);
static_assert(info_of(T::Q3_K).block_bytes == 110);
static_assert(info_of(T::Q4_K).block_bytes == 144);
static_assert(info_of(T::Q5_K).block_bytes == 176);
static_assert(info_of(T::Q6_K).block_bytes == 210);
static_assert(info_of(T::Q8_K).block_bytes == 292);
static_assert(info_of(T::IQ2_XXS).block_bytes == 66);
static_assert(info_of(T::IQ2_XS).block_bytes == 74);
static_assert(info_of(T::IQ2_S).block_bytes == 82);
static_assert(info_of(T::IQ3_XXS).block_bytes == 98);
static_assert(info_of(T::IQ3_S).block_bytes == 110);
static_assert(info_of(T::IQ1_S).block_bytes == 50);
static_assert(info_of(T::IQ1_M).block_bytes == 56);
static_assert(info_of(T::IQ4_NL).block_bytes == 18);
static_assert(info_of(T::IQ4_XS).block_bytes == 136);
static_assert(info_of(T::TQ1_0).block_bytes == 54);
static_assert(info_of(T::TQ2_0).block_bytes == 66);
static_assert(info_of(T::MXFP4).block_bytes == 17);
static_assert(info_of(T::NVFP4).block_bytes == 36);
static_assert(info_of(T::Q1_0).block_bytes == 18);
static_assert(info_of(T::Q2_0).block_bytes == 18);

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::toupper(static_cast<unsigned char>(a[i])) != std::toupper(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

}  // namespace

std::span<const TypeInfo> all_types() { return kTypes; }

const TypeInfo* find_type(uint32_t v) {
  for (const auto& i : kTypes)
    if (static_cast<uint32_t>(i.type) == v) return &i;
  return nullptr;
}

const TypeInfo& type_info(TensorType t) {
  if (const TypeInfo* i = find_type(static_cast<uint32_t>(t))) return *i;
  throw Error(ErrorKind::Unsupported,
              "unknown tensor type " + std::to_string(static_cast<uint32_t>(t)));
}

std::optional<TensorType> type_from_name(std::string_view name) {
  for (const auto& i : kTypes)
    if (iequals(i.name, name)) return i.type;
  return std::nullopt;
}

std::string_view type_name(TensorType t) {
  const TypeInfo* i = find_type(static_cast<uint32_t>(t));
  return i ? i->name : std::string_view("UNKNOWN");
}

uint64_t row_bytes(TensorType t, uint64_t n) {
  const TypeInfo& i = type_info(t);
  if (n % i.block_elems != 0)
    throw Error(ErrorKind::Format, "row of " + std::to_string(n) + " elements is not a whole number of " +
                                       std::string(i.name) + " blocks (" + std::to_string(i.block_elems) +
                                       " elements each)");
  if (n / i.block_elems > UINT64_MAX / i.block_bytes)
    throw Error(ErrorKind::Format, "row of " + std::to_string(n) + " elements overflows 64-bit byte counts");
  return n / i.block_elems * i.block_bytes;
}

uint64_t element_count(std::span<const uint64_t> shape) {
  uint64_t n = 1;
  for (uint64_t d : shape) {
    if (d != 0 && n > UINT64_MAX / d) throw Error(ErrorKind::Format, "tensor element count overflows 64 bits");
    n *= d;
  }
  return n;
}

uint64_t tensor_bytes(TensorType t, std::span<const uint64_t> shape) {
  if (shape.empty()) return row_bytes(t, 1);
  const uint64_t rb = row_bytes(t, shape[0]);
  const uint64_t rows = element_count(shape.subspan(1));
  if (rows != 0 && rb > UINT64_MAX / rows) throw Error(ErrorKind::Format, "tensor byte size overflows 64 bits");
  return rb * rows;
}

}  // namespace qkv
