// Inference speed of one GGUF model: prompt processing (pp) and generation
// (tg) tokens/s on 1 and N threads, generation of kBatch sequences at once
// (decode_batch) against the same sequences one after another (the baseline,
// in the same run), and peak RSS against the file size.
//
//   build/bench/bench_run MODEL.gguf [pp_tokens=128] [tg_tokens=64]
//
// scripts/bench.sh runs it for F16, Q8_0, Q4_0 and Q4_K_M forms of one model
// (one process each, so peak RSS is per form) and prints the ratios to F16.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <numeric>

#include "qkv/parallel.h"
#include "qkv/session.h"

using namespace qkv;

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

struct Speed {
  double pp, tg;
};

Speed measure(const std::shared_ptr<const Model>& model, int threads, int n_pp, int n_tg) {
  std::vector<int32_t> prompt(static_cast<size_t>(n_pp));
  for (int i = 0; i < n_pp; ++i) prompt[i] = 1 + (i * 37) % static_cast<int>(model->config().n_vocab - 1);
  Speed best{0, 0};
  for (int rep = 0; rep < 3; ++rep) {
    Session s(model, n_pp + n_tg + 1, threads);
    double t0 = now();
    auto logits = s.decode(prompt);
    const double pp = n_pp / (now() - t0);
    t0 = now();
    for (int i = 0; i < n_tg; ++i) {
      const int32_t next = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
      logits = s.decode(std::span<const int32_t>(&next, 1));
    }
    const double tg = n_tg / (now() - t0);
    best = {std::max(best.pp, pp), std::max(best.tg, tg)};
  }
  return best;
}

constexpr int kBatch = 4;

// Total generation tokens/s of kBatch sequences: one decode_batch per step, or
// each sequence's steps on its own (sequential). Each sequence starts from a
// short prompt of its own.
double batch_tg(const std::shared_ptr<const Model>& model, int threads, int n_tg, bool batched) {
  const int V = static_cast<int>(model->config().n_vocab);
  std::vector<std::unique_ptr<Session>> owned;
  std::vector<Session*> sessions;
  std::vector<std::vector<int32_t>> next;
  for (int b = 0; b < kBatch; ++b) {
    owned.push_back(std::make_unique<Session>(model, n_tg + 8, threads));
    sessions.push_back(owned.back().get());
    next.push_back({1 + (b * 101) % (V - 1), 1 + (b * 53 + 7) % (V - 1)});
  }
  const auto argmax = [](const std::vector<float>& l) {
    return static_cast<int32_t>(std::max_element(l.begin(), l.end()) - l.begin());
  };
  const double t0 = now();
  if (batched) {
    for (int i = 0; i < n_tg; ++i) {
      const auto logits = decode_batch(sessions, next);
      for (int b = 0; b < kBatch; ++b) next[b] = {argmax(logits[b])};
    }
  } else {
    for (int b = 0; b < kBatch; ++b)
      for (int i = 0; i < n_tg; ++i) next[b] = {argmax(sessions[b]->decode(next[b]))};
  }
  return kBatch * n_tg / (now() - t0);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL.gguf [pp_tokens] [tg_tokens]\n", argv[0]);
    return 2;
  }
  const int n_pp = argc > 2 ? std::atoi(argv[2]) : 128, n_tg = argc > 3 ? std::atoi(argv[3]) : 64;
  auto model = Model::load(argv[1]);
  const int n = hardware_threads();
  const Speed one = measure(model, 1, n_pp, n_tg), all = measure(model, n, n_pp, n_tg);
  const double seq = batch_tg(model, n, n_tg, false), bat = batch_tg(model, n, n_tg, true);
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const double rss_mb = ru.ru_maxrss / 1024.0, file_mb = std::filesystem::file_size(argv[1]) / 1e6;
  // One machine-readable line: name pp1 tg1 ppN tgN threads rss_mb file_mb seqN batchN
  std::printf("%s %.1f %.1f %.1f %.1f %d %.1f %.1f %.1f %.1f\n", std::filesystem::path(argv[1]).filename().c_str(),
              one.pp, one.tg, all.pp, all.tg, n, rss_mb, file_mb, seq, bat);
  return 0;
}
