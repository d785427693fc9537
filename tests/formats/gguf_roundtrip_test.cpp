// Reading a canonical GGUF (written by llama.cpp) and writing it back must
// give a byte-identical file -- for every GGUF under ../shared/models.
#include <gtest/gtest.h>

#include "qkv/error.h"
#include "qkv/gguf.h"
#include "test_support.h"

namespace qkv {
namespace {

std::vector<std::filesystem::path> shared_ggufs() {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(test::shared_dir() / "models"))
    if (e.is_regular_file() && e.path().extension() == ".gguf") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

void rewrite(const gguf::File& in, const std::string& out_path) {
  gguf::Writer w(out_path, in.metadata(), in.tensors(), in.version());
  for (size_t i = 0; i < in.tensors().size(); ++i) w.write_tensor(in.tensor_data(i));
  w.finish();
}

TEST(GgufRoundTrip, EverySharedModelIsByteIdentical) {
  QKV_REQUIRE_SHARED("models");
  test::TempDir tmp;
  const auto files = shared_ggufs();
  ASSERT_GE(files.size(), 20u) << "expected the llama.cpp GGUFs under ../shared/models";
  for (const auto& p : files) {
    SCOPED_TRACE(p.string());
    const auto f = gguf::File::open(p.string());
    const auto out = tmp / "out.gguf";
    rewrite(f, out.string());
    const auto a = test::read_bytes(p), b = test::read_bytes(out);
    ASSERT_EQ(a.size(), b.size());
    const auto mismatch = std::mismatch(a.begin(), a.end(), b.begin());
    EXPECT_TRUE(mismatch.first == a.end()) << "first differing byte at offset " << (mismatch.first - a.begin());
  }
}

TEST(GgufRoundTrip, EveryValueTypeIncludingNestedArrays) {
  gguf::Metadata md;
  using gguf::Value;
  using gguf::ValueType;
  md.set("general.architecture", Value::string("llama"));
  md.set("t.u8", Value::u8(200));
  md.set("t.i8", Value::i8(-5));
  md.set("t.u16", Value::u16(65000));
  md.set("t.i16", Value::i16(-30000));
  md.set("t.u32", Value::u32(4000000000u));
  md.set("t.i32", Value::i32(-2000000000));
  md.set("t.f32", Value::f32(1.5f));
  md.set("t.bool", Value::boolean(true));
  md.set("t.u64", Value::u64(UINT64_MAX));
  md.set("t.i64", Value::i64(INT64_MIN));
  md.set("t.f64", Value::f64(-2.25));
  md.set("t.strs", Value::string_array({"a", "", "ünïcödé"}));
  md.set("t.nested", Value::array(ValueType::ARRAY, {Value::array(ValueType::I32, {Value::i32(1), Value::i32(2)}),
                                                     Value::array(ValueType::I32, {})}));
  gguf::TensorInfo t{"w", {32, 3}, TensorType::Q8_0, 0};
  std::vector<uint8_t> data(t.nbytes());
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 7);

  test::TempDir tmp;
  for (uint32_t version : {2u, 3u}) {
    const auto path = (tmp / ("v" + std::to_string(version) + ".gguf")).string();
    gguf::Writer w(path, md, {t}, version);
    w.write_tensor(data);
    w.finish();
    const auto f = gguf::File::open(path);
    EXPECT_EQ(f.version(), version);
    ASSERT_EQ(f.metadata().size(), md.size());
    EXPECT_EQ(f.metadata().find("t.u8")->as_u64(), 200u);
    EXPECT_EQ(f.metadata().find("t.i8")->as_i64(), -5);
    EXPECT_EQ(f.metadata().find("t.u16")->as_u64(), 65000u);
    EXPECT_EQ(f.metadata().find("t.i16")->as_i64(), -30000);
    EXPECT_EQ(f.metadata().find("t.u32")->as_u64(), 4000000000u);
    EXPECT_EQ(f.metadata().find("t.i32")->as_i64(), -2000000000);
    EXPECT_EQ(f.metadata().find("t.f32")->as_f64(), 1.5);
    EXPECT_TRUE(f.metadata().find("t.bool")->as_bool());
    EXPECT_EQ(f.metadata().find("t.u64")->as_u64(), UINT64_MAX);
    EXPECT_EQ(f.metadata().find("t.i64")->as_i64(), INT64_MIN);
    EXPECT_EQ(f.metadata().find("t.f64")->as_f64(), -2.25);
    EXPECT_EQ(f.metadata().find("t.strs")->items.at(2).as_string(), "ünïcödé");
    const auto* nested = f.metadata().find("t.nested");
    ASSERT_EQ(nested->items.size(), 2u);
    EXPECT_EQ(nested->items[0].items[1].as_i64(), 2);
    EXPECT_TRUE(nested->items[1].items.empty());
    ASSERT_EQ(f.tensors().size(), 1u);
    EXPECT_EQ(f.tensors()[0].shape, t.shape);
    const auto got = f.tensor_data(0);
    EXPECT_TRUE(std::equal(got.begin(), got.end(), data.begin(), data.end()));
    // Writing what we read gives the same bytes again.
    const auto again = (tmp / "again.gguf").string();
    gguf::Writer w2(again, f.metadata(), f.tensors(), version);
    w2.write_tensor(f.tensor_data(0));
    w2.finish();
    EXPECT_EQ(test::read_bytes(path), test::read_bytes(again));
  }
}

TEST(GgufWriter, RefusesWrongTensorSizeAndLeavesNoFile) {
  test::TempDir tmp;
  const auto path = (tmp / "x.gguf").string();
  {
    gguf::Metadata md;
    gguf::Writer w(path, md, {{"w", {256}, TensorType::Q4_K, 0}});
    std::vector<uint8_t> wrong(143);
    EXPECT_THROW(w.write_tensor(wrong), Error);
  }
  EXPECT_FALSE(std::filesystem::exists(path));
  for (const auto& e : std::filesystem::directory_iterator(tmp.path())) ADD_FAILURE() << "left behind: " << e.path();
}

}  // namespace
}  // namespace qkv
