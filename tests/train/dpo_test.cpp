// DPO: the loss at the start (policy = reference), its gradient against
// torch autograd over the same llama, a synthetic preference that a tiny model
// learns and generalises, and `qkv dpo` end to end.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numbers>
#include <random>

#include "qkv/train_dpo.h"
#include "test_support.h"
#include "train/fixtures.h"
#include "train/torch_oracle.h"

namespace qkv::train {
namespace {

// A tiny byte-vocabulary llama with random weights, as a GGUF file.
std::string tiny_model_file(const test::TempDir& dir, uint32_t seed) {
  Transformer m(test::tiny_shape(259, 32), 2);
  test::randomize(m, seed);
  const std::string path = (dir / "tiny.gguf").string();
  export_gguf(path, m, Vocab::bytes());
  return path;
}

void write_pairs(const std::filesystem::path& path, const std::vector<PreferencePair>& pairs) {
  std::ofstream out(path);
  for (const auto& p : pairs)
    out << nlohmann::json{{"prompt", p.prompt}, {"chosen", p.chosen}, {"rejected", p.rejected}}.dump() << "\n";
}

std::vector<nlohmann::json> read_log(const std::string& path, const std::string& type) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (auto j = nlohmann::json::parse(line); j["type"] == type) out.push_back(j);
  return out;
}

const std::vector<PreferencePair> kPairs = {
    {"The sky is", " blue.", " a sandwich."},
    {"2 + 2 =", " 4", " 5, or so"},
    {"Say hi:", " hi", " no"},
    {"Once upon a time", " there was a cat.", " the end"},
};

TEST(TrainDpo, FirstLossIsLn2WhenThePolicyIsTheReference) {
  test::TempDir dir;
  const std::string model = tiny_model_file(dir, 3);
  // Directly: the reference scored on the same batch gives z = 0.
  Pretrained p = load_pretrained(model, 0, 2);
  std::vector<PairIds> ids;
  for (const auto& pair : kPairs) ids.push_back(tokenize_pair(*p.vocab, pair));
  const std::vector<const PairIds*> ptrs = {&ids[0], &ids[1], &ids[2], &ids[3]};
  const PairBatch b = make_pair_batch(ptrs, 32);
  const std::vector<double> ref = sequence_logprobs(*p.model, b);
  p.model->zero_grads();
  const DpoStats s = dpo_forward_backward(*p.model, b, ref, 0.1f);
  EXPECT_NEAR(s.loss, std::numbers::ln2, 1e-12);
  EXPECT_EQ(s.accuracy, 0.0);
  EXPECT_EQ(s.margin, 0.0);

  // Through dpo(): the reference is scored before the first step, in other batches.
  write_pairs(dir / "prefs.jsonl", kPairs);
  DpoOptions o;
  o.init = model;
  o.data = (dir / "prefs.jsonl").string();
  o.out_dir = (dir / "run").string();
  o.batch = 3;
  o.schedule = {1e-3f, 0.0f, 0, 2};
  o.threads = 2;
  o.log_path = (dir / "log.jsonl").string();
  dpo(o);
  const auto steps = read_log(o.log_path, "step");
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_NEAR(steps[0]["loss"].get<double>(), std::numbers::ln2, 1e-6);
  EXPECT_NEAR(steps[0]["rewards/margin"].get<double>(), 0.0, 1e-5);
}

// Random ids: a prompt of 1-5 tokens, completions of 1-5 (some pairs longer than ctx + 1).
PairIds random_pair(std::mt19937& rng, int vocab) {
  std::uniform_int_distribution<int32_t> id(0, vocab - 1), len(1, 5);
  PairIds p;
  for (auto* v : {&p.prompt, &p.chosen, &p.rejected}) v->resize(size_t(len(rng)));
  for (auto* v : {&p.prompt, &p.chosen, &p.rejected})
    for (auto& x : *v) x = id(rng);
  return p;
}

TEST(TrainDpo, GradientMatchesTorchAutograd) {
  QKV_REQUIRE_TORCH();
  Shape s;
  s.vocab = 37, s.dim = 24, s.layers = 2, s.heads = 6, s.kv_heads = 2, s.ffn = 40, s.ctx = 6, s.tied = false;
  s.rope_base = 100.0f;
  Transformer policy(s, 2), ref(s, 2);
  test::randomize(policy, 7);
  test::randomize(ref, 8);
  std::mt19937 rng(13);
  std::vector<PairIds> pairs;
  for (int i = 0; i < 4; ++i) pairs.push_back(random_pair(rng, s.vocab));
  const std::vector<const PairIds*> ptrs = {&pairs[0], &pairs[1], &pairs[2], &pairs[3]};
  const PairBatch b = make_pair_batch(ptrs, s.ctx);
  const float beta = 0.5f;
  const std::vector<double> ref_lp = sequence_logprobs(ref, b);
  policy.zero_grads();
  const DpoStats st = dpo_forward_backward(policy, b, ref_lp, beta);
  const std::vector<double> pol_lp = sequence_logprobs(policy, b);

  test::TempDir dir;
  nlohmann::json cfg = {{"B", b.B}, {"T", b.T}, {"beta", beta}};
  cfg["shape"] = {{"vocab", s.vocab}, {"dim", s.dim}, {"layers", s.layers}, {"heads", s.heads},
                  {"kv_heads", s.kv_heads}, {"ffn", s.ffn}, {"norm_eps", s.norm_eps}, {"rope_base", s.rope_base}};
  for (const auto& t : policy.tensors())
    cfg["tensors"].push_back({{"name", t.name}, {"offset", t.offset}, {"rows", t.rows}, {"cols", t.cols}});
  std::ofstream(dir / "config.json") << cfg.dump();
  for (auto [name, m] : {std::pair{"policy.bin", &policy}, {"ref.bin", &ref}})
    std::ofstream(dir / name, std::ios::binary)
        .write(reinterpret_cast<const char*>(m->params().data()), std::streamsize(m->params().size_bytes()));
  std::ofstream ids(dir / "batch.bin", std::ios::binary);
  for (const auto* v : {&b.tokens, &b.targets})
    ids.write(reinterpret_cast<const char*>(v->data()), std::streamsize(v->size() * sizeof(int32_t)));
  ids.close();
  std::ofstream(dir / "mask.bin", std::ios::binary)
      .write(reinterpret_cast<const char*>(b.completion.data()), std::streamsize(b.completion.size()));
  std::string out;
  ASSERT_EQ(test::run_torch_script("torch_dpo.py", "'" + dir.path().string() + "'", &out), 0) << out;

  const double torch_loss = test::read_doubles(dir / "loss.bin").at(0);
  EXPECT_NEAR(st.loss, torch_loss, 1e-6 * std::abs(torch_loss));
  EXPECT_GT(std::abs(torch_loss - std::numbers::ln2), 0.05) << "the policy and reference should differ";
  const auto logps = test::read_doubles(dir / "logps.bin");
  ASSERT_EQ(logps.size(), 4 * size_t(b.B));
  for (size_t i = 0; i < 2 * size_t(b.B); ++i) {
    EXPECT_NEAR(pol_lp[i], logps[i], 1e-5 * std::abs(logps[i])) << "log pi of row " << i;
    EXPECT_NEAR(ref_lp[i], logps[2 * b.B + i], 1e-5 * std::abs(logps[2 * b.B + i])) << "log ref of row " << i;
  }
  double worst = 0;
  for (const auto& d : test::compare_tensors(policy.tensors(), policy.grads(), test::read_doubles(dir / "grads.bin"))) {
    EXPECT_GT(d.max_ref, 0) << d.name;
    EXPECT_LE(d.max_diff, 1e-4 * d.max_ref) << d.name << ": max |ours - torch| " << d.max_diff << ", max |torch| "
                                            << d.max_ref;
    worst = std::max(worst, d.relative());
  }
  EXPECT_GT(b.truncated, 0) << "some pair should exercise truncation";
  std::printf("[ DPO ] loss %.9f (torch %.9f), worst gradient max|diff|/max|torch| %.2e\n", st.loss, torch_loss, worst);
}

// Prompts of four distinct letters from a..h and '>'; the chosen completion
// is the first letter in upper case, the rejected one another of the four.
std::vector<PreferencePair> letter_pairs(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<PreferencePair> out;
  for (int i = 0; i < n; ++i) {
    std::string letters = "abcdefgh";
    std::shuffle(letters.begin(), letters.end(), rng);
    const std::string prompt = letters.substr(0, 4) + ">";
    const char other = letters[1 + rng() % 3];
    out.push_back({prompt, std::string(1, char(std::toupper(letters[0]))), std::string(1, char(std::toupper(other)))});
  }
  return out;
}

TEST(TrainDpo, LearnsASyntheticPreferenceThatHoldsOnHeldOutPairs) {
  test::TempDir dir;
  // A short pretraining on the format, with a random one of the four letters
  // after '>': the reference has no preference for the first.
  {
    std::ofstream corpus(dir / "format.txt");
    std::mt19937 coin(3);
    for (const auto& p : letter_pairs(400, 1)) corpus << p.prompt << (coin() % 2 ? p.chosen : p.rejected) << "\n";
  }
  TrainOptions t;
  t.data = {(dir / "format.txt").string()};
  t.out_dir = (dir / "pretrain").string();
  t.export_path = (dir / "base.gguf").string();
  t.run.shape = test::tiny_shape(259, 16);
  t.run.schedule = {3e-3f, 3e-4f, 5, 60};
  t.run.batch = 8;
  t.eval_every = 0;
  t.threads = 2;
  train(t);

  write_pairs(dir / "prefs.jsonl", letter_pairs(500, 2));
  DpoOptions o;
  o.init = t.export_path;
  o.data = (dir / "prefs.jsonl").string();
  o.out_dir = (dir / "dpo").string();
  o.beta = 0.1f;
  o.batch = 16;
  o.schedule = {5e-3f, 5e-4f, 10, 600};
  o.val_every = 5;  // 100 held-out pairs
  o.eval_every = 200;
  o.threads = 2;
  o.log_path = (dir / "log.jsonl").string();
  const DpoResult r = dpo(o);
  const auto evals = read_log(o.log_path, "eval");
  ASSERT_EQ(evals.size(), 3u);
  for (const auto& e : evals)
    std::printf("[ DPO ] step %d: held-out loss %.4f, reward accuracy %.3f, margin %.4f\n", e["step"].get<int>(),
                e["loss"].get<double>(), e["rewards/accuracy"].get<double>(), e["rewards/margin"].get<double>());
  EXPECT_GT(r.eval.accuracy, 0.9);
  EXPECT_LT(r.eval.loss, std::numbers::ln2 - 0.2);
  EXPECT_GT(evals[1]["rewards/margin"].get<double>(), evals[0]["rewards/margin"].get<double>());
  EXPECT_GT(evals[2]["rewards/margin"].get<double>(), evals[1]["rewards/margin"].get<double>());
}

#define REQUIRE_DPO_COMMAND()                                                                   \
  do {                                                                                          \
    std::string help;                                                                           \
    if (test::run_qkv("dpo --help", &help) != 0)                                                \
      GTEST_SKIP() << "this qkv binary has no 'dpo' command (is it registered in tools/qkv/main.cpp?)"; \
  } while (0)

TEST(TrainDpoCli, RunsEndToEndWithLogAndExport) {
  REQUIRE_DPO_COMMAND();
  std::string out;
  ASSERT_EQ(test::run_qkv("dpo --help", &out), 0);
  for (const char* s : {"--init", "--ref", "--data", "--out", "--beta", "--steps", "--lr", "--batch", "--threads",
                        "--log", "--export", "-log sigmoid(z)", "Examples:"})
    EXPECT_NE(out.find(s), std::string::npos) << s;

  test::TempDir dir;
  const std::string model = tiny_model_file(dir, 5);
  write_pairs(dir / "prefs.jsonl", kPairs);
  const std::string run = (dir / "run").string(), log = (dir / "log.jsonl").string(),
                    exported = (dir / "tuned.gguf").string();
  ASSERT_EQ(test::run_qkv("dpo --init " + model + " --data " + (dir / "prefs.jsonl").string() + " --out " + run +
                              " --steps 3 --batch 2 --lr 1e-3 --val-every 4 --log " + log + " --export " + exported +
                              " -t 2",
                          &out),
            0)
      << out;
  EXPECT_NE(out.find("step 3: loss"), std::string::npos) << out;
  EXPECT_EQ(read_log(log, "step").size(), 3u);
  EXPECT_EQ(read_log(log, "eval").size(), 1u);
  for (const std::string& path : {exported, (dir / "run/model.gguf").string()}) {
    const gguf::File f = gguf::File::open(path);
    EXPECT_EQ(shape_of(f), test::tiny_shape(259, 32)) << path;
  }
  ASSERT_EQ(test::run_qkv("run " + exported + " -p hi -n 3 --temp 0 -t 2", &out), 0) << out;

  // A malformed line is named.
  std::ofstream(dir / "bad.jsonl") << "{\"prompt\": \"a\", \"chosen\": \"b\", \"rejected\": \"c\"}\n{\"prompt\": 1}\n";
  EXPECT_EQ(test::run_qkv("dpo --init " + model + " --data " + (dir / "bad.jsonl").string() + " --out " + run, &out),
            1);
  EXPECT_NE(out.find("line 2"), std::string::npos) << out;
}

}  // namespace
}  // namespace qkv::train
