// The quantized dot products of runtime/vec_dot.h: every SIMD kernel against
// its scalar reference, each reference against "dequantize both sides, dot in
// double", the activation quantizers' rounding, and matmul's use of them.
// The types are the traits table's rows with dot products.
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstring>
#include <random>

#include "qkv/fp16.h"
#include "qkv/quant.h"
#include "quant/blocks.h"
#include "quant/traits.h"
#include "runtime/ops.h"
#include "runtime/repack.h"
#include "runtime/vec_dot.h"

namespace qkv::ops {
namespace {

using TT = TensorType;

// The weight types with dot products, and of them those whose products
// matmul takes through vec_dot (it dots F32 rows in float).
std::vector<TensorType> dot_types() {
  std::vector<TensorType> v;
  for (const TypeTraits& t : all_traits())
    if (t.dot_ref) v.push_back(t.type);
  return v;
}
std::vector<TensorType> matmul_dot_types() {
  std::vector<TensorType> v;
  for (TensorType t : dot_types())
    if (act_type_for(t) != ActType::F32) v.push_back(t);
  return v;
}

bool is_float(TensorType t) { return !type_info(t).quantized; }

// Offsets of the fp16 scale fields in one block (d first, then an offset
// field where there is one); every other byte of a block may hold anything,
// but random bytes there could make an inf or a NaN.
std::vector<size_t> half_fields(TensorType t) {
  switch (t) {
    case TT::Q4_1: return {offsetof(block_q4_1, d), offsetof(block_q4_1, m)};
    case TT::Q5_1: return {offsetof(block_q5_1, d), offsetof(block_q5_1, m)};
    case TT::Q4_K: return {offsetof(block_q4_K, d), offsetof(block_q4_K, dmin)};
    case TT::Q5_K: return {offsetof(block_q5_K, d), offsetof(block_q5_K, dmin)};
    case TT::Q2_K: return {offsetof(block_q2_K, d), offsetof(block_q2_K, dmin)};
    case TT::Q3_K: return {offsetof(block_q3_K, d)};
    case TT::Q6_K: return {offsetof(block_q6_K, d)};
    default: return {0};  // the other blocks start with their d
  }
}

void store_half(uint8_t* p, float f) {
  const uint16_t h = fp32_to_fp16(f);
  std::memcpy(p, &h, 2);
}

// A weight row of n elements: random floats for the float types; otherwise
// random bytes with the block scales set to `scale` times a random factor.
std::vector<uint8_t> random_row(TensorType t, int64_t n, std::mt19937& rng, float scale = 0.02f) {
  std::vector<uint8_t> row(row_bytes(t, static_cast<uint64_t>(n)));
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  if (is_float(t)) {
    std::vector<float> f(static_cast<size_t>(n));
    for (float& v : f) v = u(rng);
    quant::quantize(t, f.data(), row.data(), 1, n);
    return row;
  }
  for (uint8_t& b : row) b = static_cast<uint8_t>(rng());
  const auto& info = type_info(t);
  for (size_t b = 0; b < row.size() / info.block_bytes; ++b)
    for (size_t off : half_fields(t)) store_half(&row[b * info.block_bytes + off], scale * u(rng));
  return row;
}

// `rows` random rows of `cols` elements, stored one after another as a matrix.
std::vector<uint8_t> random_rows(TensorType t, int64_t rows, int64_t cols, std::mt19937& rng) {
  std::vector<uint8_t> data;
  for (int64_t r = 0; r < rows; ++r) {
    const auto row = random_row(t, cols, rng);
    data.insert(data.end(), row.begin(), row.end());
  }
  return data;
}

// Hidden-state-like activations: normal values with a few large outliers.
std::vector<float> random_activations(int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> g(0.f, 1.f);
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) v = g(rng) * (rng() % 64 == 0 ? 20.f : 1.f);
  return x;
}

std::vector<uint8_t> quantized(ActType t, const std::vector<float>& x) {
  std::vector<uint8_t> a(activation_row_bytes(t, static_cast<int64_t>(x.size())));
  quantize_activations(t, x.data(), a.data(), static_cast<int64_t>(x.size()));
  return a;
}

// The values the kernels multiply: the quantized activations as floats.
std::vector<float> dequantized(ActType t, const uint8_t* a, int64_t n) {
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    switch (t) {
      case ActType::F32:
      case ActType::F16: std::memcpy(&x[i], a + 4 * i, 4); break;  // F16: fp16 values, widened
      case ActType::BF16: x[i] = bf16_to_fp32(static_cast<uint16_t>(a[2 * i] | a[2 * i + 1] << 8)); break;
      case ActType::Q8_0: {
        const auto& b = reinterpret_cast<const block_q8_0*>(a)[i / QK];
        x[i] = fp16_to_fp32(static_cast<uint16_t>(b.d[0] | b.d[1] << 8)) * b.qs[i % QK];
        break;
      }
      case ActType::Q8_1: {
        const auto& b = reinterpret_cast<const block_q8_1*>(a)[i / QK];
        x[i] = fp16_to_fp32(static_cast<uint16_t>(b.d[0] | b.d[1] << 8)) * b.qs[i % QK];
        break;
      }
      case ActType::Q8_K: {
        const auto& b = reinterpret_cast<const block_q8_K*>(a)[i / QK_K];
        float d;
        std::memcpy(&d, b.d, 4);
        x[i] = d * b.qs[i % QK_K];
        break;
      }
      case ActType::None: ADD_FAILURE() << "no activation format"; break;
    }
  }
  return x;
}

