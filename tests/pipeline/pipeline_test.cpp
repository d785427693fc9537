// The pipeline end to end: prune on a real model against the reference,
// quantizing after pruning, a .qkv as a source, and the audit that stands
// between a written file and its name.
#include "qkv/pipeline.h"

#include <gtest/gtest.h>

#include <cstring>

#include "pipeline/prune_reference.h"
#include "pipeline/validate.h"
#include "qkv/error.h"
#include "qkv/qkv_file.h"
#include "qkv/quant.h"
#include "test_support.h"

namespace qkv::pipeline {
namespace {

const char* kModel = "models/gguf-stories260K/stories260K.gguf";  // F32
const char* kTiny = "models/gguf-llamacpp-quantized/tiny-llama-F32.gguf";  // rows of whole blocks

std::vector<float> floats_of(const gguf::File& f, size_t i) {
  const auto& t = f.tensors()[i];
  std::vector<float> v(t.n_elements());
  quant::dequantize(t.type, f.tensor_data(i).data(), v.data(), int64_t(t.n_elements() / t.shape[0]),
                    int64_t(t.shape[0]), 1);
  return v;
}

Job prune_job(const std::string& type, PruneMethod method, double sparsity) {
  Job j;
  j.prune = PruneOptions{};
  j.prune->method = method;
  j.prune->sparsity = sparsity;
  j.quantize.type = type;
  j.quantize.threads = 2;
  j.quantize.progress = false;
  j.verb = "prune";
  return j;
}

TEST(Pipeline, PruneZeroesWhatTheReferenceZeroesAndLeavesTheRest) {
  QKV_REQUIRE_SHARED(kModel);
  const auto path = (test::shared_dir() / kModel).string();
  test::TempDir tmp;
  const auto out = (tmp / "pruned.gguf").string();
  const auto r = run(*Source::open(path), out, prune_job("F32", PruneMethod::Magnitude, 0.3));

  const auto in = gguf::File::open(path);
  const auto got = gguf::File::open(out);
  ASSERT_EQ(got.tensors().size(), in.tensors().size());
  uint64_t pruned = 0, prunable = 0;
  for (size_t i = 0; i < got.tensors().size(); ++i) {
    const auto& t = got.tensors()[i];
    const auto* src = in.find_tensor(t.name);
    ASSERT_NE(src, nullptr) << t.name;
    auto want = floats_of(in, size_t(src - in.tensors().data()));
    const bool matrix = t.shape.size() == 2 && t.name.starts_with("blk.") && t.name.find("norm") == std::string::npos;
    if (matrix) {
      const uint64_t before = uint64_t(std::count(want.begin(), want.end(), 0.0f));
      test::prune_reference(want.data(), int64_t(t.shape[1]), int64_t(t.shape[0]), 0.3, nullptr);
      pruned += uint64_t(std::count(want.begin(), want.end(), 0.0f)) - before;
      prunable += t.n_elements();
    }
    EXPECT_EQ(floats_of(got, i), want) << t.name << (matrix ? " (pruned)" : " (left alone)");
  }
  EXPECT_GT(pruned, 0u);
  EXPECT_EQ(r.pruned, pruned);
  EXPECT_EQ(r.prunable, prunable);
  EXPECT_EQ(got.metadata().get_string("qkv.prune.method"), "magnitude");
}

TEST(Pipeline, PruningThenQuantizingQuantizesThePrunedWeights) {
  QKV_REQUIRE_SHARED(kTiny);
  const auto path = (test::shared_dir() / kTiny).string();
  test::TempDir tmp;
  const auto out = (tmp / "pruned-q8.gguf").string();
  run(*Source::open(path), out, prune_job("Q8_0", PruneMethod::NofM, 0));  // N:M defaults to 2:4

  const auto in = gguf::File::open(path);
  const auto got = gguf::File::open(out);
  size_t checked = 0;
  for (size_t i = 0; i < got.tensors().size(); ++i) {
    const auto& t = got.tensors()[i];
    if (t.type != TensorType::Q8_0 || !t.name.starts_with("blk.")) continue;
    auto w = floats_of(in, size_t(in.find_tensor(t.name) - in.tensors().data()));
    const int64_t cols = int64_t(t.shape[0]), rows = int64_t(t.shape[1]);
    test::prune_reference_nm(w.data(), rows, cols, 2, 4, nullptr);
    std::vector<uint8_t> want(t.nbytes());
    quant::quantize(t.type, w.data(), want.data(), rows, cols, nullptr, 1);
    const auto data = got.tensor_data(i);
    EXPECT_EQ(std::vector<uint8_t>(data.begin(), data.end()), want) << t.name;
    ++checked;
  }
  EXPECT_GT(checked, 10u);
}

TEST(Pipeline, WandaWithoutAnImportanceMatrixIsAUsageError) {
  QKV_REQUIRE_SHARED(kModel);
  test::TempDir tmp;
  try {
    run(*Source::open((test::shared_dir() / kModel).string()), (tmp / "x.gguf").string(),
        prune_job("F32", PruneMethod::Wanda, 0.5));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
    EXPECT_NE(std::string(e.what()).find("--imatrix"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(tmp / "x.gguf"));
}

TEST(Pipeline, AQkvHoldingAGgufQuantizesAsTheGgufDoes) {
  QKV_REQUIRE_SHARED(kTiny);
  const auto path = (test::shared_dir() / kTiny).string();
  test::TempDir tmp;
  const auto packed = (tmp / "m.qkv").string();
  qkvfile::CompressOptions co;
  co.progress = false;
  qkvfile::compress(path, packed, co);
  quant::QuantizeOptions q;
  q.type = "Q4_0", q.threads = 2, q.progress = false;
  quant::quantize_model(path, (tmp / "a.gguf").string(), q);
  const auto src = Source::open(packed);
  EXPECT_EQ(src->kind(), "qkv");
  run(*src, (tmp / "b.gguf").string(), {q, {}, "quantize"});
  EXPECT_EQ(test::read_bytes(tmp / "a.gguf"), test::read_bytes(tmp / "b.gguf"));
}

TEST(Pipeline, TheAuditStandsBetweenAWrittenFileAndItsName) {
  test::TempDir tmp;
  const auto file = (tmp / "t.gguf").string();
  gguf::Metadata md;
  md.set("general.architecture", gguf::Value::string("llama"));
  const std::vector<gguf::TensorInfo> infos{{"a", {3}, TensorType::F32, 0}, {"b", {5}, TensorType::F32, 0}};
  {
    gguf::Writer w(file, md, infos);
    const std::vector<float> a{1, 2, 3}, b{4, 5, 6, 7, 8};
    w.write_tensor({reinterpret_cast<const uint8_t*>(a.data()), a.size() * 4});
    w.write_tensor({reinterpret_cast<const uint8_t*>(b.data()), b.size() * 4});
    w.finish();
  }
  validate_output(file, "out.gguf", gguf::File::open(file).tensors());  // a sound file passes

  auto wrong = gguf::File::open(file).tensors();
  wrong[1].type = TensorType::F16;
  wrong[1].shape = {10};
  EXPECT_THROW(validate_output(file, "out.gguf", wrong), Error);

  // Tensor a's 12 bytes are padded to 32: a non-zero padding byte fails the audit.
  const auto f = gguf::File::open(file);
  const uint64_t pad = f.data_offset() + f.tensors()[0].offset + f.tensors()[0].nbytes();
  const auto expected = f.tensors();
  auto bytes = test::read_bytes(file);
  bytes[pad] = 0x5A;
  test::write_bytes(file, bytes);
  try {
    validate_output(file, "out.gguf", expected);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Integrity);
    EXPECT_NE(std::string(e.what()).find("out.gguf"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("audit"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace qkv::pipeline
