// Every type we read against ggml's golden data (../shared/golden/quant): the
// reference quantizer, where we write the type, equals ggml's bytes with and
// without the case's imatrix, and the reference dequantizer equals ggml's
// floats, bit for bit, on every case. The types are the traits table's rows;
// fast_test.cpp holds the fast paths to these references.
#include "quant/golden.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "quant/traits.h"
#include "test_support.h"

namespace qkv {
namespace {

// F32 is stored as it is: there is nothing to check against ggml.
std::vector<TensorType> golden_types() {
  std::vector<TensorType> v;
  for (const TypeTraits& t : all_traits())
    if (t.dequantize_ref && t.type != TensorType::F32) v.push_back(t.type);
  return v;
}

class GoldenRef : public testing::TestWithParam<TensorType> {};

TEST_P(GoldenRef, EqualsGgml) {
  QKV_REQUIRE_SHARED("golden/quant");
  const TypeTraits& t = *find_traits(GetParam());
  const std::string name(t.info().name);
  const int elems = static_cast<int>(t.info().block_elems), bytes = static_cast<int>(t.info().block_bytes);
  const int checked = t.quantize_ref ? test::check_golden_type(name, t.quantize_ref, t.dequantize_ref, elems, bytes)
                                     : test::check_golden_dequant(name, t.dequantize_ref, elems, bytes);
  EXPECT_GT(checked, 0) << "no golden results for " << name;
}

INSTANTIATE_TEST_SUITE_P(AllTypes, GoldenRef, testing::ValuesIn(golden_types()),
                         [](const testing::TestParamInfo<TensorType>& p) { return std::string(type_name(p.param)); });

}  // namespace
}  // namespace qkv
