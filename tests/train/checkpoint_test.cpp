// Checkpoints: a round trip of every piece of state, resume that continues
// bit for bit, and a process killed while writing one.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "qkv/error.h"
#include "qkv/train.h"
#include "test_support.h"
#include "train/fixtures.h"

extern char** environ;

namespace qkv::train {
namespace {
namespace fs = std::filesystem;

TEST(TrainCheckpoint, SavesAndLoadsEveryPieceOfState) {
  Shape s = test::tiny_shape(259, 8);
  s.tied = false;
  Transformer m(s, 1);
  test::randomize(m, 1);
  AdamW opt({0.8f, 0.9f, 1e-7f, 0.05f}, m.params().size());
  std::mt19937 rng(2);
  for (int i = 0; i < 2; ++i) {  // moments that are not zero
    const Batch b = test::random_batch(s, 2, 8, rng);
    train_step(m, opt, std::span(&b, 1), 1e-3f, 1.0f);
  }
  RunConfig run;
  run.shape = s;
  run.batch = 3, run.grad_accum = 5, run.val_every = 7, run.seed = 99, run.clip = 0.25f;
  run.schedule = {2e-3f, 1e-5f, 17, 1234};
  run.adamw = opt.config();
  const TrainState state{42, {3, 11}, 0x1234567890ABCDEFull};

  test::TempDir dir;
  const std::string path = (dir / "c.gguf").string();
  save_checkpoint(path, run, state, Vocab::bytes(), m, opt);
  const Checkpoint c = load_checkpoint(path, 1);
  EXPECT_EQ(c.run.shape, s);
  EXPECT_EQ(c.run.batch, 3);
  EXPECT_EQ(c.run.grad_accum, 5);
  EXPECT_EQ(c.run.val_every, 7);
  EXPECT_EQ(c.run.seed, 99u);
  EXPECT_EQ(c.run.clip, 0.25f);
  EXPECT_EQ(c.run.schedule.lr, 2e-3f);
  EXPECT_EQ(c.run.schedule.min_lr, 1e-5f);
  EXPECT_EQ(c.run.schedule.warmup, 17);
  EXPECT_EQ(c.run.schedule.steps, 1234);
  EXPECT_EQ(c.run.adamw.beta1, 0.8f);
  EXPECT_EQ(c.run.adamw.beta2, 0.9f);
  EXPECT_EQ(c.run.adamw.eps, 1e-7f);
  EXPECT_EQ(c.run.adamw.weight_decay, 0.05f);
  EXPECT_EQ(c.state.step, 42);
  EXPECT_EQ(c.state.data, (Batcher::Position{3, 11}));
  EXPECT_EQ(c.state.data_fingerprint, 0x1234567890ABCDEFull);
  EXPECT_EQ(c.vocab->fingerprint(), Vocab::bytes().fingerprint());
  EXPECT_EQ(c.opt->updates(), 2);
  auto same = [](std::span<const float> a, std::span<const float> b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size_bytes()) == 0;
  };
  EXPECT_TRUE(same(c.model->params(), m.params()));
  EXPECT_TRUE(same(c.opt->m(), opt.m()));
  EXPECT_TRUE(same(c.opt->v(), opt.v()));
}

TEST(TrainCheckpoint, AModelFileIsNotACheckpoint) {
  Transformer m(test::tiny_shape(259, 8), 1);
  test::TempDir dir;
  export_gguf((dir / "m.gguf").string(), m, Vocab::bytes());
  try {
    load_checkpoint((dir / "m.gguf").string());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Format);
  }
}

// The run the resume and kill tests share: 16 steps on a corpus small
// enough that the data order wraps into a second epoch after step 8.
TrainOptions options(const fs::path& dir, const std::string& name) {
  TrainOptions o;
  o.data = {(dir / "corpus.txt").string()};
  o.out_dir = (dir / name).string();
  o.log_path = (dir / (name + ".jsonl")).string();
  o.run.shape = test::tiny_shape(259, 32);
  o.run.batch = 4, o.run.grad_accum = 2, o.run.seed = 5;
  o.run.schedule = {3e-3f, 3e-4f, 2, 16};
  o.eval_every = 3, o.eval_batches = 2, o.save_every = 3;
  o.threads = 2;
  return o;
}

void write_inputs(const fs::path& dir) { test::write_corpus(dir / "corpus.txt", 3000); }

std::vector<nlohmann::json> read_log(const std::string& path) {
  std::vector<nlohmann::json> records;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) records.push_back(nlohmann::json::parse(line));
  return records;
}

