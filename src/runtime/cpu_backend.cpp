// The CPU backend: ops::matmul and the attention kernels of attention.cpp,
// split over the thread pool.
#include <vector>

#include "qkv/parallel.h"
#include "runtime/backend.h"

namespace qkv::ops {
namespace {

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int threads) : threads_(resolve_threads(threads)) {}
  const char* name() const override { return "cpu"; }
  int threads() const override { return threads_; }

  void matmul(const Weight& w, MatmulInput& x, float* y) override { ops::matmul(w, x, y, threads_); }

  void attention(const AttentionShape& s, std::span<const AttentionRow> rows) override {
    const int64_t n = static_cast<int64_t>(rows.size()), group = s.n_head / s.n_head_kv, hd = s.head_dim;
    int64_t keys = 0;
    for (const AttentionRow& r : rows) keys += r.n_keys;
    // One job per (token, head); a job costs about 2 * n_keys * hd multiply-adds.
    parallel_for(n * s.n_head, threads_for(keys * s.n_head * hd * 2, threads_), [&](int64_t begin, int64_t end) {
      std::vector<float> scores;  // the float32 path's softmax row
      for (int64_t job = begin; job < end; ++job) {
        const AttentionRow& r = rows[size_t(job / s.n_head)];
        const int64_t h = job % s.n_head, kv_at = (h / group) * hd;
        const float* q = r.q + h * hd;
        float* out = r.out + h * hd;
        if (r.k32) {
          scores.resize(size_t(r.n_keys));
          attend_f32(q, r.k32 + kv_at, r.v32 + kv_at, r.kv_stride, r.n_keys, hd, s.scale, scores.data(), out);
        } else {
          attend_f16(q, {r.k16 + kv_at, r.v16 + kv_at, r.kv_stride}, r.n_keys, hd, s.scale, out);
        }
      }
    });
  }

 private:
  int threads_;
};

}  // namespace

std::shared_ptr<Backend> cpu_backend(int threads) { return std::make_shared<CpuBackend>(threads); }

}  // namespace qkv::ops
