// The one table of tensor types that GGUF files use. Every row size, tensor
// size and type name in QKV Core derives from it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace qkv {

// Values are the GGUF / ggml enum values; they are written to files as-is.
enum class TensorType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3,
  // 4 and 5 (Q4_2, Q4_3) were removed from ggml long ago.
  Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20,
  IQ3_S = 21, IQ2_S = 22, IQ4_XS = 23,
  I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28,
  IQ1_M = 29, BF16 = 30,
  // 31..33 (Q4_0_4_4 ...) and 36..38 (IQ4_NL_4_4 ...) were removed from GGUF.
  TQ1_0 = 34, TQ2_0 = 35,
  MXFP4 = 39, NVFP4 = 40, Q1_0 = 41, Q2_0 = 42,
};

struct TypeInfo {
  TensorType type;
  std::string_view name;   // as ggml_type_name prints it, upper case
  uint32_t block_elems;    // elements per block (1 for plain scalars)
  uint32_t block_bytes;    // bytes per block
  bool quantized;          // block-quantized (as opposed to a plain scalar array)
};

// Every known type, in enum order.
std::span<const TypeInfo> all_types();

// nullptr when the enum value is not a known type.
const TypeInfo* find_type(uint32_t gguf_value);
// Throws qkv::Error (Unsupported) when unknown.
const TypeInfo& type_info(TensorType t);
// Case-insensitive lookup by name ("q4_k", "Q4_K"); nullopt when unknown.
std::optional<TensorType> type_from_name(std::string_view name);
std::string_view type_name(TensorType t);

// Bytes of one row of n elements. Throws (Format) if n is not a whole number of blocks.
uint64_t row_bytes(TensorType t, uint64_t n);
// Bytes of a whole tensor with the given GGML-order shape (ne[0] = row length).
// Throws on a partial block or on overflow.
uint64_t tensor_bytes(TensorType t, std::span<const uint64_t> shape);
// Checked element count; throws on overflow.
uint64_t element_count(std::span<const uint64_t> shape);

}  // namespace qkv
