// A trained model exported to GGUF runs in the inference runtime with the
// trainer's own numbers, and its tokenizer works there.
#include <gtest/gtest.h>

#include <cmath>

#include "qkv/session.h"
#include "qkv/train.h"
#include "test_support.h"
#include "train/fixtures.h"

namespace qkv::train {
namespace {

TEST(TrainExport, RuntimeLogitsEqualTheTrainersForward) {
  for (bool tied : {true, false}) {
    SCOPED_TRACE(tied ? "tied head" : "separate head");
    Shape s = test::tiny_shape(259, 24);
    s.tied = tied;
    s.rope_base = 500.0f;
    Transformer m(s, 2);
    test::randomize(m, tied ? 3 : 4);
    test::TempDir dir;
    const std::string path = (dir / "model.gguf").string();
    export_gguf(path, m, Vocab::bytes());

    const auto model = Model::load(path);
    const ModelConfig& c = model->config();
    EXPECT_EQ(c.arch, "llama");
    EXPECT_EQ(c.rope, RopeType::Normal);
    EXPECT_EQ(c.n_vocab, 259u);
    EXPECT_EQ(c.n_ctx_train, 24u);
    EXPECT_EQ(c.n_head_kv, uint32_t(s.kv_heads));
    EXPECT_EQ(c.rope_base, 500.0f);

    std::mt19937 rng(8);
    const Batch b = test::random_batch(s, 1, 24, rng);
    // Exact: a float32 KV cache, as the trainer keeps; the default fp16
    // cache (llama.cpp's) would add its own rounding to the comparison.
    Session session(model, 24, 2, AttentionPrecision::Exact);
    const std::vector<float> runtime = session.decode(b.tokens, true);  // [T x V]
    const std::vector<float> ours = m.logits(b.tokens, 1, 24);
    ASSERT_EQ(runtime.size(), ours.size());
    double diff = 0, ref = 0;
    for (size_t i = 0; i < ours.size(); ++i) {
      diff = std::max(diff, std::abs(double(ours[i]) - runtime[i]));
      ref = std::max(ref, std::abs(double(runtime[i])));
    }
    EXPECT_LE(diff, 1e-4 * ref) << "max |trainer - runtime| " << diff << ", max |runtime| " << ref;
    std::printf("[ export, %s ] max |trainer - runtime| / max |runtime| = %.2e over %zu logits\n",
                tied ? "tied" : "untied", diff / ref, ours.size());

    const Tokenizer tok = Tokenizer::from_gguf(model->file().metadata());
    const std::string text = "Once upon a time, a tiny model.\n";
    auto ids = Vocab::bytes().encode_document(text);
    ids.pop_back();
    EXPECT_EQ(tok.encode(text), ids);
    EXPECT_EQ(tok.decode(std::span(ids).subspan(1)), text);
  }
}

// The byte vocabulary padded with unused tokens to n.
Vocab padded_byte_vocab(int n) {
  gguf::Metadata md = Vocab::bytes().metadata();
  auto tokens = md.find("tokenizer.ggml.tokens")->items;
  auto types = md.find("tokenizer.ggml.token_type")->items;
  auto scores = md.find("tokenizer.ggml.scores")->items;
  for (int i = int(tokens.size()); i < n; ++i) {
    tokens.push_back(gguf::Value::string("<unused" + std::to_string(i) + ">"));
    types.push_back(gguf::Value::i32(int32_t(TokenType::Unused)));
    scores.push_back(gguf::Value::f32(0));
  }
  md.set("tokenizer.ggml.tokens", gguf::Value::array(gguf::ValueType::STRING, tokens));
  md.set("tokenizer.ggml.token_type", gguf::Value::array(gguf::ValueType::I32, types));
  md.set("tokenizer.ggml.scores", gguf::Value::array(gguf::ValueType::F32, scores));
  return Vocab::from_metadata(md);
}

TEST(TrainExport, ShapeAndWeightsReadBackExactly) {
  Shape s = test::tiny_shape(300, 20);
  s.tied = false;
  s.norm_eps = 1e-6f;
  Transformer m(s, 1);
  test::randomize(m, 5);
  test::TempDir dir;
  const std::string path = (dir / "model.gguf").string();
  export_gguf(path, m, padded_byte_vocab(300));
  const gguf::File f = gguf::File::open(path);
  EXPECT_EQ(shape_of(f), s);
  Transformer back(shape_of(f), 1);
  read_params(f, back);
  EXPECT_TRUE(std::equal(m.params().begin(), m.params().end(), back.params().begin()));
}

}  // namespace
}  // namespace qkv::train
