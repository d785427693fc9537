// The lossless codecs on real weights: size ratio (coded / original) and
// single-thread encode and decode speed (MB/s of original bytes) for each
// codec, for the adaptive choice, and for plain zstd -3 and -19 of the same
// chunks, the baseline measured in this same run.
//
//   build/bench/bench_codec [SHARED_DIR]   (default: ../shared beside the source tree, or $QKV_SHARED)
//
// Data: stories260K's float32 tensors and tinystories-656k's (safetensors)
// converted to BF16 and F16, and llama.cpp's tiny-llama Q4_K_M tensors as
// they are. Tensors are cut into chunks of at most 4 MiB, as the .qkv
// container does. A codec that cannot take a chunk (block fields on a
// float tensor) counts it as stored raw.
#include <zstd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "qkv/codec.h"
#include "qkv/error.h"
#include "qkv/file.h"
#include "qkv/fp16.h"
#include "qkv/gguf.h"

using namespace qkv;
using namespace qkv::codec;
namespace fs = std::filesystem;

namespace {

constexpr size_t kChunkBytes = size_t{4} << 20;

struct Chunk {
  std::vector<uint8_t> bytes;
  TensorType type;
};

struct Dataset {
  std::string name;
  std::vector<Chunk> chunks;
  size_t bytes() const {
    size_t n = 0;
    for (const auto& c : chunks) n += c.bytes.size();
    return n;
  }
};

void add_tensor(Dataset& d, std::span<const uint8_t> data, TensorType type) {
  const size_t bb = type_info(type).block_bytes, step = kChunkBytes / bb * bb;
  for (size_t at = 0; at < data.size(); at += step) {
    const auto piece = data.subspan(at, std::min(step, data.size() - at));
    d.chunks.push_back({{piece.begin(), piece.end()}, type});
  }
}

// All of a dataset's bytes as one chunk: a large model's tensors fill whole
// 4 MiB chunks, and this shows the codecs without the per-chunk costs that
// dominate on these tiny models' small tensors.
Dataset one_chunk(const Dataset& d) {
  Dataset all{d.name + ", as one chunk", {{{}, d.chunks.front().type}}};
  for (const auto& c : d.chunks) all.chunks[0].bytes.insert(all.chunks[0].bytes.end(), c.bytes.begin(), c.bytes.end());
  return all;
}

// Float32 weights as 16-bit floats of the given type.
void add_f32_as(Dataset& d, std::span<const uint8_t> f32, TensorType to) {
  std::vector<float> x(f32.size() / 4);
  std::memcpy(x.data(), f32.data(), x.size() * 4);
  std::vector<uint16_t> h(x.size());
  (to == TensorType::BF16 ? fp32_to_bf16_row : fp32_to_fp16_row)(x.data(), h.data(), x.size());
  add_tensor(d, {reinterpret_cast<const uint8_t*>(h.data()), 2 * h.size()}, to);
}

std::vector<std::span<const uint8_t>> gguf_f32_tensors(const gguf::File& f) {
  std::vector<std::span<const uint8_t>> out;
  for (size_t i = 0; i < f.tensors().size(); ++i)
    if (f.tensors()[i].type == TensorType::F32) out.push_back(f.tensor_data(i));
  return out;
}

// The F32 tensors of a safetensors file: an 8-byte header length N, N bytes
// of JSON {"name": {"dtype", "shape", "data_offsets": [begin, end]}}, then
// the data, offsets relative to its start.
std::vector<std::span<const uint8_t>> safetensors_f32_tensors(const MappedFile& m) {
  const auto b = m.bytes();
  if (b.size() < 8) throw Error(ErrorKind::Format, "not a safetensors file", m.path());
  uint64_t n = 0;
  std::memcpy(&n, b.data(), 8);
  if (n > b.size() - 8) throw Error(ErrorKind::Format, "header longer than the file", m.path());
  const auto header = nlohmann::json::parse(b.begin() + 8, b.begin() + 8 + static_cast<std::ptrdiff_t>(n));
  const auto data = b.subspan(8 + n);
  std::vector<std::span<const uint8_t>> out;
  for (const auto& [name, t] : header.items()) {
    if (name == "__metadata__" || t.at("dtype") != "F32") continue;
    const uint64_t begin = t.at("data_offsets")[0], end = t.at("data_offsets")[1];
    if (begin > end || end > data.size()) throw Error(ErrorKind::Format, "tensor outside the data", m.path(), name);
    out.push_back(data.subspan(begin, end - begin));
  }
  return out;
}

// Best-of-N wall time of fn, in seconds; repeats until ~0.3 s have been spent.
double time_best(const std::function<void()>& fn, int min_runs = 3) {
  double best = 1e30, spent = 0;
  for (int i = 0; i < 50 && (i < min_runs || spent < 0.3); ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, s);
    spent += s;
  }
  return best;
}

