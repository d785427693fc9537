// The entry points of qkv/quant.h: the kernels of each type's row of the
// traits table (quant/traits.h), rows spread over threads.
#include "qkv/quant.h"

#include <string>

#include "qkv/error.h"
#include "qkv/parallel.h"
#include "quant/traits.h"

namespace qkv::quant {
namespace {

const TypeTraits& require(TensorType t, bool write) {
  const TypeTraits* k = find_traits(t);
  const char* what = write ? "quantize to" : "dequantize";
  if (!k || !(write ? k->quantize_ref != nullptr : k->dequantize_ref != nullptr))
    throw Error(ErrorKind::Unsupported, std::string("cannot ") + what + " " + std::string(type_name(t)) + " yet");
  return *k;
}

}  // namespace

bool can_quantize(TensorType t) {
  const TypeTraits* k = find_traits(t);
  return k && k->quantize_ref;
}
bool can_dequantize(TensorType t) {
  const TypeTraits* k = find_traits(t);
  return k && k->dequantize_ref;
}
bool uses_imatrix(TensorType t) {
  const TypeTraits* k = find_traits(t);
  return k && k->imatrix != ImatrixUse::Ignored;
}
bool requires_imatrix(TensorType t) {
  const TypeTraits* k = find_traits(t);
  return k && k->imatrix == ImatrixUse::Required;
}

void quantize(TensorType t, const float* src, void* dst, int64_t nrows, int64_t n_per_row, const float* imatrix,
              int threads) {
  const TypeTraits& k = require(t, true);
  const uint64_t rb = row_bytes(t, static_cast<uint64_t>(n_per_row));
  parallel_for(nrows, threads, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      k.quantize_fast(src + r * n_per_row, static_cast<uint8_t*>(dst) + r * rb, n_per_row, imatrix);
  });
}

void dequantize(TensorType t, const void* src, float* dst, int64_t nrows, int64_t n_per_row, int threads) {
  const TypeTraits& k = require(t, false);
  const uint64_t rb = row_bytes(t, static_cast<uint64_t>(n_per_row));
  parallel_for(nrows, threads, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      k.dequantize_fast(static_cast<const uint8_t*>(src) + r * rb, dst + r * n_per_row, n_per_row);
  });
}

void quantize_reference(TensorType t, const float* src, void* dst, int64_t nrows, int64_t n_per_row,
                        const float* imatrix) {
  const TypeTraits& k = require(t, true);
  const uint64_t rb = row_bytes(t, static_cast<uint64_t>(n_per_row));
  for (int64_t r = 0; r < nrows; ++r)
    k.quantize_ref(src + r * n_per_row, static_cast<uint8_t*>(dst) + r * rb, n_per_row, imatrix);
}

void dequantize_reference(TensorType t, const void* src, float* dst, int64_t nrows, int64_t n_per_row) {
  const TypeTraits& k = require(t, false);
  const uint64_t rb = row_bytes(t, static_cast<uint64_t>(n_per_row));
  for (int64_t r = 0; r < nrows; ++r)
    k.dequantize_ref(static_cast<const uint8_t*>(src) + r * rb, dst + r * n_per_row, n_per_row);
}

}  // namespace qkv::quant