TEST(TrainCheckpoint, ResumeContinuesBitForBit) {
  test::TempDir dir;
  write_inputs(dir.path());
  TrainOptions straight = options(dir.path(), "straight");
  straight.export_path = (dir / "straight.gguf").string();
  const TrainResult r = train(straight);
  EXPECT_EQ(r.step, 16);

  TrainOptions half = options(dir.path(), "halves");
  half.stop_at = 8;
  EXPECT_EQ(train(half).step, 8);
  EXPECT_EQ(load_checkpoint(checkpoint_path(half.out_dir)).state.data.epoch, 0u);
  half.stop_at = 0;
  half.resume = true;
  half.data.clear();  // the shards in the run's folder are used
  half.export_path = (dir / "halves.gguf").string();
  EXPECT_EQ(train(half).step, 16);
  EXPECT_EQ(load_checkpoint(checkpoint_path(half.out_dir)).state.data.epoch, 1u) << "the test means to wrap an epoch";

  EXPECT_EQ(test::read_bytes(checkpoint_path(straight.out_dir)), test::read_bytes(checkpoint_path(half.out_dir)));
  EXPECT_EQ(test::read_bytes(straight.export_path), test::read_bytes(half.export_path));

  // Both logs hold every step once, with the same losses, and an evaluation every 3 steps and at the end.
  const auto a = read_log(straight.log_path), b = read_log(half.log_path);
  std::vector<double> losses_a, losses_b;
  std::vector<int64_t> evals;
  for (const auto& rec : a) {
    if (rec["type"] == "step") {
      EXPECT_EQ(rec["step"].get<int64_t>(), int64_t(losses_a.size()) + 1);
      EXPECT_GT(rec["tokens_per_s"].get<double>(), 0);
      EXPECT_GT(rec["grad_norm"].get<double>(), 0);
      EXPECT_GT(rec["lr"].get<double>(), 0);
      losses_a.push_back(rec["loss"]);
    }
    if (rec["type"] == "eval") evals.push_back(rec["step"]);
  }
  for (const auto& rec : b)
    if (rec["type"] == "step") losses_b.push_back(rec["loss"]);
  EXPECT_EQ(losses_a.size(), 16u);
  EXPECT_EQ(losses_a, losses_b);
  EXPECT_EQ(evals, (std::vector<int64_t>{3, 6, 9, 12, 15, 16}));
  EXPECT_LT(losses_a.back(), losses_a.front()) << "training should lower the loss";
}

TEST(TrainCheckpoint, ResumeRefusesChangedData) {
  test::TempDir dir;
  write_inputs(dir.path());
  TrainOptions o = options(dir.path(), "run");
  o.stop_at = 2;
  train(o);
  test::write_corpus(dir / "corpus.txt", 2500, 9);
  o.resume = true;
  o.stop_at = 0;
  EXPECT_THROW(train(o), Error);
}

// Not a test of its own: the process that TrainCheckpoint.KillWhileWriting starts and kills.
TEST(TrainCheckpoint, DISABLED_ChildResumesUntilKilled) {
  const char* dir = std::getenv("QKV_TRAIN_KILL_TEST_DIR");
  if (!dir) GTEST_SKIP() << "started by TrainCheckpoint.KillWhileWritingLeavesThePreviousCheckpointWhole";
  TrainOptions o = options(dir, "run");
  o.resume = true;
  o.data.clear();
  o.stop_at = 8;
  train(o);
}

// Starts this test binary running the child test above; its stdout and stderr go to *out_fd.
pid_t start_child(const fs::path& dir, int* out_fd) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) env.emplace_back(*e);
  env.push_back("QKV_TRAIN_KILL_TEST_DIR=" + dir.string());
  env.push_back("QKV_TRAIN_CHECKPOINT_PAUSE_MS=60000");
  std::vector<char*> envp;
  for (auto& s : env) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string exe = fs::read_symlink("/proc/self/exe").string(), filter =
      "--gtest_filter=TrainCheckpoint.DISABLED_ChildResumesUntilKilled", disabled = "--gtest_also_run_disabled_tests";
  char* argv[] = {exe.data(), filter.data(), disabled.data(), nullptr};
  int p[2];
  if (pipe(p) != 0) return -1;
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(p[1], 1);
    dup2(p[1], 2);
    close(p[0]);
    execve(exe.c_str(), argv, envp.data());
    _exit(127);
  }
  close(p[1]);
  *out_fd = p[0];
  return pid;
}

// Reads fd until `marker` shows up (true) or EOF / 60 s pass (false).
bool wait_for(int fd, const std::string& marker, std::string& seen) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (seen.find(marker) == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) return false;
    seen.append(buf, size_t(n));
  }
  return true;
}

TEST(TrainCheckpoint, KillWhileWritingLeavesThePreviousCheckpointWhole) {
  test::TempDir dir;
  write_inputs(dir.path());
  TrainOptions o = options(dir.path(), "run");
  o.stop_at = 4;
  train(o);  // checkpoints at steps 3 and 4
  const std::string ckpt = checkpoint_path(o.out_dir);
  const auto before = test::read_bytes(ckpt);

  // The child resumes at step 4 and saves at step 6: killed half way through that write.
  int fd = -1;
  const pid_t pid = start_child(dir.path(), &fd);
  ASSERT_GT(pid, 0);
  std::string output;
  const bool paused = wait_for(fd, "checkpoint: paused mid-write", output);
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  close(fd);
  ASSERT_TRUE(paused) << "the child never reached its checkpoint write:\n" << output;
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  EXPECT_NE(output.find("step 6/8"), std::string::npos) << output;

  std::vector<fs::path> temps;
  for (const auto& e : fs::directory_iterator(o.out_dir))
    if (e.path().filename().string().starts_with(".checkpoint.gguf.tmp-")) temps.push_back(e.path());
  ASSERT_EQ(temps.size(), 1u) << "the killed writer's partial file";
  EXPECT_LT(fs::file_size(temps[0]), before.size());
  EXPECT_EQ(test::read_bytes(ckpt), before) << "the previous checkpoint changed";
  EXPECT_EQ(load_checkpoint(ckpt).state.step, 4);

  // Resuming from it finishes the run exactly as an uninterrupted one, and clears the partial file.
  o.resume = true;
  o.stop_at = 0;
  o.data.clear();
  train(o);
  EXPECT_FALSE(fs::exists(temps[0]));
  TrainOptions straight = options(dir.path(), "straight");
  train(straight);
  EXPECT_EQ(test::read_bytes(ckpt), test::read_bytes(checkpoint_path(straight.out_dir)));
}

}  // namespace
}  // namespace qkv::train