struct Coded {
  CodecId codec;  // ignored by the zstd rows
  std::vector<uint8_t> payload;
};

// One table row: a way of coding each chunk and of decoding it back.
struct Method {
  std::string name;
  std::function<Coded(const Chunk&)> encode;
  std::function<void(const Coded&, std::span<uint8_t>)> decode;
};

Method codec_row(const std::string& name, CodecId id, EncodeOptions opts = {}) {
  return {name,
          [=](const Chunk& c) {
            auto p = encode_with(id, c.bytes, c.type, opts);
            return p ? Coded{id, std::move(*p)} : Coded{CodecId::Raw, c.bytes};
          },
          [](const Coded& e, std::span<uint8_t> out) { decode_chunk(e.codec, e.payload, out); }};
}

Method zstd_row(int level) {
  return {"zstd -" + std::to_string(level),
          [=](const Chunk& c) {
            std::vector<uint8_t> z(ZSTD_compressBound(c.bytes.size()));
            z.resize(ZSTD_compress(z.data(), z.size(), c.bytes.data(), c.bytes.size(), level));
            return Coded{CodecId::Raw, std::move(z)};
          },
          [](const Coded& e, std::span<uint8_t> out) {
            if (ZSTD_decompress(out.data(), out.size(), e.payload.data(), e.payload.size()) != out.size())
              throw Error(ErrorKind::Integrity, "zstd round trip failed");
          }};
}

// Order-0 entropy of the exponent byte plus that of the sign+mantissa byte
// (the rotated byte planes), as a fraction of the 16 bits: what an ideal
// entropy coder of those two planes would reach.
double bf16_plane_entropy_ratio(const Dataset& d) {
  double bits = 0, elems = 0;
  for (const auto& c : d.chunks) {
    std::vector<double> hi(256), lo(256);
    const size_t n = c.bytes.size() / 2;
    for (size_t i = 0; i < n; ++i) {
      uint16_t v;
      std::memcpy(&v, c.bytes.data() + 2 * i, 2);
      v = static_cast<uint16_t>(v << 1 | v >> 15);
      ++hi[v >> 8], ++lo[v & 0xFF];
    }
    for (const auto* h : {&hi, &lo})
      for (double x : *h)
        if (x) bits -= x * std::log2(x / static_cast<double>(n));
    elems += static_cast<double>(n);
  }
  return bits / (16 * elems);
}

