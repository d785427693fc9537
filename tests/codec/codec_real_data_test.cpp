// Real weights through every codec: the float32 tensors of stories260K
// converted to BF16 and F16, and the Q4_K / Q6_K tensors of llama.cpp's
// Q4_K_M tiny-llama, each chunk restored byte for byte; plus the ratios the
// adaptive choice reaches on them (bench/bench_codec.cpp measures speeds).
#include <cstring>

#include "qkv/codec.h"
#include "qkv/fp16.h"
#include "qkv/gguf.h"
#include "test_support.h"

namespace qkv::codec {
namespace {

using Bytes = std::vector<uint8_t>;

constexpr size_t kChunk = size_t{4} << 20;

struct Totals {
  size_t raw = 0, adaptive = 0;
};

// Cuts `data` into chunks of at most `chunk` bytes, runs every eligible codec
// and the adaptive choice on each, and checks every decode.
void roundtrip_all(std::span<const uint8_t> data, TensorType type, size_t chunk, const std::string& what,
                   Totals& totals) {
  size_t at = 0;
  do {  // at least once: an empty tensor is one empty chunk
    const auto piece = data.subspan(at, std::min(chunk, data.size() - at));
    Bytes out(piece.size());
    for (CodecId c : kAllCodecs) {
      const auto p = encode_with(c, piece, type);
      if (!p) continue;
      std::fill(out.begin(), out.end(), 0xEE);
      decode_chunk(c, *p, out);
      ASSERT_TRUE(std::equal(out.begin(), out.end(), piece.begin()))
          << what << " at " << at << ": codec " << codec_name(c) << " did not restore the bytes";
    }
    const Encoded e = encode_chunk(piece, type);
    decode_chunk(e.codec, e.payload, out);
    ASSERT_TRUE(std::equal(out.begin(), out.end(), piece.begin())) << what << " at " << at << ": adaptive";
    totals.raw += piece.size();
    totals.adaptive += e.payload.size();
    at += chunk;
  } while (at < data.size());
}

TEST(CodecRealData, Stories260KAsBf16AndF16) {
  QKV_REQUIRE_SHARED("models/gguf-stories260K/stories260K.gguf");
  const auto f = gguf::File::open((test::shared_dir() / "models/gguf-stories260K/stories260K.gguf").string());
  Totals bf16, f16, f32;
  int tensors = 0;
  for (size_t i = 0; i < f.tensors().size(); ++i) {
    const auto& t = f.tensors()[i];
    if (t.type != TensorType::F32) continue;
    ++tensors;
    const auto bytes = f.tensor_data(i);
    std::vector<float> x(t.n_elements());
    std::memcpy(x.data(), bytes.data(), bytes.size());
    std::vector<uint16_t> h(x.size());
    const auto as_bytes = std::span(reinterpret_cast<const uint8_t*>(h.data()), 2 * h.size());
    fp32_to_bf16_row(x.data(), h.data(), x.size());
    roundtrip_all(as_bytes, TensorType::BF16, kChunk, t.name + " as BF16", bf16);
    fp32_to_fp16_row(x.data(), h.data(), x.size());
    roundtrip_all(as_bytes, TensorType::F16, kChunk, t.name + " as F16", f16);
    roundtrip_all(bytes, TensorType::F32, kChunk, t.name, f32);
  }
  EXPECT_GE(tensors, 20);
  const double r_bf16 = static_cast<double>(bf16.adaptive) / static_cast<double>(bf16.raw);
  const double r_f16 = static_cast<double>(f16.adaptive) / static_cast<double>(f16.raw);
  std::printf("  stories260K: BF16 %zu -> %zu bytes (%.1f%%), F16 %zu -> %zu bytes (%.1f%%)\n", bf16.raw, bf16.adaptive,
              100 * r_bf16, f16.raw, f16.adaptive, 100 * r_f16);
  EXPECT_LT(r_bf16, 0.70);  // measured 63.2%: the exponent byte entropy-coded, the rest stored
  EXPECT_LT(r_f16, 0.90);
}

TEST(CodecRealData, LlamaCppQ4KAndQ6KTensors) {
  QKV_REQUIRE_SHARED("models/gguf-llamacpp-quantized/tiny-llama-Q4_K_M.gguf");
  const auto f =
      gguf::File::open((test::shared_dir() / "models/gguf-llamacpp-quantized/tiny-llama-Q4_K_M.gguf").string());
  Totals q4k, q6k, odd_cuts;
  for (size_t i = 0; i < f.tensors().size(); ++i) {
    const auto& t = f.tensors()[i];
    if (t.type != TensorType::Q4_K && t.type != TensorType::Q6_K) continue;
    const auto bytes = f.tensor_data(i);
    roundtrip_all(bytes, t.type, kChunk, t.name, t.type == TensorType::Q4_K ? q4k : q6k);
    // Chunks that cut blocks in two: every codec must keep the partial block.
    roundtrip_all(bytes.first(std::min<size_t>(bytes.size(), 100000)), t.type, 10007, t.name + " in odd cuts",
                  odd_cuts);
  }
  ASSERT_GT(q4k.raw, 0u) << "no Q4_K tensor found";
  ASSERT_GT(q6k.raw, 0u) << "no Q6_K tensor found";
  std::printf("  tiny-llama Q4_K_M: Q4_K %zu -> %zu bytes (%.1f%%), Q6_K %zu -> %zu bytes (%.1f%%)\n", q4k.raw,
              q4k.adaptive, 100.0 * static_cast<double>(q4k.adaptive) / static_cast<double>(q4k.raw), q6k.raw,
              q6k.adaptive, 100.0 * static_cast<double>(q6k.adaptive) / static_cast<double>(q6k.raw));
  EXPECT_LT(q4k.adaptive, q4k.raw);
  EXPECT_LT(q6k.adaptive, q6k.raw);
}

}  // namespace
}  // namespace qkv::codec