// Exact dot and sum |w_i a_i| of a weight row and activations, both
// dequantized, in double. The sum of magnitudes is the scale against which
// float rounding is measured (a relative error on the dot itself would blow
// up wherever the terms cancel).
//
// One substitution: a Q8_1 block carries s = d * sum(q) rounded to fp16, and
// the kernels (as ggml's) apply a weight block's offset m as m * s; the
// double dot uses that same s rather than the exact sum of the activations.
struct DoubleDot {
  double dot = 0, magnitude = 0;
};
DoubleDot double_dot(TensorType t, const std::vector<uint8_t>& w, const std::vector<uint8_t>& a, int64_t n) {
  std::vector<float> wf(static_cast<size_t>(n));
  quant::dequantize_reference(t, w.data(), wf.data(), 1, n);
  const auto af = dequantized(act_type_for(t), a.data(), n);
  const bool offsets = act_type_for(t) == ActType::Q8_1;
  const uint32_t bb = type_info(t).block_bytes;
  auto half_at = [](const uint8_t* p) { return fp16_to_fp32(static_cast<uint16_t>(p[0] | p[1] << 8)); };
  // Q4_1 and Q5_1 keep their m at the same offset.
  static_assert(offsetof(block_q4_1, m) == offsetof(block_q5_1, m));
  DoubleDot r;
  for (int64_t i = 0; i < n; ++i) {
    const double m = offsets ? half_at(&w[i / QK * bb + offsetof(block_q4_1, m)]) : 0;
    r.dot += (wf[i] - m) * af[i];
    r.magnitude += std::abs(double(wf[i]) * af[i]);
    if (offsets && i % QK == 0) r.dot += m * half_at(reinterpret_cast<const block_q8_1*>(a.data())[i / QK].s);
  }
  return r;
}

