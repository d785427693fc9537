// What lossless coding can reach on a tensor (order-0 entropies) beside what
// the .qkv codecs actually get.
#include <algorithm>
#include <cmath>
#include <mutex>

#include "qkv/analysis.h"
#include "qkv/parallel.h"
#include "qkv/qkv_file.h"

namespace qkv::analysis {

double entropy_bits(std::span<const uint64_t> counts) {
  // H = log2 N - (1/N) sum c log2 c, in double.
  double n = 0, sum = 0;
  for (uint64_t c : counts)
    if (c) {
      const double x = static_cast<double>(c);
      n += x;
      sum += x * std::log2(x);
    }
  return n > 0 ? std::max(0.0, std::log2(n) - sum / n) : 0.0;
}

CodecSize codec_size(std::span<const uint8_t> bytes, TensorType type, int threads) {
  // The chunks `qkv compress` cuts a tensor into: whole blocks, about 4 MiB.
  const uint64_t bb = type_info(type).block_bytes;
  const uint64_t chunk = std::max<uint64_t>(bb, qkvfile::kDefaultChunkSize / bb * bb);
  const int64_t n = static_cast<int64_t>((bytes.size() + chunk - 1) / chunk);
  struct Coded {
    codec::CodecId codec;
    uint64_t in, out;
  };
  std::vector<Coded> coded(static_cast<size_t>(n));
  parallel_for(n, threads, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const uint64_t lo = static_cast<uint64_t>(i) * chunk;
      const auto piece = bytes.subspan(lo, std::min<uint64_t>(chunk, bytes.size() - lo));
      const auto e = codec::encode_chunk(piece, type);
      coded[static_cast<size_t>(i)] = {e.codec, piece.size(), e.payload.size()};
    }
  });
  CodecSize r;
  r.bytes_in = bytes.size();
  uint64_t per_codec[std::size(codec::kAllCodecs)] = {};
  for (const auto& c : coded) {
    r.bytes_out += c.out;
    per_codec[static_cast<size_t>(c.codec)] += c.in;
  }
  for (size_t c = 0; c < std::size(per_codec); ++c)
    if (per_codec[c] > per_codec[static_cast<size_t>(r.main_codec)]) r.main_codec = codec::kAllCodecs[c];
  return r;
}

Lossless lossless_16bit(std::span<const uint16_t> values, TensorType form, bool converted, int threads,
                        bool run_codecs) {
  Lossless l;
  l.form = form;
  l.converted = converted;
  std::vector<uint64_t> counts(1 << 16, 0);
  std::mutex mu;
  parallel_for(static_cast<int64_t>(values.size()), threads, [&](int64_t begin, int64_t end) {
    std::vector<uint64_t> local(1 << 16, 0);
    for (int64_t i = begin; i < end; ++i) ++local[values[static_cast<size_t>(i)]];
    std::lock_guard lock(mu);
    for (size_t v = 0; v < local.size(); ++v) counts[v] += local[v];
  }, 1 << 18);
  std::vector<uint64_t> high(256, 0), low(256, 0);
  for (size_t v = 0; v < counts.size(); ++v) {
    high[v >> 8] += counts[v];
    low[v & 0xFF] += counts[v];
  }
  l.entropy16 = entropy_bits(counts);
  l.entropy_high = entropy_bits(high);
  l.entropy_low = entropy_bits(low);
  if (run_codecs && !values.empty()) {
    const auto c = codec_size({reinterpret_cast<const uint8_t*>(values.data()), values.size() * 2}, form, threads);
    l.codec_bits = 8.0 * static_cast<double>(c.bytes_out) / static_cast<double>(values.size());
    l.codec = c.main_codec;
  }
  return l;
}

}  // namespace qkv::analysis
