// Per-stream statistics of a .qkv for `qkv inspect`: the codec each chunk
// chose, and what every codec would have given on the decoded chunk.
#include <array>
#include <mutex>

#include "qkv/parallel.h"
#include "qkv/qkv_file.h"

namespace qkv::qkvfile {

std::vector<StreamReport> inspect(const Reader& r, const Entry& e, const codec::EncodeOptions& opts, int threads) {
  std::vector<StreamReport> out(e.streams.size());
  struct Job {
    size_t stream, chunk;
  };
  std::vector<Job> jobs;
  for (size_t s = 0; s < e.streams.size(); ++s) {
    StreamReport& rep = out[s];
    rep.stream = &e.streams[s];
    for (size_t c = 0; c < rep.stream->chunks.size(); ++c) {
      const Chunk& ch = rep.stream->chunks[c];
      rep.payload += ch.payload_size;
      ++rep.codec_chunks[static_cast<size_t>(ch.codec)];
      jobs.push_back({s, c});
    }
  }
  // A codec's total counts only when it was eligible on every chunk.
  constexpr size_t kCodecs = std::size(codec::kAllCodecs);
  std::vector<std::array<uint64_t, kCodecs>> sum(out.size()), eligible(out.size());
  std::mutex mu;
  parallel_for(static_cast<int64_t>(jobs.size()), resolve_threads(threads), [&](int64_t lo, int64_t hi) {
    std::vector<uint8_t> raw;
    for (int64_t j = lo; j < hi; ++j) {
      const size_t s = jobs[j].stream;
      const Stream& st = *out[s].stream;
      raw.resize(st.chunks[jobs[j].chunk].raw_size);
      r.decode(st, jobs[j].chunk, raw);
      const auto trials = codec::trial_sizes(raw, st.type, opts);
      const std::lock_guard lock(mu);
      for (const auto& t : trials)
        if (t.size) sum[s][static_cast<size_t>(t.codec)] += *t.size, ++eligible[s][static_cast<size_t>(t.codec)];
    }
  });
  for (size_t s = 0; s < out.size(); ++s)
    for (size_t c = 0; c < kCodecs; ++c)
      if (eligible[s][c] == out[s].stream->chunks.size()) out[s].trials[c] = sum[s][c];
  return out;
}

}  // namespace qkv::qkvfile