// sum (|d q| + |offset|) |a| of a weight row whose blocks carry an offset
// field (dmin or m, the fp16 fields after the scale d): the scale of the
// terms a kernel subtracts, computed by dequantizing without the offsets.
double split_magnitude(TensorType t, const std::vector<uint8_t>& w, const std::vector<uint8_t>& a, int64_t n) {
  const auto fields = half_fields(t);
  if (fields.size() < 2) return 0;
  std::vector<uint8_t> no_offset = w;
  const uint32_t bb = type_info(t).block_bytes;
  for (size_t b = 0; b < w.size() / bb; ++b)
    for (size_t f = 1; f < fields.size(); ++f) store_half(&no_offset[b * bb + fields[f]], 0.0f);
  std::vector<float> wf(static_cast<size_t>(n)), wq(static_cast<size_t>(n));
  quant::dequantize_reference(t, w.data(), wf.data(), 1, n);
  quant::dequantize_reference(t, no_offset.data(), wq.data(), 1, n);
  const auto af = dequantized(act_type_for(t), a.data(), n);
  double m = 0;
  for (int64_t i = 0; i < n; ++i) m += (std::abs(double(wq[i])) + std::abs(double(wq[i]) - wf[i])) * std::abs(af[i]);
  return m;
}

std::vector<int64_t> lengths(TensorType t) {
  const int64_t block = type_info(t).block_elems;
  if (is_float(t)) return {1, 7, 32, 37, 256, 4099};
  return {block, 3 * block, 8 * block, 4096 + (block == 32 ? 32 : 0)};
}

class VecDot : public testing::TestWithParam<TensorType> {
 protected:
  // Checks one (weight row, activations) pair: every SIMD kernel against the
  // reference within 1e-5 of the magnitude, the reference against the double
  // dot within 1e-4.
  void check(const std::vector<uint8_t>& w, const std::vector<float>& x, const std::string& what) const {
    const TensorType t = GetParam();
    const int64_t n = static_cast<int64_t>(x.size());
    const auto a = quantized(act_type_for(t), x);
    const float ref = vec_dot_reference(t)(w.data(), a.data(), n);
    const DoubleDot exact = double_dot(t, w, a, n);
    EXPECT_NEAR(ref, exact.dot, 1e-4 * exact.magnitude + 1e-30) << what << ": reference vs dequantized dot";
    // Kernels may split a block's dot into d * sum(q a) - dmin * sum(m a); when those
    // two terms cancel (w = 0 exactly) rounding is relative to the terms, not to w.
    const double scale = std::max(exact.magnitude, split_magnitude(t, w, a, n));
    for (const auto& v : vec_dot_variants(t))
      EXPECT_NEAR(v.one(w.data(), a.data(), n), ref, 1e-5 * scale + 1e-30) << what << ": " << v.isa;
    EXPECT_EQ(vec_dot(t, w.data(), a.data(), n), vec_dot_kernel(t)(w.data(), a.data(), n)) << what;
  }
};

TEST_P(VecDot, RandomRowsMatchReferenceAndDequantizedDot) {
  const TensorType t = GetParam();
  std::mt19937 rng(1234);
  for (int64_t n : lengths(t))
    for (int rep = 0; rep < 4; ++rep)
      check(random_row(t, n, rng), random_activations(n, rng), "n " + std::to_string(n) + " rep " + std::to_string(rep));
}

TEST_P(VecDot, AllZeroRowsGiveZero) {
  const TensorType t = GetParam();
  for (int64_t n : lengths(t)) {
    const std::vector<uint8_t> w(row_bytes(t, static_cast<uint64_t>(n)), 0);
    const auto a = quantized(act_type_for(t), std::vector<float>(static_cast<size_t>(n), 0.f));
    EXPECT_EQ(vec_dot_reference(t)(w.data(), a.data(), n), 0.f) << n;
    for (const auto& v : vec_dot_variants(t)) EXPECT_EQ(v.one(w.data(), a.data(), n), 0.f) << n << " " << v.isa;
  }
}

