// The fast fp16 attention step against its scalar reference (attention.h).
#include "runtime/attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "qkv/fp16.h"

namespace qkv {
namespace {

TEST(Attention, FastF16EqualsTheReferenceWithinFloatRounding) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  // Head sizes of real models and odd ones (the fast path takes multiples
  // of 8, the rest fall back); key counts from 1 to past a prompt.
  for (int64_t hd : {8, 24, 64, 80, 128, 13})
    for (int64_t n_keys : {1, 2, 7, 64, 300}) {
      const size_t stride = size_t(hd) * 3 + 5;  // a row of several kv heads
      std::vector<uint16_t> k(stride * n_keys), v(stride * n_keys);
      for (auto& x : k) x = fp32_to_fp16(normal(rng) * 2.0f);
      for (auto& x : v) x = fp32_to_fp16(normal(rng));
      std::vector<float> q(hd), fast(hd), want(hd);
      for (auto& x : q) x = normal(rng);
      const ops::KvView kv{k.data() + hd, v.data() + hd, stride};
      const float scale = 1.0f / std::sqrt(float(hd));
      ops::attend_f16(q.data(), kv, n_keys, hd, scale, fast.data());
      ops::ref::attend_f16(q.data(), kv, n_keys, hd, scale, want.data());
      // The accumulator is rounded to fp16 after each key; a score summed in
      // float rather than double may round one of those steps the other way.
      for (int64_t i = 0; i < hd; ++i)
        ASSERT_NEAR(fast[i], want[i], 2e-3 * (1 + std::fabs(want[i]))) << "hd " << hd << ", " << n_keys << " keys, i " << i;
    }
}

}  // namespace
}  // namespace qkv
