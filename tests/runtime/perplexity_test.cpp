#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "qkv/perplexity.h"
#include "qkv/tokenizer.h"
#include "test_support.h"

namespace qkv {
namespace {

// llama-perplexity on the first 20000 bytes of war-and-peace.txt with -c 128
// gives "Final estimate: PPL = 48.0269 +/- 2.12669" (models README).
TEST(Perplexity, Stories260KMatchesLlamaPerplexity) {
  QKV_REQUIRE_SHARED("models/gguf-stories260K");
  QKV_REQUIRE_SHARED("corpus/war-and-peace.txt");
  std::ifstream f(test::shared_dir() / "corpus/war-and-peace.txt", std::ios::binary);
  std::string text(20000, '\0');
  f.read(text.data(), 20000);
  auto model = Model::load((test::shared_dir() / "models/gguf-stories260K/stories260K.gguf").string());
  const auto tok = Tokenizer::from_gguf(model->file().metadata());
  PerplexityOptions o;
  o.n_ctx = 128;
  o.threads = 2;
  o.bos = tok.bos();
  const auto r = perplexity(model, tok.encode(text, true), o);
  EXPECT_NEAR(r.ppl, 48.0269, 48.0269 * 0.01);
  EXPECT_NEAR(r.ppl_err, 2.12669, 0.05);

  // Against itself as the base: zero divergence, full agreement.
  o.base = model;
  o.max_chunks = 4;
  const auto self = perplexity(model, tok.encode(text, true), o);
  EXPECT_NEAR(self.mean_kld, 0.0, 1e-9);
  EXPECT_DOUBLE_EQ(self.top1_agreement, 1.0);
  EXPECT_DOUBLE_EQ(self.ppl_ratio(), 1.0);
}

}  // namespace
}  // namespace qkv
