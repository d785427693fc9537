// Data parallelism: `mpirun -np 2 qkv train --batch B` is the same run as
// `qkv train --batch 2B` (rank r takes rows r*B..(r+1)*B-1 of the global
// batch, the gradients are averaged), up to float rounding of the sums.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "qkv/error.h"
#include "qkv/train.h"
#include "qkv/train_distributed.h"
#include "test_support.h"
#include "train/fixtures.h"

namespace qkv::train {
namespace {

#ifdef QKV_WITH_MPI
std::vector<float> exported_params(const std::string& path) {
  const gguf::File f = gguf::File::open(path);
  Transformer m(shape_of(f), 1);
  read_params(f, m);
  return {m.params().begin(), m.params().end()};
}

double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, double(std::fabs(a[i] - b[i])));
  return m;
}

double max_abs(const std::vector<float>& a) {
  double m = 0;
  for (float v : a) m = std::max(m, double(std::fabs(v)));
  return m;
}
#endif

TEST(TrainMpi, TheRanksRowsMakeUpTheGlobalBatch) {
  Batch g;
  g.B = 6;
  g.T = 3;
  for (int i = 0; i < g.B * g.T; ++i) {
    g.tokens.push_back(i);
    g.targets.push_back(100 + i);
  }
  for (int r = 0; r < 3; ++r) {
    const Batch b = dist::rows_of_rank(g, r, 3);
    ASSERT_EQ(b.B, 2);
    ASSERT_EQ(b.T, 3);
    for (int i = 0; i < 6; ++i) {
      EXPECT_EQ(b.tokens[size_t(i)], r * 6 + i);
      EXPECT_EQ(b.targets[size_t(i)], 100 + r * 6 + i);
    }
  }
  EXPECT_THROW(dist::rows_of_rank(g, 0, 4), qkv::Error);
}

TEST(TrainMpi, TwoRanksEqualOneRankWithTheDoubleBatch) {
#ifndef QKV_WITH_MPI
  GTEST_SKIP() << "built without MPI (QKV_MPI=OFF or no libopenmpi-dev): nothing to compare";
#else
  if (!std::filesystem::exists(QKV_MPIRUN)) GTEST_SKIP() << QKV_MPIRUN << " not found (apt install openmpi-bin)";
  test::TempDir dir;
  test::write_corpus(dir / "corpus.txt", 20000);
  const std::string common = " --data " + (dir / "corpus.txt").string() +
                             " --dim 32 --layers 2 --heads 4 --kv-heads 2 --ctx 16 --steps 4 --warmup 1"
                             " --lr 3e-3 --seed 7 --eval-every 0 -t 1";
  std::string out;
  ASSERT_EQ(test::run_qkv("train --batch 4 --out " + (dir / "one").string() + " --export " +
                              (dir / "one.gguf").string() + common, &out), 0) << out;
  // CI runs as root, which Open MPI refuses unless told; two ranks may share
  // fewer cores (--oversubscribe), and talk through shared memory only.
  setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
  setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
#if defined(__SANITIZE_ADDRESS__)
  // Open MPI leaves its own allocations behind at MPI_Finalize: the ranks
  // keep every ASan check but the leak report, which would fail them for libmpi.
  const std::string launcher = "ASAN_OPTIONS=detect_leaks=0 " QKV_MPIRUN " -x ASAN_OPTIONS";
#else
  const std::string launcher = QKV_MPIRUN;
#endif
  const std::string mpirun = launcher + " -np 2 --oversubscribe --mca btl self,vader " + QKV_BINARY;
  const std::string cmd = mpirun + " train --batch 2 --out " + (dir / "two").string() + " --export " +
                          (dir / "two.gguf").string() + common + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[4096];
  out.clear();
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  ASSERT_EQ(pclose(p), 0) << cmd << "\n" << out;
  // Rank 0 alone reports, and reports the global batch's tokens.
  EXPECT_EQ(out.find("rank 1"), std::string::npos) << out;

  const std::vector<float> a = exported_params((dir / "one.gguf").string());
  const std::vector<float> b = exported_params((dir / "two.gguf").string());
  ASSERT_EQ(a.size(), b.size());
  EXPECT_LE(max_diff(a, b), 1e-5 * max_abs(a)) << "max |w| " << max_abs(a);

  // The comparison can tell runs apart: one rank with batch 2 (half the
  // global batch) ends elsewhere, by far more than the tolerance.
  ASSERT_EQ(test::run_qkv("train --batch 2 --out " + (dir / "half").string() + " --export " +
                              (dir / "half.gguf").string() + common, &out), 0) << out;
  EXPECT_GT(max_diff(a, exported_params((dir / "half.gguf").string())), 1e-3 * max_abs(a));
#endif
}

}  // namespace
}  // namespace qkv::train
