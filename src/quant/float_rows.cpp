// The plain float types as rows: F32 is copied, F16 and BF16 are rounded as
// ggml rounds them (qkv/fp16.h). Each is its own reference and fast path.
#include <cstring>

#include "qkv/fp16.h"
#include "quant/ref.h"

namespace qkv::quant {

void quantize_row_f32(const float* src, void* dst, int64_t n, const float* /*imatrix*/) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}
void dequantize_row_f32(const void* src, float* dst, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}
void quantize_row_f16(const float* src, void* dst, int64_t n, const float* /*imatrix*/) {
  fp32_to_fp16_row(src, static_cast<uint16_t*>(dst), static_cast<size_t>(n));
}
void dequantize_row_f16(const void* src, float* dst, int64_t n) {
  fp16_to_fp32_row(static_cast<const uint16_t*>(src), dst, static_cast<size_t>(n));
}
void quantize_row_bf16(const float* src, void* dst, int64_t n, const float* /*imatrix*/) {
  fp32_to_bf16_row(src, static_cast<uint16_t*>(dst), static_cast<size_t>(n));
}
void dequantize_row_bf16(const void* src, float* dst, int64_t n) {
  bf16_to_fp32_row(static_cast<const uint16_t*>(src), dst, static_cast<size_t>(n));
}

}  // namespace qkv::quant