void run(const Dataset& d, const std::vector<Method>& methods) {
  const double mb = static_cast<double>(d.bytes()) / 1e6;
  std::printf("\n%s: %.2f MB in %zu chunks\n", d.name.c_str(), mb, d.chunks.size());
  std::printf("  %-26s %8s %12s %12s\n", "codec", "ratio", "enc MB/s", "dec MB/s");
  std::vector<std::vector<uint8_t>> out(d.chunks.size());
  for (size_t i = 0; i < d.chunks.size(); ++i) out[i].resize(d.chunks[i].bytes.size());
  for (const Method& m : methods) {
    std::vector<Coded> coded(d.chunks.size());
    const double enc = time_best(
        [&] {
          for (size_t i = 0; i < d.chunks.size(); ++i) coded[i] = m.encode(d.chunks[i]);
        },
        1);
    const double dec = time_best([&] {
      for (size_t i = 0; i < d.chunks.size(); ++i) m.decode(coded[i], out[i]);
    });
    size_t size = 0;
    bool exact = true;
    for (size_t i = 0; i < d.chunks.size(); ++i) {
      size += coded[i].payload.size();
      exact = exact && out[i] == d.chunks[i].bytes;
    }
    std::printf("  %-26s %7.2f%% %12.1f %12.1f%s\n", m.name.c_str(), 100.0 * static_cast<double>(size) / 1e6 / mb,
                mb / enc, mb / dec, exact ? "" : "   ROUND TRIP FAILED");
  }
}

fs::path shared_dir(int argc, char** argv) {
  if (argc > 1) return argv[1];
  if (const char* env = std::getenv("QKV_SHARED"); env && *env) return env;
  return fs::path(QKV_SOURCE_DIR).parent_path() / "shared";
}

}  // namespace

int main(int argc, char** argv) try {
  const fs::path models = shared_dir(argc, argv) / "models";
  const auto stories = gguf::File::open((models / "gguf-stories260K/stories260K.gguf").string());
  const MappedFile tinystories((models / "hf-llama-tinystories-656k/model.safetensors").string());
  const auto q4km = gguf::File::open((models / "gguf-llamacpp-quantized/tiny-llama-Q4_K_M.gguf").string());

  std::vector<Dataset> floats;
  for (TensorType to : {TensorType::BF16, TensorType::F16}) {
    const std::string t(type_name(to));
    Dataset a{"stories260K F32 weights as " + t, {}}, b{"tinystories-656k F32 weights as " + t, {}};
    for (auto s : gguf_f32_tensors(stories)) add_f32_as(a, s, to);
    for (auto s : safetensors_f32_tensors(tinystories)) add_f32_as(b, s, to);
    floats.push_back(std::move(a));
    floats.push_back(one_chunk(b));
    floats.push_back(std::move(b));
  }
  Dataset quant{"tiny-llama Q4_K_M (all tensors, their own types)", {}};
  for (size_t i = 0; i < q4km.tensors().size(); ++i) add_tensor(quant, q4km.tensor_data(i), q4km.tensors()[i].type);

  std::printf("one thread; ratio = coded / original; MB/s of original bytes (best of several runs)\n");
  const std::vector<Method> float_rows = {
      codec_row("dict256", CodecId::Dict256),
      codec_row("byte-planes (Huffman only)", CodecId::BytePlanes, {.huffman = true, .zstd_level = 0}),
      codec_row("byte-planes (zstd only)", CodecId::BytePlanes, {.huffman = false, .zstd_level = 3}),
      codec_row("byte-planes", CodecId::BytePlanes),
      {"adaptive (encode_chunk)",
       [](const Chunk& c) {
         auto e = encode_chunk(c.bytes, c.type);
         return Coded{e.codec, std::move(e.payload)};
       },
       [](const Coded& e, std::span<uint8_t> out) { decode_chunk(e.codec, e.payload, out); }},
      zstd_row(3),
      zstd_row(19),
  };
  for (const Dataset& d : floats) {
    run(d, float_rows);
    if (d.chunks.front().type == TensorType::BF16)
      std::printf("  order-0 entropy of the exponent and sign+mantissa planes: %.2f%%\n",
                  100 * bf16_plane_entropy_ratio(d));
  }
  std::vector<Method> quant_rows = float_rows;
  quant_rows.insert(quant_rows.begin() + 4, codec_row("block-fields", CodecId::BlockFields));
  quant_rows.insert(quant_rows.begin() + 5,
                    codec_row("block-fields (Huffman only)", CodecId::BlockFields, {.huffman = true, .zstd_level = 0}));
  run(quant, quant_rows);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_codec: %s\n", e.what());
  return 1;
}