// The largest levels against activations at +-127 push every integer
// intermediate (maddubs' int16 pair sums above all) to its limit.
TEST_P(VecDot, ExtremeBlocks) {
  const TensorType t = GetParam();
  if (is_float(t)) GTEST_SKIP() << "no integer intermediates";
  const int64_t n = 2 * 256;
  const auto& info = type_info(t);
  for (uint8_t fill : {0x00, 0xFF, 0x80, 0x7F, 0x88, 0x11}) {
    std::vector<uint8_t> w(row_bytes(t, n), fill);
    for (size_t b = 0; b < w.size() / info.block_bytes; ++b)
      for (size_t off : half_fields(t)) store_half(&w[b * info.block_bytes + off], b % 2 ? -1.f : 1.f);
    for (int pattern = 0; pattern < 3; ++pattern) {
      std::vector<float> x(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) x[i] = pattern == 0 ? 1.f : pattern == 1 ? -1.f : (i % 2 ? 1.f : -1.f);
      check(w, x, "fill " + std::to_string(fill) + " pattern " + std::to_string(pattern));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Types, VecDot, testing::ValuesIn(dot_types()),
                         [](const testing::TestParamInfo<TensorType>& p) { return std::string(type_name(p.param)); });

TEST(VecDotPairing, ActivationFormatsAreGgmls) {
  EXPECT_EQ(act_type_for(TT::F32), ActType::F32);
  EXPECT_EQ(act_type_for(TT::F16), ActType::F16);
  EXPECT_EQ(act_type_for(TT::BF16), ActType::BF16);
  for (TensorType t : {TT::Q4_0, TT::Q5_0, TT::Q8_0, TT::IQ4_NL}) EXPECT_EQ(act_type_for(t), ActType::Q8_0);
  for (TensorType t : {TT::Q4_1, TT::Q5_1}) EXPECT_EQ(act_type_for(t), ActType::Q8_1);
  for (TensorType t : {TT::Q2_K, TT::Q3_K, TT::Q4_K, TT::Q5_K, TT::Q6_K, TT::IQ4_XS})
    EXPECT_EQ(act_type_for(t), ActType::Q8_K);
  for (TensorType t : {TT::TQ1_0, TT::IQ2_XXS, TT::MXFP4}) {
    EXPECT_EQ(act_type_for(t), ActType::None);
    EXPECT_EQ(vec_dot_kernel(t), nullptr);
  }
  EXPECT_EQ(activation_row_bytes(ActType::Q8_0, 64), 2u * 34);
  EXPECT_EQ(activation_row_bytes(ActType::Q8_1, 64), 2u * 36);
  EXPECT_EQ(activation_row_bytes(ActType::Q8_K, 512), 2u * 292);
  EXPECT_EQ(activation_row_bytes(ActType::F16, 5), 20u);  // fp16 values widened to float32
  // ... rounded to fp16 exactly as fp32_to_fp16 rounds them.
  const std::vector<float> x = {1.0f / 3, 65519.0f, -2.5e-8f, 1e-3f};
  const auto a = quantized(ActType::F16, x);
  for (size_t i = 0; i < x.size(); ++i) {
    float v;
    std::memcpy(&v, &a[4 * i], 4);
    EXPECT_EQ(v, fp16_to_fp32(fp32_to_fp16(x[i]))) << i;
  }
}

// llama.cpp's x86 quantizer: id = 127 / amax and ties to even, where ggml's
// scalar reference (roundf) would give 3, 5 and -1 for the 2.5, 4.5, -0.5.
TEST(QuantizeActivations, Q8_0RoundsHalfToEven) {
  std::vector<float> x(32, 0.f);
  x[0] = -127.f, x[1] = 2.5f, x[2] = 4.5f, x[3] = -0.5f, x[4] = 3.5f, x[5] = 126.5f;
  const auto a = quantized(ActType::Q8_0, x);
  EXPECT_EQ(fp16_to_fp32(static_cast<uint16_t>(a[0] | a[1] << 8)), 1.f);
  const int want[] = {-127, 2, 4, 0, 4, 126};
  for (int j = 0; j < 6; ++j) EXPECT_EQ(static_cast<int8_t>(a[2 + j]), want[j]) << j;
}

TEST(QuantizeActivations, Q8_1StoresScaledSum) {
  std::mt19937 rng(7);
  const auto x = random_activations(64, rng);
  const auto a = quantized(ActType::Q8_1, x);
  for (int b = 0; b < 2; ++b) {
    const uint8_t* blk = &a[36 * b];
    const float d = fp16_to_fp32(static_cast<uint16_t>(blk[0] | blk[1] << 8));
    int sum = 0;
    for (int j = 0; j < 32; ++j) sum += static_cast<int8_t>(blk[4 + j]);
    EXPECT_EQ(static_cast<uint16_t>(blk[2] | blk[3] << 8), fp32_to_fp16(d * static_cast<float>(sum))) << b;
  }
}

TEST(QuantizeActivations, Q8_KMapsTheLargestMagnitudeToMinus127) {
  std::mt19937 rng(3);
  auto x = random_activations(512, rng);
  std::fill(x.begin() + 256, x.end(), 0.f);  // the second block is all zero
  const auto a = quantized(ActType::Q8_K, x);
  for (int b = 0; b < 2; ++b) {
    const uint8_t* blk = &a[292 * b];
    float d;
    std::memcpy(&d, blk, 4);
    int16_t bsums[16];
    std::memcpy(bsums, blk + 260, sizeof bsums);
    int lowest = 0;
    for (int s = 0; s < 16; ++s) {
      int sum = 0;
      for (int j = 0; j < 16; ++j) {
        const int q = static_cast<int8_t>(blk[4 + 16 * s + j]);
        sum += q;
        lowest = std::min(lowest, q);
        // Each level is the nearest to x / d.
        if (b == 0) {
          EXPECT_LE(std::abs(x[16 * s + j] - d * q), std::abs(d) * 0.5f * (1 + 1e-5f));
        }
      }
      EXPECT_EQ(bsums[s], sum) << b << " " << s;
    }
    EXPECT_EQ(lowest, b == 0 ? -127 : 0);
    if (b == 1) {
      EXPECT_EQ(d, 0.f);
    }
  }
}

// Every variant's multi-token kernel gives each token exactly what its own
// one-token kernel gives, for every count of tokens it takes.
TEST(VecDotRows, EachTokenEqualsItsOwnDot) {
  std::mt19937 rng(7);
  int checked = 0;
  for (TensorType t : dot_types())
    for (const VecDotVariant& v : vec_dot_variants(t)) {
      if (!v.rows) continue;
      ASSERT_LE(v.max_tokens, kMaxDotTokens) << type_name(t) << " " << v.isa;
      const int64_t n = v.tile ? 1000 : 1024;  // the float kernels have a scalar tail past 992
      const auto w = random_row(t, n, rng);
      const size_t ab = activation_row_bytes(act_type_for(t), n);
      std::vector<uint8_t> acts;
      for (int k = 0; k < v.max_tokens; ++k) {
        const auto a = quantized(act_type_for(t), random_activations(n, rng));
        acts.insert(acts.end(), a.begin(), a.end());
      }
      for (int nt = 1; nt <= v.max_tokens; ++nt) {
        float out[kMaxDotTokens];
        v.rows(w.data(), acts.data(), ab, nt, n, out);
        for (int k = 0; k < nt; ++k)
          ASSERT_EQ(out[k], v.one(w.data(), acts.data() + k * ab, n))
              << type_name(t) << " " << v.isa << ": " << nt << " tokens, #" << k;
      }
      if (v.tile) {  // every tile shape, rows x tokens, against `one` per output
        ASSERT_LE(v.tile_tokens, v.max_tokens);
        std::vector<std::vector<uint8_t>> rows;
        std::vector<uint8_t> stacked;
        for (int r = 0; r < v.tile_rows; ++r) {
          rows.push_back(random_row(t, n, rng));
          stacked.insert(stacked.end(), rows.back().begin(), rows.back().end());
        }
        for (int nr = 1; nr <= v.tile_rows; ++nr)
          for (int nt = 1; nt <= v.tile_tokens; ++nt) {
            std::vector<float> y(static_cast<size_t>(nt * v.tile_rows + 1), -1.f);
            v.tile(stacked.data(), w.size(), 2 * size_t(v.tile_chunk), acts.data(), ab, nr, nt, n, y.data(), size_t(v.tile_rows));
            for (int k = 0; k < nt; ++k)
              for (int r = 0; r < v.tile_rows; ++r) {
                const float want = r < nr ? v.one(rows[r].data(), acts.data() + k * ab, n) : -1.f;  // untouched
                ASSERT_EQ(y[size_t(k * v.tile_rows + r)], want)
                    << type_name(t) << " " << v.isa << " tile " << nr << "x" << nt << ", row " << r << ", #" << k;
              }
          }
      }
      ++checked;
    }
  if (checked == 0) GTEST_SKIP() << "this CPU has no SIMD multi-token kernels";
}

// matmul uses the kernels: each output equals vec_dot of its weight row and
// the token's quantized activations, bit for bit, for any thread count.
TEST(MatmulQuantized, EqualsVecDotPerRow) {
  std::mt19937 rng(99);
  for (TensorType t : matmul_dot_types()) {
    const int64_t rows = 37, cols = 512, T = 11;  // the multi-token kernels take 4 or 8 tokens, then the rest
    const auto data = random_rows(t, rows, cols, rng);
    Weight w;
    w.type = t, w.data = data.data(), w.cols = cols, w.rows = rows;
    const auto x = random_activations(T * cols, rng);
    for (int threads : {1, 4}) {
      std::vector<float> y(static_cast<size_t>(T * rows));
      matmul(w, x.data(), T, y.data(), threads);
      for (int64_t tok = 0; tok < T; ++tok) {
        const auto a = quantized(act_type_for(t), std::vector<float>(x.begin() + tok * cols, x.begin() + (tok + 1) * cols));
        for (int64_t r = 0; r < rows; ++r)
          ASSERT_EQ(y[tok * rows + r], vec_dot(t, data.data() + r * w.row_size(), a.data(), cols))
              << type_name(t) << " threads " << threads << " token " << tok << " row " << r;
      }
    }
  }
}

}  // namespace
}  // namespace qkv::ops

