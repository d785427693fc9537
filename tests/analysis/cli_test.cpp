// `qkv analyze` end to end: the table, --json, --html, and one-line errors.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_support.h"

namespace qkv {
namespace {

const char* kModel = "models/gguf-llamacpp-quantized/tiny-llama-F32.gguf";

TEST(AnalyzeCli, TableJsonAndHtml) {
  QKV_REQUIRE_SHARED(kModel);
  const auto model = (test::shared_dir() / kModel).string();
  test::TempDir tmp;
  std::string out;
  ASSERT_EQ(test::run_qkv("analyze '" + model + "' -t 2 --types Q4_0,Q4_K,Q8_0 --html '" + (tmp / "r.html").string() + "'", &out),
            0)
      << out;
  for (const char* part : {"Tensors: statistics", "Quantization: SQNR in dB", "Per-layer sensitivity", "Q4_K_M",
                           "blk.3.ffn_down.weight", "frontier:", "wrote "})
    EXPECT_NE(out.find(part), std::string::npos) << part << "\n" << out;
  EXPECT_TRUE(std::filesystem::exists(tmp / "r.html"));

  ASSERT_EQ(test::run_qkv("analyze '" + model + "' --json --types Q8_0 --sample 0 --no-codecs", &out), 0) << out;
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["tensors"].size(), 39u);
  EXPECT_EQ(j["types"], nlohmann::json::array({"Q8_0"}));
  EXPECT_EQ(j["sample_weights_per_tensor"], 0);
  EXPECT_TRUE(j["tensors"][1]["codec_stored"].is_null());
  // Recipes still get their own types' errors measured, whatever --types says.
  EXPECT_EQ(j["recipes"].size(), 16u);
  for (const auto& r : j["recipes"]) EXPECT_GT(r["error"].get<double>(), 0) << r["name"];
}

TEST(AnalyzeCli, MistakesAreOneLineErrors) {
  test::TempDir tmp;
  std::string out;
  const auto missing = (tmp / "none.gguf").string();
  EXPECT_EQ(test::run_qkv("analyze '" + missing + "'", &out), 1);
  EXPECT_NE(out.find("qkv: " + missing + ": I/O error"), std::string::npos) << out;
  const auto junk = tmp / "junk.gguf";
  test::write_bytes(junk, std::vector<uint8_t>(64, 0xAB));
  EXPECT_EQ(test::run_qkv("analyze '" + junk.string() + "'", &out), 1);
  EXPECT_NE(out.find("qkv: " + junk.string() + ": "), std::string::npos) << out;
  EXPECT_NE(out.find("format error: unrecognised file format"), std::string::npos) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  QKV_REQUIRE_SHARED(kModel);
  const auto model = (test::shared_dir() / kModel).string();
  EXPECT_EQ(test::run_qkv("analyze '" + model + "' --types Q4_K,Q9_Z", &out), 2);
  EXPECT_NE(out.find("--types: unknown tensor type 'Q9_Z'"), std::string::npos) << out;
  EXPECT_EQ(test::run_qkv("analyze '" + model + "' --sensitivity-type F16", &out), 2);
  EXPECT_EQ(test::run_qkv("analyze '" + model + "' --types NVFP4", &out), 2);
  EXPECT_NE(out.find("cannot quantize to NVFP4"), std::string::npos) << out;
  EXPECT_EQ(test::run_qkv("analyze '" + model + "' --types IQ2_XXS", &out), 2);
  EXPECT_NE(out.find("IQ2_XXS needs an importance matrix"), std::string::npos) << out;
  EXPECT_EQ(test::run_qkv("analyze '" + model + "' --imatrix '" + junk.string() + "'", &out), 1);
  EXPECT_NE(out.find(junk.string()), std::string::npos) << out;
}

}  // namespace
}  // namespace qkv
