// qkv imatrix's collection, held to a float64 reference forward pass and to
// llama-imatrix's own output.
#include <gtest/gtest.h>

#include <fstream>
#include <cstring>
#include <random>

#include "qkv/error.h"
#include "qkv/gguf.h"
#include "qkv/imatrix.h"
#include "qkv/perplexity.h"
#include "qkv/tokenizer.h"
#include "runtime/reference_forward.h"
#include "test_support.h"

namespace qkv {
namespace {

std::string war_and_peace(size_t bytes) {
  std::ifstream f(test::shared_dir() / "corpus/war-and-peace.txt", std::ios::binary);
  std::string text(bytes, '\0');
  f.read(text.data(), std::streamsize(bytes));
  return text;
}

// The runtime in float32 attention mode, against float64 on the same F32
// models: every column's sum within 1e-4 (relative) and the same token counts.
TEST(Imatrix, EqualsFloat64ReferenceSums) {
  QKV_REQUIRE_SHARED("models/gguf-llamacpp-quantized");
  for (const char* rel : {"models/gguf-stories260K/stories260K.gguf", "models/gguf-llamacpp-quantized/tiny-llama-F32.gguf"}) {
    const auto path = (test::shared_dir() / rel).string();
    auto model = Model::load(path);
    const int n_ctx = 24, chunks = 3, bos = 1;
    std::mt19937 rng(5);
    std::vector<int32_t> tokens(size_t(n_ctx * chunks + 7));  // a partial last chunk is left out
    for (auto& t : tokens) t = int32_t(rng() % model->config().n_vocab);
    ImatrixOptions o;
    o.n_ctx = n_ctx, o.threads = 2, o.bos = bos, o.perplexity = false;
    o.precision = AttentionPrecision::Exact;
    const auto got = collect_imatrix(model, tokens, o);

    test::ReferenceSums want;
    for (int c = 0; c < chunks; ++c) {
      std::vector<int32_t> window(tokens.begin() + c * n_ctx, tokens.begin() + (c + 1) * n_ctx);
      window[0] = bos;
      test::reference_logits(path, window, &want);
    }
    EXPECT_EQ(got.chunks, uint32_t(chunks));
    EXPECT_EQ(got.chunk_size, uint32_t(n_ctx));
    ASSERT_EQ(got.tensors.size(), want.size()) << rel;
    for (const auto& [name, sums] : want) {
      const auto it = got.tensors.find(name);
      ASSERT_NE(it, got.tensors.end()) << rel << ": " << name;
      EXPECT_EQ(it->second.count, n_ctx * chunks) << name;
      ASSERT_EQ(it->second.sum2.size(), sums.size()) << name;
      for (size_t i = 0; i < sums.size(); ++i)
        ASSERT_NEAR(it->second.sum2[i], sums[i], 1e-4 * sums[i]) << rel << ": " << name << " column " << i;
    }
  }
}

// The same text and chunking as a golden written by llama-imatrix
// (tests/data/imatrix/README.md): the same tensors, counts and chunk count,
// and sums within 1e-3 (the two engines round their float32 products differently).
TEST(Imatrix, MatchesLlamaImatrix) {
  QKV_REQUIRE_SHARED("models/gguf-stories260K");
  QKV_REQUIRE_SHARED("corpus/war-and-peace.txt");
  auto model = Model::load((test::shared_dir() / "models/gguf-stories260K/stories260K.gguf").string());
  const auto tok = Tokenizer::from_gguf(model->file().metadata());
  ImatrixOptions o;
  o.n_ctx = 128, o.threads = 2, o.bos = tok.bos();
  double ppl = 0;
  o.on_chunk = [&](int, int, double p) { ppl = p; };
  const auto got = collect_imatrix(model, tok.encode(war_and_peace(20000), true), o);
  EXPECT_NEAR(ppl, 48.0268, 48.0268 * 0.001);  // llama-imatrix printed 48.0268

  const auto golden = gguf::File::open(std::string(QKV_SOURCE_DIR) + "/tests/data/imatrix/stories260K-war-and-peace-20000-c128.gguf");
  EXPECT_EQ(golden.metadata().find("imatrix.chunk_count")->as_u64(), got.chunks);
  EXPECT_EQ(golden.metadata().find("imatrix.chunk_size")->as_u64(), got.chunk_size);
  ASSERT_EQ(golden.tensors().size(), 2 * got.tensors.size());
  for (const auto& [name, e] : got.tensors) {
    const auto* s = golden.find_tensor(name + ".in_sum2");
    const auto* n = golden.find_tensor(name + ".counts");
    ASSERT_TRUE(s && n) << name;
    const auto sb = golden.tensor_data(size_t(s - golden.tensors().data()));
    const auto nb = golden.tensor_data(size_t(n - golden.tensors().data()));
    ASSERT_EQ(sb.size(), 4 * e.sum2.size()) << name;
    float count;
    std::memcpy(&count, nb.data(), 4);
    EXPECT_EQ(int64_t(count), e.count) << name;
    for (size_t i = 0; i < e.sum2.size(); ++i) {
      float want;
      std::memcpy(&want, sb.data() + 4 * i, 4);
      ASSERT_NEAR(e.sum2[i], want, 1e-3 * want) << name << " column " << i;
    }
  }
}

// What save_imatrix writes, load_imatrix (and so `qkv quantize --imatrix`) reads back:
// the mean squared activation per column, and the metadata llama.cpp writes.
TEST(Imatrix, SaveRoundTripsThroughTheReader) {
  quant::ImatrixSums s;
  s.chunks = 3, s.chunk_size = 64;
  s.datasets = {"calibration.txt"};
  s.tensors["blk.0.ffn_down.weight"] = {{4.0, 9.0, 0.5}, 2};
  s.tensors["blk.0.attn_q.weight"] = {{1.0, 3.0}, 4};
  test::TempDir tmp;
  const auto path = (tmp.path() / "im.gguf").string();
  quant::save_imatrix(s, path);
  const auto m = quant::load_imatrix(path);
  ASSERT_EQ(m.weights.size(), 2u);
  EXPECT_EQ(*m.find("blk.0.ffn_down.weight"), (std::vector<float>{2.0f, 4.5f, 0.25f}));
  EXPECT_EQ(*m.find("blk.0.attn_q.weight"), (std::vector<float>{0.25f, 0.75f}));
  EXPECT_EQ(m.datasets, s.datasets);
  const auto f = gguf::File::open(path);
  EXPECT_EQ(f.metadata().find("general.type")->as_string(), "imatrix");
  EXPECT_EQ(f.metadata().find("imatrix.chunk_count")->as_u64(), 3u);
  EXPECT_EQ(f.tensors()[0].name, "blk.0.attn_q.weight.in_sum2");  // sorted by name, as llama-imatrix writes
}

// --process-output adds output.weight over every token; a text under two chunks is refused.
TEST(Imatrix, ProcessOutputAndShortText) {
  QKV_REQUIRE_SHARED("models/gguf-stories260K");
  auto model = Model::load((test::shared_dir() / "models/gguf-stories260K/stories260K.gguf").string());
  std::vector<int32_t> tokens(64, 5);
  ImatrixOptions o;
  o.n_ctx = 32, o.threads = 1;
  EXPECT_EQ(collect_imatrix(model, tokens, o).tensors.count("output.weight"), 0u);
  o.process_output = true;
  const auto with = collect_imatrix(model, tokens, o);
  ASSERT_EQ(with.tensors.count("output.weight"), 1u);
  EXPECT_EQ(with.tensors.at("output.weight").count, 64);
  tokens.resize(63);
  try {
    collect_imatrix(model, tokens, o);
    FAIL() << "a text under 2 * n_ctx tokens was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
    EXPECT_NE(std::string(e.what()).find("needs at least 64"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace qkv
