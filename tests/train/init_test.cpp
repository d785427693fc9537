// Fine-tuning from an existing model (--init): the trainer starts from
// exactly the file's weights (F32, quantized and dequantized, or converted
// from a Hugging Face folder), trains on, and resumes like any run.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "qkv/quant.h"
#include "qkv/safetensors.h"
#include "qkv/torch_checkpoint.h"
#include "qkv/train.h"
#include "test_support.h"
#include "train/fixtures.h"

namespace qkv::train {
namespace {

const char* kStories = "models/gguf-stories260K";
const char* kQuantized = "models/gguf-llamacpp-quantized";
const char* kHf = "models/hf-llama-tinystories-656k";
const char* kTorch = "models/hf-llama-tiny-random-4h";

// Every parameter equals the file's tensor, dequantized by the library's
// quantizer where the file stores it quantized; returns how many were quantized.
int expect_file_weights(const gguf::File& f, Transformer& m) {
  int quantized = 0;
  for (const auto& t : m.tensors()) {
    const gguf::TensorInfo* info = f.find_tensor(t.name);
    EXPECT_NE(info, nullptr) << t.name;
    if (!info) continue;
    const auto bytes = f.tensor_data(static_cast<size_t>(info - f.tensors().data()));
    std::vector<float> want(static_cast<size_t>(t.size()));
    if (info->type == TensorType::F32) {
      std::memcpy(want.data(), bytes.data(), bytes.size());
    } else {
      quant::dequantize_reference(info->type, bytes.data(), want.data(), t.rows, t.cols);
      ++quantized;
    }
    const auto got = m.param(t);
    EXPECT_TRUE(std::equal(got.begin(), got.end(), want.begin())) << t.name << " differs from the file";
  }
  return quantized;
}

// Mean loss over every window of T + 1 ids of a run's tokenized data.
double loss_on(Transformer& m, const std::string& data_dir, int T) {
  const TokenShards shards = TokenShards::open(data_dir);
  double sum = 0;
  int n = 0;
  std::vector<int32_t> ids(size_t(T) + 1);
  for (uint64_t first = 0; first + T + 1 <= shards.shard_tokens(0); first += uint64_t(T), ++n) {
    shards.read(0, first, ids.size(), ids.data());
    sum += m.loss(std::span(ids).first(size_t(T)), std::span(ids).subspan(1), 1, T);
  }
  return sum / n;
}

void write_story(const std::filesystem::path& path) {
  std::ofstream out(path);
  for (int i = 0; i < 12; ++i)
    out << "Lily had a red ball. She liked to play with it in the park every day. One day the ball rolled "
           "into the pond and Lily was sad. Her friend Tom helped her get it back, and they were happy.\n";
}

TEST(TrainInit, Stories260KStartsFromTheFileWeightsAndFineTunes) {
  QKV_REQUIRE_SHARED(kStories);
  const std::string stories = (test::shared_dir() / kStories / "stories260K.gguf").string();
  test::TempDir dir;
  Pretrained p = load_pretrained(stories, 0, 2);
  const gguf::File f = gguf::File::open(stories);
  EXPECT_EQ(p.model->shape(), shape_of(f));
  EXPECT_EQ(expect_file_weights(f, *p.model), 0);
  EXPECT_EQ(p.vocab->n_vocab(), 512);

  write_story(dir / "story.txt");
  TrainOptions o;
  o.run.init = stories;
  o.run.shape.ctx = 64;
  o.run.schedule = {2e-3f, 2e-4f, 2, 30};
  o.run.batch = 4;
  o.run.val_every = 0;
  o.data = {(dir / "story.txt").string()};
  o.out_dir = (dir / "run").string();
  o.log_path = (dir / "log.jsonl").string();
  o.eval_every = 0;
  o.threads = 2;
  o.stop_at = 20;
  EXPECT_EQ(train(o).step, 20);

  // The first step's loss is the file's model's on the first batch.
  const TokenShards data = TokenShards::open((dir / "run/data").string());
  Batcher batcher(data, 64, o.run.seed, 0);
  const Batch first = batcher.next(4);
  Shape rs = shape_of(f);
  rs.ctx = 64;
  Transformer reference(rs, 2);
  read_params(f, reference);
  std::ifstream log(o.log_path);
  std::string line;
  while (std::getline(log, line) && line.find("\"type\":\"step\"") == std::string::npos) {}
  const double logged = nlohmann::json::parse(line)["loss"].get<double>();
  EXPECT_NEAR(logged, reference.loss(first.tokens, first.targets, 4, 64), 1e-6);

  // A few steps lower the loss on the text; the checkpoint says where it began and resumes.
  const double before = loss_on(reference, (dir / "run/data").string(), 64);
  Checkpoint c = load_checkpoint(checkpoint_path(o.out_dir), 2);
  EXPECT_EQ(c.run.init, stories);
  const double after = loss_on(*c.model, (dir / "run/data").string(), 64);
  std::printf("[ stories260K ] loss on the story: %.4f before, %.4f after 20 steps\n", before, after);
  EXPECT_LT(after, 0.8 * before);
  TrainOptions resume;
  resume.out_dir = o.out_dir;
  resume.resume = true;
  resume.eval_every = 0;
  resume.threads = 2;
  EXPECT_EQ(train(resume).step, 30);
}

TEST(TrainInit, QuantizedGgufGivesTheDequantizedWeights) {
  QKV_REQUIRE_SHARED(kQuantized);
  const std::string path = (test::shared_dir() / kQuantized / "tiny-llama-Q4_K_M.gguf").string();
  test::TempDir dir;
  Pretrained p = load_pretrained(path, 32, 2);
  const gguf::File f = gguf::File::open(path);
  EXPECT_EQ(p.model->shape().ctx, 32);
  EXPECT_GT(expect_file_weights(f, *p.model), 10);  // Q4_K and Q6_K matrices; the norms are F32

  // And the model computes what llama.cpp computes from those weights, within
  // its activation quantization (llama.cpp rounds them to 8 bits per matmul).
  const std::vector<int32_t> tokens = {1, 5, 100, 200, 300, 400};
  const std::vector<float> all = p.model->logits(tokens, 1, 6);
  std::ifstream in(test::shared_dir() / kQuantized / "logits/tiny-llama-Q4_K_M.tokens-1,5,100,200,300,400.txt");
  std::vector<float> want;
  for (float x; in >> x;) want.push_back(x);
  ASSERT_EQ(want.size(), 512u);
  double diff = 0, ref = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    diff = std::max(diff, std::abs(double(all[5 * 512 + i]) - want[i]));
    ref = std::max(ref, std::abs(double(want[i])));
  }
  std::printf("[ Q4_K_M ] max |trainer - llama.cpp| / max |llama.cpp| = %.2e\n", diff / ref);
  EXPECT_LE(diff, 0.05 * ref);
}

// llama.cpp's GGUF rows of attn_q / attn_k: within each head, the rotary
// pairs (i, i + D/2) of Hugging Face's layout become adjacent rows (2i, 2i+1).
int64_t hf_row(int64_t gguf_row, int64_t D) {
  const int64_t head = gguf_row / D, r = gguf_row % D;
  return head * D + (r % 2) * (D / 2) + r / 2;
}

TEST(TrainInit, HuggingFaceFolderLoadsItsWeightsAndTrains) {
  QKV_REQUIRE_SHARED(kHf);
  const auto hf = test::shared_dir() / kHf;
  test::TempDir dir;
  Pretrained p = load_pretrained(hf.string(), 0, 2);
  const Shape& s = p.model->shape();
  EXPECT_EQ(s.vocab, 2048);
  EXPECT_EQ(s.dim, 128);
  EXPECT_EQ(s.layers, 2);
  EXPECT_EQ(s.heads, 8);
  EXPECT_EQ(s.kv_heads, 4);
  EXPECT_EQ(s.ffn, 384);
  EXPECT_TRUE(s.tied);
  EXPECT_FLOAT_EQ(s.norm_eps, 1e-6f);

  // Every weight is the safetensors tensor, read here without the converter.
  const auto st = safetensors::File::open((hf / "model.safetensors").string());
  auto hf_name = [](const std::string& n) {
    // The tied embedding is stored once, as the head.
    if (n == "token_embd.weight") return std::string("lm_head.weight");
    if (n == "output_norm.weight") return std::string("model.norm.weight");
    const size_t dot = n.find('.', 4);
    const std::string l = "model.layers." + n.substr(4, dot - 4) + ".", rest = n.substr(dot + 1);
    static const std::pair<const char*, const char*> map[] = {
        {"attn_norm.weight", "input_layernorm.weight"},    {"attn_q.weight", "self_attn.q_proj.weight"},
        {"attn_k.weight", "self_attn.k_proj.weight"},      {"attn_v.weight", "self_attn.v_proj.weight"},
        {"attn_output.weight", "self_attn.o_proj.weight"}, {"ffn_norm.weight", "post_attention_layernorm.weight"},
        {"ffn_gate.weight", "mlp.gate_proj.weight"},       {"ffn_up.weight", "mlp.up_proj.weight"},
        {"ffn_down.weight", "mlp.down_proj.weight"}};
    for (const auto& [g, h] : map)
      if (rest == g) return l + h;
    return std::string("?");
  };
  for (const auto& t : p.model->tensors()) {
    const CheckpointTensor* h = st.find(hf_name(t.name));
    ASSERT_NE(h, nullptr) << t.name;
    const std::vector<float> want = to_f32(*h);
    ASSERT_EQ(want.size(), size_t(t.size())) << t.name;
    const bool rotary = t.name.ends_with("attn_q.weight") || t.name.ends_with("attn_k.weight");
    const auto got = p.model->param(t);
    int64_t differ = 0;
    for (int64_t r = 0; r < t.rows; ++r)
      for (int64_t c = 0; c < t.cols; ++c)
        differ += got[size_t(r * t.cols + c)] != want[size_t((rotary ? hf_row(r, s.head_dim()) : r) * t.cols + c)];
    EXPECT_EQ(differ, 0) << t.name;
  }

  write_story(dir / "story.txt");
  TrainOptions o;
  o.run.init = hf.string();
  o.run.shape.ctx = 32;
  o.run.schedule = {1e-3f, 1e-4f, 1, 2};
  o.run.batch = 2;
  o.data = {(dir / "story.txt").string()};
  o.out_dir = (dir / "run").string();
  o.export_path = (dir / "tuned.gguf").string();
  o.eval_every = 0;
  o.threads = 2;
  EXPECT_EQ(train(o).step, 2);
  EXPECT_EQ(shape_of(gguf::File::open(o.export_path)).vocab, 2048);
}

TEST(TrainInit, PyTorchCheckpointFileLoadsItsWeights) {
  QKV_REQUIRE_SHARED(kTorch);
  const auto bin = test::shared_dir() / kTorch / "pytorch_model.bin";
  test::TempDir dir;
  Pretrained p = load_pretrained(bin.string(), 16, 2);
  const Shape& s = p.model->shape();
  EXPECT_EQ(s.vocab, 32000);
  EXPECT_EQ(s.dim, 4);
  EXPECT_EQ(s.layers, 2);
  EXPECT_EQ(s.heads, 2);
  EXPECT_FALSE(s.tied);
  EXPECT_EQ(s.ctx, 16);
  // The tensors that conversion copies as they are, read here with the torch reader.
  const auto ckpt = torch::Checkpoint::open(bin.string());
  for (const auto& [ours, theirs] : {std::pair{"token_embd.weight", "model.embed_tokens.weight"},
                                     {"output.weight", "lm_head.weight"},
                                     {"blk.1.attn_v.weight", "model.layers.1.self_attn.v_proj.weight"},
                                     {"blk.0.ffn_down.weight", "model.layers.0.mlp.down_proj.weight"}}) {
    const CheckpointTensor* t = ckpt.find(theirs);
    ASSERT_NE(t, nullptr) << theirs;
    const std::vector<float> want = to_f32(*t);
    const auto it = std::find_if(p.model->tensors().begin(), p.model->tensors().end(),
                                 [&](const ParamInfo& i) { return i.name == ours; });
    ASSERT_NE(it, p.model->tensors().end()) << ours;
    const auto got = p.model->param(*it);
    EXPECT_TRUE(std::equal(got.begin(), got.end(), want.begin(), want.end())) << ours;
  }
}

TEST(TrainInit, ShapeFlagsAndVocabAreRefused) {
  test::TempDir dir;
  Transformer m(test::tiny_shape(259, 16), 1);
  test::randomize(m, 1);
  const std::string model = (dir / "m.gguf").string();
  export_gguf(model, m, Vocab::bytes());
  test::write_corpus(dir / "c.txt", 2000);
  std::string out;
  EXPECT_EQ(test::run_qkv("train --init " + model + " --data " + (dir / "c.txt").string() + " --out " +
                              (dir / "r").string() + " --dim 64",
                          &out),
            2);
  EXPECT_NE(out.find("--dim cannot go with --init"), std::string::npos) << out;
  EXPECT_EQ(test::run_qkv("train --init " + model + " --vocab " + model + " --data " + (dir / "c.txt").string() +
                              " --out " + (dir / "r").string(),
                          &out),
            2);
  EXPECT_NE(out.find("--vocab cannot go with --init"), std::string::npos) << out;
  EXPECT_EQ(test::run_qkv("train --init " + model + " --data " + (dir / "c.txt").string() + " --out " +
                              (dir / "r").string() + " --ctx 64",
                          &out),
            2);
  EXPECT_NE(out.find("exceeds the model's context of 16"), std::string::npos) << out;
  ASSERT_EQ(test::run_qkv("train --init " + model + " --data " + (dir / "c.txt").string() + " --out " +
                              (dir / "r").string() + " --steps 2 --batch 2 -t 2",
                          &out),
            0)
      << out;
  EXPECT_NE(out.find("ctx 16"), std::string::npos) << "the model's context is the default: " << out;
}

}  // namespace
}  // namespace qkv::train
