// Helpers for the .qkv tests: compress + decompress, and F32 safetensors
// re-saved as BF16 / F16 (a trained model's real weights in those dtypes).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "qkv/fp16.h"
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

// The same tensors in `dtype` (F16 or BF16), converted from F32.
inline void resave_as(const std::filesystem::path& f32_file, DType dtype, const std::filesystem::path& out) {
  const auto in = safetensors::File::open(f32_file.string());
  std::vector<safetensors::TensorSpec> specs;
  for (const auto& t : in.tensors()) specs.push_back({t.name, dtype, t.shape});
  safetensors::Writer w(out.string(), specs, in.metadata());
  for (const auto& t : in.tensors()) {
    const auto f = to_f32(t);
    std::vector<uint16_t> h(f.size());
    for (size_t i = 0; i < f.size(); ++i) h[i] = dtype == DType::BF16 ? fp32_to_bf16(f[i]) : fp32_to_fp16(f[i]);
    w.write_tensor({reinterpret_cast<const uint8_t*>(h.data()), h.size() * 2});
  }
  w.finish();
}

}  // namespace qkv::test
