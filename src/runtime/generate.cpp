#include "qkv/generate.h"

#include <chrono>

#include "qkv/error.h"

namespace qkv {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// Accumulates decoded text and releases only what is final: complete UTF-8
// characters that cannot be the start of a stop string.
class TextStream {
 public:
  explicit TextStream(const std::vector<std::string>& stop) : stop_(stop) {}

  // Adds a piece; returns true when a stop string completed (text is cut before it).
  bool add(const std::string& piece) {
    pending_ += piece;
    for (const auto& s : stop_) {
      if (s.empty()) continue;
      if (const size_t at = pending_.find(s); at != std::string::npos) {
        pending_.resize(at);
        return true;
      }
    }
    return false;
  }

  // The prefix that is safe to show now (all of it when final).
  std::string take(bool final) {
    size_t n = pending_.size();
    if (!final) {
      n = complete_utf8(n);
      for (const auto& s : stop_)  // hold back a tail that may grow into a stop string
        for (size_t k = std::min(s.size() - (s.empty() ? 0 : 1), n); k > 0; --k)
          if (pending_.compare(n - k, k, s, 0, k) == 0) {
            n -= k;
            break;
          }
    }
    std::string out = pending_.substr(0, n);
    pending_.erase(0, n);
    return out;
  }

 private:
  // Length of the longest prefix of pending_[0, n) that ends on a character boundary.
  size_t complete_utf8(size_t n) const {
    size_t i = n;
    int back = 0;
    while (i > 0 && back < 4 && (static_cast<unsigned char>(pending_[i - 1]) & 0xC0) == 0x80) --i, ++back;
    if (i == 0) return n;
    const unsigned char lead = static_cast<unsigned char>(pending_[i - 1]);
    const int len = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    return back + 1 >= len ? n : i - 1;
  }

  const std::vector<std::string>& stop_;
  std::string pending_;
};

}  // namespace

GenerateStats generate(Session& session, const Tokenizer& tok, const std::vector<int32_t>& prompt,
                       const GenerateOptions& opts, const std::function<bool(std::string_view)>& on_text) {
  if (prompt.empty()) throw Error(ErrorKind::Usage, "the prompt is empty");
  GenerateStats st;
  Sampler sampler(opts.sampling);
  for (int32_t t : prompt) sampler.accept(t);
  TextStream text(opts.stop);

  auto t0 = std::chrono::steady_clock::now();
  auto logits = session.decode(prompt);
  st.prompt_tokens = static_cast<int>(prompt.size());
  st.prompt_seconds = seconds_since(t0);

  t0 = std::chrono::steady_clock::now();
  st.stop_reason = "length";
  for (int i = 0; opts.n_predict < 0 || i < opts.n_predict; ++i) {
    const int32_t next = sampler.sample(logits);
    sampler.accept(next);
    if (!opts.ignore_eos && tok.is_eog(next)) {
      st.stop_reason = "eos";
      break;
    }
    ++st.generated_tokens;
    const bool stopped = text.add(tok.token_to_piece(next, false));
    if (const std::string out = text.take(stopped); !out.empty() && !on_text(out)) {
      st.stop_reason = "cancelled";
      break;
    }
    if (stopped) {
      st.stop_reason = "stop string";
      break;
    }
    if (session.n_past() >= session.n_ctx()) {
      st.stop_reason = "context full";
      break;
    }
    logits = session.decode(std::span<const int32_t>(&next, 1));
  }
  if (const std::string rest = text.take(true); !rest.empty()) on_text(rest);
  st.generate_seconds = seconds_since(t0);
  return st;
}

std::vector<std::string> generate_batch(std::shared_ptr<const Model> model, const Tokenizer& tok,
                                        const std::vector<std::vector<int32_t>>& prompts, const GenerateOptions& opts,
                                        int n_ctx, int threads, GenerateStats* total) {
  const size_t n = prompts.size();
  std::vector<Session> sessions;
  std::vector<Sampler> samplers;
  std::vector<TextStream> streams;
  for (size_t i = 0; i < n; ++i) {
    if (prompts[i].empty()) throw Error(ErrorKind::Usage, "prompt " + std::to_string(i + 1) + " is empty");
    sessions.emplace_back(model, n_ctx, threads);
    SamplerParams sp = opts.sampling;
    sp.seed += i;
    samplers.emplace_back(sp);
    for (int32_t t : prompts[i]) samplers.back().accept(t);
    streams.emplace_back(opts.stop);
  }
  std::vector<std::string> out(n);
  std::vector<int> produced(n, 0);
  GenerateStats st;
  auto t0 = std::chrono::steady_clock::now();
  std::vector<Session*> active;
  for (auto& s : sessions) active.push_back(&s);
  auto logits = decode_batch(active, prompts);
  for (const auto& p : prompts) st.prompt_tokens += static_cast<int>(p.size());
  st.prompt_seconds = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();

  std::vector<size_t> idx(n);
  for (size_t i = 0; i < n; ++i) idx[i] = i;
  while (!idx.empty()) {
    std::vector<Session*> next_sessions;
    std::vector<std::vector<int32_t>> next_tokens;
    std::vector<size_t> next_idx;
    for (size_t k = 0; k < idx.size(); ++k) {
      const size_t i = idx[k];
      const int32_t t = samplers[i].sample(logits[k]);
      samplers[i].accept(t);
      bool finished = !opts.ignore_eos && tok.is_eog(t);
      if (!finished) {
        ++produced[i];
        ++st.generated_tokens;
        finished = streams[i].add(tok.token_to_piece(t, false));
        out[i] += streams[i].take(finished);
        finished = finished || (opts.n_predict >= 0 && produced[i] >= opts.n_predict) ||
                   sessions[i].n_past() >= sessions[i].n_ctx();
      }
      if (finished) {
        out[i] += streams[i].take(true);
        continue;
      }
      next_sessions.push_back(&sessions[i]);
      next_tokens.push_back({t});
      next_idx.push_back(i);
    }
    idx = std::move(next_idx);
    if (!idx.empty()) logits = decode_batch(next_sessions, next_tokens);
  }
  st.generate_seconds = seconds_since(t0);
  st.stop_reason = "batch";
  if (total) *total = st;
  return out;
}

}  // namespace qkv
