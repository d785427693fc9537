// Helpers for the .qkv tests: compress + decompress, and F32 safetensors
// re-saved as BF16 / F16 (a trained model's real weights in those dtypes).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "qkv/convert.h"
#include "qkv/qkv_file.h"
#include "qkv/safetensors.h"
#include "test_support.h"

namespace qkv::test {

inline qkvfile::CompressOptions small_chunks(uint64_t chunk = 16 << 10) {
  qkvfile::CompressOptions o;
  o.chunk_size = chunk;
  o.threads = 2;
  o.progress = false;
  return o;
}

// Compresses `in`, decompresses the result; returns the restored path.
inline std::filesystem::path round_trip(const std::filesystem::path& in, const TempDir& tmp, const std::string& name,
                                        const qkvfile::CompressOptions& opts = small_chunks()) {
  const auto packed = tmp / (name + ".qkv"), restored = tmp / (name + ".out");
  qkvfile::compress(in.string(), packed.string(), opts);
  qkvfile::decompress(packed.string(), restored.string(), {.threads = 2, .progress = false});
  return restored;
}

// The same tensors in `dtype` (F16 or BF16), converted from F32 by the converter.
inline void resave_as(const std::filesystem::path& f32_file, DType dtype, const std::filesystem::path& out) {
  ConvertOptions o;
  o.type = std::string(dtype_name(dtype));
  o.progress = false;
  convert_to_hf(f32_file.string(), out.string(), o);
}

}  // namespace qkv::test
