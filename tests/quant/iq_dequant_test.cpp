// The codebook formats we read but do not yet write: dequantization equals
// ggml's to_float bit for bit on every golden case.
#include <gtest/gtest.h>

#include "quant/golden.h"
#include "quant/ref.h"
#include "test_support.h"

namespace qkv::quant {
namespace {

#define QKV_GOLDEN_DEQUANT(T, fn, bytes)                                                  \
  TEST(GoldenDequant, T) {                                                                \
    QKV_REQUIRE_SHARED("golden/quant");                                                   \
    EXPECT_GT(test::check_golden_dequant(#T, dequantize_row_##fn##_ref, 256, bytes), 0); \
  }

QKV_GOLDEN_DEQUANT(IQ2_XXS, iq2_xxs, 66)
QKV_GOLDEN_DEQUANT(IQ2_XS, iq2_xs, 74)
QKV_GOLDEN_DEQUANT(IQ2_S, iq2_s, 82)
QKV_GOLDEN_DEQUANT(IQ3_XXS, iq3_xxs, 98)
QKV_GOLDEN_DEQUANT(IQ3_S, iq3_s, 110)
QKV_GOLDEN_DEQUANT(IQ1_S, iq1_s, 50)
QKV_GOLDEN_DEQUANT(IQ1_M, iq1_m, 56)

}  // namespace
}  // namespace qkv::quant
