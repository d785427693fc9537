#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "qkv/generate.h"
#include "test_support.h"

namespace qkv {
namespace {

struct Stories : ::testing::Test {
  void SetUp() override {
    if (test::shared_dir().empty() || !std::filesystem::exists(test::shared_dir() / "models/gguf-stories260K"))
      GTEST_SKIP() << "../shared/models/gguf-stories260K not found";
    model = Model::load((test::shared_dir() / "models/gguf-stories260K/stories260K.gguf").string());
    tok = std::make_unique<Tokenizer>(Tokenizer::from_gguf(model->file().metadata()));
    std::ifstream f(test::shared_dir() / "models/gguf-stories260K/greedy-once-upon-a-time.txt");
    std::stringstream ss;
    ss << f.rdbuf();
    golden = ss.str();
    while (!golden.empty() && golden.back() == '\n') golden.pop_back();
  }
  std::shared_ptr<const Model> model;
  std::unique_ptr<Tokenizer> tok;
  std::string golden;
};

GenerateOptions greedy(int n) {
  GenerateOptions o;
  o.n_predict = n;
  o.sampling.temperature = 0;
  o.ignore_eos = true;
  return o;
}

TEST_F(Stories, StreamedGreedyTextEqualsLlamaCpp) {
  Session s(model, 128, 2);
  std::string out;
  int pieces = 0;
  const auto st = generate(s, *tok, tok->encode("Once upon a time"), greedy(40), [&](std::string_view t) {
    out += t;
    ++pieces;
    return true;
  });
  EXPECT_EQ(out, golden);
  EXPECT_EQ(st.generated_tokens, 40);
  EXPECT_GT(pieces, 10) << "text must stream piece by piece";
}

TEST_F(Stories, StopStringCutsTheOutput) {
  Session s(model, 128, 2);
  auto o = greedy(40);
  o.stop = {"Lily"};
  std::string out;
  const auto st = generate(s, *tok, tok->encode("Once upon a time"), o, [&](std::string_view t) {
    out += t;
    return true;
  });
  EXPECT_EQ(out, golden.substr(0, golden.find("Lily")));
  EXPECT_EQ(st.stop_reason, "stop string");
}

TEST_F(Stories, BatchGenerationEqualsEachAlone) {
  const std::vector<std::string> prompts = {"Once upon a time", "The cat", "Tom and Sue went"};
  std::vector<std::vector<int32_t>> ids;
  for (const auto& p : prompts) ids.push_back(tok->encode(p));
  const auto batch = generate_batch(model, *tok, ids, greedy(24), 128, 2);
  for (size_t i = 0; i < prompts.size(); ++i) {
    Session s(model, 128, 1);
    std::string alone;
    generate(s, *tok, ids[i], greedy(24), [&](std::string_view t) {
      alone += t;
      return true;
    });
    EXPECT_EQ(batch[i], alone) << prompts[i];
  }
}

}  // namespace
}  // namespace qkv