namespace qkv::ops {
namespace {

// Interleaved weights (repack.h) give every output exactly the bits vec_dot
// gives for its plain row, in any batch, the rows past the last group included.
TEST(MatmulInterleaved, EqualsVecDotPerRowInAnyBatch) {
  std::mt19937 rng(5);
  int checked = 0;
  for (TensorType t : matmul_dot_types()) {
    const int64_t rows = 2 * kInterleave + 5, cols = type_info(t).block_elems == 256 ? 768 : 320;
    const auto data = random_rows(t, rows, cols, rng);
    Weight w;
    w.type = t, w.data = data.data(), w.cols = cols, w.rows = rows;
    if (!can_interleave(w)) continue;
    const auto packed = interleave(w);
    w.interleaved = packed.get();
    for (int64_t T : {1, 2, 3, 11}) {
      const auto x = random_activations(T * cols, rng);
      for (int threads : {1, 3}) {
        std::vector<float> y(static_cast<size_t>(T * rows));
        matmul(w, x.data(), T, y.data(), threads);
        for (int64_t tok = 0; tok < T; ++tok) {
          const auto a =
              quantized(act_type_for(t), std::vector<float>(x.begin() + tok * cols, x.begin() + (tok + 1) * cols));
          for (int64_t r = 0; r < rows; ++r)
            ASSERT_EQ(y[tok * rows + r], vec_dot(t, data.data() + r * w.row_size(), a.data(), cols))
                << type_name(t) << " T " << T << " threads " << threads << " token " << tok << " row " << r;
        }
      }
    }
    ++checked;
  }
  if (checked == 0) GTEST_SKIP() << "this CPU has no interleaved kernels (AVX-512 VNNI)";
}

}  // namespace
}  // namespace qkv::ops
