// The fast quantizers and dequantizers (src/quant/fast_*.cpp) equal the scalar
// references bit for bit: on every golden case, with and without the case's
// imatrix, and on random rows built to reach the corners -- row lengths that
// leave partial SIMD groups, scales from 1e-30 to 1e30, zero, constant,
// one-hot and subnormal blocks, extreme values, imatrix weights with zeros.
// Random blocks of bytes check the dequantizers, NaN and infinite scales
// included. On a CPU without AVX2 both sides are the reference and the tests
// pass trivially. The types are the traits table's rows with a fast path.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "quant/golden.h"
#include "quant/traits.h"
#include "test_support.h"

namespace qkv {
namespace {

// A type's kernels and block geometry, as the tests below use them.
struct Kernels {
  std::string name;  // as in the golden manifest
  QuantizeRowFn quantize_ref, quantize_fast;
  DequantizeRowFn dequantize_ref, dequantize_fast;
  int block_elems, block_bytes;
};

// The block types with a fast path of their own (the plain float types'
// conversions, and the types still without a fast path, are their own reference).
std::vector<Kernels> fast_types() {
  std::vector<Kernels> v;
  for (const TypeTraits& t : all_traits())
    if (t.quantize_fast && t.quantize_fast != t.quantize_ref && t.info().quantized)
      v.push_back({std::string(t.info().name), t.quantize_ref, t.quantize_fast, t.dequantize_ref, t.dequantize_fast,
                   static_cast<int>(t.info().block_elems), static_cast<int>(t.info().block_bytes)});
  return v;
}

// What gtest prints for a test parameter.
void PrintTo(const Kernels& k, std::ostream* os) { *os << k.name; }

std::string hex(const uint8_t* p, int n) {
  std::ostringstream s;
  s << std::hex;
  for (int i = 0; i < n; ++i) s << (p[i] < 16 ? "0" : "") << int(p[i]) << (i + 1 < n ? " " : "");
  return s.str();
}

// Quantizes one row both ways; on a difference, a failure naming the first
// differing block and its bytes. Returns whether they agreed.
bool same_quantization(const Kernels& k, const float* x, int64_t n, const float* imatrix, const std::string& where) {
  const int64_t nb = n / k.block_elems;
  std::vector<uint8_t> want(nb * k.block_bytes, 0xAA), got(nb * k.block_bytes, 0x55);
  k.quantize_ref(x, want.data(), n, imatrix);
  k.quantize_fast(x, got.data(), n, imatrix);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* w = want.data() + b * k.block_bytes;
    const uint8_t* g = got.data() + b * k.block_bytes;
    if (std::memcmp(w, g, k.block_bytes) != 0) {
      ADD_FAILURE() << k.name << (imatrix ? " with imatrix" : "") << ", " << where << ": first differing block " << b
                    << " of " << nb << "\n  ref:  " << hex(w, k.block_bytes) << "\n  fast: " << hex(g, k.block_bytes);
      return false;
    }
  }
  return true;
}

// Dequantizes one row of blocks both ways and compares the floats' bits --
// except a NaN's payload: where a block's two scales (d and m) are both NaN,
// x * d + m carries the payload of whichever operand the compiler put first,
// which C++ leaves open (clang and GCC differ on the reference itself).
bool same_dequantization(const Kernels& k, const uint8_t* q, int64_t n, const std::string& where) {
  std::vector<float> want(n, 1.f), got(n, 2.f);
  k.dequantize_ref(q, want.data(), n);
  k.dequantize_fast(q, got.data(), n);
  for (int64_t i = 0; i < n; ++i) {
    if (std::memcmp(&want[i], &got[i], sizeof(float)) != 0 && !(std::isnan(want[i]) && std::isnan(got[i]))) {
      const int64_t b = i / k.block_elems;
      ADD_FAILURE() << k.name << " dequantize, " << where << ": first difference at element " << i << " (block " << b
                    << ": " << hex(q + b * k.block_bytes, k.block_bytes) << "): ref " << want[i] << ", fast " << got[i];
      return false;
    }
  }
  return true;
}

// ---- golden inputs ------------------------------------------------------------

class FastGolden : public testing::TestWithParam<Kernels> {};

TEST_P(FastGolden, EqualsReference) {
  QKV_REQUIRE_SHARED("golden/quant");
  const Kernels& k = GetParam();
  int checked = 0;
  for (const auto& c : test::golden_cases()) {
    const auto input = test::read_floats(c.input);
    const auto imatrix = test::read_floats(c.imatrix);
    for (int64_t row = 0; row < c.nrows; ++row) {
      const float* x = input.data() + row * c.n_per_row;
      const std::string where = c.name + " row " + std::to_string(row);
      if (!same_quantization(k, x, c.n_per_row, nullptr, where)) return;
      if (!same_quantization(k, x, c.n_per_row, imatrix.data(), where)) return;
    }
    for (const auto& r : c.results) {
      if (r.type != k.name) continue;
      const auto q = test::read_bytes(r.quant);
      for (int64_t row = 0; row < c.nrows; ++row)
        if (!same_dequantization(k, q.data() + row * r.row_size, c.n_per_row,
                                 c.name + (r.imatrix ? ".imat" : "") + " row " + std::to_string(row)))
          return;
      ++checked;
    }
  }
  EXPECT_GT(checked, 0) << "no golden results for " << k.name;
  // And, through the references' own bar, ggml's bytes.
  EXPECT_GT(test::check_golden_type(k.name, k.quantize_fast, k.dequantize_fast, k.block_elems, k.block_bytes), 0);
}

// ---- random rows ----------------------------------------------------------------

// One block of test data of a randomly chosen kind.
void fill_block(std::mt19937& rng, float* x, int n) {
  std::uniform_real_distribution<float> unit(0.f, 1.f);
  std::normal_distribution<float> normal(0.f, 1.f);
  // A scale from 1e-30 to 1e30, log-uniform.
  const float scale = std::pow(10.f, std::uniform_real_distribution<float>(-30.f, 30.f)(rng));
  switch (rng() % 11) {
    case 0:  // all zero
      std::fill(x, x + n, 0.f);
      break;
    case 1:  // constant
      std::fill(x, x + n, (rng() % 2 ? 1.f : -1.f) * scale);
      break;
    case 2:  // one non-zero
      std::fill(x, x + n, 0.f);
      x[rng() % n] = (rng() % 2 ? 1.f : -1.f) * scale;
      break;
    case 3:  // extreme but finite: huge and tiny values, signed zeros, ties in magnitude
      for (int i = 0; i < n; ++i) {
        static const float kExtremes[] = {3.0e38f, -3.0e38f, 1e30f, -1e-30f, 1.2e-38f,
                                          -1e-45f, 0.f,      -0.f,  65504.f, 1.f};
        x[i] = kExtremes[rng() % std::size(kExtremes)];
      }
      break;
    case 4:  // small integers times a scale: many exact ties
      for (int i = 0; i < n; ++i) x[i] = static_cast<float>(static_cast<int>(rng() % 17) - 8) * scale;
      break;
    case 5:  // subnormal and tiny: reciprocals of the scale overflow
      for (int i = 0; i < n; ++i) x[i] = static_cast<float>(static_cast<int>(rng() % 9) - 4) * 1e-41f;
      break;
    case 6:  // uniform, all of one sign
      for (int i = 0; i < n; ++i) x[i] = unit(rng) * scale;
      break;
    default:  // gaussian with an occasional outlier, as in LLM weights
      for (int i = 0; i < n; ++i) x[i] = normal(rng) * scale * (rng() % 50 == 0 ? 20.f : 1.f);
      break;
  }
}

std::vector<float> random_imatrix(std::mt19937& rng, int64_t n) {
  std::vector<float> w(n);
  const int kind = rng() % 3;
  for (auto& v : w) {
    const float u = std::uniform_real_distribution<float>(0.f, 1.f)(rng);
    v = kind == 0 ? u : kind == 1 ? (rng() % 4 == 0 ? 0.f : u * 100.f) : std::pow(10.f, u * 20.f - 10.f);
  }
  return w;
}

class FastRandom : public testing::TestWithParam<Kernels> {};

TEST_P(FastRandom, QuantizeEqualsReference) {
  const Kernels& k = GetParam();
  for (uint32_t seed = 1; seed <= 60; ++seed) {
    std::mt19937 rng(seed);
    const int64_t nblocks = 1 + rng() % 40;
    const int64_t n = nblocks * k.block_elems;
    std::vector<float> x(n);
    // Whole rows of one kind now and then, so the row-wide sums see extremes too.
    const bool uniform_row = rng() % 4 == 0;
    for (int64_t b = 0; b < nblocks; ++b) {
      if (uniform_row && b > 0)
        std::copy(x.begin(), x.begin() + k.block_elems, x.begin() + b * k.block_elems);
      else
        fill_block(rng, x.data() + b * k.block_elems, k.block_elems);
    }
    const auto imatrix = random_imatrix(rng, n);
    const std::string where = "seed " + std::to_string(seed) + ", " + std::to_string(nblocks) + " blocks";
    if (!same_quantization(k, x.data(), n, nullptr, where)) return;
    if (!same_quantization(k, x.data(), n, imatrix.data(), where)) return;
  }
}

TEST_P(FastRandom, DequantizeEqualsReference) {
  const Kernels& k = GetParam();
  for (uint32_t seed = 1; seed <= 60; ++seed) {
    std::mt19937 rng(seed);
    const int64_t nblocks = 1 + rng() % 40;
    const int64_t n = nblocks * k.block_elems;
    // Blocks from quantizing random data, then random bytes (any scale bits).
    std::vector<float> x(n);
    for (int64_t b = 0; b < nblocks; ++b) fill_block(rng, x.data() + b * k.block_elems, k.block_elems);
    std::vector<uint8_t> q(nblocks * k.block_bytes);
    k.quantize_ref(x.data(), q.data(), n, nullptr);
    const std::string where = "seed " + std::to_string(seed);
    if (!same_dequantization(k, q.data(), n, where + ", quantized data")) return;
    for (auto& byte : q) byte = static_cast<uint8_t>(rng());
    if (!same_dequantization(k, q.data(), n, where + ", random bytes")) return;
  }
}

std::string param_name(const testing::TestParamInfo<Kernels>& info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(AllTypes, FastGolden, testing::ValuesIn(fast_types()), param_name);
INSTANTIATE_TEST_SUITE_P(AllTypes, FastRandom, testing::ValuesIn(fast_types()), param_name);

}  // namespace
}  // namespace qkv
