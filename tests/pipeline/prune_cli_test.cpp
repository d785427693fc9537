// `qkv prune` as a user runs it: wanda with a committed llama-imatrix file,
// and mistakes answered in one line.
#include <gtest/gtest.h>

#include "qkv/gguf.h"
#include "test_support.h"

namespace qkv {
namespace {

const char* kModel = "models/gguf-stories260K/stories260K.gguf";

TEST(PruneCli, WandaWithAnImatrixPrunesEachRowToTheSparsity) {
  QKV_REQUIRE_SHARED(kModel);
  test::TempDir tmp;
  const auto out = tmp / "p.gguf";
  const std::string imatrix = std::string(QKV_SOURCE_DIR) + "/tests/data/imatrix/stories260K-war-and-peace-20000-c128.gguf";
  std::string log;
  ASSERT_EQ(test::run_qkv("prune '" + (test::shared_dir() / kModel).string() + "' '" + out.string() +
                              "' --method wanda --sparsity 0.25 --imatrix '" + imatrix + "'", &log), 0) << log;
  EXPECT_NE(log.find("25.0%"), std::string::npos) << log;
  const auto f = gguf::File::open(out.string());
  EXPECT_EQ(f.metadata().get_string("qkv.prune.method"), "wanda");
  const auto* t = f.find_tensor("blk.0.attn_q.weight");
  ASSERT_NE(t, nullptr);
  ASSERT_EQ(t->type, TensorType::F32);
  const auto data = f.tensor_data(size_t(t - f.tensors().data()));
  const float* w = reinterpret_cast<const float*>(data.data());
  for (uint64_t r = 0; r < t->shape[1]; ++r) {
    const auto zeros = std::count(w + r * t->shape[0], w + (r + 1) * t->shape[0], 0.0f);
    EXPECT_EQ(uint64_t(zeros), t->shape[0] / 4) << "row " << r;
  }
}

TEST(PruneCli, MistakesAreOneLineErrors) {
  QKV_REQUIRE_SHARED(kModel);
  test::TempDir tmp;
  const std::string in = "'" + (test::shared_dir() / kModel).string() + "' '" + (tmp / "p.gguf").string() + "'";
  for (const std::string& args : {std::string(" --method 2:4 --sparsity 0.3"), std::string(" --method wanda"),
                                  std::string(" --method random"), std::string(" --method magnitude --sparsity 1.5")}) {
    std::string out;
    EXPECT_EQ(test::run_qkv("prune " + in + args, &out), 2) << args << ": usage errors exit 2";
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << args << ": " << out;
    EXPECT_NE(out.find("qkv: "), std::string::npos) << out;
  }
  EXPECT_FALSE(std::filesystem::exists(tmp / "p.gguf"));
}

}  // namespace
}  // namespace qkv
