// --imatrix: llama.cpp's GGUF imatrix (<tensor>.in_sum2 / <tensor>.counts) is
// read as in_sum2 / count, and the quantizer gets exactly those weights.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "qkv/error.h"
#include "qkv/gguf.h"
#include "qkv/imatrix.h"
#include "qkv/quant.h"
#include "qkv/quantize_model.h"
#include "test_support.h"

namespace qkv::quant {
namespace {

TEST(Imatrix, WeightsReachTheQuantizer) {
  QKV_REQUIRE_SHARED("models/gguf-llamacpp-quantized");
  const auto in = (test::shared_dir() / "models/gguf-llamacpp-quantized/tiny-llama-F32.gguf").string();
  test::TempDir tmp;
  // An imatrix for one tensor: sums 1..256 over 4 calls.
  const std::string name = "blk.0.ffn_up.weight";
  std::vector<float> sums(256), counts = {4.0f};
  for (int i = 0; i < 256; ++i) sums[i] = static_cast<float>(1 + i);
  gguf::Metadata md;
  md.set("general.type", gguf::Value::string("imatrix"));
  const auto imat = (tmp / "imatrix.gguf").string();
  {
    gguf::Writer w(imat, md, {{name + ".in_sum2", {256, 1}, TensorType::F32, 0}, {name + ".counts", {1, 1}, TensorType::F32, 0}});
    w.write_tensor({reinterpret_cast<const uint8_t*>(sums.data()), sums.size() * 4});
    w.write_tensor({reinterpret_cast<const uint8_t*>(counts.data()), 4});
    w.finish();
  }
  const auto m = load_imatrix(imat);
  ASSERT_NE(m.find(name), nullptr);
  EXPECT_EQ((*m.find(name))[10], 11.0f / 4.0f);

  QuantizeOptions o;
  o.type = "Q4_K";
  o.progress = false;
  o.imatrix_path = imat;
  quantize_model(in, (tmp / "with.gguf").string(), o);
  o.imatrix_path.clear();
  quantize_model(in, (tmp / "without.gguf").string(), o);

  const auto src = gguf::File::open(in);
  const auto with = gguf::File::open((tmp / "with.gguf").string());
  const auto without = gguf::File::open((tmp / "without.gguf").string());
  const auto* t = src.find_tensor(name);
  const auto data = src.tensor_data(static_cast<size_t>(t - src.tensors().data()));
  const int64_t rows = static_cast<int64_t>(t->shape[1]);
  std::vector<uint8_t> expect(with.find_tensor(name)->nbytes());
  quantize_reference(TensorType::Q4_K, reinterpret_cast<const float*>(data.data()), expect.data(), rows, 256,
                     m.find(name)->data());
  const auto got = with.tensor_data(static_cast<size_t>(with.find_tensor(name) - with.tensors().data()));
  EXPECT_TRUE(std::equal(got.begin(), got.end(), expect.begin(), expect.end())) << "the imatrix weights were used";
  const auto plain = without.tensor_data(static_cast<size_t>(without.find_tensor(name) - without.tensors().data()));
  EXPECT_FALSE(std::equal(got.begin(), got.end(), plain.begin(), plain.end())) << "weights must change the result";
  // Tensors the imatrix does not cover are quantized without weights.
  const auto* other = with.find_tensor("blk.0.ffn_gate.weight");
  const auto a = with.tensor_data(static_cast<size_t>(other - with.tensors().data()));
  const auto b = without.tensor_data(static_cast<size_t>(without.find_tensor("blk.0.ffn_gate.weight") - without.tensors().data()));
  EXPECT_TRUE(std::equal(a.begin(), a.end(), b.begin(), b.end()));
}

TEST(Imatrix, NonFiniteWeightsAreRefused) {
  test::TempDir tmp;
  std::vector<float> sums = {1.0f, NAN}, counts = {1.0f};
  const auto path = (tmp / "bad.gguf").string();
  gguf::Writer w(path, {}, {{"x.in_sum2", {2, 1}, TensorType::F32, 0}, {"x.counts", {1, 1}, TensorType::F32, 0}});
  w.write_tensor({reinterpret_cast<const uint8_t*>(sums.data()), 8});
  w.write_tensor({reinterpret_cast<const uint8_t*>(counts.data()), 4});
  w.finish();
  EXPECT_THROW(load_imatrix(path), Error);
}

}  // namespace
}  // namespace qkv::quant
