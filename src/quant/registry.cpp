// Which kernels implement each type, and the threaded entry points.
#include <cstring>

#include "qkv/error.h"
#include "qkv/fp16.h"
#include "qkv/parallel.h"
#include "qkv/quant.h"
#include "quant/fast.h"
#include "quant/ref.h"

namespace qkv::quant {
namespace {

using QuantizeRow = void (*)(const float*, void*, int64_t, const float*);
using DequantizeRow = void (*)(const void*, float*, int64_t);

struct Kernels {
  TensorType type;
  QuantizeRow quantize_ref, quantize_fast;
  DequantizeRow dequantize_ref, dequantize_fast;
  bool imatrix;  // ggml's quantizer uses importance weights for this type
};

void f32_quantize(const float* s, void* d, int64_t n, const float*) { std::memcpy(d, s, n * sizeof(float)); }
void f32_dequantize(const void* s, float* d, int64_t n) { std::memcpy(d, s, n * sizeof(float)); }
void f16_quantize(const float* s, void* d, int64_t n, const float*) {
  fp32_to_fp16_row(s, static_cast<uint16_t*>(d), static_cast<size_t>(n));
}
void f16_dequantize(const void* s, float* d, int64_t n) {
  fp16_to_fp32_row(static_cast<const uint16_t*>(s), d, static_cast<size_t>(n));
}
void bf16_quantize(const float* s, void* d, int64_t n, const float*) {
  fp32_to_bf16_row(s, static_cast<uint16_t*>(d), static_cast<size_t>(n));
}
void bf16_dequantize(const void* s, float* d, int64_t n) {
  bf16_to_fp32_row(static_cast<const uint16_t*>(s), d, static_cast<size_t>(n));
}

// Formats we read but do not write yet.
#define QKV_READ_ONLY(T, t) \
  Kernels { TensorType::T, nullptr, nullptr, dequantize_row_##t##_ref, dequantize_row_##t##_ref, false }
// A reference plus a fast path that equals it bit for bit (tests/quant/fast_test.cpp).
#define QKV_FAST(T, t, imat)                                                                                \
  Kernels {                                                                                                 \
    TensorType::T, quantize_row_##t##_ref, quantize_row_##t##_fast, dequantize_row_##t##_ref,              \
        dequantize_row_##t##_fast, imat                                                                     \
  }

const Kernels kKernels[] = {
    {TensorType::F32, f32_quantize, f32_quantize, f32_dequantize, f32_dequantize, false},
    {TensorType::F16, f16_quantize, f16_quantize, f16_dequantize, f16_dequantize, false},
    {TensorType::BF16, bf16_quantize, bf16_quantize, bf16_dequantize, bf16_dequantize, false},
    QKV_FAST(Q4_0, q4_0, true),
    QKV_FAST(Q4_1, q4_1, true),
    QKV_FAST(Q5_0, q5_0, true),
    QKV_FAST(Q5_1, q5_1, true),
    QKV_FAST(Q8_0, q8_0, false),
    QKV_FAST(Q2_K, q2_K, true),
    QKV_FAST(Q3_K, q3_K, true),
    QKV_FAST(Q4_K, q4_K, true),
    QKV_FAST(Q5_K, q5_K, true),
    QKV_FAST(Q6_K, q6_K, true),
    QKV_FAST(IQ4_NL, iq4_nl, true),
    QKV_FAST(IQ4_XS, iq4_xs, true),
    QKV_FAST(TQ1_0, tq1_0, false),
    QKV_FAST(TQ2_0, tq2_0, false),
    QKV_FAST(MXFP4, mxfp4, false),
    QKV_READ_ONLY(IQ2_XXS, iq2_xxs),
    QKV_READ_ONLY(IQ2_XS, iq2_xs),
    QKV_READ_ONLY(IQ2_S, iq2_s),
    QKV_READ_ONLY(IQ3_XXS, iq3_xxs),
    QKV_READ_ONLY(IQ3_S, iq3_s),
    QKV_READ_ONLY(IQ1_S, iq1_s),
    QKV_READ_ONLY(IQ1_M, iq1_m),
};

const Kernels* find(TensorType t) {
  for (const auto& k : kKernels)
    if (k.type == t) return &k;
  return nullptr;
}

const Kernels& require(TensorType t, bool write) {
  const Kernels* k = find(t);
  const char* what = write ? "quantize to" : "dequantize";
  if (!k || (write && !k->quantize_ref)) throw Error(ErrorKind::Unsupported, std::string("cannot ") + what + " " + std::string(type_name(t)) + " yet");
  return *k;
}

}  // namespace

bool can_quantize(TensorType t) {
  const Kernels* k = find(t);
  return k && k->quantize_ref;
}
bool can_dequantize(TensorType t) { return find(t) != nullptr; }
bool uses_imatrix(TensorType t) {
  const Kernels* k = find(t);
  return k && k->imatrix;
}

void quantize(TensorType t, const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix,
              int threads) {
  const Kernels& k = require(t, true);
  const uint64_t rb = row_bytes(t, static_cast<uint64_t>(n_per_row));
  parallel_for(nrows, threads, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      k.quantize_fast(src + r * n_per_row, static_cast<uint8_t*>(dst) + r * rb, n_per_row, imatrix);
  });
}

void dequantize(TensorType t, const void* src, float* dst, int64_t nrows, int64_t n_per_row, int threads) {
  const Kernels& k = require(t, false);
  const uint64_t rb = row_bytes(t, static_cast<uint64_t>(n_per_row));
  parallel_for(nrows, threads, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      k.dequantize_fast(static_cast<const uint8_t*>(src) + r * rb, dst + r * n_per_row, n_per_row);
  });
}

void quantize_reference(TensorType t, const float* src, void* dst, int64_t nrows, int64_t n_per_row,
                        const float* imatrix) {
  const Kernels& k = require(t, true);
  const uint64_t rb = row_bytes(t, static_cast<uint64_t>(n_per_row));
  for (int64_t r = 0; r < nrows; ++r)
    k.quantize_ref(src + r * n_per_row, static_cast<uint8_t*>(dst) + r * rb, n_per_row, imatrix);
}

void dequantize_reference(TensorType t, const void* src, float* dst, int64_t nrows, int64_t n_per_row) {
  const Kernels& k = require(t, false);
  const uint64_t rb = row_bytes(t, static_cast<uint64_t>(n_per_row));
  for (int64_t r = 0; r < nrows; ++r)
    k.dequantize_ref(static_cast<const uint8_t*>(src) + r * rb, dst + r * n_per_row, n_per_row);
}

}  // namespace qkv::quant
