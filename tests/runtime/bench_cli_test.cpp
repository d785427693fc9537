// qkv bench: the tests and runs asked for, and statistics that agree with
// their own samples.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "test_support.h"

namespace qkv {
namespace {

TEST(BenchCli, JsonHasEveryTestWithConsistentStatistics) {
  QKV_REQUIRE_SHARED("models/gguf-stories260K");
  const auto model = test::shared_dir() / "models/gguf-stories260K/stories260K.gguf";
  std::string out;
  ASSERT_EQ(test::run_qkv("bench -m " + model.string() + " -p 16 -n 8 -t 1,2 -r 3 -o json", &out), 0) << out;
  const auto json = nlohmann::json::parse(out.substr(out.find('[')));  // progress lines go first (stderr)
  ASSERT_EQ(json.size(), 4u) << out;  // (1, 2 threads) x (pp16, tg8)
  const char* tests[] = {"pp16", "tg8", "pp16", "tg8"};
  for (size_t i = 0; i < json.size(); ++i) {
    const auto& r = json[i];
    EXPECT_EQ(r["test"], tests[i]);
    EXPECT_EQ(r["threads"], i < 2 ? 1 : 2);
    EXPECT_EQ(r["model"], "stories260K.gguf");
    const auto samples = r["samples_ts"].get<std::vector<double>>();
    ASSERT_EQ(samples.size(), 3u);
    double mean = 0;
    for (double s : samples) {
      EXPECT_GT(s, 0);
      mean += s / 3;
    }
    EXPECT_NEAR(r["avg_ts"].get<double>(), mean, 1e-3 * mean);
    double var = 0;
    for (double s : samples) var += (s - mean) * (s - mean) / 2;
    EXPECT_NEAR(r["stddev_ts"].get<double>(), std::sqrt(var), 1e-3 * mean);
    EXPECT_GT(r["params"].get<double>(), 2e5);  // stories260K
  }
}

TEST(BenchCli, MarkdownTableAndBadFormat) {
  QKV_REQUIRE_SHARED("models/gguf-stories260K");
  const auto model = test::shared_dir() / "models/gguf-stories260K/stories260K.gguf";
  std::string out;
  ASSERT_EQ(test::run_qkv("bench -m " + model.string() + " -p 8 -n 0 -t 1 -r 1", &out), 0) << out;
  EXPECT_NE(out.find("| model | size | params | type | threads | test | t/s |"), std::string::npos) << out;
  EXPECT_NE(out.find("| pp8 |"), std::string::npos) << out;
  EXPECT_EQ(out.find("tg"), std::string::npos) << out;
  EXPECT_EQ(test::run_qkv("bench -m " + model.string() + " -o xml", &out), 2) << out;
}

}  // namespace
}  // namespace qkv
