// `qkv train` end to end: flags, a run, its log and export, `qkv run` on the result.
#include <gtest/gtest.h>

#include <fstream>

#include "qkv/train.h"
#include "test_support.h"
#include "train/fixtures.h"

namespace qkv::train {
namespace {

// Skips when this build's qkv binary has no train command.
#define REQUIRE_TRAIN_COMMAND()                                                                   \
  do {                                                                                            \
    std::string help;                                                                             \
    if (test::run_qkv("train --help", &help) != 0)                                                \
      GTEST_SKIP() << "this qkv binary has no 'train' command (is it registered in tools/qkv/main.cpp?)"; \
  } while (0)

TEST(TrainCli, HelpExplainsEveryFlagWithExamples) {
  REQUIRE_TRAIN_COMMAND();
  std::string out;
  ASSERT_EQ(test::run_qkv("train --help", &out), 0);
  for (const char* flag : {"--data", "--out", "--resume", "--vocab", "--dim", "--layers", "--heads", "--kv-heads",
                           "--ffn", "--ctx", "--steps", "--batch", "--grad-accum", "--lr", "--min-lr", "--warmup",
                           "--weight-decay", "--clip", "--seed", "--eval-every", "--save-every", "--threads", "--log",
                           "--export", "Examples:"})
    EXPECT_NE(out.find(flag), std::string::npos) << flag;
}

TEST(TrainCli, TrainsExportsAndTheModelRuns) {
  REQUIRE_TRAIN_COMMAND();
  test::TempDir dir;
  test::write_corpus(dir / "corpus.txt", 5000);
  const std::string run = (dir / "run").string(), model = (dir / "m.gguf").string(), log = (dir / "log.jsonl").string();
  std::string out;
  ASSERT_EQ(test::run_qkv("train --data " + (dir / "corpus.txt").string() + " --out " + run +
                              " --dim 32 --layers 1 --heads 2 --ctx 16 --steps 4 --batch 2 --warmup 1"
                              " --eval-every 2 --log " + log + " --export " + model + " -t 2",
                          &out),
            0)
      << out;
  EXPECT_NE(out.find("step 4: loss"), std::string::npos) << out;
  std::ifstream in(log);
  int steps = 0, evals = 0;
  for (std::string line; std::getline(in, line);) {
    steps += line.find("\"type\":\"step\"") != std::string::npos;
    evals += line.find("\"type\":\"eval\"") != std::string::npos;
  }
  EXPECT_EQ(steps, 4);
  EXPECT_EQ(evals, 2);
  ASSERT_EQ(test::run_qkv("run " + model + " -p the -n 5 --temp 0 -t 2", &out), 0) << out;

  // A resumed run keeps its settings; a second fresh run does not overwrite the first.
  EXPECT_EQ(test::run_qkv("train --resume --out " + run + " --lr 0.1", &out), 2);
  EXPECT_NE(out.find("--lr cannot change on --resume"), std::string::npos) << out;
  EXPECT_EQ(test::run_qkv("train --data " + (dir / "corpus.txt").string() + " --out " + run, &out), 2);
  EXPECT_NE(out.find("--resume"), std::string::npos) << out;
}

}  // namespace
}  // namespace qkv::train
