// qkv imatrix's collection: the forward pass with a backend that, before each
// matrix product, adds the squares of the product's input columns to that
// matrix's sums (what llama-imatrix's eval callback does in ggml's graph).
#include <cmath>

#include "qkv/error.h"
#include "qkv/imatrix.h"
#include "qkv/parallel.h"
#include "runtime/backend.h"

namespace qkv {
namespace {

// llama-imatrix skips products over fewer tokens (its "small batches").
constexpr int64_t kMinTokens = 16;

class ImatrixBackend final : public ops::Backend {
 public:
  ImatrixBackend(std::shared_ptr<ops::Backend> inner, quant::ImatrixSums* sums, bool process_output)
      : inner_(std::move(inner)), sums_(sums), process_output_(process_output) {}
  const char* name() const override { return "imatrix"; }
  int threads() const override { return inner_->threads(); }
  void attention(const ops::AttentionShape& s, std::span<const ops::AttentionRow> rows) override {
    inner_->attention(s, rows);
  }
  void matmul(const Weight& w, ops::MatmulInput& x, float* y) override {
    observe(w, x);
    inner_->matmul(w, x, y);
  }

 private:
  void observe(const Weight& w, const ops::MatmulInput& x) {
    // A fused q|k|v matrix is read as three row ranges of one input: count it once.
    const bool repeat = &x == last_input_ && w.name == last_name_;
    last_input_ = &x, last_name_ = w.name;
    if (!w.name || repeat || x.tokens() < kMinTokens) return;
    const std::string_view name = w.name;
    if (!(name.starts_with("blk.") || (process_output_ && name == "output.weight"))) return;
    quant::ImatrixSums::Entry& e = sums_->tensors[std::string(name)];
    const int64_t cols = x.cols(), T = x.tokens();
    if (e.sum2.empty()) e.sum2.assign(size_t(cols), 0.0);
    if (e.sum2.size() != size_t(cols))
      throw Error(ErrorKind::Format, "is read with " + std::to_string(cols) + " and " + std::to_string(e.sum2.size()) +
                                         " input columns", {}, std::string(name));
    const float* in = x.floats();
    // Columns split over threads; each column adds its tokens in order, so the sums do not depend on the threads.
    parallel_for(cols, ops::threads_for(T * cols, threads()), [&](int64_t c0, int64_t c1) {
      for (int64_t t = 0; t < T; ++t)
        for (int64_t c = c0; c < c1; ++c) {
          const double v = in[t * cols + c];
          e.sum2[size_t(c)] += v * v;
        }
    });
    for (int64_t c = 0; c < cols; ++c)
      if (!std::isfinite(e.sum2[size_t(c)]))
        throw Error(ErrorKind::Integrity, "an input activation is not finite (the model diverges)", {},
                    std::string(name));
    e.count += T;
  }

  std::shared_ptr<ops::Backend> inner_;
  quant::ImatrixSums* sums_;
  bool process_output_;
  const ops::MatmulInput* last_input_ = nullptr;
  const char* last_name_ = nullptr;
};

}  // namespace

quant::ImatrixSums collect_imatrix(std::shared_ptr<const Model> model, const std::vector<int32_t>& tokens,
                                   const ImatrixOptions& o) {
  const int n_ctx = o.n_ctx;
  if (n_ctx < kMinTokens)
    throw Error(ErrorKind::Usage, "imatrix needs chunks of at least " + std::to_string(kMinTokens) + " tokens (-c)");
  if (tokens.size() < 2 * size_t(n_ctx))
    throw Error(ErrorKind::Usage, "the text has " + std::to_string(tokens.size()) + " tokens; imatrix with -c " +
                                      std::to_string(n_ctx) + " needs at least " + std::to_string(2 * n_ctx));
  int n_chunks = static_cast<int>(tokens.size() / size_t(n_ctx));
  if (o.max_chunks > 0) n_chunks = std::min(n_chunks, o.max_chunks);

  quant::ImatrixSums sums;
  sums.chunk_size = uint32_t(n_ctx);
  auto backend = std::make_shared<ImatrixBackend>(ops::cpu_backend(o.threads), &sums, o.process_output);
  Session s(model, n_ctx, o.threads, o.precision, backend);
  const size_t V = model->config().n_vocab;
  double nll_sum = 0;
  int64_t scored = 0;
  for (int c = 0; c < n_chunks; ++c) {
    std::vector<int32_t> window(tokens.begin() + int64_t(c) * n_ctx, tokens.begin() + int64_t(c + 1) * n_ctx);
    if (o.bos >= 0) window[0] = o.bos;
    s.clear();
    const auto logits = s.decode(window, o.perplexity);
    if (o.perplexity)  // as llama-perplexity: position j predicts token j + 1, over the second half
      for (int j = n_ctx / 2; j < n_ctx - 1; ++j, ++scored) nll_sum += ops::log_sum_exp(&logits[size_t(j) * V], int64_t(V)) - logits[size_t(j) * V + size_t(window[j + 1])];
    sums.chunks = uint32_t(c + 1);
    if (o.on_chunk) o.on_chunk(c + 1, n_chunks, scored ? std::exp(nll_sum / double(scored)) : 0.0);
  }
  return sums;
}

}  // namespace qkv
